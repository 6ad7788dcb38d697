"""Rendering statements: each customer's PDF and its whole e-mail, built and serialised
in worker processes so the sending process only talks to the database and the server."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from rotomail.company import CompanyProfile
from rotomail.errors import DataError
from rotomail.statement.model import StatementCustomer, StatementItem

if TYPE_CHECKING:
    from rotomail.delivery.messages import PreparedMessage

POOL_THRESHOLD = 16  # below this many statements, rendering in-process is faster
WORKER_NICENESS = 19
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


@dataclass(frozen=True)
class Rendered:
    cliente: str
    filename: str
    message: PreparedMessage | None  # None when the message could not be built
    error: str = ""
    pdf: bytes = b""  # only when the run keeps a copy of the PDFs


def render(job: RenderJob) -> Rendered:
    """Build one statement PDF and its whole e-mail, serialised.

    A top-level function: it runs in worker processes, so the main process only talks to
    the database and the SMTP server.
    """
    from rotomail.delivery.messages import build_statement_message, prepare, statement_fields
    from rotomail.statement.model import build_statement
    from rotomail.statement.pdf import render_statement_pdf

    statement = build_statement(
        job.company,
        job.customer,
        job.items,
        job.statement_date,
        document_types=job.document_types,
        due_date_source=job.due_date_source,
    )
    pdf = render_statement_pdf(statement)
    try:
        message = build_statement_message(
            job.company,
            job.customer.nombre,
            list(job.recipients),
            pdf,
            statement.filename,
            rehearsal_for=list(job.rehearsal_for) if job.rehearsal_for is not None else None,
            override_dir=job.templates_dir,
            fields=statement_fields(statement),
        )
    except DataError as exc:  # e.g. an address edited into the database by hand
        return Rendered(job.customer.cliente, statement.filename, None, exc.message)
    prepared = prepare(message, statement.filename.removesuffix(".pdf"))
    if job.envelope_from or job.bcc:
        prepared = replace(
            prepared,
            envelope_from=job.envelope_from or prepared.envelope_from,
            recipients=[*prepared.recipients, *job.bcc],
        )
    return Rendered(
        job.customer.cliente, statement.filename, prepared, pdf=pdf if job.keep_pdf else b""
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


def render_stream(jobs: Iterable[RenderJob], count: int) -> Iterator[Rendered]:
    """Render in job order; with many jobs, on every core while the caller sends.

    Jobs travel to the workers in small batches (less inter-process overhead per
    statement), and only a few batches per worker are in flight, so memory stays flat for
    any run size.
    """
    workers = os.cpu_count() or 1
    if count < POOL_THRESHOLD or workers < 2:
        yield from map(render, jobs)
        return
    window: deque[Future[list[Rendered]]] = deque()
    # Workers run at a lower priority: the sending process is the critical path, and on a
    # small machine it must not wait for a core while the renderers are ahead anyway.
    with ProcessPoolExecutor(
        max_workers=workers, initializer=os.nice, initargs=(WORKER_NICENESS,)
    ) as pool:
        for batch in _batches(jobs, BATCH_SIZE):
            window.append(pool.submit(render_batch, batch))
            if len(window) >= workers * 3:
                yield from window.popleft().result()
        while window:
            yield from window.popleft().result()
