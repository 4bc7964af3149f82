import re
from pathlib import Path

import pytest

from policyqa.index.chunking import ChunkingConfig, chunk_document, sentence_spans
from policyqa.index.errors import InputError
from policyqa.index.types import Document, Section

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def doc(text, sections=()):
    return Document("d1", "t", "s.txt", text, "fp", tuple(sections))


def test_sentence_boundaries_keep_decimals_and_titles_whole():
    text = "增长6.9%。税收增长18.5%！《重庆市数字经济发展规划（2021.1-2025.3）》提出要求。Done. Next? 最后"
    pieces = [text[s:e] for s, e in sentence_spans(text)]
    assert pieces == [
        "增长6.9%。",
        "税收增长18.5%！",
        "《重庆市数字经济发展规划（2021.1-2025.3）》提出要求。",
        "Done.",
        "Next?",
        "最后",
    ]


def test_spans_equal_text_and_respect_size():
    text = "".join(f"第{i}句话说明到2025年比重达{i}.5%。" for i in range(200))
    chunks = chunk_document(doc(text), ChunkingConfig(size=120, overlap_sentences=1))
    assert len(chunks) > 10
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 120
    # one sentence of overlap: each chunk starts with the previous chunk's last sentence
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end and a.text.endswith(text[b.start : a.end])


def test_long_sentence_is_cut_outside_numbers():
    text = "，".join(["数字经济增加值占GDP比重达35.25%"] * 40) + "。"
    chunks = chunk_document(doc(text), ChunkingConfig(size=60, overlap_sentences=0))
    assert len(chunks) > 5
    inside = {i for m in re.finditer(r"\d+(?:\.\d+)?%", text) for i in range(m.start() + 1, m.end())}
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.start not in inside and c.end not in inside, c.text


def test_new_section_starts_a_new_chunk_and_heading_joins_its_body():
    text = "第一段内容。\n产业绿色转型\n第二段内容很长。"
    heading_at = text.index("产业")
    chunks = chunk_document(doc(text, [Section(0, "总"), Section(heading_at, "产业绿色转型")]))
    assert [c.text for c in chunks] == ["第一段内容。", "产业绿色转型\n第二段内容很长。"]
    assert [c.section for c in chunks] == ["总", "产业绿色转型"]


def test_chunk_ids_are_stable_and_ordered():
    text = "甲。" * 400
    a = chunk_document(doc(text), ChunkingConfig(size=50))
    b = chunk_document(doc(text), ChunkingConfig(size=50))
    assert [c.chunk_id for c in a] == [c.chunk_id for c in b] == [f"d1-{i:04d}" for i in range(len(a))]


@pytest.mark.parametrize("text", ["", "   \n  ", "。。。", "无标点的一行"])
def test_degenerate_texts(text):
    chunks = chunk_document(doc(text))
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text.strip()


def test_bad_config():
    with pytest.raises(InputError):
        ChunkingConfig(size=5)


def test_seed_chunks_cover_every_figure():
    # every number in a seed document appears inside at least one chunk, uncut
    from policyqa.index.ingest import read_document

    for path in sorted(SEEDS.glob("*.txt")):
        d = read_document(path)
        chunks = chunk_document(d)
        for c in chunks:
            assert d.text[c.start : c.end] == c.text
        joined = "\n".join(c.text for c in chunks)
        for m in re.finditer(r"\d+(?:\.\d+)?%?", d.text):
            assert m.group() in joined
