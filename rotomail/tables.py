"""Plain-text tables, for the terminal's pipes and the run's log alike."""

from __future__ import annotations

from collections.abc import Sequence


def plain_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """tabulate's "simple" layout for text cells, byte for byte (tests/test_output.py).

    Written out because tabulate's per-cell type inference takes seconds on the 50,000-row
    tables of a bulk paste; here it is one pass to measure and one to pad.
    """
    widths = [len(header) + 2 for header in headers]
    for row in body:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    lines = [line(headers), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in body)
    return "\n".join(lines) + "\n"
