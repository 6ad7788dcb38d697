"""The run's records in the database: the run itself and one row per customer.

Written as the run goes (each customer's row as its outcome is known), so ``history`` shows
what a running or interrupted run did at every moment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine

from rotomail.delivery.candidates import Candidate
from rotomail.delivery.liveness import HOST, this_process
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.errors import DataError
from rotomail.store import runs
from rotomail.store.catalog_edits import os_user
from rotomail.store.ledger import hold_snapshots, snapshot_of
from rotomail.words import RunStatus, Status


def _now() -> datetime:
    return datetime.now()


class RunRecords:
    """Creates the run's rows, records each outcome, closes the run."""

    def __init__(self, engine: Engine, options: SendOptions) -> None:
        self.engine = engine
        self.options = options
        self.run_id = 0
        # Each thread's own connection while the run sends (one per SMTP session): a
        # connection is never shared between threads.
        self._local = threading.local()

    def start(
        self,
        candidates: list[Candidate],
        transport_name: str,
        *,
        languages: Mapping[str, str] | None = None,
        verp_tokens: Mapping[str, str] | None = None,
        bcc: str = "",
        cc: Mapping[str, str] | None = None,
    ) -> int:
        """Record the run and one pending row per customer, with its language, its VERP
        token, the archive copy's address and its collector's in Cc ("" when not used)."""
        pid, started = this_process()
        with self.engine.begin() as connection:
            hold_snapshots(connection, exclusive=False)  # an import under way finishes first
            self.run_id = runs.insert_run(
                connection,
                {
                    "started_at": _now(),
                    "operator": self.options.operator[:100],
                    "os_user": os_user()[:100],
                    "sociedad": self.options.sociedad,
                    "statement_date": self.options.statement_date,
                    "mode": self.options.mode,
                    "transport": transport_name[:255],
                    "status": RunStatus.RUNNING,
                    "host": HOST,
                    "pid": pid,
                    "process_start": started,
                    "channel": self.options.channel,
                    "heartbeat_at": _now(),
                },
            )
            now = _now()
            rows = [
                {
                    "run_id": self.run_id,
                    "sociedad": c.sociedad,
                    "cliente": c.cliente,
                    "statement_date": self.options.statement_date,
                    "nombre": c.nombre[:200],
                    "correos": ";".join(c.correos),
                    "status": Status.PENDING,
                    "verp_token": (verp_tokens or {}).get(c.cliente, ""),
                    "bcc": bcc,
                    "cc": (cc or {}).get(c.cliente, ""),
                    "idioma": (languages or {}).get(c.cliente, ""),
                    "updated_at": now,
                }
                for c in candidates
            ]
            runs.insert_deliveries(connection, rows)
            self._check_snapshot(connection)
        return self.run_id

    def _check_snapshot(self, connection: Connection) -> None:
        """The open items are still those the run was planned with: from here on an import
        waits for the run, so every statement of the run comes from this one snapshot."""
        planned = self.options.snapshot_at
        if planned is None:
            return
        current = snapshot_of(connection, self.options.sociedad)
        if current is None or current.imported_at != planned:
            when = f" el {current.imported_at:%d/%m/%Y a las %H:%M:%S}" if current else ""
            raise DataError(
                f"Las partidas abiertas de {self.options.sociedad} se importaron de nuevo{when}, "
                "después de preparar el envío; no se envió nada. Vuelva a ejecutar "
                "«rotomail send» para enviar las nuevas."
            )

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Keep one connection open in this thread while the run sends (no pool round trip
        per customer)."""
        with self.engine.connect() as connection:
            self._local.connection = connection
            try:
                yield
            finally:
                self._local.connection = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            with self.engine.begin() as own:
                yield own
        else:
            with connection.begin():
                yield connection

    def record(self, outcome: Outcome, connection: Connection | None = None) -> None:
        values = {
            "status": outcome.status,
            "detail": outcome.detail,
            "archivo": outcome.archivo,
            "refused": "; ".join(f"{a}: {r}" for a, r in outcome.refused.items()),
            "message_id": outcome.message_id,
            "pagos": outcome.pagos,
            "en_aclaracion": outcome.en_aclaracion,
            "copias": outcome.copias.to_json(),
            "pdf_path": outcome.pdf_path,
            "correos": ";".join(outcome.correos),
            "updated_at": _now(),
        }
        if connection is not None:
            runs.update_delivery(connection, self.run_id, outcome.cliente, values)
        else:
            with self.transaction() as own:
                runs.update_delivery(own, self.run_id, outcome.cliente, values)

    def pending_detail(self, detail: str) -> None:
        """Say why on every customer still pending (a run stopped before reaching them)."""
        with self.engine.begin() as connection:
            runs.set_pending_detail(connection, self.run_id, detail)

    def finish(self, report: RunReport) -> None:
        status = (
            RunStatus.INTERRUPTED
            if report.interrupt_code
            else RunStatus.ABORTED
            if report.aborted
            else RunStatus.FINISHED
        )
        with self.engine.begin() as connection:
            runs.update_run(
                connection,
                report.run_id,
                {
                    "finished_at": _now(),
                    "status": status,
                    "sent": report.count(Status.SENT)
                    + report.count(Status.SAVED)
                    + report.count(Status.BUILT),
                    "failed": report.count(Status.FAILED),
                    "skipped": report.count(Status.SKIPPED),
                    "uncertain": report.count(Status.UNCERTAIN),
                    "log_path": str(report.log_path or ""),
                },
            )
