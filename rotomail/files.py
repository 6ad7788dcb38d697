"""Files written whole or not at all, and a storage fault said in one Spanish line.

A file rotomail writes for keeps (an outbox ``.eml``, a kept statement) goes to a temporary
name in the same folder, is flushed to the disk, then renamed over its final name: a full
disk, a read-only folder or a crash leaves the final name absent, never a broken file.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

# errno -> what it means for the folder or disk, in Spanish
_PROBLEMS = {
    errno.ENOSPC: "no queda espacio en el disco",
    errno.EDQUOT: "se agotó la cuota de disco",
    errno.EROFS: "el disco es de solo lectura",
    errno.EACCES: "sin permiso de escritura",
    errno.EPERM: "sin permiso de escritura",
    errno.EIO: "error de entrada/salida del disco",
}
# errno -> what it means for the path (not a fault of the place: the run goes on)
_PATH_PROBLEMS = {
    errno.ENOTDIR: "una parte de la ruta no es una carpeta",
    errno.ENOENT: "la carpeta no existe",
    errno.EISDIR: "es una carpeta",
    errno.ENAMETOOLONG: "el nombre es demasiado largo",
}
# Faults of the place, not of one file: every later write there would fail alike.
PLACE_FAULTS = frozenset(_PROBLEMS)


def storage_problem(exc: OSError) -> str:
    """What went wrong, in Spanish: ``no queda espacio en el disco``, ..."""
    code = exc.errno or 0
    return _PROBLEMS.get(code) or _PATH_PROBLEMS.get(code) or exc.strerror or str(exc)


def is_place_fault(exc: OSError) -> bool:
    """A full disk, a read-only or forbidden folder, an I/O error: not this file's fault."""
    return exc.errno in PLACE_FAULTS


def write_exit_code(exc: OSError) -> int:
    """2 when the place may not be written (permissions, a read-only disk: a configuration
    to fix), else 1."""
    return 2 if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else 1


def temporary_name(path: Path) -> Path:
    """The hidden temporary name ``path`` is written under (``.x.eml.1234.tmp``)."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_whole(path: Path, data: bytes, mode: int = 0o600) -> None:
    """``data`` at ``path`` whole or not at all: a temporary name in the same folder,
    flushed to the disk (fsync), then renamed over ``path`` (``os.replace``). On any
    failure the temporary file is removed and ``path`` is as it was."""
    temporary = temporary_name(path)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise
