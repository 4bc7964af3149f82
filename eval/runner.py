"""Run a question set against a search function in several modes and report metrics.

The runner does not know how the engine is built: it calls a `SearchFn`
`(query, k, mode) -> hits`, where each hit is a mapping with at least
`doc_id`, `source` and `text` (what `Hit.to_dict()` gives).

Each question has exactly one gold document, so a question's result is the
rank of its *first* relevant hit; later hits from the same document are the
same relevant item again, not new ones. All metrics are computed from that
rank, with the pure functions of `eval.metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyqa.eval.datasets import LANGUAGES, SPLITS, Question
from policyqa.eval.metrics import first_relevant_rank, mrr_at_k, ndcg_at_k, recall_at_k

SearchFn = Callable[[str, int, str], Sequence[Mapping[str, Any]]]
"""(query, k, mode) -> at most k hits, best first, each with doc_id, source, text."""

ProgressFn = Callable[[int, int], None]
"""Called as progress(done, total) after each query; total = questions x modes."""

LEVELS = ("document", "passage")
DEFAULT_MODES = ("lexical", "dense", "hybrid")
REPORT_FORMAT = "policyqa-eval/1"
FAILURE_CUTOFF = 5  # failures() lists questions whose gold is not in the top 5
METRIC_CUTOFF = 10  # R@10, MRR@10 and nDCG@10 need at least 10 hits per query

_REQUIRED_HIT_KEYS = ("doc_id", "source", "text")


# --- relevance -------------------------------------------------------------------


def _squeeze(s: str) -> str:
    # Seed texts are hard-wrapped mid-sentence, so an answer span may straddle a
    # line break; dropping all whitespace (full-width included) makes it match.
    return "".join(s.split())


def is_relevant(hit: Mapping[str, Any], q: Question, level: str) -> bool:
    """Whether `hit` answers `q` at the given relevance level.

    'document': the hit comes from the gold document, i.e. the stem of
    `hit['source']` or `hit['doc_id']` equals `q.gold_doc`.
    'passage': the document matches and `q.answer` occurs in `hit['text']`,
    comparing both with all whitespace removed.

    Raises:
        ValueError: if `level` is not 'document' or 'passage'.
        KeyError: if the hit lacks 'doc_id' or 'source' (or 'text' for 'passage').
    """
    if level not in LEVELS:
        raise ValueError(f"relevance level {level!r} is not one of {LEVELS}")
    same_doc = Path(hit["source"]).stem == q.gold_doc or hit["doc_id"] == q.gold_doc
    if level == "document" or not same_doc:
        return same_doc
    return _squeeze(q.answer) in _squeeze(hit["text"])


# --- report ----------------------------------------------------------------------


@dataclass(frozen=True)
class GroupMetrics:
    """Mean metrics over one group of questions in one mode."""

    n: int
    recall_at_1: float
    recall_at_5: float
    recall_at_10: float
    mrr_at_10: float
    ndcg_at_10: float

    def to_json(self) -> dict[str, float | int]:
        """Keys: n, recall@1, recall@5, recall@10, mrr@10, ndcg@10 (unrounded)."""
        return {
            "n": self.n,
            "recall@1": self.recall_at_1,
            "recall@5": self.recall_at_5,
            "recall@10": self.recall_at_10,
            "mrr@10": self.mrr_at_10,
            "ndcg@10": self.ndcg_at_10,
        }


@dataclass(frozen=True)
class QuestionResult:
    """One question in one mode: 1-based rank of the first relevant hit (None if
    none among the k returned) and the time the search call took."""

    qid: str
    mode: str
    rank: int | None
    ms: float


@dataclass(frozen=True)
class EvalReport:
    """Everything one `evaluate()` run measured.

    `metrics[mode][group]` holds `GroupMetrics`; groups are 'all', then each
    language present ('zh', 'en'), then 'dev' and 'heldout' when both splits are
    present. `mean_ms[mode]` is the mean search time per query in milliseconds.
    `results` has one row per (mode, question), modes in the order given, then
    questions in input order.
    """

    modes: tuple[str, ...]
    k: int
    level: str
    questions: tuple[Question, ...]
    metrics: dict[str, dict[str, GroupMetrics]]
    mean_ms: dict[str, float]
    results: tuple[QuestionResult, ...]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with this structure (keys in this order)::

        {"format": "policyqa-eval/1", "k": 10, "level": "document",
         "modes": ["lexical", ...],
         "metrics": {mode: {group: {"n", "recall@1", "recall@5",
                                    "recall@10", "mrr@10", "ndcg@10"}}},
         "mean_ms": {mode: float},
         "results": [{"qid", "mode", "rank" (int or null), "ms"}, ...]}
        """
        return {
            "format": REPORT_FORMAT,
            "k": self.k,
            "level": self.level,
            "modes": list(self.modes),
            "metrics": {
                mode: {group: gm.to_json() for group, gm in groups.items()}
                for mode, groups in self.metrics.items()
            },
            "mean_ms": dict(self.mean_ms),
            "results": [
                {"qid": r.qid, "mode": r.mode, "rank": r.rank, "ms": r.ms} for r in self.results
            ],
        }

    def to_markdown(self) -> str:
        """One Markdown table, a row per mode x group, values to 3 decimals,
        followed by a line with the mean time per query of each mode."""
        lines = [
            "| mode | group | n | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for mode, groups in self.metrics.items():
            for group, m in groups.items():
                values = (m.recall_at_1, m.recall_at_5, m.recall_at_10, m.mrr_at_10, m.ndcg_at_10)
                cells = " | ".join(f"{v:.3f}" for v in values)
                lines.append(f"| {mode} | {group} | {m.n} | {cells} |")
        timing = ", ".join(f"{mode} {ms:.1f} ms" for mode, ms in self.mean_ms.items())
        lines += ["", f"Mean time per query: {timing}."]
        return "\n".join(lines) + "\n"

    def failures(self, mode: str) -> list[Question]:
        """Questions whose first relevant hit is not in the top 5 in `mode`, in input order.

        Raises:
            ValueError: if `mode` was not evaluated.
        """
        if mode not in self.modes:
            raise ValueError(f"mode {mode!r} was not evaluated; evaluated modes: {self.modes}")
        by_id = {q.qid: q for q in self.questions}
        return [
            by_id[r.qid]
            for r in self.results
            if r.mode == mode and (r.rank is None or r.rank > FAILURE_CUTOFF)
        ]


# --- evaluation ------------------------------------------------------------------


def evaluate(
    questions: Sequence[Question],
    search: SearchFn,
    modes: Sequence[str] = DEFAULT_MODES,
    k: int = 10,
    level: str = "document",
    progress: ProgressFn | None = None,
) -> EvalReport:
    """Ask every question in every mode and compute Recall@1/5/10, MRR@10, nDCG@10.

    Args:
        questions: the question set; ids must be unique.
        search: `(query, k, mode) -> hits`, called once per question and mode.
        modes: mode names passed through to `search`, e.g. 'lexical', 'dense', 'hybrid'.
        k: hits asked for per query; ranks up to k are recorded (>= 10 so that
            the @10 metrics are defined).
        level: 'document' or 'passage' relevance, see `is_relevant`.
        progress: optional `progress(done, total)` callback after each query.

    Returns:
        An `EvalReport`; search time per query is measured with time.perf_counter.

    Raises:
        ValueError: for no questions, no or repeated modes, repeated question ids,
            k < 10, an unknown level, or a search that returns more than k hits
            or a hit without doc_id, source or text.
    """
    _check_arguments(questions, modes, k, level)
    total = len(questions) * len(modes)
    results: list[QuestionResult] = []
    for mode in modes:
        for q in questions:
            results.append(_run_one(q, search, mode, k, level))
            if progress is not None:
                progress(len(results), total)
    return EvalReport(
        modes=tuple(modes),
        k=k,
        level=level,
        questions=tuple(questions),
        metrics={mode: _group_metrics(questions, results, mode, k) for mode in modes},
        mean_ms={mode: _mean([r.ms for r in results if r.mode == mode]) for mode in modes},
        results=tuple(results),
    )


def _check_arguments(
    questions: Sequence[Question], modes: Sequence[str], k: int, level: str
) -> None:
    if not questions:
        raise ValueError("no questions to evaluate: load a non-empty question set")
    if not modes or len(set(modes)) != len(modes):
        raise ValueError(f"modes must be non-empty and distinct, got {list(modes)}")
    ids = [q.qid for q in questions]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"question ids must be unique; repeated: {dupes[:5]}")
    if k < METRIC_CUTOFF:
        raise ValueError(
            f"k={k} is smaller than the largest metric cutoff {METRIC_CUTOFF}: use k >= 10"
        )
    if level not in LEVELS:
        raise ValueError(f"relevance level {level!r} is not one of {LEVELS}")


def _run_one(q: Question, search: SearchFn, mode: str, k: int, level: str) -> QuestionResult:
    start = time.perf_counter()
    hits = search(q.question, k, mode)
    ms = (time.perf_counter() - start) * 1000.0
    if len(hits) > k:
        raise ValueError(
            f"search returned {len(hits)} hits for question {q.qid!r} in mode {mode!r} "
            f"but k={k} were asked for: the search function must return at most k"
        )
    for i, hit in enumerate(hits):
        missing = [key for key in _REQUIRED_HIT_KEYS if key not in hit]
        if missing:
            raise ValueError(
                f"hit {i + 1} for question {q.qid!r} in mode {mode!r} lacks {missing}: "
                "hits must carry doc_id, source and text (as Hit.to_dict() does)"
            )
    rank = first_relevant_rank([is_relevant(h, q, level) for h in hits])
    return QuestionResult(qid=q.qid, mode=mode, rank=rank, ms=ms)


def _groups(questions: Sequence[Question]) -> dict[str, list[str]]:
    """Group name -> question ids, in report order."""
    groups = {"all": [q.qid for q in questions]}
    for lang in LANGUAGES:
        ids = [q.qid for q in questions if q.language == lang]
        if ids:
            groups[lang] = ids
    by_split = {s: [q.qid for q in questions if q.split == s] for s in SPLITS}
    # A split row that repeats 'all' adds nothing, so show splits only side by side.
    if all(by_split.values()):
        groups.update(by_split)
    return groups


def _group_metrics(
    questions: Sequence[Question], results: Sequence[QuestionResult], mode: str, k: int
) -> dict[str, GroupMetrics]:
    rank_of = {r.qid: r.rank for r in results if r.mode == mode}
    return {
        name: _metrics_for([rank_of[qid] for qid in ids], k)
        for name, ids in _groups(questions).items()
    }


def _metrics_for(ranks: Sequence[int | None], k: int) -> GroupMetrics:
    # Rebuild each question's relevance list with only its first relevant hit
    # marked: the gold document is one item, however many of its passages came back.
    flags = [[rank == i + 1 for i in range(k)] for rank in ranks]
    return GroupMetrics(
        n=len(ranks),
        recall_at_1=_mean([recall_at_k(f, 1) for f in flags]),
        recall_at_5=_mean([recall_at_k(f, 5) for f in flags]),
        recall_at_10=_mean([recall_at_k(f, 10) for f in flags]),
        mrr_at_10=_mean([mrr_at_k(f, 10) for f in flags]),
        ndcg_at_10=_mean([ndcg_at_k(f, 10) for f in flags]),
    )


def _mean(values: Sequence[float]) -> float:
    # Never empty: every group and every mode holds at least one question.
    return sum(values) / len(values)
