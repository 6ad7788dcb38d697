"""Rendering statements: each customer's PDF and its whole e-mail, built and serialised
in worker processes so the sending process only talks to the database and the server."""

from __future__ import annotations

import os
import signal
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from rotomail.company import Collector, CompanyProfile
from rotomail.config import DEFAULT_AGING
from rotomail.delivery.copies import invoice_copies
from rotomail.delivery.kept import KeptStatement
from rotomail.delivery.liveness import process_alive, this_process
from rotomail.delivery.messages import (
    build_statement_message,
    collector_address,
    copies_line,
    serialised,
    statement_fields,
)
from rotomail.delivery.outgoing import Attachment, Outgoing
from rotomail.delivery.report import CopiesReport
from rotomail.errors import DataError
from rotomail.statement.labels import format_balances
from rotomail.statement.model import (
    PaymentsReceived,
    StatementCustomer,
    StatementItem,
    build_statement,
)
from rotomail.statement.pdf import render_statement_pdf, uncovered

POOL_THRESHOLD = 16  # below this many statements, rendering in-process is faster
WATCHDOG_EVERY = 0.5  # seconds between a worker's checks that the sending process lives
BATCH_SIZE = 8  # statements per task sent to a worker


@dataclass(frozen=True)
class RenderJob:
    company: CompanyProfile
    customer: StatementCustomer
    items: tuple[StatementItem, ...]
    statement_date: date
    recipients: tuple[str, ...]
    rehearsal_for: tuple[str, ...] | None  # --test: the customer's real addresses
    templates_dir: Path | None
    keep_pdf: bool
    envelope_from: str = ""  # VERP sender; "" keeps the From address
    bcc: tuple[str, ...] = ()  # the company's archive copy: envelope only, never a header
    document_types: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    due_date_source: str = "vencimiento"  # what the aging counts from (ledger import)
    aging: tuple[int, ...] = DEFAULT_AGING  # config.toml [statement] aging
    payments: PaymentsReceived | None = None  # received since the previous statement
    collector: Collector | None = None  # the customer's collector: contact line, Reply-To
    collector_cc: bool = False  # the collector in a visible Cc (a real send only)
    kept: KeptStatement | None = None  # send this kept statement instead of building one


@dataclass(frozen=True)
class Rendered:
    cliente: str
    filename: str
    message: Outgoing | None  # its MIME bytes built; None when it could not be built
    error: str = ""
    pdf: bytes = b""  # only when the run keeps a copy of the PDFs
    payments: str = ""  # received since the previous statement: "MXN 3,000.00", or ""
    disputed: str = ""  # in dispute, left out of overdue: "MXN 1,000.00", or ""
    copies: CopiesReport = field(default_factory=CopiesReport)  # the invoice copies
    fields: dict[str, str] = field(default_factory=dict)  # the e-mail's figures, with ``pdf``
    uncovered: str = ""  # characters of the statement no font prints ("?" in the PDF)


def render(job: RenderJob) -> Rendered:
    """Build one statement PDF and its whole e-mail, serialised.

    A top-level function: it runs in worker processes, so the main process only talks to
    the database and the SMTP server.
    """
    if job.kept is not None:  # a resend of the statement as it was kept: the PDF alone
        kept = job.kept
        pdf, filename, received = kept.pdf, kept.filename, kept.pagos
        disputed = kept.fields.get("disputed_total", "")
        fields = {**kept.fields, "copies": ""}
        copies: tuple[Attachment, ...] = ()
        copies_report = CopiesReport()
        missing_glyphs = ""
    else:
        statement = build_statement(
            job.company,
            job.customer,
            job.items,
            job.statement_date,
            document_types=job.document_types,
            due_date_source=job.due_date_source,
            aging=job.aging,
            payments=job.payments,
            collector=job.collector,
        )
        pdf, filename = render_statement_pdf(statement), statement.filename
        missing_glyphs = uncovered(statement)
        copies, copies_report = invoice_copies(job.company, statement)
        fields = statement_fields(statement)
        fields["copies"] = copies_line(
            statement.lang, copies_report.left_out, job.company.invoice_copies_max_mb
        )
        payments = statement.payments
        received = format_balances(payments.totals()) if payments is not None else ""
        in_dispute = statement.disputed()
        disputed = format_balances(in_dispute) if in_dispute else ""
    try:
        message = build_statement_message(
            job.company,
            job.customer.nombre,
            list(job.recipients),
            pdf,
            filename,
            rehearsal_for=list(job.rehearsal_for) if job.rehearsal_for is not None else None,
            override_dir=job.templates_dir,
            fields=fields,
            copies=copies,
            collector=job.collector,
        )
        cc = (
            (collector_address(job.collector),)
            if job.collector is not None and job.collector_cc
            else ()
        )
    except DataError as exc:  # e.g. an address edited into the database by hand
        return Rendered(
            job.customer.cliente,
            filename,
            None,
            exc.message,
            copies=copies_report,
            uncovered=missing_glyphs,
        )
    prepared = serialised(
        replace(
            message,
            name=filename.removesuffix(".pdf"),
            return_path=job.envelope_from,
            bcc=job.bcc,
            cc=cc,
        )
    )
    return Rendered(
        job.customer.cliente,
        filename,
        prepared,
        pdf=pdf if job.keep_pdf else b"",
        payments=received,
        disputed=disputed,
        copies=copies_report,
        fields=fields if job.keep_pdf else {},
        uncovered=missing_glyphs,
    )


def render_batch(jobs: list[RenderJob]) -> list[Rendered]:
    return [render(job) for job in jobs]


def _batches(jobs: Iterable[RenderJob], size: int) -> Iterator[list[RenderJob]]:
    batch: list[RenderJob] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _watch_parent(parent_pid: int, parent_start: str) -> None:
    while process_alive(parent_pid, parent_start):
        threading.Event().wait(WATCHDOG_EVERY)
    os._exit(0)


def init_worker(nice: int, parent_pid: int, parent_start: str) -> None:
    """Set up a render worker: it lives only as long as the sending process.

    The parent's signals decide the run: a worker ignores Ctrl-C and SIGTERM (the sending
    process stops the run and shuts the pool down), and a watchdog thread ends the worker
    once the sending process is gone, whatever killed it. PR_SET_PDEATHSIG is not used:
    it fires when the creating *thread* ends, and the pool creates workers from a thread.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    threading.Thread(target=_watch_parent, args=(parent_pid, parent_start), daemon=True).start()


def render_stream(jobs: Iterable[RenderJob], count: int, nice: int = 0) -> Iterator[Rendered]:
    """Render in job order; with many jobs, on every core while the caller sends.

    Jobs travel to the workers in small batches (less inter-process overhead per
    statement), and only a few batches per worker are in flight, so memory stays flat for
    any run size. Workers run at the sending process's priority plus ``nice``
    (``render.nice``): lower priority loses the CPU to any busy neighbour.
    """
    workers = os.cpu_count() or 1
    if count < POOL_THRESHOLD or workers < 2:
        yield from map(render, jobs)
        return
    window: deque[Future[list[Rendered]]] = deque()
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=init_worker, initargs=(nice, *this_process())
    )
    try:
        for batch in _batches(jobs, BATCH_SIZE):
            window.append(pool.submit(render_batch, batch))
            if len(window) >= workers * 3:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
    finally:
        # A run stopped early (signal, database) must not wait for queued renders.
        pool.shutdown(wait=not window, cancel_futures=True)
