"""How fast and how often: the rate limiter and the retry policy (backoff with jitter,
throttling), apart from any connection so each can be tested with a fake clock."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable

THROTTLE = re.compile(r"too many|throttl|rate.?limit|\b4\.7\.\d+|\b4\.5\.3\b", re.IGNORECASE)
MAX_THROTTLE_WAIT = 300.0


class TryAgain(Exception):
    """A temporary failure of one attempt (internal to the SMTP transport).

    ``connect``: no session could be opened. ``deferred``/``refused``: the recipients'
    own 4xx/5xx replies when none was accepted."""

    def __init__(
        self,
        reply: str,
        *,
        throttle: bool = False,
        connect: bool = False,
        deferred: dict[str, str] | None = None,
        refused: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reply)
        self.reply = reply
        self.throttle = throttle
        self.connect = connect
        self.deferred = deferred or {}
        self.refused = refused or {}


def is_throttle(reply: str) -> bool:
    return bool(THROTTLE.search(reply))


class RateLimiter:
    """At most ``per_minute`` messages a minute: a fixed interval between sends."""

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

    def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval

    def slow_down(self, minimum: float) -> None:
        """The relay is throttling us: double the interval (at least ``minimum``, at most 60 s)."""
        self.interval = min(max(self.interval * 2, minimum), 60.0)


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
