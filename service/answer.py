"""Extractive answers: the sentences of the top passages that answer a question, each cited.

The answer is never written, only selected: every character of it is a quote
from a stored document, followed by its `[n]` marker, so every figure in it can
be checked against `citations[n].quote`, and each quote against the document.

How a sentence is chosen (weights measured on the seed dev questions, see README):
- lexical: the idf-weighted share of the question's index terms the sentence
  holds (for English words, the Chinese terms the engine's query bridge found);
- dense: cosine similarity of sentence and question with the engine's embedder;
- a bonus, for "how much / when" questions, for a sentence holding a figure;
- a penalty for a headline or photo caption (no sentence-final punctuation).

When the answer is "not found" (the evidence is too weak):
- the question names a place or organisation the index has never seen
  (上海浦东新区; "Chengdu", through CC-CEDICT's proper nouns);
- no retrieved passage comes from a document that mentions all the places,
  organisations and years the question names;
- the best passage lacks the period (全年, 一季度 ...) or a figure the question names;
- the best sentence is barely related (score or dense similarity under a threshold).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from index.backend import Filters
from index.chunking import sentence_spans
from index.engine import Engine, SearchResult
from index.errors import DocumentNotFoundError
from index.hybrid import SearchMode, cjk_share
from index.types import Hit

NOT_FOUND_MESSAGE = "未能在已收录的文档中找到这个问题的可靠答案。"

# Figures as they are written: 208.2, 35%, 1,200, 6.9‰ (after NFKC, so full-width digits count too).
NUMBER = re.compile(r"\d+(?:[.,]\d+)*\s?[%‰]?")
# Runs of Chinese numerals that state a quantity ("三十五", "两千"); a single
# character such as the 一 of 一体化 is part of a word, not a figure.
CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]{2,}")
# Questions that ask for a quantity or a date: the answering sentence holds a figure.
_ASKS_FIGURE = re.compile(
    r"多少|几[个年月天项家亿万%倍]|多大|多高|多长|多久|比重|增速|增长|何时|哪一?年|什么时候|"
    r"\bhow (?:many|much|long|large|big|high)\b|\bwhat (?:share|percentage|proportion|rate)\b|\bwhen\b",
    re.I,
)
# Question terms that name a place or an organisation ...
_NAME_SUFFIX = re.compile(r"(?:省|市|区|县|镇|州|湾|岛|城|谷|园|公司|集团|大学|学院|银行|医院)$")
# ... except words that name a kind of place rather than one place.
_GENERIC_NAME = re.compile(
    r"^(?:.*(?:地区|园区|开发区|产业园|工业园)|生态城|新城|新区|城市|城区|市区|山区|社区|校园|公园|大学|学院)$"
)
_CJK_WORD = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
# Periods a figure is reported for: a figure for another period does not answer.
_PERIODS = ("全年", "上半年", "下半年", "前三季度", "一季度", "二季度", "三季度", "四季度", "年底", "年末")
# A capitalized word inside an English question: maybe a romanized Chinese name.
_LATIN_NAME = re.compile(r"(?<=[\s(\"'])([A-Z][a-z]{3,})(?:['’]s)?\b")
# Where a long sentence may be cut into quotable pieces (not inside 1,200 or 10:30).
_CLAUSE_END = re.compile(r"[，；：]|[,;:](?!\d)")
# A sentence that ends without final punctuation is a headline or a photo caption.
_FINISHED = re.compile(r"[。！？!?…”’」』）)]$")


@dataclass(frozen=True)
class AnswerConfig:
    """How sentences are scored and when the evidence counts as an answer.

    The defaults were chosen on the dev split of eval/questions/seed.jsonl and
    half of unanswerable.jsonl (see README, "Cited answers").
    """

    search_depth: int = 10  # hits searched for passages from documents that name the question's names
    passages: int = 4  # the best of those whose sentences are candidates
    max_sentences: int = 3
    max_quote_chars: int = 120  # longer sentences are cut into clause groups
    lexical_weight: float = 0.5
    dense_weight: float = 0.5
    figure_bonus: float = 0.1  # for a sentence with a figure when the question asks for one
    fragment_penalty: float = 0.1  # for a headline or caption
    follow_ratio: float = 0.8  # a 2nd or 3rd sentence needs this share of the best score
    min_score: float = 0.25  # the best sentence must score at least this ...
    min_dense: float = 0.25  # ... and be at least this similar to the question
    cache_size: int = 4096  # sentence vectors kept between questions

    def __post_init__(self) -> None:
        if not 1 <= self.max_sentences <= 10:
            raise ValueError(f"max_sentences={self.max_sentences}: use 1 to 10")
        if self.passages < 1 or self.search_depth < self.passages:
            raise ValueError(
                f"passages={self.passages}, search_depth={self.search_depth}: use 1 <= passages <= search_depth"
            )
        if self.max_quote_chars < 20:
            raise ValueError(f"max_quote_chars={self.max_quote_chars}: use at least 20")


@dataclass(frozen=True)
class Citation:
    """One quoted sentence: `quote == document_text(doc_id)[start:end]`."""

    n: int
    doc_id: str
    title: str
    source: str
    chunk_id: str
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Candidate:
    """A sentence (or a clause group of a long one) of a retrieved passage, with its scores."""

    hit: Hit
    rank: int  # of its passage among the candidates' passages, from 0
    start: int  # in the document
    end: int
    text: str
    lexical: float = 0.0
    dense: float = 0.0
    score: float = 0.0


@dataclass(frozen=True)
class Salient:
    """What a question is specifically about: its evidence must mention these."""

    names: list[str]  # places and organisations the index knows
    unknown_names: list[str]  # ... and ones it has never seen
    periods: list[str]  # 全年, 上半年, 一季度 ...
    years: list[str]
    figures: list[str]  # other figures (Chinese questions only: English writes "22nd", "a quarter")

    def to_dict(self) -> dict[str, Any]:
        return {
            "names": self.names,
            "unknown_names": self.unknown_names,
            "periods": self.periods,
            "years": self.years,
            "figures": self.figures,
        }


@dataclass(frozen=True)
class Answer:
    """What /ask returns: the answer text, whether the evidence holds one, the quotes, the passages."""

    question: str
    answer: str
    found: bool
    citations: list[Citation]
    passages: list[Hit]  # the top k, then any cited passage ranked lower
    reason: str = ""  # why nothing was found, in Chinese, for the user
    evidence: dict[str, Any] = field(default_factory=dict)  # the numbers behind the decision
    composer: str = "extractive"
    terms: tuple[str, ...] = ()  # the question's index terms (bridged ones too): what to highlight
    index_version: str = ""  # the one index version everything above comes from


# ---- figures ----


def numbers_in(text: str) -> list[str]:
    """The figures in a text, as written (Arabic after NFKC and without spaces, then Chinese numeral runs)."""
    text = unicodedata.normalize("NFKC", text)
    return [m.group().replace(" ", "") for m in NUMBER.finditer(text)] + CHINESE_NUMBER.findall(text)


def strip_markers(text: str) -> str:
    """The answer text without its `[n]` citation markers (whose digits are no figures)."""
    return re.sub(r"\[\d+\]", "", text)


def unsupported_numbers(answer: str, quotes: Sequence[str]) -> list[str]:
    """Figures in `answer` (markers aside) that no quote contains verbatim."""
    pool = "\n".join(unicodedata.normalize("NFKC", q).replace(" ", "") for q in quotes)
    return [n for n in numbers_in(strip_markers(answer)) if n not in pool]


def _bare(number: str) -> str:
    return number.replace(" ", "").rstrip("%‰")


# ---- the answerer ----


class _VectorCache:
    """Sentence vectors by text, least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._items]
        fresh = dict(zip(missing, encode(missing), strict=True)) if missing else {}
        with self._lock:
            out = []
            for t in texts:
                vector = fresh.get(t)
                if vector is None:
                    vector = self._items[t]
                    self._items.move_to_end(t)
                else:
                    self._items[t] = vector
                out.append(vector)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return np.asarray(out, dtype=np.float32)


class ExtractiveAnswerer:
    """Answers a question with sentences quoted from the engine's top passages. Thread-safe."""

    def __init__(self, engine: Engine, config: AnswerConfig | None = None) -> None:
        self.engine = engine
        self.config = config or AnswerConfig()
        self._cache = _VectorCache(self.config.cache_size)
        self._vocabulary: tuple[str | None, str] = (None, "")
        self._lock = threading.Lock()

    def answer(
        self,
        question: str,
        k: int = 5,
        mode: SearchMode | str = SearchMode.HYBRID,
        filters: Filters | None = None,
    ) -> Answer:
        """Search, pick the sentences that answer, cite them; or say "not found" with the nearest passages.

        Raises:
            InputError: an empty or over-long question, a bad k or mode (from the engine).
        """
        # One version for the whole answer: the search and every later read of
        # the index (document texts, term statistics) use the same view, also
        # while documents are added or deleted meanwhile.
        view = self.engine.backend.view()
        result = self.engine.search(
            question, k=max(k, self.config.search_depth), mode=mode, filters=filters, view=view
        )
        return replace(self._answer(result, view, k), index_version=view.version)

    def _answer(self, result: SearchResult, view: Any, k: int) -> Answer:
        config = self.config
        top = result.hits[:k]
        if not result.hits:
            return Answer(result.query, NOT_FOUND_MESSAGE, False, [], [], reason="没有检索到任何相关段落。")
        terms = self.question_terms(result.tokens, result.bridge.weights() if result.bridge else {}, view)
        salient = self.salient(result.query, result.tokens, view)
        if salient.unknown_names:
            reason = f"文档中没有出现“{'”“'.join(salient.unknown_names)}”。"
            return _not_found(result.query, top, reason, salient, terms=terms)
        # Only passages of documents that name the places, organisations and years the question names.
        required = salient.names + salient.years
        eligible = [h for h in result.hits if _mentions(view, h.chunk.doc_id, required)]
        if not eligible:
            reason = f"没有同时提到“{'”“'.join(required)}”的相关段落。"
            return _not_found(result.query, top, reason, salient, terms=terms)
        candidates = self.score(result.query, terms, eligible[: config.passages])
        if not candidates:
            return _not_found(result.query, top, "相关段落中没有可以引用的句子。", salient, terms=terms)
        best = candidates[0]
        evidence = {
            **salient.to_dict(),
            "best_score": round(best.score, 4),
            "best_lexical": round(best.lexical, 4),
            "best_dense": round(best.dense, 4),
        }
        reason = self.weakness(salient, best)
        if reason:
            return _not_found(result.query, top, reason, salient, evidence, terms)
        chosen = self.select(candidates)
        citations = [
            Citation(n, c.hit.chunk.doc_id, c.hit.title, c.hit.source, c.hit.chunk.chunk_id, c.text, c.start, c.end)
            for n, c in enumerate(chosen, start=1)
        ]
        text = "".join(f"{c.text}[{n}]" for n, c in enumerate(chosen, start=1))
        shown = {h.chunk.chunk_id for h in top}
        extra = list({c.hit.chunk.chunk_id: c.hit for c in chosen if c.hit.chunk.chunk_id not in shown}.values())
        return Answer(result.query, text, True, citations, top + extra, "", evidence, terms=tuple(terms))

    # ---- candidates and scores ----

    def question_terms(self, tokens: Sequence[str], bridged: Mapping[str, float], view: Any) -> dict[str, float]:
        """Each index term of the question with its weight: idf over the index's
        chunks, times the bridge's weight for a term it translated. Terms the
        index lacks are left out: no sentence could hold them."""
        vocabulary = view.lexical_vocabulary()
        n = max(1, int(view.stats().get("chunks", 1)))
        weights: dict[str, float] = {}
        for term, factor in [*((t, 1.0) for t in dict.fromkeys(tokens)), *bridged.items()]:
            df = vocabulary.document_frequency(term)
            if df:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                weights[term] = max(weights.get(term, 0.0), idf * min(1.0, factor))
        return weights

    def candidates(self, hits: Sequence[Hit]) -> list[Candidate]:
        """Sentences of the passages, long ones cut at clause marks; a sentence two passages share counts once."""
        seen: set[tuple[str, int, int]] = set()
        out: list[Candidate] = []
        for rank, hit in enumerate(hits):
            text = hit.chunk.text
            for s, e in sentence_spans(text):
                for ps, pe in _pieces(text, s, e, self.config.max_quote_chars):
                    key = (hit.chunk.doc_id, hit.chunk.start + ps, hit.chunk.start + pe)
                    if key not in seen and sum(ch.isalnum() for ch in text[ps:pe]) >= 4:
                        seen.add(key)
                        out.append(Candidate(hit, rank, key[1], key[2], text[ps:pe]))
        return out

    def score(self, question: str, terms: Mapping[str, float], hits: Sequence[Hit]) -> list[Candidate]:
        """Every candidate sentence of `hits`, scored, best first (ties: earlier passage, earlier offset)."""
        config = self.config
        cands = self.candidates(hits)
        if not cands:
            return []
        total = sum(terms.values())
        tokenize = self.engine.tokenizer.tokenize
        lexical = [sum(terms[t] for t in set(tokenize(c.text)) if t in terms) / total if total else 0.0 for c in cands]
        query_vector = self.engine.embedder.encode_queries([question])[0]
        vectors = self._cache.get_many([c.text for c in cands], self.engine.embedder.encode_documents)
        dense = (vectors @ query_vector).tolist()
        wants_figure = bool(_ASKS_FIGURE.search(question))
        scored = []
        for c, lex, den in zip(cands, lexical, dense, strict=True):
            s = config.lexical_weight * lex + config.dense_weight * den
            s += config.figure_bonus if wants_figure and numbers_in(c.text) else 0.0
            s -= 0.0 if _FINISHED.search(c.text) else config.fragment_penalty
            scored.append(Candidate(c.hit, c.rank, c.start, c.end, c.text, lex, float(den), s))
        return sorted(scored, key=lambda c: (-c.score, c.rank, c.start))

    def select(self, ranked: Sequence[Candidate]) -> list[Candidate]:
        """The best sentence and up to `max_sentences - 1` close seconds, in passage and document order."""
        best = ranked[0]
        chosen = [best]
        for cand in ranked[1:]:
            if len(chosen) >= self.config.max_sentences or cand.score < self.config.follow_ratio * best.score:
                break
            if not any(_overlaps(cand, c) for c in chosen):
                chosen.append(cand)
        return sorted(chosen, key=lambda c: (c.rank, c.start))

    # ---- the decision ----

    def salient(self, question: str, tokens: Sequence[str], view: Any) -> Salient:
        """The places, organisations, periods, years and figures the question names."""
        vocabulary = view.lexical_vocabulary()
        names, unknown = [], []
        for t in dict.fromkeys(tokens):
            if not (_CJK_WORD.match(t) and len(t) >= 3 and _NAME_SUFFIX.search(t)) or _GENERIC_NAME.match(t):
                continue
            if vocabulary.document_frequency(t) > 0:
                names.append(t)
            elif len(t) >= 4:  # three-character ones are too often generic ("新城区")
                unknown.append(t)
        unknown += self._unknown_latin_names(question, view)
        text = unicodedata.normalize("NFKC", question)
        years = list(dict.fromkeys(_YEAR.findall(text)))
        chinese = cjk_share(question) >= 0.5
        figures = (
            [f for f in dict.fromkeys(_bare(n) for n in NUMBER.findall(text)) if f not in years] if chinese else []
        )
        periods = [p for p in _PERIODS if p in text]
        periods = [p for p in periods if not any(p != q and p in q for q in periods)]  # 前三季度, not also 三季度
        return Salient(names, unknown, periods, years, figures)

    def _unknown_latin_names(self, question: str, view: Any) -> list[str]:
        """Romanized Chinese names ("Chengdu") whose Chinese forms, as CC-CEDICT's
        proper nouns give them, no index term contains; through the engine's
        gloss dictionary, so the dictionary is loaded once."""
        glosses = getattr(self.engine, "glosses", None)
        words = list(dict.fromkeys(_LATIN_NAME.findall(" " + question)))
        if glosses is None or not words:
            return []
        unknown = []
        for word in words:
            key = word.lower()
            if glosses.is_english(key):
                continue
            forms = {form for c in glosses.lookup(key) if (form := _romanized_prefix(c.word, key))}
            if forms and not any(form in self._vocabulary_text(view) for form in forms):
                unknown.append(word)
        return unknown

    def _vocabulary_text(self, view: Any) -> str:
        """Every index term, one a line, for substring tests; rebuilt when the index version changes."""
        with self._lock:
            version, text = self._vocabulary
            if version != view.version:
                text = "\n".join(view.lexical_vocabulary().vocabulary)
                self._vocabulary = (view.version, text)
            return text

    def weakness(self, salient: Salient, best: Candidate) -> str:
        """Why the best sentence does not answer the question (a sentence for the user), or '' when it does."""
        passage = best.hit.chunk.text
        figures = {_bare(n) for n in numbers_in(passage)}
        missing = [p for p in salient.periods if p not in passage]
        missing += [f for f in salient.figures if f not in figures]
        if missing:
            return f"最相关的段落中没有出现问题里的“{'”“'.join(missing)}”。"
        if best.score < self.config.min_score or best.dense < self.config.min_dense:
            return "最相关的段落与问题的吻合度太低。"
        return ""


def _romanized_prefix(word: str, key: str) -> str:
    """The first characters of `word` whose tone-less pinyin is `key` ("成都市",
    "chengdu" → "成都"), or '' when none are: then `key` is a translation
    (June → 六月), not the romanized name."""
    from pypinyin import Style, pinyin  # imported here: only English questions need it

    readings = [""]
    for i, ch in enumerate(word):
        options = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
        syllables = options[0] if options else []
        readings = [r + s for r in readings for s in syllables if key.startswith(r + s)][:8]
        if not readings:
            return ""
        if key in readings:
            return word[: i + 1] if i >= 1 else ""
    return ""


def _not_found(
    question: str,
    passages: list[Hit],
    reason: str,
    salient: Salient,
    evidence: dict[str, Any] | None = None,
    terms: Mapping[str, float] | None = None,
) -> Answer:
    evidence = evidence or salient.to_dict()
    return Answer(question, NOT_FOUND_MESSAGE + reason, False, [], passages, reason, evidence, terms=tuple(terms or ()))


def _mentions(view: Any, doc_id: str, names: Sequence[str]) -> bool:
    if not names:
        return True
    try:
        text = view.document_text(doc_id)
    except DocumentNotFoundError:  # deleted since the search began: it answers nothing now
        return False
    return all(name in unicodedata.normalize("NFKC", text) for name in names)


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.hit.chunk.doc_id == b.hit.chunk.doc_id and a.start < b.end and b.start < a.end


def _pieces(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence as is when it fits `limit`, else consecutive clause groups of at
    most about `limit` characters, cut after clause marks."""
    if end - start <= limit:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    piece_start = last = start
    for cut in [*(m.end() for m in _CLAUSE_END.finditer(text, start, end)), end]:
        if cut - piece_start > limit and last > piece_start:
            pieces.append((piece_start, last))
            piece_start = last
        last = cut
    pieces.append((piece_start, end))
    return pieces
