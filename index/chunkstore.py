"""Documents and chunks in columnar, pickle-free files.

Document texts sit in one UTF-8 blob (read on demand on load); chunks are rows
of small integer arrays pointing into it, so a million chunks open in about a
second and a chunk's text is decoded only when a hit needs it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from .errors import REBUILD_HINT, IndexCorruptError
from .types import Chunk, Document, Section

_COLUMNS = ("doc_row", "ordinal", "start", "end", "byte_start", "byte_end")


@dataclass(frozen=True)
class DocRecord:
    """A document as stored: everything but its text, which lives in the blob."""

    doc_id: str
    title: str
    source: str
    fingerprint: str
    sections: tuple[Section, ...]
    metadata: dict[str, Any] = field(default_factory=dict)
    byte_offset: int = 0
    byte_length: int = 0
    n_chunks: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "sections": [[s.start, s.title] for s in self.sections],
            "metadata": self.metadata,
            "byte_offset": self.byte_offset,
            "byte_length": self.byte_length,
            "n_chunks": self.n_chunks,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DocRecord:
        return cls(
            doc_id=d["doc_id"],
            title=d["title"],
            source=d["source"],
            fingerprint=d["fingerprint"],
            sections=tuple(Section(int(s), str(t)) for s, t in d["sections"]),
            metadata=dict(d.get("metadata") or {}),
            byte_offset=int(d["byte_offset"]),
            byte_length=int(d["byte_length"]),
            n_chunks=int(d["n_chunks"]),
        )


def section_at(sections: tuple[Section, ...], offset: int) -> str:
    title = ""
    for s in sections:
        if s.start > offset:
            break
        title = s.title
    return title


class ChunkStore:
    """Immutable table of documents and their chunks; row i of every column is chunk i."""

    def __init__(self, docs: list[DocRecord], blob: bytes | FileBytes, columns: dict[str, np.ndarray]) -> None:
        self.docs = docs
        self._blob = blob
        self._cols = columns
        self.doc_rows = {d.doc_id: i for i, d in enumerate(docs)}

    @classmethod
    def empty(cls) -> ChunkStore:
        return cls([], b"", {c: np.empty(0, dtype=np.int64) for c in _COLUMNS})

    def __len__(self) -> int:
        return int(self._cols["doc_row"].shape[0])

    # ---- reading ----
    def _bytes(self, start: int, end: int) -> bytes:
        return bytes(self._blob[start:end])

    def _text(self, start: int, end: int) -> str:
        """The UTF-8 text between two byte offsets; offsets that cut a character
        (a damaged offsets file) are a clean IndexCorruptError, not a crash."""
        try:
            return self._bytes(start, end).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IndexCorruptError(
                f"the index's text offsets {start}-{end} cut a character: the chunk files are damaged; "
                f"run `policyqa verify`, {REBUILD_HINT}"
            ) from exc

    def document_text(self, doc_row: int) -> str:
        d = self.docs[doc_row]
        return self._text(d.byte_offset, d.byte_offset + d.byte_length)

    def chunk(self, row: int) -> Chunk:
        c = {name: int(col[row]) for name, col in self._cols.items()}
        doc = self._doc(c["doc_row"])
        return Chunk(
            doc_id=doc.doc_id,
            chunk_id=f"{doc.doc_id}-{c['ordinal']:04d}",
            text=self._text(c["byte_start"], c["byte_end"]),
            start=c["start"],
            end=c["end"],
            section=section_at(doc.sections, c["start"]),
        )

    def doc_of_row(self, row: int) -> DocRecord:
        return self._doc(int(self._cols["doc_row"][row]))

    def _doc(self, doc_row: int) -> DocRecord:
        """The document a chunk row names; a number naming none (a damaged file) is a clean error."""
        if not 0 <= doc_row < len(self.docs):
            raise IndexCorruptError(
                f"a chunk names document row {doc_row} of {len(self.docs)}: the chunk files are damaged; "
                f"run `policyqa verify`, {REBUILD_HINT}"
            )
        return self.docs[doc_row]

    @property
    def doc_row_column(self) -> np.ndarray:
        return self._cols["doc_row"]

    def rows_of_docs(self, doc_rows: Sequence[int]) -> np.ndarray:
        """Boolean mask over chunk rows that belong to any of `doc_rows`."""
        wanted = np.zeros(len(self.docs), dtype=bool)
        wanted[list(doc_rows)] = True
        return wanted[self._cols["doc_row"]] if len(self) else np.zeros(0, dtype=bool)

    # ---- changing (each returns a new store) ----
    def append(self, docs: Sequence[Document], chunks: Sequence[Sequence[Chunk]]) -> ChunkStore:
        """A new store with `docs` (and their chunks, in order) added at the end."""
        parts = [self._bytes(0, len(self._blob))]
        offset = len(parts[0])
        records = list(self.docs)
        new_cols: dict[str, list[int]] = {c: [] for c in _COLUMNS}
        for doc, doc_chunks in zip(docs, chunks, strict=True):
            text_bytes = doc.text.encode("utf-8")
            # byte offset of every character boundary we need, computed once per document
            char_to_byte = _char_to_byte_offsets(doc.text)
            doc_row = len(records)
            records.append(
                DocRecord(
                    doc_id=doc.doc_id,
                    title=doc.title,
                    source=doc.source,
                    fingerprint=doc.fingerprint,
                    sections=tuple(doc.sections),
                    metadata=dict(doc.metadata),
                    byte_offset=offset,
                    byte_length=len(text_bytes),
                    n_chunks=len(doc_chunks),
                )
            )
            for ordinal, ch in enumerate(doc_chunks):
                new_cols["doc_row"].append(doc_row)
                new_cols["ordinal"].append(ordinal)
                new_cols["start"].append(ch.start)
                new_cols["end"].append(ch.end)
                new_cols["byte_start"].append(offset + int(char_to_byte[ch.start]))
                new_cols["byte_end"].append(offset + int(char_to_byte[ch.end]))
            parts.append(text_bytes)
            offset += len(text_bytes)
        cols = {
            c: np.concatenate([np.asarray(self._cols[c], dtype=np.int64), np.asarray(new_cols[c], dtype=np.int64)])
            for c in _COLUMNS
        }
        return ChunkStore(records, b"".join(parts), cols)

    def without_docs(self, doc_ids: Sequence[str]) -> tuple[ChunkStore, np.ndarray]:
        """A new store without these documents, and the old chunk rows it kept (in order)."""
        drop = {self.doc_rows[d] for d in doc_ids if d in self.doc_rows}
        keep_docs = [i for i in range(len(self.docs)) if i not in drop]
        keep_rows = np.flatnonzero(~self.rows_of_docs(sorted(drop))) if drop else np.arange(len(self))
        remap = np.full(len(self.docs), -1, dtype=np.int64)
        remap[keep_docs] = np.arange(len(keep_docs))
        parts, records, offset = [], [], 0
        byte_shift = np.zeros(len(self.docs), dtype=np.int64)
        for i in keep_docs:
            d = self.docs[i]
            parts.append(self._bytes(d.byte_offset, d.byte_offset + d.byte_length))
            byte_shift[i] = offset - d.byte_offset
            records.append(DocRecord(**{**d.__dict__, "byte_offset": offset}))
            offset += d.byte_length
        cols = {c: np.asarray(self._cols[c])[keep_rows] for c in _COLUMNS}
        shift = byte_shift[cols["doc_row"]]
        cols["byte_start"] = cols["byte_start"] + shift
        cols["byte_end"] = cols["byte_end"] + shift
        cols["doc_row"] = remap[cols["doc_row"]]
        return ChunkStore(records, b"".join(parts), cols), keep_rows

    # ---- files ----
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "texts.bin").write_bytes(self._bytes(0, len(self._blob)))
        for c in _COLUMNS:
            np.save(directory / f"chunk_{c}.npy", np.asarray(self._cols[c], dtype=np.int64), allow_pickle=False)
        with open(directory / "documents.json", "w", encoding="utf-8") as f:
            json.dump([d.to_json() for d in self.docs], f, ensure_ascii=False)

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> ChunkStore:
        """Open a saved store; raises IndexCorruptError naming the file that is wrong."""
        fix = REBUILD_HINT
        try:
            with open(directory / "documents.json", encoding="utf-8") as f:
                docs = [DocRecord.from_json(d) for d in json.load(f)]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            name = exc.__class__.__name__
            raise IndexCorruptError(f"{directory / 'documents.json'} is unreadable ({name}): {fix}") from exc
        cols = {}
        for c in _COLUMNS:
            path = directory / f"chunk_{c}.npy"
            try:
                cols[c] = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
            except (OSError, ValueError, TokenError) as exc:  # a damaged .npy header can raise TokenError
                raise IndexCorruptError(f"{path} is unreadable ({exc.__class__.__name__}): {fix}") from exc
        blob_path = directory / "texts.bin"
        if not blob_path.is_file():
            raise IndexCorruptError(f"{blob_path} is missing: {fix}")
        size = blob_path.stat().st_size
        blob: bytes | FileBytes = FileBytes(blob_path) if mmap and size else blob_path.read_bytes()
        n = {c: cols[c].shape[0] for c in _COLUMNS}
        expected_bytes = sum(d.byte_length for d in docs)
        if len(set(n.values())) != 1 or expected_bytes != size or sum(d.n_chunks for d in docs) != n["doc_row"]:
            raise IndexCorruptError(f"{directory} holds chunk files that disagree in length: {fix}")
        return cls(docs, blob, cols)


class FileBytes:
    """A read-only file's bytes, read on demand with pread (`fb[start:end]`).

    Not a memory map: on kernels that map page-cache folios whole (Linux 6.x),
    reading one chunk's text through a map made megabytes resident, so after a
    few hundred queries a million-chunk store counted in full (0.7 GB) in the
    process's memory."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, where: slice) -> bytes:
        start, stop, _ = where.indices(self._size)
        parts, at = [], start
        while at < stop:  # one pread returns at most about 2 GB
            part = os.pread(self._fd, stop - at, at)
            if not part:
                raise IndexCorruptError(f"texts file shrank while open (read {at} of {stop} bytes): re-run ingest")
            parts.append(part)
            at += len(part)
        return b"".join(parts)

    def __del__(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.close(self._fd)


def _char_to_byte_offsets(text: str) -> np.ndarray:
    """offsets[i] = UTF-8 byte offset of character i (len(text)+1 entries).

    From the code points in bulk (UTF-32 view), not a Python loop per
    character: at a million chunks that loop alone took minutes."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    widths = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    out = np.zeros(len(text) + 1, dtype=np.int64)
    np.cumsum(widths, out=out[1:])
    return out
