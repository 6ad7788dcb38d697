"""Stopping a run from outside: SIGTERM and Ctrl-C end it cleanly within seconds.

While a run sends, SIGTERM and SIGINT raise ``RunStopped`` in the sending process wherever
it waits (the SMTP server, the render workers, a rate-limit pause), except inside a
database transaction that records a customer: there the request is noted and raised at the
next point where the run can stop, so a record is never half written. The runner turns
``RunStopped`` into outcomes: a customer whose DATA may have gone out is "incierto" (as
after a kill), the rest stay "pendiente". A closed terminal (SIGHUP) does not stop a run:
its output is switched off instead.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

EXIT_CODES: dict[int, int] = {signal.SIGTERM: 143, signal.SIGINT: 130}
REASONS: dict[int, str] = {
    signal.SIGTERM: "la corrida recibió SIGTERM",
    signal.SIGINT: "la corrida se canceló con Ctrl-C",
}


class RunStopped(BaseException):  # like KeyboardInterrupt: not an Exception to handle
    """A stop was requested; raised where the run waits."""

    def __init__(self, signum: int) -> None:
        super().__init__(REASONS.get(signum, f"señal {signum}"))
        self.signum = signum
        self.reason = REASONS.get(signum, f"señal {signum}")
        self.exit_code = EXIT_CODES.get(signum, 128 + signum)


class StopSignals:
    """Installs the run's signal handlers for the duration of a ``with`` block."""

    def __init__(self) -> None:
        self.requested: int = 0
        self.settled = False  # the run is closing: signals are only noted
        self._critical = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in EXIT_CODES:
                self._previous[signum] = signal.signal(signum, self._handle)
            self._previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_IGN)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = self.requested or signum
        if not self._critical and not self.settled:
            raise RunStopped(self.requested)

    def check(self) -> None:
        """Raise when a stop was requested: called where the run may stop cleanly."""
        if self.requested and not self.settled:
            raise RunStopped(self.requested)

    def settle(self) -> None:
        """From now on the run writes its records and log: later signals are only noted."""
        self.settled = True

    @contextmanager
    def critical(self) -> Iterator[None]:
        """A section a signal must not cut (a database transaction); a stop requested
        meanwhile is raised by the next ``check``. Signals are handled in the main thread
        only: another thread's section (an SMTP session's) is never cut by one."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._critical += 1
        try:
            yield
        finally:
            self._critical -= 1
