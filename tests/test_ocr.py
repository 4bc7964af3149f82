"""OCR of scanned pages (index/ocr.py, in the parsing worker): an image-only PDF
and a .png are read into text that search finds, with each page's start and
OCR confidence in the document's metadata. The pages are rendered here with a
real CJK font and read by the real RapidOCR models."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyqa.eval.ocr_throughput import char_accuracy, find_cjk_font, image_pdf, render_page
from policyqa.index import parse_worker
from policyqa.index.clean import clean_text
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.errors import IngestError
from policyqa.index.ingest import document_from_bytes
from policyqa.index.ocr import _Box, reading_order
from policyqa.index.pages import cleaned_offsets, is_visible, page_at

from .support import make_pdf

FONT = find_cjk_font()
needs_font = pytest.mark.skipif(
    FONT is None, reason="no CJK font to render test pages: apt-get install fonts-noto-cjk (.ci/run installs it)"
)
PAGE_1 = ["到2025年，数字经济增加值占GDP比重达35%。", "全市规模以上工业企业研发投入强度达到2.1%。"]
PAGE_2 = ["新能源汽车产量年均增长42.4%，智能网联汽车产业集群初步形成。", "加快建设西部金融中心。"]


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    yield
    parse_worker.configure(parse_worker.ParseLimits())


@pytest.fixture(scope="module")
def scanned() -> bytes:
    assert FONT is not None
    return image_pdf([render_page(PAGE_1, FONT), render_page(PAGE_2, FONT)])


def test_boxes_come_back_in_reading_order() -> None:
    # RapidOCR's boxes, shuffled: two boxes on one line (the right one a little
    # higher), the next line, then a paragraph gap
    boxes = [
        _Box("第二行", 0.9, 60, 90, 10),
        _Box("右半", 0.9, 8, 38, 200),
        _Box("左半", 0.9, 10, 40, 10),
        _Box("新段落", 0.9, 160, 190, 10),
    ]
    assert reading_order(boxes) == "左半 右半\n第二行\n\n新段落"


@given(st.lists(st.text(alphabet="数字经济35%。，：ab \n\t\u3000\x00\u200b\ufeff\ue000", max_size=40), max_size=4))
def test_page_starts_move_through_the_cleaning(pages: list[str]) -> None:
    raw = "\n\n\n".join(pages)
    cleaned = clean_text(raw).text
    # cleaning keeps exactly the visible characters, in order: the ground the mapping stands on
    assert [c for c in cleaned if not c.isspace()] == [c for c in raw if is_visible(c)]
    starts = [sum(len(p) + 3 for p in pages[:i]) for i in range(len(pages))]
    for page, start in zip(pages, cleaned_offsets(raw, starts, cleaned), strict=True):
        visible = "".join(c for c in page if is_visible(c))
        assert "".join(c for c in cleaned[start:] if not c.isspace()).startswith(visible)


def test_page_at() -> None:
    assert [page_at([0, 100, 250], o) for o in (0, 99, 100, 251)] == [1, 1, 2, 3]
    assert page_at([], 5) == 0


@needs_font
@pytest.mark.slow
def test_a_scanned_pdf_is_read_searched_and_paged(scanned: bytes, tmp_path: Path, usem: UsemEmbedder) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes(scanned)
    engine = Engine.open(tmp_path / "index", embedder=usem)
    report = engine.ingest([folder / "scan.pdf"])
    assert not report.failed and report.chunks_added >= 1
    [record] = engine.documents()
    text = engine.view().document_text(record.doc_id)
    pages = record.metadata["pages"]
    assert pages[0] == 0 and len(pages) == 2
    # each page's text, cut at the recorded start, is what was rendered on it
    assert char_accuracy(text[: pages[1]], "".join(PAGE_1)) >= 0.95
    assert char_accuracy(text[pages[1] :], "".join(PAGE_2)) >= 0.95
    assert record.metadata["ocr"]["pages"] == [1, 2]
    assert all(0.9 <= c <= 1 for c in record.metadata["ocr"]["confidence"].values())
    assert set(record.metadata["ocr"]["confidence"]) == {"1", "2"}
    hit = engine.search("新能源汽车产量年均增长多少", k=3).hits[0]
    assert "42.4%" in hit.chunk.text
    assert page_at(pages, hit.chunk.start + hit.chunk.text.index("42.4%")) == 2  # the figure is on page 2


@needs_font
@pytest.mark.slow
def test_a_png_is_read_and_user_metadata_wins() -> None:
    doc = document_from_bytes(_png(PAGE_1), "upload:notice.png", metadata={"ocr": "checked by hand"})
    assert char_accuracy(doc.text, "".join(PAGE_1)) >= 0.95
    assert doc.metadata["pages"] == [0]
    assert doc.metadata["ocr"] == "checked by hand"  # the caller's key wins over the parser's


@needs_font
@pytest.mark.slow
def test_with_ocr_off_a_scan_is_a_one_line_error(scanned: bytes) -> None:
    parse_worker.configure(parse_worker.ParseLimits(ocr=False))
    with pytest.raises(IngestError, match=r"scan\.pdf: .*no text layer.*OCR is off") as exc:
        document_from_bytes(scanned, "scan.pdf")
    assert "\n" not in str(exc.value)
    with pytest.raises(IngestError, match=r"notice\.png: .*OCR is off"):
        document_from_bytes(_png(PAGE_1), "notice.png")


def _png(lines: list[str]) -> bytes:
    assert FONT is not None
    out = io.BytesIO()
    render_page(lines, FONT).save(out, "PNG")
    return out.getvalue()


def test_a_text_pdf_is_not_ocrd_and_records_its_pages() -> None:
    # Both pages hold fewer than MIN_TEXT_CHARS visible characters but show no
    # image: short pages of a born-digital file, not scans. OCR never looks at them.
    from policyqa.index.ocr import OcrOptions
    from policyqa.index.parsers import parse_pdf

    pages = [["第一页的正文内容，足够长，不必识别。"], ["第二页：产值年均增长42.4%。"]]
    looked: list[int] = []
    parse_pdf(make_pdf(pages), "t.pdf", ocr=OcrOptions(on_page=lambda page, done, total: looked.append(page)))
    assert looked == []
    doc = document_from_bytes(make_pdf(pages), "t.pdf")
    assert "ocr" not in doc.metadata
    start = doc.metadata["pages"][1]
    assert doc.metadata["pages"] == [0, start] and doc.text[start:].startswith("第二页")


@needs_font
def test_a_page_over_the_ocr_budget_is_refused(scanned: bytes) -> None:
    parse_worker.configure(parse_worker.ParseLimits(ocr_page_timeout_s=0.05))
    with pytest.raises(IngestError, match=r"scan\.pdf: OCR of page 1 took longer than 0.05 s"):
        document_from_bytes(scanned, "scan.pdf")
