"""The Milvus backend: chunks, vectors and BM25 term weights in Milvus.

The same client code runs against Milvus Lite (a path ending in .db, embedded
in this process) and a Milvus server or cluster (an http(s) URI).

Five collections, named `<prefix>_<part>`:
- `chunks`: one row per chunk: its text, span, document, the document's source
  and metadata (so filters are Milvus expressions over the row), the dense
  vector, a sparse vector of BM25 term weights, and the tokens (their counts
  give exact BM25 scores, and deletes give back their document frequencies);
- `docs`: one row per document version (the record the embedded backend keeps:
  title, source, sections, metadata);
- `texts`: document texts, in parts of at most 60,000 bytes;
- `terms`: the vocabulary: a term, its sparse dimension, and its document
  frequency in two slots, each with the version it holds for;
- `state`: one row: the live version, counters, the manifest, and the lease of
  a write in progress.

Versions. Every write gets the next version number G. Its chunks, texts and
document rows are written with `born = G`; the rows of documents it replaces
or removes get `died = G`; each changed term gets its new frequency in the
slot that does not hold the live one, marked G. Only then is the one state
row set to G: that upsert is the commit. A reader of version G reads the
documents live at G (born <= G, died unset or > G), each term's slot of the
highest version <= G, and drops any chunk whose (doc_id, born) is not one of
its documents: a half-written document is never seen, and a write that never
commits changes nothing a reader sees. Rows retired by a write are deleted by
the write after it, so a reader still on the version before keeps them.

Writers. A write holds a lease in the state row (its id and an expiry it
renews as it goes). Another writer is refused while the lease is live, and
undoes the write when it has expired (a killed writer): Milvus has no
compare-and-set, so two writers that start in the same instant are told
apart only by reading the lease back; run one writing process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .backend import PreparedDocument
from .chunkstore import DocRecord
from .errors import IndexNotFoundError, InputError, PolicyQAError, StorageBusyError, StorageUnavailableError
from .manifest import with_counts
from .milvus_filters import literal
from .milvus_view import K1, B, ChunkCache, MilvusView, MilvusVocabulary

log = logging.getLogger(__name__)

_TEXT_PART = 60_000  # bytes of document text per row (a VARCHAR holds 65,535)
_VARCHAR = 65_535
_ID_BYTES = 1_024  # doc_id and the like
MAX_TERM_BYTES = 1_024  # longer tokens (never words) are left out of the lexical side
_INSERT_BATCH = 1_000
_STATE_ID = "state"
_DUMMY = [0.0, 0.0]  # Milvus wants a vector in every collection; the bookkeeping ones carry this
LEASE_S = 120  # a write renews its lease after every batch of rows; one that stops for this long is dead
PARTS = ("chunks", "docs", "texts", "terms", "state")
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MilvusConfig:
    """Where the collections live: a Milvus Lite file (.db) or a server URI."""

    uri: str
    token: str | None = None
    collection: str = "policyqa"

    @property
    def is_lite(self) -> bool:
        return "://" not in self.uri


@dataclass
class _State:
    version: int = 0
    next_key: int = 0
    next_term: int = 0
    chunks: int = 0
    total_len: int = 0
    pending: int = 0  # the version a writer has started and not committed (0: none)
    writer: str = ""  # who holds the lease on `pending`
    lease: float = 0.0  # when that lease expires (epoch seconds)
    manifest: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {
            "id": _STATE_ID, "version": self.version, "next_key": self.next_key, "next_term": self.next_term,
            "chunks": self.chunks, "total_len": self.total_len, "pending": self.pending, "writer": self.writer,
            "lease_ms": int(self.lease * 1000), "manifest": json.dumps(self.manifest, ensure_ascii=False),
            "_v": _DUMMY,
        }  # fmt: skip

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> _State:
        return cls(
            version=int(row["version"]), next_key=int(row["next_key"]), next_term=int(row["next_term"]),
            chunks=int(row["chunks"]), total_len=int(row["total_len"]), pending=int(row["pending"]),
            writer=str(row["writer"]), lease=int(row["lease_ms"]) / 1000, manifest=json.loads(row["manifest"]),
        )  # fmt: skip


class MilvusBackend:
    """Stores chunks in Milvus collections; `apply` commits with one state-row upsert."""

    name = "milvus"

    def __init__(self, config: MilvusConfig, rebuild: bool = False) -> None:
        """`rebuild`: ignore the live version until the first `apply`, which replaces
        every document (when the new model's vectors have another size, the
        collections are dropped and made anew first: that rebuild is not atomic)."""
        if config.is_lite and not config.uri.endswith(".db"):
            raise InputError(f"Milvus Lite keeps its data in a file ending in .db, not {config.uri!r}: name one")
        self.config = config
        self._rebuild = rebuild
        self._client: Any = None
        self._id = uuid.uuid4().hex  # this writer, in the lease
        self._connect = threading.Lock()
        self._write = threading.Lock()
        self._load_lock = threading.Lock()
        self._view: MilvusView | None = None
        self._cache = ChunkCache()
        self.dense_index_type = "FLAT" if config.is_lite else "HNSW"

    def _name(self, part: str) -> str:
        return f"{self.config.collection}_{part}"

    def _errors(self, hint: str = "") -> _MilvusErrors:
        return _MilvusErrors(self.config.uri, hint)

    # ---- connection ----
    @property
    def client(self) -> Any:
        if self._client is None:
            with self._connect:
                if self._client is None:
                    self._client = self._open_client()
        return self._client

    def _open_client(self) -> Any:
        from pymilvus import MilvusClient

        # pymilvus logs every failed call (and a Lite quirk of its query iterator,
        # "failed to get mvccTs") itself; failures reach the user as one line here.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
        hint = ""
        if self.config.is_lite:
            Path(self.config.uri).parent.mkdir(parents=True, exist_ok=True)
            # Milvus Lite serves gRPC in this process and logs tracebacks of its own:
            # for the one call it lacks (AllocTimestamp, which the iterator does
            # without) and for a folder another process holds.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
            hint = " (a Milvus Lite file serves one process at a time: is another policyqa using it?)"
        with self._errors(hint):
            client = MilvusClient(uri=self.config.uri, token=self.config.token or "")
            for part in PARTS:
                if client.has_collection(self._name(part)):
                    client.load_collection(self._name(part))
        return client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def drop(self) -> None:
        """Delete every collection of this index (the benchmark starts clean this way)."""
        with self._errors():
            for part in PARTS:
                self.client.drop_collection(self._name(part))
        self._view, self._cache = None, ChunkCache()

    # ---- what the engine asks ----
    def exists(self) -> bool:
        if self._rebuild:
            return False
        state = self._state()
        return state is not None and state.version > 0

    def manifest(self) -> dict[str, Any]:
        state = self._state()
        if state is None or not state.version:
            raise self._not_found()
        return dict(state.manifest)

    def view(self) -> MilvusView:
        if self._rebuild:
            raise IndexNotFoundError(f"{self._where()} is being rebuilt: nothing to read until the rebuild commits")
        state = self._state()
        if state is None or not state.version:
            raise self._not_found()
        view = self._view
        if view is not None and view.version == str(state.version):
            return view
        with self._load_lock:
            view = self._view
            if view is None or view.version != str(state.version):
                for _ in range(3):  # a version loaded while two more committed may read term slots that moved on
                    view = self._load(state)
                    now = self._state()
                    if now is None or now.version - state.version <= 1:
                        break
                    state = now
                self._view = view
            return view

    def _where(self) -> str:
        return f"Milvus at {self.config.uri} (collections {self.config.collection}_*)"

    def _not_found(self) -> IndexNotFoundError:
        return IndexNotFoundError(f"no index in {self._where()}: run `policyqa ingest --backend milvus PATH` first")

    # ---- reading rows ----
    def _state(self) -> _State | None:
        if self._client is None and self.config.is_lite and not Path(self.config.uri).exists():
            return None  # reading creates nothing: the file appears with the first write
        with self._errors():
            if not self.client.has_collection(self._name("state")):
                return None
            rows = self.client.query(self._name("state"), filter=f'id == "{_STATE_ID}"', output_fields=["*"])
        return _State.from_row(rows[0]) if rows else None

    def _scan(self, part: str, expression: str, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row matching `expression`, in batches (any number of rows)."""
        with self._errors():
            iterator = self.client.query_iterator(
                self._name(part), batch_size=4_000, filter=expression, output_fields=fields
            )
            try:
                while batch := iterator.next():
                    yield from batch
            finally:
                iterator.close()

    def _load(self, state: _State, terms: _Terms | None = None) -> MilvusView:
        """Version `state.version`; `terms`: its vocabulary rows, when already read."""
        g = state.version
        docs: dict[str, tuple[int, DocRecord]] = {}
        fields = ["doc_id", "born", "record"]
        for row in self._scan("docs", f"born <= {g} and (died == 0 or died > {g})", fields):
            docs[row["doc_id"]] = (int(row["born"]), self._record_of(row))
        terms = terms or _Terms.load(self._scan("terms", "tid >= 0", list(_Terms.FIELDS)), state)
        return MilvusView(
            self, g, state.manifest, docs, terms.vocabulary(), terms.df_array(state.next_term),
            (state.chunks, state.total_len),
        )  # fmt: skip

    def _record_of(self, row: Mapping[str, Any]) -> DocRecord:
        """A `docs` row's record: inline, or in `texts` when it was too long for the row."""
        record = row["record"] or self._read_parts(row["doc_id"], int(row["born"]), records=True)
        return DocRecord.from_json(json.loads(record))

    def search(self, field: str, query: Any, limit: int, expression: str) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"metric_type": "IP"}
        if field == "vector" and self.dense_index_type == "HNSW":
            params["params"] = {"ef": max(64, limit)}
        with self._errors():
            result = self.client.search(
                self._name("chunks"), data=[query], anns_field=field, limit=limit, filter=expression,
                search_params=params, output_fields=["doc_id", "born"],
            )  # fmt: skip
        return [{"key": h["key"], **h["entity"]} for h in result[0]]

    def chunk_rows(self, keys: Iterable[int]) -> list[dict[str, Any]]:
        def fetch(missing: list[int]) -> list[dict[str, Any]]:
            rows: list[dict[str, Any]] = []
            fields = ["key", "doc_id", "chunk_id", "text", "start", "end", "tokens", "length", "vector"]
            with self._errors():
                for at in range(0, len(missing), _INSERT_BATCH):
                    ids = missing[at : at + _INSERT_BATCH]
                    rows.extend(self.client.get(self._name("chunks"), ids=ids, output_fields=fields))
            return rows

        return self._cache.get_many(keys, fetch)

    def read_text(self, doc_id: str, born: int) -> str:
        return self._read_parts(doc_id, born, records=False)

    def _read_parts(self, doc_id: str, born: int, records: bool) -> str:
        side = "part < 0" if records else "part >= 0"
        expression = f"doc_id == {literal(doc_id)} and born == {born} and {side}"
        rows = sorted(self._scan("texts", expression, ["part", "text"]), key=lambda r: abs(int(r["part"])))
        return "".join(r["text"] for r in rows)

    # ---- writing ----
    def apply(
        self,
        add: Sequence[PreparedDocument],
        remove: Sequence[str],
        manifest: Mapping[str, Any],
        progress: Progress | None = None,
    ) -> MilvusView:
        """Remove documents by id, add prepared ones (replacing same ids), and
        commit with one upsert of the state row. The lease is taken before
        anything is read for the write, and kept (checked and renewed) up to the
        commit."""
        with self._write:
            for p in add:  # every document checked before anything is written
                _check_sizes(p, _kept_tokens(p))
            redo = self._ensure_collections(int(manifest["dim"]))
            state = self._claimable(self._state() or _State())
            g = state.version + 1
            self._take_lease(state, g)
            if redo:  # another vector size: new collections, under this write's lease
                state = self._recreate(int(manifest["dim"]), state)
            keep = _Keeper(self, state)
            # The vocabulary is read once, for the base version and for the write.
            terms = _Terms.load(keep.each(self._scan("terms", "tid >= 0", list(_Terms.FIELDS))), state)
            base = self._load(state, terms) if state.version else None
            live = dict(base._docs) if base else {}
            replaced = set(remove) | {p.document.doc_id for p in add}
            drop = {d: live[d][0] for d in (set(live) if self._rebuild else replaced & set(live))}
            writer = _Write(state, terms, g)
            for row in keep.each(self._dropped_rows(drop)):
                writer.forget(row["tokens"], int(row["length"]))
            rows = writer.chunk_rows(add)

            def step(done: int) -> None:
                if progress:
                    progress("write", done, len(rows))
                keep()

            self._insert("chunks", rows, step)
            self._insert("texts", [r for p in add for r in _text_rows(p, g)], keep.step)
            self._insert("docs", [_doc_row_of(_record(p), g, died=0) for p in add], keep.step)
            self._upsert("docs", [_doc_row_of(live[d][1], born, died=g) for d, born in drop.items()], keep.step)
            self._upsert("terms", writer.term_rows(), keep.step)
            done = writer.committed()
            done.manifest = with_counts(
                manifest, documents=len(live) - len(drop) + len(add), chunks=done.chunks,
                vocabulary=writer.vocabulary_size(), dense_index=self.dense_index_type, backend=self.name,
            )  # fmt: skip
            keep.check()
            self._upsert("state", [done.row()])  # the commit
            self._rebuild = False
            try:  # the write stands; what is left of older versions goes now or with the next one
                self._collect(g - 1)
                self._flush()
            except StorageUnavailableError as exc:
                log.warning("milvus: cleaning up after version %s failed (%s); the next write retries", g, exc)
            view = self._load(done)
            self._view = view
            return view

    def _claimable(self, state: _State) -> _State:
        """The state to write on: a live lease of another writer refuses; an
        expired one (or one of this backend's own, which no running write holds)
        is undone first."""
        if state.pending:
            if state.writer != self._id and state.lease > time.time():
                raise self._busy(state)
            self._undo(state)
            state = self._state() or _State()
        return state

    def _busy(self, state: _State) -> StorageBusyError:
        until = time.strftime("%H:%M:%S", time.localtime(state.lease))
        return StorageBusyError(
            f"{self._where()} is being written by another process (version {state.pending}, lease until "
            f"{until}): try again when it is done"
        )

    def _take_lease(self, state: _State, g: int) -> None:
        """Claim version `g` over `state`; refused when the state moved since it
        was read (another writer committed or claimed in between)."""
        now = self._state() or _State()
        if now.version != state.version or (now.pending and now.writer != self._id and now.lease > time.time()):
            raise self._busy(now) if now.pending else StorageBusyError(
                f"{self._where()} changed while this write began (version {state.version} → {now.version}): try again"
            )
        claim = replace(state, pending=g, writer=self._id, lease=time.time() + LEASE_S)
        self._upsert("state", [claim.row()])
        now = self._state() or _State()
        if now.writer != self._id or now.version != state.version:  # another writer claimed it in the same instant
            raise self._busy(now)
        state.pending, state.writer, state.lease = claim.pending, claim.writer, claim.lease

    def holds_lease(self, state: _State) -> bool:
        now = self._state()
        return now is not None and now.writer == self._id and now.pending == state.pending

    def renew(self, state: _State) -> None:
        """Extend this write's lease; StorageBusyError when it is no longer this write's."""
        if not self.holds_lease(state):
            raise StorageBusyError(f"{self._where()}: this write lost its lease (it stalled past {LEASE_S} s)")
        state.lease = time.time() + LEASE_S
        self._upsert("state", [state.row()])

    def _dropped_rows(self, born_of: Mapping[str, int]) -> Iterator[dict[str, Any]]:
        for expression in _by_version(born_of.items()):
            yield from self._scan("chunks", expression, ["tokens", "length"])

    def _collect(self, version: int) -> int:
        """Delete the rows of document versions that died at or before `version`."""
        dead = list(self._scan("docs", f"died > 0 and died <= {version}", ["id", "doc_id", "born"]))
        with self._errors():
            for expression in _by_version((r["doc_id"], int(r["born"])) for r in dead):
                self.client.delete(self._name("chunks"), filter=expression)
                self.client.delete(self._name("texts"), filter=expression)
            if dead:
                self.client.delete(self._name("docs"), ids=[row["id"] for row in dead])
        return len(dead)

    def recover(self) -> list[str]:
        """Undo a write whose writer died before its commit, and delete rows that
        older versions left; returns what was done. Reads one row when there is
        nothing to do, and leaves a write another process is making alone."""
        with self._write:
            state = self._state()
            if state is None:
                return []
            done = []
            if state.pending and (state.writer == self._id or state.lease <= time.time()):
                done.append(f"milvus: undid the unfinished write of version {state.pending}")
                self._undo(state)
            if any(True for _ in self._scan("docs", f"died > 0 and died <= {state.version - 1}", ["id"])):
                done.append(f"milvus: deleted {self._collect(state.version - 1)} replaced document versions")
            return done

    def _undo(self, state: _State) -> None:
        """Back to the committed version: drop what the unfinished write added and
        revive what it retired. Term slots it wrote are marked with its version,
        which no reader reads, and are overwritten by the next write."""
        g = state.version
        with self._errors():
            for part in ("chunks", "texts", "docs"):
                self.client.delete(self._name(part), filter=f"born > {g}")
        revived = [
            _doc_row_of(self._record_of(r), int(r["born"]), died=0)
            for r in self._scan("docs", f"died > {g}", ["doc_id", "born", "record"])
        ]
        self._upsert("docs", revived)
        # Its term slots: rows of terms it made go; slots it marked are emptied
        # (the next write at the same version number must not find them).
        touched = list(self._scan("terms", f"ver_a > {g} or ver_b > {g}", list(_Terms.FIELDS)))
        with self._errors():
            self.client.delete(self._name("terms"), filter=f"tid >= {state.next_term}")
        reset = [
            _term_row(
                r["term"], int(r["tid"]),
                (int(r["df_a"]), int(r["ver_a"])) if int(r["ver_a"]) <= g else (0, 0),
                (int(r["df_b"]), int(r["ver_b"])) if int(r["ver_b"]) <= g else (0, 0),
            )
            for r in touched
            if int(r["tid"]) < state.next_term
        ]  # fmt: skip
        self._upsert("terms", reset)
        self._upsert("state", [replace(state, pending=0, writer="", lease=0.0).row()])
        self._flush()

    def _flush(self) -> None:
        """Milvus Lite: seal what was written, so it is searched through its
        index (a sparse search over 2,000 unflushed chunks took 400 ms, 3 ms once
        flushed). A server seals on its own, and limits how often one may flush."""
        if self.config.is_lite:
            with self._errors():
                for part in PARTS:
                    self.client.flush(self._name(part))

    def _insert(self, part: str, rows: list[dict[str, Any]], done: Callable[[int], Any] | None = None) -> None:
        self._write_rows(self.client.insert, part, rows, done)

    def _upsert(self, part: str, rows: list[dict[str, Any]], done: Callable[[int], Any] | None = None) -> None:
        self._write_rows(self.client.upsert, part, rows, done)

    def _write_rows(
        self, write: Callable[..., Any], part: str, rows: list[dict[str, Any]], done: Callable[[int], Any] | None
    ) -> None:
        """`write` (insert or upsert) in batches; `done(rows so far)` after each."""
        with self._errors():
            for at in range(0, len(rows), _INSERT_BATCH):
                write(self._name(part), rows[at : at + _INSERT_BATCH])
                if done:
                    done(min(at + _INSERT_BATCH, len(rows)))

    # ---- collections ----
    def _ensure_collections(self, dim: int) -> bool:
        """Create what is missing; True when the vectors have another size and a
        rebuild must make the collections anew (`_recreate`, under the lease)."""
        with self._errors():
            chunks = self._name("chunks")
            if self.client.has_collection(chunks):
                fields = self.client.describe_collection(chunks)["fields"]
                have = next(int(f["params"]["dim"]) for f in fields if f["name"] == "vector")
                if have != dim and not self._rebuild:
                    raise InputError(
                        f"{self._where()} holds {have}-dimensional vectors, not {dim}: "
                        "re-run `policyqa ingest --rebuild PATH` to build it with the new model"
                    )
                self._ensure_bookkeeping()
                return have != dim
            self._create_chunks(dim)
            self._ensure_bookkeeping()
            return False

    def _recreate(self, dim: int, state: _State) -> _State:
        """Drop every collection and make them anew for `dim`-dimensional vectors.
        Version and key numbers, and this write's lease, carry on: no reader
        mistakes the new index for the old one, no cached row is read for a
        reused key, and no other writer starts meanwhile."""
        carried = _State(
            version=state.version, next_key=state.next_key, pending=state.pending, writer=state.writer,
            lease=state.lease,
        )  # fmt: skip
        with self._errors():
            for part in PARTS:
                self.client.drop_collection(self._name(part))
        self._view, self._cache = None, ChunkCache()
        self._create_chunks(dim)
        self._ensure_bookkeeping()
        self._upsert("state", [carried.row()])
        return carried

    def _create_chunks(self, dim: int) -> None:
        from pymilvus import DataType, MilvusClient

        client = self.client
        chunks = self._name("chunks")
        with self._errors():
            schema = MilvusClient.create_schema(auto_id=False)
            schema.add_field("key", DataType.INT64, is_primary=True)
            schema.add_field("doc_id", DataType.VARCHAR, max_length=_ID_BYTES)
            schema.add_field("born", DataType.INT64)
            schema.add_field("chunk_id", DataType.VARCHAR, max_length=_ID_BYTES + 16)
            schema.add_field("text", DataType.VARCHAR, max_length=_VARCHAR)
            schema.add_field("start", DataType.INT64)
            schema.add_field("end", DataType.INT64)
            schema.add_field("source", DataType.VARCHAR, max_length=_VARCHAR)
            schema.add_field("metadata", DataType.JSON)
            schema.add_field("tokens", DataType.JSON)
            schema.add_field("length", DataType.INT64)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            index = client.prepare_index_params()
            if self.dense_index_type == "HNSW":
                index.add_index("vector", index_type="HNSW", metric_type="IP", params={"M": 16, "efConstruction": 200})
            else:
                index.add_index("vector", index_type="FLAT", metric_type="IP")
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
            client.create_collection(chunks, schema=schema, index_params=index, consistency_level="Strong")

    def _ensure_bookkeeping(self) -> None:
        from pymilvus import DataType, MilvusClient

        def varchar(length: int) -> dict[str, Any]:
            return {"datatype": DataType.VARCHAR, "max_length": length}

        int64 = {"datatype": DataType.INT64}
        layouts: dict[str, dict[str, dict[str, Any]]] = {
            "docs": {"id": varchar(_ID_BYTES + 24), "doc_id": varchar(_ID_BYTES), "born": int64, "died": int64,
                     "record": varchar(_VARCHAR)},
            "texts": {"id": varchar(_ID_BYTES + 48), "doc_id": varchar(_ID_BYTES), "born": int64, "part": int64,
                      "text": varchar(_VARCHAR)},
            "terms": {"term": varchar(MAX_TERM_BYTES), "tid": int64, "df_a": int64, "ver_a": int64,
                      "df_b": int64, "ver_b": int64},
            "state": {"id": varchar(16), "version": int64, "next_key": int64, "next_term": int64,
                      "chunks": int64, "total_len": int64, "pending": int64, "writer": varchar(64),
                      "lease_ms": int64, "manifest": varchar(_VARCHAR)},
        }  # fmt: skip
        for part, fields in layouts.items():
            name = self._name(part)
            if self.client.has_collection(name):
                continue
            schema = MilvusClient.create_schema(auto_id=False)
            for i, (field_name, spec) in enumerate(fields.items()):
                schema.add_field(field_name, is_primary=i == 0, **spec)
            schema.add_field("_v", DataType.FLOAT_VECTOR, dim=2)
            index = self.client.prepare_index_params()
            index.add_index("_v", index_type="FLAT", metric_type="L2")
            self.client.create_collection(name, schema=schema, index_params=index, consistency_level="Strong")


def _by_version(pairs: Iterable[tuple[str, int]]) -> Iterator[str]:
    """Expressions selecting the rows of these (doc_id, born) pairs, 500 ids each
    (one document may come in several versions)."""
    by_born: dict[int, list[str]] = {}
    for doc_id, born in pairs:
        by_born.setdefault(born, []).append(doc_id)
    for born, ids in by_born.items():
        for at in range(0, len(ids), 500):
            yield f"born == {born} and doc_id in {literal(ids[at : at + 500])}"


class _Terms:
    """The vocabulary's rows: each term's sparse dimension and its document
    frequency in two (df, version) slots. Version G reads the slot of the
    highest version <= G; a write marks its slot with its own version and
    writes into the slot that version G does not read."""

    FIELDS = ("term", "tid", "df_a", "ver_a", "df_b", "ver_b")

    def __init__(self, rows: dict[str, tuple[int, int, int, int, int]], version: int) -> None:
        self.rows = rows  # term -> (tid, df_a, ver_a, df_b, ver_b)
        self.version = version

    @classmethod
    def load(cls, rows: Iterable[Mapping[str, Any]], state: _State) -> _Terms:
        kept = {}
        for r in rows:
            tid = int(r["tid"])
            if tid < state.next_term:  # a term that only a write never committed had added is none
                kept[r["term"]] = (tid, int(r["df_a"]), int(r["ver_a"]), int(r["df_b"]), int(r["ver_b"]))
        return cls(kept, state.version)

    def df(self, term: str) -> int:
        entry = self.rows.get(term)
        return 0 if entry is None else _read_slot(entry, self.version)[0]

    def vocabulary(self) -> MilvusVocabulary:
        live = {t: (e[0], _read_slot(e, self.version)[0]) for t, e in self.rows.items()}
        return MilvusVocabulary({t: v for t, v in live.items() if v[1] > 0})

    def df_array(self, size: int) -> np.ndarray:
        df = np.zeros(size, dtype=np.int64)
        for entry in self.rows.values():
            df[entry[0]] = _read_slot(entry, self.version)[0]
        return df


def _read_slot(entry: tuple[int, int, int, int, int], version: int) -> tuple[int, str]:
    """(df, slot) of the slot version `version` reads: its highest version <= `version`."""
    _, df_a, ver_a, df_b, ver_b = entry
    a_ok, b_ok = ver_a <= version, ver_b <= version
    if a_ok and (not b_ok or ver_a >= ver_b):
        return df_a, "a"
    if b_ok:
        return df_b, "b"
    return 0, ""


class _Write:
    """The bookkeeping of one write: new term ids, changed frequencies, counters, rows."""

    def __init__(self, state: _State, terms: _Terms, version: int) -> None:
        self.state = replace(state)
        self.terms = terms
        self.version = version
        self._new_tids: dict[str, int] = {}
        self._df: dict[str, int] = {}  # changed terms: their frequency after this write

    def _current(self, term: str) -> int:
        return self._df.get(term, self.terms.df(term))

    def forget(self, tokens: Sequence[str], length: int) -> None:
        for term in set(tokens):
            self._df[term] = self._current(term) - 1
        self.state.chunks -= 1
        self.state.total_len -= length

    def chunk_rows(self, add: Sequence[PreparedDocument]) -> list[dict[str, Any]]:
        """The rows of every added chunk, each checked against Milvus's limits."""
        kept = [_kept_tokens(p) for p in add]
        for tokens in kept:
            self.state.chunks += len(tokens)
            self.state.total_len += sum(len(t) for t in tokens)
        avgdl = self.state.total_len / self.state.chunks if self.state.chunks else 1.0
        rows = []
        for p, doc_tokens in zip(add, kept, strict=True):
            doc = p.document
            vectors = np.asarray(p.vectors, dtype=np.float32).reshape(len(p.chunks), -1) if p.chunks else []
            for chunk, vector, tokens in zip(p.chunks, vectors, doc_tokens, strict=True):
                counts = Counter(tokens)
                norm = K1 * (1 - B + B * len(tokens) / avgdl)
                sparse = {self._term_id(t): tf * (K1 + 1) / (tf + norm) for t, tf in counts.items()}
                rows.append({
                    "key": self.state.next_key, "doc_id": doc.doc_id, "born": self.version,
                    "chunk_id": chunk.chunk_id, "text": chunk.text, "start": chunk.start, "end": chunk.end,
                    "source": doc.source, "metadata": doc.metadata, "tokens": tokens, "length": len(tokens),
                    "vector": vector.tolist(), "sparse": sparse or {0: 0.0},
                })  # fmt: skip
                self.state.next_key += 1
        return rows

    def _term_id(self, term: str) -> int:
        entry = self.terms.rows.get(term)
        tid = entry[0] if entry else self._new_tids.get(term)
        if tid is None:
            tid = self._new_tids[term] = self.state.next_term
            self.state.next_term += 1
        self._df[term] = self._current(term) + 1
        return tid

    def term_rows(self) -> list[dict[str, Any]]:
        rows = []
        for term, df in sorted(self._df.items()):
            entry = self.terms.rows.get(term)
            if entry is None:  # new: its first slot
                rows.append(_term_row(term, self._new_tids[term], (df, self.version), (0, 0)))
                continue
            tid, df_a, ver_a, df_b, ver_b = entry
            if _read_slot(entry, self.terms.version)[1] == "a":  # readers of the live version read a
                rows.append(_term_row(term, tid, (df_a, ver_a), (df, self.version)))
            else:
                rows.append(_term_row(term, tid, (df, self.version), (df_b, ver_b)))
        return rows

    def vocabulary_size(self) -> int:
        unchanged = sum(1 for t in self.terms.rows if t not in self._df and self.terms.df(t) > 0)
        return unchanged + sum(1 for df in self._df.values() if df > 0)

    def committed(self) -> _State:
        return replace(self.state, version=self.version, pending=0, writer="", lease=0.0)


def _term_row(term: str, tid: int, a: tuple[int, int], b: tuple[int, int]) -> dict[str, Any]:
    return {"term": term, "tid": tid, "df_a": a[0], "ver_a": a[1], "df_b": b[0], "ver_b": b[1], "_v": _DUMMY}


def _kept_tokens(p: PreparedDocument) -> list[list[str]]:
    """Each chunk's tokens that the lexical side keeps (none over MAX_TERM_BYTES)."""
    return [[t for t in tokens if len(t.encode("utf-8")) <= MAX_TERM_BYTES] for tokens in p.tokens]


class _Keeper:
    """Keeps a write's lease: renews it every quarter of its length, from the
    loops of the write; `check` before the commit."""

    def __init__(self, backend: MilvusBackend, state: _State) -> None:
        self._backend, self._state, self._renewed = backend, state, time.time()

    def __call__(self) -> None:
        if time.time() - self._renewed > LEASE_S / 4:
            self._backend.renew(self._state)
            self._renewed = time.time()

    def step(self, _done: int) -> None:
        self()

    def each(self, rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            self()
            yield row

    def check(self) -> None:
        if not self._backend.holds_lease(self._state):
            raise StorageBusyError(f"{self._backend._where()}: this write lost its lease before its commit")


def _check_sizes(p: PreparedDocument, tokens: Sequence[Sequence[str]]) -> None:
    doc = p.document
    rows = len(np.asarray(p.vectors).reshape(len(p.chunks), -1)) if p.chunks else 0
    if len(p.tokens) != len(p.chunks) or rows != len(p.chunks):
        raise InputError(f"document {doc.doc_id}: give one vector and one token list per chunk")
    if len(doc.doc_id.encode("utf-8")) > _ID_BYTES:
        raise InputError(f"document id {doc.doc_id[:40]!r}... is over {_ID_BYTES} bytes, more than Milvus keeps")
    if len(doc.source.encode("utf-8")) > _VARCHAR:
        raise InputError(f"the source name of {doc.doc_id} is over {_VARCHAR:,} bytes: shorten it")
    for chunk, chunk_tokens in zip(p.chunks, tokens, strict=True):
        if len(chunk.text.encode("utf-8")) > _VARCHAR or len(json.dumps(chunk_tokens).encode("utf-8")) > _VARCHAR:
            raise InputError(
                f"a chunk of {doc.source} is over {_VARCHAR:,} bytes, more than a Milvus text field holds: "
                "use a smaller --chunk-size"
            )


def _record(p: PreparedDocument) -> DocRecord:
    doc = p.document
    return DocRecord(
        doc_id=doc.doc_id, title=doc.title, source=doc.source, fingerprint=doc.fingerprint,
        sections=tuple(doc.sections), metadata=dict(doc.metadata), byte_length=len(doc.text.encode("utf-8")),
        n_chunks=len(p.chunks),
    )  # fmt: skip


def _record_json(record: DocRecord) -> str:
    return json.dumps(record.to_json(), ensure_ascii=False)


def _doc_row_of(record: DocRecord, born: int, died: int) -> dict[str, Any]:
    text = _record_json(record)
    inline = text if len(text.encode("utf-8")) <= _VARCHAR else ""  # else in `texts`, parts < 0
    return {"id": f"{born}:{record.doc_id}", "doc_id": record.doc_id, "born": born, "died": died,
            "record": inline, "_v": _DUMMY}  # fmt: skip


def _text_rows(p: PreparedDocument, born: int) -> list[dict[str, Any]]:
    """The document's text in parts 0, 1, ...; a record too long for its row in parts -1, -2, ..."""
    doc_id = p.document.doc_id
    pieces = list(enumerate(_split_bytes(p.document.text, _TEXT_PART)))
    record = _record_json(_record(p))
    if len(record.encode("utf-8")) > _VARCHAR:
        pieces += [(-(i + 1), piece) for i, piece in enumerate(_split_bytes(record, _TEXT_PART))]
    return [
        {"id": f"{born}:{doc_id}:{n}", "doc_id": doc_id, "born": born, "part": n, "text": piece, "_v": _DUMMY}
        for n, piece in pieces
    ]


def _split_bytes(text: str, size: int) -> list[str]:
    """`text` in pieces of at most `size` UTF-8 bytes, cut between characters."""
    parts, current, used = [], [], 0
    for ch in text:
        n = len(ch.encode("utf-8"))
        if used + n > size:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += n
    if current or not parts:
        parts.append("".join(current))
    return parts


class _MilvusErrors:
    """Milvus's exceptions as a one-line StorageUnavailableError (no traceback to the user)."""

    def __init__(self, uri: str, hint: str = "") -> None:
        self._uri = uri
        self._hint = hint

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, PolicyQAError):
            return False
        from pymilvus.exceptions import MilvusException

        if isinstance(exc, MilvusException | ConnectionError | TimeoutError):
            message = str(getattr(exc, "message", "") or exc).splitlines()[0]
            raise StorageUnavailableError(f"Milvus at {self._uri}: {message}{self._hint}") from exc
        return False
