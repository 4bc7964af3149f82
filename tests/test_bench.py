"""The approximate dense index at engine level, the synthetic corpora, the
embedding cache and a tiny `policyqa bench` run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from policyqa.eval.datasets import default_cmrc_path
from policyqa.eval.embcache import EmbeddingCache
from policyqa.eval.synth import SentencePool, chunk_hashes, composed_vectors, synth_corpus, verify_tokens
from policyqa.index.dense import DenseConfig
from policyqa.index.engine import Engine, EngineConfig
from policyqa.index.tokenize import ChineseTokenizer

from .conftest import SEEDS

QUESTIONS = [
    "哪个园区提出数字经济增加值占GDP比重达35%？",
    "广阳湾智创生态城的生态修复获得了什么奖？",
    "璧山区如何推动绿色制造？",
    "重庆高新区的双化协同是什么？",
    "What did the carbon-neutral summit discuss?",
]


# ---- the approximate index, through the engine ----


def test_exhaustive_ivf_engine_returns_the_exact_engines_hits(seed_engine: Engine, tmp_path: Path, usem) -> None:
    # nprobe == nlist searches every cell, so IVF must return exactly what the flat index returns.
    config = EngineConfig(dense=DenseConfig(approximate_above=1, nlist=8, nprobe=8))
    ivf = Engine.open(tmp_path / "ivf", config=config, embedder=usem)
    ivf.ingest([SEEDS])
    assert ivf.backend.view().stats()["dense_index"] == "ivf"
    assert seed_engine.backend.view().stats()["dense_index"] == "flat"
    for question in QUESTIONS:
        for mode in ("dense", "hybrid"):
            exact_hits = seed_engine.search(question, k=10, mode=mode).hits
            ivf_hits = ivf.search(question, k=10, mode=mode).hits
            assert [h.chunk.chunk_id for h in ivf_hits] == [h.chunk.chunk_id for h in exact_hits]
            np.testing.assert_allclose([h.score for h in ivf_hits], [h.score for h in exact_hits], rtol=1e-5)


def test_engine_switches_to_ivf_at_the_set_size(tmp_path: Path, seed_copy: Path, usem) -> None:
    files = sorted(seed_copy.glob("*.txt"))
    first = Engine.open(tmp_path / "probe", embedder=usem)
    first.ingest(files[:4])
    below = len(first.backend.view().store)
    threshold = below + 1  # the fifth report adds at least one chunk, reaching the threshold

    config = EngineConfig(dense=DenseConfig(approximate_above=threshold, nlist=2, nprobe=2))
    engine = Engine.open(tmp_path / "index", config=config, embedder=usem)
    engine.ingest(files[:4])
    stats = engine.backend.view().stats()
    assert (stats["chunks"], stats["dense_index"]) == (threshold - 1, "flat")

    engine.ingest(files)
    stats = engine.backend.view().stats()
    assert stats["chunks"] >= threshold and stats["dense_index"] == "ivf"
    assert engine.backend.manifest()["dense_index"] == "ivf"
    reopened = Engine.open(tmp_path / "index", config=config, embedder=usem)
    assert reopened.backend.view().dense.is_approximate  # type: ignore[attr-defined]
    assert "000_6c3b29e3f385016a" in reopened.search(QUESTIONS[0], k=3).hits[0].source


# ---- synthetic corpora ----


@pytest.fixture(scope="module")
def small_cmrc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 30 articles of the CMRC 2018 dev set: enough sentences, quick to tokenize."""
    data = json.loads(default_cmrc_path().read_text(encoding="utf-8"))
    path = tmp_path_factory.mktemp("cmrc") / "cmrc_small.json"
    path.write_text(json.dumps({"data": data["data"][:30]}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tokenizer() -> ChineseTokenizer:
    return ChineseTokenizer()


@pytest.fixture(scope="module")
def pool(tokenizer: ChineseTokenizer, small_cmrc: Path) -> SentencePool:
    return SentencePool.build(tokenizer, SEEDS, small_cmrc, seed=3)


def test_synth_corpus_is_reproducible_from_the_seed(pool: SentencePool, tokenizer, small_cmrc: Path) -> None:
    again = SentencePool.build(tokenizer, SEEDS, small_cmrc, seed=3)  # built afresh, not the same objects
    a, b = synth_corpus(pool, 230, seed=3), synth_corpus(again, 230, seed=3)
    assert a.texts() == b.texts() and a.flat_tokens() == b.flat_tokens()
    assert [d.doc_id for d in a.documents] == [d.doc_id for d in b.documents]
    assert synth_corpus(pool, 230, seed=4).texts() != a.texts()
    # Row i depends only on (seed, i): a smaller corpus is a prefix of a bigger one.
    assert synth_corpus(pool, 57, seed=3).texts() == a.texts()[:57]


def test_synth_corpus_shape_and_citations(pool: SentencePool) -> None:
    corpus = synth_corpus(pool, 230, seed=3)
    assert len(corpus) == 230 and len(corpus.documents) == 23
    for doc, chunks in zip(corpus.documents, corpus.chunks, strict=True):
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text and c.doc_id == doc.doc_id
            assert 0 < len(c.text) <= 330  # 300, or one long sentence whose numbers grew
    assert len({c.text for doc in corpus.chunks for c in doc}) > 220  # recombined, not repeated


def test_assembled_tokens_equal_tokenizing_the_chunk(pool: SentencePool, tokenizer: ChineseTokenizer) -> None:
    corpus = synth_corpus(pool, 400, seed=11)
    assert verify_tokens(corpus, tokenizer, range(len(corpus))) == []
    # ...also where numbers were varied: the corpus has numbers no source sentence has
    sources = (*pool.seed_passages, *pool.cmrc_passages)
    source_numbers = {t for p in sources for v in p.sentences for s in v for t in s.tokens if t[0].isdigit()}
    numbers = {t for tokens in corpus.flat_tokens() for t in tokens if t[0].isdigit()}
    assert len(numbers - source_numbers) > 20


def test_composed_vectors_weigh_each_sentence_by_its_length(pool: SentencePool) -> None:
    corpus = synth_corpus(pool, 40, seed=3)
    rng = np.random.default_rng(0)
    sentence_vectors = rng.normal(size=(len(pool.sentences), 8)).astype(np.float32)
    got = composed_vectors(corpus, sentence_vectors, range(10, 40))
    for row in (10, 25, 39):
        a, b = corpus.sentence_indptr[row], corpus.sentence_indptr[row + 1]
        parts = [pool.sentences[sid].text for sid in corpus.sentence_ids[a:b]]
        assert all(p in corpus.texts()[row] or any(c.isdigit() for c in p) for p in parts)
        assert corpus.sentence_chars[a:b].sum() == len(corpus.texts()[row])
        expected = (sentence_vectors[corpus.sentence_ids[a:b]] * corpus.sentence_chars[a:b, None]).sum(axis=0)
        np.testing.assert_allclose(got[row - 10], expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-6)


# ---- the embedding cache ----


def test_embedding_cache_reuses_rows_and_extends_blocks(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str], step) -> np.ndarray:
        calls.append(texts)
        step(len(texts))
        return np.stack([np.full(4, float(len(t)), dtype=np.float32) for t in texts])

    texts = [f"第{i}段" * (i % 5 + 1) for i in range(30)]
    cache = EmbeddingCache(tmp_path, "fake/model@1", seed=0, dim=4)
    first, stats = cache.vectors(texts[:10], chunk_hashes(texts[:10]), encode)
    assert (stats.reused, stats.embedded) == (0, 10)
    again, stats = cache.vectors(texts[:30], chunk_hashes(texts[:30]), encode)
    assert (stats.reused, stats.embedded) == (10, 20) and calls[-1] == texts[10:30]
    np.testing.assert_array_equal(again[:10], first)
    np.testing.assert_allclose(np.linalg.norm(again, axis=1), 1.0, rtol=1e-3)
    changed = texts[:5] + ["别的文本"] + texts[6:30]
    _, stats = cache.vectors(changed, chunk_hashes(changed), encode)
    assert (stats.reused, stats.embedded) == (5, 25)  # everything from the first changed row is redone


# ---- a tiny benchmark run ----


@pytest.mark.slow
def test_tiny_bench_writes_table_json_and_plot(tmp_path: Path) -> None:
    from policyqa.service import commands  # noqa: F401  registers `bench`
    from policyqa.service.cli import app

    out, cache = tmp_path / "out", tmp_path / "cache"
    args = ["bench", "--size", "300", "--custom-size", "--out", str(out), "--cache-dir", str(cache),
            "--queries", "12", "--bm25-queries", "4", "--threads", "2"]  # fmt: skip
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "| mode | tokenize chunks/s" in run.output and "| target | value | met |" in run.output

    result = json.loads((out / "results-300.json").read_text(encoding="utf-8"))
    assert result["size"] == result["corpus"]["chunks"] == 300
    assert result["throughput"]["tokenize"]["token_mismatches"] == 0
    assert result["vectors"]["real"] == 300 and result["vectors"]["synthetic"] == 0
    assert set(result["build"]["chunks_per_s"]) == {"lexical", "dense", "hybrid"}
    for mode in ("lexical", "dense", "hybrid"):
        timings = result["probe"]["modes"][mode]
        assert timings["queries"] == 12
        assert set(timings["total"]) == set(timings["excluding_embedding"]) == {"p50_ms", "p95_ms"}
    assert result["probe"]["modes"]["lexical"]["embedding"] is None
    assert result["probe"]["rss_gb"]["after_queries"] > 0 and result["probe"]["load_seconds"] > 0
    assert result["compare"]["bm25"]["identical_top10"] == result["compare"]["bm25"]["queries"] == 4
    assert result["compare"]["bm25"]["equal_scores"] == 4
    assert 0.0 <= result["compare"]["faiss"]["approx"]["recall_at_10"] <= 1.0
    assert {"chunks", "lexical", "dense.faiss", "vectors.npy", "total"} <= set(result["disk_bytes"])
    assert {t["target"] for t in result["targets"]} >= {"hybrid p95 < 50 ms, not counting query embedding"}
    assert "| lexical |" in (out / "results-300.md").read_text(encoding="utf-8")
    assert "| 300 |" in (out / "summary.md").read_text(encoding="utf-8")
    assert (out / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (cache / "index-300-seed0").exists()  # removed without --keep-index
