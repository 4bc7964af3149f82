"""Extractive answers: the sentences of the top passages that answer a question,
each cited, a short answer where the question asks for one, and "not found"
when the index does not hold the answer.

The answer is never written, only selected: every character of it is a quote
from a stored document, followed by its `[n]` marker, and the short answer is a
span of a quoted document, so every figure can be checked against the text.

Three decisions are learned (index/answer_model.py, refitted by
`python -m policyqa.eval.fit_answerer` on CMRC 2018 and the seed dev questions,
cross-fitted by paragraph):
- which sentences answer: features of each sentence of the top passages
  (SENTENCE_FEATURES: coverage of the question's idf-weighted terms in the
  sentence, its neighbours, its passage and its title; the same counting each
  term's nearest word in the sentence by cosine (soft matches); dense similarity; the
  passage's fused score and ranks; whether it holds a span of the kind asked for);
- whether to answer at all (DECISION_FEATURES: the best sentence's score, how
  much of the question the index and the best document know, what the
  question names that the evidence lacks);
- which span is the short answer (index/short_answer.py SPAN_FEATURES).
One rule stays: a question naming a place the index has never seen is "not
found" at once (a fact, not a guess).
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .answer_model import AnswerModels, load_models
from .answer_types import AnswerType, detect_answer_type
from .backend import Filters
from .chunking import sentence_spans
from .engine import Engine, SearchResult
from .errors import DocumentNotFoundError
from .hybrid import SearchMode, cjk_share
from .lru import LRUCache
from .pinyin import char_readings
from .reader import TransformersReader
from .short_answer import (
    SPAN_FEATURES,
    Anchors,
    anchored_spans,
    candidate_spans,
    context_features,
    context_fit,
    ends_like_noun,
    latin_share,
    span_features,
)
from .short_answer import Span as SpanCandidate
from .target_answers import answer_from_targets
from .types import Hit

NOT_FOUND_MESSAGE = "未能在已收录的文档中找到这个问题的可靠答案。"

# Figures as they are written: 208.2, 35%, 1,200, 6.9‰ (after NFKC, so full-width digits count too).
NUMBER = re.compile(r"\d+(?:[.,]\d+)*\s?[%‰]?")
# Runs of Chinese numerals that state a quantity ("三十五", "两千"); a single
# character such as the 一 of 一体化 is part of a word, not a figure.
CHINESE_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千万亿]{2,}")
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
    """How many passages and sentences the answerer looks at and quotes.

    The learned models decide everything else (index/answer_model.py).
    """

    search_depth: int = 10  # hits searched
    passages: int = 4  # the best of those whose sentences are candidates
    max_sentences: int = 3
    max_quote_chars: int = 120  # longer sentences are cut into clause groups
    # A 2nd or 3rd sentence needs this share of the best one's probability: the ratio with the
    # most hits among those that quote no more sentences per answer than the hand-set answerer
    # did (1.71, out of fold on CMRC; `python -m policyqa.eval.fit_answerer` prints the
    # trade-off and picks it), so hits come from choosing.
    follow_ratio: float = 0.2
    cache_size: int = 4096  # sentence vectors kept between questions
    word_cache_size: int = 32768  # word vectors kept between questions (float16: 32 MB)

    def __post_init__(self) -> None:
        if not 1 <= self.max_sentences <= 3:
            raise ValueError(f"max_sentences={self.max_sentences}: use 1 to 3")
        if self.passages < 1 or self.search_depth < self.passages:
            raise ValueError(
                f"passages={self.passages}, search_depth={self.search_depth}: use 1 <= passages <= search_depth"
            )
        if not 20 <= self.max_quote_chars <= 120:
            raise ValueError(f"max_quote_chars={self.max_quote_chars}: use 20 to 120")


SENTENCE_FEATURES = (
    "sentence_terms",  # idf-weighted share of the question's index terms in the sentence
    "passage_terms",  # ... in its passage
    "window_terms",  # ... in it and its two neighbours
    "title_terms",  # ... in its document's title
    "dense",  # cosine of sentence and question
    "fused_score",  # the passage's hybrid score
    "passage_rank",  # 1 / (1 + rank of its passage)
    "lexical_rank",  # 1 / (1 + BM25 rank of its passage)
    "has_kind",  # it holds a span of the kind asked for (a name, a time, a figure) that the question lacks
    "document_start",  # it opens its document (often a definition, seldom the answer)
    "fragment",  # no final punctuation: a headline or caption
    "length",  # log of its length
    "rarest_term",  # it holds the question's rarest index term
    "bigrams",  # share of the question's Chinese character pairs in the sentence
    "common_run",  # longest run of the question's characters in the sentence, over the question's length
    "local_terms",  # share of the question's terms, each weighted by how few candidate sentences hold it
    "local_bigrams",  # ... the same for its character pairs
    "anchors",  # the question's words around its question word occur in the sentence (longest / 4)
    "english",  # the question is not mostly Chinese
    "figures",  # share of the question's figures (35%, 2025, 1,800) the sentence states too
    "tiling",  # share of the question's characters covered by its runs of 2+ found in the sentence, longest first
    "sentence_terms_gap",  # sentence_terms minus the best among the candidates (0 for the best)
    "dense_gap",  # ... the same for dense
    "bigrams_gap",  # ... for bigrams
    "local_terms_gap",  # ... for local_terms
    "local_bigrams_gap",  # ... for local_bigrams
    "tiling_gap",  # ... and for tiling
    "context_fit",  # some gap in it sits between the question's words before and after its question word
    "context_fit_gap",  # ... minus the best among the candidates
    # Soft matches, for the question's words the sentence says otherwise (去世 / 卒,
    # 出名 / 闻名): each of the question's terms counts with its best cosine to a
    # word of the sentence (1 for the word itself), embedded alone by the model.
    "soft_terms",  # idf-weighted, as sentence_terms, with the words the index lacks at the top idf
    "local_soft_terms",  # weighted as local_terms
    "soft_terms_gap",  # ... minus the best among the candidates
    "local_soft_terms_gap",  # ... the same for local_soft_terms
)
# The best sentence's features the decision reads too.
_BEST_SENTENCE_FEATURES = (
    "sentence_terms",
    "title_terms",
    "bigrams",
    "common_run",
    "local_terms",
    "anchors",
    "figures",
    "tiling",
    "context_fit",
)
DECISION_FEATURES = (
    "best_sentence",  # the best sentence's probability
    "margin",  # ... minus the second best's
    "passage_terms",  # share of the question's terms in the best passage
    "document_terms",  # ... in the best sentence's whole document
    "known_terms",  # share of the question's idf mass the index knows at all
    "rarest_term",  # the best sentence holds the question's rarest index term
    "dense",  # the best sentence's cosine
    "top_dense",  # the top passage's cosine
    "missing_named",  # places, years, periods and figures the question names that the evidence lacks
    "has_kind",  # the best sentence holds a span of the kind asked for
    "terms",  # log of the number of the question's index terms
    "passage_bigrams",  # share of the question's Chinese character pairs in the best passage
    "document_bigrams",  # ... in its whole document
    "common_run",  # longest run of the question's characters in the best passage, over the question's length
    "lexical_norm",  # the top passage's BM25 score over the question's total idf
    "subject_in_document",  # longest run of the question's leading noun phrase in the best document, over its length
    "subject_in_passage",  # ... in the best passage
    "english",  # the question is not mostly Chinese
    # The best sentence's own reading of the question, each named best_<sentence feature>:
    # its probability alone hides which evidence it rests on.
    *(f"best_{name}" for name in _BEST_SENTENCE_FEATURES),
)
# How many sentences before the best one a short answer may come from: a
# report names its subject once ("未来，广阳湾智创生态城将…") and then lists its targets.
SUBJECT_LOOKBACK = 3
EXPECTED_FEATURES = {"sentence": SENTENCE_FEATURES, "decision": DECISION_FEATURES, "span": SPAN_FEATURES}


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
    dense: float = 0.0
    score: float = 0.0  # the sentence model's probability
    features: tuple[float, ...] = ()  # in SENTENCE_FEATURES order


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
class ShortAnswer:
    """The span that answers: `text == document_text(doc_id)[start:end]`."""

    text: str
    doc_id: str
    start: int
    end: int
    kind: str  # the answer type asked for: person, place, organization, time, quantity

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "doc_id": self.doc_id, "start": self.start, "end": self.end, "kind": self.kind}


@dataclass
class Analysis:
    """One question as the answerer sees it before deciding."""

    question: str
    kind: AnswerType
    result: SearchResult
    view: Any
    k: int
    terms: dict[str, float] = field(default_factory=dict)
    unseen: dict[str, float] = field(default_factory=dict)  # its Chinese words the index lacks, at the top idf
    known_share: float = 0.0
    rarest: str = ""
    salient: Salient | None = None
    candidates: list[Candidate] = field(default_factory=list)
    core: str = ""  # the question without its question words and punctuation
    bigrams: frozenset[str] = frozenset()  # its Chinese character pairs
    subject: str = ""  # its leading noun phrase (大沙地站 of 大沙地站在哪里), NFKC and lower case
    anchors: Anchors = field(default_factory=lambda: Anchors((), (), False))
    chinese: bool = True  # mostly Chinese


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
    short_answer: ShortAnswer | None = None  # the span that answers a who/where/when/how-many question
    answer_type: str = ""  # what kind of answer the question asks for


def best_first(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Candidates by the sentence model's probability; ties by passage rank, then position."""
    return sorted(candidates, key=lambda c: (-c.score, c.rank, c.start))


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


class ExtractiveAnswerer:
    """Answers a question with sentences quoted from the engine's top passages,
    a short answer where the question asks for a name, a time or a figure, and
    "not found" when the learned decision says the index does not hold the answer.
    Thread-safe."""

    def __init__(
        self,
        engine: Engine,
        config: AnswerConfig | None = None,
        models: AnswerModels | None = None,
        reader: TransformersReader | None = None,
    ) -> None:
        """`reader`: a local extractive QA model that gives the short answer instead of the span model."""
        self.engine = engine
        self.reader = reader
        self.config = config or AnswerConfig()
        self.models = models or load_models(EXPECTED_FEATURES)
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(self.config.cache_size)  # by sentence text
        self._words: LRUCache[str, np.ndarray] = LRUCache(self.config.word_cache_size)  # by word
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
        analysis = self.analyze(question, k, mode, filters)
        answer = replace(self.decide(analysis), index_version=analysis.view.version, answer_type=analysis.kind.value)
        return self._with_target(analysis, answer)

    def _with_target(self, analysis: Analysis, answer: Answer) -> Answer:
        """The short answer from the targets table, where a record answers the
        question (index/target_answers.py); the quotes stay as they are."""
        if not answer.found or self.reader is not None:
            return answer
        found = answer_from_targets(analysis.question, analysis.kind, analysis.terms, self.engine.targets())
        if found is None:
            return answer
        short = ShortAnswer(found.text, found.record.doc_id, found.start, found.end, analysis.kind.value)
        return replace(answer, short_answer=short, evidence={**answer.evidence, "targets": found.evidence()})

    # ---- analysis: everything the decisions look at ----

    def analyze(
        self,
        question: str,
        k: int = 5,
        mode: SearchMode | str = SearchMode.HYBRID,
        filters: Filters | None = None,
    ) -> Analysis:
        """The search, the question's terms and kind, and every candidate sentence with its features."""
        # One version for the whole answer: the search and every later read of
        # the index (document texts, term statistics) use the same view.
        view = self.engine.view()
        result = self.engine.search(question, k=max(k, self.config.search_depth), mode=mode, filters=filters, view=view)
        kind = detect_answer_type(result.query)
        analysis = Analysis(result.query, kind, result, view, k)
        if not result.hits:
            return analysis
        analysis.terms, analysis.unseen, analysis.known_share, analysis.rarest = self.question_terms(
            result.tokens, result.bridge.weights() if result.bridge else {}, view
        )
        analysis.salient = self.salient(result.query, result.tokens, view)
        folded = unicodedata.normalize("NFKC", result.query)
        analysis.anchors = Anchors.of(folded)
        analysis.chinese = cjk_share(folded) >= 0.5
        analysis.subject = self.leading_phrase(folded).lower()
        # Character-level features read a Chinese question only: for an English one
        # the bridge's Chinese terms (in `terms`) are all there is, and they are noisy.
        analysis.core = _QUESTION_WORDS.sub("", folded.lower()) if analysis.chinese else ""
        analysis.bigrams = frozenset(
            analysis.core[i : i + 2] for i in range(len(analysis.core) - 1) if _CJK_PAIR.match(analysis.core[i : i + 2])
        )
        analysis.candidates = self.score(analysis, result.hits[: self.config.passages])
        return analysis

    def question_terms(
        self, tokens: Sequence[str], bridged: Mapping[str, float], view: Any
    ) -> tuple[dict[str, float], dict[str, float], float, str]:
        """The question's index terms with their weights (idf over the index's
        chunks, times the bridge's weight for a term it translated); its Chinese
        words the index lacks, each at the highest idf; the share of the
        question's idf mass the index knows at all; and the rarest index term."""
        vocabulary = view.lexical_vocabulary()
        n = max(1, int(view.stats().get("chunks", 1)))
        unseen_idf = math.log(1 + (n + 0.5) / 0.5)
        weights: dict[str, float] = {}
        unseen: dict[str, float] = {}
        for term, factor in [*((t, 1.0) for t in dict.fromkeys(tokens)), *bridged.items()]:
            df = vocabulary.document_frequency(term)
            if df:
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                weights[term] = max(weights.get(term, 0.0), idf * min(1.0, factor))
            elif factor >= 1.0 and _CJK_WORD.match(term):
                unseen[term] = unseen_idf
        known, missing = sum(weights.values()), sum(unseen.values())
        rarest = max(weights, key=lambda t: weights[t]) if weights else ""
        return weights, unseen, known / (known + missing) if known + missing else 0.0, rarest

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

    def score(self, analysis: Analysis, hits: Sequence[Hit]) -> list[Candidate]:
        """Every candidate sentence of `hits` with its features and the sentence model's probability, best first."""
        cands = self.candidates(hits)
        if not cands:
            return []
        terms = analysis.terms
        total = sum(terms.values()) or 1.0
        tokenize = self.engine.tokenizer.tokenize
        tokens = [set(tokenize(c.text)) for c in cands]
        folded = [_folded(c.text) for c in cands]

        def share(words: set[str]) -> float:
            return sum(terms[t] for t in words if t in terms) / total

        # Soft matches (below) read the words the index lacks too: 去世 where the reports say 卒.
        soft_terms = {**analysis.unseen, **terms}
        soft_total = sum(soft_terms.values()) or 1.0
        # Local weights: a question term most candidates share (the subject, usually)
        # says little about which of them answers; a rare one says much.
        soft_local = {t: math.log(1 + len(cands) / (1 + sum(t in w for w in tokens))) for t in soft_terms}
        soft_local_total = sum(soft_local.values()) or 1.0
        local = {t: soft_local[t] for t in terms}
        local_total = sum(local.values()) or 1.0
        local_bigram = {
            b: math.log(1 + len(cands) / (1 + sum(b in f for f in folded))) for b in analysis.bigrams
        }
        bigram_total = sum(local_bigram.values()) or 1.0
        question_vector = analysis.result.query_vector  # embedded once, by the search
        if question_vector is None:  # lexical mode: the search embedded nothing
            question_vector = self.engine.embedder.encode_queries([analysis.question])[0]
        encode = self.engine.embedder.encode_documents
        vectors = np.asarray(
            self._vectors.get_many([c.text for c in cands], lambda texts: dict(zip(texts, encode(texts), strict=True))),
            dtype=np.float32,
        )
        dense = (vectors @ question_vector).tolist()
        passage_share = {h.chunk.chunk_id: share(set(tokenize(h.chunk.text))) for h in hits}
        title_share = {h.chunk.doc_id: share(set(tokenize(h.title))) for h in hits}
        by_passage: dict[str, list[int]] = {}
        for i, c in enumerate(cands):
            by_passage.setdefault(c.hit.chunk.chunk_id, []).append(i)
        soft = self._soft_matches(list(soft_terms), tokens)
        anchor_words = [*analysis.anchors.left, *analysis.anchors.right]
        question_figures = {_bare(n) for n in numbers_in(analysis.question)}
        rows: list[dict[str, float]] = []
        for i, (c, den) in enumerate(zip(cands, dense, strict=True)):
            siblings = by_passage[c.hit.chunk.chunk_id]
            at = siblings.index(i)
            window = set().union(*(tokens[j] for j in siblings[max(0, at - 1) : at + 2]))
            spans = self.spans(c.text) if analysis.kind.typed else []
            rows.append({
                "sentence_terms": share(tokens[i]),
                "passage_terms": passage_share[c.hit.chunk.chunk_id],
                "window_terms": share(window),
                "title_terms": title_share[c.hit.chunk.doc_id],
                "dense": float(den),
                "fused_score": float(c.hit.score),
                "passage_rank": 1.0 / (1 + c.rank),
                "lexical_rank": 1.0 / (1 + c.hit.lexical_rank) if c.hit.lexical_rank is not None else 0.0,
                "has_kind": float(any(
                    analysis.kind in sp.kinds and not _inside_question(sp.text, analysis.question) for sp in spans
                )),
                "document_start": 1.0 if c.start == 0 else 0.0,
                "fragment": 0.0 if _FINISHED.search(c.text) else 1.0,
                "length": math.log(1 + len(c.text)),
                "rarest_term": 1.0 if analysis.rarest and analysis.rarest in tokens[i] else 0.0,
                "bigrams": _bigram_share(analysis.bigrams, folded[i]),
                "common_run": _common_run(analysis.core, folded[i]),
                "local_terms": sum(w for t, w in local.items() if t in tokens[i]) / local_total,
                "local_bigrams": sum(w for b, w in local_bigram.items() if b in folded[i]) / bigram_total,
                "anchors": max((len(a) / 4 for a in anchor_words if a in folded[i]), default=0.0),
                "english": 0.0 if analysis.chinese else 1.0,
                "figures": _figure_share(question_figures, c.text),
                "tiling": _tiling(analysis.core, folded[i]),
                "context_fit": context_fit(folded[i], analysis.anchors) if analysis.chinese else 0.0,
                "soft_terms": sum(w * m for w, m in zip(soft_terms.values(), soft[i], strict=True)) / soft_total,
                "local_soft_terms": sum(w * m for w, m in zip(soft_local.values(), soft[i], strict=True))
                / soft_local_total,
            })
        # Each sentence against the best of its rivals: which sentence answers is a choice among them.
        gapped = ("sentence_terms", "dense", "bigrams", "local_terms", "local_bigrams", "tiling", "context_fit")
        for name in (*gapped, "soft_terms", "local_soft_terms"):
            top = max(r[name] for r in rows)
            for r in rows:
                r[f"{name}_gap"] = r[name] - top
        features = [tuple(r[name] for name in SENTENCE_FEATURES) for r in rows]
        probabilities = self.models.sentence.probabilities(np.array(features)).tolist()  # one batch for the trees
        scored = [
            replace(c, features=f, score=p, dense=r["dense"])
            for c, r, f, p in zip(cands, rows, features, probabilities, strict=True)
        ]
        return best_first(scored)

    def _soft_matches(self, terms: list[str], tokens: Sequence[set[str]]) -> np.ndarray:
        """For each sentence (row) and question term (column), the term's best
        cosine to a word of the sentence: 1 where the sentence has the term itself."""
        out = np.zeros((len(tokens), len(terms)), dtype=np.float32)
        words = sorted(set().union(*tokens))
        if not terms or not words:
            return out
        encode = self.engine.embedder.encode_documents

        def embed(missing: list[str]) -> dict[str, np.ndarray]:
            return dict(zip(missing, np.asarray(encode(missing), dtype=np.float16), strict=True))

        vectors = np.asarray(self._words.get_many([*terms, *words], embed), dtype=np.float32)
        similarity = vectors[: len(terms)] @ vectors[len(terms) :].T  # terms x words
        column = {w: j for j, w in enumerate(words)}
        for i, sentence in enumerate(tokens):
            if sentence:
                out[i] = similarity[:, [column[w] for w in sentence]].max(axis=1)
            out[i, [j for j, t in enumerate(terms) if t in sentence]] = 1.0
        return out

    def leading_phrase(self, question: str) -> str:
        """The words a question opens with, up to its first verb, preposition,
        particle or question word: usually what it asks about ("2008年度香港小姐竞选")."""
        words = []
        for word, flag in self.engine.tokenizer.tag(question):
            stop = flag[:1] in ("v", "p", "u", "r", "c", "d") or (flag == "x" and word not in "·-")
            if stop or _ASKING_WORD.match(word):
                break
            words.append(word)
        phrase = "".join(words).strip()
        return phrase if len(phrase) >= 2 else ""

    def spans(self, text: str) -> list[SpanCandidate]:
        return candidate_spans(text, self.engine.tokenizer.tag(text))

    def decision_features(self, analysis: Analysis) -> list[float]:
        """What the found / not-found decision looks at, in DECISION_FEATURES order."""
        best = analysis.candidates[0]
        second = analysis.candidates[1].score if len(analysis.candidates) > 1 else 0.0
        top = analysis.result.hits[0]
        terms = analysis.terms
        total = sum(terms.values()) or 1.0
        document = _document_text(analysis.view, best.hit.chunk.doc_id)
        passage, folded_document = _folded(best.hit.chunk.text), _folded(document)
        in_document = sum(w for t, w in terms.items() if t in document) / total if document else 0.0
        missing = self.missing_salient(analysis.salient, best, analysis.view) if analysis.salient else []
        return [
            best.score,
            best.score - second,
            _feature(best, "passage_terms"),
            in_document,
            analysis.known_share,
            _feature(best, "rarest_term"),
            best.dense,
            float(top.dense_score or 0.0),
            float(len(missing)),
            _feature(best, "has_kind"),
            math.log(1 + len(terms)),
            _bigram_share(analysis.bigrams, passage),
            _bigram_share(analysis.bigrams, folded_document),
            _common_run(analysis.core, passage),
            float(top.lexical_score or 0.0) / total,
            _common_run(analysis.subject, folded_document) if analysis.subject else 1.0,
            _common_run(analysis.subject, passage) if analysis.subject else 1.0,
            0.0 if analysis.chinese else 1.0,
            *(_feature(best, name) for name in _BEST_SENTENCE_FEATURES),
        ]

    # ---- the decisions ----

    def decide(self, analysis: Analysis) -> Answer:
        """Found or not, which sentences to quote, and the short answer."""
        result, top = analysis.result, analysis.result.hits[: analysis.k]
        terms = tuple(analysis.terms)
        if not result.hits:
            return Answer(result.query, NOT_FOUND_MESSAGE, False, [], [], reason="没有检索到任何相关段落。")
        salient = analysis.salient
        assert salient is not None
        if salient.unknown_names:
            reason = f"文档中没有出现“{'”“'.join(salient.unknown_names)}”。"
            return _not_found(result.query, top, reason, salient, terms=terms)
        if not analysis.candidates:
            return _not_found(result.query, top, "相关段落中没有可以引用的句子。", salient, terms=terms)
        features = self.decision_features(analysis)
        decision = self.models.decision.explain(features)
        evidence: dict[str, Any] = {
            **salient.to_dict(),
            "answer_type": analysis.kind.value,
            "decision": decision,
            "best_sentence": self.models.sentence.explain(analysis.candidates[0].features),
        }
        if decision["probability"] < self.models.decision.threshold:
            reason = "最相关的段落与问题的吻合度太低。"
            missing = self.missing_salient(salient, analysis.candidates[0], analysis.view)
            if missing:
                reason = f"最相关的段落中没有出现问题里的“{'”“'.join(missing)}”。"
            return _not_found(result.query, top, reason, salient, evidence, terms)
        chosen = self.select(analysis.candidates)
        short = self.short_answer(analysis, chosen)
        if short is not None:
            evidence["short_answer"] = short[1]
        citations = [
            Citation(n, c.hit.chunk.doc_id, c.hit.title, c.hit.source, c.hit.chunk.chunk_id, c.text, c.start, c.end)
            for n, c in enumerate(chosen, start=1)
        ]
        text = "".join(f"{c.text}[{n}]" for n, c in enumerate(chosen, start=1))
        shown = {h.chunk.chunk_id for h in top}
        extra = list({c.hit.chunk.chunk_id: c.hit for c in chosen if c.hit.chunk.chunk_id not in shown}.values())
        return Answer(
            result.query, text, True, citations, top + extra, "", evidence, terms=terms,
            short_answer=short[0] if short else None, answer_type=analysis.kind.value,
        )

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

    def span_rows(
        self, analysis: Analysis, chosen: Sequence[Candidate]
    ) -> list[tuple[SpanCandidate, Candidate, list[float]]]:
        """Each candidate span of the quoted sentences of the best one's passage (and
        of the sentences before it there, where a subject often stands) with its features."""
        best = max(chosen, key=lambda c: c.score)
        before = sorted(
            (c for c in analysis.candidates if c.hit.chunk.chunk_id == best.hit.chunk.chunk_id and c.end <= best.start),
            key=lambda c: -c.end,
        )[:SUBJECT_LOOKBACK]
        distance = {(c.hit.chunk.doc_id, c.start, c.end): i + 1 for i, c in enumerate(before)}
        rows = []
        # Only the best sentence's own passage: a quote from another report answers nothing about this subject.
        same = [c for c in chosen if c.hit.chunk.chunk_id == best.hit.chunk.chunk_id]
        unique = {(c.hit.chunk.doc_id, c.start, c.end): c for c in [*same, *before]}
        anchors = analysis.anchors
        for key, sentence in unique.items():
            positions = _term_positions(sentence.text, analysis.terms)
            tags = self.engine.tokenizer.tag(sentence.text)
            named = _name_offsets(tags)
            tagged = [sp for sp in candidate_spans(sentence.text, tags) if analysis.kind in sp.kinds]
            seen = {(sp.start, sp.end) for sp in tagged}
            cut = [sp for sp in anchored_spans(sentence.text, anchors, analysis.kind) if (sp.start, sp.end) not in seen]
            for span, anchored in [*((sp, False) for sp in tagged), *((sp, True) for sp in cut)]:
                if _inside_question(span.text, analysis.question):
                    continue  # what the question already states does not answer it ("1970年前…多少头？")
                features = span_features(
                    span, sentence.text, analysis.question, anchors, positions,
                    sentence is best, sentence.score, sentence.hit.title,
                    0 if any(sentence is c for c in chosen) else distance.get(key, 0),
                    anchored, any(span.start <= o < span.end for o in named),
                )
                rows.append((span, sentence, features))
        # Which span answers is a choice among them: each against its best rival.
        near, left, right = (SPAN_FEATURES.index(name) for name in ("near_terms", "left_anchor", "right_anchor"))
        if rows:
            near_top = max(r[2][near] for r in rows)
            anchor_top = max(r[2][left] + r[2][right] for r in rows)
            for _, _, features in rows:
                features += [features[near] - near_top, features[left] + features[right] - anchor_top]
        # Character-level reading of the question's context: Chinese questions only, as in score().
        for span, sentence, features in rows:
            features.append(latin_share(span.text) if analysis.chinese else 0.0)
            features += context_features(span, sentence.text, anchors) if analysis.chinese else [0.0] * 4
        lc, rc = SPAN_FEATURES.index("left_context"), SPAN_FEATURES.index("right_context")
        context_top = max((r[2][lc] + r[2][rc] for r in rows), default=0.0)
        names = analysis.kind in (AnswerType.PERSON, AnswerType.PLACE, AnswerType.ORGANIZATION)
        for span, _, features in rows:
            features.append(features[lc] + features[rc] - context_top)
            features.append(ends_like_noun(span, anchors.noun) if names and analysis.chinese else 0.0)
        return rows

    def short_answer(
        self, analysis: Analysis, chosen: Sequence[Candidate]
    ) -> tuple[ShortAnswer, dict[str, Any]] | None:
        """The span that answers a who / where / when / how-many question, or None."""
        if not analysis.kind.typed or not chosen:
            return None
        if self.reader is not None:
            return self.read_short_answer(analysis, chosen)
        rows = self.span_rows(analysis, chosen)
        if not rows:
            return None
        span, sentence, features = max(rows, key=lambda r: (self.models.span.probability(r[2]), -r[0].start))
        explain = self.models.span.explain(features)
        if explain["probability"] < self.models.span.threshold:
            return None
        start = sentence.start + span.start
        short = ShortAnswer(span.text, sentence.hit.chunk.doc_id, start, start + len(span.text), analysis.kind.value)
        return short, explain

    def read_short_answer(
        self, analysis: Analysis, chosen: Sequence[Candidate]
    ) -> tuple[ShortAnswer, dict[str, Any]] | None:
        """The reader model's span of the best sentence's passage."""
        assert self.reader is not None
        best = max(chosen, key=lambda c: c.score)
        chunk = best.hit.chunk
        found = self.reader.read(analysis.question, chunk.text)
        if found is None:
            return None
        start = chunk.start + found.start
        explain = {"reader": str(self.reader.path), "score": round(found.score, 4)}
        return ShortAnswer(found.text, chunk.doc_id, start, start + len(found.text), analysis.kind.value), explain

    # ---- what the question names ----

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
        glosses = self.engine.glosses
        words = list(dict.fromkeys(_LATIN_NAME.findall(" " + question)))
        if not words:
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

    def missing_salient(self, salient: Salient, best: Candidate, view: Any) -> list[str]:
        """What the question names that the best sentence's evidence lacks: places
        and years missing from its document, periods and figures from its passage."""
        passage = best.hit.chunk.text
        named = salient.names or salient.years
        document = _document_text(view, best.hit.chunk.doc_id) if named else ""
        figures = {_bare(n) for n in numbers_in(passage)}
        normalized = unicodedata.normalize("NFKC", document)
        missing = [n for n in [*salient.names, *salient.years] if n not in normalized]
        missing += [p for p in salient.periods if p not in passage]
        missing += [f for f in salient.figures if f not in figures]
        return missing


# Words that ask rather than name, and punctuation: left out of the question's character pairs.
_QUESTION_WORDS = re.compile(
    r"什么|哪些|哪个|哪家|哪位|哪里|哪儿|哪一|多少|几个|怎样|怎么|如何|为什么|为何|是否|是谁|谁|何时|何地|吗|呢|"
    r"[\s\W_]+"
)
_ASKING_WORD = re.compile(r"^(?:哪|谁|什么|多少|几|何|which|who|what|where|when|how)", re.I)
_CJK_PAIR = re.compile(r"^[\u3400-\u9fff]{2}$")


def _tiling(core: str, folded: str) -> float:
    """Share of `core`'s characters covered by its substrings of 2 or more that
    occur in `folded`, taken longest first without overlap (how much of the
    question the sentence repeats, in pieces)."""
    if len(core) < 2:
        return 0.0
    covered = [False] * len(core)
    for size in range(len(core), 1, -1):
        for i in range(len(core) - size + 1):
            if not any(covered[i : i + size]) and core[i : i + size] in folded:
                covered[i : i + size] = [True] * size
    return sum(covered) / len(core)


def _figure_share(figures: set[str], text: str) -> float:
    if not figures:
        return 0.0
    stated = {_bare(n) for n in numbers_in(text)}
    return sum(f in stated for f in figures) / len(figures)


def _feature(candidate: Candidate, name: str) -> float:
    return candidate.features[SENTENCE_FEATURES.index(name)]


def _folded(text: str) -> str:
    """NFKC, lower case, no whitespace (reports are hard-wrapped mid-word)."""
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def _bigram_share(bigrams: frozenset[str], folded: str) -> float:
    """Share of `bigrams` in `folded` (a text passed through `_folded`)."""
    if not bigrams:
        return 0.0
    return sum(b in folded for b in bigrams) / len(bigrams)


def _common_run(core: str, folded: str) -> float:
    """Longest substring of `core` found in `folded` (a text passed through `_folded`), over len(core)."""
    if not core:
        return 0.0
    best = 0
    for i in range(len(core)):
        j = i + best + 1
        while j <= len(core) and core[i:j] in folded:
            best = j - i
            j += 1
    return best / len(core)


def _name_offsets(tags: Sequence[tuple[str, str]]) -> list[int]:
    """Where words that jieba tagged as person, place or organisation names start."""
    offsets, at = [], 0
    for word, flag in tags:
        if flag in ("nr", "nrt", "nrfg", "ns", "nt"):
            offsets.append(at)
        at += len(word)
    return offsets


def _document_text(view: Any, doc_id: str) -> str:
    try:
        return str(view.document_text(doc_id))
    except DocumentNotFoundError:  # deleted since the search began: it answers nothing now
        return ""


def _inside_question(span: str, question: str) -> bool:
    fold = unicodedata.normalize("NFKC", question).lower()
    return span in question or unicodedata.normalize("NFKC", span).lower() in fold


def _term_positions(text: str, terms: Mapping[str, float]) -> list[tuple[int, int]]:
    """Where the question's (Chinese or Latin) terms occur in `text`, as character spans."""
    lowered = unicodedata.normalize("NFKC", text).lower()
    positions = []
    for term in terms:
        at = lowered.find(term)
        while at != -1 and len(positions) < 64:
            positions.append((at, at + len(term)))
            at = lowered.find(term, at + 1)
    return positions


def _romanized_prefix(word: str, key: str) -> str:
    """The first characters of `word` whose tone-less pinyin is `key` ("成都市",
    "chengdu" → "成都"), or '' when none are: then `key` is a translation
    (June → 六月), not the romanized name."""
    readings = [""]
    for i, ch in enumerate(word):
        syllables = char_readings(ch)
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


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.hit.chunk.doc_id == b.hit.chunk.doc_id and a.start < b.end and b.start < a.end


def _pieces(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """A sentence as is when it fits `limit`, else consecutive clause groups of at
    most `limit` characters, cut after clause marks; a clause longer than `limit`
    is cut again, never inside a figure or a Latin word."""
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
    return [p for s, e in pieces for p in _hard_cut(text, s, e, limit)]


def _hard_cut(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    out = []
    while end - start > limit:
        cut = start + limit
        while cut > start + limit // 2 and text[cut - 1 : cut + 1].isascii() and text[cut - 1 : cut + 1].isalnum():
            cut -= 1  # back out of 1,200 or GDP
        out.append((start, cut))
        start = cut
    out.append((start, end))
    return out
