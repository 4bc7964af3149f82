"""Hostile and malformed files through the whole ingest path (bytes → parser →
cleaning → chunks): each ends in a correct document or a one-line IngestError,
and within a time bound.

The bound is enforced, not just measured: each case runs in a forked child
that is killed when it overruns, so a regression to quadratic time fails the
test instead of hanging it. Random inputs come from hypothesis.
"""

from __future__ import annotations

import codecs
import io
import multiprocessing
import os
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyqa.index.chunking import chunk_document
from policyqa.index.errors import DocumentTooLargeError, IngestError
from policyqa.index.ingest import MAX_TEXT_CHARS, decode_bytes, document_from_bytes

from .support import make_docx, make_html, make_pdf, make_scanned_pdf

TEXT = (
    "第一章 总则\n\n重庆经开区到2025年数字经济增加值占GDP比重达35%，"
    "新能源汽车产值年均增长42.4%。\n\n第二章 绿色低碳\n\n广阳湾智创生态城建设《长江绿色创新产业园》。"
)


def ingest(data: bytes, name: str) -> dict[str, Any]:
    """The whole path for one upload; what a test needs to know about the result."""
    doc = document_from_bytes(data, name)
    chunks = chunk_document(doc)
    assert all(c.text == doc.text[c.start : c.end] and c.text for c in chunks)
    return {"text": doc.text if len(doc.text) < 10_000 else None, "chars": len(doc.text), "chunks": len(chunks)}


def bounded(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a forked child, killed after `seconds`. Returns its result;
    an IngestError it raised is raised again here (any other exception fails)."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        # The fork bounds the time already: parse here rather than in a worker
        # of index.parse_worker, which would cost a forkserver start per example
        # (the worker itself is tested in test_parse_worker).
        from policyqa.index import parse_worker
        from policyqa.index import parsers as direct

        parse_worker.parse_in_worker = lambda parser, data, name: getattr(direct, parser)(data, name)
        try:
            send.send(("ok", fn(*args), ""))
        except DocumentTooLargeError as exc:
            send.send(("too_large", None, str(exc)))
        except IngestError as exc:
            send.send(("ingest_error", None, str(exc)))
        except BaseException as exc:  # noqa: BLE001  reported, not raised, across the fork
            send.send(("crash", None, f"{type(exc).__name__}: {exc}"[:500]))

    process = ctx.Process(target=child, daemon=True)
    started = time.monotonic()
    process.start()
    try:
        if not receive.poll(seconds):
            pytest.fail(f"{fn.__name__}{tuple(type(a).__name__ for a in args)} ran over {seconds} s")
        kind, value, message = receive.recv()
    finally:
        process.kill()
        process.join(10)
    elapsed = time.monotonic() - started
    assert kind != "crash", f"not a clean IngestError: {message}"
    if kind == "too_large":
        raise DocumentTooLargeError(message)
    if kind == "ingest_error":
        raise IngestError(message)
    value and isinstance(value, dict) and value.setdefault("seconds", elapsed)
    return value


def examples(default: int) -> int:
    """Hypothesis examples per test: `default` in CI; more with POLICYQA_FUZZ_EXAMPLES (README, "Fuzzing")."""
    return int(os.environ.get("POLICYQA_FUZZ_EXAMPLES", default))


# Module-scoped fixtures (a PDF, a DOCX) are read, never changed, by the examples.
SLOW_OK = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]


def assert_clean_error(exc: pytest.ExceptionInfo[IngestError], name: str) -> None:
    message = str(exc.value)
    assert name in message and "\n" not in message and "Traceback" not in message


# ---- text encodings ----


@pytest.mark.parametrize("encoding", ["gbk", "gb2312", "gb18030", "utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_chinese_in_every_common_encoding_decodes_exactly(encoding: str) -> None:
    text = TEXT * 20
    assert decode_bytes(text.encode(encoding), "a.txt") == text
    doc = document_from_bytes(text.encode(encoding), "a.txt")
    assert "数字经济增加值占GDP比重达35%" in doc.text and "《长江绿色创新产业园》" in doc.text


def test_gb18030_only_characters() -> None:
    """GB18030's four-byte sequences (characters GBK lacks) decode too."""
    text = TEXT + "\n\n生僻字：𠀀𪚥䶮。"
    data = text.encode("gb18030")
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    assert decode_bytes(data, "a.txt") == text


@pytest.mark.parametrize("bom, encoding", [(codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")])
def test_utf16_with_bom(bom: bytes, encoding: str) -> None:
    doc = document_from_bytes(bom + TEXT.encode(encoding), "a.md")
    assert "广阳湾智创生态城" in doc.text


def test_mixed_newlines_read_as_one_kind() -> None:
    lines = TEXT.split("\n")
    mixed = "".join(line + ("\r\n", "\r", "\n")[i % 3] for i, line in enumerate(lines))
    assert document_from_bytes(mixed.encode(), "a.txt").text == document_from_bytes(TEXT.encode(), "a.txt").text


@pytest.mark.parametrize(
    "data",
    [
        b"\x00" * 100,
        TEXT.encode() + b"\x00\x01\x02" + TEXT.encode(),  # NUL bytes inside text
        TEXT.encode("utf-16-le"),  # UTF-16 without its BOM: NULs everywhere
        bytes(range(256)) * 40,
        b"\xff\xfe\x00",  # a UTF-16 mark on an odd number of bytes
        b"",
        b"   \n\t\r\n  ",
    ],
    ids=["nuls", "nul-inside", "utf16-no-bom", "all-bytes", "bad-bom", "empty", "whitespace"],
)
@pytest.mark.parametrize("name", ["bad.txt", "bad.md"])
def test_binary_and_empty_text_is_a_clean_error(data: bytes, name: str) -> None:
    with pytest.raises(IngestError) as exc:
        document_from_bytes(data, name)
    assert_clean_error(exc, name)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000), name=st.sampled_from(["f.txt", "f.md"]))
def test_random_bytes_as_text(data: bytes, name: str) -> None:
    """Any bytes: a document whose chunks are exact slices, or a clean IngestError."""
    try:
        ingest(data, name)
    except IngestError as exc:
        assert name in str(exc) and "\n" not in str(exc)


def pieces(*tokens: str, max_size: int) -> st.SearchStrategy[str]:
    """Strings made of these pieces (so that markup appears far more often than in random text)."""
    return st.lists(st.sampled_from(tokens), max_size=max_size).map("".join)


MARKDOWNISH = pieces(*"#*_`~[]()<>!|-=:.\\ \t\n\r1234567890aZ中文，。、《》%", "http://", "**", "```", max_size=400)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=MARKDOWNISH, name=st.sampled_from(["f.txt", "f.md"]))
def test_markup_soup(text: str, name: str) -> None:
    try:
        ingest(text.encode(), name)
    except IngestError as exc:
        assert name in str(exc)


# ---- huge lines, and lines built to make regular expressions backtrack ----


@pytest.mark.slow
@pytest.mark.parametrize("name", ["big.txt", "big.md"])
def test_ten_megabyte_single_line_of_chinese(name: str) -> None:
    sentence = "重庆经开区数字经济增加值占比达到百分之三十五，绿色低碳产业园区建设取得新进展。"
    data = (sentence * (10_000_000 // len(sentence.encode()))).encode()
    assert len(data) > 9_900_000 and b"\n" not in data
    result = bounded(60, ingest, data, name)
    assert result["chars"] == len(data.decode()) and result["chunks"] > 10_000


def test_a_line_over_the_character_limit_is_refused() -> None:
    data = b"a" * (MAX_TEXT_CHARS + 1)
    with pytest.raises(DocumentTooLargeError, match="more than the limit of 5,000,000: split the file"):
        bounded(30, ingest, data, "long.txt")


# Each of these, repeated along one line, once took from minutes to hours:
# markdown's inline patterns were quadratic (a 80 KB line of "[" took 74 s), and
# a long run of digits or letters was chunked in one-character pieces, each
# costing a scan of the window (a 1 MB run: 45 s). Linear now: well under a second.
MARKDOWN_TRAPS = ["[", "![", "[a](", "![a](", "<http:", "**a ", "*a ", "_a ", "__a ", "~~a ", "`a ", "\\"]
CHUNKING_TRAPS = ["a", "8", "1."]


@pytest.mark.parametrize("unit", MARKDOWN_TRAPS)
def test_markdown_traps_take_linear_time(unit: str) -> None:
    try:
        bounded(15, ingest, (unit * (200_000 // len(unit))).encode(), "trap.md")
    except IngestError as exc:  # e.g. markup only, nothing left after cleaning
        assert "trap.md" in str(exc)


@pytest.mark.parametrize("unit", CHUNKING_TRAPS)
def test_chunking_traps_take_linear_time(unit: str) -> None:
    result = bounded(15, ingest, (unit * (1_000_000 // len(unit))).encode(), "trap.txt")
    assert result["chunks"] == -(-result["chars"] // 300)  # full-size pieces, not one-character ones


# ---- PDF ----


def test_pdf_without_text_layer() -> None:
    with pytest.raises(IngestError, match="no text layer") as exc:
        document_from_bytes(make_scanned_pdf(pages=3), "scan.pdf")
    assert_clean_error(exc, "scan.pdf")


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return make_pdf([["测试园区发展报告", "到2025年，数字经济增加值占GDP比重达35%。"], ["第二页：产值年均增长42.4%。"]])


@pytest.mark.slow
def test_truncated_pdfs(pdf: bytes) -> None:
    for cut in range(0, len(pdf), max(1, len(pdf) // 40)):
        try:
            bounded(20, ingest, pdf[:cut], "cut.pdf")
        except IngestError as exc:
            assert "cut.pdf" in str(exc)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=SLOW_OK)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6))
def test_mutated_pdfs(pdf: bytes, edits: list[tuple[float, bytes]]) -> None:
    data = bytearray(pdf)
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at : at + len(junk)] = junk
    try:
        bounded(20, ingest, bytes(data), "m.pdf")
    except IngestError as exc:
        assert "m.pdf" in str(exc)


# ---- DOCX ----


def _zip_with_declared_size(payload_deflated: bytes, declared: int, crc: int) -> bytes:
    """A .docx-shaped zip whose word/document.xml holds `payload_deflated` and says
    it unpacks to `declared` bytes (written by hand: zipfile cannot lie, nor
    write a 3 GB member without deflating 3 GB)."""
    out = io.BytesIO()
    entries = []
    for name, data, size, entry_crc, method in [
        (b"[Content_Types].xml", b"<Types/>", 8, zlib.crc32(b"<Types/>"), 0),
        (b"word/document.xml", payload_deflated, declared, crc, 8),
    ]:
        offset = out.tell()
        header = (0x04034B50, 20, 0, method, 0, 0, entry_crc, len(data), size, len(name), 0)
        out.write(struct.pack("<IHHHHHIIIHH", *header))
        out.write(name + data)
        entries.append((name, len(data), size, entry_crc, method, offset))
    directory = out.tell()
    for name, compressed, size, entry_crc, method, offset in entries:
        out.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0, entry_crc, compressed, size, len(name),
                0, 0, 0, 0, 0, offset,
            )
        )
        out.write(name)
    end = out.tell()
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), end - directory, directory, 0))
    return out.getvalue()


def _zeros_deflated(n_mb: int) -> bytes:
    """A raw deflate stream of `n_mb` MiB of zeros, built from one flushed MiB repeated."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(b"\0" * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(b"\0" * (1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block + again * (n_mb - 1) + compressor.flush()


def test_docx_bomb_of_gigabytes_is_refused_before_unpacking() -> None:
    """word/document.xml unpacks to 3.5 GB (3,338 MiB of zeros in 3.4 MB; with
    [Content_Types].xml's 8 bytes, 3,500,146,696 in all): refused
    from the zip's directory alone, fast and without allocating it."""
    bomb = _zip_with_declared_size(_zeros_deflated(3338), 3338 << 20, 0)
    assert len(bomb) < 4_000_000
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(DocumentTooLargeError, match="unpacks to 3,500,146,696 bytes") as exc:
            document_from_bytes(bomb, "bomb.docx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5 and peak < 32 * 1024 * 1024
    assert_clean_error(exc, "bomb.docx")


def test_docx_bomb_that_lies_about_its_size() -> None:
    """The directory says 2 KB, the stream inflates to 64 MB: zipfile stops at
    the declared size (and the checksum fails), so it never inflates the rest."""
    lying = _zip_with_declared_size(_zeros_deflated(64), 2048, 0)
    with pytest.raises(IngestError) as exc:
        bounded(20, ingest, lying, "liar.docx")
    assert_clean_error(exc, "liar.docx")


@pytest.fixture(scope="module")
def docx() -> bytes:
    return make_docx(["到2025年，数字经济增加值占GDP比重达35%。", "新能源汽车产值年均增长42.4%。"], heading="测试报告")


@settings(max_examples=examples(40), deadline=None, suppress_health_check=SLOW_OK)
@given(edits=st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), min_size=1, max_size=6))
def test_mutated_docx(docx: bytes, edits: list[tuple[float, bytes]]) -> None:
    data = bytearray(docx)
    for where, junk in edits:
        at = int(where * (len(data) - 1))
        data[at : at + len(junk)] = junk
    try:
        bounded(20, ingest, bytes(data), "m.docx")
    except IngestError as exc:
        assert "m.docx" in str(exc)


# ---- HTML ----


@pytest.mark.parametrize(
    ("tag", "depth"), [("div", 90_000), ("q", 50_000), ("x-custom", 50_000), ("table><tr><td", 20_000)]
)
def test_html_nested_tens_of_thousands_deep(tag: str, depth: int) -> None:
    # under the element limit, so it is the nesting that is refused
    closing = "".join(f"</{t.split()[0]}>" for t in reversed(tag.split("><")))
    page = ("<" + tag + ">") * depth + "正文" + closing * depth
    with pytest.raises(DocumentTooLargeError, match="nested .* deep, more than the limit") as exc:
        bounded(30, ingest, make_html(page), "deep.html")
    assert_clean_error(exc, "deep.html")


def test_html_with_huge_text_is_refused_by_the_character_limit() -> None:
    page = "<p>" + "数字经济" * 1_500_000 + "</p>"
    with pytest.raises(DocumentTooLargeError, match="characters"):
        bounded(60, ingest, make_html(page), "huge.html")


HTMLISH = pieces(
    *["<div>", "</div>", "<p>", "<br>", "<script>", "</script>", "<!--", "-->", "<h1>", "</h1>", "<table>"],
    *["<td>", "&amp;", "&#", "<meta charset=gbk>", "<", ">", "\"", "'", "=", " ", "\n", "a", "中文", "35%"],
    max_size=200,
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=HTMLISH)
def test_tag_soup(page: str) -> None:
    for data in (page.encode(), page.encode("gb18030")):
        try:
            ingest(data, "soup.html")
        except IngestError as exc:
            assert "soup.html" in str(exc) and "\n" not in str(exc)
