"""The FAISS + BM25 backend: everything in one index directory on local disk.

Readers hold an immutable `LocalView`; `apply` builds the next version beside
it, persists it atomically, then swaps the reference, so a search in flight
keeps answering from the version it started with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from .backend import Filters, PreparedDocument, Ranking
from .chunkstore import ChunkStore, DocRecord
from .dense import DenseConfig, DenseIndex
from .errors import DocumentNotFoundError, IndexCorruptError, IndexNotFoundError, InputError
from .lexical import LexicalIndex
from .manifest import with_counts
from .store import IndexDirectory
from .types import Chunk

_EMPTY: Ranking = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32))


class LocalView:
    """One version of the index, fully loaded (large arrays memory-mapped)."""

    def __init__(
        self,
        version: str,
        manifest: dict[str, Any],
        store: ChunkStore,
        lexical: LexicalIndex,
        dense: DenseIndex,
        vectors: np.ndarray,
    ) -> None:
        self.version = version
        self.manifest = manifest
        self.store = store
        self.lexical = lexical
        self.dense = dense
        self.vectors = vectors

    @classmethod
    def empty(cls, dim: int) -> LocalView:
        return cls(
            "",
            {},
            ChunkStore.empty(),
            LexicalIndex.build([]),
            DenseIndex.build(np.zeros((0, dim), np.float32)),
            np.zeros((0, dim), np.float32),
        )

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        doc_ok = np.fromiter((filters.matches(d) for d in self.store.docs), dtype=bool, count=len(self.store.docs))
        return doc_ok[self.store.doc_row_column] if len(self.store) else np.zeros(0, dtype=bool)

    def lexical_search(self, tokens: Sequence[str], k: int, filters: Filters | None) -> Ranking:
        if not tokens or not len(self.store):
            return _EMPTY
        rows, scores = self.lexical.top_k(list(tokens), k, allowed=self._allowed(filters))
        return np.asarray(rows, dtype=np.int64), np.asarray(scores)

    def dense_search(self, vector: np.ndarray, k: int, filters: Filters | None) -> Ranking:
        return self.dense.search(vector, k, allowed=self._allowed(filters))

    def lexical_scores(self, tokens: Sequence[str], keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return np.empty(0)
        return self.lexical.scores_of(list(tokens), keys)

    def weighted_lexical_search(self, terms: Mapping[str, float], k: int, filters: Filters | None) -> Ranking:
        if not terms or not len(self.store):
            return _EMPTY
        rows, scores = self.lexical.weighted_top_k(terms, k, allowed=self._allowed(filters))
        return np.asarray(rows, dtype=np.int64), np.asarray(scores)

    def weighted_lexical_scores(self, terms: Mapping[str, float], keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return np.empty(0)
        scores: np.ndarray = self.lexical.weighted_scores(terms)[keys]
        return scores

    def lexical_vocabulary(self) -> LexicalIndex:
        return self.lexical

    def lexical_terms(self, key: int) -> list[str]:
        return self.lexical.doc_tokens(int(key))

    def dense_scores(self, vector: np.ndarray, keys: np.ndarray) -> np.ndarray:
        if not len(keys):
            return np.empty(0, dtype=np.float32)
        return np.asarray(_gather_rows(self.vectors, np.sort(keys)) @ vector)[np.argsort(np.argsort(keys))]

    def resolve(self, keys: Sequence[int]) -> list[tuple[Chunk, DocRecord]]:
        return [(self.store.chunk(int(k)), self.store.doc_of_row(int(k))) for k in keys]

    def documents(self) -> list[DocRecord]:
        return list(self.store.docs)

    def document_text(self, doc_id: str) -> str:
        row = self.store.doc_rows.get(doc_id)
        if row is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in the index: list ids with GET /documents")
        return self.store.document_text(row)

    def stats(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "documents": len(self.store.docs),
            "chunks": len(self.store),
            "vocabulary": len(self.lexical.vocabulary),
            "dense_index": self.dense.kind,
            "backend": LocalBackend.name,
        }


class LocalBackend:
    """FAISS (exact or IVF) for dense search, sparse BM25 for lexical, in one directory."""

    name = "faiss"

    def __init__(
        self, root: Path, dense_config: DenseConfig | None = None, mmap: bool = True, rebuild: bool = False
    ) -> None:
        """`rebuild`: ignore the live version (it is not even opened, so a damaged
        one cannot stop the rebuild) until the first `apply`, which starts from
        empty and replaces it in one atomic commit; until then it stays live."""
        self.directory = IndexDirectory(root)
        self.dense_config = dense_config or DenseConfig()
        self.mmap = mmap
        self._rebuild = rebuild
        self._view: LocalView | None = None
        self._write = threading.Lock()
        self.last_apply_seconds: dict[str, float] = {}
        # One load per new version, however many threads notice it at once.
        self._load_lock = threading.Lock()
        # (version name, manifest) whose files were last checked: one check per version.
        self._checked: tuple[str, dict[str, Any]] | None = None

    def exists(self) -> bool:
        return not self._rebuild and self.directory.exists()

    def recover(self) -> list[str]:
        """Remove what a killed writer left behind (staging folders, versions
        never made live, half-pruned ones); returns their names. Writes nothing,
        and takes no lock, when there is nothing to remove."""
        if not self.directory.leftovers():
            return []
        with self._write, self.directory.writer_lock():
            return self.directory.clean_staging()

    def manifest(self) -> dict[str, Any]:
        """The live version's manifest, its files checked, without loading the
        version: opening an engine reads the model's name and checks the index
        before anything is searched, and the first search loads it (once)."""
        view = self._view
        name, folder = self.directory.current()
        if view is not None and view.version == name:
            return view.manifest
        return self._checked_manifest(name, folder)

    def _checked_manifest(self, name: str, folder: Path) -> dict[str, Any]:
        checked = self._checked
        if checked is None or checked[0] != name:
            checked = (name, self.directory.read_manifest(folder))
            self._checked = checked
        return checked[1]

    def view(self) -> LocalView:
        """The live version, loaded once and then reused until the next `apply`."""
        if self._rebuild:
            raise IndexNotFoundError(
                f"{self.directory.root} is being rebuilt: nothing to read until the rebuild commits"
            )
        view = self._view
        if view is not None and view.version == self._current_name():
            return view
        with self._load_lock:
            view = self._view
            if view is None or view.version != self._current_name():
                view = self._load()
                self._view = view
            return view

    def _current_name(self) -> str:
        # Another process may have committed a newer version since we loaded ours.
        return self.directory.current()[0]

    def _load(self) -> LocalView:
        name, folder = self.directory.current()
        manifest = self._checked_manifest(name, folder)
        store = ChunkStore.load(folder / "chunks", mmap=self.mmap)
        lexical = LexicalIndex.load(folder / "lexical", mmap=self.mmap)
        dense = DenseIndex.load(
            folder / "dense.faiss",
            nprobe=self.dense_config.nprobe,
            mmap=self.mmap,
            search_threads=self.dense_config.search_threads,
        )
        try:
            vectors = np.load(folder / "vectors.npy", allow_pickle=False, mmap_mode="r" if self.mmap else None)
        except (OSError, ValueError, TokenError) as exc:  # a damaged .npy header can raise TokenError
            raise IndexCorruptError(
                f"{folder / 'vectors.npy'} is unreadable ({exc.__class__.__name__}): "
                "re-run `policyqa ingest --rebuild PATH`"
            ) from exc
        n = len(store)
        if not (len(lexical) == len(dense) == vectors.shape[0] == n):
            raise IndexCorruptError(
                f"{folder} holds components of different sizes (chunks {n}, lexical {len(lexical)}, "
                f"dense {len(dense)}, vectors {vectors.shape[0]}): re-run `policyqa ingest --rebuild PATH`"
            )
        return LocalView(name, manifest, store, lexical, dense, vectors)

    def apply(self, add: Sequence[PreparedDocument], remove: Sequence[str], manifest: Mapping[str, Any]) -> LocalView:
        """Remove documents by id, add prepared ones (replacing same ids), commit atomically.

        Afterwards `last_apply_seconds` holds the seconds each stage took
        ("store", "lexical", "dense", "save", "commit"), for benchmarks."""
        seconds: dict[str, float] = {}
        clock = _Clock(seconds)
        with self._write, self.directory.writer_lock():
            self.directory.clean_staging()
            dim = int(manifest["dim"])
            base = self.view() if self.exists() else LocalView.empty(dim)
            drop = set(remove) | {p.document.doc_id for p in add}
            with clock("store"):
                store, keep = base.store.without_docs([d for d in drop if d in base.store.doc_rows])
                if add:
                    store = store.append([p.document for p in add], [p.chunks for p in add])
            with clock("lexical"):
                lexical = base.lexical.select(keep) if len(keep) != len(base.store) else base.lexical
                if add:
                    lexical = lexical.append([t for p in add for t in p.tokens])
            with clock("dense"):
                vectors = _stack_vectors(base.vectors, keep, len(base.store), add, dim)
                dense = DenseIndex.build(vectors, self.dense_config)

            staging = self.directory.new_staging()
            try:
                with clock("save"):
                    store.save(staging / "chunks")
                    lexical.save(staging / "lexical")
                    dense.save(staging / "dense.faiss")
                    np.save(staging / "vectors.npy", vectors, allow_pickle=False)
                full_manifest = with_counts(
                    manifest,
                    documents=len(store.docs),
                    chunks=len(store),
                    vocabulary=len(lexical.vocabulary),
                    dense_index=dense.kind,
                    backend="faiss+bm25",
                )
                with clock("commit"):
                    name = self.directory.commit(staging, full_manifest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            self._rebuild = False  # committed: from now on this backend reads the new index
            self.directory.prune()
            manifest = self.directory.read_manifest(self.directory.versions / name)
            view = LocalView(name, manifest, store, lexical, dense, vectors)
            self._view = view
            self.last_apply_seconds = seconds
            return view


def _gather_rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """vectors[rows]; from a memory-mapped .npy read with pread rather than through
    the map: on kernels that map page-cache folios whole (Linux 6.x), touching a
    row through the map made megabytes resident, and after a few hundred queries
    a million-chunk index counted its whole 2 GB vectors file in RSS."""
    if not isinstance(vectors, np.memmap) or not vectors.filename or not vectors.flags.c_contiguous:
        return np.asarray(vectors[rows])
    width = vectors.shape[1] * vectors.itemsize
    out = np.empty((len(rows), vectors.shape[1]), dtype=vectors.dtype)
    fd = os.open(vectors.filename, os.O_RDONLY)
    try:
        for i, row in enumerate(rows.tolist()):
            out[i] = np.frombuffer(os.pread(fd, width, vectors.offset + row * width), dtype=vectors.dtype)
    finally:
        os.close(fd)
    return out


def _stack_vectors(
    old: np.ndarray, keep: np.ndarray, n_old: int, add: Sequence[PreparedDocument], dim: int
) -> np.ndarray:
    """The kept old rows, then every added document's vectors, in one float32
    array filled in place (no per-document copies held at once: at a million
    chunks each full copy is 2 GB). A fresh index whose documents' vectors are
    consecutive rows of one array, as `Engine.prepare` makes them, uses that
    array itself (read-only), so the vectors are not held twice."""
    if not len(keep):
        shared = _one_array(add, dim)
        if shared is not None:
            return shared
    n_new = sum(len(p.chunks) for p in add)
    out = np.empty((len(keep) + n_new, dim), dtype=np.float32)
    old = np.asarray(old).reshape(-1, dim)
    out[: len(keep)] = old[keep] if len(keep) != n_old else old
    at = len(keep)
    for p in add:
        rows = np.asarray(p.vectors).reshape(-1, dim)
        if len(rows) != len(p.chunks):
            raise InputError(
                f"document {p.document.doc_id} has {len(rows)} vectors for {len(p.chunks)} chunks: give one per chunk"
            )
        out[at : at + len(rows)] = rows
        at += len(rows)
    return out


def _one_array(add: Sequence[PreparedDocument], dim: int) -> np.ndarray | None:
    """The float32 array whose consecutive rows are exactly the documents'
    vectors, in order, when there is one; else None."""
    views = [np.asarray(p.vectors) for p in add]
    base = views[0].base if views else None
    if not (
        isinstance(base, np.ndarray)
        and base.dtype == np.float32
        and base.ndim == 2
        and base.shape[1] == dim
        and base.flags.c_contiguous
    ):
        return None
    at = base.ctypes.data
    for v, p in zip(views, add, strict=True):
        if v.base is not base or v.ndim != 2 or len(v) != len(p.chunks):
            return None
        if v.nbytes and v.ctypes.data != at:  # (an empty slice may point anywhere)
            return None
        at += v.nbytes
    if at != base.ctypes.data + base.nbytes:
        return None
    shared = base.view()
    shared.flags.writeable = False  # the caller's array: the index must never write to it
    return shared


class _Clock:
    """`with clock("stage"):` adds the block's wall time to seconds["stage"]."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self._seconds = seconds

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self._seconds[stage] = self._seconds.get(stage, 0.0) + time.perf_counter() - start
