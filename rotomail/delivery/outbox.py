"""The outbox channel: each message as a private ``.eml`` file instead of SMTP (the
embedded default: a new user sees real messages without a server)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from rotomail.config import Settings
from rotomail.delivery.messages import message_bytes
from rotomail.delivery.outgoing import Outgoing
from rotomail.delivery.results import Delivery, Transport, TransportSetup, WriteFailed
from rotomail.errors import DataError
from rotomail.files import storage_problem, write_exit_code, write_whole
from rotomail.ids import safe_filename_part
from rotomail.words import Status


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

    delivered_status = Status.SAVED

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def deliver(self, outgoing: Outgoing, *, retry: bool = True) -> Delivery:
        """Write the file named after ``outgoing.name`` (else its Message-ID), whole or not
        at all; the claim is taken right before the file is written. A write that fails
        (a full disk, a read-only folder) leaves no file and raises ``WriteFailed``."""
        data = message_bytes(outgoing)
        stem = outgoing.name or outgoing.message_id or "mensaje"
        try:
            _make_private_dir(self.folder)
        except OSError as exc:
            raise self._failed(exc) from None
        if outgoing.claim is not None:
            outgoing.claim()
        try:
            path = self._write(safe_filename_part(stem), data)
        except OSError as exc:
            raise self._failed(exc) from None
        return Delivery(accepted=outgoing.recipients, refused={}, reply=f"outbox: {path}")

    def _failed(self, exc: OSError) -> WriteFailed:
        return WriteFailed(
            f"no se pudo guardar en el buzón de salida {self.folder}: {storage_problem(exc)}",
            write_exit_code(exc),
        )

    def _write(self, stem: str, data: bytes) -> Path:
        for n in range(1, 10_000):
            path = self.folder / (f"{stem}.eml" if n == 1 else f"{stem}-{n}.eml")
            if path.exists():
                continue
            write_whole(path, data)  # a temporary name, fsync, then os.replace
            return path
        raise DataError(f"Demasiados archivos {stem}-*.eml en {self.folder}.")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def describe(settings: Settings) -> str:
    return f"buzón de salida {settings.outbox_dir}"


def open_transports(settings: Settings, setup: TransportSetup) -> Callable[[int], Transport]:
    """Each run's messages in its own folder."""
    return lambda run_id: OutboxTransport(setup.folder_for(run_id))
