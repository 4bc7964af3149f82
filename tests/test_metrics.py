"""Metric values worked out by hand; see the comment on each case."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from policyqa.eval.metrics import dcg_at_k, first_relevant_rank, mrr_at_k, ndcg_at_k, recall_at_k

F, T = False, True


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ([T, F, F], 1),
        ([F, F, T, T], 3),  # the first relevant one counts, not the later one
        ([F, F, F], None),
        ([], None),
    ],
)
def test_first_relevant_rank(flags: list[bool], expected: int | None) -> None:
    assert first_relevant_rank(flags) == expected


@pytest.mark.parametrize(
    ("flags", "k", "expected"),
    [
        ([F, F, T], 3, 1.0),  # relevant at rank 3, inside the top 3
        ([F, F, T], 2, 0.0),  # relevant at rank 3, outside the top 2
        ([T, T, T], 1, 1.0),  # success@k: several relevant hits still count once
        ([F, F], 10, 0.0),  # fewer hits than k and none relevant
        ([], 5, 0.0),  # an empty result list finds nothing
    ],
)
def test_recall_at_k_is_success_at_k(flags: list[bool], k: int, expected: float) -> None:
    assert recall_at_k(flags, k) == expected


@pytest.mark.parametrize(
    ("flags", "k", "expected"),
    [
        ([T, F, F], 10, 1.0),  # first relevant at rank 1, so MRR = 1/1
        ([F, F, T], 10, 1 / 3),  # first relevant at rank 3, so MRR = 1/3
        ([F, T, T], 10, 0.5),  # first relevant at rank 2; the one at rank 3 is ignored
        ([F] * 10 + [T], 10, 0.0),  # relevant at rank 11, beyond the cutoff
        ([], 10, 0.0),
    ],
)
def test_mrr_at_k(flags: list[bool], k: int, expected: float) -> None:
    assert mrr_at_k(flags, k) == expected


@pytest.mark.parametrize(
    ("flags", "k", "num_relevant", "expected"),
    [
        ([T], 10, 1, 1.0),  # DCG = 1/log2(2) = 1 = ideal DCG
        ([F, F, T], 10, 1, 0.5),  # DCG = 1/log2(3+1) = 1/2; ideal DCG = 1
        ([F] * 6 + [T], 10, 1, 1 / 3),  # rank 7: DCG = 1/log2(8) = 1/3
        ([F] * 10 + [T], 10, 1, 0.0),  # rank 11 is past the cutoff
        ([F, F, F], 10, 1, 0.0),
        # Two relevant of two, at ranks 1 and 3: DCG = 1 + 1/2 = 1.5;
        # ideal puts them at ranks 1 and 2: 1 + 1/log2(3).
        ([T, F, T], 10, 2, 1.5 / (1 + 1 / math.log2(3))),
        # Three relevant items exist but k = 1: the ideal DCG uses min(3, 1) = 1 item.
        ([T], 1, 3, 1.0),
    ],
)
def test_ndcg_at_k(flags: list[bool], k: int, num_relevant: int, expected: float) -> None:
    assert ndcg_at_k(flags, k, num_relevant) == expected


def test_dcg_at_k_sums_discounted_binary_gains() -> None:
    # ranks 1 and 3 relevant: 1/log2(2) + 1/log2(4) = 1 + 0.5
    assert dcg_at_k([T, F, T], 10) == 1.5


def test_ndcg_refuses_more_relevant_hits_than_exist() -> None:
    # Two hits marked relevant with num_relevant=1 would give nDCG > 1.
    with pytest.raises(ValueError, match="num_relevant=1"):
        ndcg_at_k([T, T], 10)


@pytest.mark.parametrize("fn", [recall_at_k, mrr_at_k, dcg_at_k, ndcg_at_k])
def test_k_below_one_is_rejected(fn: Callable[..., float]) -> None:
    with pytest.raises(ValueError, match="k=0"):
        fn([T], 0)


def test_ndcg_num_relevant_below_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="num_relevant=0"):
        ndcg_at_k([F], 10, num_relevant=0)


# ---- CMRC 2018 short-answer scoring ----


def test_cmrc_tokens_split_chinese_by_character_and_keep_latin_words() -> None:
    from policyqa.eval.metrics import cmrc_tokens

    assert cmrc_tokens("1998年5月 Apple公司，") == ["1998", "年", "5", "月", "apple", "公", "司"]
    assert cmrc_tokens("“，。”") == []


def test_cmrc_f1_is_over_the_longest_common_run() -> None:
    from policyqa.eval.metrics import cmrc_exact, cmrc_f1

    # pred 1998 年 (2 tokens), gold 1998 年 5 月 (4): run 2, P = 1, R = 0.5, F1 = 2/3
    assert cmrc_f1("1998年", ["1998年5月"]) == pytest.approx(2 / 3)
    # the best of several gold answers counts
    assert cmrc_f1("张三", ["李四", "张三"]) == 1.0
    # a common run, not a bag: 甲乙 vs 乙甲 share runs of length 1 only: P = R = 1/2
    assert cmrc_f1("甲乙", ["乙甲"]) == pytest.approx(0.5)
    assert cmrc_f1("", ["张三"]) == 0.0
    assert cmrc_exact("“张三”", ["张三"]) == 1.0
    assert cmrc_exact("张三丰", ["张三"]) == 0.0 and cmrc_exact("", [""]) == 0.0


def test_answer_in_quotes_ignores_line_breaks_and_reads_across_quotes() -> None:
    from policyqa.eval.metrics import answer_in_quotes

    assert answer_in_quotes("数字经济增加值占GDP比重达35%", ["数字经济增\n加值占GDP比重达35%。"])
    assert answer_in_quotes("甲乙丙", ["……甲乙", "丙……"])  # an answer straddling two consecutive quotes
    assert not answer_in_quotes("甲乙丙", [])
    assert not answer_in_quotes("", ["甲"])
