"""answer: extractive, cited answers over the seed index, and the found / not-found decision."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from policyqa.index.answer import (
    NOT_FOUND_MESSAGE,
    AnswerConfig,
    ExtractiveAnswerer,
    _pieces,
    _romanized_prefix,
    numbers_in,
    strip_markers,
    unsupported_numbers,
)
from policyqa.index.embedders import UsemEmbedder

from .support import open_engine

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line) for line in (REPO / "eval/questions/seed.jsonl").read_text(encoding="utf-8").splitlines()]
UNANSWERABLE = [
    json.loads(line) for line in (REPO / "eval/questions/unanswerable.jsonl").read_text(encoding="utf-8").splitlines()
]


@pytest.fixture(scope="module")
def answerer(seed_index: Path, usem: UsemEmbedder) -> ExtractiveAnswerer:
    return ExtractiveAnswerer(open_engine(seed_index, usem))


@pytest.fixture(scope="module")
def all_answers(answerer: ExtractiveAnswerer) -> dict[str, object]:
    return {q["id"]: answerer.answer(q["question"]) for q in QUESTIONS + UNANSWERABLE}


def stem(source: str) -> str:
    return PurePosixPath(source).stem


# ---- the required cases ----


def test_english_question_about_the_35_percent_park(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("Which park targets a 35% digital-economy share?")
    assert answer.found
    assert any("数字经济增加值占GDP比重达35%" in c.quote for c in answer.citations)
    assert stem(answer.citations[0].source) == "000_6c3b29e3f385016a"
    assert answer.answer == "".join(f"{c.quote}[{c.n}]" for c in answer.citations)


def test_pudong_is_not_found_and_nothing_is_made_up(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("上海浦东新区2021年GDP是多少？")
    assert not answer.found
    assert answer.citations == []
    assert answer.answer == NOT_FOUND_MESSAGE + answer.reason
    assert "上海浦东新区" in answer.reason
    assert answer.passages  # the nearest passages, for the reader to judge


# ---- over every seed question ----


def test_every_answer_is_quoted_exactly_and_every_figure_is_in_a_quote(
    answerer: ExtractiveAnswerer, all_answers: dict[str, object]
) -> None:
    view = answerer.engine.backend.view()
    questions = {q["id"]: q["question"] for q in QUESTIONS + UNANSWERABLE}
    for qid, answer in all_answers.items():
        if not answer.found:  # type: ignore[attr-defined]
            assert answer.citations == []  # type: ignore[attr-defined]
            # a not-found message only repeats figures the question itself holds
            assert all(n in questions[qid] for n in numbers_in(answer.answer)), qid  # type: ignore[attr-defined]
            continue
        quotes = [c.quote for c in answer.citations]  # type: ignore[attr-defined]
        assert unsupported_numbers(answer.answer, quotes) == [], qid  # type: ignore[attr-defined]
        markers = [int(m) for m in re.findall(r"\[(\d+)\]", answer.answer)]  # type: ignore[attr-defined]
        assert markers == [c.n for c in answer.citations] == list(range(1, len(quotes) + 1)), qid  # type: ignore[attr-defined]
        assert 1 <= len(quotes) <= 3
        for c in answer.citations:  # type: ignore[attr-defined]
            assert view.document_text(c.doc_id)[c.start : c.end] == c.quote, qid
            assert len(c.quote) <= 120, qid
            cited = [p for p in answer.passages if p.chunk.chunk_id == c.chunk_id]  # type: ignore[attr-defined]
            assert cited and cited[0].chunk.start <= c.start < c.end <= cited[0].chunk.end, qid


def test_found_rates_on_dev_and_held_out(all_answers: dict[str, object]) -> None:
    """The seed figures in the README ("Answer evaluation"), measured here so they cannot go stale unnoticed.

    On 2026-11-30, `policyqa eval --task answer`: the gold answer inside the quotes
    for 35/40 dev and 13/20 held-out questions; unanswerable refused 12/20 dev, 8/10 held out.
    On 2026-12-01, with the best sentence's own features in the decision: 39/40 and 13/20;
    refused 13/20 dev and 7/10 held out (9/10 before: two near misses now answered, while the
    seed dev rows out of fold went from 9 to 11 refused of 16; README, "Answers")."""
    from policyqa.eval.metrics import answer_in_quotes

    counts: Counter[str] = Counter()
    for q in QUESTIONS:
        a = all_answers[q["id"]]
        quotes = [c.quote for c in a.citations] if a.found else []  # type: ignore[attr-defined]
        counts[f"{q['split']}_hit"] += answer_in_quotes(q["answer"], quotes)
    for q in UNANSWERABLE:
        counts[f"{q['split']}_refused"] += not all_answers[q["id"]].found  # type: ignore[attr-defined]
    print(dict(counts))
    assert counts["dev_hit"] >= 35 and counts["dev_refused"] >= 12
    assert counts["heldout_hit"] >= 13 and counts["heldout_refused"] >= 7
    assert not all_answers["u01"].found  # type: ignore[attr-defined]


# ---- the decision, piece by piece ----


@pytest.mark.parametrize(
    "question, unknown",
    [
        ("上海浦东新区2021年GDP是多少？", ["上海浦东新区"]),
        ("两江新区2022年引进了多少个重大项目？", ["两江新区"]),
        ("What was Chengdu's GDP growth rate in 2022?", ["Chengdu"]),  # CC-CEDICT: 成都, not in the index
        ("What did Bishan achieve in June?", []),  # 璧山 is in the index; June is a month, not a name
        ("璧山区今年一季度地区生产总值同比增长多少？", []),
    ],
)
def test_unknown_names(answerer: ExtractiveAnswerer, question: str, unknown: list[str]) -> None:
    tokens = answerer.engine.tokenizer.tokenize(question)
    assert answerer.salient(question, tokens, answerer.engine.backend.view()).unknown_names == unknown


def test_salient_periods_years_and_figures(answerer: ExtractiveAnswerer) -> None:
    question = "璧山区2022年前三季度15个项目的投资是多少？"
    salient = answerer.salient(question, answerer.engine.tokenizer.tokenize(question), answerer.engine.backend.view())
    assert salient.names == ["璧山区"]
    assert (salient.periods, salient.years, salient.figures) == (["前三季度"], ["2022"], ["15"])


@pytest.mark.parametrize(
    "question, reason",
    [
        ("璧山区2022年全年地区生产总值是多少亿元？", "全年"),  # only first-quarter figures are reported
        ("如何做红烧肉？", "吻合度太低"),
        ("What is the capital of France?", "吻合度太低"),
    ],
)
def test_weak_evidence_is_not_found(answerer: ExtractiveAnswerer, question: str, reason: str) -> None:
    answer = answerer.answer(question)
    assert not answer.found and reason in answer.reason


def test_decision_reads_the_best_sentences_own_features(answerer: ExtractiveAnswerer) -> None:
    from policyqa.index.answer import DECISION_FEATURES, SENTENCE_FEATURES

    analysis = answerer.analyze("重庆经开区上半年地区生产总值是多少？")
    features = dict(zip(DECISION_FEATURES, answerer.decision_features(analysis), strict=True))
    best = dict(zip(SENTENCE_FEATURES, analysis.candidates[0].features, strict=True))
    copied = [name for name in DECISION_FEATURES if name.startswith("best_") and name != "best_sentence"]
    assert len(copied) == 9 and features["best_sentence"] == analysis.candidates[0].score
    assert all(features[name] == best[name.removeprefix("best_")] for name in copied)
    assert features["best_tiling"] > 0  # the question's words are in its best sentence


def test_filters_reach_the_search(answerer: ExtractiveAnswerer) -> None:
    from policyqa.index.backend import Filters

    answer = answerer.answer("哪个园区提出数字经济增加值占GDP比重达35%？", filters=Filters(doc_ids=("nope",)))
    assert not answer.found and answer.passages == []


# ---- helpers ----


def test_numbers_and_markers() -> None:
    assert numbers_in("增长１５.３％，达208.2亿元、1,200家、三十五个，一体化") == ["15.3%", "208.2", "1,200", "三十五"]
    assert strip_markers("达35%。[1]增长6.9%[12]") == "达35%。增长6.9%"
    # the marker's 1 is no figure; 45% is in no quote
    assert unsupported_numbers("比重达35%[1]", ["数字经济增加值占GDP比重达35%。"]) == []
    assert unsupported_numbers("比重达45%[1]", ["数字经济增加值占GDP比重达35%。"]) == ["45%"]


def test_long_sentences_are_cut_into_clause_groups() -> None:
    text = "，".join(["这是一个分句" + str(i) for i in range(40)]) + "。"
    pieces = _pieces(text, 0, len(text), 40)
    assert "".join(text[s:e] for s, e in pieces) == text
    assert all(e - s <= 40 for s, e in pieces[:-1]) and pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert _pieces("短句。", 0, 3, 40) == [(0, 3)]
    # a thousands separator is no clause mark, and a piece over the limit is cut outside the figures
    text = "产值达1,200亿元" * 3
    pieces = _pieces(text, 0, 30, 20)
    assert "".join(text[s:e] for s, e in pieces) == text and all(e - s <= 20 for s, e in pieces)
    assert all("1,200" in text[s:e] or not any(ch.isdigit() for ch in text[s:e]) for s, e in pieces)
    long = "数" * 300
    assert [e - s for s, e in _pieces(long, 0, 300, 120)] == [120, 120, 60]


@pytest.mark.parametrize(
    "word, key, prefix",
    [("成都市", "chengdu", "成都"), ("成渝", "chengdu", ""), ("六月", "june", ""), ("重庆", "chongqing", "重庆")],
)
def test_romanized_prefix(word: str, key: str, prefix: str) -> None:
    assert _romanized_prefix(word, key) == prefix


def test_soft_matches_count_a_word_said_otherwise(
    answerer: ExtractiveAnswerer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question term the sentence lacks counts with its best cosine to one of
    the sentence's words, from the real model: 去世 is nearer to a sentence that
    says 逝世 than to one about football; a term the sentence has counts 1."""
    soft = answerer._soft_matches(["去世", "1994"], [{"1994", "逝世", "美国"}, {"足球", "比赛", "美国"}, set()])
    assert soft.shape == (3, 2)
    assert soft[0, 1] == 1.0 and soft[1, 1] < 1.0  # the literal term
    assert soft[0, 0] > 0.75 > soft[1, 0]  # 逝世 ~ 去世 at 0.83; nothing in the football sentence
    assert soft[2].tolist() == [0.0, 0.0]  # a sentence without words matches nothing
    calls: list[list[str]] = []
    encode = answerer.engine.embedder.encode_documents
    counting = lambda texts: calls.append(texts) or encode(texts)  # noqa: E731
    monkeypatch.setattr(answerer.engine.embedder, "encode_documents", counting)
    again = answerer._soft_matches(["去世", "1994"], [{"1994", "逝世", "美国"}, {"足球", "比赛", "美国"}, set()])
    assert calls == [] and np.array_equal(again, soft)  # the words' vectors are kept between questions


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="max_sentences"):
        AnswerConfig(max_sentences=0)
    with pytest.raises(ValueError, match="passages"):
        AnswerConfig(passages=20, search_depth=10)


def test_the_question_is_embedded_once_per_answer(seed_index: Path, usem: UsemEmbedder) -> None:
    class Counting:
        """The real embedder, counting the questions it embeds."""

        def __init__(self) -> None:
            self.queries = 0

        def encode_queries(self, texts: list[str]) -> np.ndarray:
            self.queries += len(texts)
            return usem.encode_queries(texts)

        def __getattr__(self, name: str) -> object:
            return getattr(usem, name)

    counting = Counting()
    answer = ExtractiveAnswerer(open_engine(seed_index, counting)).answer(  # type: ignore[arg-type]
        "哪个园区提出数字经济增加值占GDP比重达35%？"
    )
    assert answer.found and counting.queries == 1
