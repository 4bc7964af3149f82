"""The engine: files in, cited hits out.

It chunks, tokenizes and embeds; the backend stores and searches; `hybrid`
fuses. It knows nothing of HTTP or the command line, reads no environment
variables and configures no logging.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from . import parse_worker
from .backend import Backend, Filters, PreparedDocument, ReadView
from .bridge import Bridge, BridgeComponent, BridgeConfig, Translation
from .char_bigrams import bigram_scores, chinese_factor, query_bigrams
from .chunking import ChunkingConfig, chunk_document
from .chunkstore import DocRecord
from .dense import DenseConfig
from .embedders import Embedder, make_embedder
from .errors import IngestError, InputError
from .figures import alternatives as figure_alternatives
from .glossary import GlossDictionary
from .hybrid import FusionConfig, FusionMethod, Ranking, SearchMode, cjk_share, fuse, lexical_trust
from .ingest import UPLOAD_SCHEME, iter_files_with_roots, read_document, source_key
from .manifest import check_chunking, check_model, index_manifest
from .milvus_backend import MilvusBackend
from .storage import MigrateReport, StorageConfig, migrate_to_milvus, open_backend
from .targets import Record as TargetRecord
from .targets import TargetStore
from .targets import extract as extract_targets
from .targets import select as select_targets
from .tokenize import ChineseTokenizer
from .types import Document, Hit

# progress(stage, done, total): stages are "read", "ocr" (pages of a scanned file), "embed", "write"
Progress = Callable[[str, int, int], None]

MAX_QUERY_CHARS = 2000
# Metadata about a whole file (page starts, OCR confidences per page): served
# with the document (GET /documents/{doc_id}), not repeated on every hit.
DOCUMENT_ONLY_METADATA = frozenset({"pages", "ocr"})
MAX_K = 1000


@dataclass(frozen=True)
class EngineConfig:
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    embed_batch_size: int = 64
    # The cross-lingual query bridge (index/bridge.py): English words in a query
    # become weighted Chinese terms on the lexical side. On by default because
    # it lifts English questions on the seed set (see README).
    bridge: bool = True
    bridge_config: BridgeConfig = field(default_factory=BridgeConfig)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one-line messages
    chunks_added: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: SearchMode
    hits: list[Hit]
    version: str
    timings_ms: dict[str, float]
    tokens: list[str]
    # What the bridge added to the lexical query (None when it was off or had
    # nothing to translate): each term with its weight, source and English words.
    bridge: Translation | None = None
    # The query's embedding (None in lexical mode), for callers that score more
    # text against the query, so that it is embedded once per request.
    query_vector: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass
class Candidates:
    """One query's candidates before fusion. `lexical` and `dense` are each
    side's own top-depth ranking (their ranks are the ones hits report); in
    hybrid mode `lexical_all` and `dense_all` rank the union of both lists by
    each side's score, so every candidate carries both scores."""

    lexical: Ranking
    dense: Ranking
    tokens: list[str]
    terms: dict[str, float] | None
    vector: np.ndarray | None
    translation: Translation | None
    lexical_all: Ranking | None = None
    dense_all: Ranking | None = None
    lexical_factor: float = 1.0
    # Character-bigram BM25 over the union (Chinese questions in hybrid mode).
    chars_all: Ranking | None = None
    char_factor: float = 0.0


def best_first(keys: np.ndarray, scores: np.ndarray) -> Ranking:
    """(rows, scores) sorted by score, highest first; ties by lower row."""
    order = np.lexsort((keys, -scores))
    return keys[order], scores[order]


class Engine:
    """Search and maintain one index with one embedding model."""

    def __init__(
        self,
        backend: Backend,
        embedder: Embedder,
        tokenizer: ChineseTokenizer | None = None,
        config: EngineConfig | None = None,
        model_name: str | None = None,
        glosses: GlossDictionary | None = None,
        targets_path: Path | None = None,
    ) -> None:
        """`targets_path`: the SQLite file that keeps the targets table beside
        the index (`Engine.open` names `<index dir>/targets.sqlite`; None: in memory)."""
        self.backend = backend
        self.embedder = embedder
        self.tokenizer = tokenizer or ChineseTokenizer()
        self.config = config or EngineConfig()
        self.model_name = model_name or embedder.model_id
        # CC-CEDICT read backwards, built on the first bridged query; the bridge
        # itself belongs to one index version (its vocabulary).
        self.glosses = glosses or GlossDictionary()
        self._bridge: Bridge | None = None
        self._bridge_version: str | None = None
        self._target_store = TargetStore(targets_path)
        self._targets_cache: tuple[str, list[TargetRecord]] | None = None
        if backend.exists():
            self._check_compatible(backend.manifest())

    @classmethod
    def open(
        cls,
        index_dir: Path,
        model: str | None = None,
        threads: int | None = None,
        config: EngineConfig | None = None,
        embedder: Embedder | None = None,
        tokenizer: ChineseTokenizer | None = None,
        rebuild: bool = False,
        storage: StorageConfig | None = None,
    ) -> Engine:
        """An engine on the index at `index_dir` (which may not exist yet), kept
        by the backend `storage` names (default: the embedded FAISS + BM25 one).

        Without `model`, an existing index is opened with the model that built it;
        a new one gets the embedded default. Without `tokenizer`, the default
        `ChineseTokenizer()`; an index built by another raises ModelMismatchError.
        With `rebuild`, the existing index is neither opened nor checked: the first
        `ingest`/`apply` builds a new one from scratch and replaces it atomically
        (until then, and if that is interrupted, the old one stays live).
        """
        backend = open_backend(Path(index_dir), storage, (config or EngineConfig()).dense, rebuild=rebuild)
        manifest = backend.manifest() if backend.exists() else {}
        if config is None:  # an existing index keeps its own chunking for later writes
            recorded = manifest.get("chunking") or {}
            config = EngineConfig(chunking=ChunkingConfig(**recorded)) if recorded else EngineConfig()
        if embedder is None:
            if model is None:
                model = manifest.get("model_name")
            embedder = make_embedder(model, threads=threads)
        return cls(
            backend,
            embedder,
            tokenizer=tokenizer,
            config=config,
            model_name=model,
            targets_path=Path(index_dir) / "targets.sqlite",
        )

    # ---- the index, as callers see it (nothing outside the library reads the backend) ----
    def exists(self) -> bool:
        """Whether an index has been built (an engine may open on an empty folder)."""
        return self.backend.exists()

    @property
    def storage_name(self) -> str:
        """Which backend keeps the index: "faiss" (embedded) or "milvus"."""
        return self.backend.name

    def view(self) -> ReadView:
        """The live version, for several reads that must agree (IndexNotFoundError when none)."""
        return self.backend.view()

    def documents(self) -> list[DocRecord]:
        """Every document of the live version; none before the first ingest."""
        return self.backend.view().documents() if self.backend.exists() else []

    def document(self, doc_id: str) -> DocRecord | None:
        return next((d for d in self.documents() if d.doc_id == doc_id), None)

    def document_with_text(self, doc_id: str) -> tuple[DocRecord, str] | None:
        """A document's record and its whole stored text (what every citation's
        offsets index into), from one version; None when it is not indexed."""
        if not self.backend.exists():
            return None
        view = self.backend.view()
        record = next((d for d in view.documents() if d.doc_id == doc_id), None)
        return None if record is None else (record, view.document_text(doc_id))

    def targets(
        self,
        indicator: str | None = None,
        subject: str | None = None,
        year: int | None = None,
        kind: str | None = None,
    ) -> list[TargetRecord]:
        """The targets and reported figures stated in the live version's
        documents (index/targets.py), each citing its sentence; only those that
        match every given criterion (`indicator` in any wording the tokenizer
        relates: 数字经济占比 finds 数字经济增加值占GDP比重). A document's records
        are read once per version of it and kept beside the index."""
        if not self.backend.exists():
            return []
        view = self.backend.view()
        cached = self._targets_cache
        if cached is not None and cached[0] == view.version:
            return select_targets(cached[1], self.tokenizer.tokenize, indicator, subject, year, kind)
        docs = view.documents()
        records: list[TargetRecord] = []
        for d in docs:
            found = self._target_store.get(d.doc_id, d.fingerprint)
            if found is None:
                found = extract_targets(view.document_text(d.doc_id), d.doc_id, d.title, self.tokenizer.tag)
                self._target_store.put(d.doc_id, d.fingerprint, found)
            records += found
        # a new version: forget the versions of documents it no longer holds
        self._target_store.keep_only((d.doc_id, d.fingerprint) for d in docs)
        self._targets_cache = (view.version, records)
        return select_targets(records, self.tokenizer.tokenize, indicator, subject, year, kind)

    def stats(self) -> dict[str, Any]:
        """Counts and version of the live index; {} before the first ingest."""
        return self.backend.view().stats() if self.backend.exists() else {}

    def corpus_fingerprint(self) -> str | None:
        """What the index holds, as one hash of its documents' ids and contents (None: no index)."""
        return self.backend.manifest().get("corpus_fingerprint") if self.backend.exists() else None

    def recover(self) -> list[str]:
        """Clean up after a writer that was killed; returns what was removed."""
        return self.backend.recover()

    def migrate_from(self, index_dir: Path, progress: Progress | None = None) -> MigrateReport:
        """Copy the embedded index at `index_dir` into this engine's (empty) Milvus
        index: chunks, vectors and tokens as they are, nothing re-embedded."""
        if not isinstance(self.backend, MilvusBackend):
            raise InputError("migration copies an embedded index into Milvus: open this engine with backend milvus")
        report = migrate_to_milvus(Path(index_dir), self.backend, progress)
        self._check_compatible(self.backend.manifest())
        return report

    # ---- checks ----
    def _check_compatible(self, manifest: dict[str, Any]) -> None:
        check_model(manifest, self.embedder, self.tokenizer)

    def _manifest(self, docs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        return index_manifest(self.embedder, self.tokenizer, self.config.chunking, docs, self.model_name)

    # ---- writing ----
    def prepare(self, docs: Sequence[Document], progress: Progress | None = None) -> list[PreparedDocument]:
        """Chunk, tokenize and embed documents (the expensive part of an update)."""
        chunked = [chunk_document(d, self.config.chunking) for d in docs]
        texts = [c.text for chunks in chunked for c in chunks]
        done = 0

        def step(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress("embed", done, len(texts))

        vectors = self.embedder.encode_documents(texts, batch_size=self.config.embed_batch_size, progress=step)
        tokens = [self.tokenizer.tokenize(t) for t in texts]
        prepared, at = [], 0
        for doc, chunks in zip(docs, chunked, strict=True):
            n = len(chunks)
            prepared.append(PreparedDocument(doc, chunks, vectors[at : at + n], tokens[at : at + n]))
            at += n
        return prepared

    def apply(self, add: Sequence[Document], remove: Sequence[str] = (), progress: Progress | None = None) -> ReadView:
        """Add (or replace, by doc_id) and remove documents in one atomic step."""
        return self.commit(self.prepare(add, progress), remove, progress)

    def commit(
        self, prepared: Sequence[PreparedDocument], remove: Sequence[str] = (), progress: Progress | None = None
    ) -> ReadView:
        """Write documents prepared earlier (added, or replacing those of the same
        doc_id) and remove others, in one atomic step. Only this part needs a
        writer's lock: `prepare`, the slow part, can run beside other writers."""
        add = [p.document for p in prepared]
        if self.backend.exists():  # another process may have rebuilt it since this engine opened
            manifest = self.backend.manifest()
            check_model(manifest, self.embedder, self.tokenizer)
            check_chunking(manifest, self.config.chunking)
        current = self.backend.view().documents() if self.backend.exists() else []
        gone = set(remove) | {d.doc_id for d in add}
        fingerprints = [(d.doc_id, d.fingerprint) for d in current if d.doc_id not in gone]
        fingerprints += [(d.doc_id, d.fingerprint) for d in add]
        if progress:
            progress("write", 0, 1)
        view = self.backend.apply(prepared, list(remove), self._manifest(fingerprints))
        if progress:
            progress("write", 1, 1)
        return view

    def ingest(
        self, paths: Sequence[Path], progress: Progress | None = None, names_from: Path | None = None
    ) -> IngestReport:
        """Bring the index in line with files and folders: add new, update changed,
        remove documents whose files vanished from an ingested folder; unchanged
        files cost nothing. Unreadable files are reported, not fatal."""
        started = time.perf_counter()
        report = IngestReport()
        files = iter_files_with_roots(paths)
        sources = [_source(path, root, names_from) for path, root in files]
        taken: dict[str, Path] = {}
        for (path, _), source in zip(files, sources, strict=True):
            if source in taken:  # two folders of one name outside the working directory
                raise IngestError(
                    f"{path} and {taken[source]} would both be named {source!r} in the index: "
                    "ingest them from a common working directory, or rename one folder"
                )
            taken[source] = path
        # A writer killed earlier may have left staging folders behind; they go
        # now, even when this run turns out to have nothing to write.
        self.backend.recover()
        known = {d.doc_id: d for d in self.backend.view().documents()} if self.backend.exists() else {}
        to_add: list[Document] = []
        seen: set[str] = set()
        for i, ((path, _), source) in enumerate(zip(files, sources, strict=True)):
            if progress:
                progress("read", i + 1, len(files))
            # a scanned file's OCR'd pages are progress too: each takes seconds
            pages = parse_worker.reporting(partial(progress, "ocr")) if progress else nullcontext()
            try:
                with pages:
                    doc = read_document(path, source)
            except IngestError as exc:
                report.failed.append(str(exc))
                continue
            seen.add(doc.doc_id)
            old = known.get(doc.doc_id)
            if old is not None and old.fingerprint == doc.fingerprint:
                report.unchanged.append(doc.source)
                continue
            (report.updated if old else report.added).append(doc.source)
            to_add.append(doc)
        folders = tuple(_source(p, p, names_from).rstrip("/") + "/" for p in paths if Path(p).is_dir())
        removed = [
            d.doc_id
            for d in known.values()
            if d.doc_id not in seen and d.source.startswith(folders) and not d.source.startswith(UPLOAD_SCHEME)
        ]
        report.removed = [known[d].source for d in removed]
        if to_add or removed:
            view = self.apply(to_add, removed, progress)
            added_ids = {d.doc_id for d in to_add}
            report.chunks_added = sum(d.n_chunks for d in view.documents() if d.doc_id in added_ids)
        report.seconds = time.perf_counter() - started
        return report

    # ---- reading ----
    def search(
        self,
        query: str,
        k: int = 10,
        mode: SearchMode | str = SearchMode.HYBRID,
        fusion: FusionConfig | None = None,
        filters: Filters | None = None,
        bridge: bool | None = None,
        view: ReadView | None = None,
    ) -> SearchResult:
        """Ranked hits for a question, each with its fused, dense and lexical scores and ranks.

        `bridge` turns the cross-lingual query bridge on or off for this search
        (None: `EngineConfig.bridge`). It only acts on English words and figures,
        and only on the lexical side (lexical and hybrid modes); what it added is
        in `SearchResult.bridge`, and each hit's `explain["bridge"]` lists the
        added terms that the hit's passage contains.

        `view`: search this version of the index (from `backend.view()`) rather
        than the live one, so that a caller reading more from the index after
        the search (an answerer) sees the same version even while updates land."""
        mode = SearchMode.parse(mode)
        query = _checked_query(query)
        if not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InputError(f"k={k!r}: ask for between 1 and {MAX_K} hits")
        fusion = fusion or self.config.fusion
        timings: dict[str, float] = {}
        view = view if view is not None else self.backend.view()
        depth = max(k * fusion.depth_factor, fusion.min_depth) if mode is SearchMode.HYBRID else k
        use_bridge = self.config.bridge if bridge is None else bridge
        c = self._retrieve(view, query, mode, depth, filters, use_bridge, timings)

        t = time.perf_counter()
        if mode is SearchMode.HYBRID:
            assert c.lexical_all is not None and c.dense_all is not None
            # Ranks only mean something within a side's own list: RRF fuses the
            # lists; the weighted sum fuses both scores of every candidate.
            if fusion.method is FusionMethod.RRF:
                lexical, dense = c.lexical, c.dense
            else:
                lexical, dense = c.lexical_all, c.dense_all
            ranked = fuse(
                lexical, dense, fusion, lexical_factor=c.lexical_factor, chars=c.chars_all, char_factor=c.char_factor
            )[:k]
        else:
            rows, scores = c.lexical if mode is SearchMode.LEXICAL else c.dense
            ranked = list(zip(rows.tolist(), np.asarray(scores, dtype=np.float64).tolist(), strict=True))[:k]
        hits = self._hits(view, ranked, c)
        if c.translation:
            hits = _explain_bridge(view, hits, ranked, c.translation)
        timings["fuse_ms"] = (time.perf_counter() - t) * 1000
        return SearchResult(query, mode, hits, view.version, timings, c.tokens, c.translation, c.vector)

    def candidates(
        self, query: str, depth: int = 50, bridge: bool | None = None, view: ReadView | None = None
    ) -> Candidates:
        """What each side retrieves for `query` before fusion, as hybrid search
        sees it (for tuning the fusion: `python -m policyqa.eval.tune_fusion`)."""
        use_bridge = self.config.bridge if bridge is None else bridge
        view = view if view is not None else self.backend.view()
        return self._retrieve(view, _checked_query(query), SearchMode.HYBRID, depth, None, use_bridge, {})

    def _retrieve(
        self,
        view: ReadView,
        query: str,
        mode: SearchMode,
        depth: int,
        filters: Filters | None,
        use_bridge: bool,
        timings: dict[str, float],
    ) -> Candidates:
        translation: Translation | None = None
        if use_bridge and mode is not SearchMode.DENSE:
            t = time.perf_counter()
            translation = self._bridge_for(view).translate(query)
            timings["bridge_ms"] = (time.perf_counter() - t) * 1000
            translation = translation if translation.terms else None

        t = time.perf_counter()
        tokens = self.tokenizer.tokenize(query)
        # Figures written the other way (百分之三点三 / 3.3%): their tokens join the lexical query.
        numerals = self.config.bridge_config.uses(BridgeComponent.NUMERALS)
        figures = figure_alternatives(query) if mode is not SearchMode.DENSE and numerals else []
        figures = self.tokenizer.tokenize(" ".join(figures)) if figures else []
        terms = _weighted_terms(tokens, translation, figures) if translation or figures else None
        empty = (np.empty(0, dtype=np.int64), np.empty(0))
        if mode is SearchMode.DENSE:
            lexical = empty
        elif terms is not None:
            lexical = view.weighted_lexical_search(terms, depth, filters)
        else:
            lexical = view.lexical_search(tokens, depth, filters)
        timings["lexical_ms"] = (time.perf_counter() - t) * 1000

        vector = None
        dense = empty
        if mode is not SearchMode.LEXICAL:
            t = time.perf_counter()
            vector = self.embedder.encode_queries([query])[0]
            timings["embed_ms"] = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            dense = view.dense_search(vector, depth, filters)
            timings["dense_ms"] = (time.perf_counter() - t) * 1000

        c = Candidates(lexical, dense, tokens, terms, vector, translation)
        if mode is SearchMode.HYBRID:
            # Score every candidate on both sides: one that only one side
            # retrieved gets its real score from the other, not a zero, so the
            # fused score is recomputable from the two scores each hit shows.
            t = time.perf_counter()
            keys = np.union1d(lexical[0], dense[0]).astype(np.int64)
            lex_all = self._lexical_scores(view, c, keys)
            assert vector is not None
            den_all = np.asarray(view.dense_scores(vector, keys), dtype=np.float64)
            c.lexical_all, c.dense_all = best_first(keys, lex_all), best_first(keys, den_all)
            c.lexical_factor = lexical_trust(query, translation.coverage if translation else None)
            timings["union_ms"] = (time.perf_counter() - t) * 1000
            bigrams = query_bigrams(query)
            if bigrams:
                t = time.perf_counter()
                texts = [chunk.text for chunk, _ in view.resolve(keys.tolist())]
                c.chars_all = best_first(keys, bigram_scores(bigrams, texts))
                c.char_factor = chinese_factor(cjk_share(query))
                timings["chars_ms"] = (time.perf_counter() - t) * 1000
        return c

    @staticmethod
    def _lexical_scores(view: ReadView, c: Candidates, keys: np.ndarray) -> np.ndarray:
        if c.terms is not None:
            return np.asarray(view.weighted_lexical_scores(c.terms, keys), dtype=np.float64)
        if not c.tokens:
            return np.zeros(len(keys))
        return np.asarray(view.lexical_scores(c.tokens, keys), dtype=np.float64)

    def warm_bridge(self) -> None:
        """Build the bridge's dictionary, and the current version's pinyin index,
        now: otherwise the first English query pays for them (about 2 s of CPU)."""
        self.glosses.load()
        if self.backend.exists():
            self._bridge_for(self.backend.view()).pinyin_index()

    def _bridge_for(self, view: ReadView) -> Bridge:
        """The bridge over this version's vocabulary, kept until the version changes."""
        bridge = self._bridge
        if bridge is None or self._bridge_version != view.version:
            bridge = Bridge(
                view.lexical_vocabulary(), self.glosses, self.config.bridge_config, segment=self.tokenizer.tokenize
            )
            self._bridge, self._bridge_version = bridge, view.version
        return bridge

    def _hits(self, view: ReadView, ranked: list[tuple[int, float]], c: Candidates) -> list[Hit]:
        keys = np.asarray([key for key, _ in ranked], dtype=np.int64)
        lex_rank = {int(r): i + 1 for i, r in enumerate(c.lexical[0].tolist())}
        den_rank = {int(r): i + 1 for i, r in enumerate(c.dense[0].tolist())}
        # Scores of each side for every hit, also where that side did not rank
        # it: a user asking "why is this here?" sees both numbers.
        den_scores: np.ndarray | None
        char_scores: list[float | None] = [None] * len(keys)
        if c.lexical_all is not None and c.dense_all is not None:
            lex_of = dict(zip(c.lexical_all[0].tolist(), c.lexical_all[1].tolist(), strict=True))
            den_of = dict(zip(c.dense_all[0].tolist(), c.dense_all[1].tolist(), strict=True))
            lex_scores = np.asarray([lex_of[k] for k in keys.tolist()])
            den_scores = np.asarray([den_of[k] for k in keys.tolist()])
            if c.chars_all is not None:
                char_of = dict(zip(c.chars_all[0].tolist(), c.chars_all[1].tolist(), strict=True))
                char_scores = [char_of[k] for k in keys.tolist()]
        else:
            lex_scores = self._lexical_scores(view, c, keys)
            den_scores = view.dense_scores(c.vector, keys) if c.vector is not None else None
        hits = []
        for i, ((chunk, doc), (key, score)) in enumerate(zip(view.resolve(keys.tolist()), ranked, strict=True)):
            hits.append(
                Hit(
                    chunk=chunk,
                    title=doc.title,
                    source=doc.source,
                    score=float(score),
                    dense_score=float(den_scores[i]) if den_scores is not None else None,
                    dense_rank=den_rank.get(key),
                    lexical_score=float(lex_scores[i]),
                    lexical_rank=lex_rank.get(key),
                    char_score=char_scores[i],
                    metadata={k: v for k, v in doc.metadata.items() if k not in DOCUMENT_ONLY_METADATA},
                )
            )
        return hits


def _source(path: Path, root: Path, names_from: Path | None) -> str:
    """A file's name in the index: `source_key`'s, or relative to `names_from`."""
    if names_from is None:
        return source_key(path, root)
    return Path(os.path.abspath(path)).relative_to(os.path.abspath(names_from)).as_posix()


def _checked_query(query: str | None) -> str:
    query = (query or "").strip()
    if not query:
        raise InputError("the query is empty: type a question")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"the query has {len(query)} characters: keep it under {MAX_QUERY_CHARS}")
    return query


def _weighted_terms(
    tokens: Sequence[str], translation: Translation | None, figures: Sequence[str] = ()
) -> dict[str, float]:
    """The query's own tokens (weight 1 per occurrence), the bridge's terms, and
    the tokens of its figures written the other way (weight 1, once each)."""
    terms: dict[str, float] = {}
    for token in tokens:
        terms[token] = terms.get(token, 0.0) + 1.0
    for term, weight in (translation.weights() if translation else {}).items():
        terms[term] = terms.get(term, 0.0) + weight
    for token in dict.fromkeys(figures):
        terms.setdefault(token, 1.0)
    return terms


def _explain_bridge(
    view: ReadView, hits: list[Hit], ranked: list[tuple[int, float]], translation: Translation
) -> list[Hit]:
    """Copies of the hits whose passages contain bridge terms, with those terms
    in `explain["bridge"]` (hits are frozen, so they are re-made, not mutated)."""
    out = []
    for hit, (key, _) in zip(hits, ranked, strict=True):
        present = set(view.lexical_terms(key))
        matched = [t.to_dict() for t in translation.terms if t.term in present]
        out.append(replace(hit, explain={**hit.explain, "bridge": matched}) if matched else hit)
    return out
