"""BM25 over a sparse inverted index, scoring exactly as rank_bm25.BM25Okapi.

Okapi BM25 (Robertson et al., "Okapi at TREC-3", 1994) in the variant of
rank_bm25 0.2.2 (after Trotman et al., "Improvements to BM25 and Language
Models Examined", 2014):

    idf(t)      = ln(N - df + 0.5) - ln(df + 0.5), and where that is negative
                  (t in more than half the documents) epsilon * mean idf of all terms
    score(d, q) = sum over query tokens t (repeats count again) of
                  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl))

Scores are not just close to rank_bm25's but equal, bit for bit: every float
operation is done in the same order (see `_okapi_idf` and `_term_scores`).

Storage: a doc-major CSR (rows = documents, columns = term ids, data = term
frequency) is the truth; a term-major copy (postings: for each term its rows
and frequencies) is derived from it, so a query reads only its terms' postings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from tokenize import TokenError
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse

from .errors import REBUILD_HINT, IndexCorruptError, IndexVersionError, InputError

FORMAT_VERSION = 1
_PARAMS = "lexical.json"
_VOCAB = "vocab.json"
# name -> dtype of every array file; doc_* are the truth, term_* derived postings.
_ARRAYS: dict[str, np.dtype[Any]] = {
    "doc_indptr": np.dtype(np.int64),
    "doc_terms": np.dtype(np.int32),
    "doc_tf": np.dtype(np.int32),
    "doc_len": np.dtype(np.int64),
    "term_indptr": np.dtype(np.int64),
    "term_docs": np.dtype(np.int32),
    "term_tf": np.dtype(np.int32),
}
_REBUILD = REBUILD_HINT

Array = npt.NDArray[Any]


class LexicalIndex:
    """BM25 over tokenized documents ("rows"); rows are numbered 0..n-1.

    Immutable: operations return new indexes, so a searcher holding the old one
    is never disturbed. Create one with `build` or `load`.

    Invariant that makes the scores bit-exact: term ids are numbered in order of
    first appearance (scanning rows in order, and each row's terms in the order
    they first occur in it), which is the order rank_bm25 sums idf in. Terms that
    no row contains are dropped, as rank_bm25 never sees them.
    """

    __slots__ = (
        "_terms", "_vocab", "_doc_indptr", "_doc_terms", "_doc_tf", "_doc_len",
        "_term_indptr", "_term_docs", "_term_tf", "_k1", "_b", "_epsilon",
        "_idf", "_norm",
    )  # fmt: skip

    def __init__(
        self,
        terms: list[str],
        arrays: Mapping[str, Array],
        k1: float,
        b: float,
        epsilon: float,
    ) -> None:
        """Internal: takes already consistent arrays. Use `build` or `load`."""
        self._terms = terms
        self._vocab = {t: i for i, t in enumerate(terms)}
        self._doc_indptr = arrays["doc_indptr"]
        self._doc_terms = arrays["doc_terms"]
        self._doc_tf = arrays["doc_tf"]
        self._doc_len = arrays["doc_len"]
        self._term_indptr = arrays["term_indptr"]
        self._term_docs = arrays["term_docs"]
        self._term_tf = arrays["term_tf"]
        self._k1, self._b, self._epsilon = k1, b, epsilon
        n = len(self._doc_len)
        self._idf = _okapi_idf(np.diff(self._term_indptr), n, epsilon)
        self._norm = _length_norm(self._doc_len, k1, b)

    # ---- construction -------------------------------------------------

    @classmethod
    def build(
        cls,
        token_lists: Sequence[Sequence[str]],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> LexicalIndex:
        """An index of `token_lists` (row i = token_lists[i]) with rank_bm25's defaults.

        Raises InputError for k1 < 0, b outside [0, 1], epsilon < 0, or a document
        given as a str instead of a list of tokens."""
        if not (k1 >= 0 and 0 <= b <= 1 and epsilon >= 0):
            raise InputError(
                f"BM25 parameters k1={k1}, b={b}, epsilon={epsilon} are out of range: "
                "use k1 >= 0, 0 <= b <= 1, epsilon >= 0 (defaults 1.5, 0.75, 0.25)"
            )
        empty = _doc_major_arrays(np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), 0)
        return cls([], empty, float(k1), float(b), float(epsilon)).append(token_lists)

    def append(self, token_lists: Sequence[Sequence[str]]) -> LexicalIndex:
        """A new index with `token_lists` added as rows n..n+m-1; new terms join the
        vocabulary, and idf and the average length are recomputed."""
        if not len(token_lists):
            return self
        vocab = dict(self._vocab)  # ours stays untouched: readers may hold self
        indptr, cols, tf = _count_terms(token_lists, vocab)
        doc_indptr = np.concatenate([self._doc_indptr[:-1], indptr + self._doc_indptr[-1]])
        doc_terms = np.concatenate([self._doc_terms, cols])
        doc_tf = np.concatenate([self._doc_tf, tf])
        arrays = _doc_major_arrays(doc_indptr, doc_terms, doc_tf, len(vocab))
        return LexicalIndex(list(vocab), arrays, self._k1, self._b, self._epsilon)

    def select(self, rows: npt.NDArray[np.integer[Any]]) -> LexicalIndex:
        """A new index of only these rows, in this order (row i of the result is
        rows[i] here): how documents are deleted. Terms left in no row are dropped.

        Raises InputError unless `rows` is a 1-d array of integers in [0, n)."""
        rows = self._valid_rows(rows)
        lengths = np.diff(self._doc_indptr)[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        # Position in the old arrays of every kept entry, rows in the new order.
        src = np.repeat(self._doc_indptr[:-1][rows] - indptr[:-1], lengths) + np.arange(indptr[-1])
        cols = np.asarray(self._doc_terms)[src]
        tf = np.asarray(self._doc_tf)[src]
        # Renumber terms by first appearance in the new row order (the invariant).
        present, first = np.unique(cols, return_index=True)
        kept = present[np.argsort(first, kind="stable")]
        remap = np.full(len(self._terms), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        arrays = _doc_major_arrays(indptr, remap[cols], tf, len(kept))
        terms = [self._terms[i] for i in kept.tolist()]
        return LexicalIndex(terms, arrays, self._k1, self._b, self._epsilon)

    # ---- queries ------------------------------------------------------

    def __len__(self) -> int:
        """The number of documents (rows)."""
        return len(self._doc_len)

    @property
    def vocabulary(self) -> Mapping[str, int]:
        """Term -> term id, read-only; only terms that some row contains."""
        return MappingProxyType(self._vocab)

    @property
    def k1(self) -> float:
        """BM25 term-frequency saturation."""
        return self._k1

    @property
    def b(self) -> float:
        """BM25 length normalization."""
        return self._b

    @property
    def epsilon(self) -> float:
        """Floor of negative idfs, as a fraction of the mean idf."""
        return self._epsilon

    def document_frequency(self, term: str) -> int:
        """How many rows contain `term` (0 for a term not in the vocabulary)."""
        tid = self._vocab.get(term)
        return 0 if tid is None else int(self._term_indptr[tid + 1] - self._term_indptr[tid])

    def doc_tokens(self, row: int) -> list[str]:
        """The row's distinct terms, in order of first occurrence (for explanations).

        Raises InputError for a row outside [0, n)."""
        self._check_row(row)
        lo, hi = int(self._doc_indptr[row]), int(self._doc_indptr[row + 1])
        return [self._terms[t] for t in np.asarray(self._doc_terms[lo:hi]).tolist()]

    def doc_counts(self, row: int) -> list[tuple[str, int]]:
        """The row's distinct terms with their frequencies, in order of first
        occurrence: what another backend needs to score the row the same way."""
        self._check_row(row)
        lo, hi = int(self._doc_indptr[row]), int(self._doc_indptr[row + 1])
        tfs = np.asarray(self._doc_tf[lo:hi]).tolist()
        return [(self._terms[t], int(n)) for t, n in zip(np.asarray(self._doc_terms[lo:hi]).tolist(), tfs, strict=True)]

    def scores(self, query_tokens: Sequence[str]) -> npt.NDArray[np.float64]:
        """BM25 of every row for the query, float64 of shape (n,), equal to
        rank_bm25.BM25Okapi(corpus).get_scores(query_tokens).

        A token repeated in the query counts once per repetition; tokens not in
        the vocabulary add 0. Only the postings of the query's terms are read."""
        scores = np.zeros(len(self), dtype=np.float64)
        cache: dict[int, tuple[Array, Array]] = {}
        # One pass per token, in query order, so each row's sum is accumulated in
        # the same order as rank_bm25 (x + 0.0 == x for the rows a term misses).
        for token in query_tokens:
            tid = self._vocab.get(token)
            if tid is None:
                continue
            if tid not in cache:
                cache[tid] = self._term_scores(tid)
            rows, contrib = cache[tid]
            scores[rows] += contrib  # rows are distinct within one posting list
        return scores

    def scores_of(self, query_tokens: Sequence[str], rows: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.float64]:
        """`scores(query_tokens)[rows]`, bit for bit, without scoring every row:
        each row's entry is found in each query term's postings by binary search
        (postings list rows in ascending order). For the scores of a page of hits.

        Raises InputError unless `rows` is a 1-d array of integers in [0, n)."""
        rows = self._valid_rows(rows)
        out = np.zeros(len(rows), dtype=np.float64)
        for token in query_tokens:  # query order, repeats included, as in `scores`
            tid = self._vocab.get(token)
            if tid is None or not len(rows):
                continue
            lo, hi = int(self._term_indptr[tid]), int(self._term_indptr[tid + 1])
            if hi == lo:
                continue
            docs = np.asarray(self._term_docs[lo:hi])
            at = np.minimum(np.searchsorted(docs, rows), hi - lo - 1)
            found = docs[at] == rows
            tf = np.asarray(self._term_tf[lo:hi])[at[found]].astype(np.float64)
            # The expression of `_term_scores`, element for element.
            out[found] += self._idf[tid] * (tf * (self._k1 + 1) / (tf + self._norm[rows[found]]))
        return out

    def _valid_rows(self, rows: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
        rows = np.asarray(rows)
        n = len(self)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise InputError(
                f"rows must be a 1-d array of row numbers, got dtype {rows.dtype} with shape {rows.shape}: "
                "for a boolean mask pass np.flatnonzero(mask)"
            )
        valid: npt.NDArray[np.int64] = rows.astype(np.int64)
        if valid.size and (valid.min() < 0 or valid.max() >= n):
            raise InputError(f"rows must lie in [0, {n}), got min {valid.min()} and max {valid.max()}")
        return valid

    def top_k(
        self,
        query_tokens: Sequence[str],
        k: int,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The (at most) k best rows and their scores, best first, ties to the
        lower row. Only rows scoring > 0, and only rows where `allowed` (a boolean
        mask of shape (n,)) is True; fewer than k (maybe none) when fewer qualify.

        Raises InputError for k < 1 or a mask of the wrong dtype or shape."""
        return self._best(self.scores(query_tokens), k, allowed)

    def weighted_scores(self, terms: Mapping[str, float]) -> npt.NDArray[np.float64]:
        """BM25 of every row for weighted query terms: each term's contribution is
        multiplied by its weight (summed in the mapping's order). With weight 1
        for each of distinct tokens this equals `scores` of those tokens exactly.

        Used for queries whose terms are not all equally sure, such as the
        Chinese terms the query bridge (`index.bridge`) finds for English words.
        Raises InputError for a negative or non-finite weight."""
        scores = np.zeros(len(self), dtype=np.float64)
        for term, weight in terms.items():
            if not (weight >= 0 and math.isfinite(weight)):
                raise InputError(f"weight {weight!r} of term {term!r} is not a finite number >= 0: fix the weights")
            tid = self._vocab.get(term)
            if tid is None or weight == 0:
                continue
            rows, contrib = self._term_scores(tid)
            scores[rows] += contrib * weight  # x * 1.0 == x: weight 1 changes nothing
        return scores

    def weighted_top_k(
        self,
        terms: Mapping[str, float],
        k: int,
        allowed: npt.NDArray[np.bool_] | None = None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """`top_k` for weighted query terms (see `weighted_scores`)."""
        return self._best(self.weighted_scores(terms), k, allowed)

    def _best(
        self,
        scores: npt.NDArray[np.float64],
        k: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"k must be a positive integer, got {k!r}")
        if allowed is not None:
            allowed = np.asarray(allowed)
            if allowed.dtype != np.bool_ or allowed.shape != (len(self),):
                raise InputError(
                    f"allowed must be a boolean mask of shape ({len(self)},), "
                    f"got dtype {allowed.dtype} with shape {allowed.shape}"
                )
        keep = scores > 0
        if allowed is not None:
            keep &= allowed
        rows = np.flatnonzero(keep)  # ascending, which the tie-break relies on
        if not rows.size:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        values = scores[rows]
        if rows.size > k:
            kth = np.partition(values, rows.size - k)[rows.size - k]  # k-th largest
            above = values > kth
            # Among rows tied with the k-th score, the lowest rows make the cut.
            tied = np.flatnonzero(values == kth)[: k - int(above.sum())]
            pick = np.concatenate([np.flatnonzero(above), tied])
            rows, values = rows[pick], values[pick]
        order = np.lexsort((rows, -values))
        return rows[order].astype(np.int64), values[order]

    def _term_scores(self, tid: int) -> tuple[Array, Array]:
        lo, hi = int(self._term_indptr[tid]), int(self._term_indptr[tid + 1])
        rows = np.asarray(self._term_docs[lo:hi])
        tf = np.asarray(self._term_tf[lo:hi]).astype(np.float64)
        # The same expression, in the same order, as BM25Okapi.get_scores.
        contrib = self._idf[tid] * (tf * (self._k1 + 1) / (tf + self._norm[rows]))
        return rows, contrib

    def _check_row(self, row: int) -> None:
        if isinstance(row, bool) or not isinstance(row, (int, np.integer)) or not 0 <= row < len(self):
            raise InputError(f"row must be an integer in [0, {len(self)}), got {row!r}")

    # ---- persistence --------------------------------------------------

    def save(self, directory: Path) -> None:
        """Write the index to `directory` (created if needed): one .npy per array
        (no pickle), vocab.json (terms in id order) and lexical.json (parameters
        and counts), the latter last so a complete lexical.json means a complete save."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(directory / f"{name}.npy", np.asarray(getattr(self, f"_{name}")), allow_pickle=False)
        (directory / _VOCAB).write_text(json.dumps(self._terms, ensure_ascii=False), encoding="utf-8")
        params = {
            "format_version": FORMAT_VERSION,
            "scoring": "bm25okapi",
            "k1": self._k1,
            "b": self._b,
            "epsilon": self._epsilon,
            "documents": len(self),
            "terms": len(self._terms),
            "postings": int(self._doc_indptr[-1]),
        }
        (directory / _PARAMS).write_text(json.dumps(params, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, mmap: bool = True) -> LexicalIndex:
        """Read an index written by `save`; with `mmap` the arrays are memory-mapped
        read-only instead of read into memory.

        Checks are structural and cost O(documents + terms), not O(postings):
        every file present and readable, dtypes, shapes and counts consistent.
        Raises IndexCorruptError naming the file when one is missing or
        inconsistent, IndexVersionError for an unknown format version."""
        params = _read_json(directory / _PARAMS)
        if not isinstance(params, dict):
            raise IndexCorruptError(f"{directory / _PARAMS} is not a JSON object: {_REBUILD}")
        version = params.get("format_version")
        if version != FORMAT_VERSION:
            raise IndexVersionError(
                f"{directory / _PARAMS} has format_version {version!r}, this code reads {FORMAT_VERSION}: {_REBUILD}"
            )
        terms = _read_json(directory / _VOCAB)
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms) or len(set(terms)) != len(terms):
            raise IndexCorruptError(f"{directory / _VOCAB} is not a list of distinct terms: {_REBUILD}")
        arrays = {name: _load_array(directory / f"{name}.npy", dtype, mmap) for name, dtype in _ARRAYS.items()}
        _check_consistent(directory, params, terms, arrays)
        return cls(terms, arrays, float(params["k1"]), float(params["b"]), float(params["epsilon"]))


def _okapi_idf(df: Array, n_docs: int, epsilon: float) -> npt.NDArray[np.float64]:
    """rank_bm25's idf with its negative floor, bit for bit: math.log (numpy's log
    may differ in the last bit) over the few distinct df values, and the mean
    summed sequentially in term-id order, as its Python loop does."""
    if not df.size:
        return np.zeros(0, dtype=np.float64)
    distinct, inverse = np.unique(df, return_inverse=True)
    table = [math.log(n_docs - d + 0.5) - math.log(d + 0.5) for d in distinct.tolist()]
    idf = np.asarray(table, dtype=np.float64)[inverse]
    average = float(np.cumsum(idf)[-1]) / idf.size  # cumsum adds left to right
    idf[idf < 0] = epsilon * average
    return idf


def _length_norm(doc_len: Array, k1: float, b: float) -> npt.NDArray[np.float64]:
    """k1 * (1 - b + b * |d| / avgdl) per row, written as rank_bm25 writes it."""
    total, n = int(np.sum(doc_len)), len(doc_len)
    if total == 0:  # no postings at all, so the norm is never read
        return np.zeros(n, dtype=np.float64)
    avgdl = total / n
    lengths = np.asarray(doc_len, dtype=np.int64)
    return np.asarray(k1 * (1 - b + b * lengths / avgdl), dtype=np.float64)


_COUNT_BLOCK = 50_000  # rows counted per pass: bounds the temporaries (~40 bytes a token)


def _count_terms(token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> tuple[Array, Array, Array]:
    """Doc-major (indptr, term ids, tf) of new rows; adds unseen terms to `vocab`
    with the next ids, in order of first appearance.

    Counted in blocks of rows, in order (so first appearance is unchanged): in
    one pass a million rows needed several GB of sort temporaries."""
    for i, doc in enumerate(token_lists):
        if isinstance(doc, str):
            raise InputError(f"token_lists[{i}] is a str, not a list of tokens: tokenize it first")
    m = len(token_lists)
    indptr = np.zeros(m + 1, dtype=np.int64)
    cols: list[Array] = [np.empty(0, dtype=np.int32)]
    tfs: list[Array] = [np.empty(0, dtype=np.int32)]
    for lo in range(0, m, _COUNT_BLOCK):
        block = token_lists[lo : lo + _COUNT_BLOCK]
        block_indptr, block_cols, block_tf = _count_block(block, vocab)
        indptr[lo + 1 : lo + 1 + len(block)] = block_indptr[1:] + indptr[lo]
        cols.append(block_cols.astype(np.int32))
        tfs.append(block_tf.astype(np.int32))
    return indptr, np.concatenate(cols), np.concatenate(tfs)


def _count_block(token_lists: Sequence[Sequence[str]], vocab: dict[str, int]) -> tuple[Array, Array, Array]:
    m = len(token_lists)
    lengths = np.fromiter((len(doc) for doc in token_lists), dtype=np.int64, count=m)
    # dict.fromkeys keeps first-appearance order; C-level iterators (fromkeys, map)
    # instead of a Python-level loop per token, which dominated build time.
    new = [t for t in dict.fromkeys(chain.from_iterable(token_lists)) if t not in vocab]
    vocab.update(zip(new, range(len(vocab), len(vocab) + len(new)), strict=True))
    tokens = chain.from_iterable(token_lists)
    ids = np.fromiter(map(vocab.__getitem__, tokens), dtype=np.int64, count=int(lengths.sum()))
    width = max(len(vocab), 1)
    keys = np.repeat(np.arange(m, dtype=np.int64), lengths) * width + ids
    distinct, first, counts = np.unique(keys, return_index=True, return_counts=True)
    # np.unique sorts by (row, term id); re-sort by first position so each row
    # lists its terms in order of first occurrence (the invariant).
    order = np.argsort(first, kind="stable")
    distinct, counts = distinct[order], counts[order]
    indptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(np.bincount(distinct // width, minlength=m), out=indptr[1:])
    return indptr, distinct % width, counts


def _doc_major_arrays(indptr: Array, cols: Array, tf: Array, n_terms: int) -> dict[str, Array]:
    """All stored arrays from the doc-major truth; postings via a CSC transpose."""
    n = len(indptr) - 1
    doc_tf = np.asarray(tf, dtype=np.int32)
    doc_terms = np.asarray(cols, dtype=np.int32)
    # Row sums of tf without an int64 running sum over every posting (GBs at a
    # million rows); empty rows are left out, as reduceat cannot give them 0.
    filled = np.flatnonzero(np.diff(indptr) > 0)
    doc_len = np.zeros(n, dtype=np.int64)
    if filled.size:
        doc_len[filled] = np.add.reduceat(doc_tf, np.asarray(indptr)[filled], dtype=np.int64)
    if n and n_terms:
        csc = scipy.sparse.csr_array((doc_tf, doc_terms, indptr), shape=(n, n_terms)).tocsc()
        term_indptr, term_docs, term_tf = csc.indptr, csc.indices, csc.data  # rows ascend per term
    else:
        term_indptr, term_docs, term_tf = np.zeros(n_terms + 1), np.empty(0), np.empty(0)
    arrays = {
        "doc_indptr": np.asarray(indptr),
        "doc_terms": doc_terms,
        "doc_tf": doc_tf,
        "doc_len": doc_len,
        "term_indptr": np.asarray(term_indptr),
        "term_docs": np.asarray(term_docs),
        "term_tf": np.asarray(term_tf),
    }
    out = {}
    for name, dtype in _ARRAYS.items():
        a = np.ascontiguousarray(arrays[name], dtype=dtype)
        a.flags.writeable = False  # immutability, enforced
        out[name] = a
    return out


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{path} is missing: {_REBUILD}") from exc
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}): {_REBUILD}") from exc


def _load_array(path: Path, dtype: np.dtype[Any], mmap: bool) -> Array:
    try:
        a = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"{path} is missing: {_REBUILD}") from exc
    except (OSError, ValueError, EOFError, TokenError) as exc:  # a damaged .npy header can raise TokenError
        raise IndexCorruptError(f"{path} is unreadable or truncated ({exc}): {_REBUILD}") from exc
    if a.dtype != dtype or a.ndim != 1:
        raise IndexCorruptError(f"{path} holds {a.dtype} of shape {a.shape}, expected 1-d {dtype}: {_REBUILD}")
    if not mmap:
        a.flags.writeable = False
    # A plain ndarray view: memmap subclass results would each carry a file reference.
    return np.asarray(a)


def _check_consistent(directory: Path, params: dict[str, Any], terms: list[str], arrays: Mapping[str, Array]) -> None:
    """Shapes and counts agree across files (O(n + V), never reading all postings)."""

    def need(ok: bool, name: str, what: str) -> None:
        if not ok:
            raise IndexCorruptError(f"{directory / name}: {what}: {_REBUILD}")

    try:
        n, v, nnz = int(params["documents"]), int(params["terms"]), int(params["postings"])
        float(params["k1"]), float(params["b"]), float(params["epsilon"])
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"{directory / _PARAMS} lacks a valid {exc}: {_REBUILD}") from exc
    need(len(terms) == v, _VOCAB, f"{len(terms)} terms, {_PARAMS} says {v}")
    for name, size in [
        ("doc_indptr", n + 1), ("doc_len", n), ("doc_terms", nnz), ("doc_tf", nnz),
        ("term_indptr", v + 1), ("term_docs", nnz), ("term_tf", nnz),
    ]:  # fmt: skip
        got = len(arrays[name])
        need(got == size, f"{name}.npy", f"{got} entries, expected {size} from {_PARAMS}")
    for name in ("doc_indptr", "term_indptr"):
        ptr = arrays[name]
        need(
            ptr[0] == 0 and ptr[-1] == nnz and bool(np.all(np.diff(ptr) >= 0)),
            f"{name}.npy",
            "offsets are not a CSR index",
        )
    need(int(np.sum(arrays["doc_len"])) >= nnz, "doc_len.npy", "lengths smaller than the number of postings")
