"""The HTTP service: search, cited answers, document management, a search page and a widget.

`create_app(settings)` builds everything; nothing happens at import. Route
handlers are thin: they validate with the request models and call `Service`,
which talks to the engine. Every error leaves as `{"error": {"code", "message"}}`
JSON from one handler that maps domain errors to HTTP codes.

Concurrency: handlers are plain `def`, so FastAPI runs them in its threadpool.
Searches read an immutable version of the index; an upload or delete prepares
the new version beside it (holding `write_lock`, so writers queue) and swaps it
in atomically, so queries keep being answered meanwhile and never see half an
update.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from policyqa.index import parse_worker
from policyqa.index.answer import ExtractiveAnswerer
from policyqa.index.backend import Filters
from policyqa.index.chunkstore import DocRecord
from policyqa.index.engine import Engine
from policyqa.index.errors import (
    DocumentNotFoundError,
    DocumentTooLargeError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    InputError,
    ModelMismatchError,
    PolicyQAError,
    StorageBusyError,
    StorageUnavailableError,
    UnsupportedFormatError,
)
from policyqa.index.ingest import SUPPORTED_SUFFIXES, UPLOAD_SCHEME, document_from_bytes
from policyqa.index.official_meta import FIELDS as OFFICIAL_FIELDS
from policyqa.index.official_meta import sort_by_date
from policyqa.index.reader import open_reader
from policyqa.index.targets import Record as TargetRecord
from policyqa.index.targets import to_csv as targets_csv
from policyqa.index.types import Document, Hit

from .highlight import highlight_spans
from .llm import ChatComposer, LLMConfig
from .origin_guard import CrossSiteWriteGuard
from .schemas import (
    AskRequest,
    AskResponse,
    CitationOut,
    DeleteResponse,
    DocumentDetail,
    DocumentList,
    DocumentOut,
    ErrorResponse,
    HealthResponse,
    HitOut,
    SearchRequest,
    SearchResponse,
    ShortAnswerOut,
    Span,
    TargetList,
    TargetOut,
    UploadResponse,
)
from .security_headers import SecurityHeaders
from .settings import Settings

log = logging.getLogger("policyqa.service")

STATIC_DIR = Path(__file__).with_name("static")
MAX_JSON_BYTES = 256 * 1024  # a 2,000-character question is under 10 KB; leave room for a clear 422
MAX_METADATA_KEYS = 50
EMBED_WAIT_S = 60.0  # how long a big upload waits for another one's embedding to finish
SMALL_UPLOAD_CHARS = 15_000  # about one embedding batch of chunks: embedded without waiting


class UnauthorizedError(PolicyQAError):
    """No API key, or a wrong one, where keys are required."""


class RequestTooLargeError(PolicyQAError):
    """A request body over the service's limit."""


class RequestTimeoutError(PolicyQAError):
    """A request body that did not arrive within the service's deadline."""


class ServiceBusyError(PolicyQAError):
    """Too much work queued already (uploads waiting to be embedded)."""


# Most specific first: the first class that matches sets the status and code.
ERROR_STATUS: tuple[tuple[type[PolicyQAError], int, str], ...] = (
    (UnauthorizedError, 401, "unauthorized"),
    (RequestTooLargeError, 413, "too_large"),
    (RequestTimeoutError, 408, "request_timeout"),
    (ServiceBusyError, 503, "busy"),
    (StorageBusyError, 503, "busy"),
    (StorageUnavailableError, 503, "storage_unavailable"),
    (DocumentTooLargeError, 413, "too_large"),
    (UnsupportedFormatError, 415, "unsupported_format"),
    (IngestError, 422, "unreadable_document"),
    (InputError, 422, "invalid_input"),
    (DocumentNotFoundError, 404, "document_not_found"),
    (IndexNotFoundError, 503, "index_not_found"),
    (ModelMismatchError, 503, "model_mismatch"),
    (IndexCorruptError, 503, "index_corrupt"),
    (IndexVersionError, 503, "index_version"),
    (PolicyQAError, 400, "bad_request"),
)
# What each error status means, for the OpenAPI document: every route lists
# the statuses it can return (see `_add_routes`), with the error body's model.
ERROR_MEANINGS = {
    400: "the body is not valid JSON, or not a readable form",
    401: "no API key, or a wrong one (only when POLICYQA_API_KEYS is set)",
    403: "a write sent by a page of another site",
    404: "no such document",
    408: "the body did not arrive within POLICYQA_BODY_TIMEOUT_S",
    413: "over a limit: body size, pages, characters, paragraphs, elements, nesting, parse time or memory",
    415: "a file type that is not supported",
    422: "invalid input (the message says which field and why), or a file that cannot be read",
    503: "no index is loaded, or it cannot be used (damaged, another model, a newer format); "
    "or, for an upload, another big upload is being embedded (try again)",
}


def error_responses(*codes: int, keys: bool) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route that can fail with these statuses (and 401 when keys are required)."""
    listed = sorted({*codes, 401} if keys else set(codes))
    return {code: {"model": ErrorResponse, "description": ERROR_MEANINGS[code]} for code in listed}


def error_json(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


# What API clients are told when the index itself is the problem. The engine's
# own messages name files on the server and the commands that fix them there:
# those go to the server log, for the operator, and never into a response.
UNAVAILABLE_MESSAGES = {
    "index_not_found": "no index is loaded yet: the operator must build one with `policyqa ingest`",
    "model_mismatch": "the index was built with another embedding model: the operator must rebuild it",
    "index_corrupt": "the index is damaged: the operator must check it with `policyqa verify` and rebuild it",
    "index_version": "the index was written by a newer policyqa: the operator must upgrade or rebuild it",
}


# Refusals made before the body was read, or while it was: the connection is
# closed after the reply, so a client cannot go on trickling the body it was
# refused for on a kept-alive connection.
CLOSE_AFTER = frozenset({401, 403, 408, 413})


def domain_error(exc: PolicyQAError) -> JSONResponse:
    status, code = next((s, c) for cls, s, c in ERROR_STATUS if isinstance(exc, cls))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status in CLOSE_AFTER:
        headers["Connection"] = "close"
    message = str(exc)
    if code in UNAVAILABLE_MESSAGES:
        log.error("index unavailable (%s): %s", code, message)
        message = UNAVAILABLE_MESSAGES[code]
    return error_json(status, code, message, headers)


class Service:
    """What the routes do, over one engine."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.answerer = ExtractiveAnswerer(engine, reader=open_reader(settings.reader))
        self.composer = (
            ChatComposer(
                LLMConfig(
                    url=settings.llm_url,
                    model=settings.llm_model or "",
                    api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                    timeout_s=settings.llm_timeout_s,
                )
            )
            if settings.llm_url
            else None
        )
        self.write_lock = threading.Lock()
        self._embedding = threading.Semaphore(1)
        self._keys = [key.get_secret_value().encode() for key in settings.api_keys]

    # ---- start-up ----
    def ensure_index(self) -> None:
        """Clean up after a writer that was killed (this service or `policyqa ingest`);
        on the first run, build the index from the seed reports (the demo corpus)."""
        with self.write_lock:
            removed = self.engine.recover()
        if removed:
            log.warning("removed what an interrupted update left in %s: %s", self.settings.index_dir, removed)
        if self.engine.exists():
            return
        seeds = self.settings.seeds_dir
        if not seeds.is_dir():
            log.warning("no index at %s and no seeds folder at %s: starting empty", self.settings.index_dir, seeds)
            return
        log.info("first run: ingesting %s into %s", seeds, self.settings.index_dir)
        with self.write_lock:
            # named from the seeds folder itself (seeds/...), whichever directory serve started in
            report = self.engine.ingest([seeds], names_from=seeds.parent)
        log.info("ingested %d documents (%d chunks) in %.1fs", len(report.added), report.chunks_added, report.seconds)
        for line in report.failed:
            log.warning("seed not ingested: %s", line)

    # ---- auth ----
    def check_token(self, token: str | None) -> None:
        if not self._keys:
            return
        if token is None:
            raise UnauthorizedError("this API needs a key: send `Authorization: Bearer <key>`")
        given = token.encode()
        # compare with every key, so the time taken does not tell which key came close
        matches = [hmac.compare_digest(given, key) for key in self._keys]
        if not any(matches):
            raise UnauthorizedError("the API key is not valid: check `Authorization: Bearer <key>`")

    # ---- reading ----
    def _check_k(self, k: int) -> None:
        if k > self.settings.max_k:
            raise InputError(f"k={k}: this service returns at most {self.settings.max_k} hits")

    def _hit(self, hit: Hit, tokens: list[str]) -> HitOut:
        spans = highlight_spans(hit.chunk.text, tokens)
        return HitOut(**hit.to_dict(), highlights=[Span(start=s, end=e) for s, e in spans])

    def search(self, request: SearchRequest) -> SearchResponse:
        self._check_k(request.k)
        filters = Filters.parse(_plain_filters(request))
        result = self.engine.search(request.query, k=request.k, mode=request.mode.value, filters=filters)
        hits = sort_by_date(result.hits, request.sort)
        # highlight the query's own terms and the Chinese terms the bridge found for its English words
        terms = [*result.tokens, *(t.term for t in result.bridge.terms)] if result.bridge else result.tokens
        return SearchResponse(
            query=result.query,
            mode=request.mode,
            index_version=result.version,
            timings_ms={k: round(v, 3) for k, v in result.timings_ms.items()},
            bridge=result.bridge.to_dict() if result.bridge else None,
            hits=[self._hit(h, terms) for h in hits],
        )

    def ask(self, request: AskRequest) -> AskResponse:
        self._check_k(request.k)
        filters = Filters.parse(_plain_filters(request))
        answer = self.answerer.answer(request.question, k=request.k, mode=request.mode.value, filters=filters)
        if self.composer is not None:
            answer = self.composer.compose(answer)
        tokens = list(answer.terms) or self.engine.tokenizer.tokenize(answer.question)
        return AskResponse(
            question=answer.question,
            answer=answer.answer,
            found=answer.found,
            short_answer=ShortAnswerOut(**answer.short_answer.to_dict()) if answer.short_answer else None,
            answer_type=answer.answer_type,
            explain=answer.evidence if request.explain else None,
            citations=[CitationOut(**c.to_dict()) for c in answer.citations],
            passages=[self._hit(h, tokens) for h in answer.passages],
            reason=answer.reason,
            composer="llm" if answer.composer == "llm" else "extractive",
            index_version=answer.index_version,
        )

    def documents(self) -> DocumentList:
        docs = self.engine.documents()
        return DocumentList(total=len(docs), documents=[_document_out(d) for d in docs])

    def targets(self, query: TargetQuery) -> list[TargetRecord]:
        return self.engine.targets(indicator=query.indicator, subject=query.subject, year=query.year, kind=query.kind)

    def document(self, doc_id: str) -> DocumentDetail:
        found = self.engine.document_with_text(doc_id)
        if found is None:
            raise DocumentNotFoundError(f"no document with id {doc_id!r} in the index: list ids with GET /documents")
        record, text = found
        pages = record.metadata.get("pages")
        valid = isinstance(pages, list) and all(isinstance(p, int) and not isinstance(p, bool) for p in pages)
        return DocumentDetail(**_document_out(record).model_dump(), text=text, pages=pages if valid else None)

    def health(self) -> tuple[bool, HealthResponse]:
        stats = self.engine.stats()
        loaded = bool(stats)
        return loaded, HealthResponse(
            status="ok" if loaded else "no_index",
            index_loaded=loaded,
            documents=int(stats.get("documents", 0)),
            chunks=int(stats.get("chunks", 0)),
            model=self.engine.embedder.model_id,
            index_version=str(stats.get("version", "")),
            backend=self.engine.storage_name,
            generated_answers=self.composer is not None,
        )

    # ---- writing ----
    def upload(self, filename: str | None, data: bytes, metadata: str | None, title: str | None) -> UploadResponse:
        """Parse, then add or replace the document `upload:<filename>`; all or nothing."""
        name = _plain_file_name(filename)
        if not data:
            raise InputError(f"{name}: the file is empty (0 bytes): upload a file with content")
        if len(data) > self.settings.max_upload_bytes:
            limit = self.settings.max_upload_bytes
            raise DocumentTooLargeError(f"{name}: {len(data):,} bytes, over the limit of {limit:,}: split the file")
        meta = _parse_metadata(metadata)
        doc = document_from_bytes(data, UPLOAD_SCHEME + name, meta, (title or "").strip() or None)
        if _same_upload(old := self.engine.document(doc.doc_id), doc):
            return self._unchanged(old)
        # Embedding, the slow part, runs outside the write lock: other uploads
        # and deletes go on meanwhile, and only the commit queues. Two uploads
        # of one file still end as one document: the doc_id is the file name.
        with self._embedding_slot(doc, name):
            prepared = self.engine.prepare([doc])
        with self.write_lock:
            old = self.engine.document(doc.doc_id)
            if _same_upload(old, doc):  # the same file, committed by another request meanwhile
                return self._unchanged(old)
            view = self.engine.commit(prepared)
        record = next(d for d in view.documents() if d.doc_id == doc.doc_id)
        return UploadResponse(
            status="updated" if old else "added", document=_document_out(record), index_version=view.version
        )

    @contextlib.contextmanager
    def _embedding_slot(self, doc: Document, name: str) -> Iterator[None]:
        """One big upload embeds at a time (it uses every core, in batches); one
        that cannot start within EMBED_WAIT_S is refused (503) rather than
        holding a worker thread. A small one, a single batch, goes straight on,
        so it is never queued behind a big one."""
        if len(doc.text) <= SMALL_UPLOAD_CHARS:
            yield
            return
        if not self._embedding.acquire(timeout=EMBED_WAIT_S):
            raise ServiceBusyError(f"{name}: another big upload is being embedded: try again in a minute")
        try:
            yield
        finally:
            self._embedding.release()

    def _unchanged(self, record: DocRecord | None) -> UploadResponse:
        assert record is not None
        version = str(self.engine.stats().get("version", ""))
        return UploadResponse(status="unchanged", document=_document_out(record), index_version=version)

    def delete(self, doc_id: str) -> DeleteResponse:
        with self.write_lock:
            if self.engine.document(doc_id) is None:
                raise DocumentNotFoundError(
                    f"no document with id {doc_id!r} in the index: list ids with GET /documents"
                )
            view = self.engine.apply([], [doc_id])
        return DeleteResponse(deleted=doc_id, index_version=view.version)

    def close(self) -> None:
        if self.composer is not None:
            self.composer.close()


def _same_upload(old: DocRecord | None, doc: Document) -> bool:
    return old is not None and (old.fingerprint, old.metadata, old.title) == (doc.fingerprint, doc.metadata, doc.title)


def _document_out(doc: DocRecord) -> DocumentOut:
    official = {k: str(doc.metadata[k]) for k in OFFICIAL_FIELDS if doc.metadata.get(k) not in (None, "")}
    return DocumentOut(
        doc_id=doc.doc_id, title=doc.title, source=doc.source, chunks=doc.n_chunks, metadata=doc.metadata, **official
    )


# The filters of GET /targets (and .csv); each one given must match.
IndicatorParam = Annotated[str | None, Query(max_length=200, description="e.g. 数字经济占比 (any wording)")]
SubjectParam = Annotated[str | None, Query(max_length=100, description="a part of the zone's name, e.g. 经开区")]
YearParam = Annotated[
    int | None, Query(ge=1900, le=2200, description="a target's deadline year or a reported period's year")
]
KindParam = Annotated[Literal["target", "reported"] | None, Query()]


@dataclass(frozen=True)
class TargetQuery:
    indicator: str | None
    subject: str | None
    year: int | None
    kind: str | None


TARGET_PARAMS = frozenset(f.name for f in fields(TargetQuery))


def target_query(
    request: Request,
    indicator: IndicatorParam = None,
    subject: SubjectParam = None,
    year: YearParam = None,
    kind: KindParam = None,
) -> TargetQuery:
    """The filters of GET /targets and /targets.csv. A parameter they do not take
    is refused (a misspelt filter would otherwise be ignored and list
    everything), an empty name included, and so is one given twice (only one
    value would count)."""
    names = [name for name, _ in parse_qsl(request.url.query, keep_blank_values=True)]
    for name in names:
        if name not in TARGET_PARAMS:
            raise InputError(f"unknown parameter {name!r}: GET /targets takes {', '.join(sorted(TARGET_PARAMS))}")
        if names.count(name) > 1:
            raise InputError(f"parameter {name!r} is given {names.count(name)} times: give it once")
    return TargetQuery(indicator, subject, year, kind)


TargetQueryDep = Annotated[TargetQuery, Depends(target_query)]


def _plain_filters(request: SearchRequest | AskRequest) -> dict[str, Any] | None:
    """The request's filters as plain JSON values (a range as its given bounds)."""
    if request.filters is None:
        return None
    return {
        key: value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value
        for key, value in request.filters.items()
    }


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _plain_file_name(filename: str | None) -> str:
    """The upload's name, refused unless it is a plain file name (no folders, no '..')."""
    name = (filename or "").strip()
    if not name:
        raise InputError(
            "the upload has no file name: send it as multipart field `file` with a name such as report.pdf"
        )
    if "/" in name or "\\" in name or name.startswith(".") or _CONTROL.search(name) or len(name) > 200:
        raise InputError(
            f"file name {name[:80]!r} is not a plain file name: upload it as e.g. report.pdf "
            "(no folders, no '..', no leading dot, at most 200 characters)"
        )
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "a file without a suffix"
        raise UnsupportedFormatError(f"{name}: {kind} is not supported: upload one of {', '.join(SUPPORTED_SUFFIXES)}")
    return name


def _nesting(raw: str) -> int:
    """The deepest nesting of [ and { in a JSON text, strings skipped."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _parse_metadata(raw: str | None) -> dict[str, Any]:
    """The `metadata` form field: a JSON object of strings, numbers, booleans (or lists of them)."""
    if raw is None or not raw.strip():
        return {}
    if _nesting(raw) > 2:  # an object of scalars or lists: deeper is refused before parsing (no RecursionError)
        raise InputError("metadata is nested too deeply: send an object of strings, numbers or lists of them")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"metadata is not valid JSON ({exc.msg} at column {exc.colno}): send an object such as "
            '{"region": "重庆", "year": 2021}'
        ) from exc
    if not isinstance(value, dict):
        raise InputError(f'metadata must be a JSON object, not {type(value).__name__}: e.g. {{"region": "重庆"}}')
    if len(value) > MAX_METADATA_KEYS:
        raise InputError(f"metadata has {len(value)} keys: keep it to {MAX_METADATA_KEYS}")
    for key, item in value.items():
        if not key or key in ("doc_id", "source"):
            raise InputError(f"metadata key {key!r} is reserved or empty: pick another name")
        items = item if isinstance(item, list) else [item]
        if not all(isinstance(v, str | int | float | bool) for v in items):
            raise InputError(f"metadata {key!r} must be a string, number, boolean or a list of them, not {item!r}")
    return value


# ---- request body limit ----

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class BodyLimit:
    """Refuses request bodies over a limit before they are read into memory or
    spooled to disk, and bodies that take longer than `timeout_s` to arrive
    (a client trickling bytes would otherwise hold a worker for ever)."""

    def __init__(self, app: Any, upload_limit: int, timeout_s: float) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.timeout_s = timeout_s

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.upload_limit if scope["path"].rstrip("/") == "/documents" else MAX_JSON_BYTES
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            response = error_json(
                413,
                "too_large",
                f"the request body has {int(length):,} bytes; the limit is {limit:,}",
                {"Connection": "close"},
            )
            await response(scope, receive, send)
            return
        received = 0
        deadline: float | None = None

        async def limited() -> MutableMapping[str, Any]:
            nonlocal received, deadline
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError as exc:
                raise RequestTimeoutError(
                    f"the request body did not arrive within {self.timeout_s:g} s: send it at once"
                ) from exc
            received += len(message.get("body", b""))
            if received > limit:
                raise RequestTooLargeError(f"the request body is over the limit of {limit:,} bytes")
            return message

        await self.app(scope, limited, send)


class KeyGuard:
    """Checks the API key from the headers alone, before a body is read: a
    client without a valid key cannot make the service receive, spool or
    parse an upload (FastAPI would read the form before its dependencies)."""

    def __init__(self, app: Any, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] != "OPTIONS" and _needs_key(scope["path"]):
            headers = {k.lower(): v for k, v in scope.get("headers") or []}
            scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
            given = token.strip() if scheme.lower() == "bearer" and token.strip() else None
            try:
                self.service.check_token(given)
            except UnauthorizedError as exc:
                await domain_error(exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)


# What anyone may fetch when keys are set: the health check, the page and the
# widget with their files, and the API's documentation. Everything else needs
# a key, so a route added later is closed until it is listed here.
PUBLIC_PATHS = frozenset({"/health", "/", "/embed", "/widget.js", "/docs", "/docs/oauth2-redirect", "/redoc"})
PUBLIC_PREFIXES = ("/static/", "/static-offline-docs/", "/openapi.json", "/doc/")


def _needs_key(path: str) -> bool:
    return (path.rstrip("/") or "/") not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES)


# ---- the app ----


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app over `engine` (opened from `settings` when not given).

    On start-up, an index that does not exist yet is built from `settings.seeds_dir`.
    """
    engine = engine or Engine.open(
        settings.index_dir, model=settings.model, threads=settings.threads, storage=settings.storage()
    )
    parse_worker.configure(settings.parse_limits())
    service = Service(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.ensure_index)
        yield
        service.close()

    # Swagger UI and ReDoc from the package's own files: an offline intranet has no CDN.
    app = FastAPIOffline(
        title="policyqa",
        summary="Hybrid (BM25 + dense) search and cited answers over Chinese policy reports",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.service = service
    _add_error_handlers(app)
    _add_routes(app, keys=bool(settings.api_keys))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        BodyLimit, upload_limit=settings.max_upload_bytes + 1024 * 1024, timeout_s=settings.body_timeout_s
    )
    # Added after BodyLimit, so it runs first: a request without a valid key is refused before its body is read.
    app.add_middleware(KeyGuard, service=service)
    # Added after BodyLimit, so it runs first: a cross-site write is refused before its body is read.
    app.add_middleware(
        CrossSiteWriteGuard,
        allowed_origins=settings.cors_origins,
        refuse=lambda message: error_json(403, "cross_site_write", message, {"Connection": "close"}),
    )
    app.add_middleware(SecurityHeaders, frame_origins=settings.cors_origins)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    return app


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]
_bearer = HTTPBearer(auto_error=False, description="one of POLICYQA_API_KEYS (only when keys are configured)")


def require_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Declares the bearer key in the OpenAPI schema. The check itself is made
    by `KeyGuard` from the headers, before a body is read."""


def _add_routes(app: FastAPI, keys: bool) -> None:
    """The API's routes. With keys configured, each protected route declares
    the bearer scheme and its 401; without, nothing in the schema asks for a header."""
    protected = [Depends(require_key)] if keys else []

    @app.post(
        "/search",
        response_model=SearchResponse,
        dependencies=protected,
        responses=error_responses(400, 408, 413, 422, 503, keys=keys),
        tags=["search"],
    )
    def search(body: SearchRequest, service: ServiceDep) -> SearchResponse:
        """Ranked passages for a query, with scores and the spans of `text` that match it."""
        return service.search(body)

    @app.post(
        "/ask",
        response_model=AskResponse,
        dependencies=protected,
        responses=error_responses(400, 408, 413, 422, 503, keys=keys),
        tags=["search"],
    )
    def ask(body: AskRequest, service: ServiceDep) -> AskResponse:
        """An answer quoted from the top passages with [n] citations, or `found: false` and the nearest passages."""
        return service.ask(body)

    @app.get(
        "/documents",
        response_model=DocumentList,
        dependencies=protected,
        responses=error_responses(503, keys=keys),
        tags=["documents"],
    )
    def list_documents(service: ServiceDep) -> DocumentList:
        """Every document in the index."""
        return service.documents()

    @app.get(
        "/documents/{doc_id}",
        response_model=DocumentDetail,
        dependencies=protected,
        responses=error_responses(404, 422, 503, keys=keys),
        tags=["documents"],
    )
    def get_document(doc_id: str, service: ServiceDep) -> DocumentDetail:
        """One document's whole stored text and metadata: every citation's `start`/`end`
        index into `text`. The page /doc/{doc_id}#start-end shows it with the span highlighted."""
        return service.document(doc_id)

    @app.get(
        "/targets",
        response_model=TargetList,
        dependencies=protected,
        responses=error_responses(422, 503, keys=keys),
        tags=["targets"],
    )
    def list_targets(service: ServiceDep, query: TargetQueryDep) -> TargetList:
        """Every target and reported figure the documents state, each citing its sentence;
        only those matching every given filter (`indicator` in any wording: 数字经济占比 finds
        数字经济增加值占GDP比重; `subject` a part of the zone's name)."""
        records = service.targets(query)
        return TargetList(total=len(records), targets=[TargetOut(**r.to_dict()) for r in records])

    @app.get(
        "/targets.csv",
        response_class=Response,
        dependencies=protected,
        responses={200: {"content": {"text/csv": {}}}, **error_responses(422, 503, keys=keys)},
        tags=["targets"],
    )
    def export_targets(service: ServiceDep, query: TargetQueryDep) -> Response:
        """The same rows as GET /targets, as a CSV file (UTF-8 with a byte-order mark, for spreadsheets)."""
        return Response(
            "\ufeff" + targets_csv(service.targets(query)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="targets.csv"'},
        )

    @app.post(
        "/documents",
        response_model=UploadResponse,
        status_code=201,
        dependencies=protected,
        responses={
            200: {"model": UploadResponse, "description": "the same file as before: nothing changed"},
            **error_responses(400, 403, 408, 413, 415, 422, 503, keys=keys),
        },
        tags=["documents"],
    )
    def upload_document(
        service: ServiceDep,
        response: Response,
        file: Annotated[UploadFile, File(description=".txt, .md, .pdf, .docx, .html, or a .png/.jpg page image (OCR)")],
        metadata: Annotated[str | None, Form(description='JSON object, e.g. {"region": "重庆", "year": 2021}')] = None,
        title: Annotated[str | None, Form(max_length=300)] = None,
    ) -> UploadResponse:
        """Add a document (201), or replace the one uploaded under the same file name (201; 200 when
        nothing changed); searchable at once. The file name must be plain (no folders, no leading dot)
        and end in a supported suffix; the content must be readable as that type."""
        data = file.file.read(service.settings.max_upload_bytes + 1)
        result = service.upload(file.filename, data, metadata, title)
        if result.status == "unchanged":
            response.status_code = 200
        return result

    @app.delete(
        "/documents/{doc_id}",
        response_model=DeleteResponse,
        dependencies=protected,
        responses=error_responses(403, 404, 422, 503, keys=keys),
        tags=["documents"],
    )
    def delete_document(doc_id: str, service: ServiceDep) -> DeleteResponse:
        """Remove a document; gone from the next query on."""
        return service.delete(doc_id)

    @app.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}}, tags=["service"])
    def health(service: ServiceDep) -> Response:
        """Whether the index is loaded, its counts and the model (no key needed)."""
        loaded, body = service.health()
        return JSONResponse(body.model_dump(), status_code=200 if loaded else 503)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/doc/{doc_id}", include_in_schema=False)
    def document_page(doc_id: str) -> FileResponse:
        """The document view; its script fetches GET /documents/{doc_id} (with the stored key)."""
        del doc_id  # read by the page's script from the address
        return FileResponse(STATIC_DIR / "doc.html")

    @app.get("/embed", include_in_schema=False)
    def embed() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/widget.js", include_in_schema=False)
    def widget() -> FileResponse:
        return FileResponse(STATIC_DIR / "widget.js", media_type="text/javascript")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this request's path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, APIRoute | Route) and route.methods and route.path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PolicyQAError)
    async def on_domain_error(_: Request, exc: PolicyQAError) -> JSONResponse:
        return domain_error(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return error_json(
                400,
                "malformed_json",
                'the request body is not valid JSON: send a JSON object such as {"query": "数字经济", "k": 5}',
            )
        return error_json(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cause = exc.__cause__
        if isinstance(cause, PolicyQAError):  # raised while FastAPI read the body (the size limit)
            return domain_error(cause)
        codes = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (methods := _allowed_methods(request)):
            headers["Allow"] = ", ".join(methods)  # Starlette names only the first route of the path
        return error_json(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_json(500, "internal_error", "an unexpected error occurred; it has been logged")
