"""Tone-less pinyin of an index's own Chinese terms, so that a romanized name in
a question ("Bishan", "Guang Yang") finds its characters (璧山, 广阳湾).

Built per vocabulary (per index version) from `pypinyin`'s character table,
read as data: every reading of a polyphonic character is kept, so
"Chongqing" and "Zhongqing" both find 重庆 and nothing depends on guessing
the right reading of a name. The table is read without importing pypinyin,
whose import loads its phrase dictionary too (about 220 ms, paid by the
first English question of a process); the readings are the same as
`pypinyin.pinyin(c, Style.NORMAL, heteronym=True)` gives for one character
(`tests/test_bridge.py` checks it).
"""

from __future__ import annotations

import bisect
import functools
import importlib.util
import itertools
import json
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

_CJK_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
# Readings per term: a term of several polyphonic characters would multiply
# out; the most common readings come first (pypinyin's order).
MAX_READINGS = 8
# Terms looked at per prefix lookup: a short name in a large vocabulary could
# start hundreds of terms; the first ones (in pinyin order) are enough.
MAX_PREFIX_SCAN = 400


@functools.cache
def character_readings() -> dict[str, str]:
    """pypinyin's table: code point (a decimal string) -> readings with tone
    marks, comma-separated ("重": "zhòng,chóng,tóng")."""
    spec = importlib.util.find_spec("pypinyin")
    try:
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError("pypinyin is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"the pinyin table of the pypinyin package is unreadable ({exc}): "
            "`pip install pypinyin`, or search with the bridge off"
        ) from exc
    return table


def toneless(reading: str) -> str:
    """"lǜ" → "lv", "zhòng" → "zhong" (pypinyin's Style.NORMAL spelling)."""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def char_readings(c: str) -> list[str]:
    """The tone-less readings of one character, most common first ([] if none)."""
    marked = character_readings().get(str(ord(c)), "")
    return [r for r in dict.fromkeys(toneless(r) for r in marked.split(",") if r) if r.isalpha()]


class PinyinIndex:
    """Joined, lower-case, tone-less readings of every Chinese term of two or
    more characters, sorted for exact and prefix lookups (ü is found both as
    "v", pypinyin's spelling, and as "u", the usual one in English text)."""

    def __init__(self, terms: Iterable[str]) -> None:
        words = sorted({t for t in terms if _CJK_WORD.fullmatch(t)})
        self._readings: dict[str, tuple[str, ...]] = {}
        for c in sorted({c for w in words for c in w}):
            readings = char_readings(c)
            self._readings[c] = tuple(dict.fromkeys(readings + [r.replace("v", "u") for r in readings if "v" in r]))
        self._syllables = frozenset(r for rs in self._readings.values() for r in rs)
        pairs = sorted((key, w) for w in words for key in self.readings(w))
        self._keys = [k for k, _ in pairs]
        self._words = [w for _, w in pairs]

    def __len__(self) -> int:
        """The number of (reading, term) pairs."""
        return len(self._keys)

    def is_syllable(self, text: str) -> bool:
        """Whether `text` is the reading of some character of the vocabulary."""
        return text in self._syllables

    def readings(self, word: str) -> list[str]:
        """The joined readings of `word`, at most MAX_READINGS, most common
        first; [] when a character has none (or was not in the vocabulary)."""
        per_char = [self._readings.get(c, ()) for c in word]
        if not all(per_char):
            return []
        return ["".join(p) for p in itertools.islice(itertools.product(*per_char), MAX_READINGS)]

    def exact(self, key: str) -> list[str]:
        """Terms read exactly `key` ("bishan" → [璧山]), in code-point order."""
        lo = bisect.bisect_left(self._keys, key)
        hi = bisect.bisect_right(self._keys, key, lo)
        return sorted(set(self._words[lo:hi]))

    def prefixed(self, key: str) -> dict[str, list[str]]:
        """Longer terms whose first two or more characters read `key`, by those
        characters: "guangyang" → {广阳: [广阳岛, 广阳湾]} (syllable-aligned:
        "bishan" does not find a term read "bishang...")."""
        lo = bisect.bisect_right(self._keys, key)  # past the exact matches
        hi = bisect.bisect_left(self._keys, key + "\x7f", lo)
        out: dict[str, set[str]] = {}
        for word in self._words[lo : min(hi, lo + MAX_PREFIX_SCAN)]:
            for j in range(2, len(word)):
                if key in self.readings(word[:j]):
                    out.setdefault(word[:j], set()).add(word)
        return {p: sorted(ws) for p, ws in sorted(out.items())}
