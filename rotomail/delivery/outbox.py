"""The outbox transport: each message as a private ``.eml`` file instead of SMTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.message import Message
from pathlib import Path

from rotomail.delivery.messages import PreparedMessage, prepare
from rotomail.delivery.results import Delivery
from rotomail.errors import DataError
from rotomail.ids import safe_filename_part


def _make_private_dir(folder: Path) -> None:
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)


class OutboxTransport:
    """Writes each message as ``<folder>/<name>.eml`` (folder 0700, files 0600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(
        self,
        msg: Message | PreparedMessage,
        *,
        before_data: Callable[[], None] | None = None,
        name: str | None = None,
        retry: bool = True,
    ) -> Delivery:
        prepared = prepare(msg, name)
        recipients, data = prepared.recipients, prepared.data
        stem = prepared.name or prepared.message_id or "mensaje"
        _make_private_dir(self.folder)
        if before_data is not None:
            before_data()
        path = self._write(safe_filename_part(stem), data)
        return Delivery(accepted=recipients, refused={}, reply=f"outbox: {path}")

    def _write(self, stem: str, data: bytes) -> Path:
        for n in range(1, 10_000):
            path = self.folder / (f"{stem}.eml" if n == 1 else f"{stem}-{n}.eml")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            return path
        raise DataError(f"Demasiados archivos {stem}-*.eml en {self.folder}.")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass
