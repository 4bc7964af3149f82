"""Where each page of a file starts in the stored document text, and which
page an offset (a chunk's, a quote's) falls on.

Parsers report page starts as offsets into the raw text they return; the
stored text is that raw text after `clean_text`. Cleaning never changes,
adds, drops or reorders a visible character: it only drops whitespace, line
breaks and control or format characters (see index/clean.py). So the n-th
visible character of the raw text is the n-th non-whitespace character of the
cleaned text, and a page that starts after n visible raw characters starts at
the n-th non-whitespace character of the cleaned text. No markers go through
the cleaning, so they cannot change its decisions.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence


def is_visible(ch: str) -> bool:
    """Whether `clean_text` keeps this character (as `clean._normalize` decides)."""
    if ch.isspace():
        return False
    return ch.isprintable() or unicodedata.category(ch) not in ("Cc", "Cf")


def cleaned_offsets(raw: str, raw_offsets: Sequence[int], cleaned: str) -> list[int]:
    """Each offset into `raw` moved to the same place in `cleaned` (= clean_text(raw).text):
    the cleaned offset of the first visible character at or after it (len(cleaned) when none is)."""
    wanted = sorted(set(raw_offsets))
    counts: dict[int, int] = {}
    visible = 0
    w = 0
    for i, ch in enumerate(raw):
        while w < len(wanted) and wanted[w] <= i:
            counts[wanted[w]] = visible
            w += 1
        if w == len(wanted):
            break
        visible += is_visible(ch)
    for offset in wanted[w:]:
        counts[offset] = visible
    # the cleaned offset of each visible character, by its rank
    positions = [i for i, ch in enumerate(cleaned) if not ch.isspace()]
    return [positions[counts[o]] if counts[o] < len(positions) else len(cleaned) for o in raw_offsets]


def page_at(pages: Sequence[int], offset: int) -> int:
    """The 1-based page an offset of the document text falls on, from the
    document's `metadata["pages"]` (each page's start offset, in order); 0
    when the document has no pages recorded."""
    return max(1, bisect.bisect_right(pages, offset)) if pages else 0
