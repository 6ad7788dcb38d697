"""What a send run was asked to do and what happened to each customer: options, outcomes, report.

Shared by the run (``runs``), its log (``runlog``) and the CLI, so none of them imports another
for these types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from rotomail.config import DEFAULT_AGING
from rotomail.words import Channel, Mode, Status

if TYPE_CHECKING:
    from rotomail.store.missing import MissingCustomer


@dataclass(frozen=True)
class CopiesReport:
    """What one statement's e-mail did with the invoice copies."""

    attached: tuple[str, ...] = ()  # file names attached
    left_out: tuple[str, ...] = ()  # beyond the size cap: named in the e-mail, not attached
    missing: int = 0  # files the pattern names that are not there
    refused: tuple[str, ...] = ()  # "documento: path" an item field took out of the folder

    def __bool__(self) -> bool:
        return bool(self.attached or self.left_out or self.missing or self.refused)

    def as_dict(self) -> dict[str, object]:
        """``history --format json``'s ``copias``."""
        return {
            "adjuntas": list(self.attached),
            "no_adjuntas": list(self.left_out),
            "faltantes": self.missing,
            "rechazadas": list(self.refused),
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), ensure_ascii=False) if self else ""

    @classmethod
    def from_json(cls, text: str) -> CopiesReport:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            tuple(data.get("adjuntas", ())),
            tuple(data.get("no_adjuntas", ())),
            int(data.get("faltantes", 0)),
            tuple(data.get("rechazadas", ())),
        )

    def summary(self, names: bool = False) -> str:
        """One line in Spanish: "adjuntas 4; faltantes 2; no adjuntas (tamaño): a.pdf";
        ``names``: the attached files named ("adjuntas: a.pdf, a.xml")."""
        parts = []
        if self.attached:
            parts.append(
                "adjuntas: " + ", ".join(self.attached)
                if names
                else f"adjuntas {len(self.attached)}"
            )
        if self.missing:
            parts.append(f"faltantes {self.missing}")
        if self.not_attached():
            parts.append(self.not_attached())
        return "; ".join(parts)

    def not_attached(self) -> str:
        """The copies found and not attached: left out by the size cap, refused."""
        parts = []
        if self.left_out:
            parts.append("no adjuntas (tamaño): " + ", ".join(self.left_out))
        if self.refused:
            parts.append("rechazadas (fuera de la carpeta): " + ", ".join(self.refused))
        return "; ".join(parts)


@dataclass(frozen=True)
class SendOptions:
    sociedad: str
    statement_date: date
    mode: Mode = Mode.SEND
    force: bool = False
    skip_zero: bool = False
    retry_of: int | None = None
    operator: str = ""
    operator_email: str = ""
    templates_dir: Path | None = None
    logs_dir: Path = Path("logs")
    outbox_dir: Path = Path("outbox")
    keep_pdfs: bool = False  # also write each PDF into the run's outbox folder
    # customers in a row without a connection, or uncertain, stop the run
    stop_after_failures: int = 3
    sessions: int = 1  # SMTP sessions at once (smtp.sessions; 1 for every other channel)
    retry_rounds: int = 3  # rounds for deferred recipients at the end of the run
    round_wait: float = 300.0  # seconds before each round (greylisting wants minutes)
    channel: str = Channel.SMTP  # a name in delivery/channels.py; claims are kept per channel
    render_nice: int = 0  # render workers' niceness above the sending process's
    aging: tuple[int, ...] = DEFAULT_AGING  # the statements' aging buckets ([statement] aging)
    ledger_date: date | None = None  # the date of the open items the statements show
    snapshot_at: datetime | None = None  # when they were imported: the run reads only those
    statements_dir: Path = Path("statements")  # where statements sent are kept (delivery/kept)
    keep_statements: bool = False  # keep each statement a real run sends ([statement] keep)
    resend_pdf: Path | None = None  # a resend (Mode.RESEND) of this kept statement
    thresholds: str = ""  # the balance thresholds of the run, described ("" = none)

    @property
    def date_warning(self) -> str:
        return date_warning(self.sociedad, self.ledger_date, self.statement_date)

    def run_folder(self, run_id: int) -> Path:
        return self.outbox_dir / f"corrida-{run_id}"


def date_warning(sociedad: str, ledger_date: date | None, statement_date: date) -> str:
    """ "" when the statements are as of their open items' date; else the warning that names
    both dates (shown wherever the run's date is: checklist, header, log)."""
    if ledger_date is None or ledger_date == statement_date:
        return ""
    return (
        f"Aviso: las partidas abiertas de {sociedad} son al {ledger_date:%d/%m/%Y} y "
        f"la fecha de corte es {statement_date:%d/%m/%Y}."
    )


def unprintable_line(cliente: str, nombre: str, characters: str) -> str:
    """The warning for a statement that prints "?" for ``characters`` no font has."""
    if not characters:
        return ""
    shown = characters if len(characters) <= 20 else characters[:20] + "…"
    return (
        f"Aviso: el estado de cuenta de {cliente} {nombre} imprime «?» en lugar de "
        f"«{shown}»: ninguna fuente del PDF tiene esos caracteres."
    )


@dataclass
class Outcome:
    cliente: str
    nombre: str
    correos: tuple[str, ...]
    status: Status
    detail: str = ""
    archivo: str = ""
    refused: dict[str, str] = field(default_factory=dict)
    message_id: str = ""
    pagos: str = ""  # payments and credits the statement said were received, per currency
    en_aclaracion: str = ""  # in dispute on the statement, left out of overdue, per currency
    copias: CopiesReport = field(default_factory=CopiesReport)  # the invoice copies
    pdf_path: str = ""  # where the statement sent is kept, "" when it is not
    aviso: str = ""  # one line about its statement the operator should read (unprintable_line)


@dataclass
class RunReport:
    run_id: int
    options: SendOptions
    transport: str
    started_at: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    aborted: str = ""
    abort_code: int = 1  # 2 when a configuration error (TLS, authentication) stopped the run
    log_path: Path | None = None
    languages: dict[str, str] = field(default_factory=dict)  # cliente -> es | pt | en
    # shown in the log: customers with open items and no catalog entry, and held ones
    missing: list[MissingCustomer] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # cliente -> reason
    # left out by the balance thresholds (--min-balance, --skip-credit): cliente -> why
    omitted: dict[str, str] = field(default_factory=dict)
    # Stopped from outside (a signal, a busy database): the run is recorded "interrupted"
    # and the command exits with ``interrupt_code`` (143 SIGTERM, 130 Ctrl-C, 1 database).
    interrupt_code: int = 0

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def exit_code(self) -> int:
        if self.interrupt_code:
            return self.interrupt_code
        if self.aborted:
            return self.abort_code
        bad = {Status.FAILED, Status.UNCERTAIN, Status.PENDING, Status.PARTIAL}
        return 1 if any(o.status in bad for o in self.outcomes) else 0
