"""The storage-and-search interface the engine talks to.

The engine embeds, tokenizes and fuses; a backend stores chunks with their
vectors and tokens, and answers the two kinds of candidate search. The FAISS +
BM25 backend (`local_backend.py`) is the first; a Milvus one can sit beside it
without the engine or the service changing.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .bridge import Vocabulary
from .chunkstore import DocRecord
from .errors import InputError
from .types import Chunk, Document

Ranking = tuple[np.ndarray, np.ndarray]  # (keys, scores), best first
# An empty list of allowed values would mean "nothing" for one key and "anything"
# for another if it were let through; it is refused the same way for every key.
_EMPTY_LIST = "filter {name!r} has an empty list, which would match nothing: leave the filter out or give a value"


@dataclass(frozen=True)
class PreparedDocument:
    """A document with everything a backend stores for it, computed by the engine."""

    document: Document
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # (len(chunks), dim) float32, L2-normalized
    tokens: Sequence[Sequence[str]]  # one token list per chunk


RANGE_BOUNDS = ("gt", "gte", "lt", "lte")


@dataclass(frozen=True)
class Range:
    """A metadata value between bounds: {"gte": "2021-01-01", "lt": "2022-01-01"}.

    Bounds are all strings (ISO dates compare as text: "2021-03-01" <
    "2021-10-01") or all numbers; a document's value matches when it is of the
    same kind and within every bound."""

    bounds: tuple[tuple[str, str | int | float], ...]

    @classmethod
    def parse(cls, name: str, raw: Mapping[str, Any]) -> Range:
        unknown = sorted(set(raw) - set(RANGE_BOUNDS))
        if not raw or unknown:
            raise InputError(
                f"filter {name!r}: a range takes gt, gte, lt or lte"
                + (f", not {unknown[0]!r}" if unknown else ", and at least one of them")
                + ' (e.g. {"gte": "2021-01-01", "lt": "2022-01-01"})'
            )
        values = list(raw.values())
        texts = all(isinstance(v, str) for v in values)
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)
        if not (texts or numbers):
            raise InputError(f"filter {name!r}: a range's bounds are all strings (dates) or all numbers, not {raw!r}")
        return cls(tuple((op, raw[op]) for op in RANGE_BOUNDS if op in raw))

    def contains(self, value: Any) -> bool:
        if isinstance(self.bounds[0][1], str):
            if not isinstance(value, str):
                return False
        elif isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return all(_COMPARE[op](value, bound) for op, bound in self.bounds)


_COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}


@dataclass(frozen=True)
class Filters:
    """Which documents a search may return. Every given field must match.

    `metadata` values match by equality (a list means "any of these"), or lie
    in a `Range` ({"gte": ..., "lt": ...}: dates as ISO strings, or numbers).
    """

    doc_ids: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # a source matches when it starts with one of these
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Filters | None:
        """From a JSON-like mapping: {"doc_id": ..., "source": ..., "<metadata key>": ...}."""
        if not raw:
            return None

        def as_tuple(value: Any, name: str) -> tuple[str, ...]:
            values = value if isinstance(value, list | tuple) else [value]
            if not values:
                raise InputError(_EMPTY_LIST.format(name=name))
            if not all(isinstance(v, str) and v for v in values):
                raise InputError(f"filter {name!r} takes a non-empty string or a list of them, not {value!r}")
            return tuple(values)

        meta = {k: v for k, v in raw.items() if k not in ("doc_id", "source")}
        for key, value in meta.items():
            if isinstance(value, Mapping):
                meta[key] = Range.parse(key, value)
                continue
            values = value if isinstance(value, list) else [value]
            if not values:
                raise InputError(_EMPTY_LIST.format(name=key))
            if not all(isinstance(v, str | int | float | bool) for v in values):
                raise InputError(f"filter {key!r} takes a string, number or a list of them, not {value!r}")
        return cls(
            doc_ids=as_tuple(raw["doc_id"], "doc_id") if "doc_id" in raw else (),
            sources=as_tuple(raw["source"], "source") if "source" in raw else (),
            metadata=meta,
        )

    def matches(self, doc: DocRecord) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.sources and not doc.source.startswith(self.sources):
            return False
        for key, wanted in self.metadata.items():
            if key not in doc.metadata:  # (str(None) must not match a filter for "None")
                return False
            value = doc.metadata[key]
            if isinstance(wanted, Range):
                if not wanted.contains(value):
                    return False
                continue
            options = wanted if isinstance(wanted, list) else [wanted]
            if value not in options and str(value) not in {str(o) for o in options}:
                return False
        return True


class ReadView(Protocol):
    """One consistent version of the index: every call answers from the same data."""

    version: str

    def lexical_search(self, tokens: Sequence[str], k: int, filters: Filters | None) -> Ranking: ...

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters | None) -> Ranking: ...

    def lexical_scores(self, tokens: Sequence[str], keys: np.ndarray) -> np.ndarray: ...

    # Weighted query terms (the query bridge's): each term's BM25 contribution
    # times its weight.
    def weighted_lexical_search(self, terms: Mapping[str, float], k: int, filters: Filters | None) -> Ranking: ...

    def weighted_lexical_scores(self, terms: Mapping[str, float], keys: np.ndarray) -> np.ndarray: ...

    def lexical_vocabulary(self) -> Vocabulary:
        """The lexical side's terms and their document frequencies."""
        ...

    def lexical_terms(self, key: int) -> list[str]:
        """The distinct lexical terms of one chunk (to explain what a hit matched)."""
        ...

    def dense_scores(self, vector: np.ndarray, keys: np.ndarray) -> np.ndarray: ...

    def resolve(self, keys: Sequence[int]) -> list[tuple[Chunk, DocRecord]]: ...

    def documents(self) -> list[DocRecord]: ...

    def document_text(self, doc_id: str) -> str: ...

    def stats(self) -> dict[str, Any]: ...


class Backend(Protocol):
    """Stores chunks and answers searches; `apply` is atomic for readers."""

    name: str  # what /health and the stats call it: "faiss" or "milvus"

    def exists(self) -> bool: ...

    def view(self) -> ReadView: ...

    def apply(
        self, add: Sequence[PreparedDocument], remove: Sequence[str], manifest: Mapping[str, Any]
    ) -> ReadView: ...

    def manifest(self) -> dict[str, Any]: ...

    def recover(self) -> list[str]:
        """Clean up after a writer that was killed; returns what was removed."""
        ...
