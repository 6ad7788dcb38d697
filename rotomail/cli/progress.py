"""The send's progress bar on a terminal (Rich, imported only when a bar is shown)."""

from __future__ import annotations

from datetime import timedelta

from rich.progress import ProgressColumn, Task
from rich.text import Text


class RemainingWithRateLimit(ProgressColumn):
    """Time left: the observed pace, never less than what the SMTP rate limit allows."""

    def __init__(self, rate_per_minute: float) -> None:
        super().__init__()
        self.rate_per_minute = rate_per_minute

    def render(self, task: Task) -> Text:
        remaining = task.remaining or 0
        seconds = task.time_remaining or 0
        if self.rate_per_minute > 0:
            seconds = max(seconds, remaining * 60 / self.rate_per_minute)
        if not remaining:
            return Text("")
        if not seconds:
            return Text("quedan -:--:--")
        return Text(f"quedan {timedelta(seconds=int(seconds))}")
