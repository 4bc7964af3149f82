"""Small immutable records that flow through the engine: files become
Documents, Documents become Chunks, a query returns Hits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


def stable_id(*parts: str, length: int = 16) -> str:
    """A short hex id derived from content, so the same input always gets the same id."""
    h = hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()
    return h[:length]


@dataclass(frozen=True)
class Section:
    """A heading and the character offset in the cleaned text where it starts."""

    start: int
    title: str


@dataclass(frozen=True)
class Document:
    """A cleaned document: `text` is what every character span refers to."""

    doc_id: str
    title: str
    source: str
    text: str
    fingerprint: str  # sha256 of the raw bytes: tells a changed file from an unchanged one
    sections: tuple[Section, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def section_at(self, offset: int) -> str:
        """Title of the last section that starts at or before `offset` ('' if none)."""
        title = ""
        for s in self.sections:
            if s.start <= offset:
                title = s.title
            else:
                break
        return title


@dataclass(frozen=True)
class Chunk:
    """A passage of a document; `document.text[start:end] == text` always holds."""

    doc_id: str
    chunk_id: str
    text: str
    start: int
    end: int
    section: str = ""


@dataclass(frozen=True)
class Hit:
    """One ranked result, with every score that went into its rank."""

    chunk: Chunk
    title: str
    source: str
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    lexical_score: float | None = None
    lexical_rank: int | None = None
    # Character-bigram BM25 among the candidates (hybrid mode, Chinese questions).
    char_score: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "doc_id": c.doc_id,
            "title": self.title,
            "source": self.source,
            "chunk_id": c.chunk_id,
            "section": c.section,
            "text": c.text,
            "start": c.start,
            "end": c.end,
            "score": self.score,
            "dense_score": self.dense_score,
            "dense_rank": self.dense_rank,
            "lexical_score": self.lexical_score,
            "lexical_rank": self.lexical_rank,
            "char_score": self.char_score,
            "metadata": self.metadata,
            **({"explain": self.explain} if self.explain else {}),
        }
