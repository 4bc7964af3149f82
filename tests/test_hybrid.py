import numpy as np
import pytest

from policyqa.index.errors import InputError
from policyqa.index.hybrid import (
    FusionConfig,
    FusionMethod,
    SearchMode,
    cjk_share,
    fuse,
    lexical_trust,
    min_max,
    reciprocal_rank_fusion,
    weighted_sum,
)


def ranking(rows, scores):
    return np.asarray(rows, dtype=np.int64), np.asarray(scores, dtype=np.float64)


def test_rrf_by_hand():
    # doc 7 is rank 1 in A and rank 2 in B: 1/(60+1) + 1/(60+2)
    # doc 3 is rank 2 in A only: 1/62; doc 9 is rank 1 in B only: 1/61
    fused = reciprocal_rank_fusion([ranking([7, 3], [9, 8]), ranking([9, 7], [0.9, 0.8])], [1.0, 1.0], k=60)
    assert fused[7] == pytest.approx(1 / 61 + 1 / 62, abs=0, rel=1e-15)
    assert fused[3] == 1 / 62
    assert fused[9] == 1 / 61


def test_weighted_sum_by_hand():
    # A: scores 10, 5, 0 -> min-max 1, 0.5, 0; B: 0.8, 0.4 -> 1, 0
    fused = weighted_sum([ranking([1, 2, 3], [10, 5, 0]), ranking([2, 4], [0.8, 0.4])], [0.3, 0.7])
    assert fused == {1: 0.3, 2: 0.3 * 0.5 + 0.7, 3: 0.0, 4: 0.0}


@pytest.mark.parametrize(
    "a,b",
    [
        (([], []), ([], [])),  # both empty
        (([1, 2], [3.0, 1.0]), ([], [])),  # one side empty
        (([1, 2], [3.0, 1.0]), ([5, 6], [0.5, 0.1])),  # no overlap
    ],
)
@pytest.mark.parametrize("method", list(FusionMethod))
def test_fuse_edge_cases(a, b, method):
    out = fuse(ranking(*a), ranking(*b), FusionConfig(method=method))
    assert sorted(r for r, _ in out) == sorted(set(a[0]) | set(b[0]))
    scores = [s for _, s in out]
    assert scores == sorted(scores, reverse=True)


def test_fuse_ties_break_by_row():
    out = fuse(ranking([5, 2], [1.0, 1.0]), ranking([], []), FusionConfig(method=FusionMethod.WEIGHTED))
    assert [r for r, _ in out] == [2, 5]


def test_min_max_constant_list_is_all_best():
    assert min_max(np.array([2.0, 2.0])).tolist() == [1.0, 1.0]


def test_mode_parse_lists_valid_values():
    assert SearchMode.parse("HYBRID") is SearchMode.HYBRID
    with pytest.raises(InputError, match="lexical, dense, hybrid"):
        SearchMode.parse("fuzzy")


def test_script_share_and_lexical_trust():
    assert cjk_share("数字经济") == 1.0
    assert cjk_share("Which park targets a 35% share?") == 0.0
    assert lexical_trust("数字经济") == 1.0
    assert lexical_trust("Which park targets a 35% share?") == 0.05
    # mixed: 5 Han characters and 4 Latin words -> share 5/9 -> counts as Chinese
    assert lexical_trust("what is 广阳湾 digital economy 目标") == 1.0
    # 2 Han characters and 4 Latin words -> share 1/3 -> 0.05 + 0.95 * 2/3
    assert lexical_trust("what is 璧山 digital economy") == pytest.approx(0.05 + 0.95 * 2 / 3)


def test_english_query_lexical_noise_cannot_outvote_dense():
    # dense ranks doc 1 first; lexical noise ranks doc 2 first with a big margin
    lexical, dense = ranking([2, 1], [9.0, 0.1]), ranking([1, 2], [0.6, 0.2])
    out = fuse(lexical, dense, FusionConfig(), lexical_factor=lexical_trust("Which park targets 35%?"))
    assert out[0][0] == 1


def test_config_validation():
    with pytest.raises(InputError):
        FusionConfig(dense_weight=0, lexical_weight=0)


def test_bridge_coverage_raises_the_trust_in_an_english_question():
    english, chinese = "Which park targets a 35% share?", "数字经济"
    assert lexical_trust(english, bridge_coverage=0.0) == lexical_trust(english)
    half, full = lexical_trust(english, bridge_coverage=0.5), lexical_trust(english, bridge_coverage=1.0)
    assert lexical_trust(english) < half < full
    assert lexical_trust(english, bridge_coverage=1.0) <= 1.0
    assert lexical_trust(chinese, bridge_coverage=1.0) == lexical_trust(chinese) == 1.0
