"""Plain-text tables in kubectl's style (upper-case headers, columns padded with three spaces)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def render(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The table as text; `None` cells print as `<none>` like kubectl's."""
    cells = [[str(h).upper() for h in headers]]
    cells += [["<none>" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = (
        "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    )
    return "\n".join(line.rstrip() for line in lines) + "\n"
