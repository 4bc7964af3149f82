"""A cross-lingual lexical bridge: the English words and figures of a question
become weighted Chinese BM25 terms, offline.

The reports are Chinese; an English question shares almost no tokens with them,
so BM25 is blind to it and the dense side carries it alone. The bridge gives
BM25 Chinese terms to match, from three sources, always restricted to terms the
index holds:

- **gloss**: CC-CEDICT read backwards (`glossary.py`). Phrases are matched
  before words ("industrial park" → 工业园区, not 工业 + 园区/公园), plural,
  -ing and -ed forms fall back to the base word, and neighbouring words whose
  translations concatenate into an index term are joined ("software" + "park"
  → 软件园, "Guangyang" + "Bay" → 广阳湾).
- **pinyin**: the readings of the index's own Chinese terms (`pinyin.py`), so a
  romanized name finds its characters, however it is spaced or capitalized
  ("Bishan", "Bi Shan", "BISHAN" → 璧山; "Guang Yang Bay" → 广阳湾).
- **number**: the English ways of writing the figures the tokenizer keeps whole
  ("35 percent" and "35 %" → 35%, "1,800" → 1800, "20.82 billion" → 208.2 as
  in 208.2亿, "22nd" → 22).

Each matched span of the question has a budget of weight 1, one Chinese query
token's worth, shared over its candidate terms. `Translation.coverage` says how
much of the question found index terms; the engine trusts BM25 accordingly.
"""

from __future__ import annotations

import enum
import itertools
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .errors import InputError
from .glossary import GlossDictionary
from .hybrid import cjk_share
from .pinyin import PinyinIndex

_RESOURCES = Path(__file__).with_name("resources")
# Spans longer than this are never glossed: CC-CEDICT's useful keys are short.
MAX_SPAN_WORDS = 5
# A romanized name is at most this many words ("Guang Yang Wan").
MAX_NAME_WORDS = 3
# A romanized name of fewer letters is too likely to be something else.
MIN_NAME_LETTERS = 4
# The weight of each part of a compound the index splits.
PART_WEIGHT = 1.0


class Vocabulary(Protocol):
    """What the bridge reads of an index's terms (`LexicalIndex` has it)."""

    @property
    def vocabulary(self) -> Mapping[str, int]: ...

    def document_frequency(self, term: str) -> int: ...


class BridgeSource(enum.StrEnum):
    GLOSS = "gloss"
    PINYIN = "pinyin"
    NUMBER = "number"


@dataclass(frozen=True)
class BridgeTerm:
    """A Chinese index term the bridge added: the weight that multiplies its BM25
    contribution, where it came from, and the words of the query it stands for."""

    term: str
    weight: float
    source: BridgeSource
    query: str

    def to_dict(self) -> dict[str, object]:
        return {"term": self.term, "weight": round(self.weight, 4), "source": self.source.value, "query": self.query}


@dataclass(frozen=True)
class Translation:
    """What the bridge made of one query.

    `terms`: the added terms, in query order. `coverage`: the share of the
    query's English content words and figures (stopwords aside) that reach an
    index term, through the bridge or as themselves ("GDP", "2021"); 1.0 when
    the query has none."""

    terms: tuple[BridgeTerm, ...]
    coverage: float

    def weights(self) -> dict[str, float]:
        """Term -> summed weight (a term reached from two spans adds up)."""
        out: dict[str, float] = {}
        for t in self.terms:
            out[t.term] = out.get(t.term, 0.0) + t.weight
        return out

    def to_dict(self) -> dict[str, object]:
        return {"coverage": round(self.coverage, 4), "terms": [t.to_dict() for t in self.terms]}


class BridgeComponent(enum.StrEnum):
    """The parts of the bridge that can be switched off one at a time (to
    measure what each contributes: `policyqa eval --bridge-without ...`)."""

    PHRASES = "phrases"  # a span of several words glossed whole ("fixed asset investment")
    COMPOUNDS = "compounds"  # neighbours joined into one index term, and compounds the index splits
    SENSES = "senses"  # a word's glosses weighted by how much the corpus uses each
    ABBREVIATIONS = "abbreviations"  # the curated table (GDP, PM2.5, carbon peaking ...)
    NUMERALS = "numerals"  # English figures, and figures written the other way (三成 / 30%)
    NAMES = "names"  # romanized names through the pinyin of the index's terms

    @classmethod
    def parse_list(cls, text: str) -> frozenset[BridgeComponent]:
        """"phrases,senses" → those components; raises InputError naming the choices."""
        names = [n.strip().lower() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in cls._value2member_map_]
        if unknown:
            raise InputError(f"unknown bridge component {unknown[0]!r}: use any of {', '.join(c.value for c in cls)}")
        return frozenset(cls(n) for n in names)


@dataclass(frozen=True)
class BridgeConfig:
    """How a span's weight is shared by its candidates (defaults: seed dev set).

    A candidate's share is proportional to its gloss prior × (1 + document
    frequency) ** `df_exponent`, so the sense the corpus uses outweighs rare
    ones; candidates under `min_share` × the best one's are dropped. `without`:
    components switched off (all on by default)."""

    df_exponent: float = 0.5
    min_share: float = 0.1
    without: frozenset[BridgeComponent] = frozenset()

    def __post_init__(self) -> None:
        if not (self.df_exponent >= 0 and 0 <= self.min_share <= 1):
            raise InputError(
                f"bridge config df_exponent={self.df_exponent}, min_share={self.min_share}: "
                "use df_exponent >= 0 and 0 <= min_share <= 1"
            )

    def uses(self, component: BridgeComponent) -> bool:
        return component not in self.without


# ---- English words --------------------------------------------------------


def english_stopwords() -> frozenset[str]:
    """The shipped list (index/resources/english_stopwords.txt), lower case."""
    text = (_RESOURCES / "english_stopwords.txt").read_text(encoding="utf-8")
    return frozenset(w for w in (line.strip().lower() for line in text.splitlines()) if w and not w.startswith("#"))


_IRREGULAR = {"men": ("man",), "women": ("woman",), "children": ("child",), "people": ("person",)}


def lemma_variants(word: str) -> list[str]:
    """`word` and the base forms a light lemmatizer tries, in this order:
    parks → park, industries → industry, taxes → tax, planted → plant,
    planned → plan, certified → certify, planning → plan. The caller keeps
    the first form the dictionary knows, so "parking" stays "parking"."""
    out = [word, *_IRREGULAR.get(word, ())]
    n = len(word)
    if n > 4 and word.endswith("ies"):
        out.append(word[:-3] + "y")
    if n > 3 and word.endswith("es"):
        out.append(word[:-2])
    if n > 3 and word.endswith("s") and not word.endswith("ss"):
        out.append(word[:-1])
    for suffix in ("ed", "ing"):
        if n > len(suffix) + 2 and word.endswith(suffix):
            stem = word[: -len(suffix)]
            out += [stem, stem + "e"]
            if len(stem) > 2 and stem[-1] == stem[-2]:
                out.append(stem[:-1])
            if suffix == "ed" and stem.endswith("i"):
                out.append(stem[:-1] + "y")
    return list(dict.fromkeys(out))


# ---- figures ----------------------------------------------------------------

NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?"
    r"(?:\s*(?P<pct>%|percent\b|per\s+cent\b|pct\b)"
    r"|[\s\-]*(?P<mag>billion|bn|million|mn|thousand)\b"
    r"|(?P<ord>st|nd|rd|th)\b)?"
    r"(?![A-Za-z])",  # "5G" is a word, as the tokenizer has it
    re.IGNORECASE,
)
_MAGNITUDE = {"billion": 10**9, "bn": 10**9, "million": 10**6, "mn": 10**6, "thousand": 10**3}


def number_forms(match: re.Match[str]) -> list[str]:
    """The index tokens that a figure matched by `NUMBER` may appear as in a
    Chinese report: 35 percent → 35%; 1,800 → 1800; 22nd → 22; 300 thousand →
    300000 or 30 (30万); 20.82 billion → 20820000000, 2082000 (万) or 208.2 (亿);
    a round amount also in words, as in 千亿级 or 百万吨 (100 billion → 千亿,
    1 million → 百万)."""
    number = match.group("num").replace(",", "") + (match.group("frac") or "")
    if match.group("pct"):
        return [number + "%"]
    mag = match.group("mag")
    if not mag:
        return [number]
    value = float(number) * _MAGNITUDE[mag.lower()]
    forms = [f"{v:.6f}".rstrip("0").rstrip(".") for v in (value, value / 10**4, value / 10**8) if v >= 1]
    for unit, size in (("亿", 10**8), ("万", 10**4)):
        words = _round_in_words(value / size)
        if words:
            forms += [words + unit]
    return list(dict.fromkeys(forms))


_POWERS = {10: "十", 100: "百", 1000: "千", 10_000: "万"}


def _round_in_words(amount: float) -> str:
    """十, 百, 千 or 万 for an amount of exactly that many ('' otherwise): the
    round figures reports write in words (千亿, 百万)."""
    return _POWERS.get(int(amount), "") if amount == int(amount) else ""


# ---- the bridge -----------------------------------------------------------

_WORD = re.compile(r"[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*(?:['’][A-Za-z]+)*")
# What may stand between two words of one phrase or name: spaces, a hyphen, an ampersand ("R&D").
_JOINER = re.compile(r"[\s\-‐‑–&]*")


@dataclass(frozen=True)
class _Word:
    text: str  # as written, without a possessive 's
    lower: str
    stop: bool
    name_part: bool  # may be (part of) a romanized name


@dataclass
class _Span:
    """Words first..last (positions in their segment) with Chinese candidates."""

    first: int
    last: int
    query: str
    source: BridgeSource
    terms: dict[str, float] = field(default_factory=dict)  # index term -> prior
    strings: set[str] = field(default_factory=set)  # Chinese to join with a neighbour (maybe not index terms)
    # The terms are the parts of one compound the index splits (新能源汽车 →
    # 新能源 + 汽车): all of them are meant, not one of them.
    parts: bool = False


class Bridge:
    """English → Chinese index terms over one vocabulary (one index version).

    `glosses` is shared between versions; the pinyin index of the vocabulary
    is built on the first query that needs it (0.3 s of CPU on the seed index,
    3 s for 350,000 terms). `segment`: the index's tokenizer, which splits a
    gloss the index does not hold as one term into the terms it does (the
    reports' 新能源汽车 is indexed as 新能源 + 汽车). Thread-safe."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        glosses: GlossDictionary,
        config: BridgeConfig | None = None,
        stopwords: frozenset[str] | None = None,
        segment: Callable[[str], list[str]] | None = None,
    ) -> None:
        self._vocab = vocabulary
        self._glosses = glosses
        self.config = config or BridgeConfig()
        self._stopwords = english_stopwords() if stopwords is None else stopwords
        self._segment = segment
        self._pinyin: PinyinIndex | None = None
        self._lock = threading.Lock()

    def pinyin_index(self) -> PinyinIndex:
        """The vocabulary's pinyin index, built on first use."""
        if self._pinyin is None:
            with self._lock:
                if self._pinyin is None:
                    self._pinyin = PinyinIndex(self._vocab.vocabulary)
        return self._pinyin

    def translate(self, query: str) -> Translation:
        """Weighted Chinese index terms for the English words and figures of
        `query`; Chinese text in it is left to the tokenizer."""
        text = unicodedata.normalize("NFKC", query)
        found: list[tuple[int, BridgeTerm]] = []
        numbers = list(NUMBER.finditer(text))
        items, covered = len(numbers), 0
        for m in numbers:
            hit, terms = self._figure(m)
            covered += hit
            found += [(m.start(), t) for t in terms]
        lead = re.search(r"\w", text)  # a capital there is the sentence's, not a name's
        # A Chinese question writes GDP or 5G as the reports do: the curated
        # abbreviations serve English questions only, and Chinese ones stay untouched.
        curated = cjk_share(text) < 0.5 and self.config.uses(BridgeComponent.ABBREVIATIONS)
        for segment in _segments(text, [range(m.start(), m.end()) for m in numbers]):
            words = [self._word(raw, lead is not None and at == lead.start()) for at, raw in segment]
            spans = self._spans(words, curated)
            spans = self._join(spans) if self.config.uses(BridgeComponent.COMPOUNDS) else spans
            content = {i for i, w in enumerate(words) if not w.stop}
            reached = {i for s in spans if s.terms for i in range(s.first, s.last + 1)}
            reached |= {i for i in content if words[i].lower in self._vocab.vocabulary}
            items += len(content)
            covered += len(content & reached)
            for s in spans:
                found += [(segment[s.first][0], BridgeTerm(t, w, s.source, s.query)) for t, w in self._share(s).items()]
        found.sort(key=lambda pair: pair[0])  # stable: query order, then candidate order
        return Translation(tuple(t for _, t in found), covered / items if items else 1.0)

    # ---- figures and words ----

    def _figure(self, m: re.Match[str]) -> tuple[bool, list[BridgeTerm]]:
        """Whether the figure reaches the index, and the terms to add for it: its
        forms in the vocabulary, except one the tokenizer already gives ("35%")."""
        vocab = self._vocab.vocabulary
        forms = [f for f in number_forms(m) if f in vocab]
        reached = bool(forms) or m.group("num").replace(",", "") + (m.group("frac") or "") in vocab
        added = [f for f in forms if f != m.group().lower()] if self.config.uses(BridgeComponent.NUMERALS) else []
        return reached, [BridgeTerm(f, 1 / len(added), BridgeSource.NUMBER, m.group()) for f in added]

    def _word(self, raw: str, first: bool) -> _Word:
        lower = raw.lower()
        # An acronym in capitals ("IT", "US") is never a stopword.
        stop = lower in self._stopwords and not (len(raw) > 1 and raw.isupper())
        # A name is capitalized mid-sentence, or at least not an English word
        # ("Women ..." must not become 我们); glosses write some syllables in
        # lower case ("liang", a weight), which still count ("liang jiang").
        name_part = not stop and (
            (raw[0].isupper() and not first)
            or not self._glosses.is_english(lower)
            or self.pinyin_index().is_syllable(lower)
        )
        return _Word(raw, lower, stop, name_part)

    # ---- spans ----

    def _spans(self, words: list[_Word], curated: bool = True) -> list[_Span]:
        """Greedy from the left, longest span first: a phrase before its words."""
        spans: list[_Span] = []
        i = 0
        while i < len(words):
            span = None
            if not words[i].stop:
                for last in range(min(i + MAX_SPAN_WORDS, len(words)) - 1, i - 1, -1):
                    if not words[last].stop and (span := self._lookup(words, i, last, curated)):
                        break
            if span is None:
                i += 1
                continue
            spans.append(span)
            i = span.last + 1
        return spans

    def _lookup(self, words: list[_Word], first: int, last: int, curated: bool = True) -> _Span | None:
        """The span's gloss or, for a name, its pinyin. An English word's own
        sense comes first ("Women" is 妇女 before it is 我们), a name's reading
        first otherwise ("Chongqing", "Bishan")."""
        span = words[first : last + 1]
        query = " ".join(w.text for w in span)
        gloss = self._gloss(span, first, last, query, curated)
        if gloss is not None and gloss.terms and all(self._glosses.is_english(w.lower) for w in span):
            return gloss
        if (
            len(span) <= MAX_NAME_WORDS
            and all(w.name_part for w in span)
            and self.config.uses(BridgeComponent.NAMES)
        ):
            named = self._name(first, last, query, "".join(w.lower for w in span))
            if named is not None:
                return named
        return gloss

    def _gloss(self, span: list[_Word], first: int, last: int, query: str, curated: bool = True) -> _Span | None:
        if len(span) == 1 and len(span[0].lower) < 2:
            return None
        vocab = self._vocab.vocabulary
        fallback = None
        for key in _span_keys([w.lower for w in span]):
            is_curated = self._glosses.is_curated(key)
            if (not curated and is_curated) or (
                first != last and not is_curated and not self.config.uses(BridgeComponent.PHRASES)
            ):
                continue
            candidates = self._glosses.lookup(key)
            terms = {c.word: c.prior for c in candidates if c.word in vocab}
            if terms:
                return _Span(first, last, query, BridgeSource.GLOSS, terms, {c.word for c in candidates})
            parts = self._parts([c.word for c in candidates])
            if parts:
                return _Span(first, last, query, BridgeSource.GLOSS, dict.fromkeys(parts, 1.0), set(), parts=True)
            # A phrase counts only when it reaches the index; a word also for
            # its strings, which may join a neighbour's into an index term.
            if candidates and first == last and fallback is None:
                fallback = _Span(first, last, query, BridgeSource.GLOSS, {}, {c.word for c in candidates})
        return fallback

    def _parts(self, words: list[str]) -> list[str]:
        """The index terms of the first gloss (best first) that the index's
        tokenizer splits into two or more terms it holds; [] if none does."""
        if self._segment is None or not self.config.uses(BridgeComponent.COMPOUNDS):
            return []
        vocab = self._vocab.vocabulary
        for word in words:
            if len(word) >= 3:
                parts = list(dict.fromkeys(self._segment(word)))
                if len(parts) >= 2 and all(p in vocab for p in parts):
                    return parts
        return []

    def _name(self, first: int, last: int, query: str, key: str) -> _Span | None:
        """A romanized name: index terms read `key`, or else the longer terms
        that begin with it (广阳湾 and 广阳岛 for "Guangyang")."""
        if len(key) < MIN_NAME_LETTERS:
            return None
        index = self.pinyin_index()
        exact = index.exact(key)
        if exact:
            return _Span(first, last, query, BridgeSource.PINYIN, dict.fromkeys(exact, 1.0), set(exact))
        prefixed = index.prefixed(key)
        if not prefixed:
            return None
        terms = dict.fromkeys((t for ts in prefixed.values() for t in ts), 1.0)
        return _Span(first, last, query, BridgeSource.PINYIN, terms, set(prefixed))

    def _join(self, spans: list[_Span]) -> list[_Span]:
        """Neighbouring spans whose Chinese concatenates into an index term become
        one span with that term ("Guangyang" + "Bay" → 广阳 + 湾 → 广阳湾)."""
        out: list[_Span] = []
        for span in spans:
            prev = out[-1] if out else None
            joined = (
                _joined(prev.strings, span.strings, self._vocab.vocabulary)
                if prev and prev.last + 1 == span.first
                else set()
            )
            if prev is None or not joined:
                out.append(span)
                continue
            source = BridgeSource.PINYIN if BridgeSource.PINYIN in (prev.source, span.source) else BridgeSource.GLOSS
            terms = dict.fromkeys(sorted(joined), 1.0)
            out[-1] = _Span(prev.first, span.last, f"{prev.query} {span.query}", source, terms, joined)
        return out

    def _share(self, span: _Span) -> dict[str, float]:
        """The span's weight of 1 shared over its terms (see BridgeConfig)."""
        if not span.terms:
            return {}
        if span.parts:
            return dict.fromkeys(span.terms, PART_WEIGHT)
        e = self.config.df_exponent if self.config.uses(BridgeComponent.SENSES) else 0.0
        score = {t: p * (1 + self._vocab.document_frequency(t)) ** e for t, p in span.terms.items()}
        floor = self.config.min_share * max(score.values())
        kept = {t: s for t, s in score.items() if s >= floor}
        total = sum(kept.values())
        return {t: s / total for t, s in kept.items()}


def _segments(text: str, figures: list[range]) -> list[list[tuple[int, str]]]:
    """Runs of (offset, word) with only spaces or hyphens between them: a phrase
    or a name never crosses punctuation, a figure or Chinese text."""
    segments: list[list[tuple[int, str]]] = []
    end = -1
    for m in _WORD.finditer(text):
        if any(m.start() in r for r in figures):
            continue
        if not segments or not _JOINER.fullmatch(text[end : m.start()]):
            segments.append([])
        segments[-1].append((m.start(), re.sub(r"['’]s$", "", m.group())))
        end = m.end()
    return segments


def _joined(left: set[str], right: set[str], vocab: Mapping[str, int]) -> set[str]:
    """Index terms made of a left string and a right one ("数字" + "经济"); failing
    any, of a left string and the head of a right one, three characters at least
    ("软件" + "园区" → 软件园, the reports' word for "software park")."""
    whole = {a + b for a in left for b in right if a + b in vocab}
    if whole:
        return whole
    return {a + b[:j] for a in left for b in right for j in range(1, len(b)) if len(a) + j >= 3 and a + b[:j] in vocab}


def _span_keys(words: list[str]) -> Iterator[str]:
    """Gloss keys for a span: as written, then with base forms of its words."""
    seen: set[str] = set()
    for combo in itertools.islice(itertools.product(*(lemma_variants(w) for w in words)), 32):
        key = " ".join(combo)
        if key not in seen:
            seen.add(key)
            yield key
