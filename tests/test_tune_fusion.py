"""The fusion-evidence script scores exactly what the engine ships: its
"union" setting with the default config ranks like `Engine.search` in hybrid
mode, and its "lists" setting is a different fusion (so the comparison it
prints between the two means something)."""

from __future__ import annotations

from pathlib import Path

from policyqa.eval.datasets import load_questions
from policyqa.eval.suite import SEED_QUESTIONS
from policyqa.eval.tune_fusion import Setting, candidates, flags_at_10
from policyqa.index.engine import Engine
from policyqa.index.hybrid import FusionConfig


def test_union_setting_ranks_like_the_engine(seed_engine: Engine) -> None:
    questions = load_questions(SEED_QUESTIONS)
    scored = candidates(seed_engine, questions)
    union, lists = Setting("union", FusionConfig()), Setting("lists", FusionConfig(), union=False)
    differs = 0
    for s in scored:
        hits = seed_engine.search(s.question.question, k=10, mode="hybrid").hits
        engine_flags = [Path(h.source).stem == s.question.gold_doc for h in hits]
        assert flags_at_10(s, union) == engine_flags, s.question.qid
        differs += flags_at_10(s, lists) != engine_flags
    assert differs > 0
