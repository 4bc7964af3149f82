"""One version of a Milvus index, as the engine reads it (`ReadView`).

The version's documents and vocabulary are held in memory; chunks stay in
Milvus and are fetched by key (and cached: a key names one row forever).

BM25 as the embedded backend scores it (rank_bm25's Okapi with k1 1.5, b 0.75,
epsilon 0.25): Milvus ranks candidates by the inner product of the query's idf
weights with each chunk's stored term weights (normalized by the average chunk
length when the chunk was written), and the candidates are then scored exactly
from their tokens with this version's statistics; so the scores shown are
rank_bm25's, and only which candidates reach the cut can differ.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from .backend import Filters, Ranking
from .chunkstore import DocRecord, section_at
from .errors import DocumentNotFoundError, IndexCorruptError, InputError
from .lru import LRUCache
from .milvus_filters import filter_expression
from .types import Chunk

K1, B, EPSILON = 1.5, 0.75, 0.25  # rank_bm25's defaults, as LexicalIndex.build uses them
MAX_LIMIT = 16_384  # Milvus's largest top-k
_EMPTY: Ranking = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))
# How many candidates beyond k the sparse search fetches for exact rescoring.
_RESCORE_EXTRA = 50


class ChunkSource(Protocol):
    """What a view reads through (the Milvus backend)."""

    name: str
    dense_index_type: str

    def search(self, field: str, query: Any, limit: int, expression: str) -> list[dict[str, Any]]: ...

    def chunk_rows(self, keys: Iterable[int]) -> list[dict[str, Any]]: ...

    def read_text(self, doc_id: str, born: int) -> str: ...


class MilvusVocabulary:
    """A version's terms: what the query bridge and the answerer read."""

    def __init__(self, terms: dict[str, tuple[int, int]]) -> None:
        self._terms = terms  # term -> (sparse dimension, document frequency > 0)
        self.vocabulary: Mapping[str, int] = {t: tid for t, (tid, _) in terms.items()}

    def document_frequency(self, term: str) -> int:
        entry = self._terms.get(term)
        return 0 if entry is None else entry[1]

    def __len__(self) -> int:
        return len(self._terms)


class ChunkCache:
    """Chunk rows by key, least recently read dropped first. A key names one row
    forever (a new chunk gets a new key, and keys are never reused), so a row
    read once stays valid across versions."""

    def __init__(self, size: int = 8_192) -> None:  # about 20 KB a row (tokens, vector)
        self._rows: LRUCache[int, dict[str, Any]] = LRUCache(size)

    def get_many(self, keys: Iterable[int], fetch: Callable[[list[int]], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        def fetch_all(missing: list[int]) -> dict[int, dict[str, Any]]:
            fetched = {int(r["key"]): _compact(r) for r in fetch(missing)}
            lost = next((k for k in missing if k not in fetched), None)
            if lost is not None:
                raise IndexCorruptError(f"chunk {lost} is listed by the index but missing from Milvus")
            return fetched

        return self._rows.get_many([int(k) for k in keys], fetch_all)


def _compact(row: dict[str, Any]) -> dict[str, Any]:
    """A fetched row as it is kept: the vector as float32 (a list of Python
    floats is 16 KB at 512 dimensions), the tokens as their counts."""
    return {**row, "vector": np.asarray(row["vector"], dtype=np.float32), "counts": Counter(row["tokens"])}


class MilvusView:
    """One version: its documents and vocabulary in memory, chunks in Milvus."""

    def __init__(
        self,
        backend: ChunkSource,
        version: int,
        manifest: dict[str, Any],
        docs: dict[str, tuple[int, DocRecord]],
        vocabulary: MilvusVocabulary,
        df: np.ndarray,
        totals: tuple[int, int],
    ) -> None:
        self._backend = backend
        self.version = str(version)
        self.manifest = manifest
        self._generation = version
        self._docs = docs  # doc_id -> (born, record)
        self._vocabulary = vocabulary
        self._n_chunks, total_len = totals
        self._idf = bm25_idf(df, self._n_chunks)  # by sparse dimension
        self._avgdl = total_len / self._n_chunks if self._n_chunks else 0.0

    # ---- lexical ----
    def _weights(self, terms: Mapping[str, float]) -> dict[int, float]:
        """The sparse query: each known term's idf times its weight (or count).
        Terms of no weight are left out (Milvus takes no negative weight; BM25's
        floored idf is negative in a corpus of one or two chunks)."""
        out: dict[int, float] = {}
        for term, weight in terms.items():
            if not (weight >= 0 and math.isfinite(weight)):
                raise InputError(f"weight {weight!r} of term {term!r} is not a finite number >= 0: fix the weights")
            tid = self._vocabulary.vocabulary.get(term)
            if tid is not None and weight > 0 and self._idf[tid] > 0:
                out[tid] = out.get(tid, 0.0) + float(self._idf[tid]) * weight
        return out

    def _exact(self, terms: Mapping[str, float], keys: Sequence[int]) -> np.ndarray:
        """rank_bm25's score of each key's chunk for weighted query terms."""
        rows = self._backend.chunk_rows(keys)
        out = np.zeros(len(rows), dtype=np.float64)
        known = [(t, w, self._vocabulary.vocabulary.get(t)) for t, w in terms.items() if w]
        known = [(t, w, tid) for t, w, tid in known if tid is not None]
        for i, row in enumerate(rows):
            counts = row["counts"]
            norm = K1 * (1 - B + B * int(row["length"]) / self._avgdl) if self._avgdl else 0.0
            score = 0.0
            for term, weight, tid in known:
                tf = counts.get(term, 0)
                if tf:
                    score += float(self._idf[tid]) * (tf * (K1 + 1) / (tf + norm)) * weight
            out[i] = score
        return out

    def _lexical(self, terms: Mapping[str, float], k: int, filters: Filters | None) -> Ranking:
        query = self._weights(terms)
        if not query or not self._n_chunks:
            return _EMPTY
        keys = self._search("sparse", query, k + _RESCORE_EXTRA, filters)
        if not len(keys):
            return _EMPTY
        scores = self._exact(terms, keys)
        keep = scores > 0
        keys, scores = keys[keep], scores[keep]
        order = np.lexsort((keys, -scores))[:k]
        return keys[order], scores[order]

    def lexical_search(self, tokens: Sequence[str], k: int, filters: Filters | None) -> Ranking:
        return self._lexical(Counter(tokens), k, filters) if tokens else _EMPTY

    def weighted_lexical_search(self, terms: Mapping[str, float], k: int, filters: Filters | None) -> Ranking:
        return self._lexical(terms, k, filters) if terms else _EMPTY

    def lexical_scores(self, tokens: Sequence[str], keys: np.ndarray) -> np.ndarray:
        return self._exact(Counter(tokens), keys.tolist()) if len(keys) else np.empty(0)

    def weighted_lexical_scores(self, terms: Mapping[str, float], keys: np.ndarray) -> np.ndarray:
        self._weights(terms)  # the same check of the weights as a search
        return self._exact(terms, keys.tolist()) if len(keys) else np.empty(0)

    def lexical_vocabulary(self) -> MilvusVocabulary:
        return self._vocabulary

    def lexical_terms(self, key: int) -> list[str]:
        return list(dict.fromkeys(self._backend.chunk_rows([key])[0]["tokens"]))

    # ---- dense ----
    def dense_search(self, vector: np.ndarray, k: int, filters: Filters | None) -> Ranking:
        if not self._n_chunks:
            return _EMPTY
        query = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        keys = self._search("vector", query, k, filters)
        scores = self.dense_scores(vector, keys)
        order = np.lexsort((keys, -scores))[:k]
        return keys[order], scores[order]

    def dense_scores(self, vector: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return np.empty(0, dtype=np.float32)
        rows = self._backend.chunk_rows(np.asarray(keys).tolist())
        matrix = np.stack([r["vector"] for r in rows])
        return np.asarray(matrix @ np.asarray(vector, dtype=np.float32).reshape(-1))

    # ---- the search both sides share ----
    def _search(self, field: str, query: Any, want: int, filters: Filters | None) -> np.ndarray:
        """Keys of the best `want` chunks visible to this version, by Milvus's own
        ranking on `field`; asks for more while invisible ones crowd the list."""
        expression = f"born <= {self._generation}"
        user = filter_expression(filters)
        if user:
            expression += f" and ({user})"
        limit = min(want, MAX_LIMIT)
        while True:
            hits = self._backend.search(field, query, limit, expression)
            visible = [int(h["key"]) for h in hits if self._visible(h["doc_id"], int(h["born"]))]
            if len(visible) >= want or len(hits) < limit or limit >= MAX_LIMIT:
                return np.asarray(visible[:want], dtype=np.int64)
            limit = min(limit * 4, MAX_LIMIT)

    def _visible(self, doc_id: str, born: int) -> bool:
        entry = self._docs.get(doc_id)
        return entry is not None and entry[0] == born

    # ---- documents ----
    def resolve(self, keys: Sequence[int]) -> list[tuple[Chunk, DocRecord]]:
        out = []
        for row in self._backend.chunk_rows(keys):
            record = self._docs[row["doc_id"]][1]
            start = int(row["start"])
            chunk = Chunk(
                doc_id=record.doc_id, chunk_id=row["chunk_id"], text=row["text"], start=start,
                end=int(row["end"]), section=section_at(record.sections, start),
            )  # fmt: skip
            out.append((chunk, record))
        return out

    def documents(self) -> list[DocRecord]:
        return [record for _, record in self._docs.values()]

    def document_text(self, doc_id: str) -> str:
        entry = self._docs.get(doc_id)
        if entry is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in the index: list ids with GET /documents")
        return self._backend.read_text(doc_id, entry[0])

    def stats(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "documents": len(self._docs),
            "chunks": self._n_chunks,
            "vocabulary": len(self._vocabulary),
            "dense_index": self._backend.dense_index_type,
            "backend": self._backend.name,
        }


def bm25_idf(df: np.ndarray, n_chunks: int) -> np.ndarray:
    """rank_bm25's idf of every term with df > 0 (0 elsewhere); negative ones
    become epsilon times the mean idf of all terms."""
    idf = np.zeros(len(df), dtype=np.float64)
    live = df > 0
    if not live.any():
        return idf
    values = np.log(n_chunks - df[live] + 0.5) - np.log(df[live] + 0.5)
    values[values < 0] = EPSILON * float(values.mean())
    idf[live] = values
    return idf
