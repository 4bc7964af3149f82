"""Request and response models of the HTTP API, with their bounds.

Requests forbid unknown fields, so a misspelt `mdoe` is a 422 rather than a
silently ignored option.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from policyqa.index.engine import MAX_QUERY_CHARS
from policyqa.index.official_meta import SORTS

from .settings import API_MAX_K

# A query of blanks alone (U+00A0 included) is refused: said in the schema,
# so that a client generated from it knows before it asks.
NOT_ONLY_WHITESPACE = r"\S"
QueryText = Annotated[str, Field(min_length=1, max_length=MAX_QUERY_CHARS, pattern=NOT_ONLY_WHITESPACE)]
FilterScalar = str | int | float | bool
# An empty list would match nothing: the schema says minItems 1, and the
# backend refuses it with a message that names the key (Filters.parse).
# strict: a JSON `false` is no bound (pydantic would otherwise read it as 0)
RangeBound = StrictStr | StrictInt | StrictFloat


class FilterRange(BaseModel):
    """A metadata value within bounds: dates as ISO strings (they compare as
    text), or numbers; at least one bound, all of one kind."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})
    gt: RangeBound | None = None
    gte: RangeBound | None = None
    lt: RangeBound | None = None
    lte: RangeBound | None = None


FilterValue = FilterScalar | Annotated[list[FilterScalar], Field(json_schema_extra={"minItems": 1})] | FilterRange
Sort = Literal[SORTS]  # type: ignore[valid-type]
FILTERS_DESCRIPTION = (
    "every given key must match: doc_id, source (a prefix), or a metadata key "
    '(a list means any of these; {"gte": "2021-01-01", "lt": "2022-01-01"} a range, e.g. of the issue date)'
)


class Mode(enum.StrEnum):
    """How passages are retrieved: BM25, embeddings, or both fused."""

    hybrid = "hybrid"
    dense = "dense"
    lexical = "lexical"


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(Request):
    query: QueryText = Field(
        description="the query; at least one character that is not whitespace",
        examples=["哪个园区提出数字经济增加值占GDP比重达35%？"],
    )
    # strict: a JSON `true` is no count (pydantic would otherwise read it as 1)
    k: int = Field(default=10, ge=1, le=API_MAX_K, strict=True, description="hits to return")
    mode: Mode = Mode.hybrid
    filters: dict[str, FilterValue] | None = Field(
        default=None,
        description=FILTERS_DESCRIPTION,
        examples=[{"region": "重庆", "year": 2021}, {"issued": {"gte": "2021-01-01", "lt": "2022-01-01"}}],
    )
    sort: Sort = Field(
        default="relevance",
        description='order of the k most relevant hits: "relevance", or by a date of their document, '
        'oldest first ("issued", "effective", "published") or newest first ("-issued" ...); hits without '
        "that date come last",
    )


class AskRequest(Request):
    question: QueryText = Field(
        description="the question; at least one character that is not whitespace",
        examples=["Which park targets a 35% digital-economy share?"],
    )
    k: int = Field(default=5, ge=1, le=API_MAX_K, strict=True, description="passages to return beside the answer")
    mode: Mode = Mode.hybrid
    filters: dict[str, FilterValue] | None = Field(default=None, description=FILTERS_DESCRIPTION)
    explain: bool = Field(default=False, strict=True, description="return the features and weights behind the answer")


class Span(BaseModel):
    start: int
    end: int


class HitOut(BaseModel):
    """A ranked passage: `text == document text[start:end]`; `highlights` are spans in `text`."""

    doc_id: str
    title: str
    source: str
    chunk_id: str
    section: str
    text: str
    start: int
    end: int
    score: float
    dense_score: float | None
    dense_rank: int | None
    lexical_score: float | None
    lexical_rank: int | None
    char_score: float | None = Field(
        default=None, description="character-bigram BM25 among the candidates (hybrid mode, Chinese questions)"
    )
    metadata: dict[str, Any]
    explain: dict[str, Any] | None = Field(default=None, description="e.g. the bridged terms the passage holds")
    highlights: list[Span] = Field(default_factory=list)


class SearchResponse(BaseModel):
    query: str
    mode: Mode
    index_version: str
    timings_ms: dict[str, float]
    bridge: dict[str, Any] | None = Field(default=None, description="Chinese terms found for the query's English words")
    hits: list[HitOut]


class CitationOut(BaseModel):
    """`quote == document text[start:end]` of document `doc_id`."""

    n: int
    doc_id: str
    title: str
    source: str
    chunk_id: str
    quote: str
    start: int
    end: int


class ShortAnswerOut(BaseModel):
    """The span that answers a who / where / when / how-many question: `text == document text[start:end]`."""

    text: str
    doc_id: str
    start: int
    end: int
    kind: Literal["person", "place", "organization", "time", "quantity"]


class AskResponse(BaseModel):
    question: str
    answer: str = Field(description="quoted sentences, each followed by its [n] marker; or the not-found message")
    found: bool
    short_answer: ShortAnswerOut | None = Field(
        default=None, description="the span that answers, where the question asks for a name, a time or a figure"
    )
    answer_type: str = Field(
        default="",
        description="what the question asks for: person, place, organization, time, quantity, list or description",
    )
    explain: dict[str, Any] | None = Field(
        default=None, description="with explain=true: each learned decision's features, weights and probability"
    )
    citations: list[CitationOut]
    passages: list[HitOut] = Field(description="the nearest passages (also when nothing was found)")
    reason: str = Field(default="", description="why nothing was found")
    composer: Literal["extractive", "llm"] = "extractive"
    index_version: str = Field(default="", description="the index version the answer and passages come from")


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    source: str
    chunks: int
    metadata: dict[str, Any]
    # An official document's identity, read from its text at ingest (metadata given by the user wins).
    doc_number: str | None = Field(default=None, description="发文字号, e.g. 渝府发〔2021〕12号")
    issuer: str | None = Field(default=None, description="发文机关, the issuing body")
    issued: str | None = Field(default=None, description="成文日期 (YYYY-MM-DD)")
    effective: str | None = Field(default=None, description="施行日期, when it takes effect (YYYY-MM-DD)")
    published: str | None = Field(default=None, description="发布日期 (YYYY-MM-DD)")


class DocumentDetail(DocumentOut):
    """One document as stored: the text every citation's `start`/`end` index into."""

    text: str
    pages: list[int] | None = Field(
        default=None, description="for PDFs and scans: the offset in `text` where each page starts"
    )


class DocumentList(BaseModel):
    total: int
    documents: list[DocumentOut]


class TargetOut(BaseModel):
    """A target or reported figure stated in a document: `quote == text[start:end]` of
    GET /documents/{doc_id}; the value as written is `text[value_start:value_end]`."""

    subject: str = Field(description="the zone or body it belongs to, e.g. 广阳湾智创生态城")
    indicator: str = Field(description="e.g. 数字经济增加值占GDP比重")
    value: float
    unit: str = Field(description="%, 亿元, 个 … ('' for none)")
    qualifier: Literal["=", "≥", "≤", "≈", ">"] = Field(description="≥ for 以上 or 不低于, ≤ for 以下 or 控制在 …")
    direction: str = Field(description="下降 / 增长 / 提高 when the value is a change, else ''")
    kind: Literal["target", "reported"]
    year: int | None = Field(description="a target's deadline year")
    period: str = Field(description="a reported figure's period, e.g. 2021年上半年")
    doc_id: str
    title: str
    start: int
    end: int
    quote: str
    value_start: int
    value_end: int
    subject_start: int = Field(description="where the subject is named in the document; -1: only the title names it")
    subject_end: int


class TargetList(BaseModel):
    total: int
    targets: list[TargetOut]


class UploadResponse(BaseModel):
    status: Literal["added", "updated", "unchanged"]
    document: DocumentOut
    index_version: str


class DeleteResponse(BaseModel):
    deleted: str
    index_version: str


class HealthResponse(BaseModel):
    status: Literal["ok", "no_index"]
    index_loaded: bool
    documents: int
    chunks: int
    model: str
    index_version: str
    backend: Literal["faiss", "milvus"] = Field(description="what keeps the index: embedded FAISS + BM25, or Milvus")
    generated_answers: bool = Field(description="an LLM endpoint is configured for /ask")


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail
