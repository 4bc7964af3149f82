"""Which backend stores an index, and copying an index from one to the other.

- `StorageConfig` / `open_backend`: the embedded FAISS + BM25 folder (the
  default) or Milvus (a Lite file, or a server by URI);
- `migrate_to_milvus`: an embedded index's chunks, vectors and tokens copied
  into Milvus as they are (nothing re-embedded), and the counts checked.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backend import Backend, PreparedDocument
from .dense import DenseConfig
from .enums import parse_enum
from .errors import IndexCorruptError, IndexNotFoundError, InputError
from .local_backend import LocalBackend, LocalView
from .milvus_backend import MAX_TERM_BYTES, MilvusBackend, MilvusConfig
from .types import Document

Progress = Callable[[str, int, int], None]
LITE_FILE = "milvus.db"  # a Milvus backend without a URI keeps a Lite file in the index folder
# What the engine records about how the index was built (not what a backend adds).
_BUILD_KEYS = ("model_id", "model_name", "dim", "tokenizer", "chunking", "corpus_fingerprint", "built_at")


class BackendKind(enum.StrEnum):
    FAISS = "faiss"
    MILVUS = "milvus"

    @classmethod
    def parse(cls, value: object) -> BackendKind:
        return parse_enum(cls, value, "backend")


@dataclass(frozen=True)
class StorageConfig:
    backend: BackendKind = BackendKind.FAISS
    milvus_uri: str | None = None  # a .db path (Milvus Lite) or http(s)://host:19530; None: <index_dir>/milvus.db
    milvus_token: str | None = None
    milvus_collection: str = "policyqa"

    def milvus(self, index_dir: Path) -> MilvusConfig:
        uri = self.milvus_uri or str(Path(index_dir) / LITE_FILE)
        return MilvusConfig(uri=uri, token=self.milvus_token, collection=self.milvus_collection)

    def describe(self, index_dir: Path) -> str:
        return str(index_dir) if self.backend is BackendKind.FAISS else self.milvus(index_dir).uri


def open_backend(
    index_dir: Path, storage: StorageConfig | None = None, dense: DenseConfig | None = None, rebuild: bool = False
) -> Backend:
    storage = storage or StorageConfig()
    if storage.backend is BackendKind.MILVUS:
        return MilvusBackend(storage.milvus(index_dir), rebuild=rebuild)
    return LocalBackend(Path(index_dir), dense_config=dense, rebuild=rebuild)


@dataclass
class MigrateReport:
    documents: int
    chunks: int
    vocabulary: int


def migrate_to_milvus(
    index_dir: Path, target: MilvusBackend, progress: Progress | None = None, batch_chunks: int = 20_000
) -> MigrateReport:
    """Copy the embedded index at `index_dir` into an empty Milvus index, in
    batches of about `batch_chunks` chunks; the last batch records the corpus
    fingerprint, so an interrupted copy never passes for the whole corpus.

    Raises IndexNotFoundError (no source), InputError (the target holds an
    index) and IndexCorruptError (the counts differ afterwards)."""
    source = LocalBackend(Path(index_dir))
    if not source.exists():
        raise IndexNotFoundError(f"no index at {index_dir} to migrate: run `policyqa ingest PATH` first")
    if target.exists():
        raise InputError(
            f"{target.config.uri} already holds an index in collections {target.config.collection}_*: "
            "migrate into another --milvus-collection, or drop those collections first"
        )
    view = source.view()
    manifest = {k: view.manifest[k] for k in _BUILD_KEYS if k in view.manifest}
    docs = view.store.docs
    rows_of = _rows_by_document(view)
    batch: list[PreparedDocument] = []
    size = done = 0
    for i in range(len(docs)):
        batch.append(_prepared(view, i, rows_of[i]))
        size += len(rows_of[i])
        last = i == len(docs) - 1
        if size >= batch_chunks or last:
            stamp = manifest if last else {**manifest, "corpus_fingerprint": "migration in progress"}
            target.apply(batch, [], stamp)
            done += size
            if progress:
                progress("migrate", done, len(view.store))
            batch, size = [], 0
    stats = target.view().stats()
    # (Milvus keeps no token over MAX_TERM_BYTES: such runs are never words.)
    terms = sum(1 for t in view.lexical.vocabulary if len(t.encode("utf-8")) <= MAX_TERM_BYTES)
    want = {"documents": len(docs), "chunks": len(view.store), "vocabulary": terms}
    got = {key: int(stats[key]) for key in want}
    if got != want:
        raise IndexCorruptError(f"migration copied {got}, the source holds {want}: the Milvus index is incomplete")
    return MigrateReport(**got)


def _rows_by_document(view: LocalView) -> list[np.ndarray]:
    column = np.asarray(view.store.doc_row_column)
    order = np.argsort(column, kind="stable")
    bounds = np.searchsorted(column[order], np.arange(len(view.store.docs) + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(len(view.store.docs))]


def _prepared(view: LocalView, doc_row: int, rows: np.ndarray) -> PreparedDocument:
    record = view.store.docs[doc_row]
    document = Document(
        doc_id=record.doc_id, title=record.title, source=record.source,
        text=view.store.document_text(doc_row), fingerprint=record.fingerprint,
        sections=record.sections, metadata=dict(record.metadata),
    )  # fmt: skip
    chunks = [view.store.chunk(int(r)) for r in rows]
    vectors = np.asarray(view.vectors[rows], dtype=np.float32)  # rows ascend within a document
    tokens: list[Sequence[str]] = [_tokens(view, int(r)) for r in rows]
    return PreparedDocument(document, chunks, vectors, tokens)


def _tokens(view: LocalView, row: int) -> list[str]:
    """The row's tokens as counts (their order does not matter to BM25)."""
    return [term for term, n in view.lexical.doc_counts(row) for _ in range(n)]
