"""PDF, DOCX and HTML are parsed in a worker process under a time budget and a
memory cap (index.parse_worker), behind work limits counted on the markup
(index.parsers). The files are the outside probe's reproductions (issue 11,
items 1 and 2), at the sizes it reported and scaled up."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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


@pytest.mark.parametrize(
    ("count", "shape"),
    [(175_000, {}), (2_000_000, {}), (300_000, {"part": "word/body.xml"}), (300_000, {"prefix": "x"})],
    ids=["probe", "2M", "body part renamed", "other prefix"],
)
def test_a_docx_of_empty_paragraphs_is_refused_at_once(count: int, shape: dict) -> None:
    data = docx_of_empty_paragraphs(count, **shape)
    assert document_from_bytes(docx_of_empty_paragraphs(10, **shape), "ok.docx").text == "正文"  # a real body
    assert len(data) < 100_000  # the attack: a tiny upload
    assert timed_refusal(data, "bomb.docx", "paragraphs|unpacks to") < 5


def test_a_docx_just_under_the_paragraph_limit_still_parses() -> None:
    data = docx_of_empty_paragraphs(MAX_PARAGRAPHS - 1000)
    assert document_from_bytes(data, "many.docx").text == "正文"  # its one paragraph with text


@pytest.mark.parametrize("count", [400_000, 4_000_000])  # the probe's 2 MB, and the 20 MB upload limit
def test_html_of_line_breaks_is_refused_at_once(count: int) -> None:
    assert timed_refusal(html_of_line_breaks(count), "breaks.html", "more than .* elements") < 5


@pytest.mark.parametrize("node", ["<!---->", "<?x>", "<!x>"])
def test_html_of_comments_and_instructions_is_refused_at_once(node: str) -> None:
    page = b"<html><body>" + node.encode() * 1_000_000 + b"x</body></html>"  # each is a node to BeautifulSoup
    assert timed_refusal(page, "nodes.html", "more than .* elements") < 5


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


def test_the_callers_main_script_is_not_run_again_in_the_workers(tmp_path: Path) -> None:
    """A script without a main guard: multiprocessing would re-run it in each
    worker (here: a line appended per run, and a parse started from inside the worker)."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "ingest_script.py"
    script.write_text(
        "import time\n"
        "from policyqa.index.ingest import document_from_bytes\n"
        f"open({str(runs)!r}, 'a').write('run\\n')\n"
        "started = time.perf_counter()\n"
        "for i in range(3):\n"
        "    page = f'<p>第{i}份文件：到2025年数字经济占比达35%。</p>'.encode()\n"
        "    assert '35%' in document_from_bytes(page, f'p{i}.html').text\n"
        "print(time.perf_counter() - started)\n",
        encoding="utf-8",
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert runs.read_text().splitlines() == ["run"]
