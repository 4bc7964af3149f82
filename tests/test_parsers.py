"""parsers: PDF, DOCX and HTML to text, their guard limits, and the PARSERS registry."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from policyqa.index.errors import DocumentTooLargeError, IngestError, UnsupportedFormatError
from policyqa.index.ingest import PARSERS, document_from_bytes, read_document
from policyqa.index.parsers import parse_docx, parse_html, parse_pdf
from policyqa.index.types import stable_id

from .support import make_docx, make_html, make_pdf, make_scanned_pdf, make_zip_bomb

PAGE_1 = ["测试园区发展报告", "到2025年，数字经济增加值占GDP比重达35%。"]
PAGE_2 = ["第二页：新能源汽车产值年均增长42.4%。"]


def one_line_naming(exc: pytest.ExceptionInfo[IngestError], name: str) -> None:
    assert "\n" not in str(exc.value)
    assert name in str(exc.value)


# ---- PDF ----


def test_pdf_text_layer_page_by_page_with_title() -> None:
    parsed = parse_pdf(make_pdf([PAGE_1, PAGE_2], title="测试报告"), "r.pdf")
    assert parsed.title == "测试报告"
    # each page a paragraph block of its own, set apart so cleaning never joins pages
    assert parsed.text == "\n".join(PAGE_1) + "\n\n\n" + "\n".join(PAGE_2)


def test_pdf_document_keeps_every_figure() -> None:
    doc = document_from_bytes(make_pdf([PAGE_1, PAGE_2]), "uploads/r.pdf")
    assert doc.doc_id == stable_id("uploads/r.pdf")
    for figure in ("2025", "35%", "42.4%"):
        assert figure in doc.text
    assert doc.title == "测试园区发展报告"  # no metadata title: the first line


def test_pdf_without_text_layer_says_ocr_it() -> None:
    with pytest.raises(IngestError, match="no text layer.*OCR it first") as exc:
        parse_pdf(make_scanned_pdf(pages=2), "scan.pdf")
    one_line_naming(exc, "scan.pdf")


def test_pdf_page_and_character_limits() -> None:
    data = make_pdf([PAGE_1, PAGE_2])
    with pytest.raises(DocumentTooLargeError, match="2 pages, more than the limit of 1") as exc:
        parse_pdf(data, "long.pdf", max_pages=1)
    one_line_naming(exc, "long.pdf")
    with pytest.raises(DocumentTooLargeError, match="more than 20 characters"):
        parse_pdf(data, "long.pdf", max_chars=20)


@pytest.mark.parametrize("data", [b"%PDF-1.4 not really", b"", b"\x00\x01binary", make_pdf([PAGE_1])[:300]])
def test_broken_pdf_is_a_one_line_ingest_error(data: bytes) -> None:
    with pytest.raises(IngestError) as exc:
        parse_pdf(data, "broken.pdf")
    one_line_naming(exc, "broken.pdf")


def test_password_protected_pdf() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf([PAGE_1]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(IngestError, match="password-protected"):
        parse_pdf(out.getvalue(), "locked.pdf")


# ---- DOCX ----


def test_docx_paragraphs_headings_tables_in_order() -> None:
    data = make_docx(
        ["第一段。数字经济加快发展。", "第二段"],
        heading="一、总体要求",
        table=[["指标", "2025年目标"], ["数字经济占比", "35%"]],
        title="文档标题",
    )
    parsed = parse_docx(data, "plan.docx")
    assert parsed.title == "文档标题"
    assert parsed.headings == ("一、总体要求",)
    # one paragraph per block and per table row, each cell under its header (index/tables.py)
    assert parsed.text.split("\n\n\n") == [
        "一、总体要求",
        "第一段。数字经济加快发展。",
        "第二段",
        "指标：数字经济占比；2025年目标：35%",
    ]


def test_docx_heading_becomes_a_section() -> None:
    doc = document_from_bytes(make_docx(["正文第一句。"], heading="第一章 总则"), "uploads/plan.docx")
    assert [s.title for s in doc.sections] == ["第一章 总则"]
    assert doc.title == "第一章 总则"


def test_docx_zip_bomb_is_refused_before_unpacking() -> None:
    bomb = make_zip_bomb(64 * 1024 * 1024)
    assert len(bomb) < 200_000  # small on the wire, 64 MiB unpacked
    with pytest.raises(DocumentTooLargeError, match="unpacks to 67,108,8.. bytes.*zip bomb") as exc:
        parse_docx(bomb, "bomb.docx", max_uncompressed=16 * 1024 * 1024)
    one_line_naming(exc, "bomb.docx")


def test_docx_entry_and_character_limits() -> None:
    data = make_docx(["一二三四五六七八九十。"] * 5)
    with pytest.raises(DocumentTooLargeError, match="parts inside the .docx"):
        parse_docx(data, "many.docx", max_entries=3)
    with pytest.raises(DocumentTooLargeError, match="more than 30 characters"):
        parse_docx(data, "many.docx", max_chars=30)


@pytest.mark.parametrize("data", [b"not a zip", b"PK\x03\x04broken", make_zip_bomb(0)])
def test_broken_docx_is_a_one_line_ingest_error(data: bytes) -> None:
    with pytest.raises(IngestError) as exc:
        parse_docx(data, "broken.docx")
    one_line_naming(exc, "broken.docx")


def test_docx_without_text() -> None:
    with pytest.raises(IngestError, match="holds no text"):
        parse_docx(make_docx([]), "empty.docx")


# ---- HTML ----


def test_html_visible_text_blocks_headings_title() -> None:
    body = (
        "<nav>首页</nav><h1>一、总则</h1><p>第一段<b>加粗</b>文字。</p>尾注<div>甲<p>乙</p>丙<br>丁</div>"
        "<table><tr><th>年份</th><th>产值</th></tr><tr><td>2021</td><td>208.2亿元</td></tr></table>"
        "<!-- 注释不该出现 -->"
    )
    parsed = parse_html(make_html(body, title="网页标题"), "page.html")
    assert parsed.title == "网页标题"
    assert parsed.headings == ("一、总则",)
    assert parsed.text.split("\n\n\n") == [
        "首页",
        "一、总则",
        "第一段加粗文字。",
        "尾注",
        "甲",
        "乙",
        "丙",
        "丁",
        "年份：2021；产值：208.2亿元",  # a table row, each cell under its header
    ]
    assert "不该出现" not in parsed.text and "color" not in parsed.text


def test_html_declared_gbk_and_wrong_declaration() -> None:
    assert parse_html(make_html("<p>国标编码的正文。</p>", charset="gbk"), "g.html").text == "国标编码的正文。"
    # declared Latin-1 but really UTF-8: the content decides
    page = '<meta charset="ascii"><p>其实是UTF-8。</p>'.encode()
    assert parse_html(page, "u.html").text == "其实是UTF-8。"


@pytest.mark.parametrize("depth", [300, 100_000])
def test_html_nesting_limit(depth: int) -> None:
    page = ("<div>" * depth + "深" + "</div>" * depth).encode()
    with pytest.raises(DocumentTooLargeError, match=f"nested {257 if depth > 257 else depth}") as exc:
        parse_html(page, "deep.html")
    one_line_naming(exc, "deep.html")


def test_html_nesting_within_limit_and_character_limit() -> None:
    page = ("<div>" * 50 + "<span>深处的文字。</span>" + "</div>" * 50).encode()
    assert parse_html(page, "ok.html").text == "深处的文字。"
    with pytest.raises(
        DocumentTooLargeError, match="nested 41 deep, more than the limit of 40"
    ):  # stops counting at 41
        parse_html(page, "ok.html", max_depth=40)
    with pytest.raises(DocumentTooLargeError, match="more than 3 characters"):
        parse_html(page, "ok.html", max_chars=3)


@pytest.mark.parametrize("body", ["", "<script>only()</script>", "<p>   </p>"])
def test_html_without_visible_text(body: str) -> None:
    with pytest.raises(IngestError, match="no visible text") as exc:
        parse_html(make_html(body), "blank.html")
    one_line_naming(exc, "blank.html")


# ---- registry ----


def test_registry_reads_every_format_from_disk(tmp_path: Path) -> None:
    assert {".pdf", ".docx", ".html", ".htm"} <= set(PARSERS)
    files = {
        "a.pdf": make_pdf([PAGE_1]),
        "b.docx": make_docx(["文档里的数字经济。"]),
        "c.html": make_html("<p>网页里的数字经济。</p>"),
        "d.htm": make_html("<p>旧扩展名的网页。</p>"),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        doc = read_document(tmp_path / name)
        assert doc.text and doc.source.endswith(name)


def test_document_from_bytes_refuses_unknown_types() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"'\.exe' is not supported: use one of \.txt, \.md, \.pdf"):
        document_from_bytes(b"MZ", "uploads/tool.exe")
