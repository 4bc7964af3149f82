"""The reversed CC-CEDICT kept in a SQLite cache: the same answers as the
dictionary built in memory, opened without reading CC-CEDICT again, rebuilt
when damaged, and skipped where no cache folder can be written."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from policyqa.index import glossary
from policyqa.index.glossary import GlossDictionary


@pytest.fixture(scope="module")
def in_memory() -> GlossDictionary:
    return GlossDictionary(cached=False).load()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gloss-cache")
    GlossDictionary(cache_dir=folder).load()  # built once here
    return folder


def test_the_cache_answers_as_the_dictionary_in_memory(in_memory: GlossDictionary, cache_dir: Path) -> None:
    cached = GlossDictionary(cache_dir=cache_dir).load()
    assert in_memory._keys is not None and cached._db is not None
    keys = random.Random(0).sample(sorted(in_memory._keys), 3_000)
    keys += ["park", "new energy vehicle", "gdp", "pm2 5", "no such key at all"]
    for key in keys:
        assert cached.lookup(key) == in_memory.lookup(key), key
    words = random.Random(1).sample(sorted(in_memory._english), 1_000) + ["chongqing", "xyzzyq"]
    for word in words:
        assert cached.is_english(word) == in_memory.is_english(word), word
    assert cached.is_curated("gdp") and not cached.is_curated("park")


def test_an_existing_cache_is_opened_without_reading_cedict(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(data: bytes) -> None:
        raise AssertionError("CC-CEDICT was parsed again")

    monkeypatch.setattr(glossary, "_parse_cedict", refuse)
    assert [c.word for c in GlossDictionary(cache_dir=cache_dir).lookup("industrial park")][:1] == ["工业园区"]


def test_a_damaged_cache_is_built_again(cache_dir: Path, tmp_path: Path, in_memory: GlossDictionary) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    name = next(cache_dir.glob("cedict-*.sqlite")).name
    (folder / name).write_bytes(b"not a database at all" * 100)
    rebuilt = GlossDictionary(cache_dir=folder)
    assert rebuilt.lookup("park") == in_memory.lookup("park")
    assert rebuilt._db is not None and (folder / name).stat().st_size > 1_000_000


def test_no_writable_cache_folder_means_memory(tmp_path: Path, in_memory: GlossDictionary) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the cache folder would be", encoding="utf-8")
    glosses = GlossDictionary(cache_dir=blocked / "cache")
    assert glosses.lookup("park") == in_memory.lookup("park")
    assert glosses._db is None and glosses._keys is not None
