"""`policyqa bench --backend milvus`: the embedded benchmark's corpus and vectors
written to Milvus (a Lite folder in the cache unless a URI is given), then read
by a fresh process one query at a time, as `eval.bench` reads the embedded one.

Writes results-<size>-milvus.json and .md: build rate, query latency p50/p95
without query embedding, memory and disk, beside the embedded row of
results-<size>.json when `policyqa bench --size <size>` has run in the same
output folder.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from pathlib import Path
from typing import Any

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.milvus_backend import MilvusBackend, MilvusConfig
from policyqa.index.tokenize import ChineseTokenizer

from .bench import (
    BenchConfig,
    Reporter,
    RssMonitor,
    bench_queries,
    corpus_vectors,
    machine_info,
    make_corpus,
    prepared_corpus,
    run_probe,
    size_label,
)
from .datasets import default_cmrc_path

COLLECTION = "bench"
MODES = ("lexical", "dense", "hybrid")


def run_milvus_bench(
    config: BenchConfig, uri: str | None = None, token: str | None = None, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Without `uri`, a Milvus Lite folder in the cache, made anew; with one, the
    collections `bench_*` there, dropped first (nothing else is touched)."""
    rep = reporter or Reporter()
    started = time.perf_counter()
    label = size_label(config.size)
    result: dict[str, Any] = {"backend": "milvus", "size": config.size, "label": label, "machine": machine_info()}
    work = config.cache_dir / f"milvus-{label}-seed{config.seed}"
    owned = uri is None
    uri = uri or str(work / "bench.db")
    milvus = MilvusConfig(uri, token=token, collection=COLLECTION)
    cmrc_path = config.cmrc_path or default_cmrc_path()
    # The build runs in a child process: Milvus Lite holds its folder until the
    # process that opened it exits, and the probe reads it from a fresh one.
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        result.update(pool.apply(_build, (config, milvus, cmrc_path, owned)))
    work.mkdir(parents=True, exist_ok=True)
    queries = bench_queries(config, cmrc_path)
    if owned:
        result["disk_bytes"] = {"total": sum(p.stat().st_size for p in Path(uri).rglob("*") if p.is_file())}
    extra = ["--milvus-uri", uri, "--milvus-collection", COLLECTION]
    result["probe"] = run_probe(work, queries, config, rep, extra)
    if not config.keep_index and owned:
        shutil.rmtree(work, ignore_errors=True)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / f"results-{label}-milvus.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    embedded = config.out / f"results-{label}.json"
    rows = [json.loads(embedded.read_text(encoding="utf-8"))] if embedded.exists() else []
    table = side_by_side([*rows, result])
    (config.out / f"results-{label}-milvus.md").write_text(table, encoding="utf-8")
    return result


def _build(config: BenchConfig, milvus: MilvusConfig, cmrc_path: Path, owned: bool) -> dict[str, Any]:
    """Corpus, vectors (cached) and one `MilvusBackend.apply`, timed; in the child."""
    rep = Reporter()
    result: dict[str, Any] = {}
    tokenizer, embedder = ChineseTokenizer(), UsemEmbedder(threads=config.threads)
    with RssMonitor() as rss:
        pool, corpus = make_corpus(config, tokenizer, cmrc_path, rep, result)
        vectors = corpus_vectors(config, pool, corpus, embedder, rep, result)
        if owned:
            shutil.rmtree(milvus.uri, ignore_errors=True)
        backend = MilvusBackend(milvus, rebuild=True)
        if not owned:
            backend.drop()
        prepared, manifest = prepared_corpus(config, corpus, vectors, embedder, tokenizer)
        rep.log(f"build: MilvusBackend.apply of {len(prepared):,} documents into {milvus.uri}")
        count = rep.counter("build: rows written")
        start = time.perf_counter()
        backend.apply(prepared, [], manifest, progress=lambda _stage, done, total: count(done, total))
        seconds = time.perf_counter() - start
        backend.close()
        result["build"] = {"seconds": round(seconds, 1), "chunks_per_s": round(len(corpus) / seconds, 1)}
        result["memory"] = {"build_peak_rss_gb": rss.peak_gb()}
        rep.log(f"build: {seconds:.1f}s, {len(corpus) / seconds:,.0f} chunks/s")
    return result


def side_by_side(runs: list[dict[str, Any]]) -> str:
    """One row per backend: build rate, latency without query embedding, memory, disk, load."""
    lines = [
        "| backend | chunks | build chunks/s | lexical p50 / p95 ms | dense p50 / p95 ms | hybrid p50 / p95 ms | "
        "build peak RSS | RSS after load + queries | on disk | load s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        probe = r["probe"]
        x = {m: probe["modes"][m]["excluding_embedding"] for m in MODES}
        build = r["build"]["chunks_per_s"]
        rate = build["hybrid"] if isinstance(build, dict) else build
        disk = r.get("disk_bytes", {}).get("total")
        lines.append(
            f"| {r.get('backend', 'faiss')} | {r['size']:,} | {rate:,.0f} | "
            + " | ".join(f"{x[m]['p50_ms']:.1f} / {x[m]['p95_ms']:.1f}" for m in MODES)
            + f" | {r['memory']['build_peak_rss_gb']:.2f} GB | {probe['rss_gb']['after_queries']:.2f} GB | "
            + (f"{disk / 1e9:.2f} GB" if disk else "–")
            + f" | {probe['load_seconds']:.2f} |"
        )
    return "\n".join(lines) + "\n"
