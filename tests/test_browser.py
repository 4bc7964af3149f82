"""The search page and the embeddable widget in a real headless browser.

Debian's chromium, driven by Playwright with `executable_path` set to it (a
browser download is not possible here); the service runs in real uvicorn on a
free loopback port, and the widget is hosted by a second server on another
origin (http://localhost:<port>, allowed by CORS; the same server reached as
http://127.0.0.1:<port> is a different origin, which CORS refuses).
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.settings import Settings

from .support import open_engine

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does)", allow_module_level=True)
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: pip install playwright (no `playwright install` needed)"
)

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
QUESTION = "哪个园区提出数字经济增加值占GDP比重达35%？"
SEED_000 = "000_6c3b29e3f385016a"


class Portal:
    """A stand-in for an internal portal: one page holding the widget's script tag.

    It starts before the API (whose CORS list names the portal's origin), so the
    API's address is filled in afterwards and read on each request."""

    def __init__(self) -> None:
        self.api = ""
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path, _, query = self.path.partition("?")
                target = parse_qs(query).get("api", [portal.api])[0]
                if path == "/attack":  # a hostile page: a blind multipart upload to the API
                    return self.send_page(
                        "<!DOCTYPE html><html><body><script>"
                        "const fd = new FormData();"
                        "fd.append('file', new Blob(['恶意替换的文档内容。'], {type: 'text/plain'}), 'evil.txt');"
                        f"fetch('{target}/documents', {{method: 'POST', mode: 'no-cors', body: fd}})"
                        ".finally(() => { window.sent = true; });"
                        "</script></body></html>"
                    )
                if path == "/framed":  # the search box in an iframe, as a portal embeds it
                    frame = f'<iframe src="{target}/embed"></iframe>'
                    return self.send_page(f"<!DOCTYPE html><html><body>{frame}</body></html>")
                return self.send_page(
                    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>门户</title>'
                    "<style>body { font-family: serif; color: #900 } input { display: none }</style></head>"
                    f'<body><h1>内部门户</h1><script src="{portal.api}/widget.js" data-api="{portal.api}"></script>'
                    "</body></html>"
                )

            def send_page(self, html: str) -> None:
                page = html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def portal() -> Iterator[Portal]:
    p = Portal()
    yield p
    p.close()


def serve(settings: Settings, usem: UsemEmbedder) -> Iterator[str]:
    """The service in real uvicorn on a free loopback port; yields its URL."""
    import uvicorn

    app = create_app(settings, engine=open_engine(settings.index_dir, usem))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(10)


def index_copy(seed_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    index_dir = tmp_path_factory.mktemp("browser") / "index"
    shutil.copytree(seed_index, index_dir)
    return index_dir


@pytest.fixture(scope="module")
def api(
    seed_index: Path, usem: UsemEmbedder, tmp_path_factory: pytest.TempPathFactory, portal: Portal
) -> Iterator[str]:
    """The service; CORS allows http://localhost:<portal port> only."""
    index_dir = index_copy(seed_index, tmp_path_factory)
    settings = Settings(
        index_dir=index_dir, seeds_dir=index_dir.parent / "none", cors_origins=[f"http://localhost:{portal.port}"]
    )
    for url in serve(settings, usem):
        portal.api = url
        yield url


@pytest.fixture(scope="module")
def api_without_cors(seed_index: Path, usem: UsemEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with POLICYQA_CORS_ORIGINS unset (the default): same origin only."""
    index_dir = index_copy(seed_index, tmp_path_factory)
    yield from serve(Settings(index_dir=index_dir, seeds_dir=index_dir.parent / "none"), usem)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.errors = []  # type: ignore[attr-defined]
    p.on("pageerror", lambda e: p.errors.append(str(e)))  # type: ignore[attr-defined]
    yield p
    context.close()


def ask(page: Any, question: str) -> None:
    page.fill(".pqa-q", question)
    page.click(".pqa-submit")


def test_page_answers_with_a_clickable_citation(page: Any, api: str) -> None:
    expect = sync_api.expect
    page.goto(api + "/")
    # note every loading state the box goes through
    page.evaluate(
        """() => { window.sawLoading = false; new MutationObserver(() => {
             const b = document.querySelector('.pqa-submit');
             if (b.disabled && b.textContent === '检索中…') window.sawLoading = true;
           }).observe(document.body, {subtree: true, attributes: true, childList: true, characterData: true}); }"""
    )
    ask(page, QUESTION)
    answer = page.locator(".pqa-answer-text")
    expect(answer).to_contain_text("数字经济增加值占GDP比重达35%", timeout=30_000)
    short = page.locator(".pqa-short strong.pqa-short-text")  # in bold, above the quotes
    expect(short).to_have_text("广阳湾智创生态城")
    assert page.evaluate(
        "() => document.querySelector('.pqa-short').compareDocumentPosition("
        "document.querySelector('.pqa-answer-text')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert int(page.evaluate("getComputedStyle(document.querySelector('.pqa-short-text')).fontWeight")) >= 700
    assert page.evaluate("window.sawLoading") is True
    expect(page.locator(".pqa-citations li").first).to_contain_text(SEED_000)
    expect(page.locator(".pqa-hit mark.pqa-match").first).to_be_visible()  # highlighted matches

    page.locator(".pqa-answer-text .pqa-cite").first.click()
    active = page.locator(".pqa-hit.pqa-active")
    expect(active).to_have_count(1)
    expect(active.locator(".pqa-meta")).to_contain_text(SEED_000)
    expect(active.locator("mark.pqa-quote")).to_contain_text("数字经济增加值占GDP比重达35%")
    expect(active).to_be_in_viewport()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_citation_opens_the_document_view_at_its_span(page: Any, api: str) -> None:
    """Click a citation's 查看原文: the document view opens (a new tab, so the
    widget never navigates its host page) with the cited span highlighted,
    scrolled into view, and its text equal to the quote."""
    expect = sync_api.expect
    page.goto(api + "/")
    ask(page, QUESTION)
    first = page.locator(".pqa-citations li").first
    expect(first).to_contain_text(SEED_000, timeout=30_000)
    quote = page.evaluate(
        """async (q) => (await (await fetch('/ask', {method: 'POST', headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({question: q, k: 5})})).json()).citations[0]""",
        QUESTION,
    )
    with page.context.expect_page() as opened:
        first.locator("a.pqa-doc-link").click()
    view = opened.value
    view.wait_for_load_state()
    assert view.url.endswith(f"/doc/{quote['doc_id']}#{quote['start']}-{quote['end']}")
    cited = view.locator("#cited")
    expect(cited).to_have_text(quote["quote"], timeout=15_000)
    expect(cited).to_be_in_viewport()
    assert view.evaluate("getComputedStyle(document.querySelector('#cited')).backgroundColor") != "rgba(0, 0, 0, 0)"
    expect(view.locator("#doc-title")).not_to_have_text("原文")  # the document's own title
    # the whole stored text is there: the span sits at its offsets
    text = view.evaluate("document.querySelector('#doc-text').textContent")
    assert text[quote["start"] : quote["end"]] == quote["quote"]
    # a hit card's 原文 link goes to its passage's span
    href = page.locator(".pqa-hit a.pqa-doc-link").first.get_attribute("href")
    assert href and "/doc/" in href and "#" in href
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_targets_tab_filters_and_follows_a_row_to_its_span(page: Any, api: str) -> None:
    expect = sync_api.expect
    page.goto(api + "/")
    page.click(".tab[data-tab='targets']")
    expect(page.locator("#targets-panel")).to_be_visible()
    expect(page.locator("#policyqa-app")).to_be_hidden()
    rows = page.locator("#targets-table tbody tr")
    expect(rows.first).to_be_visible(timeout=30_000)
    assert rows.count() >= 4
    page.fill("#targets-form input[name=indicator]", "数字经济占比")
    page.select_option("#targets-form select[name=kind]", "target")
    page.click("#targets-form button[type=submit]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("广阳湾智创生态城")
    expect(rows.first).to_contain_text("35%")
    expect(rows.first).to_contain_text("2025")
    quote = rows.first.locator("a.target-link").get_attribute("title")
    with page.context.expect_page() as opened:
        rows.first.locator("a.target-link").click()
    view = opened.value
    view.wait_for_load_state()
    cited = view.locator("#cited")
    expect(cited).to_have_text(quote or "", timeout=15_000)
    expect(cited).to_contain_text("数字经济增加值占GDP比重达35%")
    expect(cited).to_be_in_viewport()
    with page.expect_download() as download:  # the export holds the filtered rows
        page.click("#targets-csv")
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("subject,indicator,value") and len(lines) == 2 and "广阳湾智创生态城" in lines[1]
    assert page.errors == []  # type: ignore[attr-defined]


def test_page_not_found_empty_and_error_messages(page: Any, api: str) -> None:
    expect = sync_api.expect
    page.goto(api + "/")
    page.click(".pqa-submit")
    expect(page.locator(".pqa-status")).to_have_text("请输入问题。")

    ask(page, "上海浦东新区2021年GDP是多少？")
    box = page.locator(".pqa-answer.pqa-not-found")
    expect(box).to_contain_text("未找到可靠答案", timeout=30_000)
    expect(box).to_contain_text("上海浦东新区")
    expect(page.locator(".pqa-short")).to_be_hidden()
    expect(page.locator(".pqa-results h2")).to_have_text("最接近的段落")

    page.route(
        "**/search",
        lambda route: route.fulfill(
            status=503,
            content_type="application/json",
            body='{"error": {"code": "index_not_found", "message": "no index at data/index"}}',
        ),
    )
    ask(page, QUESTION)
    expect(page.locator(".pqa-status.pqa-error")).to_contain_text(
        "出错了（503）：no index at data/index", timeout=30_000
    )
    expect(page.locator(".pqa-submit")).to_be_enabled()


def test_embed_page_is_the_box_alone(page: Any, api: str) -> None:
    page.goto(api + "/embed")
    sync_api.expect(page.locator(".site-header")).to_be_hidden()
    sync_api.expect(page.locator(".pqa-q")).to_be_visible()


def test_widget_on_another_origin(page: Any, api: str, portal: Portal) -> None:
    expect = sync_api.expect
    page.goto(f"http://localhost:{portal.port}/")
    assert not page.url.startswith(api)
    box = page.locator(".policyqa-widget .pqa-q")  # inside the widget's shadow root
    expect(box).to_be_visible(timeout=30_000)  # the host page hides its own inputs: styles stay apart
    ask(page, QUESTION)
    expect(page.locator(".policyqa-widget .pqa-answer-text")).to_contain_text("35%", timeout=30_000)
    expect(page.locator(".policyqa-widget .pqa-short-text")).to_have_text("广阳湾智创生态城")
    expect(page.locator(".policyqa-widget .pqa-citations li").first).to_contain_text(SEED_000)
    assert page.errors == []  # type: ignore[attr-defined]


def test_widget_on_a_refused_origin_says_so(page: Any, api: str, portal: Portal) -> None:
    page.goto(f"http://127.0.0.1:{portal.port}/")  # same server, but an origin CORS does not list
    ask(page, QUESTION)
    sync_api.expect(page.locator(".policyqa-widget .pqa-status.pqa-error")).to_contain_text(
        "无法连接到检索服务", timeout=30_000
    )


@pytest.mark.parametrize("cors", ["one allowed origin", "unset"])
def test_a_cross_site_upload_is_refused(
    page: Any, api: str, api_without_cors: str, portal: Portal, cors: str
) -> None:
    """A page on an origin CORS does not list posts a multipart upload in no-cors
    mode (no preflight): the browser sends it, the service answers 403, nothing changes.
    With CORS unset, every other origin is foreign, the portal's too."""
    import httpx

    target, attacker = (api, "127.0.0.1") if cors == "one allowed origin" else (api_without_cors, "localhost")
    before = httpx.get(target + "/documents").json()
    statuses: list[int] = []
    page.on("response", lambda r: statuses.append(r.status) if r.url.endswith("/documents") else None)
    page.goto(f"http://{attacker}:{portal.port}/attack?api={target}")
    page.wait_for_function("window.sent === true", timeout=30_000)
    assert statuses == [403]
    assert httpx.get(target + "/documents").json() == before


def test_embed_is_frameable_by_the_allowed_origin_only(page: Any, api: str, portal: Portal) -> None:
    """/embed's frame-ancestors lists the CORS origins: the portal frames it, another origin cannot."""
    page.goto(f"http://localhost:{portal.port}/framed?api={api}")
    sync_api.expect(page.frame_locator("iframe").locator(".pqa-q")).to_be_visible(timeout=30_000)
    page.goto(f"http://127.0.0.1:{portal.port}/framed?api={api}")
    page.wait_for_timeout(1500)
    frame = page.frames[-1]
    assert frame.url != page.url and frame.locator(".pqa-q").count() == 0
