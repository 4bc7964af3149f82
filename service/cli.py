"""The `policyqa` command line: ingest, search, eval, demo, serve, bench.

Every failure the engine foresees prints one line on stderr and exits non-zero;
a traceback means a bug.
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from policyqa.index.answer import Answer, ExtractiveAnswerer
from policyqa.index.backend import Filters
from policyqa.index.engine import Engine, EngineConfig, IngestReport, SearchResult
from policyqa.index.errors import IndexNotFoundError, PolicyQAError
from policyqa.index.hybrid import FusionConfig, FusionMethod, SearchMode
from policyqa.index.official_meta import DATE_FIELDS, SORTS, sort_by_date
from policyqa.index.reader import open_reader

from .cli_base import BackendOpt, FilterOpt, IndexDirOpt, MilvusUriOpt, ModelOpt, ThreadsOpt, _settings, app
from .progress import ProgressBars
from .settings import Settings


def _open(settings: Settings, config: EngineConfig | None = None, rebuild: bool = False) -> Engine:
    return Engine.open(
        settings.index_dir,
        model=settings.model,
        threads=settings.threads,
        config=config,
        rebuild=rebuild,
        storage=settings.storage(),
    )


def _open_existing(settings: Settings) -> Engine:
    """The engine over an index that must exist already (search, ask)."""
    engine = _open(settings)
    if not engine.exists():
        raise IndexNotFoundError(f"no index at {settings.index_location()}: run `policyqa ingest PATH` first")
    return engine


def _answerer(engine: Engine, settings: Settings) -> ExtractiveAnswerer:
    """The answerer `/ask` uses, with the reader model of POLICYQA_READER when one is set."""
    return ExtractiveAnswerer(engine, reader=open_reader(settings.reader))


def _print_report(report: IngestReport, location: str) -> None:
    parts = [
        f"{len(report.added)} added",
        f"{len(report.updated)} updated",
        f"{len(report.unchanged)} unchanged",
        f"{len(report.removed)} removed",
    ]
    if report.failed:
        parts.append(f"{len(report.failed)} failed")
    written = f"{report.chunks_added} chunks written in {report.seconds:.1f}s"
    typer.echo(f"ingest: {', '.join(parts)}; {written} → {location}", err=True)
    for line in report.failed:
        typer.echo(f"error: {line}", err=True)


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="files (.txt .md .pdf .docx .html .png .jpg) or folders")
    ],
    index_dir: IndexDirOpt = None,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="build a new index from PATHS and swap it in (new model, damaged index)")
    ] = False,
    chunk_size: Annotated[
        int | None,
        typer.Option(
            "--chunk-size",
            min=20,
            help="target characters per chunk [default: the index's own; 300 for a new index or --rebuild]",
        ),
    ] = None,
    no_ocr: Annotated[
        bool,
        typer.Option("--no-ocr", help="refuse scanned PDF pages and images instead of reading them with OCR"),
    ] = False,
) -> None:
    """Add new files, update changed ones, drop vanished ones; unchanged files cost nothing."""
    settings = _settings(index_dir, model, threads, backend, milvus_uri, ocr=False if no_ocr else None)
    from policyqa.index.chunking import ChunkingConfig

    config = EngineConfig(chunking=ChunkingConfig(size=chunk_size)) if chunk_size is not None else None
    engine = _open(settings, config, rebuild=rebuild)
    with ProgressBars() as bars:
        report = engine.ingest(paths, progress=bars.update)
    _print_report(report, settings.index_location())
    if report.failed:
        raise typer.Exit(1)


@app.command()
def verify(index_dir: IndexDirOpt = None) -> None:
    """Checksum every file of the live index and load it; exit 0 when sound, 1 with the damaged file named.

    Opening an index hashes files up to 64 MB and only size-checks bigger ones
    (hashing gigabytes on every start would be slow), so run this after copying
    or restoring a large index, or from a periodic job."""
    from policyqa.index.local_backend import LocalBackend
    from policyqa.index.store import IndexDirectory

    settings = _settings(index_dir)
    directory = IndexDirectory(settings.index_dir)
    try:
        name, folder = directory.current()
        manifest = directory.read_manifest(folder, verify_all=True)
        LocalBackend(settings.index_dir).view()  # every component loads and they agree in size
    except PolicyQAError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    files = manifest.get("files", {})
    size = sum(int(info["size"]) for info in files.values())
    typer.echo(f"ok: {settings.index_dir} version {name}: {len(files)} files, {size / 1e6:.1f} MB, all checksums match")


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="the backend to copy into: milvus")] = "milvus",
    milvus_uri: MilvusUriOpt = None,
    collection: Annotated[
        str | None, typer.Option("--milvus-collection", help="prefix of the collections [default policyqa]")
    ] = None,
    index_dir: IndexDirOpt = None,
) -> None:
    """Copy the embedded index into Milvus as it is (chunks, vectors, tokens;
    nothing re-embedded), then check that the counts agree."""
    from policyqa.index.storage import BackendKind, migrate_to_milvus, open_backend

    if BackendKind.parse(to) is not BackendKind.MILVUS:
        raise PolicyQAError(f"--to {to}: the embedded index is the source; milvus is the only target")
    settings = _settings(index_dir, backend="milvus", milvus_uri=milvus_uri, milvus_collection=collection)
    target = open_backend(settings.index_dir, settings.storage())
    typer.echo(f"migrate: {settings.index_dir} → {settings.index_location()}", err=True)
    with ProgressBars() as bars:
        report = migrate_to_milvus(settings.index_dir, target, progress=bars.update)
    typer.echo(
        f"migrated {report.documents} documents, {report.chunks} chunks, {report.vocabulary} terms; counts match",
        err=True,
    )


# KEY=VALUE, or a bound of a range: KEY>=VALUE, KEY>VALUE, KEY<=VALUE, KEY<VALUE.
_FILTER = re.compile(r"(?P<key>[^=<>]+)(?P<op>>=|<=|=|>|<)(?P<value>.+)")
_BOUND = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt"}


def _parse_filters(values: list[str] | None) -> Filters | None:
    """--filter region=重庆 --filter issued>=2021-01-01 --filter issued<2022-01-01:
    equal values of a key are alternatives; bounds of a key make one range (a
    number bound is compared as a number, anything else as text, as ISO dates are)."""
    if not values:
        return None
    equal: dict[str, list[str]] = {}
    ranges: dict[str, dict[str, Any]] = {}
    for item in values:
        m = _FILTER.fullmatch(item.strip())
        if not m:
            raise PolicyQAError(
                f"filter {item!r} is not KEY=VALUE or KEY>=VALUE "
                "(e.g. --filter region=重庆 --filter issued>=2021-01-01)"
            )
        key, op, value = m.group("key").strip(), m.group("op"), m.group("value").strip()
        if op == "=":
            equal.setdefault(key, []).append(value)
            continue
        bound = _BOUND[op]
        if bound in ranges.get(key, {}):
            raise PolicyQAError(f"filter {key!r} is given {op} twice: give each bound once")
        number = _number_or_text(value)
        if key in DATE_FIELDS and not isinstance(number, str):
            raise PolicyQAError(f"filter {item!r}: {key} is a date, write it YYYY-MM-DD (e.g. {key}>=2021-01-01)")
        ranges.setdefault(key, {})[bound] = number
    both = sorted(set(equal) & set(ranges))
    if both:
        raise PolicyQAError(f"filter {both[0]!r} is given both a value and a range: give one or the other")
    raw: dict[str, Any] = {k: v[0] if len(v) == 1 else v for k, v in equal.items()}
    return Filters.parse(raw | ranges)


def _sorted(result: SearchResult, sort: str) -> SearchResult:
    return replace(result, hits=sort_by_date(result.hits, sort)) if sort != "relevance" else result


def _number_or_text(value: str) -> int | float | str:
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


def _render(result: SearchResult) -> str:
    lines = [f"{len(result.hits)} hits for {result.query!r} ({result.mode.value})"]
    if result.bridge:
        added = ", ".join(f"{t.term} ({t.query}, {t.source.value} {t.weight:.2f})" for t in result.bridge.terms)
        lines.append(f"bridge added: {added}")
    for i, hit in enumerate(result.hits, start=1):
        c = hit.chunk
        snippet = c.text.replace("\n", " ")
        snippet = snippet[:90] + ("…" if len(snippet) > 90 else "")
        dense = f"{hit.dense_score:.3f}#{hit.dense_rank or '-'}" if hit.dense_score is not None else "-"
        lexical = f"{hit.lexical_score:.2f}#{hit.lexical_rank or '-'}" if hit.lexical_score is not None else "-"
        lines.append(f"{i:>2}. {hit.title}  [{hit.source} {c.start}-{c.end}]")
        chars = f"  chars {hit.char_score:.2f}" if hit.char_score is not None else ""
        lines.append(f"    score {hit.score:.4f}  dense {dense}  lexical {lexical}{chars}")
        if hit.explain.get("bridge"):
            lines.append("    bridge matched: " + " ".join(t["term"] for t in hit.explain["bridge"]))
        lines.append(f"    {snippet}")
    return "\n".join(lines)


def _hit_json(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "mode": result.mode.value,
        "index_version": result.version,
        "timings_ms": {k: round(v, 3) for k, v in result.timings_ms.items()},
        **({"bridge": result.bridge.to_dict()} if result.bridge else {}),
        "hits": [h.to_dict() for h in result.hits],
    }


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="the question (omit with --queries)")] = None,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=1000, help="hits to return")] = 10,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | lexical")] = "hybrid",
    fusion: Annotated[str | None, typer.Option("--fusion", help="weighted | rrf [default: weighted]")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    queries: Annotated[Path | None, typer.Option("--queries", help="file with one query per line → JSON lines")] = None,
    filters: FilterOpt = None,
    index_dir: IndexDirOpt = None,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
    no_bridge: Annotated[bool, typer.Option("--no-bridge", help="no English→Chinese lexical query bridge")] = False,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="order of the k hits: relevance, or a document date oldest first (issued, effective, "
            "published) or newest first (-issued ...; write --sort=-issued)",
        ),
    ] = "relevance",
) -> None:
    """Ranked passages for a question, with fused, dense and lexical scores."""
    if sort not in SORTS:
        raise PolicyQAError(f"unknown --sort {sort!r}: use one of {', '.join(SORTS)}")
    settings = _settings(index_dir, model, threads, backend, milvus_uri)
    search_mode = SearchMode.parse(mode)
    fusion_config = FusionConfig(method=FusionMethod.parse(fusion)) if fusion else None
    parsed_filters = _parse_filters(filters)
    if (query is None) == (queries is None):
        raise PolicyQAError("give either a QUERY or --queries FILE")
    bridge = False if no_bridge else None  # None: the engine's default
    engine = _open_existing(settings)
    if queries is not None:
        try:
            lines = [line.strip() for line in queries.read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyQAError(f"cannot read queries file {queries}: {exc.__class__.__name__}") from exc
        for line in filter(None, lines):
            result = engine.search(
                line, k=k, mode=search_mode, fusion=fusion_config, filters=parsed_filters, bridge=bridge
            )
            typer.echo(json.dumps(_hit_json(_sorted(result, sort)), ensure_ascii=False))
        return
    assert query is not None
    result = engine.search(query, k=k, mode=search_mode, fusion=fusion_config, filters=parsed_filters, bridge=bridge)
    result = _sorted(result, sort)
    typer.echo(json.dumps(_hit_json(result), ensure_ascii=False, indent=2) if as_json else _render(result))


@app.command()
def targets(
    indicator: Annotated[str | None, typer.Option("--indicator", help="e.g. 数字经济占比 (any wording)")] = None,
    subject: Annotated[str | None, typer.Option("--subject", help="a part of the zone's name, e.g. 经开区")] = None,
    year: Annotated[int | None, typer.Option("--year", help="deadline year of a target, or a reported year")] = None,
    kind: Annotated[str | None, typer.Option("--kind", help="target | reported")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the rows as GET /targets returns them")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="the rows as CSV, as GET /targets.csv")] = False,
    index_dir: IndexDirOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """The targets and reported figures the documents state, each with its citation."""
    from policyqa.index.targets import REPORTED, TARGET, to_csv

    if kind not in (None, TARGET, REPORTED):
        raise PolicyQAError(f"unknown --kind {kind!r}: use {TARGET} or {REPORTED}")
    if as_json and as_csv:
        raise PolicyQAError("give --json or --csv, not both")
    settings = _settings(index_dir, None, None, backend, milvus_uri)
    rows = _open_existing(settings).targets(indicator=indicator, subject=subject, year=year, kind=kind)
    if as_csv:
        typer.echo(to_csv(rows), nl=False)
    elif as_json:
        out = {"total": len(rows), "targets": [r.to_dict() for r in rows]}
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        typer.echo(f"{len(rows)} rows")
        for r in rows:
            when = str(r.year) if r.year else r.period
            value = f"{r.direction}{'' if r.qualifier == '=' else r.qualifier}{r.value:g}{r.unit}"
            where = f"[{r.title} {r.start}-{r.end}]"
            typer.echo(f"{r.kind:8} {when:10} {r.subject or '-'} · {r.indicator} · {value}  {where}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="a question, in Chinese or English")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=50, help="passages to list beside the answer")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="the answer as POST /ask returns it")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="with --json: the features and weights behind it")] = False,
    filters: FilterOpt = None,
    index_dir: IndexDirOpt = None,
    model: ModelOpt = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Answer a question as POST /ask does: the short answer, the cited quotes, or "not found"."""
    settings = _settings(index_dir, model, threads, backend, milvus_uri)
    parsed_filters = _parse_filters(filters)
    engine = _open_existing(settings)
    answer = _answerer(engine, settings).answer(question, k=k, filters=parsed_filters)
    if as_json:
        typer.echo(json.dumps(_answer_json(answer, explain), ensure_ascii=False, indent=2))
    else:
        typer.echo(_render_answer(answer))


@app.command()
def demo(
    query: Annotated[str, typer.Argument(help="a question")] = "哪个园区提出数字经济增加值占GDP比重达35%？",
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100)] = 3,
    index_dir: IndexDirOpt = None,
    threads: ThreadsOpt = None,
    backend: BackendOpt = None,
    milvus_uri: MilvusUriOpt = None,
) -> None:
    """Ingest the seed reports on first use (embedded model), then `ask` the question
    and list the passages behind the answer."""
    settings = _settings(index_dir, None, threads, backend, milvus_uri)
    engine = _open(settings)
    if not engine.exists():
        typer.echo(f"first run: ingesting {settings.seeds_dir} into {settings.index_dir}", err=True)
        with ProgressBars() as bars:
            _print_report(engine.ingest([settings.seeds_dir], progress=bars.update), settings.index_location())
    typer.echo(_render_answer(_answerer(engine, settings).answer(query)))
    typer.echo("")
    typer.echo(_render(engine.search(query, k=k)))


def _answer_json(answer: Answer, explain: bool) -> dict[str, Any]:
    """The fields of POST /ask's reply that do not depend on HTTP (passages as the CLI's hits)."""
    return {
        "question": answer.question,
        "answer": answer.answer,
        "found": answer.found,
        "short_answer": answer.short_answer.to_dict() if answer.short_answer else None,
        "answer_type": answer.answer_type,
        "citations": [c.to_dict() for c in answer.citations],
        "passages": [h.to_dict() for h in answer.passages],
        "reason": answer.reason,
        "index_version": answer.index_version,
        **({"explain": answer.evidence} if explain else {}),
    }


def _render_answer(answer: Answer) -> str:
    if not answer.found:
        return f"not found: {answer.answer}"
    lines = []
    if answer.short_answer is not None:
        s = answer.short_answer
        lines.append(f"short answer: {s.text}  ({s.kind}) [{s.doc_id} {s.start}-{s.end}]")
    lines.append(f"answer: {answer.answer}")
    for c in answer.citations:
        lines.append(f"  [{c.n}] {c.title}  [{c.source} {c.start}-{c.end}]")
    return "\n".join(lines)


def main() -> None:
    """Console entry point: one-line errors, non-zero exits, no tracebacks for foreseen failures."""
    from . import commands  # noqa: F401  registers eval/serve/bench on `app`

    try:
        app()
    except PolicyQAError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
