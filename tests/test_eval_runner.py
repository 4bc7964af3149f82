"""The runner over a deterministic fake search: every metric worked out by hand."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from policyqa.eval.datasets import Question
from policyqa.eval.runner import EvalReport, evaluate, is_relevant

# Four questions, one per (language, split) pair, so every group has a known member list.
QUESTIONS = [
    Question(
        "z1", "重庆经开区入选了什么名单？", "zh", "doc_a", "绿色产业示范基地", "dev", "lexical"
    ),
    Question(
        "z2", "长江绿色创新产业园何时揭牌？", "zh", "doc_b", "正式揭牌", "heldout", "paraphrase"
    ),
    Question("e1", "Which park opened?", "en", "doc_c", "green park", "dev", "lexical"),
    Question("e2", "Who published the list?", "en", "DEV_7", "the NDRC", "heldout", None),
]

# Ranked documents each (mode, question) returns. Ranks of the gold document:
#   lexical: z1 -> 1, z2 -> 3 (and again at 4), e1 -> 7, e2 -> not returned
#   hybrid:  z1 -> 1, z2 -> 1, e1 -> 2, e2 -> 4
RANKINGS: dict[tuple[str, str], list[str]] = {
    ("lexical", "z1"): ["doc_a", "x1", "x2"],
    ("lexical", "z2"): ["x1", "x2", "doc_b", "doc_b", "x3"],
    ("lexical", "e1"): ["x1", "x2", "x3", "x4", "x5", "x6", "doc_c", "x7", "x8", "x9"],
    ("lexical", "e2"): ["x1", "x2"],
    ("hybrid", "z1"): ["doc_a"],
    ("hybrid", "z2"): ["doc_b", "x1"],
    ("hybrid", "e1"): ["x1", "doc_c"],
    ("hybrid", "e2"): ["x1", "x2", "x3", "DEV_7"],
}


def _hit(doc: str, text: str) -> dict[str, Any]:
    # Seed-like docs are recognised by the stem of their source path; the
    # CMRC-like one ('DEV_7') only by doc_id, as load_cmrc2018 makes them.
    if doc.startswith("DEV_"):
        return {"doc_id": doc, "source": f"cmrc2018/{doc}", "text": text}
    return {"doc_id": f"hash_{doc}", "source": f"seeds/{doc}.txt", "text": text}


class FakeSearch:
    """Answers from RANKINGS and records every call it gets."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []
        self._by_question = {q.question: q for q in QUESTIONS}

    def __call__(self, query: str, k: int, mode: str) -> Sequence[Mapping[str, Any]]:
        self.calls.append((query, k, mode))
        q = self._by_question[query]
        return [_hit(doc, f"……{q.answer}……") for doc in RANKINGS[(mode, q.qid)][:k]]


@pytest.fixture
def report() -> EvalReport:
    return evaluate(QUESTIONS, FakeSearch(), modes=("lexical", "hybrid"))


def _metrics(report: EvalReport, mode: str, group: str) -> dict[str, float | int]:
    return report.metrics[mode][group].to_json()


# Averages of non-dyadic fractions may differ from the written fraction in the last bit.
def _approx(values: dict[str, float | int]) -> Any:
    return pytest.approx(values, rel=1e-12, abs=0.0)


def test_groups_are_all_languages_and_both_splits(report: EvalReport) -> None:
    assert list(report.metrics["lexical"]) == ["all", "zh", "en", "dev", "heldout"]


def test_lexical_metrics_per_group(report: EvalReport) -> None:
    # all, ranks 1, 3, 7, None: R@1 = 1/4, R@5 = 2/4, R@10 = 3/4,
    # MRR = (1 + 1/3 + 1/7 + 0)/4 = 31/84, nDCG = (1 + 1/log2(4) + 1/log2(8) + 0)/4
    #     = (1 + 1/2 + 1/3)/4 = 11/24
    assert _metrics(report, "lexical", "all") == _approx(
        {
            "n": 4,
            "recall@1": 0.25,
            "recall@5": 0.5,
            "recall@10": 0.75,
            "mrr@10": 31 / 84,
            "ndcg@10": 11 / 24,
        }
    )
    # zh, ranks 1 and 3 (the repeat of doc_b at rank 4 is the same item, so nDCG stays <= 1):
    # MRR = (1 + 1/3)/2 = 2/3, nDCG = (1 + 1/2)/2 = 3/4
    assert _metrics(report, "lexical", "zh") == _approx(
        {
            "n": 2,
            "recall@1": 0.5,
            "recall@5": 1.0,
            "recall@10": 1.0,
            "mrr@10": 2 / 3,
            "ndcg@10": 0.75,
        }
    )
    # en, ranks 7 and None: MRR = (1/7)/2 = 1/14, nDCG = (1/3)/2 = 1/6
    assert _metrics(report, "lexical", "en") == _approx(
        {
            "n": 2,
            "recall@1": 0.0,
            "recall@5": 0.0,
            "recall@10": 0.5,
            "mrr@10": 1 / 14,
            "ndcg@10": 1 / 6,
        }
    )
    # dev, ranks 1 and 7: MRR = (1 + 1/7)/2 = 4/7, nDCG = (1 + 1/3)/2 = 2/3
    assert _metrics(report, "lexical", "dev") == _approx(
        {
            "n": 2,
            "recall@1": 0.5,
            "recall@5": 0.5,
            "recall@10": 1.0,
            "mrr@10": 4 / 7,
            "ndcg@10": 2 / 3,
        }
    )
    # heldout, ranks 3 and None: MRR = (1/3)/2 = 1/6, nDCG = (1/2)/2 = 1/4
    assert _metrics(report, "lexical", "heldout") == _approx(
        {
            "n": 2,
            "recall@1": 0.0,
            "recall@5": 0.5,
            "recall@10": 0.5,
            "mrr@10": 1 / 6,
            "ndcg@10": 0.25,
        }
    )


def test_hybrid_metrics_all(report: EvalReport) -> None:
    # ranks 1, 1, 2, 4 (e2's DEV_7 matched by doc_id): R@1 = 2/4, R@5 = R@10 = 4/4,
    # MRR = (1 + 1 + 1/2 + 1/4)/4 = 11/16,
    # nDCG = (1 + 1 + 1/log2(3) + 1/log2(5))/4
    assert _metrics(report, "hybrid", "all") == _approx(
        {
            "n": 4,
            "recall@1": 0.5,
            "recall@5": 1.0,
            "recall@10": 1.0,
            "mrr@10": 11 / 16,
            "ndcg@10": (2 + 1 / math.log2(3) + 1 / math.log2(5)) / 4,
        }
    )


def test_per_question_ranks(report: EvalReport) -> None:
    assert [(r.mode, r.qid, r.rank) for r in report.results] == [
        ("lexical", "z1", 1),
        ("lexical", "z2", 3),
        ("lexical", "e1", 7),
        ("lexical", "e2", None),
        ("hybrid", "z1", 1),
        ("hybrid", "z2", 1),
        ("hybrid", "e1", 2),
        ("hybrid", "e2", 4),
    ]


def test_markdown_table_rows(report: EvalReport) -> None:
    md = report.to_markdown()
    assert md.startswith("| mode | group | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |\n")
    # 31/84 = 0.3690..., 11/24 = 0.4583...
    assert "| lexical | all | 4 | 0.250 | 0.500 | 0.750 | 0.369 | 0.458 |" in md.splitlines()
    # 1/14 = 0.0714..., 1/6 = 0.1666...
    assert "| lexical | en | 2 | 0.000 | 0.000 | 0.500 | 0.071 | 0.167 |" in md.splitlines()
    # one row per mode x group, plus header and separator
    assert sum(1 for line in md.splitlines() if line.startswith("|")) == 2 + 2 * 5
    assert "Mean time per query: lexical " in md


def test_failures_are_questions_outside_top_5(report: EvalReport) -> None:
    assert [q.qid for q in report.failures("lexical")] == ["e1", "e2"]  # ranks 7 and None
    assert report.failures("hybrid") == []
    with pytest.raises(ValueError, match="'dense' was not evaluated"):
        report.failures("dense")


def test_to_json_is_stable_and_serialisable(report: EvalReport) -> None:
    data = report.to_json()
    assert list(data) == ["format", "k", "level", "modes", "metrics", "mean_ms", "results"]
    assert (data["format"], data["k"], data["level"], data["modes"]) == (
        "policyqa-eval/1",
        10,
        "document",
        ["lexical", "hybrid"],
    )
    assert data["metrics"]["lexical"]["all"]["recall@10"] == 0.75
    assert data["results"][3] == {
        "qid": "e2",
        "mode": "lexical",
        "rank": None,
        "ms": data["results"][3]["ms"],
    }
    assert json.loads(json.dumps(data)) == data


def test_timing_is_recorded_per_mode(report: EvalReport) -> None:
    assert list(report.mean_ms) == ["lexical", "hybrid"]
    assert all(ms >= 0.0 for ms in report.mean_ms.values())
    assert all(r.ms >= 0.0 for r in report.results)


def test_search_called_once_per_question_and_mode_with_k() -> None:
    search = FakeSearch()
    seen: list[tuple[int, int]] = []
    evaluate(QUESTIONS, search, modes=("hybrid",), k=20, progress=lambda d, t: seen.append((d, t)))
    assert search.calls == [(q.question, 20, "hybrid") for q in QUESTIONS]
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_splits_shown_only_when_both_present() -> None:
    dev_only = [q for q in QUESTIONS if q.split == "dev"]
    report = evaluate(dev_only, FakeSearch(), modes=("lexical",))
    assert list(report.metrics["lexical"]) == ["all", "zh", "en"]
    zh_only = [q for q in QUESTIONS if q.language == "zh"]
    report = evaluate(zh_only, FakeSearch(), modes=("lexical",))
    assert list(report.metrics["lexical"]) == ["all", "zh", "dev", "heldout"]


# --- relevance ---------------------------------------------------------------------

Q = QUESTIONS[0]  # gold doc_a, answer 绿色产业示范基地


@pytest.mark.parametrize(
    ("hit", "level", "expected"),
    [
        (
            {"doc_id": "h", "source": "seeds/doc_a.txt", "text": ""},
            "document",
            True,
        ),  # by source stem
        ({"doc_id": "doc_a", "source": "elsewhere/x", "text": ""}, "document", True),  # by doc_id
        ({"doc_id": "h", "source": "seeds/doc_b.txt", "text": Q.answer}, "document", False),
        ({"doc_id": "h", "source": "seeds/doc_a.txt", "text": "别的内容"}, "passage", False),
        # the answer straddles a hard line break and a full-width space
        (
            {
                "doc_id": "h",
                "source": "seeds/doc_a.txt",
                "text": "成为31家绿色产\n业示范\u3000基地之一",
            },
            "passage",
            True,
        ),
        # the answer in the wrong document is not relevant
        ({"doc_id": "h", "source": "seeds/doc_b.txt", "text": Q.answer}, "passage", False),
    ],
)
def test_is_relevant(hit: dict[str, str], level: str, expected: bool) -> None:
    assert is_relevant(hit, Q, level) is expected


def test_passage_level_ranks_first_passage_holding_the_answer() -> None:
    hits = [
        {"doc_id": "h1", "source": "seeds/doc_a.txt", "text": "重庆经开区"},  # right doc, no answer
        {
            "doc_id": "h2",
            "source": "seeds/doc_b.txt",
            "text": "绿色产业示范基地",
        },  # answer, wrong doc
        {"doc_id": "h3", "source": "seeds/doc_a.txt", "text": "绿色产业\n示范基地"},
    ]
    passage = evaluate([Q], lambda query, k, mode: hits, modes=("hybrid",), level="passage")
    document = evaluate([Q], lambda query, k, mode: hits, modes=("hybrid",), level="document")
    assert passage.results[0].rank == 3
    assert document.results[0].rank == 1
    # rank 3: MRR = 1/3, nDCG = 1/log2(4) = 1/2
    assert passage.metrics["hybrid"]["all"].mrr_at_10 == 1 / 3
    assert passage.metrics["hybrid"]["all"].ndcg_at_10 == 0.5


# --- argument errors -------------------------------------------------------------------


def _no_hits(query: str, k: int, mode: str) -> list[dict[str, Any]]:
    return []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"questions": []}, "no questions"),
        ({"modes": ()}, "modes must be non-empty and distinct"),
        ({"modes": ("dense", "dense")}, "modes must be non-empty and distinct"),
        ({"questions": [Q, Q]}, r"repeated: \['z1'\]"),
        ({"k": 5}, "k=5 is smaller than the largest metric cutoff 10"),
        ({"level": "chunk"}, "relevance level 'chunk' is not one of"),
        (
            {
                "search": lambda query, k, mode: (
                    [{"doc_id": "a", "source": "b", "text": ""}] * (k + 1)
                )
            },
            "returned 11 hits",
        ),
        (
            {"search": lambda query, k, mode: [{"doc_id": "a", "text": ""}]},
            r"hit 1 .* lacks \['source'\]",
        ),
    ],
)
def test_evaluate_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"questions": [Q], "search": _no_hits, "modes": ("lexical",)} | kwargs
    with pytest.raises(ValueError, match=message):
        evaluate(**args)
