"""Alta masiva: rows pasted from Excel on stdin, previewed, then saved with --yes."""

from __future__ import annotations

import io
import json

import pytest

from tests.conftest import Cli


def catalog(cli: Cli) -> dict[str, list[str]]:
    result = cli("catalog", "search", "--format", "json")
    assert result.exit_code == 0, result.output
    return {f"{r['sociedad']} {r['cliente']}": r["correos"] for r in json.loads(result.stdout)}


EXCEL_PASTE = (
    "\tSM02\t1006210\tmailto:a@agro.example.mx;b@agro.example.mx\t\t\r\n"
    "\tSM02\t0001004273\tpagos@ferrelopez.example.mx\r\n"
    "\r\n"
)

# (paste, expected rows of the preview: (sociedad, cliente, correo, mensaje))
MESSY = [
    pytest.param(
        EXCEL_PASTE.encode(),
        [
            ("SM02", "1006210", "a@agro.example.mx;b@agro.example.mx", "Listo para grabar"),
            ("SM02", "1004273", "pagos@ferrelopez.example.mx", "Listo para grabar"),
        ],
        id="manual-paste-column-B-crlf-mailto",
    ),
    pytest.param(
        "\ufeffSociedad\tCliente\tCorreo\nSM02\t1006210.0\ta@agro.example.mx\n".encode(),
        [("SM02", "1006210", "a@agro.example.mx", "Listo para grabar")],
        id="bom-spanish-header-excel-float",
    ),
    pytest.param(
        b"Company Code\tCustomer\tE-mail\nSM02\t1004273\tx@ferre.example.mx\n",
        [("SM02", "1004273", "x@ferre.example.mx", "Listo para grabar")],
        id="english-header",
    ),
    pytest.param(
        "SM02\t1004273\tJosé.Pérez@ferre.example.mx\n".encode("cp1252"),
        [("SM02", "1004273", "José.Pérez@ferre.example.mx", "Listo para grabar")],
        id="cp1252",
    ),
    pytest.param(
        b"SM02\t1006210\n",
        [("SM02", "1006210", "compras@agro.example.mx", "Listo para grabar")],
        id="no-email-takes-master",
    ),
    pytest.param(
        b"SM02\t1001400\n",
        [("SM02", "1001400", "", "Sin correo: ni en la fila ni en el maestro de clientes")],
        id="no-email-anywhere",
    ),
    pytest.param(
        b'SM02\t1006210\t"a@agro.example.mx;\nb@agro.example.mx"\n',
        [("SM02", "1006210", "a@agro.example.mx;b@agro.example.mx", "Listo para grabar")],
        id="quoted-cell-with-line-break",
    ),
    pytest.param(
        b"SM02\t1006210\ta@agro.example.mx\nSM02\t1006210\tz@agro.example.mx\n",
        [
            ("SM02", "1006210", "a@agro.example.mx", "Repetido: se usa la línea 2"),
            ("SM02", "1006210", "z@agro.example.mx", "Listo para grabar"),
        ],
        id="same-pair-twice-last-wins",
    ),
    pytest.param(
        b"SM02\t7777777\ta@agro.example.mx\nSM02\t1004273\tnope\n",
        [
            (
                "SM02",
                "7777777",
                "a@agro.example.mx",
                "Cliente 7777777 no encontrado en el maestro de clientes de la sociedad SM02",
            ),
            ("SM02", "1004273", "nope", "Correo inválido: «nope»"),
        ],
        id="unknown-customer-and-bad-address",
    ),
]


@pytest.mark.parametrize(("paste", "expected"), MESSY)
def test_preview_of_messy_pastes(customers: Cli, paste: bytes, expected: list[tuple]) -> None:
    result = customers("catalog", "import", "--format", "tsv", input=paste)
    savable = any(message.startswith("Listo") for *_, message in expected)
    assert result.exit_code == (2 if savable else 1), result.output
    rows = [line.split("\t") for line in result.stdout.splitlines()[1 : len(expected) + 1]]
    assert [(r[1], r[2], r[4], r[5]) for r in rows] == expected
    assert catalog(customers) == {}


def test_without_terminal_or_yes_it_only_previews(customers: Cli) -> None:
    result = customers("catalog", "import", input=EXCEL_PASTE.encode())
    assert result.exit_code == 2
    assert "Listo para grabar" in result.stdout
    assert result.stderr == (
        "2 filas: 2 listas para grabar, 0 con errores.\n"
        "Vista previa: no se grabó nada. Para grabar, repita el comando con --yes.\n"
    )
    assert catalog(customers) == {}


def test_yes_saves_all_and_exits_zero(customers: Cli) -> None:
    result = customers("catalog", "import", "--yes", input=EXCEL_PASTE.encode())
    assert result.exit_code == 0, result.output
    assert result.stdout.count("Grabado") == 2
    assert result.stderr.endswith("Grabadas 2 de 2 filas.\n")
    assert catalog(customers) == {
        "SM02 1006210": ["a@agro.example.mx", "b@agro.example.mx"],
        "SM02 1004273": ["pagos@ferrelopez.example.mx"],
    }


def test_rejected_rows_are_not_saved_and_never_change_existing(customers: Cli) -> None:
    assert customers("catalog", "add", "SM02", "1004273", "viejo@ferre.example.mx").exit_code == 0
    paste = b"SM02\t1006210\ta@agro.example.mx\nSM02\t1004273\tmalo@@x\n"
    result = customers("catalog", "import", "--yes", input=paste)
    assert result.exit_code == 1
    assert "No se grabó: Correo inválido: «malo@@x»" in result.stdout
    assert result.stderr.endswith("Grabadas 1 de 2 filas.\n")
    assert catalog(customers) == {
        "SM02 1006210": ["a@agro.example.mx"],
        "SM02 1004273": ["viejo@ferre.example.mx"],
    }


def test_nothing_valid_is_an_error(customers: Cli) -> None:
    result = customers("catalog", "import", "--yes", input=b"SM02\t7777777\ta@x.example.mx\n")
    assert result.exit_code == 1
    assert result.stderr.endswith("Error: Ninguna fila se puede grabar; no se grabó nada.\n")


def test_empty_paste_is_an_error(customers: Cli) -> None:
    result = customers("catalog", "import", "--yes", input=b"\r\n\r\n")
    assert result.exit_code == 1
    assert result.stderr == "Error: No se encontraron filas para importar.\n"


@pytest.mark.parametrize(("answer", "code", "saved"), [("g\n", 0, 2), ("c\n", 1, 0)])
def test_confirmation_read_from_the_terminal(
    customers: Cli, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, saved: int
) -> None:
    terminal = FakeTerminal(answer)
    monkeypatch.setattr("rotomail.cli.common.open_terminal", lambda: terminal)
    result = customers("catalog", "import", input=EXCEL_PASTE.encode())
    assert result.exit_code == code, result.output
    assert terminal.shown.getvalue() == "¿Grabar o Cancelar? [g/c]: "
    assert len(catalog(customers)) == saved


class FakeTerminal(io.StringIO):
    """What /dev/tty would be: the operator's answer to read, the prompt written aside."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.shown = io.StringIO()

    def write(self, text: str) -> int:
        return self.shown.write(text)


def test_import_from_missing_file(customers: Cli) -> None:
    result = customers("catalog", "import", "no-existe.tsv", "--yes")
    assert result.exit_code == 1
    assert result.stderr == "Error: No se encontró el archivo: no-existe.tsv\n"


@pytest.mark.parametrize("fmt", ["tsv", "csv", "xlsx"])
def test_export_round_trips_into_import(customers: Cli, tmp_path, fmt: str) -> None:
    customers("catalog", "add", "SM02", "1006210", "a@agro.example.mx;b@agro.example.mx")
    customers("catalog", "add", "SB01", "2000001", "fin@paulista.example.com", "--idioma", "en")
    before = catalog(customers)
    path = tmp_path / f"catalogo.{fmt}"
    result = customers("catalog", "export", "--format", fmt, "-o", str(path))
    assert result.exit_code == 0, result.output
    for key in before:
        sociedad, cliente = key.split()
        assert customers("catalog", "delete", sociedad, cliente, "--yes").exit_code == 0
    result = customers("catalog", "import", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert catalog(customers) == before
    changes = customers("catalog", "changes", "SB01", "2000001", "--format", "json").stdout
    assert json.loads(changes)[-1]["despues"] == "fin@paulista.example.com (en)"


@pytest.mark.parametrize("from_file", [False, True], ids=["pipe", "file"])
def test_import_tsv_is_the_same_command_as_import(
    customers: Cli, tmp_path, from_file: bool
) -> None:
    """The design names the paste command ``catalog import-tsv``; both names do the same."""
    path = tmp_path / "pegado.tsv"
    path.write_text(EXCEL_PASTE, encoding="utf-8")
    outcomes = {}
    for name in ("import", "import-tsv"):
        preview = (
            customers("catalog", name, str(path))
            if from_file
            else customers("catalog", name, input=EXCEL_PASTE.encode())
        )
        saved = (
            customers("catalog", name, str(path), "--yes")
            if from_file
            else customers("catalog", name, "--yes", input=EXCEL_PASTE.encode())
        )
        outcomes[name] = (
            preview.exit_code,
            preview.stdout,
            preview.stderr,
            saved.exit_code,
            saved.stdout,
            saved.stderr,
            catalog(customers),
        )
        for key in outcomes[name][-1]:
            assert customers("catalog", "delete", *key.split(), "--yes").exit_code == 0
    assert outcomes["import-tsv"] == outcomes["import"]
    assert outcomes["import"][0] == 2 and outcomes["import"][3] == 0
    assert len(outcomes["import"][-1]) == 2
