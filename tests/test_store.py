import json

import pytest

from policyqa.index.chunkstore import ChunkStore
from policyqa.index.errors import IndexCorruptError, IndexNotFoundError, IndexVersionError
from policyqa.index.store import IndexDirectory
from policyqa.index.types import Chunk, Document, Section


def make_doc(doc_id, text, sections=()):
    source, fingerprint = f"src/{doc_id}.txt", f"fp-{doc_id}"
    return Document(doc_id, f"title {doc_id}", source, text, fingerprint, tuple(sections), {"year": 2023})


def chunks_for(doc, size=5):
    out = []
    for i, start in enumerate(range(0, len(doc.text), size)):
        end = min(len(doc.text), start + size + 2)  # overlapping, like real chunks
        out.append(Chunk(doc.doc_id, f"{doc.doc_id}-{i:04d}", doc.text[start:end], start, end))
    return out


DOCS = [
    make_doc("a", "重庆经开区到2025年数字经济占比35%。", [Section(0, "总述")]),
    make_doc("b", "Bishan 璧山区 GDP 增长6.9%，税收增长18.5%。"),
    make_doc("c", "第三篇：广阳湾智创生态城。"),
]


def test_chunk_text_round_trip_multibyte(tmp_path):
    store = ChunkStore.empty().append(DOCS, [chunks_for(d) for d in DOCS])
    store.save(tmp_path / "s")
    for loaded in (store, ChunkStore.load(tmp_path / "s"), ChunkStore.load(tmp_path / "s", mmap=False)):
        assert len(loaded) == sum(len(chunks_for(d)) for d in DOCS)
        row = 0
        for d in DOCS:
            assert loaded.document_text(loaded.doc_rows[d.doc_id]) == d.text
            for c in chunks_for(d):
                got = loaded.chunk(row)
                assert got.text == c.text == d.text[got.start : got.end]
                assert got.chunk_id == c.chunk_id
                row += 1
        assert loaded.chunk(0).section == "总述"


def test_without_docs_keeps_the_rest_exact():
    store = ChunkStore.empty().append(DOCS, [chunks_for(d) for d in DOCS])
    smaller, kept = store.without_docs(["b"])
    assert [d.doc_id for d in smaller.docs] == ["a", "c"]
    assert len(kept) == len(smaller)
    for new_row, old_row in enumerate(kept.tolist()):
        assert smaller.chunk(new_row) == store.chunk(old_row)
    assert smaller.document_text(1) == DOCS[2].text


def test_truncated_blob_is_reported(tmp_path):
    store = ChunkStore.empty().append(DOCS, [chunks_for(d) for d in DOCS])
    store.save(tmp_path / "s")
    blob = tmp_path / "s" / "texts.bin"
    blob.write_bytes(blob.read_bytes()[:-3])
    with pytest.raises(IndexCorruptError, match="disagree"):
        ChunkStore.load(tmp_path / "s")


def _commit(directory, payload=b"x"):
    staging = directory.new_staging()
    (staging / "data.bin").write_bytes(payload)
    return directory.commit(staging, {"model_id": "m"})


def test_directory_commit_switch_and_prune(tmp_path):
    d = IndexDirectory(tmp_path / "idx")
    with pytest.raises(IndexNotFoundError, match="policyqa ingest"):
        d.current()
    first = _commit(d, b"one")
    second = _commit(d, b"two")
    third = _commit(d, b"three")
    d.prune(keep=2)
    name, folder = d.current()
    assert name == third and (folder / "data.bin").read_bytes() == b"three"
    assert sorted(p.name for p in d.versions.iterdir()) == [second, third]
    assert first < second < third
    manifest = d.read_manifest(folder)
    assert manifest["files"]["data.bin"]["size"] == 5


def test_leftovers_of_a_killed_writer_are_cleaned(tmp_path):
    d = IndexDirectory(tmp_path / "idx")
    live = _commit(d)
    (d.versions / ".staging-dead").mkdir()
    (d.versions / "v99999999T000000-000000000").mkdir()  # renamed but never made live
    (d.root / "CURRENT.tmp").write_text("junk")
    removed = d.clean_staging()
    assert sorted(removed) == sorted([".staging-dead", "v99999999T000000-000000000", "CURRENT.tmp"])
    assert d.current()[0] == live


def test_altered_file_and_newer_format_are_clear_errors(tmp_path):
    d = IndexDirectory(tmp_path / "idx")
    _commit(d, b"payload")
    _, folder = d.current()
    (folder / "data.bin").write_bytes(b"PAYLOAD")  # same size, different content
    with pytest.raises(IndexCorruptError, match="data.bin.*checksum"):
        d.read_manifest(folder)
    (folder / "data.bin").write_bytes(b"pay")
    with pytest.raises(IndexCorruptError, match="truncated"):
        d.read_manifest(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexVersionError, match="format version 99"):
        d.read_manifest(folder)
