"""ingest: finding files, decoding bytes, markdown, stable ids and one-line errors."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from policyqa.index.clean import clean_text
from policyqa.index.engine import Engine
from policyqa.index.errors import IngestError
from policyqa.index.ingest import (
    PARSERS,
    SUPPORTED_SUFFIXES,
    decode_bytes,
    document_from_text,
    iter_files,
    markdown_to_text,
    read_document,
    source_key,
)
from policyqa.index.types import Section, stable_id

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))


def one_line_naming(exc: pytest.ExceptionInfo[IngestError], name: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert name in message


# ---- registry ----


def test_supported_suffixes_come_from_the_parser_registry() -> None:
    assert SUPPORTED_SUFFIXES == (".txt", ".md", ".pdf", ".docx", ".html", ".htm", ".png", ".jpg", ".jpeg")
    assert tuple(PARSERS) == SUPPORTED_SUFFIXES


# ---- seeds, ids and sources ----


def test_seed_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    path = Path("seeds") / SEED_FILES[2].name
    doc = read_document(path)
    data = path.read_bytes()
    assert doc.source == f"seeds/{SEED_FILES[2].name}"
    assert doc.doc_id == stable_id(doc.source)
    assert doc.fingerprint == hashlib.sha256(data).hexdigest()
    cleaned = clean_text(data.decode("utf-8"))
    assert (doc.text, doc.sections, doc.title) == (cleaned.text, cleaned.sections, cleaned.title)
    assert doc.title == "“十四五”开局稳中有进 地区生产总值同比增长15.3%"
    assert doc.metadata == {}


def test_same_file_same_id_however_it_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    name = SEED_FILES[0].name
    ids = {read_document(p).doc_id for p in (Path("seeds") / name, Path("./seeds") / name, SEEDS / name)}
    assert ids == {stable_id(f"seeds/{name}")}


def test_changed_file_keeps_its_id_and_gets_a_new_fingerprint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = Path("report.txt")
    path.write_text("第一段，原来的内容。", encoding="utf-8")
    before = read_document(path)
    path.write_text("第一段，修改后的内容。", encoding="utf-8")
    after = read_document(path)
    assert before.doc_id == after.doc_id == stable_id("report.txt")
    assert before.fingerprint != after.fingerprint
    assert after.text == "第一段，修改后的内容。"


def test_sources_outside_the_working_directory_start_from_the_path_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never an absolute path: a server would show its folders in every response."""
    (tmp_path / "inside").mkdir()
    monkeypatch.chdir(tmp_path / "inside")
    path = tmp_path / "outside.txt"
    path.write_text("内容。", encoding="utf-8")
    assert source_key(path) == read_document(path).source == "outside.txt"
    (tmp_path / "reports" / "2021").mkdir(parents=True)
    nested = tmp_path / "reports" / "2021" / "plan.txt"
    nested.write_text("内容。", encoding="utf-8")
    assert source_key(nested, tmp_path / "reports") == "reports/2021/plan.txt"
    assert source_key(tmp_path / "upload:x.txt") == "./upload:x.txt"  # never taken for an API upload


def test_two_folders_of_one_name_outside_the_working_directory_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, usem: Any
) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    for side in ("a", "b"):
        (tmp_path / side / "reports").mkdir(parents=True)
        (tmp_path / side / "reports" / "x.txt").write_text(f"{side}的内容。", encoding="utf-8")
    engine = Engine.open(tmp_path / "index", embedder=usem)
    with pytest.raises(IngestError, match="would both be named 'reports/x.txt'"):
        engine.ingest([tmp_path / "a" / "reports", tmp_path / "b" / "reports"])
    assert not engine.exists()  # nothing written


def test_explicit_source_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("内容。", encoding="utf-8")
    meta = {"district": "南岸"}
    doc = read_document(path, source="uploads/a.txt", metadata=meta)
    assert (doc.source, doc.doc_id, doc.metadata) == ("uploads/a.txt", stable_id("uploads/a.txt"), meta)
    assert doc.metadata is not meta  # copied


def test_title_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "璧山报告.txt"
    path.write_text("璧山区地区生产总值同比增长6.9%，税收增长18.5%。", encoding="utf-8")
    assert read_document(path).title == "璧山报告"


# ---- decoding ----


def test_gbk_file_decodes_like_its_utf8_twin(tmp_path: Path) -> None:
    text = SEED_FILES[1].read_text(encoding="utf-8")
    (tmp_path / "gbk.txt").write_bytes(text.encode("gbk"))
    (tmp_path / "utf8.txt").write_bytes(text.encode("utf-8"))
    assert decode_bytes(text.encode("gbk"), "gbk.txt") == text
    gbk, utf8 = read_document(tmp_path / "gbk.txt"), read_document(tmp_path / "utf8.txt")
    assert gbk.text == utf8.text and gbk.title == utf8.title
    assert gbk.title.endswith("广阳湾智创生态城 多个千亿级绿色产业集群呼之欲出")
    assert gbk.fingerprint != utf8.fingerprint  # the bytes differ


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32", "gb18030"])
def test_other_encodings(encoding: str) -> None:
    text = "重庆经开区：地区生产总值208.2亿元，同比增长15.3%。"
    assert decode_bytes(text.encode(encoding), "x.txt") == text


def test_latin_text_falls_through_to_charset_detection() -> None:
    # cp1252 bytes are neither UTF-8 nor GB18030 ("é" then a space is no GB18030 pair)
    text = "Café au lait . " * 4
    assert decode_bytes(text.encode("cp1252"), "x.txt").startswith("Caf")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n\t\n",
        "\u3000\u3000\n".encode(),
        b"\xef\xbb\xbf",  # a BOM and nothing else
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        bytes(range(1, 256)) * 20,  # garbage without NUL bytes
    ],
    ids=["empty", "whitespace", "full-width-space", "bom-only", "png", "garbage"],
)
def test_undecodable_or_empty_bytes_raise(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(data)
    with pytest.raises(IngestError) as exc:
        read_document(path)
    one_line_naming(exc, "bad.txt")


# ---- finding files ----


def test_iter_files_expands_folders_sorted_without_hidden_or_unsupported(tmp_path: Path) -> None:
    for rel in ["b.txt", "a.md", "sub/c.TXT", "sub/d.xlsx", ".hidden.txt", ".git/e.txt", "sub/.cache/f.md", "g"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("内容。", encoding="utf-8")
    files = iter_files([tmp_path, tmp_path / "b.txt"])  # b.txt named twice: listed once
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a.md", "b.txt", "sub/c.TXT"]


def test_iter_files_on_the_seed_folder() -> None:
    assert iter_files([SEEDS]) == SEED_FILES


@pytest.mark.parametrize("name", ["missing.txt", "missing-folder"])
def test_missing_path_raises(tmp_path: Path, name: str) -> None:
    with pytest.raises(IngestError) as exc:
        iter_files([tmp_path / name])
    one_line_naming(exc, name)


@pytest.mark.parametrize("name", ["report.xlsx", "README"])
def test_unsupported_single_file_raises(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"%PDF-1.7")
    for call in (lambda: iter_files([tmp_path / name]), lambda: read_document(tmp_path / name)):
        with pytest.raises(IngestError, match=r"use one of \.txt, \.md") as exc:
            call()
        one_line_naming(exc, name)


def test_read_document_on_missing_file_or_folder(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no such file") as exc:
        read_document(tmp_path / "gone.txt")
    one_line_naming(exc, "gone.txt")
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(IngestError, match="is a folder") as exc:
        read_document(tmp_path / "dir.txt")
    one_line_naming(exc, "dir.txt")


# ---- markdown ----

MARKDOWN = """---
author: 王彩艳
---
# 重庆经开区绿色发展

这是一段**重点**和*强调*的文字，包含[链接](https://example.com)与`代码`，
换行后的第二行。2*3*4 与 snake_case 不变。

## 一、总体要求

- 推进 R&D 投入达到 4%
- 第二项 ![示意图](a.png)

1. 地区生产总值208.2亿元

| 指标 | 数值 |
|---|---:|
| GDP | 208.2 |

---

> 引用的话
"""


def test_markdown(tmp_path: Path) -> None:
    path = tmp_path / "plan.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    doc = read_document(path)
    assert doc.text.split("\n") == [
        "重庆经开区绿色发展",
        "这是一段重点和强调的文字，包含链接与代码，换行后的第二行。2*3*4与snake_case不变。",
        "一、总体要求",
        "推进R&D投入达到4%",
        "第二项 示意图",  # a short "A B" line keeps its space, like a newspaper headline
        "1.地区生产总值208.2亿元",
        "指标 数值",
        "GDP 208.2",
        "引用的话",
    ]
    # only the # headings are sections, even though "指标 数值" looks like one
    second = doc.text.index("一、总体要求")
    assert doc.sections == (Section(0, "重庆经开区绿色发展"), Section(second, "一、总体要求"))
    assert doc.title == "重庆经开区绿色发展"


@pytest.mark.parametrize(
    "markdown,text,headings",
    [
        ("标题\n====\n\n正文。", "标题\n\n\n正文。", ("标题",)),  # setext heading
        ("```\nx = 1\n\ny = 2\n```", "x = 1\n\n\ny = 2", ()),  # code keeps its lines
        ("见[文件][1]。\n\n[1]: http://example.com", "见文件。", ()),  # reference link and its definition
        ("价格\\*不变\\*，<br/>增长5%", "价格*不变*，增长5%", ()),  # escapes and an HTML tag
        ("# \n\n正文", "正文", ()),  # an empty heading is dropped
    ],
    ids=["setext", "fence", "reference", "escapes", "empty-heading"],
)
def test_markdown_to_text(markdown: str, text: str, headings: tuple[str, ...]) -> None:
    parsed = markdown_to_text(markdown)
    assert (parsed.text, parsed.headings) == (text, headings)


def test_markdown_heading_that_looks_like_a_sentence_is_still_a_section(tmp_path: Path) -> None:
    path = tmp_path / "x.md"
    path.write_text("## 目前，我们的计划是这样的。\n\n正文第一段，没有句号\n\n正文第二段。\n", encoding="utf-8")
    doc = read_document(path)
    assert doc.text == "目前，我们的计划是这样的。\n正文第一段，没有句号\n正文第二段。"
    assert doc.sections == (Section(0, "目前，我们的计划是这样的。"),)


def test_markdown_without_headings_uses_the_text_heuristics(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("产业绿色转型\n\n璧山区推动传统产业转型升级。\n", encoding="utf-8")
    doc = read_document(path)
    assert doc.sections == (Section(0, "产业绿色转型"),)
    assert doc.title == "产业绿色转型"


def test_markdown_that_is_only_markup_raises(tmp_path: Path) -> None:
    path = tmp_path / "rules.md"
    path.write_text("---\n\n***\n", encoding="utf-8")
    with pytest.raises(IngestError, match="no text") as exc:
        read_document(path)
    one_line_naming(exc, "rules.md")


# ---- text that arrives decoded ----


def test_document_from_text() -> None:
    doc = document_from_text("重庆经开区 上半年\n\n地区生产 总 值 较 2019 年 同 期 增 长 19.3%。", "up/a.txt", "f1")
    assert doc.doc_id == stable_id("up/a.txt")
    assert doc.text == "重庆经开区 上半年\n地区生产总值较2019年同期增长19.3%。"
    assert doc.title == "重庆经开区 上半年"
    assert doc.fingerprint == "f1"


def test_document_from_text_markdown_and_title_override() -> None:
    doc = document_from_text("# 标题\n\n**正文**。", "up/b.md", "f2", metadata={"k": 1}, title="给定标题")
    assert (doc.text, doc.title, doc.metadata) == ("标题\n正文。", "给定标题", {"k": 1})
    assert doc.sections == (Section(0, "标题"),)


def test_document_from_text_falls_back_to_the_source_stem() -> None:
    assert document_from_text("一句完整的话，没有标题。", "up/年度报告.txt", "f").title == "年度报告"


@pytest.mark.parametrize("raw", ["", "  \n\u3000 ", "\ufeff\u200b"])
def test_document_from_empty_text_raises(raw: str) -> None:
    with pytest.raises(IngestError) as exc:
        document_from_text(raw, "up/empty.txt", "f")
    one_line_naming(exc, "up/empty.txt")
