"""Tone-less pinyin of an index's own Chinese terms, so that a romanized name in
a question ("Bishan", "Guang Yang") finds its characters (璧山, 广阳湾).

Built per vocabulary (per index version) with `pypinyin`, one call per
distinct character rather than per term: every reading of a polyphonic
character is kept, so "Chongqing" and "Zhongqing" both find 重庆 and nothing
depends on pypinyin guessing the right reading of a name.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable

_CJK_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")
# Readings per term: a term of several polyphonic characters would multiply
# out; the most common readings come first (pypinyin's order).
MAX_READINGS = 8
# Terms looked at per prefix lookup: a short name in a large vocabulary could
# start hundreds of terms; the first ones (in pinyin order) are enough.
MAX_PREFIX_SCAN = 400


class PinyinIndex:
    """Joined, lower-case, tone-less readings of every Chinese term of two or
    more characters, sorted for exact and prefix lookups (ü is found both as
    "v", pypinyin's spelling, and as "u", the usual one in English text)."""

    def __init__(self, terms: Iterable[str]) -> None:
        from pypinyin import Style, pinyin  # here: only a bridged query needs it

        words = sorted({t for t in terms if _CJK_WORD.fullmatch(t)})
        self._readings: dict[str, tuple[str, ...]] = {}
        for c in sorted({c for w in words for c in w}):
            found = pinyin(c, style=Style.NORMAL, heteronym=True, errors="ignore")
            readings = [r for r in (found[0] if found else []) if r.isalpha()]
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
