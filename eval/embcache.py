"""Chunk embeddings cached on disk between benchmark runs.

    <root>/<model>/seed<seed>/block-00000.f16.npy   vectors of rows 0..BLOCK-1 (float16)
    <root>/<model>/seed<seed>/block-00000.hash.npy  an 8-byte digest of each row's text

Keyed by model and seed, and cut into blocks of rows rather than stored per
corpus size: a synthetic corpus's row i is the same at every size, so the
100k-chunk run reuses the 10k run's vectors, and an interrupted run keeps every
finished block. The row digests decide what is reused, so a changed generator
or model invalidates exactly the rows it changed.

Vectors are always handed out from their float16 form (re-normalized), so a
cold run and a cached run compute with identical vectors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK = 5000

Encode = Callable[[list[str], Callable[[int], None]], np.ndarray]  # (texts, progress) -> (n, dim)


@dataclass
class CacheStats:
    """What one `vectors` call reused and what it had to embed."""

    reused: int = 0
    embedded: int = 0
    embed_seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float | None:
        return self.embedded / self.embed_seconds if self.embedded and self.embed_seconds else None


def model_folder(model_id: str) -> str:
    """A folder-safe name for a model id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_") or "model"


class EmbeddingCache:
    """Float16 chunk vectors for one model and one corpus seed."""

    def __init__(self, root: Path, model_id: str, seed: int, dim: int) -> None:
        self.folder = Path(root) / model_folder(model_id) / f"seed{seed}"
        self.dim = dim

    def vectors(
        self,
        texts: Sequence[str],
        hashes: Sequence[bytes],
        encode: Encode,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, CacheStats]:
        """(len(texts), dim) float32 unit vectors: cached rows reused, the rest
        embedded with `encode` and written back block by block.

        Raises ValueError when texts and hashes differ in length."""
        if len(texts) != len(hashes):
            raise ValueError(f"{len(texts)} texts but {len(hashes)} hashes: pass one hash per text")
        self.folder.mkdir(parents=True, exist_ok=True)
        out = np.empty((len(texts), self.dim), dtype=np.float16)
        stats = CacheStats()
        done = 0
        for start in range(0, len(texts), BLOCK):
            end = min(start + BLOCK, len(texts))
            want = np.frombuffer(b"".join(hashes[start:end]), dtype=np.uint64)
            stored, stored_hash = self._read(start)
            valid = _matching_prefix(stored_hash, want)
            out[start : start + valid] = stored[:valid]
            stats.reused += valid
            done += valid
            if valid < end - start:
                t = time.perf_counter()

                def step(n: int) -> None:
                    nonlocal done
                    done += n
                    if progress:
                        progress(done, len(texts))

                fresh = encode(list(texts[start + valid : end]), step)
                stats.embed_seconds += time.perf_counter() - t
                stats.embedded += end - start - valid
                out[start + valid : end] = fresh.astype(np.float16)
                self._write(start, out[start:end], want)
            if progress:
                progress(done, len(texts))
        return _unit(out), stats

    def _paths(self, start: int) -> tuple[Path, Path]:
        name = f"block-{start // BLOCK:05d}"
        return self.folder / f"{name}.f16.npy", self.folder / f"{name}.hash.npy"

    def _read(self, start: int) -> tuple[np.ndarray, np.ndarray]:
        vec_path, hash_path = self._paths(start)
        try:
            vectors = np.load(vec_path, allow_pickle=False)
            hashes = np.load(hash_path, allow_pickle=False)
        except (OSError, ValueError):
            return np.empty((0, self.dim), np.float16), np.empty(0, np.uint64)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim or len(hashes) != len(vectors):
            return np.empty((0, self.dim), np.float16), np.empty(0, np.uint64)
        return vectors, hashes

    def _write(self, start: int, vectors: np.ndarray, hashes: np.ndarray) -> None:
        vec_path, hash_path = self._paths(start)
        for path, array in ((vec_path, vectors), (hash_path, hashes)):
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
            tmp.replace(path)


def _matching_prefix(stored: np.ndarray, want: np.ndarray) -> int:
    n = min(len(stored), len(want))
    mismatch = np.flatnonzero(stored[:n] != want[:n])
    return int(mismatch[0]) if mismatch.size else n


def _unit(vectors: np.ndarray) -> np.ndarray:
    out = vectors.astype(np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out /= norms
    return out
