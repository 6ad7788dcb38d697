"""Guards against six small bugs a maintainer could plant in the code that handles money and
delivery, each of which once passed every other test (issue 23). Each test drives the real
command line and asserts what the user sees (exit code and message, database rows, history,
the e-mail and the PDF at the SMTP server); its docstring names the one-line bug it catches,
and each was seen to fail with that bug planted by hand."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from pypdf import PdfReader
from smtp_server import HOST, Fault, SmtpServer
from sqlalchemy import Engine, create_engine, text
from test_bounces import Mailbox, dsn
from test_sap_inputs import HEADINGS, sap_list

from tests.conftest import Cli

DATE = "2026-11-30"
SUBJECT = "Estado de Cuenta Tinacos Ejemplo S.A. de C.V."


@pytest.fixture
def engine(db_url: str, customers: Cli) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def open_items(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT cliente, documento, vencimiento, importe FROM open_item ORDER BY 2")
            )
        ]


def use_server(monkeypatch: pytest.MonkeyPatch, server: SmtpServer) -> None:
    monkeypatch.setenv("ROTOMAIL_SMTP_HOST", HOST)
    monkeypatch.setenv("ROTOMAIL_SMTP_PORT", str(server.port))
    monkeypatch.setenv("ROTOMAIL_SMTP_SECURITY", "none")
    monkeypatch.setenv("ROTOMAIL_SMTP_RATE_PER_MINUTE", "0")
    monkeypatch.setenv("ROTOMAIL_SMTP_RETRY_WAIT", "0.01")
    monkeypatch.setenv("ROTOMAIL_SMTP_ROUND_WAIT", "0.01")


def history(cli: Cli, run: int) -> dict[str, dict]:
    """cliente -> its row of ``rotomail history RUN``."""
    result = cli("history", str(run), "--format", "json")
    assert result.exit_code == 0, result.output
    return {row["cliente"]: row for row in json.loads(result.stdout)}


# --- 1 and 2: ledger files that must be refused ---------------------------------------------


def wrong_sign_subtotal() -> str:
    """The first * line (1004273 in MXN, 3,645.77) printed as a credit."""
    return sap_list(tamper={0: "3.645,77-"})


def baseline_date_without_net_due_date() -> str:
    """The net due date column replaced by the baseline date ("Base p.plazo pago")."""
    headings = [*HEADINGS["es"]]
    headings[6] = "Base p.plazo pago"
    return sap_list(headings=headings)


REFUSED = [
    pytest.param(
        wrong_sign_subtotal,
        "Error: Los totales de control de {path} no cuadran con sus partidas; no se importó "
        "nada (el archivo está incompleto o fue modificado):\n"
        "  Línea {line}: el subtotal del cliente 1004273 en MXN no cuadra: el archivo dice "
        "-3,645.77 y sus partidas suman 3,645.77.\n",
        id="subtotal-with-the-wrong-sign",
    ),
    pytest.param(
        baseline_date_without_net_due_date,
        "Error: {path} no trae el vencimiento neto (sus columnas son: «Soc.», «Cuenta», "
        "«Nº doc.», «Cl.doc.», «Referencia», «Fecha doc.», «Base p.plazo pago», "
        "«Importe en MD», «Mon.doc.», «Texto»). Si una de ellas lo es, indíquelo con "
        '--column vencimiento="Encabezado"; si el archivo no lo trae, elija con qué fecha '
        "calcular la antigüedad: --due-date-from fecha_base o --due-date-from fecha_documento "
        "(el estado de cuenta lo dirá). No se importó nada.\n",
        id="baseline-date-but-no-net-due-date",
    ),
]


@pytest.mark.parametrize(("make", "message"), REFUSED)
def test_ledger_file_is_refused_and_nothing_is_imported(
    customers: Cli, engine: Engine, tmp_path: Path, make, message: str
) -> None:
    """Guards two bugs (issue 23):

    * subtotal-with-the-wrong-sign: the control-total check compares absolute values
      (``abs(computed) != abs(in_file)`` in the ledger reader), so a subtotal printed
      with the wrong sign passes;
    * baseline-date-but-no-net-due-date: a file with the baseline date but no net due date
      is silently aged by the baseline date when no ``--due-date-from`` was given (a
      ``return "fecha_base"`` fallback where the due-date column is chosen).
    """
    content = make()
    path = tmp_path / "fbl5n.txt"
    path.write_text(content, encoding="utf-8")
    result = customers("ledger", "import", str(path), "--yes")
    # the line of the wrong-sign subtotal (the first case)
    line = next((n for n, x in enumerate(content.splitlines(), 1) if "3.645,77-" in x), 0)
    assert result.exit_code == 1, result.output
    assert result.stderr == message.format(path=path, line=line)
    assert open_items(engine) == []


# --- 3: a heading that appears twice --------------------------------------------------------


def test_a_heading_that_appears_twice_feeds_the_first_column(
    customers: Cli, engine: Engine
) -> None:
    """Guards: a heading that appears twice is mapped to the last column instead of the first
    (the ``field not in columns`` test dropped in the header finder). Here "Venc.neto" heads
    the real net due date and, again at the end, a column the user added to the layout."""
    ledger = (
        "Sociedad\tCuenta\tNº documento\tVenc.neto\tImporte en ML\tML\tVenc.neto\n"
        "SM02\t0001004273\t1800000004\t01.10.2026\t2.500,50\tMXN\t31.12.2026\n"
        "SM02\t0001006210\t1800000005\t15.11.2026\t1.160,00\tMXN\t31.01.2027\n"
    )
    result = customers("ledger", "import", "-", "--date", DATE, input=ledger.encode())
    assert result.exit_code == 0, result.output
    assert "  vencimiento ← «Venc.neto»\n" in result.stdout
    assert [(cliente, str(vencimiento)) for cliente, _, vencimiento, _ in open_items(engine)] == [
        ("1004273", "2026-10-01"),
        ("1006210", "2026-11-15"),
    ]


# --- 4: an all-zero balance -----------------------------------------------------------------


def test_an_all_zero_balance_is_shown_as_no_balance_everywhere(
    customers: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards: an all-zero balance printed "MXN 0.00" instead of "sin saldo" (the
    ``not any(balance.values())`` test of the balance text weakened to ``not balance``; or
    the e-mail's ``if s.balance`` filter dropped; or the statement's zero test). Both
    customers' invoices are cancelled by credit notes: Ferretería López, in the catalog,
    gets its statement; Plomería Central, not in the catalog, is listed as left out."""
    ledger = (
        "Sociedad\tCuenta\tNº documento\tClase\tVencimiento neto\tImporte en ML\tML\n"
        "SM02\t0001004273\t1800000004\tRV\t01.10.2026\t2.500,50\tMXN\n"
        "SM02\t0001004273\t1600000001\tDG\t15.10.2026\t2.500,50-\tMXN\n"
        "SM02\t0001001400\t1800000008\tRV\t01.11.2026\t300,00\tMXN\n"
        "SM02\t0001001400\t1600000002\tDG\t05.11.2026\t300,00-\tMXN\n"
    )
    imported = customers("ledger", "import", "-", "--date", DATE, input=ledger.encode())
    assert imported.exit_code == 0, imported.output
    added = customers("catalog", "add", "SM02", "1004273", "pagos@ferrelopez.example.mx")
    assert added.exit_code == 0, added.output
    with SmtpServer() as server:
        use_server(monkeypatch, server)
        result = customers("send", "--sociedad", "SM02", "--all", "--date", DATE)
        [mail] = [m.message for m in server.messages if m.message["Subject"] == SUBJECT]
    assert result.exit_code == 0, result.output
    # What the operator is told before the send, and what the run's log keeps.
    assert (
        "Con partidas abiertas y sin correo en el catálogo (no se les envía): 1\n"
        "  1001400 Plomería Central S.A. de C.V.: sin saldo\n"
    ) in result.stderr
    log = next((home / "logs").glob("*_corrida1_SM02.txt")).read_text(encoding="utf-8")
    assert "sin saldo" in log and "MXN 0.00" not in log
    # What the customer reads: the e-mail and the PDF.
    body = mail.get_body(("plain",))
    assert body is not None
    assert "Saldo: Sin saldo pendiente · Vencido: 0.00" in body.get_content().splitlines()
    [attachment] = list(mail.iter_attachments())
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    assert "Sin saldo pendiente" in "".join(page.extract_text() for page in pdf.pages)


# --- 5: a retry round that fails at MAIL ----------------------------------------------------


def test_deferred_address_is_kept_when_a_retry_round_fails_at_mail(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """Guards: a deferred address dropped, and the customer reported "enviado", when a whole
    end-of-run retry round fails with a 4xx at MAIL (the retry's ``TemporaryFailure``
    handler taking the exception's empty ``deferred`` instead of keeping the waiting ones).
    """
    with SmtpServer() as server:
        server.reply_at_rcpt("b@agro.example.mx", "450 4.2.0 Greylisted, try later", times=1)
        server.mail_faults.append(Fault(times=1))  # the first MAIL is answered 250
        server.reply_at_mail("451 4.3.0 Mail server temporarily rejected message", times=None)
        use_server(monkeypatch, server)
        result = loaded("send", "--sociedad", "SM02", "--cliente", "1006210", "--date", DATE)
        delivered = [m.rcpt_tos for m in server.messages if m.message["Subject"] == SUBJECT]
    assert delivered == [["a@agro.example.mx"]]
    assert result.exit_code == 1, result.output
    assert (
        "1006210 Agroequipos del Bajío S.A. de C.V.: parcial - aplazados: b@agro.example.mx: "
        "450 4.2.0 Greylisted, try later"
    ) in result.stdout
    row = history(loaded, 1)["1006210"]
    assert row["estado"] == "parcial"
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT correo, status FROM delivery_address WHERE run_id = 1 ORDER BY correo")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("a@agro.example.mx", "accepted"),
        ("b@agro.example.mx", "deferred"),
    ]


# --- 6: a bounce about a delivery older than the window -------------------------------------


@pytest.mark.parametrize(
    ("days_later", "matched"),
    [(6, True), (8, False)],
    ids=["within-7-days", "older-than-7-days"],
)
def test_bounce_matched_by_address_only_within_seven_days(
    loaded: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, days_later: int, matched: bool
) -> None:
    """Guards: a bounce matched by address to a delivery older than the 7-day window (the
    window's lower bound dropped from the by-recipient lookup). The report carries neither
    the message's headers nor a VERP token, so only its address and date can match it."""
    with SmtpServer() as server:
        use_server(monkeypatch, server)
        sent = loaded("send", "--sociedad", "SM02", "--cliente", "1004273", "--date", DATE)
        [original] = [m for m in server.messages if m.message["Subject"] == SUBJECT]
    assert sent.exit_code == 0, sent.output
    sent_at = history(loaded, 1)["1004273"]
    assert sent_at["estado"] == "enviado"
    arrived = dt.datetime.now().astimezone() + dt.timedelta(days=days_later)
    report = re.sub(  # the report's own date: when the bounce was written
        rb"\r\nDate: [^\r]*\r\n",
        f"\r\nDate: {format_datetime(arrived)}\r\n".encode(),
        dsn(original, ["pagos@ferrelopez.example.mx"], returned_headers=False),
        count=1,
    )
    box = Mailbox("maildir", tmp_path, monkeypatch)
    box.deliver(report)
    result = loaded("bounces", "-v", *box.args())
    assert result.exit_code == 0, result.output
    row = history(loaded, 1)["1004273"]
    if matched:
        assert "Direcciones rebotadas  1" in result.stdout.splitlines()
        assert row["estado"] == "rebotado"
    else:
        assert result.stdout.splitlines()[-4:] == [
            "Direcciones rebotadas  0",
            "Clientes rebotados     0",
            "Con retraso            0",
            "Sin identificar        1",
        ]
        assert (
            "· new/1796000000.M1P1.mail.example.mx: sin identificar - "
            "pagos@ferrelopez.example.mx: ningún envío con ese Message-ID, token ni destinatario "
            "en los 7 días anteriores"
        ) in result.stdout.splitlines()
        assert row["estado"] == "enviado"
        assert row["direcciones"] == sent_at["direcciones"]
