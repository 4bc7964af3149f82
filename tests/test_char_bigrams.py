"""The character-bigram signal: which pairs a question gives, BM25 over the
candidates (checked against rank_bm25), and what it does inside hybrid search
(real jieba, a real FAISS index and the embedded model, at small sizes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from policyqa.index.char_bigrams import bigram_scores, chinese_factor, query_bigrams
from policyqa.index.engine import Engine
from policyqa.index.errors import InputError
from policyqa.index.hybrid import FusionConfig


@pytest.mark.parametrize(
    ("query", "pairs"),
    [
        ("数字经济？", ["数字", "字经", "经济"]),
        ("数字，经济", ["数字", "经济"]),  # punctuation breaks a run
        ("ＧＤＰ增长", ["p增", "增长"]),  # NFKC and lower case, as the tokenizer reads text
        ("5G网络 5G网络", ["g网", "网络"]),  # distinct pairs only
        ("Which park targets a 35% share?", []),  # no Chinese, no pairs
        ("2025", []),
    ],
)
def test_query_bigrams(query: str, pairs: list[str]) -> None:
    assert query_bigrams(query) == pairs


def _pairs(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(len(text) - 1)]


def test_bigram_scores_equal_rank_bm25_over_the_candidates() -> None:
    # Pure Chinese texts, each query pair in fewer than half of them (no idf
    # floor) and never overlapping itself: rank_bm25's BM25Okapi then scores the
    # pair lists exactly as bigram_scores scores the texts.
    texts = [
        "梦野久作生于福冈县福冈市",
        "福冈是日本九州的城市",
        "政府在这个地方建设学校",
        "小说家川端康成在东京写作",
        "野生动物保护区作出新规定",
        "东京是日本的首都",
    ]
    query = ["梦野", "野久", "福冈", "写作"]
    expected = BM25Okapi([_pairs(t) for t in texts]).get_scores(query)
    np.testing.assert_allclose(bigram_scores(query, texts), expected, rtol=1e-12)
    assert int(np.argmax(bigram_scores(query, texts))) == 0


def test_a_pair_in_most_candidates_counts_little_and_empty_inputs() -> None:
    texts = ["数字经济发展", "数字经济规模", "数字经济占比", "智能制造"]
    common, rare = bigram_scores(["数字"], texts), bigram_scores(["占比"], texts)
    assert 0 < common[0] < rare[2] and common[3] == 0 and rare[0] == 0
    assert bigram_scores([], texts).tolist() == [0.0] * 4
    assert bigram_scores(["数字"], []).shape == (0,)


def test_chinese_factor_follows_the_share_of_chinese() -> None:
    assert chinese_factor(1.0) == chinese_factor(0.5) == 1.0
    assert chinese_factor(0.25) == 0.5 and chinese_factor(0.0) == 0.0


def test_char_weight_is_validated() -> None:
    with pytest.raises(InputError, match="char_weight"):
        FusionConfig(char_weight=-0.1)


# A question whose name jieba cuts differently than the passage does:
# "梦野久作出生在…" → 梦野久 / 作出 / 生, the passage's "梦野久作（…）" → 梦野久作.
QUESTION = "梦野久作出生在什么地方？"
DOCS = {
    "target.txt": "梦野久作（1889年1月4日－1936年3月11日），日本小说家，生于福冈县福冈市小姓町，代表作有《脑髓地狱》。",
    "soseki.txt": "夏目漱石是日本小说家，生于江户牛込，这个地方后来并入东京，代表作有《我是猫》。",
    "akutagawa.txt": "芥川龙之介是日本小说家，出生在东京京桥区，这个地方如今属于中央区。",
    "dazai.txt": "太宰治是日本小说家，出生在青森县北津轻郡，代表作有《人间失格》。",
    "kawabata.txt": "川端康成是日本小说家，出生在大阪，一九六八年获得诺贝尔文学奖。",
}


@pytest.fixture(scope="module")
def split_name_engine(tmp_path_factory: pytest.TempPathFactory, usem: Any) -> Engine:
    root = tmp_path_factory.mktemp("charbigrams")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    engine = Engine.open(root / "index", embedder=usem)
    engine.ingest([root / "docs"])
    return engine


def test_the_character_signal_finds_a_name_the_word_cut_misses(split_name_engine: Engine) -> None:
    # BM25 over words matches nothing of the target (its name is cut otherwise)
    # and ranks the passages that share 出生在 and 地方 first; the pairs 梦野, 野久,
    # 久作 find it. The default weight (chosen on CMRC 2018 dev) is a tie-breaker
    # among close candidates; a larger one shows the signal alone decides here.
    def ranks(weight: float) -> list[str]:
        hits = split_name_engine.search(QUESTION, k=5, fusion=FusionConfig(char_weight=weight)).hits
        return [Path(h.source).name for h in hits]

    assert ranks(0.0)[0] != "target.txt" and ranks(1.0)[0] == "target.txt"
    hits = split_name_engine.search(QUESTION, k=5).hits
    target = next(h for h in hits if Path(h.source).name == "target.txt")
    assert target.lexical_score == 0.0
    assert target.char_score == max(h.char_score or 0.0 for h in hits) > 0


def test_english_questions_and_single_modes_get_no_character_signal(split_name_engine: Engine) -> None:
    query = "Where was the Japanese novelist Yumeno Kyusaku born?"
    on = split_name_engine.search(query, k=5)
    off = split_name_engine.search(query, k=5, fusion=FusionConfig(char_weight=0.0))
    assert [h.to_dict() for h in on.hits] == [h.to_dict() for h in off.hits]
    assert all(h.char_score is None for h in on.hits) and "chars_ms" not in on.timings_ms
    for mode in ("lexical", "dense"):
        assert all(h.char_score is None for h in split_name_engine.search(QUESTION, k=3, mode=mode).hits)
    assert all(h.to_dict()["char_score"] is not None for h in split_name_engine.search(QUESTION, k=3).hits)
