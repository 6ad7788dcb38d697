"""The run's log: a .txt per run in ROTOMAIL_HOME/logs/, e-mailed to the operator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rotomail.ids import safe_filename_part

if TYPE_CHECKING:
    from email.message import EmailMessage

    from rotomail.company import CompanyProfile
    from rotomail.delivery.mailer import Transport
    from rotomail.delivery.report import RunReport

# What each mode means, after its word (report.MODE_TEXT).
MODE_NOTE = {
    "send": "",
    "test": " (--test: todo al correo del operador)",
    "dry-run": " (--dry-run: nada se envió)",
}


def render_log(report: RunReport) -> str:
    from datetime import datetime

    from tabulate import tabulate

    from rotomail.delivery.report import MODE_TEXT, STATUS_TEXT, SUMMARY_TEXT

    options = report.options
    finished = datetime.now()
    counts = "  ".join(
        f"{text}: {report.count(status)}"
        for status, text in SUMMARY_TEXT.items()
        if report.count(status) or status in ("sent", "failed", "skipped")
    )
    header = [
        "rotomail - registro de envío de estados de cuenta",
        f"Corrida:        {report.run_id}",
        f"Operador:       {options.operator}",
        f"Inicio:         {report.started_at:%d/%m/%Y %H:%M:%S}",
        f"Fin:            {finished:%d/%m/%Y %H:%M:%S}",
        f"Sociedad:       {options.sociedad}",
        f"Fecha de corte: {options.statement_date:%d/%m/%Y}",
        f"Modo:           {MODE_TEXT.get(options.mode, options.mode)}"
        f"{MODE_NOTE.get(options.mode, '')}",
        f"Transporte:     {report.transport}",
        counts,
    ]
    if report.aborted:
        header.append(f"Corrida detenida: {report.aborted}")
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
                STATUS_TEXT.get(outcome.status, outcome.status),
                detail,
            ]
        )
    table = tabulate(
        rows,
        headers=["Sociedad", "Cliente", "Nombre", "Correos", "Archivo", "Estado", "Detalle"],
        tablefmt="simple",
        disable_numparse=True,
    )
    return "\n".join(header) + "\n\n" + table + "\n"


def write_log(report: RunReport) -> Path:
    folder = report.options.logs_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = (
        f"{report.started_at:%Y%m%d-%H%M%S}_corrida{report.run_id}_"
        f"{safe_filename_part(report.options.sociedad)}.txt"
    )
    path = folder / name
    path.write_text(render_log(report), encoding="utf-8")
    path.chmod(0o600)
    return path


def mail_log(
    report: RunReport,
    company: CompanyProfile,
    operator_email: str,
    make_transport: Callable[[int], Transport],
) -> str:
    """E-mail the log to the operator; returns "" or why it could not be sent.

    A failure here never changes any customer's outcome: the log file is already written.
    """
    from rotomail.delivery.messages import build_log_message, render_template
    from rotomail.errors import RotomailError

    assert report.log_path is not None
    options = report.options
    values = {
        "run": str(report.run_id),
        "operator": options.operator,
        "date": f"{options.statement_date:%d/%m/%Y}",
        "sociedad": options.sociedad,
        "sent": str(report.count("sent")),
        "failed": str(report.count("failed") + report.count("uncertain") + report.count("pending")),
        "skipped": str(report.count("skipped")),
        "log_name": report.log_path.name,
    }
    subject = render_template("log.subject", company.language, values, options.templates_dir)
    if options.mode == "test":
        subject = f"[PRUEBA] {subject}"
    try:
        body = render_template("log.txt", company.language, values, options.templates_dir)
        message = build_log_message(
            company.sender or operator_email, operator_email, subject, body, report.log_path
        )
        transport = make_transport(report.run_id)
        try:
            transport.send(message)
        finally:
            transport.close()
    except RotomailError as exc:
        return exc.message
    except OSError as exc:
        return str(exc)
    return ""


def test_message(sender: str, operator: str) -> EmailMessage:
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    message = EmailMessage()
    message["From"] = sender
    message["To"] = operator
    message["Subject"] = "rotomail: mensaje de prueba"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content("La configuración SMTP de rotomail funciona.\n")
    return message
