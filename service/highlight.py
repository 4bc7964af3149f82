"""Where a passage matches a query: character spans of the query's terms in the passage text."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CJK_CHAR = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _folded(text: str) -> tuple[str, list[int]]:
    """`text` folded as the tokenizer folds it (NFKC, lower case), with, for each
    folded character, the offset of the original character it came from."""
    out: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).lower()
        out.append(folded)
        origin.extend([i] * len(folded))
    return "".join(out), origin


def highlight_spans(text: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of `text` where any of the (tokenizer-
    normalized) `terms` occurs. Single Chinese characters are left out: "年"
    or "的" would light up half a passage."""
    wanted = {t for t in terms if t and not (len(t) == 1 and _CJK_CHAR.match(t))}
    if not wanted or not text:
        return []
    folded, origin = _folded(text)
    spans: list[tuple[int, int]] = []
    for term in wanted:
        whole_word = term.isascii()  # "5" must not light up the 5 of 15.3%, nor "gdp" part of a word
        start = folded.find(term)
        while start >= 0:
            end = start + len(term)
            if not whole_word or (not _joins(folded, start - 1) and not _joins(folded, end)):
                spans.append((origin[start], origin[end - 1] + 1))
            start = folded.find(term, start + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def _joins(text: str, i: int) -> bool:
    """Whether the character at `i` would continue an ASCII word or number."""
    return 0 <= i < len(text) and (text[i].isascii() and (text[i].isalnum() or text[i] == "."))
