"""The user's side of a benchmark, in a fresh process: open a saved index, then
ask questions one at a time, as `policyqa search` and the service do.

A fresh process, so the load time and the memory are those of a reader that
opens the index, not of the writer that just built it (whose heap still holds
the build's leftovers). Run by `eval.bench` as

    python -m policyqa.eval.bench_probe INDEX_DIR QUERIES_JSON [--threads N] [--warmup N] [--milvus-uri URI]

and prints one JSON object on stdout; progress lines go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from policyqa.index.chunkstore import ChunkStore
from policyqa.index.dense import DenseIndex
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.hybrid import SearchMode
from policyqa.index.lexical import LexicalIndex
from policyqa.index.local_backend import LocalBackend
from policyqa.index.milvus_backend import MilvusBackend, MilvusConfig
from policyqa.index.store import IndexDirectory
from policyqa.index.tokenize import ChineseTokenizer

MODES = (SearchMode.LEXICAL, SearchMode.DENSE, SearchMode.HYBRID)


def _rss_gb() -> float:
    return psutil.Process().memory_info().rss / 1e9


def percentiles(values_ms: list[float]) -> dict[str, float]:
    """p50 and p95 (numpy's linear interpolation), rounded to 0.01 ms."""
    if not values_ms:
        return {"p50_ms": float("nan"), "p95_ms": float("nan")}
    p50, p95 = np.percentile(np.asarray(values_ms), [50, 95])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}


def _rss_kinds() -> dict[str, float]:
    """RSS split into anonymous memory (heap: what the process really holds) and
    mapped files (page cache, which the kernel can drop and read again)."""
    kinds = {}
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                name, kb = line.split(":")[0], int(line.split()[1])
                kinds[f"{name[3:].lower()}_after_queries"] = round(kb * 1024 / 1e9, 3)
    except OSError:
        pass
    return kinds


def _rss_by_index_file(index_dir: Path) -> dict[str, float]:
    """Resident GB of each memory-mapped index component, and of everything else
    (heap, libraries, the model): mapped file pages count in RSS once touched."""
    root = str(index_dir.resolve())
    parts: dict[str, float] = {}
    total = 0.0
    for m in psutil.Process().memory_maps(grouped=True):
        total += m.rss
        if m.path.startswith(root):
            rel = Path(m.path).relative_to(root).parts  # versions/<name>/<component>/...
            key = rel[2] if len(rel) > 2 else m.path
            parts[key] = parts.get(key, 0.0) + m.rss
    parts["not index files"] = total - sum(parts.values())
    return {k: round(v / 1e9, 3) for k, v in sorted(parts.items())}


def component_load_seconds(index_dir: Path) -> dict[str, float]:
    """Seconds to open each component of the live version on its own (memory-mapped)."""
    _, folder = IndexDirectory(index_dir).current()
    seconds = {}
    for name, load in (
        ("chunks", lambda: ChunkStore.load(folder / "chunks")),
        ("lexical", lambda: LexicalIndex.load(folder / "lexical")),
        ("dense", lambda: DenseIndex.load(folder / "dense.faiss", nprobe=1)),
        ("vectors", lambda: np.load(folder / "vectors.npy", mmap_mode="r")),
    ):
        start = time.perf_counter()
        load()
        seconds[name] = round(time.perf_counter() - start, 3)
    return seconds


def probe(
    index_dir: Path, queries: list[str], threads: int | None, warmup: int, milvus: MilvusConfig | None = None
) -> dict[str, Any]:
    """Load time, memory and per-mode latency of the index at `index_dir`, or in
    Milvus (`milvus`: Milvus Lite runs inside this process, so RSS counts it)."""
    embedder = UsemEmbedder(threads=threads)
    embedder.encode_queries(["预热"])  # the model's weights load on first use
    tokenizer = ChineseTokenizer()
    tokenizer.tokenize("预热")  # and so does jieba's dictionary
    result: dict[str, Any] = {"rss_gb": {}}
    result["rss_gb"]["baseline"] = round(_rss_gb(), 3)  # Python, numpy, FAISS, the model, jieba

    start = time.perf_counter()
    backend: LocalBackend | MilvusBackend = MilvusBackend(milvus) if milvus else LocalBackend(index_dir)
    view = backend.view()
    result["load_seconds"] = round(time.perf_counter() - start, 3)
    result["rss_gb"]["after_load"] = round(_rss_gb(), 3)
    engine = Engine(backend, embedder, tokenizer)
    result["dense_index"] = view.stats()["dense_index"]

    start = time.perf_counter()
    engine.search(queries[0], k=10, mode=SearchMode.HYBRID)
    result["first_query_ms"] = round((time.perf_counter() - start) * 1000, 1)

    result["modes"] = {}
    for mode in MODES:
        for q in queries[:warmup]:
            engine.search(q, k=10, mode=mode)
        totals, embeds = [], []
        for i, q in enumerate(queries):
            start = time.perf_counter()
            hit = engine.search(q, k=10, mode=mode)
            totals.append((time.perf_counter() - start) * 1000)
            embeds.append(hit.timings_ms.get("embed_ms", 0.0))
            if i % 50 == 49:
                print(f"  probe {mode.value}: {i + 1}/{len(queries)} queries", file=sys.stderr, flush=True)
        rest = [t - e for t, e in zip(totals, embeds, strict=True)]
        result["modes"][mode.value] = {
            "queries": len(queries),
            "total": percentiles(totals),
            "embedding": percentiles(embeds) if mode is not SearchMode.LEXICAL else None,
            "excluding_embedding": percentiles(rest),
        }
    result["rss_gb"]["after_queries"] = round(_rss_gb(), 3)
    if milvus is None:  # mapped index files: the embedded backend's
        result["rss_gb"]["by_file_after_queries"] = _rss_by_index_file(index_dir)
    result["rss_gb"].update(_rss_kinds())
    result["rss_gb"]["index_share_after_queries"] = round(
        result["rss_gb"]["after_queries"] - result["rss_gb"]["baseline"], 3
    )
    if milvus is None:
        result["component_load_seconds"] = component_load_seconds(index_dir)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("queries", type=Path, help="JSON list of query strings")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--milvus-uri", help="probe this Milvus index instead of INDEX_DIR")
    parser.add_argument("--milvus-collection", default="policyqa")
    args = parser.parse_args(argv)
    queries = json.loads(args.queries.read_text(encoding="utf-8"))
    # The token comes from the environment, never the command line.
    token = os.environ.get("POLICYQA_MILVUS_TOKEN")
    milvus = MilvusConfig(args.milvus_uri, token, args.milvus_collection) if args.milvus_uri else None
    print(json.dumps(probe(args.index_dir, queries, args.threads, args.warmup, milvus), ensure_ascii=False))


if __name__ == "__main__":
    main()
