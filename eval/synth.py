"""Reproducible synthetic Chinese corpora of any size, for benchmarks.

Sentences of the seed reports and of the CMRC 2018 paragraphs are recombined
into chunks of the size the engine's chunker makes (sentences are added until
the next would pass 300 characters), with numbers and place names varied, and
grouped ten to a document.

Tokenizing hundreds of millions of characters with jieba would take hours on
two cores, so every source sentence (and every place-name variant of it) is
tokenized once, and a chunk's tokens are the concatenation of its sentences'
tokens; a varied number replaces its own token. Every sentence ends on a
sentence mark, so the tokenizer never joins two sentences into one word, and a
chunk's tokens therefore equal `tokenizer.tokenize(chunk.text)` (checked by
`verify_tokens` and the tests).

Chunk row i depends only on the seed and i (each document draws from its own
random stream), so the corpus of 10k chunks is the first tenth of the corpus of
100k: cached embeddings of the smaller one are a prefix of the bigger one's.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from policyqa.index.chunking import sentence_spans
from policyqa.index.ingest import iter_files, read_document
from policyqa.index.tokenize import ChineseTokenizer
from policyqa.index.types import Chunk, Document, stable_id

from .datasets import load_cmrc2018

# A generator change must change the chunks' hashes, so embedding caches keyed
# on them are recomputed rather than silently reused; bump this with it.
SYNTH_VERSION = 1
CHUNK_CHARS = 300  # the engine's default ChunkingConfig.size
CHUNKS_PER_DOC = 10
NAME_VARIANTS = 4  # per sentence that names a place (the original included)
_SEED_SHARE = 0.3  # share of chunks drawn from the seed reports (policy text)
_JUMP = 0.15  # chance that the next sentence comes from another passage
_VARY_NUMBERS = 0.6  # chance that a sentence's numbers are changed
# The chunker closes a section's last chunk early; so many chunks are short.
_SHORT_CHUNK = 0.2

# Places whose names are swapped for one another (longest first, so 重庆市 is one match).
PLACES = (
    "北京", "上海", "天津", "重庆", "广州", "深圳", "成都", "杭州", "武汉", "南京", "西安", "苏州",
    "长沙", "郑州", "青岛", "合肥", "厦门", "宁波", "济南", "沈阳", "大连", "昆明", "福州", "南昌",
    "贵阳", "南宁", "太原", "兰州", "海口", "无锡", "佛山", "东莞", "温州", "烟台", "珠海", "绵阳",
    "广东", "江苏", "浙江", "四川", "湖北", "湖南", "河南", "河北", "山东", "福建", "安徽", "江西",
    "云南", "贵州", "广西", "陕西", "山西", "辽宁", "吉林", "甘肃", "海南", "香港", "台湾", "澳门",
)  # fmt: skip
_PLACE_RE = re.compile("|".join(sorted(PLACES, key=len, reverse=True)))
# A number as the tokenizer keeps it whole: digits, optional decimals, optional %.
_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z.])[0-9]+(?:\.[0-9]+)?%?(?![0-9A-Za-z%])")
_NUMBER_TOKEN = re.compile(r"[0-9]+(?:\.[0-9]+)?%?")
# Sentence marks (and closers) that no token runs across.
_ENDS_CLEANLY = re.compile(r"[。！？；!?;…”’」』）)\]】》]$")
_MAX_SENTENCE = 280


@dataclass(frozen=True)
class Sentence:
    """One source sentence (or a place-name variant of it), tokenized once.

    `numbers` are the character spans of the numbers that may be varied, and
    `number_tokens` the positions of their tokens, in the same order."""

    text: str
    tokens: tuple[str, ...]
    numbers: tuple[tuple[int, int], ...] = ()
    number_tokens: tuple[int, ...] = ()
    sid: int = -1  # position in `SentencePool.sentences`


@dataclass(frozen=True)
class Passage:
    """A source document: its title and sentences in order, each with its variants."""

    origin: str  # "seed" or "cmrc2018"
    title: str
    sentences: tuple[tuple[Sentence, ...], ...]


@dataclass(frozen=True)
class SentencePool:
    """Every source passage, tokenized; what `synth_corpus` draws from."""

    seed_passages: tuple[Passage, ...]
    cmrc_passages: tuple[Passage, ...]

    @property
    def sentence_count(self) -> int:
        return sum(len(p.sentences) for p in (*self.seed_passages, *self.cmrc_passages))

    @property
    def sentences(self) -> list[Sentence]:
        """Every sentence variant, in `sid` order."""
        flat = [s for p in (*self.seed_passages, *self.cmrc_passages) for v in p.sentences for s in v]
        return sorted(flat, key=lambda s: s.sid)

    @classmethod
    def build(cls, tokenizer: ChineseTokenizer, seeds_dir: Path, cmrc_path: Path, seed: int = 0) -> SentencePool:
        """Read the seed reports and the CMRC 2018 paragraphs, split them into
        sentences and tokenize each (with `NAME_VARIANTS` place-name variants).

        Raises IngestError for an unreadable seed file, FileNotFoundError or
        ValueError for a missing or malformed CMRC file."""
        rng = random.Random(f"policyqa-synth-pool:{SYNTH_VERSION}:{seed}")
        seeds = [read_document(p) for p in iter_files([seeds_dir])]
        cmrc, _ = load_cmrc2018(cmrc_path)
        sids = itertools.count()
        seed_passages = [_passage("seed", d.title, d.text, tokenizer, rng, sids) for d in seeds]
        cmrc_passages = [_passage("cmrc2018", d.title, d.text, tokenizer, rng, sids) for d in cmrc]
        if not any(p.sentences for p in cmrc_passages):
            raise ValueError(f"{cmrc_path} yields no sentences: is it the CMRC 2018 dev set?")
        return cls(
            seed_passages=tuple(p for p in seed_passages if p.sentences),
            cmrc_passages=tuple(p for p in cmrc_passages if p.sentences),
        )


@dataclass
class SynthCorpus:
    """N chunks in documents of `CHUNKS_PER_DOC`, with the tokens of every chunk
    and the pool sentences each is made of (for `composed_vectors`)."""

    seed: int
    documents: list[Document]
    chunks: list[list[Chunk]]  # per document
    tokens: list[list[list[str]]]  # per document, per chunk
    sentence_ids: np.ndarray  # int32: the sids of chunk i are sentence_ids[indptr[i]:indptr[i + 1]]
    sentence_chars: np.ndarray  # int32: the length of each of those sentences in the chunk
    sentence_indptr: np.ndarray  # int64, one more than there are chunks

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)

    def texts(self) -> list[str]:
        """Every chunk's text, in row order."""
        return [c.text for doc_chunks in self.chunks for c in doc_chunks]

    def flat_tokens(self) -> list[list[str]]:
        """Every chunk's tokens, in row order."""
        return [t for doc_tokens in self.tokens for t in doc_tokens]


def synth_corpus(
    pool: SentencePool, size: int, seed: int, progress: Callable[[int, int], None] | None = None
) -> SynthCorpus:
    """`size` chunks, reproducible from `seed`; row i depends only on (seed, i).

    Raises ValueError for a size below 1."""
    if size < 1:
        raise ValueError(f"size={size}: a corpus needs at least one chunk")
    documents: list[Document] = []
    chunks: list[list[Chunk]] = []
    tokens: list[list[list[str]]] = []
    numbers: dict[str, str] = {}  # one str object per distinct number, shared by every chunk
    made_of = _Composition()
    n_docs = -(-size // CHUNKS_PER_DOC)
    for j in range(n_docs):
        count = min(CHUNKS_PER_DOC, size - j * CHUNKS_PER_DOC)
        doc, doc_chunks, doc_tokens = _document(pool, seed, j, count, numbers, made_of)
        documents.append(doc)
        chunks.append(doc_chunks)
        tokens.append(doc_tokens)
        if progress and (j % 1000 == 999 or j == n_docs - 1):
            progress(j * CHUNKS_PER_DOC + count, size)
    return SynthCorpus(seed, documents, chunks, tokens, *made_of.arrays())


def chunk_hashes(texts: Sequence[str]) -> list[bytes]:
    """An 8-byte digest of each chunk text (with the generator version), for caches."""
    salt = f"synth{SYNTH_VERSION}\x1f".encode()
    return [hashlib.blake2b(salt + t.encode("utf-8"), digest_size=8).digest() for t in texts]


def verify_tokens(corpus: SynthCorpus, tokenizer: ChineseTokenizer, rows: Sequence[int]) -> list[int]:
    """The rows (of those given) whose assembled tokens differ from tokenizing
    the chunk text afresh; empty when the shortcut is exact."""
    texts, tokens = corpus.texts(), corpus.flat_tokens()
    return [r for r in rows if tokenizer.tokenize(texts[r]) != tokens[r]]


# ---- building the pool ----


def _passage(
    origin: str, title: str, text: str, tokenizer: ChineseTokenizer, rng: random.Random, sids: Iterator[int]
) -> Passage:
    sentences = []
    for start, end in sentence_spans(text):
        raw = " ".join(text[start:end].split())  # no line breaks inside a sentence
        if len(raw) < 4 or len(raw) > _MAX_SENTENCE:
            continue
        if not _ENDS_CLEANLY.search(raw):
            raw += "。"  # a heading or a line without a mark: close it, so no word runs on
        sentences.append(tuple(_sentence(v, tokenizer, next(sids)) for v in _place_variants(raw, rng)))
    return Passage(origin, title, tuple(sentences))


def _place_variants(text: str, rng: random.Random) -> list[str]:
    names = sorted(set(_PLACE_RE.findall(text)))
    if not names:
        return [text]
    variants = [text]
    for _ in range(NAME_VARIANTS - 1):
        swap = {name: rng.choice(PLACES) for name in names}
        variants.append(_PLACE_RE.sub(lambda m, swap=swap: swap.get(m.group(), m.group()), text))
    return list(dict.fromkeys(variants))


def _sentence(text: str, tokenizer: ChineseTokenizer, sid: int) -> Sentence:
    tokens = tuple(tokenizer.tokenize(text))
    spans = [m.span() for m in _NUMBER_RE.finditer(text)]
    positions = [i for i, t in enumerate(tokens) if _NUMBER_TOKEN.fullmatch(t)]
    # Vary numbers only where the numbers found in the text are exactly the
    # number tokens, in order: then the k-th span is the k-th token.
    if [text[s:e] for s, e in spans] != [tokens[i] for i in positions]:
        return Sentence(text, tokens, sid=sid)
    return Sentence(text, tokens, tuple(spans), tuple(positions), sid)


# ---- drawing chunks ----


class _Composition:
    """Which pool sentences (and how many characters of each) every chunk holds,
    in compact arrays: at a million chunks Python lists of ints would take GBs."""

    def __init__(self) -> None:
        self.sids = array.array("i")
        self.chars = array.array("i")
        self.ends = array.array("q", [0])

    def add(self, sids: list[int], chars: list[int]) -> None:
        self.sids.extend(sids)
        self.chars.extend(chars)
        self.ends.append(len(self.sids))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            np.frombuffer(self.sids, dtype=np.int32).copy(),
            np.frombuffer(self.chars, dtype=np.int32).copy(),
            np.frombuffer(self.ends, dtype=np.int64).copy(),
        )


def _document(
    pool: SentencePool, seed: int, j: int, count: int, numbers: dict[str, str], made_of: _Composition
) -> tuple[Document, list[Chunk], list[list[str]]]:
    rng = random.Random(f"policyqa-synth:{SYNTH_VERSION}:{seed}:{j}")
    doc_id = stable_id("synth", str(seed), str(j))
    parts: list[tuple[str, list[str]]] = []
    title = ""
    for _ in range(count):
        passage = _pick_passage(pool, rng)
        title = title or passage.title
        parts.append(_chunk(pool, passage, rng, numbers, made_of))
    chunks, offset = [], 0
    for ordinal, (text, _) in enumerate(parts):
        chunks.append(Chunk(doc_id, f"{doc_id}-{ordinal:04d}", text, offset, offset + len(text)))
        offset += len(text) + 1
    text = "\n".join(t for t, _ in parts)
    doc = Document(
        doc_id=doc_id,
        title=f"{title}（合成 {j}）",
        source=f"synth/{seed}/{j:07d}",
        text=text,
        fingerprint=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )
    return doc, chunks, [tokens for _, tokens in parts]


def _pick_passage(pool: SentencePool, rng: random.Random) -> Passage:
    group = pool.seed_passages if pool.seed_passages and rng.random() < _SEED_SHARE else pool.cmrc_passages
    return group[rng.randrange(len(group))]


def _chunk(
    pool: SentencePool, passage: Passage, rng: random.Random, numbers: dict[str, str], made_of: _Composition
) -> tuple[str, list[str]]:
    """Sentences from `passage` (now and then from another) until the next would pass CHUNK_CHARS."""
    texts: list[str] = []
    tokens: list[str] = []
    sids: list[int] = []
    length = 0
    limit = rng.randint(40, CHUNK_CHARS) if rng.random() < _SHORT_CHUNK else CHUNK_CHARS
    for sentence in _walk(pool, passage, rng):
        text, toks = _vary(sentence, rng, numbers) if rng.random() < _VARY_NUMBERS else (sentence.text, sentence.tokens)
        if texts and length + len(text) > limit:
            break
        texts.append(text)
        tokens.extend(toks)
        sids.append(sentence.sid)
        length += len(text)
    made_of.add(sids, [len(t) for t in texts])
    return "".join(texts), tokens


def _walk(pool: SentencePool, passage: Passage, rng: random.Random) -> Iterator[Sentence]:
    i = rng.randrange(len(passage.sentences))
    while True:
        yield rng.choice(passage.sentences[i])
        i += 1
        if i >= len(passage.sentences) or rng.random() < _JUMP:
            passage = _pick_passage(pool, rng)
            i = rng.randrange(len(passage.sentences))


def _vary(sentence: Sentence, rng: random.Random, numbers: dict[str, str]) -> tuple[str, tuple[str, ...] | list[str]]:
    if not sentence.numbers:
        return sentence.text, sentence.tokens
    pieces, tokens, at = [], list(sentence.tokens), 0
    for (start, end), position in zip(sentence.numbers, sentence.number_tokens, strict=True):
        new = _new_number(sentence.text[start:end], rng)
        new = numbers.setdefault(new, new)
        pieces += [sentence.text[at:start], new]
        tokens[position] = new
        at = end
    pieces.append(sentence.text[at:])
    return "".join(pieces), tokens


def _new_number(old: str, rng: random.Random) -> str:
    """A number of the same shape: same decimals, same %, a year stays a plausible year."""
    percent = old.endswith("%")
    body = old.rstrip("%")
    whole, _, decimals = body.partition(".")
    if len(whole) > 1 and whole.startswith("0"):
        value = "".join(rng.choice("0123456789") for _ in whole)  # an id or a date part: same width
    elif len(whole) == 4 and not decimals and 1900 <= int(whole) <= 2099:
        value = str(min(2099, max(1900, int(whole) + rng.randint(-8, 8))))
    else:
        number = float(body) * rng.uniform(0.5, 2.0)
        value = f"{number:.{len(decimals)}f}" if decimals else str(max(1, round(number)))
    return value + ("%" if percent else "")


def composed_vectors(
    corpus: SynthCorpus, sentence_vectors: np.ndarray, rows: range, out: np.ndarray | None = None
) -> np.ndarray:
    """Stand-in chunk vectors from real sentence vectors: chunk i gets the unit
    vector of the sum of its sentences' real embeddings, each weighted by its
    length in characters (the embedded model averages over tokens, so longer
    sentences weigh more). Chunks that share sentences get close vectors, as
    their real embeddings are; `eval.bench` reports how close the stand-ins come
    to the real vectors where it has both.

    `sentence_vectors[sid]` is the vector of `pool.sentences[sid]`; the result
    has one row per chunk in `rows` (written into `out` when given)."""
    dim = sentence_vectors.shape[1]
    if out is None:
        out = np.empty((len(rows), dim), dtype=np.float32)
    step = 20_000
    for lo in range(rows.start, rows.stop, step):
        hi = min(rows.stop, lo + step)
        a, b = int(corpus.sentence_indptr[lo]), int(corpus.sentence_indptr[hi])
        weighted = sentence_vectors[corpus.sentence_ids[a:b]] * corpus.sentence_chars[a:b, None].astype(np.float32)
        starts = corpus.sentence_indptr[lo:hi] - a
        block = np.add.reduceat(weighted, starts, axis=0)  # every chunk holds at least one sentence
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)
        out[lo - rows.start : hi - rows.start] = block
    return out
