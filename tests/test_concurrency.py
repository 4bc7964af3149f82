"""Many concurrent /search and /ask requests over real HTTP (uvicorn on a free
loopback port) while documents are uploaded, replaced and deleted.

Every response must be a 200, and consistent with exactly one index version:
the version it names is one the writer created, every hit, citation and passage
belongs to a document that existed in that version, with that version's text
(a replaced document's passages carry its version marker), and a deleted
document never appears in a response for a later version. Each client also
sees versions in order, never an older one after a newer one.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.settings import Settings

from .support import Server, open_engine

pytestmark = pytest.mark.slow

QUESTIONS = [
    "星河湾数字港计划建成多大算力规模的智算中心？",
    "哪个园区提出数字经济增加值占GDP比重达35%？",
    "青禾县高标准农田建设目标是多少万亩？",
    "璧山区税收增长多少？",
]


def document(name: str, marker: str) -> tuple[str, bytes]:
    """A one-passage document whose text carries `marker`, so a passage shows which upload it came from."""
    topic = {"xinghe": "星河湾数字港计划建成算力规模达987PFlops的智算中心", "qinghe": "青禾县建成高标准农田12万亩"}
    return name, f"{topic[name.split('-')[0]]}，版本标记{marker}。".encode()


# The writer's script: (action, file name, marker).
WRITES = [
    ("upload", "xinghe-a.txt", "甲"),
    ("upload", "qinghe-b.txt", "乙"),
    ("upload", "xinghe-a.txt", "丙"),  # replaces the first upload: same id, new text
    ("delete", "qinghe-b.txt", ""),
    ("upload", "qinghe-c.txt", "丁"),
    ("delete", "xinghe-a.txt", ""),
    ("upload", "qinghe-b.txt", "戊"),  # back after its deletion, under its old id
    ("delete", "qinghe-c.txt", ""),
]


@dataclass
class Versions:
    """What the writer made: for each index version, its documents and the marker of each upload."""

    documents: dict[str, set[str]] = field(default_factory=dict)
    markers: dict[str, dict[str, str]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)


@pytest.fixture()
def server(seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> Iterator[Server]:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    settings = Settings(index_dir=index_dir, seeds_dir=tmp_path / "no-seeds")
    with Server(create_app(settings, engine=open_engine(index_dir, usem))) as s:
        yield s


def write_all(url: str, versions: Versions, errors: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        ids: dict[str, str] = {}
        for action, name, marker in WRITES:
            previous = versions.order[-1]
            documents = set(versions.documents[previous])
            markers = dict(versions.markers[previous])
            if action == "upload":
                r = client.post("/documents", files={"file": document(name, marker)})
                if r.status_code != 201:
                    errors.append(f"upload {name}: {r.status_code} {r.text[:200]}")
                    return
                ids[name] = r.json()["document"]["doc_id"]
                documents.add(ids[name])
                markers[ids[name]] = marker
            else:
                r = client.delete(f"/documents/{ids[name]}")
                if r.status_code != 200:
                    errors.append(f"delete {name}: {r.status_code} {r.text[:200]}")
                    return
                documents.discard(ids[name])
                markers.pop(ids[name], None)
            version = r.json()["index_version"]
            versions.documents[version], versions.markers[version] = documents, markers
            versions.order.append(version)


def read_until(url: str, stop: threading.Event, seen: list[tuple[str, int, Any]], n: int) -> None:
    """Alternate /search and /ask until `stop`, keeping (path, status, body) of every response."""
    with httpx.Client(base_url=url, timeout=120) as client:
        i = n
        while not stop.is_set():
            question = QUESTIONS[i % len(QUESTIONS)]
            if i % 2:
                r = client.post("/search", json={"query": question, "k": 10})
            else:
                r = client.post("/ask", json={"question": question, "k": 5})
            seen.append((r.url.path, r.status_code, r.json() if r.status_code < 500 else r.text))
            i += 1


def doc_ids(path: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """(doc_id, text) of everything a response shows: hits, or citations and passages."""
    if path == "/search":
        return [(h["doc_id"], h["text"]) for h in body["hits"]]
    return [(c["doc_id"], c["quote"]) for c in body["citations"]] + [(p["doc_id"], p["text"]) for p in body["passages"]]


def test_reads_during_writes_see_one_whole_version(server: Server) -> None:
    versions = Versions()
    with httpx.Client(base_url=server.url) as client:
        base = client.get("/health").json()["index_version"]
        versions.documents[base] = {d["doc_id"] for d in client.get("/documents").json()["documents"]}
    versions.markers[base] = {}
    versions.order.append(base)

    stop = threading.Event()
    errors: list[str] = []
    responses: list[list[tuple[str, int, Any]]] = [[] for _ in range(6)]
    readers = [threading.Thread(target=read_until, args=(server.url, stop, responses[n], n)) for n in range(6)]
    for t in readers:
        t.start()
    try:
        write_all(server.url, versions, errors)
        time.sleep(0.5)  # a few reads after the last write
    finally:
        stop.set()
        for t in readers:
            t.join(120)
    assert errors == []
    assert len(versions.order) == len(WRITES) + 1 and len(set(versions.order)) == len(versions.order)

    total = sum(len(r) for r in responses)
    assert total >= 30, f"only {total} reads happened during the writes"
    rank = {v: i for i, v in enumerate(versions.order)}
    seen_versions = set()
    for client_responses in responses:
        last = -1
        for path, status, body in client_responses:
            assert status == 200, (path, status, body)
            version = body["index_version"]
            assert version in rank, f"{path} answered from unknown version {version}"
            assert rank[version] >= last, f"{path} went back from version {versions.order[last]} to {version}"
            last = rank[version]
            seen_versions.add(version)
            for doc_id, text in doc_ids(path, body):
                assert doc_id in versions.documents[version], f"{path}: {doc_id} is not in version {version}"
                marker = versions.markers[version].get(doc_id)
                if marker and path == "/search":
                    assert f"版本标记{marker}" in text, f"{doc_id} in {version} shows {text!r}"
    # the reads really did straddle the writes, and saw the uploads
    assert len(seen_versions) >= 3, seen_versions
    uploaded = {d for v in versions.order for d in versions.markers[v]}
    shown = sum(1 for rs in responses for path, _, body in rs for d, _ in doc_ids(path, body) if d in uploaded)
    print(f"{total} reads over {len(seen_versions)} versions; {shown} hits of uploaded documents")
    assert shown > 0


# ---- writes are not blocked behind embedding (issue 11, item 4) ----


class GatedEmbedder:
    """The real embedder, except that a batch of `big` texts or more waits at a
    gate: an upload held mid-embedding for as long as the test needs."""

    def __init__(self, inner: UsemEmbedder, big: int) -> None:
        self.inner, self.big = inner, big
        self.inside = threading.Semaphore(0)
        self.gate = threading.Event()

    def encode_documents(self, texts: Any, **kwargs: Any) -> Any:
        if len(texts) >= self.big:
            self.inside.release()
            assert self.gate.wait(120), "the test never opened the gate"
        return self.inner.encode_documents(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture()
def gated(seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> Iterator[tuple[Server, GatedEmbedder]]:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    embedder = GatedEmbedder(usem, big=100)
    settings = Settings(index_dir=index_dir, seeds_dir=tmp_path / "no-seeds")
    with Server(create_app(settings, engine=open_engine(index_dir, embedder))) as s:  # type: ignore[arg-type]
        yield s, embedder
        embedder.gate.set()


def big_text(marker: str) -> bytes:
    """About 150 chunks of distinct sentences."""
    lines = [f"第{i}条：{marker}示范区到2025年建成第{i}个数字化车间，投资{i * 3}亿元。" for i in range(1500)]
    return "\n".join(lines).encode()


def post_in_background(url: str, name: str, data: bytes, results: list[httpx.Response]) -> threading.Thread:
    def post() -> None:
        with httpx.Client(base_url=url, timeout=300) as client:
            results.append(client.post("/documents", files={"file": (name, data)}))

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def test_uploads_and_deletes_go_on_while_a_big_upload_is_embedded(gated: tuple[Server, GatedEmbedder]) -> None:
    server, embedder = gated
    results: list[httpx.Response] = []
    big = post_in_background(server.url, "big.txt", big_text("甲"), results)
    assert embedder.inside.acquire(timeout=60), "the big upload never reached embedding"
    with httpx.Client(base_url=server.url) as client:
        started = time.perf_counter()
        small_file = ("small.txt", "青禾县建成高标准农田12万亩。".encode())
        small = client.post("/documents", files={"file": small_file}, timeout=5)
        assert small.status_code == 201 and time.perf_counter() - started < 5
        started = time.perf_counter()
        gone = client.delete(f"/documents/{small.json()['document']['doc_id']}", timeout=1)
        missing = client.delete("/documents/doesnotexist", timeout=1)
        assert (gone.status_code, missing.status_code) == (200, 404) and time.perf_counter() - started < 1
        embedder.gate.set()
        big.join(120)
        assert [r.status_code for r in results] == [201]
        sources = [d["source"] for d in client.get("/documents").json()["documents"]]
    assert sum(s.endswith("big.txt") for s in sources) == 1 and not any(s.endswith("small.txt") for s in sources)


def test_two_uploads_of_one_file_at_once_end_as_one_document(gated: tuple[Server, GatedEmbedder]) -> None:
    """Both are in flight at once (the second waits for the first's embedding
    slot, not for the write lock); they end as one document."""
    server, embedder = gated
    results: list[httpx.Response] = []
    threads = [post_in_background(server.url, "same.txt", big_text(m), results) for m in ("乙", "丙")]
    assert embedder.inside.acquire(timeout=60)
    time.sleep(0.5)  # the second has parsed its file and waits for the slot
    assert not results
    embedder.gate.set()
    for thread in threads:
        thread.join(120)
    assert sorted(r.status_code for r in results) == [201, 201]
    with httpx.Client(base_url=server.url) as client:
        documents = client.get("/documents").json()["documents"]
    assert [d["source"].endswith("same.txt") for d in documents].count(True) == 1
    assert len({r.json()["document"]["doc_id"] for r in results}) == 1


def test_a_second_big_upload_is_refused_fast_while_one_is_embedded(
    gated: tuple[Server, GatedEmbedder], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big uploads embed one at a time; one that cannot start in time gets a 503
    instead of holding a worker thread (a small one still goes straight on)."""
    from policyqa.service import app as service_app

    monkeypatch.setattr(service_app, "EMBED_WAIT_S", 0.5)
    server, embedder = gated
    results: list[httpx.Response] = []
    first = post_in_background(server.url, "first.txt", big_text("甲"), results)
    assert embedder.inside.acquire(timeout=60)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        second = client.post("/documents", files={"file": ("second.txt", big_text("乙"))})
        assert second.status_code == 503 and second.json()["error"]["code"] == "busy"
        small = client.post("/documents", files={"file": ("small.txt", "青禾县建成高标准农田12万亩。".encode())})
        assert small.status_code == 201
    embedder.gate.set()
    first.join(120)
    assert [r.status_code for r in results] == [201]
