"""A bounded, thread-safe cache, least recently used dropped first.

The answerer keeps sentence vectors, the tokenizer part-of-speech tags and the
Milvus view chunk rows this way. Values are computed outside the lock (an
embedding batch or a Milvus query must not block other readers), so a value
another thread evicts meanwhile is still returned from what was read under it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError(f"cache size {size}: use 0 (keep nothing) or more")
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        """The value of `key`, now the most recently used; None if absent."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._store({key: value})

    def get_many(self, keys: Sequence[K], compute: Callable[[list[K]], Mapping[K, V]]) -> list[V]:
        """The values of `keys`, in order; `compute` gets the missing ones, each
        once, in one call, and must return a value for every one of them."""
        unique = list(dict.fromkeys(keys))
        with self._lock:
            found = {k: self._items[k] for k in unique if k in self._items}
            for k in found:
                self._items.move_to_end(k)
        missing = [k for k in unique if k not in found]
        if missing:
            fresh = compute(missing)
            found.update((k, fresh[k]) for k in missing)
            with self._lock:
                self._store({k: fresh[k] for k in missing})
        return [found[k] for k in keys]

    def _store(self, items: Mapping[K, V]) -> None:
        # Called with the lock held.
        for key, value in items.items():
            self._items[key] = value
            self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
