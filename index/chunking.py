"""Split a cleaned document into overlapping passages on sentence boundaries.

Every chunk is an exact slice of the document text (`doc.text[start:end]`), so a
citation can point at the characters it quotes. Cuts never fall inside a number,
a percentage or a 《title》: those are the things people cite. A table row
(index/tables.py: "指标：…；2020年：…；2025年目标：…") is one sentence, though
its cells end in "；": apart, its figures would lose their row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InputError
from .tables import CELL_SEP, KEY_SEP, is_row_text
from .types import Chunk, Document

# Sentence ends: Chinese 。！？； and ASCII ! ? ; (a "." only when it is not
# between digits, so 6.9% survives), optionally followed by closing quotes or
# brackets, plus paragraph breaks.
_SENTENCE_END = re.compile(r"(?:[。！？；!?;]|(?<!\d)\.(?!\d))[”’」』）)\]】]*|\n+")
# Spans a cut must never enter.
_PROTECTED = re.compile(r"\d+(?:[.,:/]\d+)*\s?[%‰％]?|《[^《》\n]{0,60}》|[A-Za-z][A-Za-z&\-]*")
# Where an over-long sentence may be cut ("；" between the cells of a long table row).
_SOFT_BREAKS = "；，、：,: "


@dataclass(frozen=True)
class ChunkingConfig:
    """Target chunk size in characters and how many sentences to repeat between chunks."""

    size: int = 300
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.size < 20:
            raise InputError(f"chunk size {self.size} is too small: use at least 20 characters")
        if self.overlap_sentences < 0:
            raise InputError(f"overlap of {self.overlap_sentences} sentences: use 0 or more")


def _protected_mask(text: str) -> list[bool]:
    """mask[i] is True when a cut at offset i would split a protected span."""
    mask = [False] * (len(text) + 1)
    for m in _PROTECTED.finditer(text):
        for i in range(m.start() + 1, m.end()):
            mask[i] = True
    return mask


def _with_rows(text: str, mask: list[bool]) -> list[bool]:
    """`mask`, and every offset inside a table row paragraph too (a copy, only when the text has rows)."""
    if KEY_SEP not in text or CELL_SEP not in text:
        return mask
    rows = []
    offset = 0
    for line in text.split("\n"):
        if CELL_SEP in line and is_row_text(line):
            rows.append((offset, offset + len(line)))
        offset += len(line) + 1
    if not rows:
        return mask
    mask = list(mask)
    for start, end in rows:
        mask[start + 1 : end] = [True] * (end - start - 1)
    return mask


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, whitespace between sentences excluded; a
    table row is one sentence."""
    mask = _with_rows(text, _protected_mask(text))
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if mask[end]:
            continue
        spans.append((start, end))
        start = end
    if start < len(text):
        spans.append((start, len(text)))
    # Trim surrounding whitespace so spans start and end on content.
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def _split_long(text: str, start: int, end: int, size: int, mask: list[bool]) -> list[tuple[int, int]]:
    """Cut a sentence longer than `size` at soft breaks, never inside a protected span."""
    pieces = []
    while end - start > size:
        cut = -1
        for i in range(start + size, start + size // 2, -1):
            if text[i - 1] in _SOFT_BREAKS and not mask[i]:
                cut = i
                break
        if cut < 0:
            cut = start + size
            while cut > start + 1 and mask[cut]:
                cut -= 1
            if mask[cut]:
                # One protected span (a run of digits or letters) fills the whole
                # window: it cannot stay whole, so cut it at the full size. Walking
                # back to start + 1 instead made one-character pieces, each costing
                # a scan of the window: minutes for a megabyte-long "word".
                cut = start + size
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _units(doc: Document, size: int) -> list[tuple[int, int]]:
    """Sentences no longer than `size` (long ones cut at soft breaks)."""
    mask = _protected_mask(doc.text)
    units = []
    for s, e in sentence_spans(doc.text):
        units.extend(_split_long(doc.text, s, e, size, mask) if e - s > size else [(s, e)])
    return units


def _overlap(previous: list[tuple[int, int]], unit: tuple[int, int], config: ChunkingConfig) -> list[tuple[int, int]]:
    """The trailing sentences of `previous` to repeat, never all of it, and only
    while they leave room for the next sentence."""
    keep = min(config.overlap_sentences, len(previous) - 1)
    tail = previous[len(previous) - keep :] if keep > 0 else []
    while tail and unit[1] - tail[0][0] > config.size:
        tail = tail[1:]
    return tail


def chunk_document(doc: Document, config: ChunkingConfig | None = None) -> list[Chunk]:
    """Group sentences into chunks of about `config.size` characters.

    A new section (heading) always starts a new chunk, and the last
    `overlap_sentences` sentences of a chunk open the next one within a section,
    so an answer that straddles a boundary is whole in at least one chunk.
    """
    config = config or ChunkingConfig()
    section_starts = {s.start for s in doc.sections}
    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    fresh = 0  # sentences in `current` that no earlier chunk already holds
    for unit in _units(doc, config.size):
        length = unit[1] - current[0][0] if current else 0
        heading_only = len(current) == 1 and current[0][0] in section_starts
        if current and (unit[0] in section_starts or (length > config.size and not heading_only)):
            if fresh:
                groups.append(current)
            current = [] if unit[0] in section_starts else _overlap(current, unit, config)
            fresh = 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        groups.append(current)

    chunks = []
    for i, group in enumerate(groups):
        start, end = group[0][0], group[-1][1]
        chunks.append(
            Chunk(
                doc_id=doc.doc_id,
                chunk_id=f"{doc.doc_id}-{i:04d}",
                text=doc.text[start:end],
                start=start,
                end=end,
                section=doc.section_at(start),
            )
        )
    return chunks
