import numpy as np
import pytest

from policyqa.index.dense import DenseConfig, DenseIndex
from policyqa.index.errors import IndexCorruptError


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(7)
    v = rng.normal(size=(3000, 32)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_exact_matches_numpy(vectors):
    index = DenseIndex.build(vectors)
    assert index.kind == "flat"
    q = vectors[10] * 0.5 + vectors[20] * 0.5
    rows, scores = index.search(q, 5)
    expected = np.argsort(-(vectors @ q), kind="stable")[:5]
    assert rows.tolist() == expected.tolist()
    np.testing.assert_allclose(scores, (vectors @ q)[expected], rtol=1e-5)


def test_switches_to_approximate_at_the_set_size(vectors):
    assert DenseIndex.build(vectors[:999], DenseConfig(approximate_above=1000)).kind == "flat"
    assert DenseIndex.build(vectors[:1000], DenseConfig(approximate_above=1000)).kind == "ivf"


def test_exhaustive_ivf_returns_exact_results(vectors):
    exact = DenseIndex.build(vectors)
    ivf = DenseIndex.build(vectors, DenseConfig(approximate_above=100, nlist=40, nprobe=40))
    for i in range(0, 3000, 150):
        q = vectors[i] + 0.3 * vectors[(i + 1) % 3000]
        assert ivf.search(q, 10)[0].tolist() == exact.search(q, 10)[0].tolist()


def test_allowed_mask_filters(vectors):
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[::10] = True
    approximate = DenseConfig(approximate_above=1, nlist=20, nprobe=20)
    for index in (DenseIndex.build(vectors), DenseIndex.build(vectors, approximate)):
        rows, _ = index.search(vectors[5], 20, allowed=allowed)
        assert len(rows) == 20 and all(r % 10 == 0 for r in rows)
        assert index.search(vectors[5], 5, allowed=np.zeros(len(vectors), dtype=bool))[0].size == 0


def test_empty_and_oversized_k(vectors):
    empty = DenseIndex.build(np.zeros((0, 32), np.float32))
    assert empty.search(vectors[0], 5)[0].size == 0
    small = DenseIndex.build(vectors[:3])
    assert small.search(vectors[0], 50)[0].tolist()[0] == 0 and len(small.search(vectors[0], 50)[0]) == 3


def test_save_load_and_corruption(tmp_path, vectors):
    index = DenseIndex.build(vectors, DenseConfig(approximate_above=100, nlist=30, nprobe=30))
    index.save(tmp_path / "d.faiss")
    loaded = DenseIndex.load(tmp_path / "d.faiss", nprobe=30)
    assert loaded.kind == "ivf"
    assert loaded.search(vectors[3], 5)[0].tolist() == index.search(vectors[3], 5)[0].tolist()
    data = (tmp_path / "d.faiss").read_bytes()
    (tmp_path / "bad.faiss").write_bytes(data[: len(data) // 3])
    with pytest.raises(IndexCorruptError, match="bad.faiss"):
        DenseIndex.load(tmp_path / "bad.faiss", nprobe=1)
    with pytest.raises(IndexCorruptError, match="missing"):
        DenseIndex.load(tmp_path / "none.faiss", nprobe=1)
