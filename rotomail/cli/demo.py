"""``rotomail demo``: the whole job on the bundled examples, in a throwaway home."""

from __future__ import annotations

import tempfile
from datetime import date
from email.utils import formatdate, make_msgid
from pathlib import Path

import typer
from sqlalchemy import Engine

from rotomail.cli.bounces import bounces
from rotomail.cli.common import State, state
from rotomail.cli.group import command_group
from rotomail.cli.send import send
from rotomail.errors import UsageError
from rotomail.inputs.parsers import parse_catalog_paste, parse_customers, parse_ledger
from rotomail.store.catalog_edits import apply_import, hold_customer, plan_import
from rotomail.store.customers import import_customers, search_customers
from rotomail.store.history import run_deliveries
from rotomail.store.ledger import import_ledger
from rotomail.words import Status

DEMO_CONFIG = """\
# Written by «rotomail demo». No [smtp] host: messages go to the outbox as .eml files.
[operator]
email = "operador@example.mx"

[companies.SM02]
name = "Tinacos Ejemplo S.A. de C.V."
rfc = "TEJ010101AB1"
sender = "portal@example.mx"
reply_to = "cobranza@example.mx"
phone = "800 000 0000 opción 2"
address = "Av. Ejemplo 123, Col. Centro, 64000 Monterrey, N.L."
language = "es"
bank = "Banco Ejemplo"
clabe = "999180001234567899"

[companies.SB01]
name = "Reservatórios Exemplo Ltda."
rfc = "12.345.678/0001-90"
sender = "portal@example.com"
reply_to = "cobranca@example.com"
phone = "0800 000 0000"
language = "pt"
"""
DEMO_SOCIEDADES = ("SM02", "SB01")
DEMO_HOLD = ("SM02", "1007188", "disputa por entrega incompleta")  # has open items, no e-mail
FILES = ("clientes_sap.csv", "partidas_abiertas.txt", "catalogo_pegado.tsv")


app = command_group(
    "Todo el trabajo sobre examples/ en una carpeta temporal: PDF, .eml y registro."
)


def examples_dir() -> Path:
    folder = Path(__file__).resolve().parents[2] / "examples"
    if not all((folder / name).is_file() for name in FILES):
        raise UsageError(
            f"No se encontraron los ejemplos en {folder}; ejecute desde una copia del repositorio."
        )
    return folder


def make_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="rotomail-demo-"))
    (home / "config.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    return home


def write_demo_bounce(engine: Engine, home: Path, run_id: int) -> Path | None:
    """A Maildir in the demo folder with one report, as a customer's server would send it,
    about the first address of the first statement sent in ``run_id``."""
    sent = [
        d
        for d in run_deliveries(engine, run_id)
        if d.status in (Status.SENT, Status.SAVED) and d.message_id
    ]
    if not sent:
        return None
    delivery = min(sent, key=lambda d: d.correos.count(";"))  # one address: "rebotado"
    address = delivery.correos.split(";")[0]
    maildir = home / "rebotes"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    report = (
        "From: MAILER-DAEMON@mx.example.mx (Mail Delivery System)\r\n"
        "To: portal@example.mx\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {formatdate(localtime=True)}\r\n"
        f"Message-ID: {make_msgid(domain='mx.example.mx')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="R"\r\n\r\n'
        "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.mx\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{address}>: User unknown\r\n"
        "--R\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"To: {address}\r\nMessage-ID: {delivery.message_id}\r\n"
        "--R--\r\n"
    )
    (maildir / "new" / "1796000000.M1P1.mx.example.mx").write_bytes(report.encode())
    return maildir


def load_examples(engine: Engine, folder: Path) -> list[str]:
    """Customers, open items and the catalog paste; returns one line per step."""
    customers = import_customers(
        engine, parse_customers((folder / FILES[0]).read_bytes(), FILES[0])
    )
    ledger = import_ledger(
        engine,
        parse_ledger((folder / FILES[1]).read_bytes(), FILES[1]),
        date.today(),
        skip_bad=True,
        source=FILES[1],
    )
    plan = plan_import(engine, parse_catalog_paste((folder / FILES[2]).read_bytes(), FILES[2]))
    saved = sum(row.ok for row in apply_import(engine, plan) if row.ok)
    hold_customer(engine, *DEMO_HOLD)
    english = [c for c in search_customers(engine) if c.idioma == "en"]
    return [
        f"Clientes: {customers.inserted} importados de {FILES[0]}",
        f"Partidas abiertas: {sum(ledger.per_sociedad.values())} de {FILES[1]}",
        f"Catálogo: {saved} de {len(plan)} filas de {FILES[2]}",
        f"Retenido: {DEMO_HOLD[0]} {DEMO_HOLD[1]} ({DEMO_HOLD[2]})",
        *(
            f"En inglés (idioma E en el maestro): {c.sociedad} {c.cliente} {c.nombre}"
            for c in english
        ),
    ]


@app.command("demo")
def demo(ctx: typer.Context) -> None:
    """Todo el trabajo sobre examples/ en una carpeta temporal: PDF, .eml y registro."""
    folder = examples_dir()
    home = make_home()
    # Everything below runs on the throwaway home: its own SQLite file, no SMTP server.
    ctx.find_root().obj = State(
        {"home": home, "database_url": f"sqlite:///{home / 'rotomail.db'}", "smtp.host": ""}
    )
    typer.echo(f"Carpeta de la demostración: {home}")
    for line in load_examples(state(ctx).engine, folder):
        typer.echo(line)
    exit_code = 0
    for sociedad in DEMO_SOCIEDADES:  # a Mexican company in Spanish, a Brazilian one in Portuguese
        try:
            ctx.invoke(send, ctx, sociedad=sociedad, all_=True)
        except typer.Exit as exit_:
            exit_code = max(exit_code, exit_.exit_code or 0)
    # A customer's server answers with a bounce: read back from a Maildir in the demo folder.
    maildir = write_demo_bounce(state(ctx).engine, home, 1)
    if maildir is not None:
        typer.echo(f"Llegó un rebote a {maildir}; rotomail bounces lo registra:")
        ctx.invoke(bounces, ctx, maildir=maildir, verbose=True)
    typer.echo(
        f"Demostración terminada. Para explorarla: rotomail --home {home} history "
        "(y history 1 para ver el rebote)"
    )
    raise typer.Exit(exit_code)
