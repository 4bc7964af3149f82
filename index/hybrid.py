"""Fusion of the lexical and dense rankings: pure functions over (row → score).

Two methods, selectable:
- reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): score =
  Σ w / (k + rank); robust to the two scorers' different scales;
- weighted sum of min-max normalized scores: keeps how far ahead a hit is,
  which RRF throws away.

For the weighted sum the engine hands over the union of the two sides'
candidates, each scored by both sides (`Engine._retrieve`): a passage that
only the dense side retrieved brings its real BM25 score rather than a zero,
so a hit's fused score follows from the two scores it reports. RRF gets each
side's own list, since a rank past the list's end means "not retrieved".
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import numpy as np

from .enums import parse_enum
from .errors import InputError


class SearchMode(enum.StrEnum):
    LEXICAL = "lexical"
    DENSE = "dense"
    HYBRID = "hybrid"

    @classmethod
    def parse(cls, value: object) -> SearchMode:
        return parse_enum(cls, value, "mode")


class FusionMethod(enum.StrEnum):
    RRF = "rrf"
    WEIGHTED = "weighted"

    @classmethod
    def parse(cls, value: object) -> FusionMethod:
        return parse_enum(cls, value, "fusion")


@dataclass(frozen=True)
class FusionConfig:
    """How the two rankings are combined; defaults chosen on the seed dev questions (see README)."""

    method: FusionMethod = FusionMethod.WEIGHTED
    normalization: str = "minmax"  # minmax | max | dbsf (weighted method only)
    rrf_k: int = 60
    # Chosen on dev questions only (`python -m policyqa.eval.tune_fusion`): BM25 is the
    # stronger ranker for Chinese questions (CMRC dev MRR@10 0.971 vs 0.716
    # dense), the dense side rescues paraphrases and English.
    dense_weight: float = 0.3
    lexical_weight: float = 0.7
    # The character-bigram signal (index/char_bigrams.py) for Chinese questions,
    # added on top of the two; chosen on dev questions (see README, "Character bigrams").
    char_weight: float = 0.3
    # How many candidates each side contributes before fusion, per requested hit.
    depth_factor: int = 5
    min_depth: int = 50

    def __post_init__(self) -> None:
        if self.dense_weight < 0 or self.lexical_weight < 0 or self.dense_weight + self.lexical_weight == 0:
            raise InputError("fusion weights must be non-negative and not both zero")
        if not self.char_weight >= 0:
            raise InputError(f"char_weight={self.char_weight}: use a non-negative weight (0 switches it off)")
        if self.normalization not in NORMALIZERS:
            raise InputError(f"unknown normalization {self.normalization!r}: use one of {', '.join(NORMALIZERS)}")
        if self.rrf_k < 1:
            raise InputError(f"rrf_k={self.rrf_k}: use a positive integer")


Ranking = tuple[np.ndarray, np.ndarray]  # (rows, scores), best first


def reciprocal_rank_fusion(rankings: list[Ranking], weights: list[float], k: int = 60) -> dict[int, float]:
    """Σ_i w_i / (k + rank_i(d)), rank counted from 1; a list that misses d adds nothing."""
    fused: dict[int, float] = {}
    for (rows, _), w in zip(rankings, weights, strict=True):
        for rank, row in enumerate(rows.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + w / (k + rank)
    return fused


def min_max(scores: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a list of equal scores maps to all ones (they are all the best)."""
    if scores.size == 0:
        return scores.astype(np.float64)
    lo, hi = float(scores.min()), float(scores.max())
    if hi - lo <= 1e-12:
        return np.ones_like(scores, dtype=np.float64)
    return (scores.astype(np.float64) - lo) / (hi - lo)


def max_scaled(scores: np.ndarray) -> np.ndarray:
    """Divide by the best score: keeps how flat a list is (a flat list gives
    every candidate nearly the same share, so it cannot decide the order)."""
    if scores.size == 0:
        return scores.astype(np.float64)
    top = float(scores.max())
    return scores.astype(np.float64) / top if top > 0 else np.zeros_like(scores, dtype=np.float64)


def dbsf(scores: np.ndarray) -> np.ndarray:
    """Distribution-based score fusion scaling: (s - (μ - 3σ)) / 6σ, clipped to [0, 1]."""
    if scores.size < 2:
        return np.ones_like(scores, dtype=np.float64)
    mu, sigma = float(scores.mean()), float(scores.std())
    if sigma <= 1e-12:
        return np.ones_like(scores, dtype=np.float64)
    return np.clip((scores.astype(np.float64) - (mu - 3 * sigma)) / (6 * sigma), 0.0, 1.0)


NORMALIZERS = {"minmax": min_max, "max": max_scaled, "dbsf": dbsf}


def weighted_sum(rankings: list[Ranking], weights: list[float], normalization: str = "minmax") -> dict[int, float]:
    """Σ_i w_i * norm_i(score_i(d)); a list that misses d contributes 0 for it."""
    normalize = NORMALIZERS[normalization]
    fused: dict[int, float] = {}
    for (rows, scores), w in zip(rankings, weights, strict=True):
        for row, s in zip(rows.tolist(), normalize(scores).tolist(), strict=True):
            fused[row] = fused.get(row, 0.0) + w * s
    return fused


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]+")


def cjk_share(query: str) -> float:
    """Share of the query's words that are Chinese characters (each Han character
    counts as one word, each Latin word as one): 1.0 for Chinese, 0.0 for English."""
    han = len(_CJK.findall(query))
    latin = len(_WORD.findall(query))
    return han / (han + latin) if han + latin else 1.0


# How much a bridged English word counts toward the lexical vote, against a
# Chinese character's 1: a gloss is a guess among senses, so less (seed dev).
BRIDGED_WORD_TRUST = 0.5


# The lexical vote of a question without Chinese, against 1 for a Chinese one;
# chosen on the seed dev questions (`python -m policyqa.eval.tune_fusion`).
LEXICAL_FLOOR = 0.05


def lexical_trust(query: str, bridge_coverage: float | None = None) -> float:
    """Factor on the lexical weight by script: a question without Chinese gives
    BM25 only a few shared tokens (numbers, 'GDP') to match, which mostly adds
    noise, so its vote is scaled down to LEXICAL_FLOOR rather than allowed to
    drag dense hits down. Half Chinese or more counts as fully Chinese.

    With the query bridge on, `bridge_coverage` is the share of the query's
    English words that found Chinese index terms (`Translation.coverage`): those
    words then count toward the Chinese share, at BRIDGED_WORD_TRUST each."""
    share = cjk_share(query)
    if bridge_coverage is not None:
        share += (1 - share) * BRIDGED_WORD_TRUST * min(1.0, max(0.0, bridge_coverage))
    return LEXICAL_FLOOR + (1 - LEXICAL_FLOOR) * min(1.0, 2 * share)


def fuse(
    lexical: Ranking,
    dense: Ranking,
    config: FusionConfig,
    lexical_factor: float = 1.0,
    chars: Ranking | None = None,
    char_factor: float = 1.0,
) -> list[tuple[int, float]]:
    """Fused (row, score) pairs, best first; ties broken by lower row for stable output.

    `chars`: the character-bigram ranking of the candidates (Chinese questions),
    a third list at `config.char_weight` × `char_factor`."""
    rankings, weights = [lexical, dense], [config.lexical_weight * lexical_factor, config.dense_weight]
    if chars is not None and config.char_weight * char_factor > 0:
        rankings.append(chars)
        weights.append(config.char_weight * char_factor)
    if config.method is FusionMethod.RRF:
        fused = reciprocal_rank_fusion(rankings, weights, k=config.rrf_k)
    else:
        fused = weighted_sum(rankings, weights, config.normalization)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
