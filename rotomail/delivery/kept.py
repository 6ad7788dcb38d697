"""Every statement sent is kept: its PDF under the home, per sociedad and cut-off date
(``<home>/statements/SM02/2026-11-30/1006210_20261130.pdf``), beside the e-mail's figures
(``….json``), so the very statement a customer received can be sent again after the next
import (``rotomail send --cliente X --to …``).

Each file is written whole or not at all: under a temporary name in the same folder, then
renamed over the final name. The figures are written before the PDF, so a PDF that exists
always has them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from rotomail.files import write_whole
from rotomail.ids import safe_filename_part
from rotomail.statement.model import statement_filename


@dataclass(frozen=True)
class KeptStatement:
    """A statement as it was sent: the PDF and what its e-mail said."""

    path: Path  # the PDF
    pdf: bytes
    idioma: str  # es | pt | en
    fields: dict[str, str] = field(default_factory=dict)  # the e-mail templates' figures
    pagos: str = ""  # payments received, as the statement said ("MXN 3,000.00")

    @property
    def filename(self) -> str:
        return self.path.name


def kept_path(statements_dir: Path, sociedad: str, cliente: str, statement_date: date) -> Path:
    """Where the statement of ``cliente`` for ``statement_date`` is kept (every part a safe
    file name: it never leaves ``statements_dir``)."""
    return (
        statements_dir
        / safe_filename_part(sociedad)
        / statement_date.isoformat()
        / statement_filename(cliente, statement_date)
    )


def _write_whole(path: Path, data: bytes) -> None:
    """``data`` at ``path`` whole or not at all (temporary name, then rename), owner-only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_whole(path, data)


def keep(path: Path, pdf: bytes, idioma: str, fields: dict[str, str], pagos: str = "") -> None:
    """Keep a statement at ``path`` (the PDF) with its e-mail's figures beside it."""
    figures = {"idioma": idioma, "campos": fields, "pagos": pagos}
    _write_whole(path.with_suffix(".json"), json.dumps(figures, ensure_ascii=False).encode())
    _write_whole(path, pdf)


def load_kept(path: Path) -> KeptStatement | None:
    """The statement kept at ``path``, or None when there is none (or it is incomplete)."""
    try:
        pdf = path.read_bytes()
        figures = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return KeptStatement(
        path,
        pdf,
        str(figures.get("idioma", "")),
        {str(k): str(v) for k, v in dict(figures.get("campos", {})).items()},
        str(figures.get("pagos", "")),
    )
