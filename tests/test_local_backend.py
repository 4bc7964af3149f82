"""LocalBackend.apply at scale: vectors prepared as one array are not copied."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from policyqa.index.backend import PreparedDocument
from policyqa.index.dense import DenseConfig
from policyqa.index.local_backend import LocalBackend
from policyqa.index.types import Chunk, Document

MANIFEST = {"model_id": "fake", "model_name": "fake", "dim": 8, "tokenizer": "t"}


def _prepared(vectors: np.ndarray, sizes: list[int], prefix: str = "d") -> list[PreparedDocument]:
    out, at = [], 0
    for i, n in enumerate(sizes):
        text = "。".join(f"第{i}篇第{j}句" for j in range(n))
        doc = Document(f"{prefix}{i}", f"标题{i}", f"src/{prefix}{i}", text, f"fp{prefix}{i}")
        chunks = [Chunk(doc.doc_id, f"{doc.doc_id}-{j:04d}", text[:1], 0, 1) for j in range(n)]
        out.append(PreparedDocument(doc, chunks, vectors[at : at + n], [[f"词{i}", f"句{j}"] for j in range(n)]))
        at += n
    return out


def _unit(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_fresh_index_uses_the_prepared_array_without_copying_it(tmp_path: Path) -> None:
    vectors = _unit(12)
    backend = LocalBackend(tmp_path / "i", dense_config=DenseConfig(approximate_above=5, nlist=2, nprobe=2))
    view = backend.apply(_prepared(vectors, [3, 0, 4, 5]), [], MANIFEST)
    assert np.shares_memory(view.vectors, vectors) and not view.vectors.flags.writeable
    assert view.dense.kind == "ivf" and view.dense.search(vectors[7], 1)[0].tolist() == [7]
    saved = np.load(tmp_path / "i" / "versions" / (tmp_path / "i" / "CURRENT").read_text() / "vectors.npy")
    np.testing.assert_array_equal(saved, vectors)


def test_vectors_from_separate_arrays_or_an_update_are_copied(tmp_path: Path) -> None:
    first, second = _unit(6, 1), _unit(4, 2)
    docs = _prepared(first, [2, 4])
    backend = LocalBackend(tmp_path / "i")
    view = backend.apply([docs[1], docs[0]], [], MANIFEST)  # out of order: copied
    assert not np.shares_memory(view.vectors, first)
    np.testing.assert_array_equal(view.vectors, np.concatenate([first[2:], first[:2]]))
    view = backend.apply(_prepared(second, [4], prefix="new"), ["d0"], MANIFEST)  # old rows kept: copied
    assert not np.shares_memory(view.vectors, second)
    np.testing.assert_array_equal(view.vectors, np.concatenate([first[2:], second]))
