"""Tables as text a question can match: one paragraph per row, each cell
named by its column's header ("指标：单位GDP能耗下降；2020年：13%；2025年目标：15%").

A row read on its own ("单位GDP能耗下降 13% 15%") no longer says which figure
is the target; carrying the header into every row does, and a row is then one
paragraph that chunking keeps whole (`is_row_text`). The parsers (PDF, DOCX,
HTML) only find the cells; the text is made here, the same for every format.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# Between a header and its cell, and between cells. Full-width, as the text
# around them: "；" ends a clause, so a row reads as one sentence of clauses.
KEY_SEP = "："
CELL_SEP = "；"
# A header cell longer than this is text, not a column name: the table has no header row.
MAX_HEADER_CHARS = 40

# A cell of a paragraph made by `row_texts`: "key：value". The chunker and the
# answerer keep such a paragraph whole (up to their size limits) rather than
# cutting it at its "；".
_NAMED_CELL = re.compile(rf"[^{KEY_SEP}]{{1,{MAX_HEADER_CHARS}}}{KEY_SEP}[^{KEY_SEP}]*")


def cell_text(text: str) -> str:
    """A cell's text on one line: its inner line breaks and runs of spaces become one space."""
    return " ".join(text.split())


def row_texts(rows: Sequence[Sequence[str]]) -> list[str]:
    """One text per row of a table whose first row is its header.

    Each cell is written "header：cell" and cells are joined by "；"; an empty
    cell is left out, and a cell under an empty header is written alone. A
    table without a usable header (one row, one column, an empty or over-long
    header) gives its rows' cells a space apart, as a plain table reads.
    """
    rows = [[cell_text(c) for c in row] for row in rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    header = rows[0]
    width = max(len(row) for row in rows)
    has_header = (
        len(rows) > 1
        and width > 1
        and sum(1 for h in header if h) > 1
        and all(len(h) <= MAX_HEADER_CHARS for h in header)
    )
    if not has_header:
        return [" ".join(c for c in row if c) for row in rows]
    out = []
    for row in rows[1:]:
        if row == header:  # the header repeated (a table continued on the next page)
            continue
        cells = []
        for i, value in enumerate(row):
            name = header[i] if i < len(header) else ""
            if value:
                cells.append(f"{name}{KEY_SEP}{value}" if name else value)
        if cells:
            out.append(CELL_SEP.join(cells))
    return out


def is_row_text(text: str) -> bool:
    """Whether a paragraph is a table row as `row_texts` writes it: cells joined
    by "；", at least two of them "key：value" (a cell under an empty header,
    such as the first column under a blank corner, is written alone), and no
    "。" or line break, which a row's cells do not hold but prose does
    ("主要目标：…。…；重点任务：…。" is two sentences, not a row)."""
    if "\n" in text or "。" in text:
        return False
    cells = text.split(CELL_SEP)
    named = sum(1 for c in cells if _NAMED_CELL.fullmatch(c))
    plain_or_named = all(KEY_SEP not in c or _NAMED_CELL.fullmatch(c) for c in cells)
    return len(cells) >= 2 and all(cells) and named >= 2 and plain_or_named


# ---- HTML ----


def html_table_rows(table: Any) -> list[list[str]]:
    """The cells of a BeautifulSoup <table>, row by row, without its nested
    tables' rows (a nested table's text stays in the cell that holds it). A
    cell with colspan takes the columns it spans (see `spread`)."""
    rows: list[list[str]] = []
    for tr in _own(table, table, "tr"):
        cells: list[str] = []
        for cell in _own(tr, table, ("td", "th")):
            try:
                span = min(max(int(cell.get("colspan", 1)), 1), 50)
            except (TypeError, ValueError):
                span = 1
            cells.extend(spread(cell_text(cell.get_text(" ")), span, header=not rows))
        rows.append(cells)
    return rows


def spread(text: str, span: int, header: bool) -> list[str]:
    """A merged cell over `span` columns: a header names each column it spans;
    a body cell is said once, in its first column."""
    return [text] * span if header else [text] + [""] * (span - 1)


def _own(node: Any, table: Any, names: str | tuple[str, ...]) -> list[Any]:
    """Tags under `node` with these names that belong to `table`, not to a table nested in it."""
    return [tag for tag in node.find_all(names) if tag.find_parent("table") is table]
