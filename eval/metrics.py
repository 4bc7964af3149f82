"""Ranking metrics with binary relevance, as pure functions.

Every function takes the same input: `is_relevant`, one boolean per rank
position of a ranked list (position 0 is rank 1). Lists shorter than `k` are
fine (a search may return fewer hits); entries past `k` are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k={k} is not a valid cutoff: use k >= 1")


def first_relevant_rank(is_relevant: Sequence[bool]) -> int | None:
    """1-based rank of the first relevant position, or None if nothing is relevant."""
    for position, relevant in enumerate(is_relevant):
        if relevant:
            return position + 1
    return None


def recall_at_k(is_relevant: Sequence[bool], k: int) -> float:
    """Success@k: 1.0 if at least one of the top `k` positions is relevant, else 0.0.

    This is the usual "Recall@k" of QA retrieval: each question has one gold
    document, so finding it (through any of its passages) is full recall. It is
    *not* the fraction of all relevant items retrieved.

    Raises:
        ValueError: if k < 1.
    """
    _check_k(k)
    return 1.0 if any(is_relevant[:k]) else 0.0


def mrr_at_k(is_relevant: Sequence[bool], k: int) -> float:
    """Reciprocal rank of the first relevant position within the top `k`, else 0.0.

    Averaged over questions this is MRR@k.

    Raises:
        ValueError: if k < 1.
    """
    _check_k(k)
    rank = first_relevant_rank(is_relevant[:k])
    return 0.0 if rank is None else 1.0 / rank


def dcg_at_k(is_relevant: Sequence[bool], k: int) -> float:
    """Discounted cumulative gain with binary gains: sum of 1/log2(rank + 1) over relevant ranks.

    Raises:
        ValueError: if k < 1.
    """
    _check_k(k)
    return sum(1.0 / math.log2(i + 2) for i, rel in enumerate(is_relevant[:k]) if rel)


def ndcg_at_k(is_relevant: Sequence[bool], k: int, num_relevant: int = 1) -> float:
    """Normalised DCG@k with binary gains (Järvelin & Kekäläinen, 2002).

    The ideal DCG puts min(num_relevant, k) relevant items at the top ranks.
    `num_relevant` is how many relevant items exist in total, retrieved or not;
    it defaults to 1 because each of our questions has exactly one gold document.

    Raises:
        ValueError: if k < 1 or num_relevant < 1, or if the top `k` mark more
            positions relevant than `num_relevant` says exist (the score would
            exceed 1; keep only the first hit per relevant item, or pass the
            true count).
    """
    _check_k(k)
    if num_relevant < 1:
        raise ValueError(
            f"num_relevant={num_relevant} must be >= 1: nDCG is undefined with nothing relevant"
        )
    marked = sum(1 for rel in is_relevant[:k] if rel)
    if marked > num_relevant:
        raise ValueError(
            f"{marked} of the top {k} positions are marked relevant "
            f"but num_relevant={num_relevant}: "
            "pass the true number of relevant items, or mark only the first hit of each"
        )
    ideal = dcg_at_k([True] * min(num_relevant, k), k)
    return dcg_at_k(is_relevant, k) / ideal


# --- extractive answers (CMRC 2018's official scoring) ----------------------------

# What CMRC 2018's evaluate script drops before comparing: ASCII and
# full-width punctuation and whitespace.
_CMRC_PUNCTUATION = set(
    "-:_*^/\\~`+=,.!?;'\"()[]{}<>|@#$%&"
    "，。：？！“”；’《》……·、「」（）－～『』【】〈〉〔〕　 \t\n\r"
)


def cmrc_tokens(text: str) -> list[str]:
    """CMRC 2018's "mixed segmentation": each CJK character (and punctuation mark)
    is a token, a run of Latin letters or digits is one token; punctuation and
    whitespace are then dropped; Latin is lower-cased."""
    tokens: list[str] = []
    run = ""
    for ch in text.lower().strip():
        if "\u4e00" <= ch <= "\u9fff" or ch in _CMRC_PUNCTUATION:
            if run:
                tokens.append(run)
                run = ""
            tokens.append(ch)
        else:
            run += ch
    if run:
        tokens.append(run)
    return [t for t in (t.strip() for t in tokens) if t and t not in _CMRC_PUNCTUATION]


def _longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of tokens (CMRC 2018 scores F1 on it, not on a bag)."""
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def cmrc_f1(prediction: str, answers: Sequence[str]) -> float:
    """CMRC 2018 F1 of a short answer: the best over the gold answers of the
    F1 of the longest common token run (precision = run / predicted tokens,
    recall = run / gold tokens). 0.0 for an empty prediction."""
    pred = cmrc_tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = cmrc_tokens(answer)
        run = _longest_common_run(pred, gold)
        if run:
            p, r = run / len(pred), run / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def cmrc_exact(prediction: str, answers: Sequence[str]) -> float:
    """1.0 when the prediction equals a gold answer once punctuation and whitespace are dropped."""
    pred = "".join(cmrc_tokens(prediction))
    return 1.0 if pred and any(pred == "".join(cmrc_tokens(a)) for a in answers) else 0.0


def squeeze(text: str) -> str:
    """The text without any whitespace (seed reports are hard-wrapped mid-sentence)."""
    return "".join(text.split())


def answer_in_quotes(answer: str, quotes: Sequence[str]) -> bool:
    """Whether the gold answer lies inside one cited quote, or across the quotes
    read in order (whitespace ignored)."""
    gold = squeeze(answer)
    return bool(gold) and (any(gold in squeeze(q) for q in quotes) or gold in squeeze("".join(quotes)))
