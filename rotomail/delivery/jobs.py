"""What each customer's statement is made of: its language, the company's letterhead, the
VERP sender and archive copy of a real send; the render jobs of a run, read from the ledger
in chunks, and the check of the templates before the run starts."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping

from sqlalchemy import Engine

from rotomail.company import Collector, CompanyProfile
from rotomail.delivery.candidates import Candidate
from rotomail.delivery.kept import KeptStatement, load_kept
from rotomail.delivery.messages import (
    build_statement_message,
    collector_address,
    parse_address,
    verp_sender,
)
from rotomail.delivery.rendering import Rendered, RenderJob, render_stream
from rotomail.delivery.report import SendOptions
from rotomail.errors import DataError, UsageError
from rotomail.statement.model import PaymentsReceived, StatementCustomer, StatementItem
from rotomail.store.ledger import due_date_source, iter_items_by_customer, payments_for
from rotomail.words import REAL_MODES, Mode

_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _verp_token() -> str:
    """Ten lower-case letters and digits (51 bits): unguessable, and unchanged by relays
    that fold the local part to lower case."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(10))


class StatementJobs:
    """The render jobs of one run."""

    def __init__(
        self,
        engine: Engine,
        company: CompanyProfile,
        options: SendOptions,
        document_types: Mapping[str, Mapping[str, str]],
        collectors: Mapping[str, Collector] | None = None,
    ) -> None:
        self.engine = engine
        self.company = company
        self.options = options
        self.document_types = dict(document_types)
        self.verp_tokens: dict[str, str] = {}  # cliente -> token in the envelope sender
        self.due_date_source = "vencimiento"
        self.payments: dict[str, PaymentsReceived] = {}  # cliente -> received since last
        self.collectors = dict(collectors or {})  # the sociedad's, by code ([collectors])
        self.kept: KeptStatement | None = None  # a resend's kept statement

    def prepare(self, candidates: list[Candidate]) -> dict[str, str]:
        """Check the templates of every language the run writes in and draw the VERP
        tokens; returns each customer's language."""
        if self.options.resend_pdf is not None:
            self.kept = load_kept(self.options.resend_pdf)
            if self.kept is None:
                raise DataError(
                    f"No se pudo leer el estado de cuenta guardado {self.options.resend_pdf}."
                )
        languages = {c.cliente: self.language_of(c) for c in candidates}
        used = {c.ejecutivo for c in candidates if c.ejecutivo in self.collectors}
        self._check_message_setup(
            {self.company.language, *languages.values()}, [self.collectors[u] for u in sorted(used)]
        )
        if self.options.mode in REAL_MODES and self.company.verp:
            self.verp_tokens = {c.cliente: _verp_token() for c in candidates}
        self.due_date_source = due_date_source(self.engine, self.options.sociedad)
        self.payments = payments_for(
            self.engine,
            self.options.sociedad,
            {c.cliente for c in candidates},
            self.options.statement_date,
        )
        return languages

    def collector_of(self, candidate: Candidate) -> Collector | None:
        """The customer's collector, when the master names one config.toml describes."""
        return self.collectors.get(candidate.ejecutivo) if candidate.ejecutivo else None

    def cc_of(self, candidate: Candidate) -> str:
        """The address the collector gets the statement at in Cc, or "" (only in a real
        send of a company with ``collector_cc``)."""
        collector = self.collector_of(candidate)
        real = self.options.mode == Mode.SEND
        return collector.email if collector and real and self.company.collector_cc else ""

    def language_of(self, candidate: Candidate) -> str:
        """The kept statement's language; the customer's (catalog entry, else master), else
        the company's."""
        if self.kept is not None and self.kept.idioma:
            return self.kept.idioma
        return candidate.idioma or self.company.language

    def _check_message_setup(self, languages: set[str], collectors: list[Collector]) -> None:
        """Templates (of every language the run writes in) and the sender are checked once,
        before anything is recorded: a typo in an admin's template is a configuration
        error, not a thousand failed customers."""
        try:
            if self.company.bcc:
                parse_address(self.company.bcc, what="copia de archivo (bcc)")
            if self.company.verp:
                parse_address(self.company.bounce_address, what="rebotes (bounce_address)")
            for collector in collectors:
                collector_address(collector)
            for language in sorted(languages):
                build_statement_message(
                    self.company.for_language(language),
                    "Cliente",
                    [self.company.sender],
                    b"",
                    "prueba.pdf",
                    override_dir=self.options.templates_dir,
                )
        except DataError as exc:
            raise UsageError(f"Sociedad {self.company.code}: {exc.message}") from None

    def rendered(self, candidates: list[Candidate]) -> Iterator[tuple[Candidate, Rendered]]:
        by_cliente = {c.cliente: c for c in candidates}
        seen: set[str] = set()

        def jobs() -> Iterator[RenderJob]:
            if self.kept is not None:  # sent as it was kept: the ledger is not read
                yield from (self.job(candidate, []) for candidate in candidates)
                return
            for cliente, items in iter_items_by_customer(
                self.engine, self.options.sociedad, set(by_cliente)
            ):
                seen.add(cliente)
                yield self.job(by_cliente[cliente], items)
            for cliente, candidate in by_cliente.items():
                if cliente not in seen:
                    yield self.job(candidate, [])

        for rendered in render_stream(jobs(), len(candidates), self.options.render_nice):
            yield by_cliente[rendered.cliente], rendered

    def job(self, candidate: Candidate, items: list[StatementItem]) -> RenderJob:
        rehearsal = self.options.mode == Mode.TEST
        real = self.options.mode in REAL_MODES
        token = self.verp_tokens.get(candidate.cliente)
        return RenderJob(
            self.company.for_language(self.language_of(candidate)),
            StatementCustomer(
                candidate.sociedad, candidate.cliente, candidate.nombre, candidate.rfc
            ),
            tuple(items),
            self.options.statement_date,
            (self.options.operator_email,) if rehearsal else candidate.correos,
            candidate.correos if rehearsal else None,
            self.options.templates_dir,
            self.options.keep_pdfs or (real and self.options.keep_statements),
            verp_sender(self.company.bounce_address, token) if token else "",
            (self.company.bcc,) if real and self.company.bcc else (),
            self.document_types,
            self.due_date_source,
            self.options.aging,
            self.payments.get(candidate.cliente),
            self.collector_of(candidate),
            bool(self.cc_of(candidate)),
            self.kept,
        )
