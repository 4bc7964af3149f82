"""LexicalIndex: scores equal rank_bm25.BM25Okapi's bit for bit (on the seed
reports, on tiny corpora, after append and select, after a save/load), top_k
order and ties, and the corruption checks of `load`."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from policyqa.index.errors import IndexCorruptError, IndexVersionError, InputError
from policyqa.index.lexical import LexicalIndex
from policyqa.index.tokenize import ChineseTokenizer

SEEDS = sorted((Path(__file__).parents[1] / "seeds").glob("*.txt"))

QUERIES = [
    "广阳湾智创生态城的绿色产业",
    "重庆经开区数字经济增加值占GDP比重",
    "璧山区新能源汽车产业集群",
    "双化协同综合试点",
    "2025年 35%",
    "碳中和 碳达峰",
    "京东探索研究院超算中心",
    "优化营商环境 市场主体 同比增长",
    "R&D经费投入强度达3.3%",
    "重庆高新区零碳智慧园区",
    "长江经济带绿色发展示范",
    "智能网联新能源汽车",
    "绿色 绿色 绿色 产业",  # repeated tokens count once per repetition
    "重庆 重庆 经开区",
    "量子纠缠 火星基地",  # unknown terms only
    "火星基地 广阳岛",  # unknown and known
]


@pytest.fixture(scope="module")
def tok() -> ChineseTokenizer:
    return ChineseTokenizer()


@pytest.fixture(scope="module")
def pieces(tok: ChineseTokenizer) -> list[list[str]]:
    """The five seed reports cut into 100-character pieces, tokenized."""
    out = []
    for path in SEEDS:
        text = path.read_text(encoding="utf-8")
        out += [tok.tokenize(text[i : i + 100]) for i in range(0, len(text), 100)]
    return out


@pytest.fixture(scope="module")
def queries(tok: ChineseTokenizer) -> list[list[str]]:
    return [tok.tokenize(q) for q in QUERIES] + [[], ["不在词表"], ["绿色", "不在词表", "绿色"]]


def assert_same_as_rank_bm25(index: LexicalIndex, corpus: Sequence[Sequence[str]], qs: list[list[str]]) -> None:
    reference = BM25Okapi([list(d) for d in corpus], k1=index.k1, b=index.b, epsilon=index.epsilon)
    assert len(index) == len(corpus)
    for q in qs:
        # Equal, not close: same float operations in the same order.
        np.testing.assert_array_equal(index.scores(q), reference.get_scores(q), err_msg=f"query {q}")


# ---- equality with rank_bm25 -------------------------------------------


def test_scores_equal_rank_bm25_on_the_seed_reports(pieces: list[list[str]], queries: list[list[str]]) -> None:
    assert len(pieces) > 150
    index = LexicalIndex.build(pieces)
    assert_same_as_rank_bm25(index, pieces, queries)
    assert index.scores(queries[0]).dtype == np.float64
    assert index.scores(queries[0]).max() > 0


def test_repeated_query_tokens_count_per_repetition(pieces: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    once, twice = index.scores(["广阳湾"]), index.scores(["广阳湾", "广阳湾"])
    np.testing.assert_array_equal(twice, once + once)


def test_unknown_terms_score_zero(pieces: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    np.testing.assert_array_equal(index.scores(["不在词表", "xyz"]), np.zeros(len(pieces)))
    np.testing.assert_array_equal(index.scores(["不在词表", "广阳湾"]), index.scores(["广阳湾"]))


@pytest.mark.parametrize(
    "corpus",
    [
        # "a" is in 3 of 4 documents: idf < 0, floored at epsilon * mean idf
        [["a", "b"], ["a", "c"], ["a", "d", "d"], ["e"]],
        # every term in more than half: the mean idf itself is negative
        [["a", "b"], ["a", "b"], ["a", "c"]],
        # all documents identical: every score is negative
        [["x", "y"], ["x", "y"], ["x", "y"]],
        # a single document: df = N = 1 gives ln(0.5) - ln(1.5) < 0
        [["x", "y", "y"]],
        # empty documents among others
        [[], ["a"], [], ["a", "b"], []],
    ],
    ids=["floor", "negative-mean", "identical", "single", "empty-docs"],
)
def test_negative_idf_floor_matches_rank_bm25(corpus: list[list[str]]) -> None:
    index = LexicalIndex.build(corpus)
    qs = [["a"], ["a", "b"], ["x"], ["y", "y"], ["d", "a", "e"], ["b", "c"], ["zzz"]]
    assert_same_as_rank_bm25(index, corpus, qs)


def test_all_identical_documents_score_negative_so_top_k_is_empty() -> None:
    corpus = [["x", "y"]] * 3
    index = LexicalIndex.build(corpus)
    assert (index.scores(["x"]) < 0).all()
    rows, scores = index.top_k(["x"], 10)
    assert rows.size == scores.size == 0


def test_a_three_document_corpus_worked_out_by_hand() -> None:
    # d0 = 猫 狗, d1 = 猫 鱼, d2 = 鸟 鸟.  N = 3, every |d| = 2 = avgdl, so the
    # length norm is k1 * (1 - b + b * 2/2) = 1.5 and the tf part is
    #   tf = 1: 1 * 2.5 / (1 + 1.5) = 1        tf = 2: 2 * 2.5 / (2 + 1.5) = 10/7.
    # idf of a term in 1 document: r = ln(3 - 1 + 0.5) - ln(1 + 0.5) = ln(5/3) = 0.5108...
    # 猫 is in 2: ln(1.5) - ln(2.5) = -r < 0, so it is floored at epsilon * mean idf,
    # the mean over 猫 狗 鱼 鸟 being (-r + r + r + r) / 4 = r/2: 0.25 * r/2 = r/8 = 0.0639.
    # All these steps are exact in floating point (sums of ±r, halving, times 1.0).
    corpus = [["猫", "狗"], ["猫", "鱼"], ["鸟", "鸟"]]
    index = LexicalIndex.build(corpus)
    r = math.log(2.5) - math.log(1.5)
    assert index.scores(["猫"]).tolist() == [r / 8, r / 8, 0.0]  # 0.0639 0.0639 0
    assert index.scores(["鸟"]).tolist() == [0.0, 0.0, r * (5.0 / 3.5)]  # 0 0 0.7298
    assert index.scores(["狗", "狗", "鱼"]).tolist() == [2 * r, r, 0.0]  # 1.0217 0.5108 0
    assert index.scores(["猫", "猫"]).tolist() == [r / 4, r / 4, 0.0]
    rows, scores = index.top_k(["狗", "狗", "鱼"], 5)
    assert rows.tolist() == [0, 1] and scores.tolist() == [2 * r, r]
    assert_same_as_rank_bm25(index, corpus, [["猫"], ["鸟"], ["狗", "狗", "鱼"]])


# ---- append and select --------------------------------------------------


def test_append_equals_a_fresh_build(pieces: list[list[str]], queries: list[list[str]]) -> None:
    half = len(pieces) // 2
    grown = LexicalIndex.build(pieces[:half]).append(pieces[half:])
    assert_same_as_rank_bm25(grown, pieces, queries)
    assert dict(grown.vocabulary) == dict(LexicalIndex.build(pieces).vocabulary)


def test_append_numbers_new_rows_after_the_old_and_grows_the_vocabulary() -> None:
    base = LexicalIndex.build([["a", "b"]])
    grown = base.append([["c", "a"], ["d"]])
    assert len(grown) == 3 and grown.doc_tokens(1) == ["c", "a"] and grown.doc_tokens(2) == ["d"]
    assert dict(grown.vocabulary) == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert grown.document_frequency("a") == 2
    assert base.append([]) is base


def test_select_equals_a_fresh_build_of_the_kept_rows(pieces: list[list[str]], queries: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    rng = np.random.default_rng(7)
    rows = rng.permutation(len(pieces))[: len(pieces) * 2 // 3]  # reordered and a third deleted
    kept = [pieces[i] for i in rows]
    selected = index.select(rows)
    assert_same_as_rank_bm25(selected, kept, queries)
    assert [selected.doc_tokens(i) for i in range(3)] == [index.doc_tokens(int(i)) for i in rows[:3]]


def test_select_then_append_equals_a_fresh_build(pieces: list[list[str]], queries: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    rows = np.arange(0, len(pieces), 3)  # delete two thirds...
    new = [["广阳湾", "新词", "新词"], ["全新", "绿色"]]  # ...then add documents
    corpus = [pieces[i] for i in rows] + new
    assert_same_as_rank_bm25(index.select(rows).append(new), corpus, [*queries, ["新词", "全新"]])


def test_select_drops_terms_left_in_no_row() -> None:
    index = LexicalIndex.build([["a", "b"], ["c"], ["a", "d"]])
    kept = index.select(np.array([2, 0]))
    assert dict(kept.vocabulary) == {"a": 0, "d": 1, "b": 2}  # renumbered by first appearance
    assert kept.document_frequency("c") == 0 and kept.document_frequency("a") == 2
    assert len(index.select(np.array([], dtype=np.int64))) == 0


@pytest.mark.parametrize(
    "rows",
    [np.array([True, False, True]), np.array([0, 3]), np.array([-1]), np.array([[0, 1]]), np.array([0.0, 1.0])],
    ids=["bool-mask", "past-end", "negative", "2-d", "float"],
)
def test_select_refuses_anything_but_row_numbers(rows: np.ndarray) -> None:
    with pytest.raises(InputError, match="rows must"):
        LexicalIndex.build([["a"], ["b"], ["c"]]).select(rows)


def test_operations_leave_the_original_untouched(pieces: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces[:50])
    before = index.scores(["绿色", "产业"]).copy()
    vocab = dict(index.vocabulary)
    index.append([["绿色", "绿色", "全新"]])
    index.select(np.array([3, 1]))
    np.testing.assert_array_equal(index.scores(["绿色", "产业"]), before)
    assert dict(index.vocabulary) == vocab and len(index) == 50
    with pytest.raises(TypeError):
        index.vocabulary["x"] = 1  # type: ignore[index]


# ---- top_k --------------------------------------------------------------


def test_top_k_is_descending_with_ties_to_the_lower_row() -> None:
    # Rows 1, 3 and 4 are identical, so they tie; row 0 is best (tf = 2).
    corpus = [["a", "a", "x"], ["a", "y"], ["z"], ["a", "y"], ["a", "y"], ["w"]]
    index = LexicalIndex.build(corpus)
    scores = index.scores(["a"])
    rows, top = index.top_k(["a"], 3)
    assert rows.tolist() == [0, 1, 3]  # the cut falls inside the tie: lowest rows first
    assert top.tolist() == scores[[0, 1, 3]].tolist()
    assert index.top_k(["a"], 10)[0].tolist() == [0, 1, 3, 4]  # zero-score rows never appear
    assert index.top_k(["a"], 1)[0].tolist() == [0]


def test_top_k_matches_a_full_sort_on_the_seeds(pieces: list[list[str]], queries: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    for q in queries:
        scores = index.scores(q)
        expected = [i for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i)) if scores[i] > 0][:10]
        rows, top = index.top_k(q, 10)
        assert rows.tolist() == expected
        assert top.tolist() == scores[expected].tolist()
        assert rows.dtype == np.int64 and top.dtype == np.float64


def test_top_k_with_k_larger_than_the_index_returns_what_scores() -> None:
    index = LexicalIndex.build([["a"], ["b"], ["a", "c"], ["d"], ["e"]])
    rows, _ = index.top_k(["a"], 1000)
    assert rows.tolist() == [0, 2]


def test_top_k_allowed_mask_filters_rows() -> None:
    index = LexicalIndex.build([["a"], ["a", "b"], ["a", "a"], ["c"], ["d"]])
    allowed = np.array([True, False, True, True, True])
    assert index.top_k(["a"], 5, allowed=allowed)[0].tolist() == [2, 0]
    assert index.top_k(["a"], 5, allowed=np.zeros(5, dtype=bool))[0].size == 0


@pytest.mark.parametrize(
    ("k", "allowed", "message"),
    [
        (0, None, "k must be"),
        (-3, None, "k must be"),
        (2.5, None, "k must be"),
        (2, np.ones(4, dtype=bool), "shape"),
        (2, np.ones(3, dtype=np.int64), "boolean"),
    ],
)
def test_top_k_refuses_bad_arguments(k: int, allowed: np.ndarray | None, message: str) -> None:
    with pytest.raises(InputError, match=message):
        LexicalIndex.build([["a"], ["b"], ["c"]]).top_k(["a"], k, allowed=allowed)


@pytest.mark.parametrize(
    "corpus",
    [[], [[]], [[], []]],
    ids=["no-documents", "one-empty-document", "two-empty-documents"],
)
def test_empty_index_and_empty_documents(corpus: list[list[str]]) -> None:
    index = LexicalIndex.build(corpus)
    assert len(index) == len(corpus) and len(index.vocabulary) == 0
    np.testing.assert_array_equal(index.scores(["a"]), np.zeros(len(corpus)))
    assert index.top_k(["a"], 3)[0].size == 0
    assert index.top_k([], 3)[0].size == 0


def test_empty_query_scores_zero(pieces: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    np.testing.assert_array_equal(index.scores([]), np.zeros(len(pieces)))
    assert index.top_k([], 5)[0].size == 0


def test_doc_tokens_are_the_distinct_terms_in_order() -> None:
    index = LexicalIndex.build([["b", "a", "b", "c", "a"], []])
    assert index.doc_tokens(0) == ["b", "a", "c"]
    assert index.doc_tokens(1) == []
    with pytest.raises(InputError, match="row must"):
        index.doc_tokens(2)


def test_build_refuses_a_string_document_and_bad_parameters() -> None:
    with pytest.raises(InputError, match="tokenize it first"):
        LexicalIndex.build([["a"], "广阳湾"])  # a str is a Sequence[str] to the type checker
    with pytest.raises(InputError, match="out of range"):
        LexicalIndex.build([["a"]], b=1.5)


def test_other_parameters_match_rank_bm25() -> None:
    corpus = [["a", "b", "b"], ["a"], ["c", "d", "e", "a"], ["b", "c"]]
    index = LexicalIndex.build(corpus, k1=1.2, b=0.5, epsilon=0.1)
    reference = BM25Okapi(corpus, k1=1.2, b=0.5, epsilon=0.1)
    for q in (["a"], ["b", "c"], ["e", "b", "b"]):
        np.testing.assert_array_equal(index.scores(q), reference.get_scores(q))


# ---- save and load ------------------------------------------------------


@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "in-memory"])
def test_save_load_round_trip(tmp_path: Path, pieces: list[list[str]], queries: list[list[str]], mmap: bool) -> None:
    index = LexicalIndex.build(pieces, k1=1.2, b=0.7, epsilon=0.3)
    index.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical", mmap=mmap)
    assert len(loaded) == len(index)
    assert (loaded.k1, loaded.b, loaded.epsilon) == (1.2, 0.7, 0.3)
    assert dict(loaded.vocabulary) == dict(index.vocabulary)
    assert [loaded.doc_tokens(i) for i in (0, 7, len(pieces) - 1)] == [
        index.doc_tokens(i) for i in (0, 7, len(pieces) - 1)
    ]
    for q in queries:
        np.testing.assert_array_equal(loaded.scores(q), index.scores(q))
        assert loaded.top_k(q, 5)[0].tolist() == index.top_k(q, 5)[0].tolist()
    # A loaded (possibly memory-mapped, read-only) index still derives new ones.
    more = [["新词", "绿色"]]
    assert_same_as_rank_bm25(loaded.append(more).select(np.arange(1, len(pieces) + 1)), pieces[1:] + more, queries)


@pytest.mark.parametrize("corpus", [[], [[]]], ids=["no-documents", "empty-document"])
def test_save_load_empty(tmp_path: Path, corpus: list[list[str]]) -> None:
    LexicalIndex.build(corpus).save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert len(loaded) == len(corpus) and loaded.top_k(["a"], 3)[0].size == 0


def test_saved_files_need_no_pickle(tmp_path: Path) -> None:
    LexicalIndex.build([["广阳湾", "绿色"], ["绿色"]]).save(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "doc_indptr.npy", "doc_len.npy", "doc_terms.npy", "doc_tf.npy", "lexical.json",
        "term_docs.npy", "term_indptr.npy", "term_tf.npy", "vocab.json",
    ]  # fmt: skip
    for p in tmp_path.glob("*.npy"):
        np.load(p, allow_pickle=False)
    assert json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8")) == ["广阳湾", "绿色"]


ARRAY_FILES = ["doc_indptr", "doc_terms", "doc_tf", "doc_len", "term_indptr", "term_docs", "term_tf"]


@pytest.fixture
def saved(tmp_path: Path, pieces: list[list[str]]) -> Path:
    LexicalIndex.build(pieces[:40]).save(tmp_path / "lexical")
    return tmp_path / "lexical"


@pytest.mark.parametrize("name", ARRAY_FILES)
@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "in-memory"])
def test_a_truncated_array_is_reported_by_name(saved: Path, name: str, mmap: bool) -> None:
    path = saved / f"{name}.npy"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(IndexCorruptError, match=f"{name}.npy.*re-run `policyqa ingest --rebuild PATH`"):
        LexicalIndex.load(saved, mmap=mmap)


@pytest.mark.parametrize("name", [*(f"{a}.npy" for a in ARRAY_FILES), "vocab.json", "lexical.json"])
def test_a_missing_file_is_reported_by_name(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(IndexCorruptError, match=f"{name} is missing"):
        LexicalIndex.load(saved)


def test_inconsistent_files_are_reported(saved: Path) -> None:
    np.save(saved / "doc_len.npy", np.zeros(3, dtype=np.int64), allow_pickle=False)
    with pytest.raises(IndexCorruptError, match="doc_len.npy: 3 entries, expected 40"):
        LexicalIndex.load(saved)


def test_a_wrong_dtype_is_reported(saved: Path) -> None:
    tf = np.load(saved / "term_tf.npy")
    np.save(saved / "term_tf.npy", tf.astype(np.float64), allow_pickle=False)
    with pytest.raises(IndexCorruptError, match="term_tf.npy holds float64"):
        LexicalIndex.load(saved)


def test_a_vocabulary_of_the_wrong_size_is_reported(saved: Path) -> None:
    terms = json.loads((saved / "vocab.json").read_text(encoding="utf-8"))
    (saved / "vocab.json").write_text(json.dumps(terms[:-1]), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="vocab.json"):
        LexicalIndex.load(saved)


def test_an_unknown_format_version_is_refused(saved: Path) -> None:
    params = json.loads((saved / "lexical.json").read_text(encoding="utf-8"))
    (saved / "lexical.json").write_text(json.dumps({**params, "format_version": 99}), encoding="utf-8")
    with pytest.raises(IndexVersionError, match="format_version 99"):
        LexicalIndex.load(saved)


# ---- weighted query terms (the query bridge's) ----------------------------


def test_weight_one_for_distinct_tokens_equals_rank_bm25(pieces: list[list[str]], queries: list[list[str]]) -> None:
    index = LexicalIndex.build(pieces)
    bm25 = BM25Okapi(pieces)
    for q in queries:
        distinct = list(dict.fromkeys(q))
        expected = np.asarray(bm25.get_scores(distinct))
        np.testing.assert_array_equal(index.weighted_scores(dict.fromkeys(distinct, 1.0)), expected)


def test_a_weight_multiplies_that_terms_contribution() -> None:
    # Six rows, "a" and "b" in two each: both idfs are ln(4.5 / 2.5) > 0.
    index = LexicalIndex.build([["a", "b"], ["a", "c"], ["b", "b", "c"], ["d"], ["e"], ["f"]])
    a, b = index.scores(["a"]), index.scores(["b"])
    assert a.max() > 0 and b.max() > 0
    # x * 2.0 and x * 0.5 are exact in binary floating point, so equality holds.
    np.testing.assert_array_equal(index.weighted_scores({"a": 2.0}), 2.0 * a)
    np.testing.assert_array_equal(index.weighted_scores({"a": 0.5, "b": 1.0}), 0.5 * a + b)
    np.testing.assert_array_equal(index.weighted_scores({"a": 0.0, "zz": 3.0}), np.zeros(6))
    rows, scores = index.weighted_top_k({"a": 0.5, "b": 1.0}, k=2)
    full = 0.5 * a + b
    assert rows.tolist() == np.argsort(-full, kind="stable")[:2].tolist()
    np.testing.assert_array_equal(scores, full[rows])


@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf")])
def test_weighted_scores_refuse_a_bad_weight(weight: float) -> None:
    with pytest.raises(InputError, match="weight"):
        LexicalIndex.build([["a"]]).weighted_scores({"a": weight})


def test_scores_of_rows_equal_full_scores_bit_for_bit() -> None:
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]
    docs = [list(rng.choice(words, size=rng.integers(0, 15))) for _ in range(300)]
    index = LexicalIndex.build(docs)
    rows = np.array([0, 299, 7, 7, 150, 42], dtype=np.int64)  # any order, repeats allowed
    for query in (["w1"], ["w3", "w3", "w17"], ["w5", "unknown", "w9", "w5"], []):
        np.testing.assert_array_equal(index.scores_of(query, rows), index.scores(query)[rows])
    assert index.scores_of(["w1"], np.empty(0, dtype=np.int64)).shape == (0,)
    with pytest.raises(InputError):
        index.scores_of(["w1"], np.array([300]))
