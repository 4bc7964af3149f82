"""The bounded cache behind the sentence vectors, the part-of-speech tags and the Milvus chunk rows."""

from __future__ import annotations

import threading

import pytest

from policyqa.index.lru import LRUCache


def test_computes_each_missing_key_once_and_forgets_the_oldest() -> None:
    calls: list[list[str]] = []

    def compute(keys: list[str]) -> dict[str, int]:
        calls.append(keys)
        return {k: len(k) for k in keys}

    cache: LRUCache[str, int] = LRUCache(size=2)
    assert cache.get_many(["a", "bb", "a"], compute) == [1, 2, 1]
    assert cache.get_many(["bb", "ccc"], compute) == [2, 3]  # "a" is now the oldest and is dropped
    assert cache.get_many(["a"], compute) == [1]
    assert calls == [["a", "bb"], ["ccc"], ["a"]]
    assert len(cache) == 2


def test_a_read_makes_a_key_the_newest() -> None:
    cache: LRUCache[str, int] = LRUCache(size=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "b" is now the oldest
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_keys_evicted_while_computing_are_still_returned() -> None:
    """Values are computed outside the lock, so another reader may evict the
    keys this call found in the cache before it returns: it must still answer
    them (the answerer's old vector cache raised KeyError here)."""
    cache: LRUCache[str, str] = LRUCache(size=2)
    cache.put("kept", "K")

    def compute(keys: list[str]) -> dict[str, str]:
        # Another reader fills the cache meanwhile, pushing "kept" out.
        other = threading.Thread(target=cache.get_many, args=(["x", "y"], lambda ks: {k: k.upper() for k in ks}))
        other.start()
        other.join()
        assert cache.get("kept") is None
        return {k: k.upper() for k in keys}

    assert cache.get_many(["kept", "new", "kept"], compute) == ["K", "NEW", "K"]


def test_size_zero_keeps_nothing_and_a_negative_size_is_refused() -> None:
    cache: LRUCache[str, int] = LRUCache(size=0)
    assert cache.get_many(["a", "a"], lambda ks: {k: 1 for k in ks}) == [1, 1]
    assert len(cache) == 0
    with pytest.raises(ValueError, match="cache size -1"):
        LRUCache(size=-1)


def test_milvus_chunk_rows_are_kept_compact_and_a_lost_row_is_an_error() -> None:
    from policyqa.index.errors import IndexCorruptError
    from policyqa.index.milvus_view import ChunkCache

    def fetch(keys: list[int]) -> list[dict]:
        return [{"key": k, "vector": [0.5, 1.0], "tokens": ["数字", "经济", "数字"]} for k in keys if k != 3]

    rows = ChunkCache(size=4).get_many([1, 2], fetch)
    assert [r["key"] for r in rows] == [1, 2]
    assert rows[0]["vector"].dtype.name == "float32" and rows[0]["counts"] == {"数字": 2, "经济": 1}
    with pytest.raises(IndexCorruptError, match="chunk 3 is listed by the index but missing from Milvus"):
        ChunkCache().get_many([1, 3], fetch)
