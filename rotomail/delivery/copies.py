"""Invoice copies: the CFDI (PDF and XML) of each open invoice and of each payment received,
attached to the statement's e-mail (``[companies.X] invoice_copies``).

``invoice_copies = "cfdi/{referencia}"`` names, per item, ``cfdi/<its referencia>.pdf`` and
``.xml`` under config.toml's folder. A missing file is no error: it is counted. The copies
travel up to ``invoice_copies_max_mb`` per message, a whole document (its PDF and XML) at a
time, in the statement's order; from the first document that does not fit, the rest are
named in the e-mail and the log, not attached. An item field that would take the path out
of the pattern's folder (``../``) is not followed: that copy is refused and said so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rotomail.company import CompanyProfile, copy_path, copy_pattern_fields
from rotomail.delivery.messages import safe_attachment_name
from rotomail.delivery.outgoing import Attachment
from rotomail.delivery.report import CopiesReport
from rotomail.statement.model import ClearedItem, Statement, StatementItem

EXTENSIONS = {".pdf": "application/pdf", ".xml": "application/xml"}
MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class _Document:
    files: tuple[tuple[Path, str], ...]  # (path, attachment name) of the files found
    size: int


def _items(statement: Statement) -> list[StatementItem | ClearedItem]:
    """The open invoices (positive amounts), then the payments received, in statement order."""
    items: list[StatementItem | ClearedItem] = [
        line.item for line in statement.lines if line.importe > 0
    ]
    if statement.payments is not None:
        items.extend(line.item for line in statement.payments.lines)
    return items


def invoice_copies(
    company: CompanyProfile, statement: Statement
) -> tuple[tuple[Attachment, ...], CopiesReport]:
    """The copies to attach to ``statement``'s e-mail, and what became of each."""
    pattern = company.invoice_copies
    if not pattern:
        return (), CopiesReport()
    named = copy_pattern_fields(pattern)
    cap = int(company.invoice_copies_max_mb * MEGABYTE)
    seen: set[Path] = set()
    attached: list[Attachment] = []
    left_out: list[str] = []
    refused: list[str] = []
    missing = total = 0
    for item in _items(statement):
        values = {
            "referencia": item.referencia,
            "documento": item.documento,
            "asignacion": item.asignacion,
        }
        if any(not values[name].strip() for name in named):
            missing += len(EXTENSIONS)  # nothing to name its files by
            continue
        base = copy_path(company.base_dir, pattern, values)
        if base is None:
            shown = pattern
            for name in named:
                shown = shown.replace(f"{{{name}}}", values[name].strip())
            refused.append(f"{item.documento}: {shown}")
            continue
        if base in seen:
            continue
        seen.add(base)
        document = _document(base)
        missing += len(EXTENSIONS) - len(document.files)
        if not document.files:
            continue
        if left_out or total + document.size > cap:
            left_out.extend(name for _, name in document.files)
            continue
        for path, name in document.files:
            try:
                data = path.read_bytes()
            except OSError:  # unreadable since it was listed: as good as missing
                missing += 1
                continue
            total += len(data)
            attached.append(Attachment(name, data, EXTENSIONS[path.suffix]))
    report = CopiesReport(
        tuple(a.filename for a in attached), tuple(left_out), missing, tuple(refused)
    )
    return tuple(attached), report


def _document(base: Path) -> _Document:
    files = []
    size = 0
    for extension in EXTENSIONS:
        path = base.with_name(base.name + extension)
        try:
            stat = os.stat(path)
        except OSError:
            continue
        if not os.path.isfile(path):
            continue
        files.append((path, safe_attachment_name(path.name, default=f"copia{extension}")))
        size += stat.st_size
    return _Document(tuple(files), size)
