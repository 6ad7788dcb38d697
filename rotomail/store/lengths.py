"""Values longer than their column: refused per row on import, naming the row and field.

PostgreSQL enforces a ``VARCHAR(n)`` (StringDataRightTruncation) where SQLite stores any
length; the check is made here, from the schema (store/models.py), before a row is written,
so both databases refuse the same rows with the same words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table


def too_long(table: Table, values: Mapping[str, Any]) -> str | None:
    """Why one of ``values`` does not fit its column of ``table`` (in Spanish), else None."""
    for name, value in values.items():
        if not isinstance(value, str) or name not in table.c:
            continue
        length = getattr(table.c[name].type, "length", None)
        if length is not None and len(value) > length:
            return f"{name} tiene {len(value)} caracteres; el máximo es {length}"
    return None
