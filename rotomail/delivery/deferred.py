"""Recipients the server put off (a 4xx to RCPT or DATA for them: greylisting whatever its
code, a full mailbox, "452 4.5.3 too many recipients") are retried at the end of the run,
after every other customer, so a greylisting server's minutes pass without slowing the
run. Each round sends the same message (same Message-ID, same envelope sender: a VERP
sender too, or a greylist never opens) to the still-deferred addresses only, in a new
transaction: ``retry_rounds`` rounds, ``round_wait`` seconds before each — none before a
round whose every address was only "too many recipients" (RFC 5321 §4.5.3.1.10: the rest
go at once in a new transaction).

Every address ends accepted, refused (5xx) or deferred, one ``delivery_address`` row each. A
customer is ``sent`` when every address has a final answer and one at least was accepted;
``partial`` while some address is still deferred (``send --retry-failed RUN`` then sends to
those addresses only); ``failed`` when none was accepted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection

from rotomail.delivery import claims
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.report import Outcome, RunReport, SendOptions
from rotomail.delivery.results import (
    RUN_STOPPERS,
    PermanentFailure,
    SendError,
    TemporaryFailure,
    Transport,
    Uncertain,
)
from rotomail.delivery.smtp_policy import too_many_recipients
from rotomail.store import runs
from rotomail.words import AddressStatus, Status


def reply_code(reply: str) -> str:
    """The code of a reply: "452 4.5.3 Too many" gives "452 4.5.3", "550 no" gives "550";
    a reply that is not a server's (the outbox's "outbox: <path>") has none."""
    words = reply.split()
    if not words or not words[0].isdigit():
        return ""
    if len(words) > 1 and words[1][:1].isdigit() and "." in words[1]:
        return " ".join(words[:2])
    return words[0][:20]


def record_addresses(
    connection: Connection,
    run_id: int,
    cliente: str,
    accepted: list[str],
    refused: dict[str, str],
    deferred: dict[str, str],
    reply: str,
    *,
    fresh: bool = True,
) -> None:
    """One ``delivery_address`` row per address: inserted (all at once when the customer
    has none yet, ``fresh``), or updated on a later round."""
    now = datetime.now()
    answers = [(a, AddressStatus.ACCEPTED, reply) for a in accepted]
    answers += [(a, AddressStatus.REFUSED, r) for a, r in refused.items()]
    answers += [(a, AddressStatus.DEFERRED, r) for a, r in deferred.items()]
    rows = [
        {
            "run_id": run_id,
            "cliente": cliente,
            "correo": correo[:320],
            "status": status,
            "code": reply_code(text),
            "detail": text,
            "updated_at": now,
        }
        for correo, status, text in answers
    ]
    if fresh:
        if rows:
            runs.insert_addresses(connection, rows)
        return
    for row in rows:
        runs.save_address(connection, row)


@dataclass
class Waiting:
    """A customer with deferred addresses, and its message kept for the rounds."""

    base: Outcome
    message: Outgoing
    key: claims.ClaimKey
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    reply: str = ""

    def status(self) -> tuple[Status, str]:
        if self.deferred:
            pending = "; ".join(f"{a}: {r}" for a, r in self.deferred.items())
            if self.accepted:
                return Status.PARTIAL, f"aplazados: {pending}"
            return Status.FAILED, f"aplazados: {pending}"
        if self.accepted:
            return Status.SENT, self.reply
        return Status.FAILED, "; ".join(f"{a}: {r}" for a, r in self.refused.items())


class DeferredRetry:
    """The end-of-run phase. The runner hands it each customer with deferred addresses
    (``add``), then calls ``retry`` once every other customer is done, and ``finish``."""

    def __init__(
        self,
        options: SendOptions,
        transaction: Callable[[], AbstractContextManager[Connection]],
        record: Callable[[int, Outcome, Connection], None],
        emit: Callable[[RunReport, Outcome, bool], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._transaction = transaction
        self._record = record
        self._emit = emit
        self._sleep = sleep
        self.waiting: list[Waiting] = []

    def add(self, report: RunReport, waiting: Waiting) -> None:
        """Record the customer as partial (its claim too, when DATA went out; a claim taken
        for a DATA the server put off is released: nothing was accepted)."""
        with self._transaction() as connection:
            claim = Status.PARTIAL if waiting.accepted else Status.FAILED
            claims.advance(connection, waiting.key, report.run_id, Status.IN_FLIGHT, claim)
            record_addresses(
                connection,
                report.run_id,
                waiting.base.cliente,
                waiting.accepted,
                waiting.refused,
                waiting.deferred,
                waiting.reply,
            )
            waiting.base.status = Status.PARTIAL
            waiting.base.detail = (
                f"{len(waiting.deferred)} dirección(es) aplazada(s) por el servidor; "
                "se reintentan al final de la corrida"
            )
            waiting.base.refused = dict(waiting.refused)
            self._record(report.run_id, waiting.base, connection)
        self.waiting.append(waiting)

    @staticmethod
    def _accepted_count(waiting: list[Waiting]) -> int:
        return sum(len(w.accepted) for w in waiting)

    def retry(self, report: RunReport, transport: Transport) -> None:
        rounds = 0
        stalled = False  # a round without a wait got nothing accepted
        while True:
            todo = [w for w in self.waiting if w.deferred]
            if not todo or report.aborted:
                return
            # No wait when every address left was only one recipient too many for its
            # transaction; otherwise one of the ``retry_rounds`` after ``round_wait``.
            free = not stalled and all(
                too_many_recipients(r) for w in todo for r in w.deferred.values()
            )
            if not free:
                if rounds >= self.options.retry_rounds:
                    return
                rounds += 1
                self._sleep(self.options.round_wait)
            before = self._accepted_count(self.waiting)
            for waiting in todo:
                if report.aborted:
                    return
                self._round(report, transport, waiting)
            stalled = free and self._accepted_count(self.waiting) == before

    def _round(self, report: RunReport, transport: Transport, waiting: Waiting) -> None:
        addresses = list(waiting.deferred)

        def take_claim() -> None:
            with self._transaction() as connection:
                refusal = claims.take(connection, waiting.key, report.run_id, retry=True)
                if refusal is not None:
                    raise _ClaimLost(refusal.run_id)

        try:
            delivery = transport.deliver(
                replace(waiting.message, only=tuple(addresses), claim=take_claim), retry=False
            )
        except _ClaimLost as lost:
            waiting.base.status = Status.SKIPPED
            waiting.base.detail = f"en proceso en la corrida {lost.run_id}"
            waiting.deferred = {}
            return
        except Uncertain as exc:
            waiting.deferred = {}
            waiting.base.status, waiting.base.detail = Status.UNCERTAIN, f"incierto: {exc.reply}"
            return
        except RUN_STOPPERS as exc:
            report.aborted = self._stopped(report, exc.message)
            report.abort_code = exc.exit_code
            return
        except TemporaryFailure as exc:
            answered = {a: r for a, r in exc.refused.items()}
            waiting.refused.update(answered)
            waiting.deferred = dict(exc.deferred) if exc.deferred else waiting.deferred
            for address in answered:
                waiting.deferred.pop(address, None)
            self._save(report, waiting, [], answered, waiting.deferred)
            return
        except PermanentFailure as exc:
            # each address's own reply (RCPT), else the transaction's (MAIL)
            refused = {a: exc.refused.get(a, exc.reply) for a in addresses}
            waiting.refused.update(refused)
            waiting.deferred = {}
            self._save(report, waiting, [], refused, {})
            return
        except SendError as exc:  # anything else: leave them deferred for --retry-failed
            waiting.base.detail = exc.reply
            return
        waiting.accepted += delivery.accepted
        waiting.refused.update(delivery.refused)
        waiting.deferred = dict(delivery.deferred)
        waiting.reply = delivery.reply
        self._save(report, waiting, delivery.accepted, delivery.refused, delivery.deferred)

    def _stopped(self, report: RunReport, reason: str) -> str:
        """Why the run stopped in a round (the reason the main loop would give, e.g. the
        daily cap's), and the addresses it leaves deferred for ``--retry-failed``."""
        left = "; ".join(
            f"{w.base.cliente} ({', '.join(w.deferred)})" for w in self.waiting if w.deferred
        )
        return (
            f"{reason.removesuffix('.')} en la ronda de reintentos; quedaron aplazados: {left}; "
            f"reanude con «rotomail send --retry-failed {report.run_id}»"
        )

    def _save(
        self,
        report: RunReport,
        waiting: Waiting,
        accepted: list[str],
        refused: dict[str, str],
        deferred: dict[str, str],
    ) -> None:
        with self._transaction() as connection:
            record_addresses(
                connection,
                report.run_id,
                waiting.base.cliente,
                accepted,
                refused,
                deferred,
                waiting.reply,
                fresh=False,
            )
            if accepted:  # DATA went out in this round: the claim is ours, in flight
                status, _ = waiting.status()
                claims.advance(connection, waiting.key, report.run_id, Status.IN_FLIGHT, status)

    def finish(self, report: RunReport) -> None:
        """Each waiting customer's final status, recorded and reported."""
        for waiting in self.waiting:
            base = waiting.base
            final = base.status in (Status.SKIPPED, Status.UNCERTAIN)
            if not final:
                base.status, base.detail = waiting.status()
                base.refused = dict(waiting.refused)
            with self._transaction() as connection:
                if not final:  # a round that failed after taking the claim leaves it in flight
                    for old in (Status.IN_FLIGHT, Status.PARTIAL):
                        claims.advance(connection, waiting.key, report.run_id, old, base.status)
                self._record(report.run_id, base, connection)
            self._emit(report, base, False)


class _ClaimLost(Exception):
    def __init__(self, run_id: int) -> None:
        super().__init__(run_id)
        self.run_id = run_id
