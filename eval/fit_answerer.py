"""Refit the answerer's three models (index/resources/answer_model.json).

    python -m policyqa.eval.fit_answerer [--out PATH] [--folds 5]

Data (never a held-out question):
- CMRC 2018 fit paragraphs (every fifth paragraph, `answer_eval.answer_split`), each
  question asked twice: present (full index) and absent (an index without its
  fold of paragraphs, as `policyqa eval --task answer` builds them);
- the seed set's dev questions (present) and unanswerable dev questions (absent).

Each model is a scikit-learn LogisticRegression on standardized features (the
sentence model fitted on pairs of one question's sentences, then Platt-scaled
into a probability), scored by GroupKFold cross-validation with the paragraph
(or seed report) as the group, so no paragraph is in both the fit and the score
of a fold. The thresholds are chosen on those out-of-fold probabilities; the
saved models are then fitted on all of the data. Prints every figure it chose
by. About 3 minutes on 2 cores, with the CMRC index that `policyqa eval
--dataset cmrc2018` builds.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from policyqa.index.answer import DECISION_FEATURES, SENTENCE_FEATURES, Analysis, ExtractiveAnswerer
from policyqa.index.answer_model import DEFAULT_MODEL_PATH, AnswerModels, LinearModel
from policyqa.index.engine import Engine
from policyqa.index.short_answer import SPAN_FEATURES

from .answer_eval import absent_engines, fold_of, load_unanswerable, with_answer_splits
from .datasets import Question, default_cmrc_path, load_cmrc2018, load_questions
from .metrics import answer_in_quotes, cmrc_f1
from .suite import SEED_CORPUS, SEED_QUESTIONS

UNANSWERABLE = SEED_QUESTIONS.with_name("unanswerable.jsonl")
SPAN_LABEL_F1 = 0.5
# Seed rows count this many times in the fits: they are the product's own kind of
# text (long hard-wrapped reports, English questions), a few dozen against CMRC's ~1,300.
SEED_WEIGHT = 5.0  # a span counts as the short answer when its CMRC F1 with the gold is at least this


def prior_models() -> AnswerModels:
    """Starting weights for the first pass: only the sentence scores matter there
    (to order candidates); every feature is recomputed and refitted after it."""

    def flat(features: tuple[str, ...], weights: dict[str, float]) -> LinearModel:
        n = len(features)
        return LinearModel(features, (0.0,) * n, (1.0,) * n, tuple(weights.get(f, 0.0) for f in features), 0.0)

    return AnswerModels(
        sentence=flat(SENTENCE_FEATURES, {"sentence_terms": 3.0, "dense": 3.0}),
        decision=flat(DECISION_FEATURES, {"best_sentence": 1.0}),
        span=flat(SPAN_FEATURES, {"near_terms": 1.0}),
    )


def _linear(
    features: tuple[str, ...], mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float
) -> LinearModel:
    return LinearModel(features, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, coef)), intercept)


def _report(model: LinearModel, name: str, y: np.ndarray, oof: np.ndarray) -> LinearModel:
    """Print the out-of-fold AUC and every weight, per unit and per standard deviation."""
    auc = roc_auc_score(y, oof) if 0 < y.sum() < len(y) else float("nan")
    print(f"{name}: {len(y)} rows, {int(y.sum())} positive, out-of-fold AUC {auc:.3f}")
    for f, c, s in zip(model.features, model.coef, model.scale, strict=True):
        print(f"    {f:<18} {c / s:+.3f} per unit ({c:+.3f} per sd)")
    return model


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    features: tuple[str, ...],
    folds: int,
    name: str,
    weights: np.ndarray | None = None,
) -> tuple[LinearModel, np.ndarray]:
    """A standardized logistic regression on all rows, and out-of-fold probabilities by group."""
    w = np.ones(len(y)) if weights is None else weights
    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        scaler = StandardScaler().fit(x[train])
        model = LogisticRegression(C=1.0, max_iter=2000).fit(
            scaler.transform(x[train]), y[train], sample_weight=w[train]
        )
        oof[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=2000).fit(scaler.transform(x), y, sample_weight=w)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    linear = _linear(features, scaler.mean_, scale, model.coef_[0], float(model.intercept_[0]))
    return _report(linear, name, y, oof), oof


def fit_ranking(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    questions: np.ndarray,
    features: tuple[str, ...],
    folds: int,
    name: str,
    weights: np.ndarray,
) -> tuple[LinearModel, np.ndarray]:
    """A sentence ranker: logistic regression on the differences between an answering
    and a non-answering sentence of the same question (what matters is which of a
    question's sentences wins), then a one-feature logistic regression that turns
    its score into a probability (Platt scaling), so the decision can read it."""

    def fit(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        mean, scale = x[rows].mean(axis=0), x[rows].std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - mean) / scale
        diffs, labels, pair_weights = [], [], []
        by_question: dict[str, list[int]] = {}
        for i in rows:
            by_question.setdefault(str(questions[i]), []).append(int(i))
        for members in by_question.values():
            pos = [i for i in members if y[i]]
            neg = [i for i in members if not y[i]]
            for i in pos:
                for j in neg:
                    diffs += [z[i] - z[j], z[j] - z[i]]
                    labels += [1, 0]
                    pair_weights += [weights[i], weights[i]]
        ranker = LogisticRegression(C=1.0, max_iter=2000, fit_intercept=False)
        ranker.fit(np.asarray(diffs), np.asarray(labels), sample_weight=np.asarray(pair_weights))
        w = ranker.coef_[0]
        platt = LogisticRegression(C=1.0, max_iter=2000).fit(
            (z[rows] @ w)[:, None], y[rows], sample_weight=weights[rows]
        )
        return mean, scale, w * platt.coef_[0][0], float(platt.intercept_[0])

    oof = np.zeros(len(y))
    for train, test in GroupKFold(n_splits=folds).split(x, y, groups):
        mean, scale, coef, intercept = fit(train)
        oof[test] = 1.0 / (1.0 + np.exp(-(intercept + ((x[test] - mean) / scale) @ coef)))
    mean, scale, coef, intercept = fit(np.arange(len(y)))
    return _report(_linear(features, mean, scale, coef, intercept), f"{name} (ranked by pairs)", y, oof), oof


def collect(args: argparse.Namespace) -> list[tuple[Question, str, Analysis, ExtractiveAnswerer]]:
    """Every fit question analysed: (question, condition, analysis, answerer)."""
    rows = []
    prior = prior_models()
    seed = Engine.open(args.cache_dir / "seed-usem3")
    seed.ingest([SEED_CORPUS])
    seed_answerer = ExtractiveAnswerer(seed, models=prior)
    for q in load_questions(SEED_QUESTIONS):
        if q.split == "dev":
            rows.append((q, "present", seed_answerer.analyze(q.question), seed_answerer))
    for q in load_unanswerable(UNANSWERABLE):
        if q.split == "dev":
            rows.append((q, "absent", seed_answerer.analyze(q.question), seed_answerer))
    docs, questions = load_cmrc2018(default_cmrc_path())
    questions = with_answer_splits(docs, questions)
    full_dir = args.cache_dir / "cmrc2018-usem3"
    full = Engine.open(full_dir)
    if not full.exists():
        sys.exit(f"error: no CMRC index at {full_dir}: run `policyqa eval --dataset cmrc2018` first")
    folds = absent_engines(full_dir, docs, args.cache_dir / "cmrc2018-usem3-folds", Engine.open)
    fold = {d.doc_id: fold_of(i) for i, d in enumerate(docs)}
    full_answerer = ExtractiveAnswerer(full, models=prior)
    fold_answerers = [ExtractiveAnswerer(e, models=prior) for e in folds]
    dev = [q for q in questions if q.split == "dev"]
    started = time.perf_counter()
    for i, q in enumerate(dev, start=1):
        rows.append((q, "present", full_answerer.analyze(q.question), full_answerer))
        absent = fold_answerers[fold[q.gold_doc]]
        rows.append((q, "absent", absent.analyze(q.question), absent))
        if i % 100 == 0:
            print(f"  analysed {i}/{len(dev)} CMRC dev questions ({time.perf_counter() - started:.0f} s)", flush=True)
    return rows


def print_top_k(rows: list[Any], oof: np.ndarray, labels: np.ndarray) -> None:
    """How often the gold answer is in the top 1/2/3 sentences by out-of-fold score (CMRC present)."""
    at, hits = 0, {1: 0, 2: 0, 3: 0}
    n = 0
    for q, condition, analysis, _ in rows:
        if condition != "present" or not analysis.candidates:
            continue
        size = len(analysis.candidates)
        if q.kind == "cmrc":
            order = np.argsort(-oof[at : at + size], kind="stable")
            for k in hits:
                hits[k] += bool(labels[at : at + size][order[:k]].any())
            n += 1
        at += size
    print("  out of fold, gold in the top k sentences: " + ", ".join(f"k={k} {v / n:.3f}" for k, v in hits.items()))


def print_follow_ratios(rows: list[Any]) -> None:
    """Quotes per answer and how often they hold the gold answer (CMRC present, in
    sample), for several values of AnswerConfig.follow_ratio."""
    from policyqa.index.answer import AnswerConfig

    present = [(q, a, r) for q, c, a, r in rows if c == "present" and q.kind == "cmrc" and a.candidates]
    for ratio in (0.25, 0.4, 0.5, 0.6, 0.8):
        any_answerer = present[0][2]  # select() reads only the config
        selector = ExtractiveAnswerer(any_answerer.engine, AnswerConfig(follow_ratio=ratio), any_answerer.models)
        quotes, hits = [], []
        for q, analysis, _ in present:
            chosen = selector.select(analysis.candidates)
            quotes.append(len(chosen))
            hits.append(any(answer_in_quotes(g, [c.text for c in chosen]) for g in q.all_answers))
        print(f"  follow_ratio {ratio}: {np.mean(quotes):.2f} quotes per answer, gold in them {np.mean(hits):.3f}")


def rescore(analysis: Analysis, model: LinearModel) -> None:
    analysis.candidates = sorted(
        (replace(c, score=model.probability(c.features)) for c in analysis.candidates),
        key=lambda c: (-c.score, c.rank, c.start),
    )


def best_threshold(p_present: np.ndarray, hit: np.ndarray, p_absent: np.ndarray) -> tuple[float, float, float]:
    """The decision threshold that maximizes min(answer hit, abstention) out of fold."""
    best = (0.5, 0.0, 0.0)
    for t in np.linspace(0.02, 0.98, 97):
        answer_hit = float(np.mean((p_present >= t) & hit))
        abstention = float(np.mean(p_absent < t))
        if min(answer_hit, abstention) > min(best[1], best[2]):
            best = (float(t), answer_hit, abstention)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    parser.add_argument("--dump", type=Path, help="write the decision rows (question, features, best passage) as JSON")
    args = parser.parse_args(argv)
    rows = collect(args)
    group = lambda q: q.gold_doc if q.gold_doc != "-" else f"unanswerable-{q.qid}"  # noqa: E731

    # 1. sentences: does the sentence hold the gold answer?
    sx, sy, sg, sw = [], [], [], []
    for q, condition, analysis, _ in rows:
        if condition != "present" or not analysis.candidates:
            continue
        for c in analysis.candidates:
            sx.append(c.features)
            sy.append(any(answer_in_quotes(g, [c.text]) for g in q.all_answers))
            sg.append(group(q))
            sw.append(1.0 if q.kind == "cmrc" else SEED_WEIGHT)
    present = [(q, a) for q, c, a, _ in rows if c == "present" and q.kind == "cmrc"]
    in_passages = np.mean(
        [any(answer_in_quotes(g, [h.chunk.text for h in a.result.hits[:4]]) for g in q.all_answers) for q, a in present]
    )
    in_candidates = np.mean(
        [any(answer_in_quotes(g, [c.text]) for g in q.all_answers for c in a.candidates) for q, a in present]
    )
    print(
        f"CMRC present: gold answer in the top 4 passages {in_passages:.3f}, "
        f"in a candidate sentence {in_candidates:.3f}"
    )
    sq = [q.qid for q, c, a, _ in rows if c == "present" and a.candidates for _ in a.candidates]
    sentence, sentence_oof = fit_ranking(
        np.array(sx),
        np.array(sy),
        np.array(sg),
        np.array(sq),
        SENTENCE_FEATURES,
        args.folds,
        "sentence",
        np.array(sw),
    )
    print_top_k(rows, sentence_oof, np.array(sy))
    if args.dump:
        arrays = {"x": np.array(sx), "y": np.array(sy), "g": np.array(sg), "q": np.array(sq)}
        np.savez(args.dump.with_suffix(".sentences.npz"), **arrays)
    for _, _, analysis, _ in rows:
        rescore(analysis, sentence)

    print_follow_ratios(rows)

    # 2. the decision: does the index hold the answer?
    dx, dy, dg, dhit, dw = [], [], [], [], []
    for q, condition, analysis, answerer in rows:
        if not analysis.candidates or (analysis.salient and analysis.salient.unknown_names):
            continue
        dx.append(answerer.decision_features(analysis))
        dy.append(condition == "present")
        dg.append(group(q))
        dw.append(1.0 if q.kind == "cmrc" else SEED_WEIGHT)
        chosen = answerer.select(analysis.candidates)
        dhit.append(
            condition == "present" and any(answer_in_quotes(g, [c.text for c in chosen]) for g in q.all_answers)
        )
    y = np.array(dy)
    if args.dump:
        import json

        kept = [(q, c, a) for q, c, a, _ in rows if a.candidates and not (a.salient and a.salient.unknown_names)]
        args.dump.write_text(
            json.dumps(
                [
                    {
                        "q": q.question,
                        "condition": c,
                        "answer": q.answer,
                        "features": x,
                        "hit": h,
                        "best": a.candidates[0].text,
                        "passage": a.candidates[0].hit.chunk.text[:200],
                    }
                    for (q, c, a), x, h in zip(kept, dx, dhit, strict=True)
                ],
                ensure_ascii=False,
                indent=0,
            ),
            encoding="utf-8",
        )
    print(f"present questions whose chosen sentences hold the answer: {np.mean(np.array(dhit)[y]):.3f}")
    decision, oof = fit_linear(np.array(dx), y, np.array(dg), DECISION_FEATURES, args.folds, "decision", np.array(dw))
    threshold, hit, abstention = best_threshold(oof[y], np.array(dhit)[y], oof[~y])
    print(f"decision threshold {threshold:.2f}: out-of-fold answer hit {hit:.3f}, abstention {abstention:.3f}")
    decision = replace(decision, threshold=threshold)

    # 3. short answers: which span of the quoted sentences is the answer?
    px, py, pg, pq, pf1 = [], [], [], [], []
    for q, condition, analysis, answerer in rows:
        if condition != "present" or not analysis.kind.typed or not analysis.candidates or q.kind != "cmrc":
            continue
        for span, _, features in answerer.span_rows(analysis, answerer.select(analysis.candidates)):
            f1 = cmrc_f1(span.text, q.all_answers)
            px.append(features)
            py.append(f1 >= SPAN_LABEL_F1)
            pg.append(group(q))
            pq.append(q.qid)
            pf1.append(f1)
    oracle: dict[str, float] = {}
    for qid, f1 in zip(pq, pf1, strict=True):
        oracle[qid] = max(oracle.get(qid, 0.0), f1)
    typed = {q.qid for q, c, a, _ in rows if c == "present" and a.kind.typed and q.kind == "cmrc"}
    print(f"short answers: best candidate's F1 (oracle) {sum(oracle.values()) / max(1, len(typed)):.3f}")
    span, span_oof = fit_linear(np.array(px), np.array(py), np.array(pg), SPAN_FEATURES, args.folds, "span")
    best_span: dict[str, tuple[float, float]] = {}
    for qid, p, f1 in zip(pq, span_oof, pf1, strict=True):
        if qid not in best_span or p > best_span[qid][0]:
            best_span[qid] = (p, f1)
    span_threshold, span_f1 = 0.0, 0.0
    for t in np.linspace(0.0, 0.5, 26):
        f1 = sum(f for p, f in best_span.values() if p >= t) / max(1, len(typed))
        if f1 > span_f1:
            span_threshold, span_f1 = float(t), f1
    print(f"span threshold {span_threshold:.2f}: out-of-fold short-answer F1 {span_f1:.3f} on {len(typed)} typed")
    span = replace(span, threshold=span_threshold)

    info: dict[str, Any] = {
        "fitted_by": "python -m policyqa.eval.fit_answerer",
        "data": "CMRC 2018 every fifth paragraph (answer_eval.answer_split) present+absent, "
        "seed dev + unanswerable dev",
        "folds": f"GroupKFold({args.folds}) by paragraph / seed report",
        "rows": {"sentence": len(sy), "decision": len(dy), "span": len(py)},
        "out_of_fold": {"answer_hit": round(hit, 4), "abstention": round(abstention, 4), "short_f1": round(span_f1, 4)},
    }
    AnswerModels(sentence, decision, span, info).save(args.out)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
