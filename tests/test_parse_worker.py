"""PDF, DOCX and HTML are parsed in a worker process under a time budget and a
memory cap (index.parse_worker), behind work limits counted on the markup
(index.parsers). The files are the outside probe's reproductions (issue 11,
items 1 and 2), at the sizes it reported and scaled up."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psutil
import pytest

from policyqa.index import parse_worker
from policyqa.index.errors import DocumentTooLargeError, IngestError
from policyqa.index.ingest import document_from_bytes
from policyqa.index.parsers import MAX_HTML_ELEMENTS, MAX_PARAGRAPHS

from .support import docx_of_empty_paragraphs, html_of_line_breaks, make_docx, make_html


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    yield
    parse_worker.configure(parse_worker.ParseLimits())


def timed_refusal(data: bytes, name: str, match: str) -> float:
    started = time.perf_counter()
    with pytest.raises(DocumentTooLargeError, match=match) as exc:
        document_from_bytes(data, name)
    assert name in str(exc.value) and "\n" not in str(exc.value)
    return time.perf_counter() - started


def no_workers_left() -> bool:
    """No parse worker outlives its document: the forkserver (which stays) has no children."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        servers = [p for p in psutil.Process().children() if "forkserver" in " ".join(p.cmdline())]
        assert servers, "the parse worker's forkserver is not running"
        if not any(child.status() != psutil.STATUS_ZOMBIE for s in servers for child in s.children()):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("count", [175_000, 2_000_000])
def test_a_docx_of_empty_paragraphs_is_refused_at_once(count: int) -> None:
    data = docx_of_empty_paragraphs(count)
    assert len(data) < 100_000  # the attack: a tiny upload
    assert timed_refusal(data, "bomb.docx", "paragraphs|unpacks to") < 5


def test_a_docx_just_under_the_paragraph_limit_still_parses() -> None:
    data = docx_of_empty_paragraphs(MAX_PARAGRAPHS - 1000)
    assert document_from_bytes(data, "many.docx").text == "正文"  # its one paragraph with text


@pytest.mark.parametrize("count", [400_000, 4_000_000])  # the probe's 2 MB, and the 20 MB upload limit
def test_html_of_line_breaks_is_refused_at_once(count: int) -> None:
    assert timed_refusal(html_of_line_breaks(count), "breaks.html", "more than .* elements") < 5


def test_a_parse_over_the_time_budget_is_stopped() -> None:
    parse_worker.configure(parse_worker.ParseLimits(timeout_s=0.3))
    slow = html_of_line_breaks(MAX_HTML_ELEMENTS - 1000)  # legal, and about 2 s of BeautifulSoup
    assert timed_refusal(slow, "slow.html", r"took longer than 0.3 s") < 2
    assert no_workers_left()


def test_a_parse_over_the_memory_cap_is_stopped() -> None:
    parse_worker.configure(parse_worker.ParseLimits(memory_mb=64))
    heavy = html_of_line_breaks(MAX_HTML_ELEMENTS - 1000)  # a tree of ~200,000 nodes: well over 64 MB
    timed_refusal(heavy, "heavy.html", "needs more than 64 MB")
    assert no_workers_left()


def test_the_worker_returns_the_text_and_passes_errors_on() -> None:
    doc = document_from_bytes(make_docx(["到2025年，数字经济增加值占GDP比重达35%。"], heading="目标"), "ok.docx")
    assert "比重达35%" in doc.text and doc.title == "目标"
    doc = document_from_bytes(make_html("<p>广阳湾智创生态城</p>", title="规划"), "ok.html")
    assert doc.text == "广阳湾智创生态城" and doc.title == "规划"
    with pytest.raises(IngestError, match=r"bad\.docx: not a \.docx file"):
        document_from_bytes(b"PK\x03\x04 not really a zip", "bad.docx")
