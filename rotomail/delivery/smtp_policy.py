"""How fast and how often: what a server's reply means, the rate limiter and the retry
policy (backoff with jitter, throttling), apart from any connection so each can be tested
with a fake clock.

A reply is read for what it says about whom:

* a 4xx to RCPT (or to DATA) refuses that message's addresses for now — greylisting
  included, whatever its enhanced code: the addresses are deferred at once and retried at
  the end of the run, and the run goes on at full speed;
* ``452 4.5.3`` too many recipients is not a refusal of the address: the rest go in a new
  transaction, without waiting;
* a 421 or 4xx at connection or MAIL that names a rate is about the sender: slow down; so
  are rate replies to RCPT for three different recipient domains within a minute;
* "421 4.7.0 Too many messages per connection" only asks for a new connection.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable

# A reply that names a rate: "Too many messages, slow down", "Throttling failure: Maximum
# sending rate exceeded", "rate limit", "too many connections / login attempts".
RATE = re.compile(
    r"throttl|\brate\b|rate.?limit|too (many|fast)|slow(ing)? down|try (again )?slower",
    re.IGNORECASE,
)
# A limit of messages per session: open a new connection and go on.
PER_CONNECTION = re.compile(
    r"\bper (connection|session)\b|messages? (per|in this|on this) (connection|session)",
    re.IGNORECASE,
)
TOO_MANY_RECIPIENTS = re.compile(r"\b4\.5\.3\b|too many recipients", re.IGNORECASE)
MAX_THROTTLE_WAIT = 300.0
# Rate replies to RCPT for this many different recipient domains within WINDOW seconds are
# about the sender, not about those recipients.
THROTTLED_DOMAINS = 3
THROTTLE_WINDOW = 60.0


class TryAgain(Exception):
    """A temporary failure of one attempt (internal to the SMTP transport).

    ``connect``: no session could be opened. ``throttle``: the server says we send too
    fast. ``reconnect``: the server limits messages per connection; a new one goes on.
    ``deferred``/``refused``: the recipients' own 4xx/5xx replies when none was accepted
    (the addresses are put off at once, not retried now)."""

    def __init__(
        self,
        reply: str,
        *,
        throttle: bool = False,
        connect: bool = False,
        reconnect: bool = False,
        deferred: dict[str, str] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reply)
        self.reply = reply
        self.throttle = throttle
        self.connect = connect
        self.reconnect = reconnect
        self.deferred = deferred or {}
        self.refused = refused or {}


def names_rate(reply: str) -> bool:
    """The reply says the sender goes too fast (not a per-connection limit, not too many
    recipients in one transaction)."""
    if per_connection_limit(reply) or too_many_recipients(reply):
        return False
    return bool(RATE.search(reply))


def per_connection_limit(reply: str) -> bool:
    """ "421 4.7.0 Too many messages per connection": reconnect, do not slow down."""
    return bool(PER_CONNECTION.search(reply))


def too_many_recipients(reply: str) -> bool:
    """ "452 4.5.3 Too many recipients": the rest go in a new transaction, at once."""
    return bool(TOO_MANY_RECIPIENTS.search(reply))


def sender_signal(code: int, reply: str) -> TryAgain:
    """A 421 or 4xx at connection or MAIL (or a 421 anywhere): the session's own trouble,
    retried on a new attempt; slow down only when it names a rate."""
    return TryAgain(
        reply,
        throttle=names_rate(reply),
        reconnect=code == 421 and per_connection_limit(reply),
    )


class ThrottleWatch:
    """Rate replies to RCPT, by recipient domain: one domain throttling us is that domain's
    business; ``THROTTLED_DOMAINS`` domains within ``THROTTLE_WINDOW`` seconds are a signal
    about the sender (``seen`` answers True once, then starts over)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: dict[str, float] = {}  # domain -> when it last throttled us
        self._lock = threading.Lock()  # shared by the run's sessions

    def seen(self, deferred: dict[str, str]) -> bool:
        with self._lock:
            now = self._clock()
            for address, reply in deferred.items():
                if names_rate(reply):
                    self._last[address.rpartition("@")[2].lower()] = now
            self._last = {d: t for d, t in self._last.items() if now - t <= THROTTLE_WINDOW}
            if len(self._last) >= THROTTLED_DOMAINS:
                self._last.clear()
                return True
            return False


class RateLimiter:
    """At most ``per_minute`` messages a minute: a fixed interval between sends, whichever
    session sends (each caller is given the next free slot, then waits for it outside the
    lock)."""

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self, sleep: Callable[[float], None] | None = None) -> None:
        """Wait for this message's slot (``sleep``: the caller's own, interruptible)."""
        with self._lock:
            now = self._clock()
            start = now if self._next is None else max(now, self._next)
            self._next = start + self.interval
        if start > now:
            (sleep or self._sleep)(start - now)

    def slow_down(self, minimum: float) -> None:
        """The relay is throttling us: double the interval (at least ``minimum``, at most 60 s)."""
        with self._lock:
            self.interval = min(max(self.interval * 2, minimum), 60.0)


class Pace:
    """What the sessions of one run share: the rate limit, the throttle watch and the
    daily cap's count. A message takes a slot
    of the daily cap (``reserve``) before it is sent and gives it back or counts it
    (``release``), so sessions at once never send past the cap."""

    def __init__(
        self,
        rate_per_minute: int,
        daily_cap: int = 0,
        sent_today: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limiter = RateLimiter(rate_per_minute, clock=clock, sleep=sleep)
        self.throttles = ThrottleWatch(clock=clock)
        self.daily_cap = daily_cap
        self.sent = sent_today
        self._reserved = 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        """Take a slot of the daily cap; False when it is reached."""
        with self._lock:
            if self.daily_cap and self.sent + self._reserved >= self.daily_cap:
                return False
            self._reserved += 1
            return True

    def release(self, sent: bool) -> None:
        with self._lock:
            self._reserved -= 1
            if sent:
                self.sent += 1


class RetryPolicy:
    """Waits between tries: ``backoff[i]`` jittered +-20 %; throttling waits grow from the
    last backoff, doubling, up to five minutes."""

    def __init__(
        self,
        backoff: tuple[float, ...],
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.backoff = backoff or (1.0,)
        self._rng = rng

    def base(self, index: int) -> float:
        return self.backoff[min(index, len(self.backoff) - 1)]

    def jitter(self, seconds: float) -> float:
        return seconds * (0.8 + 0.4 * self._rng())

    def wait(self, failures: int) -> float:
        """The wait after the ``failures``-th failed try (1-based)."""
        return self.jitter(self.base(failures - 1))

    def throttle_wait(self, n: int) -> float:
        return min(self.jitter(self.base(len(self.backoff)) * 2**n), MAX_THROTTLE_WAIT)
