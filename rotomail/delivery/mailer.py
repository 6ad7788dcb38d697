"""Delivering e-mails over SMTP, following ../shared/reference/delivery.md.

The parts, each testable alone:

* ``smtp_connection``: one reused authenticated session (TLS, password or XOAUTH2), reopened
  after ``max_per_connection`` messages;
* ``smtp_dialogue``: one message's MAIL/RCPT/DATA, an answer per recipient, the caller's hook
  right before DATA so it can record the message as in flight;
* ``smtp_policy``: what a reply means, rate limit and retries: an address put off (4xx to
  RCPT or DATA) is deferred at once and retried at the end of the run (``deferred``);
  connection-level trouble (a lost connection, a 4xx at MAIL, 421) is retried with backoff
  (``attempts``, ``retry_wait``); only replies about the sender's rate slow down;
* ``results``: what comes back (a :class:`Delivery`, or an error; a break after the final
  "." was sent is :class:`Uncertain`, never retried; one before it is a failed attempt).

This module puts the SMTP parts together as :class:`SmtpTransport`, opens it from the
settings for the ``smtp`` channel (``channels``) and re-exports the names the rest of the
program uses.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from collections.abc import Callable

from rotomail.config import Settings
from rotomail.delivery.messages import message_bytes
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.results import (
    RUN_STOPPERS,
    AuthenticationFailed,
    ConfigurationError,
    ConnectionFailed,
    DailyCapReached,
    Delivery,
    PermanentFailure,
    SendError,
    TemporaryFailure,
    Transport,
    TransportSetup,
    Uncertain,
)
from rotomail.delivery.secrets import checked_token_command, get_smtp_password
from rotomail.delivery.smtp_connection import Scrubber, Secret, SmtpConnection, SmtpSettings
from rotomail.delivery.smtp_dialogue import Dialogue, dot_stuff
from rotomail.delivery.smtp_policy import Pace, RateLimiter, RetryPolicy, TryAgain
from rotomail.errors import UsageError
from rotomail.words import Mode, Status

# New connections in a row for one message when the server limits messages per connection.
MAX_RECONNECTS = 2


class SmtpTransport:
    """smtplib, one authenticated connection reused for many messages.

    ``clock``, ``sleep`` and ``rng`` are injectable for tests; ``sent_today`` seeds the
    daily cap with what the database says was already sent today.

    Once a message failed because no session could be opened, the next message tries to
    connect once only: a dead server costs one timeout per customer, not ``attempts``.
    """

    delivered_status = Status.SENT

    def __init__(
        self,
        settings: SmtpSettings,
        password: str | None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        sent_today: int = 0,
        oauth_token: Callable[[], str] | None = None,
        pace: Pace | None = None,
    ) -> None:
        """``password`` for ``auth = "password"``; ``oauth_token`` (called for every new
        connection: tokens are short-lived) for ``auth = "xoauth2"``. ``pace``: the rate
        limit, daily cap and throttle watch shared with the run's other sessions (each
        session is one transport with its own connection)."""
        self.settings = settings
        self._scrub = Scrubber(settings.user, Secret(password))
        self._connection = SmtpConnection(
            settings,
            self._scrub.password,
            self._scrub,
            ssl_context=ssl_context,
            oauth_token=oauth_token,
        )
        self._dialogue = Dialogue(self._connection, self._scrub)
        self._policy = RetryPolicy(settings.backoff, rng=rng)
        self._pace = pace or Pace(
            settings.rate_per_minute,
            settings.daily_cap,
            sent_today,
            clock=clock,
            sleep=sleep,
        )
        self._unreachable = False  # this session's last message failed to connect
        self._aborted = threading.Event()
        # Waits end at once when the session is aborted (a run stopped from another thread).
        self._sleep = sleep if sleep is not time.sleep else self._wait

    def _wait(self, seconds: float) -> None:
        self._aborted.wait(seconds)

    @property
    def limiter(self) -> RateLimiter:
        """The rate limiter, shared by the run's sessions."""
        return self._pace.limiter

    @property
    def sent(self) -> int:
        """Messages sent today (the daily cap's count), by every session of the run."""
        return self._pace.sent

    @property
    def settings(self) -> SmtpSettings:
        return self._settings

    @settings.setter
    def settings(self, value: SmtpSettings) -> None:
        self._settings = value
        if hasattr(self, "_connection"):
            self._connection.settings = value

    @property
    def connections(self) -> int:
        """Sessions opened, for the log and tests."""
        return self._connection.opened

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"SmtpTransport(host={s.host!r}, port={s.port}, "
            f"security={s.security!r}, user={s.user!r})"
        )

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def deliver(self, outgoing: Outgoing, *, retry: bool = True) -> Delivery:
        """Deliver one message, ``outgoing.claim`` called right before DATA; see the module
        docstring for how each fault is handled. ``retry=False``: one try only (the caller
        retries deferred recipients itself)."""
        data = dot_stuff(message_bytes(outgoing))
        cap = self.settings.daily_cap
        if not self._pace.reserve():
            raise DailyCapReached(
                f"daily cap {cap}",
                f"Se alcanzó el límite diario de {cap} mensajes (smtp.daily_cap).",
            )
        delivered = False
        try:
            delivery = self._deliver(outgoing, data, retry)
            delivered = True
        finally:
            self._pace.release(delivered)
        return delivery

    def _deliver(self, outgoing: Outgoing, data: bytes, retry: bool) -> Delivery:
        envelope_sender, recipients = outgoing.envelope_sender, outgoing.recipients
        pace = self._pace
        pace.limiter.wait(self._sleep)
        attempts = max(1, self.settings.attempts) if retry else 1
        failures = throttled = reconnects = 0
        while True:
            if self._aborted.is_set():
                raise TemporaryFailure(
                    "sesión cerrada", "Sesión SMTP cerrada: la corrida se detuvo."
                )
            try:
                delivery = self._dialogue.run(envelope_sender, recipients, data, outgoing.claim)
            except TryAgain as again:
                if again.deferred:
                    # The addresses' own temporary refusal: put off at once, the run goes on.
                    self._watch_rates(again.deferred)
                    raise TemporaryFailure(
                        again.reply,
                        f"Aplazado por el servidor: {again.reply}",
                        deferred=again.deferred,
                        refused=again.refused,
                    ) from None
                if again.reconnect and reconnects < MAX_RECONNECTS:
                    reconnects += 1  # a limit of messages per connection: a new one goes on
                    self._connection.limit_reached()
                    continue
                if again.throttle and throttled < self.settings.throttle_retries and retry:
                    throttled += 1
                    pace.limiter.slow_down(self._policy.base(0))
                    self._sleep(self._policy.throttle_wait(throttled))
                    continue
                failures += 1
                if failures >= attempts or (again.connect and self._unreachable):
                    raise self._gave_up(again, failures + throttled) from None
                self._sleep(self._policy.wait(failures))
                continue
            self._unreachable = False
            self._connection.messages += 1
            if delivery.deferred:
                self._watch_rates(delivery.deferred)
            return delivery

    def _watch_rates(self, deferred: dict[str, str]) -> None:
        """Rate replies for several recipient domains at once are about us: slow down."""
        if self._pace.throttles.seen(deferred):
            self._pace.limiter.slow_down(self._policy.base(0))

    def _gave_up(self, again: TryAgain, tries: int) -> TemporaryFailure:
        self._unreachable = again.connect
        kind = ConnectionFailed if again.connect else TemporaryFailure
        return kind(
            again.reply,
            f"Error temporal tras {tries} intento(s): {again.reply}",
            deferred=again.deferred,
            refused=again.refused,
        )

    def close(self) -> None:
        self._connection.close()

    def abort(self) -> None:
        """Drop the connection without QUIT and end this session's waits: safe to call from
        another thread (a stopped run wakes its sessions)."""
        self._aborted.set()
        self._connection.drop()


def smtp_settings(settings: Settings) -> SmtpSettings:
    return SmtpSettings(
        host=settings.smtp.host,
        port=settings.smtp.port,
        security=settings.smtp.security,
        user=settings.smtp.user,
        auth=settings.smtp.auth,
        timeout=settings.smtp.timeout,
        rate_per_minute=settings.smtp.rate_per_minute,
        max_per_connection=settings.smtp.max_per_connection,
        attempts=settings.smtp.attempts,
        backoff=tuple(settings.smtp.retry_wait * 2**i for i in range(settings.smtp.attempts)),
        daily_cap=settings.smtp.daily_cap,
    )


def password_for(settings: Settings, interactive: bool) -> str | None:
    """The SMTP password (environment, keyring, prompt), asked once before a run starts."""
    if not settings.smtp.user:
        return None
    password = get_smtp_password(settings.smtp.user, settings.smtp.host, interactive=interactive)
    if password is None:
        raise UsageError(
            "Falta la contraseña SMTP: defina ROTOMAIL_SMTP_PASSWORD o guárdela con "
            "«rotomail config set-password»."
        )
    return password


def smtp_credentials(
    settings: Settings, interactive: bool
) -> tuple[str | None, Callable[[], str] | None]:
    """(password, token source) for the configured ``smtp.auth``, obtained and checked
    before anything is sent: a missing password or a failing token command is exit 2."""
    if settings.smtp.auth != "xoauth2":
        return password_for(settings, interactive), None
    if not settings.smtp.user:
        raise UsageError("smtp.auth = xoauth2 necesita smtp.user: el buzón que envía.")
    return None, checked_token_command(settings.smtp.oauth_token_command)


def applies(settings: Settings, mode: Mode) -> bool:
    """A run sends over SMTP when a host is configured, except a dry run."""
    return mode != Mode.DRY_RUN and bool(settings.smtp.host)


def describe(settings: Settings) -> str:
    return f"smtp {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security})"


def open_transports(settings: Settings, setup: TransportSetup) -> Callable[[int], Transport]:
    """A function run_id -> SmtpTransport; the password is obtained now, before the run.

    Each call opens another session; the sessions of one run share one :class:`Pace`
    (rate limit, daily cap, throttle watch), so ``smtp.sessions`` at once are as fast and
    as capped as the settings say, not that many times more."""
    smtp = smtp_settings(settings)
    password, oauth_token = smtp_credentials(settings, setup.interactive)
    paces: dict[int, Pace] = {}
    lock = threading.Lock()

    def pace_of(run_id: int) -> Pace:
        with lock:
            if run_id not in paces:
                sent = setup.sent_today() if smtp.daily_cap else 0
                paces[run_id] = Pace(smtp.rate_per_minute, smtp.daily_cap, sent)
            return paces[run_id]

    return lambda run_id: SmtpTransport(
        smtp, password, oauth_token=oauth_token, pace=pace_of(run_id)
    )


__all__ = [
    "RUN_STOPPERS",
    "AuthenticationFailed",
    "ConfigurationError",
    "ConnectionFailed",
    "DailyCapReached",
    "Delivery",
    "PermanentFailure",
    "RateLimiter",
    "SendError",
    "SmtpSettings",
    "SmtpTransport",
    "TemporaryFailure",
    "Transport",
    "Uncertain",
]
