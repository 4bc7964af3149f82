"""`policyqa eval --task answer`: wires the answerer to eval/answer_eval.py and prints its tables."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import typer

from policyqa.eval.answer_eval import (
    AnswerFn,
    fold_models_path,
    load_unanswerable,
    run_cmrc,
    run_seed,
    to_json,
    to_markdown,
    with_answer_splits,
)
from policyqa.eval.datasets import Question, default_cmrc_path, load_cmrc2018
from policyqa.index.engine import Engine
from policyqa.index.errors import PolicyQAError

UNANSWERABLE = Path(__file__).resolve().parent.parent / "eval" / "questions" / "unanswerable.jsonl"


def answer_eval(
    name: str,
    engine: Engine,
    index_dir: Path,
    questions: Sequence[Question],
    corpus: Path | None,
    split: str,
    open_engine: Callable[[Path], Engine],
    progress: Callable[[str, int, int], None],
    json_out: Path | None,
    markdown_out: Path | None,
) -> None:
    from policyqa.index.answer import EXPECTED_FEATURES, ExtractiveAnswerer
    from policyqa.index.answer_model import load_models

    def factory(engine: Engine) -> AnswerFn:
        return ExtractiveAnswerer(engine).answer

    folds_dir = index_dir.parent / f"{index_dir.name}-folds"
    fold_models = {}

    def fold_factory(engine: Engine, fold: int) -> AnswerFn:
        # Cross-fitted: a question is answered by the models fitted without its fold of paragraphs.
        if fold not in fold_models:
            path = fold_models_path(folds_dir, fold)
            if not path.is_file():
                raise PolicyQAError(
                    f"no cross-fitted answer models at {path}: run `python -m policyqa.eval.fit_answerer` first"
                )
            fold_models[fold] = load_models(EXPECTED_FEATURES, path)
        return ExtractiveAnswerer(engine, models=fold_models[fold]).answer

    if name == "cmrc2018":
        docs, _ = load_cmrc2018(corpus or default_cmrc_path())
        questions = with_answer_splits(docs, questions)
    chosen = [q for q in questions if split in ("all", None) or q.split == split]
    if name == "cmrc2018":
        rows = run_cmrc(
            engine,
            index_dir,
            docs,
            chosen,
            fold_factory,
            folds_dir,
            open_engine,
            progress,
        )
    elif name == "seed":
        unanswerable = [q for q in load_unanswerable(UNANSWERABLE) if split in ("all", None) or q.split == split]
        rows = run_seed(engine, factory, chosen, unanswerable, progress)
    else:
        raise PolicyQAError(f"--task answer runs on seed or cmrc2018, not {name!r}")
    table = to_markdown(name, rows)
    typer.echo(f"answer task, dataset {name}, split {split}, model {engine.embedder.model_id}")
    typer.echo(table)
    if json_out:
        json_out.write_text(json.dumps(to_json(name, rows), ensure_ascii=False, indent=1), encoding="utf-8")
    if markdown_out:
        markdown_out.write_text(table + "\n", encoding="utf-8")
