"""Side by side in one run: our BM25 against rank_bm25's BM25Okapi, and FAISS
exact search against the approximate (IVF) index."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from policyqa.index.dense import DenseConfig, DenseIndex
from policyqa.index.lexical import LexicalIndex

from .bench_probe import percentiles

Log = Callable[[str], None]
NPROBE_SWEEP = (1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256)


def compare_bm25(
    ours: LexicalIndex, token_lists: Sequence[Sequence[str]], queries: Sequence[Sequence[str]], log: Log
) -> dict[str, Any]:
    """Top-10 of each query by our index and by BM25Okapi over the same tokens:
    scores compared bit for bit over every row, the top-10 compared under one
    tie rule (higher score first, then lower row), and the time each takes."""
    from rank_bm25 import BM25Okapi

    log(f"rank_bm25: building BM25Okapi over {len(token_lists):,} chunks (pure Python)")
    start = time.perf_counter()
    theirs = BM25Okapi(token_lists)
    build_s = time.perf_counter() - start
    n = len(token_lists)
    for q in queries:  # warm our memory-mapped postings, as a serving process has them
        ours.top_k(list(q), 10)
    ours_ms, theirs_ms, identical, equal = [], [], 0, 0
    for i, q in enumerate(queries):
        start = time.perf_counter()
        rows, _ = ours.top_k(list(q), 10)
        ours_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        scores = theirs.get_scores(list(q))
        np.argsort(scores)[::-1][:10]  # what BM25Okapi.get_top_n does
        theirs_ms.append((time.perf_counter() - start) * 1000)
        # Their top-10 under our tie rule (and only rows that match at all).
        order = np.lexsort((np.arange(n), -scores))[:10]
        expected = [int(r) for r in order if scores[r] > 0]
        identical += rows.tolist() == expected
        equal += bool(np.array_equal(ours.scores(list(q)), scores))
        log(f"rank_bm25: query {i + 1}/{len(queries)}: {theirs_ms[-1]:.0f} ms vs ours {ours_ms[-1]:.2f} ms")
    ours_p, theirs_p = percentiles(ours_ms), percentiles(theirs_ms)
    return {
        "queries": len(queries),
        "identical_top10": identical,
        "equal_scores": equal,
        "ours": ours_p,
        "rank_bm25": theirs_p,
        "rank_bm25_build_s": round(build_s, 1),
        "speedup_p50": round(float(np.median(theirs_ms)) / max(float(np.median(ours_ms)), 1e-9), 1),
    }


def compare_faiss(
    vectors: np.ndarray,
    query_vectors: np.ndarray,
    config: DenseConfig,
    log: Log,
    approx: DenseIndex | None = None,
    approx_build_s: float | None = None,
    k: int = 10,
) -> dict[str, Any]:
    """Exact inner-product search against the IVF index (`approx`, or one built
    here with `config`): recall@k of the IVF against exact, latency of each,
    and a sweep of nprobe."""
    n = len(vectors)
    log(f"faiss: exact index over {n:,} vectors")
    start = time.perf_counter()
    exact = DenseIndex.build(vectors, replace(config, approximate_above=n + 1))
    exact_build_s = time.perf_counter() - start
    if approx is None:
        log(f"faiss: training and filling an IVF index over {n:,} vectors")
        start = time.perf_counter()
        approx = DenseIndex.build(vectors, replace(config, approximate_above=1))
        approx_build_s = time.perf_counter() - start
    nlist = approx.nlist or 1
    truth, exact_ms = _search_all(exact, query_vectors, k)
    found, approx_ms = _search_all(approx, query_vectors, k)
    sweep = []
    for nprobe in (p for p in NPROBE_SWEEP if p <= nlist):
        got, ms = _search_all(approx, query_vectors, k, nprobe=nprobe)
        sweep.append({"nprobe": nprobe, "recall_at_10": _recall(truth, got), **percentiles(ms)})
    log("faiss: done")
    return {
        "exact": {"kind": exact.kind, "build_s": round(exact_build_s, 2), **percentiles(exact_ms)},
        "approx": {
            "kind": approx.kind,
            "nlist": approx.nlist,
            "nprobe": approx.nprobe,
            "build_s": None if approx_build_s is None else round(approx_build_s, 1),
            "recall_at_10": _recall(truth, found),
            **percentiles(approx_ms),
        },
        "queries": len(query_vectors),
        "sweep": sweep,
    }


def _search_all(
    index: DenseIndex, queries: np.ndarray, k: int, nprobe: int | None = None
) -> tuple[list[list[int]], list[float]]:
    rows, ms = [], []
    for q in queries:
        start = time.perf_counter()
        found, _ = index.search(q, k, nprobe=nprobe)
        ms.append((time.perf_counter() - start) * 1000)
        rows.append(found.tolist())
    return rows, ms


def _recall(truth: list[list[int]], found: list[list[int]]) -> float:
    """Mean share of the exact top-k that the approximate search also returned."""
    shares = [len(set(t) & set(f)) / len(t) for t, f in zip(truth, found, strict=True) if t]
    return round(float(np.mean(shares)), 4) if shares else float("nan")
