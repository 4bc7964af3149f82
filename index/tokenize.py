"""Chinese (and mixed-script) tokenization for BM25: normalize, cut with jieba,
keep numbers and Latin words whole, drop stopwords.

The same tokenizer must cut the corpus and the queries; `fingerprint` names its
configuration so an index can record what built it and refuse a query
tokenizer that would cut differently.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jieba

from .enums import parse_enum
from .errors import InputError
from .lru import LRUCache

# Bump whenever `normalize` or the token rules below change: it feeds the
# fingerprint, so indexes built with the old rules are detected as stale.
NORMALIZATION_VERSION = 1

_CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# Word characters that are neither CJK nor "_": Latin, digits, kana, Cyrillic...
_ALNUM = rf"[^\W_{_CJK}]"
_TOKEN = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    # A number, with an optional decimal part and percent sign, that does not run
    # on into letters ("35%", "6.9%", "2025" in "2025年"; "5g" is a word instead).
    rf"|(?P<num>[0-9]+(?:\.[0-9]+)?%?(?!{_ALNUM}))"
    # A Latin/alphanumeric word; "&" inside a word keeps "r&d" whole.
    rf"|(?P<word>{_ALNUM}+(?:&{_ALNUM}+)*)"
)
# Chinese puts no spaces between words, so whitespace between two CJK characters
# is a layout artifact (PDF line wraps, letter-spaced headings): "广阳\n湾" is 广阳湾.
_CJK_GAP = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")

_RESOURCES = Path(__file__).with_name("resources")
TAG_CACHE_SIZE = 8192  # texts whose part-of-speech tags are kept (sentences: a few MB)


class CutMode(enum.StrEnum):
    """How jieba cuts a run of Chinese: `accurate` gives each word once (数字经济
    → 数字 经济, 工业园区 → 工业园区); `search` also gives the dictionary words
    inside a long word (工业园区 → 工业 园区 工业园 工业园区), as jieba's
    `cut_for_search` does, so a query for a part matches the whole and back."""

    ACCURATE = "accurate"
    SEARCH = "search"

    @classmethod
    def parse(cls, value: object) -> CutMode:
        return parse_enum(cls, value, "cut mode")


@dataclass(frozen=True)
class DictEntry:
    """One user-dictionary word; freq None lets jieba pick one that keeps it whole."""

    word: str
    freq: int | None
    tag: str | None


def normalize(text: str) -> str:
    """NFKC (full-width letters, digits and punctuation become half-width), lower
    case, and no whitespace between two CJK characters."""
    return _CJK_GAP.sub("", unicodedata.normalize("NFKC", text).lower())


def default_stopwords() -> frozenset[str]:
    """The shipped stopword list (index/resources/stopwords.txt), normalized.

    Extend it with `ChineseTokenizer(stopwords=default_stopwords() | {...})`."""
    text = (_RESOURCES / "stopwords.txt").read_text(encoding="utf-8")
    return frozenset(_stopword_lines(text))


def parse_user_dict(text: str, source: str) -> list[DictEntry]:
    """Parse jieba's `word [freq] [tag]` lines; blank lines and `#` comments are skipped.

    Raises InputError naming `source` and the line when a line is malformed or
    a word holds non-CJK characters (only CJK runs reach jieba, so such a word
    could never match)."""
    entries = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        word = normalize(parts[0])
        where = f"{source}:{lineno}"
        if len(parts) > 3 or not re.fullmatch(rf"[{_CJK}]+", word):
            raise InputError(
                f"{where}: {line!r} is not `word [freq] [tag]` with a Chinese word: "
                "fix the line (Latin words and numbers are kept whole without a dictionary)"
            )
        freq: int | None = None
        tag: str | None = None
        for part in parts[1:]:
            if part.isdigit() and freq is None and tag is None:
                freq = int(part)
            elif tag is None and part.isalpha():
                tag = part
            else:
                raise InputError(f"{where}: {part!r} in {line!r} is neither a frequency nor a tag: fix the line")
        # jieba treats freq 0 as "force a split" and records that in module-global
        # state shared by every tokenizer in the process, so refuse it.
        if freq == 0:
            raise InputError(f"{where}: frequency 0 in {line!r}: use a positive frequency or remove the line")
        entries.append(DictEntry(word, freq, tag))
    return entries


def _stopword_lines(text: str) -> Iterator[str]:
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            yield normalize(line)


class ChineseTokenizer:
    """Cuts text into BM25 terms with its own jieba dictionary (HMM on; accurate
    or search `CutMode`).

    Rules, in order: `normalize` (NFKC, lower case, no whitespace between CJK
    characters); CJK runs are cut by jieba; numbers stay whole with their decimal
    part and percent sign ("6.9%", and "2025年" gives "2025", "年" so a year
    matches however it is written); Latin/alphanumeric words stay whole ("gdp",
    "r&d", "5g"); punctuation and whitespace are dropped; stopwords are dropped.

    jieba's dictionary is loaded on the first `tokenize` call (about a second),
    not in the constructor; the dictionary files are read and checked at once.
    """

    def __init__(
        self,
        user_dict: Path | None = None,
        stopwords: Iterable[str] | None = None,
        cut: CutMode | str = CutMode.ACCURATE,
    ) -> None:
        """`user_dict`: an extra jieba dictionary loaded after the built-in one.
        `stopwords`: replaces the built-in list when given (pass `()` for none).
        `cut`: `CutMode` (or its name); corpus and queries must use the same.
        Accurate is the default: search mode measured no better on dev
        questions (README, "Cut mode"), and it keeps existing indexes valid.

        Raises InputError when `user_dict` is missing or malformed, or for an
        unknown cut mode."""
        self._cut = CutMode.parse(cut)
        builtin = (_RESOURCES / "userdict.txt").read_text(encoding="utf-8")
        self._entries = parse_user_dict(builtin, "index/resources/userdict.txt")
        if user_dict is not None:
            if not user_dict.is_file():
                raise InputError(f"user dictionary {user_dict} does not exist: pass an existing file or None")
            self._entries += parse_user_dict(user_dict.read_text(encoding="utf-8"), str(user_dict))
        if isinstance(stopwords, str):
            raise InputError("stopwords is a str: pass an iterable of words, e.g. a set")
        self._stopwords = default_stopwords() if stopwords is None else frozenset(normalize(w) for w in stopwords)
        self._jieba: jieba.Tokenizer | None = None
        self._tagger: Any = None
        self._lock = threading.Lock()
        self._tag_lock = threading.Lock()
        # Tags of recent texts: an answer tags its candidate sentences and then again the
        # quoted ones for the short answer, and a small corpus serves the same sentences
        # to many questions.
        self._tags: LRUCache[str, tuple[tuple[str, str], ...]] = LRUCache(TAG_CACHE_SIZE)

    @property
    def cut(self) -> CutMode:
        """The cut mode."""
        return self._cut

    @property
    def stopwords(self) -> frozenset[str]:
        """The (normalized) words dropped from every token list."""
        return self._stopwords

    @property
    def fingerprint(self) -> str:
        """16 hex characters that change whenever the tokens could: the dictionary
        additions, the stopwords, the cut mode, the normalization rules and the
        jieba version (whose built-in dictionary can change)."""
        payload = {
            "normalization": NORMALIZATION_VERSION,
            "cut": f"{self._cut.value}+hmm",
            "jieba": jieba.__version__,
            "userdict": [[e.word, e.freq, e.tag] for e in self._entries],
            "stopwords": sorted(self._stopwords),
        }
        blob = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]

    def tokenize(self, text: str) -> list[str]:
        """The terms of `text`, in order (repeats kept: BM25 counts them)."""
        tokens: list[str] = []
        for match in _TOKEN.finditer(normalize(text)):
            if match.lastgroup == "cjk":
                tokens.extend(t for t in self._cut_run(match.group()) if t not in self._stopwords)
            elif match.group() not in self._stopwords:
                tokens.append(match.group())
        return tokens

    def tag(self, text: str) -> list[tuple[str, str]]:
        """`text` cut into (word, part-of-speech) pairs by jieba.posseg with this
        tokenizer's dictionary (its user words keep their tags: 广阳湾 ns). The
        words are the text itself, unnormalized, so their lengths give exact offsets."""
        tagger = self._tagger
        if tagger is None:
            import jieba.posseg  # only answers need tags

            with self._lock:
                tagger = self._tagger
                if tagger is None:
                    tagger = jieba.posseg.POSTokenizer(self._dictionary_unlocked())
                    self._tagger = tagger
        tags = self._tags.get(text)
        if tags is None:
            with self._tag_lock:  # POSTokenizer merges user tags lazily: not safe to share unguarded
                tags = tuple((p.word, p.flag) for p in tagger.cut(text, HMM=True))
            self._tags.put(text, tags)
        return list(tags)

    def _cut_run(self, run: str) -> Iterator[str]:
        # The one place that calls jieba; the cut mode is named in the fingerprint.
        jt = self._dictionary()
        if self._cut is CutMode.SEARCH:
            return iter(jt.cut_for_search(run, HMM=True))
        return iter(jt.cut(run, HMM=True))

    def _dictionary(self) -> jieba.Tokenizer:
        jt = self._jieba
        if jt is None:
            with self._lock:  # searchers share one tokenizer across threads
                jt = self._dictionary_unlocked()
        return jt

    def _dictionary_unlocked(self) -> jieba.Tokenizer:
        jt = self._jieba
        if jt is None:
            jt = self._load_jieba()
            self._jieba = jt
        return jt

    def _load_jieba(self) -> jieba.Tokenizer:
        # jieba logs its dictionary loading at DEBUG to stderr through a handler
        # it attached at import; quieten only its own logger.
        logging.getLogger("jieba").setLevel(logging.WARNING)
        jt = jieba.Tokenizer()
        # What `jt.initialize()` does, minus its cache file: that one lives in the
        # shared temp folder (a write outside the index directory, and a file any
        # local user could replace), and reading it is hardly faster (1.6 s against
        # 1.7 s for building the prefix dictionary from jieba's own dict.txt).
        jt.FREQ, jt.total = jt.gen_pfdict(jt.get_dict_file())
        jt.initialized = True
        for e in self._entries:
            jt.add_word(e.word, e.freq, e.tag)
        return jt
