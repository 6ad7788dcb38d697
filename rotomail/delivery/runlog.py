"""The run's log: a .txt per run in ROTOMAIL_HOME/logs/, e-mailed to the operator; with
``[operator] collectors_log``, each collector's part (their customers only) e-mailed to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from rotomail.company import Collector, CompanyProfile
from rotomail.delivery.messages import (
    build_log_message,
    new_message,
    parse_address,
    render_template,
)
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.report import CopiesReport, Outcome, RunReport, SendOptions
from rotomail.delivery.results import Transport
from rotomail.errors import RotomailError
from rotomail.ids import safe_filename_part
from rotomail.statement.labels import format_date
from rotomail.store.bounces import run_addresses
from rotomail.store.history import get_run, run_deliveries
from rotomail.tables import plain_table
from rotomail.words import SUMMARY, AddressStatus, Channel, Mode, Status, spanish, with_code

# What each mode means, after its word.
MODE_NOTE = {
    Mode.SEND: "",
    Mode.TEST: " (--test: todo al correo del operador)",
    Mode.DRY_RUN: " (--dry-run: nada se envió)",
    Mode.RESEND: " (--to: solo a las direcciones indicadas; el catálogo no cambia)",
}


def render_log(report: RunReport) -> str:
    options = report.options
    finished = datetime.now()
    shown_always = (done_status(options), Status.FAILED, Status.SKIPPED)
    counts = "  ".join(
        f"{text}: {report.count(status)}"
        for status, text in SUMMARY.items()
        if report.count(status) or status in shown_always
    )
    header = [
        "rotomail - registro de envío de estados de cuenta",
        f"Corrida:        {report.run_id}",
        f"Operador:       {options.operator}",
        f"Inicio:         {report.started_at:%d/%m/%Y %H:%M:%S}",
        f"Fin:            {finished:%d/%m/%Y %H:%M:%S}",
        f"Sociedad:       {options.sociedad}",
        f"Fecha de corte: {options.statement_date:%d/%m/%Y}",
        f"Modo:           {spanish(options.mode)}{MODE_NOTE[options.mode]}",
        f"Transporte:     {report.transport}",
        counts,
    ]
    if options.date_warning:
        header.insert(7, options.date_warning)
    if report.count(Status.BOUNCED):
        header.append(f"Rebotados: {report.count(Status.BOUNCED)}")
    if report.missing:
        header.append(f"Sin correo en el catálogo: {len(report.missing)} (listados al final)")
    if options.thresholds:
        header.append(f"Omitidos por saldo: {len(report.omitted)} — {options.thresholds}")
    if report.aborted:
        header.append(f"Corrida detenida: {report.aborted}")
    warned = sum(1 for outcome in report.outcomes if outcome.aviso)
    if warned:
        header.append(f"Avisos: {warned} (listados al final)")
    copies = [outcome.copias for outcome in report.outcomes if outcome.copias]
    if copies:
        header.append(
            "Copias de facturas: "
            f"{sum(len(c.attached) for c in copies)} adjuntas, "
            f"{sum(c.missing for c in copies)} faltantes, "
            f"{sum(len(c.left_out) for c in copies)} no adjuntas por tamaño, "
            f"{sum(len(c.refused) for c in copies)} rechazadas (listadas al final)"
        )
    rows = []
    for outcome in report.outcomes:
        detail = outcome.detail
        if outcome.refused:
            refused = "; ".join(f"{a}: {r}" for a, r in outcome.refused.items())
            detail = f"{detail} | rechazados: {refused}"
        rows.append(
            [
                options.sociedad,
                outcome.cliente,
                outcome.nombre,
                ";".join(outcome.correos),
                outcome.archivo,
                report.languages.get(outcome.cliente, ""),
                spanish(outcome.status),
                outcome.pagos,
                outcome.en_aclaracion,
                detail,
            ]
        )
    table = _table(
        [
            "Sociedad",
            "Cliente",
            "Nombre",
            "Correos",
            "Archivo",
            "Idioma",
            "Estado",
            "Pagos",
            "En aclaración",
            "Detalle",
        ],
        rows,
    )
    return (
        "\n".join(header) + "\n\n" + table + _left_out(report) + _copies(report) + _warnings(report)
    )


def _table(headers: list[str], rows: Iterable[Sequence[object]]) -> str:
    """The log's tables: one line per row (a stopped run of 20,000 customers writes its log
    in a fraction of a second)."""
    return plain_table(
        headers,
        [["" if cell is None else str(cell).replace("\n", " ") for cell in row] for row in rows],
    )


def _copies(report: RunReport) -> str:
    """Each customer's invoice copies: attached, missing, left out by the size cap, refused."""
    rows = [
        [o.cliente, len(o.copias.attached), o.copias.missing, o.copias.not_attached()]
        for o in report.outcomes
        if o.copias
    ]
    if not rows:
        return ""
    return "\nCopias de facturas:\n" + _table(
        ["Cliente", "Adjuntas", "Faltantes", "No adjuntas / rechazadas"], rows
    )


def _warnings(report: RunReport) -> str:
    """One line per customer whose statement could not print all of its text."""
    lines = [outcome.aviso for outcome in report.outcomes if outcome.aviso]
    if not lines:
        return ""
    return f"\nAvisos: {len(lines)}\n" + "\n".join(lines) + "\n"


def _left_out(report: RunReport) -> str:
    """Who had open items and got nothing: no catalog entry, or held."""
    text = ""
    if report.missing:
        text += f"\nSin correo en el catálogo (no se les envió): {len(report.missing)}\n" + _table(
            ["Cliente", "Nombre", "Saldo", "Correo del maestro"],
            [[m.cliente, m.nombre, m.balance_text, m.correo] for m in report.missing],
        )
    if report.held:
        text += f"\nRetenidos (no se les envía): {len(report.held)}\n" + _table(
            ["Cliente", "Motivo"], sorted(report.held.items())
        )
    return text


def report_from_history(
    engine: Engine, run_id: int, logs_dir: Path, templates_dir: Path | None
) -> RunReport:
    """A finished run as its report, as the database knows it today (bounces included),
    to write and mail its log again."""
    run = get_run(engine, run_id)
    options = SendOptions(
        sociedad=run.sociedad,
        statement_date=run.statement_date,
        mode=Mode(run.mode),
        operator=run.operator,
        templates_dir=templates_dir,
        logs_dir=logs_dir,
    )
    report = RunReport(run.id, options, run.transport, run.started_at)
    addresses = run_addresses(engine, run_id)
    for row in run_deliveries(engine, run_id):
        detail = row.detail
        reports = [
            f"{a.correo}: {spanish(a.status)} {with_code(a.code, a.detail)}".strip()
            for a in addresses.get(row.cliente, [])
            if a.status in (AddressStatus.BOUNCED, AddressStatus.DELAYED)
        ]
        if reports and row.status != Status.BOUNCED:
            detail = f"{detail} | " + "; ".join(reports)
        refused = dict(part.split(": ", 1) for part in row.refused.split("; ") if ": " in part)
        report.outcomes.append(
            Outcome(
                row.cliente,
                row.nombre,
                tuple(a for a in row.correos.split(";") if a),
                Status(row.status),
                detail,
                row.archivo,
                refused,
                row.message_id,
                row.pagos,
                row.en_aclaracion,
                CopiesReport.from_json(row.copias),
            )
        )
    return report


def write_log(report: RunReport, part: str = "") -> Path:
    """The run's log file; ``part``: a collector's code, for the log of their customers."""
    folder = report.options.logs_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    suffix = f"_ejecutivo-{safe_filename_part(part)}" if part else ""
    name = (
        f"{report.started_at:%Y%m%d-%H%M%S}_corrida{report.run_id}_"
        f"{safe_filename_part(report.options.sociedad)}{suffix}.txt"
    )
    path = folder / name
    path.write_text(render_log(report), encoding="utf-8")
    path.chmod(0o600)
    return path


def done_status(options: SendOptions) -> Status:
    """What a customer done is in this run: sent, saved to the outbox, or built (dry-run)."""
    if options.mode == Mode.DRY_RUN:
        return Status.BUILT
    return Status.SAVED if options.channel == Channel.OUTBOX else Status.SENT


# The e-mailed log's count of customers done (``${done}``) in English and Portuguese; in
# Spanish it is SUMMARY's word.
DONE_WORDS: dict[Status, dict[str, str]] = {
    Status.SENT: {"pt": "Enviados", "en": "Sent"},
    Status.SAVED: {"pt": "Salvos na caixa de saída", "en": "Saved to the outbox"},
    Status.BUILT: {"pt": "Gerados (simulação)", "en": "Built (dry run)"},
}


def mail_log(
    report: RunReport,
    company: CompanyProfile,
    operator_email: str,
    make_transport: Callable[[int], Transport],
) -> str:
    """E-mail the log to the operator (or a collector their part); returns "" or why it
    could not be sent.

    A failure here never changes any customer's outcome: the log file is already written.
    """
    assert report.log_path is not None
    options = report.options
    done = done_status(options)
    values = {
        "done": DONE_WORDS[done].get(company.language, SUMMARY[done]),
        "missing": str(len(report.missing)),
        "run": str(report.run_id),
        "operator": options.operator,
        "date": format_date(options.statement_date, company.language),
        "sociedad": options.sociedad,
        "sent": str(report.count(done)),
        "failed": str(
            report.count(Status.FAILED)
            + report.count(Status.UNCERTAIN)
            + report.count(Status.PENDING)
        ),
        "skipped": str(report.count(Status.SKIPPED)),
        "log_name": report.log_path.name,
    }
    subject = render_template("log.subject", company.language, values, options.templates_dir)
    if options.mode == Mode.TEST:
        subject = f"[PRUEBA] {subject}"
    try:
        body = render_template("log.txt", company.language, values, options.templates_dir)
        message = build_log_message(
            company.sender or operator_email, operator_email, subject, body, report.log_path
        )
        transport = make_transport(report.run_id)
        try:
            transport.deliver(message)
        finally:
            transport.close()
    except RotomailError as exc:
        return exc.message
    except OSError as exc:
        return str(exc)
    return ""


def collector_logs(
    report: RunReport, collectors: Mapping[str, Collector], ejecutivo_of: Mapping[str, str]
) -> list[tuple[Collector, RunReport]]:
    """Each collector's part of a real run: the outcomes of their customers only
    (``ejecutivo_of``: cliente -> collector code), each written to its own log file.
    Collectors without a customer in the run get nothing."""
    if report.options.mode != Mode.SEND:
        return []
    parts = []
    for code, collector in sorted(collectors.items()):
        outcomes = [o for o in report.outcomes if ejecutivo_of.get(o.cliente) == code]
        if not outcomes:
            continue
        part = replace(report, outcomes=outcomes, missing=[], held={}, log_path=None)
        part.log_path = write_log(part, code)
        parts.append((collector, part))
    return parts


def test_message(sender: str, operator: str) -> Outgoing:
    return new_message(
        parse_address(sender),
        [parse_address(operator)],
        "rotomail: mensaje de prueba",
        "La configuración SMTP de rotomail funciona.\n",
    )
