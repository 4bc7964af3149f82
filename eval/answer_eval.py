"""Answer evaluation: does `/ask`'s answer quote the gold answer, name it in the
short answer, and say "not found" when the index cannot answer?

Conditions:
- `present`: the question's own document is in the index.
- `absent`: it is not (CMRC 2018: the paragraphs are split into folds and each
  fold's questions are asked of an index built without that fold), or the
  question is one no document answers (the seed set's unanswerable.jsonl).

Per question: `found`; `hit` (present only: the gold answer lies inside the
cited quotes); the short answer's CMRC 2018 exact match and F1; the time the
answer took. `summarize` aggregates them per group.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from policyqa.index.answer_types import AnswerType, detect_answer_type
from policyqa.index.engine import Engine
from policyqa.index.manifest import corpus_fingerprint
from policyqa.index.types import Document

from .datasets import Question
from .metrics import answer_in_quotes, cmrc_exact, cmrc_f1

FOLDS = 5
REPORT_FORMAT = "policyqa-answer-eval/1"
# "who / where / when / how many": the questions a short span answers.
TYPED = tuple(t.value for t in AnswerType if t.typed)

AnswerFn = Callable[[str], Any]
"""question -> an Answer-like object with `found`, `citations` (each with `quote`)
and optionally `short_answer` (with `text`)."""


@dataclass(frozen=True)
class AnswerRow:
    """One question asked in one condition."""

    qid: str
    dataset: str
    condition: str  # present | absent
    split: str
    language: str
    qtype: str
    found: bool
    hit: bool  # present: the gold answer is inside the quotes (False when not found)
    short: str  # the short answer's text ('' when none)
    exact: float | None  # None where the question set has no short gold answer (the seed set)
    f1: float | None
    quotes: int
    longest_quote: int
    ms: float


def fold_of(position: int, folds: int = FOLDS) -> int:
    """The fold of the paragraph at `position` in the CMRC file. Blocks of ten so
    that each fold holds both dev paragraphs (every tenth) and held-out ones."""
    return (position // 10) % folds


def fold_models_path(folds_dir: Path, fold: int) -> Path:
    """Where `python -m policyqa.eval.fit_answerer` writes the answer models fitted without `fold`."""
    return Path(folds_dir) / f"answer-models-without-{fold}of{FOLDS}.json"


def answer_split(position: int) -> str:
    """Paragraphs 0, 5, 10, 15, ... are `dev`, the rest `heldout`: the split the
    answer models were fitted on before they were cross-fitted over every fold,
    kept as a reporting split so that figures compare with earlier answerers."""
    return "dev" if position % 5 == 0 else "heldout"


def with_answer_splits(docs: Sequence[Document], questions: Sequence[Question]) -> list[Question]:
    """CMRC questions relabelled with `answer_split` of their paragraph."""
    position = {d.doc_id: i for i, d in enumerate(docs)}
    return [replace(q, split=answer_split(position[q.gold_doc])) for q in questions]


def holds_gold(q: Question, quotes: Sequence[str]) -> bool:
    """One of the question's gold answers lies inside the quotes (whitespace ignored)."""
    return any(answer_in_quotes(g, quotes) for g in q.all_answers)


def ask_one(answer_fn: AnswerFn, q: Question, dataset: str, condition: str) -> AnswerRow:
    """Ask `q` and score the answer."""
    started = time.perf_counter()
    answer = answer_fn(q.question)
    ms = (time.perf_counter() - started) * 1000
    quotes = [c.quote for c in answer.citations] if answer.found else []
    short_obj = getattr(answer, "short_answer", None) if answer.found else None
    short = short_obj.text if short_obj is not None else ""
    present = condition == "present"
    golds = q.all_answers
    short_gold = q.kind == "cmrc"  # the seed set's answers are context spans, not short answers
    return AnswerRow(
        qid=q.qid,
        dataset=dataset,
        condition=condition,
        split=q.split,
        language=q.language,
        qtype=detect_answer_type(q.question).value,
        found=bool(answer.found),
        hit=present and bool(quotes) and holds_gold(q, quotes),
        short=short,
        exact=None if not short_gold else cmrc_exact(short, golds) if present and short else 0.0,
        f1=None if not short_gold else cmrc_f1(short, golds) if present and short else 0.0,
        quotes=len(quotes),
        longest_quote=max((len(q_) for q_ in quotes), default=0),
        ms=ms,
    )


def ask_all(
    answer_fn: AnswerFn,
    questions: Iterable[Question],
    dataset: str,
    condition: str,
    progress: Callable[[int], None] | None = None,
) -> list[AnswerRow]:
    rows = []
    for q in questions:
        rows.append(ask_one(answer_fn, q, dataset, condition))
        if progress:
            progress(1)
    return rows


# ---- CMRC 2018 folds ----


def absent_engines(
    source: Path,
    docs: Sequence[Document],
    cache_dir: Path,
    open_engine: Callable[[Path], Engine],
    folds: int = FOLDS,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[Engine]:
    """One engine per fold, its index the full one less the fold's paragraphs.

    Each is a copy of the full index with the fold removed, so nothing is
    embedded again; it is kept in `cache_dir` and reused while its corpus is
    unchanged (its manifest's corpus fingerprint says so).
    """
    engines = []
    for fold in range(folds):
        keep = [d for i, d in enumerate(docs) if fold_of(i, folds) != fold]
        drop = [d.doc_id for i, d in enumerate(docs) if fold_of(i, folds) == fold]
        wanted = corpus_fingerprint((d.doc_id, d.fingerprint) for d in keep)
        target = cache_dir / f"absent-{fold}of{folds}"
        engine = open_engine(target)
        if engine.corpus_fingerprint() != wanted:
            if not (source / "CURRENT").is_file():
                raise ValueError(f"no index at {source} to copy for the absent condition")
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
            engine = open_engine(target)
            engine.apply([], remove=drop, progress=progress)
        engines.append(engine)
    return engines


# ---- summaries ----


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def summarize(rows: Sequence[AnswerRow]) -> dict[str, Any]:
    """The figures of one group of rows (unrounded).

    answer_hit and false_abstention are over the present rows, abstention over
    the absent ones; exact and f1 over present rows of typed questions
    (who/where/when/how many), `short_given` the share of those that got a short answer.
    """
    present = [r for r in rows if r.condition == "present"]
    absent = [r for r in rows if r.condition == "absent"]
    typed = [r for r in present if r.qtype in TYPED]
    ms = [r.ms for r in rows]
    mean = lambda xs: float(np.mean(xs)) if xs else None  # noqa: E731
    return {
        "present": len(present),
        "absent": len(absent),
        "answer_hit": mean([r.hit for r in present]),
        "false_abstention": mean([not r.found for r in present]),
        "abstention": mean([not r.found for r in absent]),
        "typed": len(typed),
        "short_given": mean([bool(r.short) for r in typed]),
        "exact": mean([r.exact for r in typed if r.exact is not None]),
        "f1": mean([r.f1 for r in typed if r.f1 is not None]),
        "mean_quotes": mean([r.quotes for r in present if r.found]),
        "longest_quote": max((r.longest_quote for r in rows), default=0),
        "p50_ms": _percentile(ms, 50),
        "p95_ms": _percentile(ms, 95),
    }


def groups(rows: Sequence[AnswerRow]) -> dict[str, list[AnswerRow]]:
    """all, then per split, then per language where there are several."""
    out: dict[str, list[AnswerRow]] = {"all": list(rows)}
    for split in ("dev", "heldout"):
        chosen = [r for r in rows if r.split == split]
        if chosen and len(chosen) < len(rows):
            out[split] = chosen
    languages = sorted({r.language for r in rows})
    if len(languages) > 1:
        for lang in languages:
            out[lang] = [r for r in rows if r.language == lang]
            for split in ("dev", "heldout"):
                chosen = [r for r in out[lang] if r.split == split]
                if chosen and len(chosen) < len(out[lang]):
                    out[f"{lang} {split}"] = chosen
    return out


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def to_markdown(dataset: str, rows: Sequence[AnswerRow]) -> str:
    """One table: a line per group."""
    head = (
        "| group | present | answer hit | false abstention | quotes | absent | abstention | typed | short given "
        "| short EM | short F1 | p50 ms | p95 ms |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [f"**{dataset}**", "", head]
    for name, chosen in groups(rows).items():
        s = summarize(chosen)
        lines.append(
            f"| {name} | {s['present']} | {_cell(s['answer_hit'])} | {_cell(s['false_abstention'])} "
            f"| {_cell(s['mean_quotes'], 2)} | {s['absent']} "
            f"| {_cell(s['abstention'])} | {s['typed']} | {_cell(s['short_given'])} | {_cell(s['exact'])} "
            f"| {_cell(s['f1'])} | {_cell(s['p50_ms'], 0)} | {_cell(s['p95_ms'], 0)} |"
        )
    lines += kind_table(rows)
    return "\n".join(lines)


def kind_table(rows: Sequence[AnswerRow]) -> list[str]:
    """Short-answer figures per kind asked for (held-out rows where there is a split),
    as table lines; none where no row has a short gold answer (the seed set)."""
    typed = [r for r in rows if r.condition == "present" and r.qtype in TYPED and r.f1 is not None]
    held = [r for r in typed if r.split == "heldout"]
    chosen, scope = (held, "held out") if held and len(held) < len(typed) else (typed, "all")
    if not chosen:
        return []
    lines = [
        "", f"short answers by kind asked for ({scope})", "",
        "| kind | typed | short given | short EM | short F1 |", "|---|---|---|---|---|",
    ]
    for kind in TYPED:
        of_kind = [r for r in chosen if r.qtype == kind]
        if of_kind:
            s = summarize(of_kind)
            lines.append(
                f"| {kind} | {s['typed']} | {_cell(s['short_given'])} | {_cell(s['exact'])} | {_cell(s['f1'])} |"
            )
    return lines


def to_json(dataset: str, rows: Sequence[AnswerRow]) -> dict[str, Any]:
    return {
        "format": REPORT_FORMAT,
        "dataset": dataset,
        "groups": {name: summarize(chosen) for name, chosen in groups(rows).items()},
        "rows": [asdict(r) for r in rows],
    }


def write_report(path: Path, reports: Sequence[dict[str, Any]]) -> None:
    path.write_text(json.dumps(list(reports), ensure_ascii=False, indent=1), encoding="utf-8")


# ---- the two datasets ----


def load_unanswerable(path: Path) -> list[Question]:
    """The seed set's unanswerable questions (id, question, language, split), as
    Questions with no gold document."""
    out = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            out.append(
                Question(obj["id"], obj["question"], obj["language"], "-", "-", obj.get("split", "dev"), "unanswerable")
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{lineno}: not an unanswerable question ({exc})") from exc
    return out


Progress = Callable[[str, int, int], None]


def _counting(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        progress(stage, done[0], total)

    return step


def run_seed(
    engine: Engine,
    make_answerer: Callable[[Engine], AnswerFn],
    answerable: Sequence[Question],
    unanswerable: Sequence[Question],
    progress: Progress | None = None,
) -> list[AnswerRow]:
    """Every seed question (present) and every unanswerable one (absent) against the seed index."""
    answer = make_answerer(engine)
    step = _counting(progress, "ask", len(answerable) + len(unanswerable))
    return ask_all(answer, answerable, "seed", "present", step) + ask_all(answer, unanswerable, "seed", "absent", step)


def run_cmrc(
    engine: Engine,
    source: Path,
    docs: Sequence[Document],
    questions: Sequence[Question],
    make_answerer: Callable[[Engine, int], AnswerFn],
    cache_dir: Path,
    open_engine: Callable[[Path], Engine],
    progress: Progress | None = None,
) -> list[AnswerRow]:
    """Each question twice: present (`engine`, whose index is at `source`) and
    absent (its fold's index, a copy of `source` less the fold); both answered
    by `make_answerer(engine, fold)`, which gives the answerer whose models were
    fitted without the question's fold."""
    fold_engines = absent_engines(source, docs, cache_dir, open_engine, progress=progress)
    fold = {d.doc_id: fold_of(i) for i, d in enumerate(docs)}
    step = _counting(progress, "ask", 2 * len(questions))
    rows: list[AnswerRow] = []
    for f, fold_engine in enumerate(fold_engines):
        chosen = [q for q in questions if fold[q.gold_doc] == f]
        rows += ask_all(make_answerer(engine, f), chosen, "cmrc2018", "present", step)
        rows += ask_all(make_answerer(fold_engine, f), chosen, "cmrc2018", "absent", step)
    return rows
