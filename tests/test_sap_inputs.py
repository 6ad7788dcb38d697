"""Real SAP exports: headings at SAP's lengths in es/en/pt, the user's column map, no silent
due-date fallback, control totals, key date, several files as one snapshot, customers
missing from the master. Every check is what the user sees: exit code, message, database."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Cli
from pypdf import PdfReader
from sqlalchemy import Engine, text
from test_catalog_import import FakeTerminal
from test_importers import xlsx

from rotomail.company import CompanyProfile
from rotomail.config import IMPORT_FIELDS
from rotomail.errors import DataError
from rotomail.inputs import sap_labels, tabular
from rotomail.inputs.parsers import LedgerReader, parse_customers, parse_ledger
from rotomail.inputs.tabular import iter_rows, normalize_header
from rotomail.statement.model import StatementCustomer, build_statement
from rotomail.store.db import open_engine
from rotomail.store.ledger import items_for

KEY_DATE = dt.date(2026, 11, 30)

# (cliente, documento, tipo, referencia, fecha_documento, vencimiento, importe, moneda, texto)
ITEMS = [
    ("1004273", "0990000001", "RV", "A-1", "10.11.2026", "20.12.2026", "1000.00", "MXN", "a"),
    ("1004273", "0990000002", "RV", "A-2", "27.08.2026", "26.09.2026", "2345.67", "MXN", "b"),
    ("1004273", "0990000003", "DR", "D-3", "16.10.2026", "15.11.2026", "500.10", "MXN", "c"),
    ("1004273", "1690000004", "DG", "NC-4", "01.08.2026", "01.08.2026", "-200.00", "MXN", "d"),
    ("1006210", "0990000005", "RV", "A-5", "01.10.2026", "31.10.2026", "1160.00", "MXN", "e"),
    ("1006210", "0990000006", "RV", "B-6", "31.10.2026", "30.11.2026", "300.00", "USD", "f"),
    ("1006210", "0990000007", "RV", "B-7", "15.09.2026", "15.10.2026", "99.99", "USD", "g"),
    ("1001400", "0990000008", "RV", "A-8", "02.05.2026", "01.06.2026", "10000.00", "MXN", "h"),
]
# What every customer owes at 30.11.2026 by bucket: Por vencer, 1–30, 31–60, 61–90, >90.
BUCKETS = {
    ("1004273", "MXN"): ("1000.00", "500.10", "0", "2345.67", "-200.00"),
    ("1006210", "MXN"): ("0", "1160.00", "0", "0", "0"),
    ("1006210", "USD"): ("300.00", "0", "99.99", "0", "0"),
    ("1001400", "MXN"): ("0", "0", "0", "0", "10000.00"),
}

HEADINGS = {  # SAP's short headings and column headings, as an FBL5N list prints them
    "es": ["Soc.", "Cuenta", "Nº doc.", "Cl.doc.", "Referencia", "Fecha doc.", "Venc.neto",
           "Importe en MD", "Mon.doc.", "Texto"],
    "en": ["CoCd", "Account", "DocumentNo", "Type", "Reference", "Doc. Date", "Net Due Dt",
           "Amount in DC", "Crcy", "Text"],
    "pt": ["Empresa", "Cliente", "Nº documento", "Tipo", "Referência", "Data doc.", "Vencim.em",
           "Mont.em MI", "MoedI", "Texto"],
}  # fmt: skip
KEY_LINES = {
    "es": "Fecha de clave: 30.11.2026",
    "en": "Key date: 30.11.2026",
    "pt": "Partidas em aberto em 30.11.2026",
}


def amount_text(value: Decimal, notation: str) -> str:
    """SAP's way: grouped, trailing minus; ``es`` 1.234,56- / ``en`` 1,234.56-."""
    text = f"{abs(value):,.2f}"
    if notation == "es":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text + ("-" if value < 0 else " ")


def sap_list(
    language: str = "es",
    *,
    headings: list[str] | None = None,
    items: list[tuple[str, ...]] = ITEMS,
    key_line: str | None = None,
    tamper: dict[int, str] | None = None,
) -> str:
    """An unconverted FBL5N list: title, key date, | frames, dashed rules, * and ** lines.

    ``tamper`` replaces the figure of the n-th total line (0-based, in print order).
    """
    notation = "en" if language == "en" else "es"
    heads = headings or HEADINGS[language]
    widths = [max(len(h), 12) for h in heads]

    def line(cells: list[str]) -> str:
        return "|" + "|".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + "|"

    rule = "|" + "-" * (sum(widths) + len(widths) - 1) + "|"
    out = [
        "30.11.2026          Partidas individuales de deudores          1",
        "",
        key_line if key_line is not None else KEY_LINES[language],
        "",
        rule,
        line(heads),
        rule,
    ]
    totals: list[tuple[str, str, Decimal]] = []
    grand: dict[str, Decimal] = {}
    order = list(dict.fromkeys(item[0] for item in items))
    for cliente in order:
        sums: dict[str, Decimal] = {}
        for c, doc, tipo, ref, fdoc, venc, importe, moneda, texto in items:
            if c != cliente:
                continue
            value = Decimal(importe)
            sums[moneda] = sums.get(moneda, Decimal(0)) + value
            grand[moneda] = grand.get(moneda, Decimal(0)) + value
            out.append(
                line(["SM02", f"000{c}", doc, tipo, ref, fdoc, venc,
                      amount_text(value, notation), moneda, texto])
            )  # fmt: skip
        out.append(rule)
        for moneda, value in sums.items():
            totals.append(("*", f"000{cliente}", value))
            figure = (tamper or {}).get(len(totals) - 1, amount_text(value, notation))
            out.append(line(["*", f"000{cliente}", "", "", "", "", "", figure, moneda, ""]))
        out.append("")
    out.append(rule)
    for moneda, value in grand.items():
        totals.append(("**", "", value))
        figure = (tamper or {}).get(len(totals) - 1, amount_text(value, notation))
        out.append(line(["**", "", "", "", "", "", "", figure, moneda, ""]))
    return "\n".join(out) + "\n"


@pytest.fixture
def engine(db_url: str, customers: Cli) -> Iterator[Engine]:
    engine = open_engine(db_url)
    yield engine
    engine.dispose()


def buckets(engine: Engine, cliente: str) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    statement = build_statement(
        CompanyProfile(code="SM02", name="Tinacos Ejemplo S.A. de C.V."),
        StatementCustomer("SM02", cliente, "x", ""),
        items_for(engine, "SM02", cliente),
        KEY_DATE,
    )
    return {(cliente, s.moneda): s.buckets for s in statement.summaries}


def all_buckets(engine: Engine) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    result: dict[tuple[str, str], tuple[Decimal, ...]] = {}
    for cliente in ("1004273", "1006210", "1001400"):
        result.update(buckets(engine, cliente))
    return result


EXPECTED = {key: tuple(Decimal(v) for v in values) for key, values in BUCKETS.items()}


def open_items(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                text("SELECT sociedad, cliente, documento, importe FROM open_item ORDER BY 3")
            )
        )


def write(tmp_path: Path, name: str, content: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    return str(path)


# --- the heading table ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", sap_labels.LABELS, ids=lambda label: f"{label.table}-{label.field}-{label.text}"
)
def test_every_label_names_one_field_and_says_where_it_was_found(
    label: sap_labels.Label,
) -> None:
    assert label.source in sap_labels.SOURCES
    assert label.field in (*IMPORT_FIELDS[label.table], "nombre2")
    assert label.language in ("es", "en", "pt", "")
    assert label.length in ("short", "medium", "long", "heading", "technical")
    same = {
        other.field
        for other in sap_labels.LABELS
        if other.table == label.table
        and normalize_header(other.text) == normalize_header(label.text)
    }
    assert same == {label.field}, f"«{label.text}» would feed {sorted(same)}"


@pytest.mark.parametrize(
    ("table", "field"), [(t, f) for t, fs in IMPORT_FIELDS.items() for f in fs]
)
def test_every_field_has_spanish_english_and_technical_headings(table: str, field: str) -> None:
    languages = {
        label.language
        for label in sap_labels.LABELS
        if (label.table, label.field) == (table, field)
    }
    assert {"es", "en", ""} <= languages


FORMS = ["list", "tsv-utf16", "html-xls", "xlsx"]


def export(form: str, language: str) -> tuple[bytes, str]:
    """The same FBL5N in each of SAP's export forms (headings of ``language``)."""
    if form == "list":
        return sap_list(language).encode("cp1252" if language != "en" else "utf-8"), "l.txt"
    heads = HEADINGS[language]
    notation = "en" if language == "en" else "es"
    rows = [[KEY_LINES[language]], heads] + [
        ["SM02", c, d, t, r, f, v, amount_text(Decimal(i), notation).strip(), m, x]
        for c, d, t, r, f, v, i, m, x in ITEMS
    ]
    if form == "tsv-utf16":
        body = "\r\n".join("\t".join(row) for row in rows) + "\r\n"
        return b"\xff\xfe" + body.encode("utf-16-le"), "l.txt"
    if form == "html-xls":
        cells = "".join(
            "<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows
        )
        return f"<html><body><table>{cells}</table></body></html>".encode(), "l.xls"
    return xlsx(rows), "l.xlsx"


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("language", ["es", "en", "pt"])
def test_every_export_form_in_every_language_reads_every_item(form: str, language: str) -> None:
    data, name = export(form, language)
    result = parse_ledger(data, name)
    assert result.rejects == [] and result.mismatches == []
    assert result.layout is not None and result.layout.key_date == KEY_DATE
    assert result.layout.due_field == "vencimiento"
    assert [(r.cliente, r.documento, r.vencimiento, r.importe, r.moneda) for r in result.rows] == [
        (c, d, dt.datetime.strptime(v, "%d.%m.%Y").date(), Decimal(i), m)
        for c, d, _, _, _, v, i, m, _ in ITEMS
    ]


# --- the list: abbreviated headings, aging to the cent -----------------------------


@pytest.mark.parametrize("language", ["es", "en"])
def test_pipe_list_with_abbreviated_headings_ages_every_customer_to_the_cent(
    customers: Cli, engine: Engine, tmp_path: Path, language: str
) -> None:
    path = write(tmp_path, f"fbl5n_{language}.txt", sap_list(language), "cp1252")
    result = customers("ledger", "import", path)
    assert result.exit_code == 0, result.output
    heads = HEADINGS[language]
    assert f"  vencimiento ← «{heads[6]}»\n" in result.stdout
    assert f"  tipo ← «{heads[3]}»\n" in result.stdout
    assert f"  moneda_md ← «{heads[8]}»\n" in result.stdout
    assert "  fecha_base ← (no está en el archivo)\n" in result.stdout
    assert "Partidas abiertas al 30/11/2026 importadas (SM02: 8).\n" in result.stdout
    assert result.stderr == ""
    assert all_buckets(engine) == EXPECTED
    with engine.connect() as connection:
        tipos = connection.execute(text("SELECT tipo FROM open_item ORDER BY documento"))
        assert [t for (t,) in tipos] == [item[2] for item in sorted(ITEMS, key=lambda i: i[1])]


def test_unknown_due_date_heading_is_refused_then_mapped_with_column(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    heads = [*HEADINGS["es"]]
    heads[6] = "F.Vto.cli"
    path = write(tmp_path, "fbl5n.txt", sap_list(headings=heads))
    refused = customers("ledger", "import", path)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        f"Error: {path} no trae el vencimiento neto (sus columnas son:"
    )
    assert '--column vencimiento="Encabezado"' in refused.stderr
    assert "--due-date-from fecha_base o --due-date-from fecha_documento" in refused.stderr
    assert open_items(engine) == []

    mapped = customers("ledger", "import", path, "--column", "vencimiento=F.Vto.cli")
    assert mapped.exit_code == 0, mapped.output
    assert "  vencimiento ← «F.Vto.cli»\n" in mapped.stdout
    assert all_buckets(engine) == EXPECTED


def test_column_map_in_config_toml(
    customers: Cli, engine: Engine, home: Path, tmp_path: Path
) -> None:
    heads = [*HEADINGS["es"]]
    heads[6], heads[8] = "F.Vto.cli", "Divisa"
    (home / "config.toml").write_text(
        '[import.ledger]\nvencimiento = "F.Vto.cli"\nmoneda_md = "Divisa"\n', encoding="utf-8"
    )
    result = customers("ledger", "import", write(tmp_path, "l.txt", sap_list(headings=heads)))
    assert result.exit_code == 0, result.output
    assert "  moneda_md ← «Divisa»\n" in result.stdout
    assert all_buckets(engine) == EXPECTED


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--column", "venc=Venc.neto"],
            "Error: --column: campo «venc» desconocido; los campos son: "
            + ", ".join(IMPORT_FIELDS["ledger"])
            + ".\n",
        ),
        (["--column", "Venc.neto"], 'Error: --column «Venc.neto»: use campo="Encabezado", p. ej. vencimiento="Venc.neto".\n'),
        (["--due-date-from", "hoy"], "Error: --due-date-from «hoy»: use fecha_base o fecha_documento.\n"),
        (
            ["--column", "texto=Notas"],
            "Error: La columna «Notas» (--column texto) no está en el encabezado de {path}.\n",
        ),
        (
            ["--date", "2026-11-29"],
            "Error: --date 2026-11-29 no coincide con la fecha de clave que imprime {path} "
            "(30.11.2026); quite --date o importe el archivo correcto.\n",
        ),
        (
            ["--due-date-from", "fecha_base"],
            "Error: {path} trae el vencimiento neto («Venc.neto»); quite --due-date-from.\n",
        ),
    ],
    ids=["unknown-field", "no-equals", "bad-stand-in", "mapped-heading-absent", "date-differs", "stand-in-not-needed"],
)  # fmt: skip
def test_usage_errors_exit_2_and_change_nothing(
    customers: Cli, engine: Engine, tmp_path: Path, args: list[str], message: str
) -> None:
    path = write(tmp_path, "l.txt", sap_list())
    result = customers("ledger", "import", path, *args)
    assert result.exit_code == 2, result.output
    assert result.stderr == message.format(path=path)
    assert open_items(engine) == []


def test_customers_import_column_map(cli: Cli, tmp_path: Path) -> None:
    master = "Sociedad\tDeudor\tRazón social\tCorreo\nSM02\t1004273\tFerretería López\tp@ferre.example.mx\n"
    refused = cli("customers", "import", write(tmp_path, "m.tsv", master))
    assert refused.exit_code == 1
    assert "--column" in refused.stderr
    result = cli("customers", "import", str(tmp_path / "m.tsv"), "--column", "nombre=Razón social")
    assert result.exit_code == 0, result.output
    assert "  nombre ← «Razón social»\n  rfc ← (no está en el archivo)\n" in result.stdout
    unknown = cli("customers", "import", str(tmp_path / "m.tsv"), "--column", "email=Correo")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        "Error: --column: campo «email» desconocido; los campos son: "
        "sociedad, cliente, nombre, rfc, correo, idioma, ejecutivo.\n"
    )


# --- due date stand-in ---------------------------------------------------------------------


def test_due_date_stand_in_is_named_stored_and_printed_on_the_pdf(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    heads = [*HEADINGS["es"]]
    heads[6] = "Observación"  # no net due date in this layout
    path = write(tmp_path, "l.txt", sap_list(headings=heads))
    result = customers("ledger", "import", path, "--due-date-from", "fecha_documento")
    assert result.exit_code == 0, result.output
    assert (
        "  vencimiento ← «Fecha doc.» (fecha de documento, por --due-date-from: el archivo no "
        "trae el vencimiento neto)\n" in result.stdout
    )
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT due_date_source FROM ledger_snapshot")).scalar()
    assert stored == "fecha_documento"
    out = tmp_path / "e.pdf"
    made = customers("statement", "SM02", "1004273", "--date", "2026-11-30", "-o", str(out))
    assert made.exit_code == 0, made.output
    pdf = "".join(page.extract_text() for page in PdfReader(out).pages)
    assert "Antigüedad de saldos por fecha de documento (sin vencimiento neto)" in pdf
    assert "Fecha doc." in pdf and "Vencimiento" not in pdf


# --- control totals ------------------------------------------------------------------------


@pytest.mark.parametrize("skip_bad", [[], ["--skip-bad"]], ids=["plain", "skip-bad"])
def test_tampered_subtotal_refuses_the_file_and_changes_nothing(
    customers: Cli, engine: Engine, tmp_path: Path, skip_bad: list[str]
) -> None:
    good = customers("ledger", "import", write(tmp_path, "ok.txt", sap_list()))
    assert good.exit_code == 0, good.output
    before = open_items(engine)
    tampered = sap_list(tamper={0: "3.645,78 "})  # first * line: 1004273 in MXN
    path = write(tmp_path, "t.txt", tampered)
    line = (
        tampered.splitlines().index(next(x for x in tampered.splitlines() if "3.645,78" in x)) + 1
    )
    result = customers("ledger", "import", path, "--yes", *skip_bad)
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: Los totales de control de {path} no cuadran con sus partidas; no se importó "
        "nada (el archivo está incompleto o fue modificado):\n"
        f"  Línea {line}: el subtotal del cliente 1004273 en MXN no cuadra: el archivo dice "
        "3,645.78 y sus partidas suman 3,645.77.\n"
    )
    assert open_items(engine) == before


def test_grand_total_counts_rows_that_skip_bad_would_drop(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    """A row refused for its date still counts: the * and ** lines agree, --skip-bad drops it."""
    items = [*ITEMS]
    items[0] = (*items[0][:5], "31.02.2026", *items[0][6:])
    path = write(tmp_path, "l.txt", sap_list(items=items))
    result = customers("ledger", "import", path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "Vencimiento «31.02.2026» no es una fecha válida" in result.stderr
    assert len(open_items(engine)) == 7


def test_missing_item_makes_the_total_mismatch(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    listed = sap_list().splitlines()
    cut = "\n".join(x for x in listed if "0990000006" not in x) + "\n"  # a USD item lost
    result = customers("ledger", "import", write(tmp_path, "l.txt", cut))
    assert result.exit_code == 1
    assert (
        "el subtotal del cliente 1006210 en USD no cuadra: el archivo dice 399.99 y sus partidas suman 99.99"
        in result.stderr
    )
    assert "el subtotal total en USD no cuadra" in result.stderr
    assert open_items(engine) == []


# --- key date ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "Fecha de clave: 30.11.2026",
        "Partidas abiertas a 30.11.2026",
        "Key date: 30.11.2026",
        "Open items at key date 30.11.2026",
        "Data chave: 30.11.2026",
        "Partidas em aberto em 30/11/2026",
    ],
)
def test_key_date_printed_in_the_file(line: str) -> None:
    reader = LedgerReader(tabular.read_rows(sap_list(key_line=line).encode()))
    assert reader.layout.key_date == KEY_DATE


def test_without_key_date_today_with_a_warning(customers: Cli, tmp_path: Path) -> None:
    result = customers("ledger", "import", write(tmp_path, "l.txt", sap_list(key_line="")))
    assert result.exit_code == 0, result.output
    today = dt.date.today()
    assert f"Partidas abiertas al {today:%d/%m/%Y} importadas" in result.stdout
    assert result.stderr == (
        "Aviso: el archivo no imprime la fecha de clave; se usó la de hoy "
        f"({today:%d/%m/%Y}). Indíquela con --date si no es la correcta.\n"
    )


def test_date_equal_to_the_files_is_accepted(customers: Cli, tmp_path: Path) -> None:
    result = customers(
        "ledger", "import", write(tmp_path, "l.txt", sap_list()), "--date", "2026-11-30"
    )
    assert result.exit_code == 0, result.output


# --- several files, clearing guard, customers outside the master ---------------------------


def halves(tmp_path: Path) -> tuple[str, str]:
    first = [i for i in ITEMS if i[0] == "1004273"]
    second = [i for i in ITEMS if i[0] != "1004273"]
    return (
        write(tmp_path, "a.txt", sap_list(items=first)),
        write(tmp_path, "b.txt", sap_list(items=second)),
    )


def test_several_files_are_one_snapshot(customers: Cli, engine: Engine, tmp_path: Path) -> None:
    a, b = halves(tmp_path)
    result = customers("ledger", "import", a, b)
    assert result.exit_code == 0, result.output
    assert f"Columnas de {a}:" in result.stdout and f"Columnas de {b}:" in result.stdout
    assert "Partidas abiertas al 30/11/2026 importadas (SM02: 8).\n" in result.stdout
    assert all_buckets(engine) == EXPECTED
    again = customers("ledger", "import", a, a)
    assert again.exit_code == 2
    assert (
        again.stderr
        == "Error: El mismo archivo aparece dos veces; sus partidas se sumarían dos veces.\n"
    )


def test_half_a_file_is_refused_without_a_terminal_unless_yes(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    a, b = halves(tmp_path)
    assert customers("ledger", "import", a, b).exit_code == 0
    before = open_items(engine)
    refused = customers("ledger", "import", a)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: La importación dejaría sin partidas abiertas a más de la quinta parte de los "
        "clientes (SM02: 2 de 3); ¿falta parte de la exportación? No se importó nada; si es "
        "correcto (p. ej. un cierre en que casi todos pagaron), repita con --yes.\n"
    )
    assert open_items(engine) == before
    accepted = customers("ledger", "import", a, "--yes")
    assert accepted.exit_code == 0, accepted.output
    assert "SM02: 3 clientes tenían partidas abiertas; 2 quedan sin ninguna.\n" in accepted.stdout
    assert {row[1] for row in open_items(engine)} == {"1004273"}


@pytest.mark.parametrize(("answer", "code", "left"), [("s\n", 0, 1), ("\n", 1, 3)])
def test_half_a_file_asks_on_the_terminal(
    customers: Cli,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    left: int,
) -> None:
    a, b = halves(tmp_path)
    assert customers("ledger", "import", a, b).exit_code == 0
    terminal = FakeTerminal(answer)
    monkeypatch.setattr("rotomail.cli.common.open_terminal", lambda: terminal)
    result = customers("ledger", "import", a)
    assert result.exit_code == code, result.output
    assert terminal.shown.getvalue() == (
        "La importación deja sin partidas abiertas a 2 de los 3 clientes de SM02. "
        "¿Es la exportación completa? [s/N] "
    )
    assert len({row[1] for row in open_items(engine)}) == left


def test_items_of_customers_missing_from_the_master(
    customers: Cli, engine: Engine, tmp_path: Path
) -> None:
    stray = [
        ("1009999", "0990000091", "RV", "Z-1", "01.11.2026", "01.12.2026", "10.00", "MXN", "z"),
        ("1009999", "0990000092", "RV", "Z-2", "01.11.2026", "01.12.2026", "20.00", "MXN", "z"),
    ]
    path = write(tmp_path, "l.txt", sap_list(items=ITEMS + stray))
    refused = customers("ledger", "import", path)
    assert refused.exit_code == 1
    assert refused.stderr == (
        "Error: 2 filas rechazadas; no se importó nada (use --skip-bad para importar las "
        "demás):\n  2 partidas de 1 clientes que no están en el maestro (rotomail customers "
        "import): SM02 1009999 (2)\n"
    )
    assert open_items(engine) == []
    skipped = customers("ledger", "import", path, "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert skipped.stderr == (
        "2 filas omitidas:\n  2 partidas de 1 clientes que no están en el maestro (rotomail "
        "customers import): SM02 1009999 (2)\n"
    )
    assert all_buckets(engine) == EXPECTED


# --- streaming -----------------------------------------------------------------------------


def test_streamed_reading_has_a_sanity_cap_and_never_advises_splitting() -> None:
    rows = iter_rows(io.BytesIO(b"a;b\n" * 1000), "x.csv", limit=100)
    with pytest.raises(DataError) as info:
        list(rows)
    assert info.value.message == (
        "La entrada supera el límite de 4 GB; compruebe que es la exportación correcta."
    )
    assert "divid" not in info.value.message


def test_rows_come_out_before_the_file_ends() -> None:
    """The reader yields rows as bytes arrive: a stream that fails late still gave rows."""

    class Late(io.RawIOBase):
        def __init__(self) -> None:
            self.sent = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            if self.sent > 3 * tabular._CHUNK:
                raise AssertionError("read past what the first rows needed")
            chunk = b"SM02;1;x\n" * (len(buffer) // 9)
            buffer[: len(chunk)] = chunk
            self.sent += len(chunk)
            return len(chunk)

    rows = iter_rows(io.BufferedReader(Late()), "x.csv")
    assert [next(rows).line for _ in range(3)] == [1, 2, 3]


def test_master_rows_stream_too(tmp_path: Path) -> None:
    data = "Sociedad;Cliente;Nombre\n" + "".join(f"SM02;{n};N{n}\n" for n in range(1, 2001))
    parsed = parse_customers(iter_rows(io.BytesIO(data.encode()), "m.csv"))
    assert len(parsed.rows) == 2000 and parsed.headings["nombre"] == "Nombre"
