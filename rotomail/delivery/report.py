"""What a send run was asked to do and what happened to each customer: options, outcomes, report.

Shared by the run (``runs``), its log (``runlog``) and the CLI, so none of them imports another
for these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

# The one closed list of words: status codes as stored (English) and as shown (Spanish) on
# screen, in the log and as ``estado`` in ``history --format json``.
STATUS_TEXT = {
    "pending": "pendiente",
    "in_flight": "en curso",
    "sent": "enviado",
    "saved": "guardado",  # written to the outbox: nothing left the machine
    "built": "generado",  # dry-run
    "partial": "parcial",
    "failed": "fallido",
    "skipped": "omitido",
    "uncertain": "incierto",
    "bounced": "rebotado",
}
RUN_STATUS_TEXT = {
    "running": "en curso",
    "finished": "terminada",
    "interrupted": "interrumpida",
    "aborted": "abortada",
}
MODE_TEXT = {"send": "envío", "test": "ensayo", "dry-run": "simulación"}
# Summary lines, in the order shown: status -> what happened to that many customers.
SUMMARY_TEXT = {
    "sent": "Enviados",
    "saved": "Guardados en el buzón de salida",
    "built": "Generados (simulación)",
    "partial": "Parciales",
    "failed": "Fallidos",
    "skipped": "Omitidos",
    "uncertain": "Inciertos",
    "pending": "Pendientes",
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

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def exit_code(self) -> int:
        bad = {"failed", "uncertain", "pending"}
        return 1 if self.aborted or any(o.status in bad for o in self.outcomes) else 0
