"""What a send run was asked to do and what happened to each customer: options, outcomes, report.

Shared by the run (``runs``), its log (``runlog``) and the CLI, so none of them imports another
for these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

# Status words, as stored and as shown (Spanish) in the log and history.
STATUS_TEXT = {
    "pending": "pendiente",
    "in_flight": "en curso",
    "sent": "enviado",
    "failed": "fallido",
    "skipped": "omitido",
    "uncertain": "incierto",
    "built": "generado",
}


@dataclass(frozen=True)
class SendOptions:
    sociedad: str
    statement_date: date
    mode: str = "send"  # send | test | dry-run
    force: bool = False
    skip_zero: bool = False
    retry_of: int | None = None
    operator: str = ""
    operator_email: str = ""
    templates_dir: Path | None = None
    logs_dir: Path = Path("logs")
    outbox_dir: Path = Path("outbox")
    keep_pdfs: bool = False  # also write each PDF into the run's outbox folder
    channel: str = "smtp"  # smtp | outbox: claims (exactly once) are kept per channel
    render_nice: int = 0  # render workers' niceness above the sending process's

    def run_folder(self, run_id: int) -> Path:
        return self.outbox_dir / f"corrida-{run_id}"


@dataclass
class Outcome:
    cliente: str
    nombre: str
    correos: tuple[str, ...]
    status: str
    detail: str = ""
    archivo: str = ""
    refused: dict[str, str] = field(default_factory=dict)
    message_id: str = ""


@dataclass
class RunReport:
    run_id: int
    options: SendOptions
    transport: str
    started_at: datetime
    outcomes: list[Outcome] = field(default_factory=list)
    aborted: str = ""
    log_path: Path | None = None
    log_error: str = ""
    # Stopped from outside (a signal, a busy database): the run is recorded "interrupted"
    # and the command exits with ``interrupt_code`` (143 SIGTERM, 130 Ctrl-C, 1 database).
    interrupt_code: int = 0

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def exit_code(self) -> int:
        if self.interrupt_code:
            return self.interrupt_code
        bad = {"failed", "uncertain", "pending"}
        return 1 if self.aborted or any(o.status in bad for o in self.outcomes) else 0
