"""Limits and access of the HTTP service, beyond tests/test_api.py (which covers
upload size, zip bombs, CORS and right/wrong keys):

  - `policyqa serve` writes only inside its index directory (every write the
    process makes is recorded by a Python audit hook, tests/audit_harness.py);
  - no response reveals a file system path outside the corpus or a stack trace,
    whatever error is provoked, index errors included;
  - API keys are compared with hmac.compare_digest, against every key;
  - page-count and extracted-text limits answer 413 and leave the index as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.ingest import MAX_TEXT_CHARS
from policyqa.index.store import IndexDirectory
from policyqa.service.app import create_app
from policyqa.service.settings import Settings

from .support import make_docx, make_html, make_pdf, make_scanned_pdf, open_engine

HARNESS = Path(__file__).with_name("audit_harness.py")
FACT = "到2030年，星河湾数字港计划建成算力规模达987PFlops的智算中心。"
LEAKS = re.compile(r"Traceback|File \"|/work/|/tmp/|/home/|/root/|/usr/|site-packages|\.py\b")


@pytest.fixture(autouse=True)
def _no_policyqa_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("POLICYQA_")]:
        monkeypatch.delenv(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def without_corpus_paths(body: Any) -> Any:
    """The body without `source` fields: those name corpus files, which may be shown."""
    if isinstance(body, dict):
        return {k: without_corpus_paths(v) for k, v in body.items() if k != "source"}
    if isinstance(body, list):
        return [without_corpus_paths(v) for v in body]
    return body


def assert_no_leak(response: httpx.Response) -> None:
    try:
        body = json.dumps(without_corpus_paths(response.json()), ensure_ascii=False)
    except ValueError:
        body = response.text
    found = LEAKS.search(body)
    assert found is None, f"{response.request.method} {response.request.url.path} shows {found.group()!r}: {body[:300]}"


def provoke_everything(client: httpx.Client) -> list[httpx.Response]:
    """Every kind of request, good and bad, that the service answers."""
    uploads = {
        "a.txt": FACT.encode(),
        "b.md": f"# 标题\n\n{FACT}".encode(),
        "c.html": make_html(f"<p>{FACT}</p>"),
        "d.docx": make_docx([FACT]),
        "e.pdf": make_pdf([[FACT]]),
        # over 1 MB, so the multipart parser spools it, but one short passage (a comment is no text)
        "spooled.html": make_html(f"<!-- {'x' * 1_200_000} --><p>{FACT}</p>"),
    }
    out = [client.post("/documents", files={"file": (name, data)}) for name, data in uploads.items()]
    assert [r.status_code for r in out] == [201] * len(uploads), [r.text[:200] for r in out]
    doc_id = out[0].json()["document"]["doc_id"]
    out += [
        client.post("/documents", files={"file": ("a.txt", FACT.encode() + b"!")}),  # an update
        client.post("/search", json={"query": "星河湾数字港算力", "k": 5}),
        client.post("/ask", json={"question": "星河湾数字港计划建成多大算力规模的智算中心？"}),
        client.get("/documents"),
        client.get("/health"),
        client.delete(f"/documents/{doc_id}"),
        # and the errors
        client.delete(f"/documents/{doc_id}"),
        client.delete("/documents/..%2F..%2Fetc%2Fpasswd"),
        client.post("/documents", files={"file": ("../../escape.txt", FACT.encode())}),
        client.post("/documents", files={"file": ("/etc/passwd.txt", FACT.encode())}),
        client.post("/documents", files={"file": ("broken.pdf", b"%PDF-1.7 broken")}),
        client.post("/documents", files={"file": ("scan.pdf", make_scanned_pdf())}),
        client.post("/documents", files={"file": ("bin.txt", bytes(range(256)) * 8)}),
        client.post("/documents", files={"file": ("noext", b"x")}),
        client.post("/documents", files={"file": ("empty.txt", b"")}),
        client.post("/documents", files={"file": ("a.txt", FACT.encode())}, data={"metadata": "{oops"}),
        client.post("/search", content=b"{not json", headers={"content-type": "application/json"}),
        client.post("/search", json={"query": "", "k": 0, "mode": "nope"}),
        client.post("/search", json={"query": "x" * 10_000}),
        client.post("/ask", json={"question": None}),
        client.post("/search", content=b"x" * 400_000, headers={"content-type": "application/json"}),
        client.get("/no/such/route"),
        client.put("/search"),
        client.get("/static/../../etc/passwd"),
        client.get("/static/%2e%2e/%2e%2e/etc/passwd"),
    ]
    return out


@pytest.mark.slow
def in_pymp(tmp: Path, path: Path) -> bool:
    """Multiprocessing's private folder under `tmp` (pymp-*), or a file in it."""
    folder = path if path.parent == tmp else path.parent
    return folder.parent == tmp and folder.name.startswith("pymp-")


def test_serve_writes_only_its_index_and_leaks_nothing(seed_index: Path, tmp_path: Path) -> None:
    """The real `policyqa serve`, run with its working directory, HOME and TMPDIR
    in tmp_path: after uploads, updates, deletes and every error, the only
    writes outside the index directory are the request-body spool files of
    the system temp folder (anonymous: O_TMPFILE, never visible, gone on
    close), Python's one-time probe of that folder, and the private folder
    (pymp-*) where multiprocessing keeps the parsing forkserver's socket,
    removed at exit."""
    index_dir, cwd, home, tmp = (tmp_path / n for n in ("index", "cwd", "home", "tmp"))
    shutil.copytree(seed_index, index_dir)
    for folder in (cwd, home, tmp):
        folder.mkdir()
    port = free_port()
    read_end, write_end = os.pipe()
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp), "POLICYQA_SEEDS_DIR": str(tmp_path / "no-seeds")}
    server = subprocess.Popen(
        [sys.executable, str(HARNESS), str(write_end), "--", "serve", "--index-dir", str(index_dir)]
        + ["--port", str(port)],
        cwd=cwd, env=env, pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            deadline = time.monotonic() + 180
            while True:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the service did not start"
                time.sleep(0.2)
            responses = provoke_everything(client)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        stderr = server.stderr.read().decode()  # type: ignore[union-attr]
        server.stderr.close()  # type: ignore[union-attr]
    with os.fdopen(read_end) as f:
        events = [json.loads(line) for line in f]

    assert all(r.status_code < 500 for r in responses), [(r.request.url.path, r.status_code) for r in responses]
    for response in responses:
        assert_no_leak(response)

    inside = str(index_dir) + os.sep
    outside = [e for e in events if not all(p.startswith(inside) for p in e["paths"])]
    spool = [e for e in outside if e["paths"] == [str(tmp)] and e["event"] == "open"]  # O_TMPFILE: anonymous
    probe = [e for e in outside if e["event"] in ("open", "os.remove") and Path(e["paths"][0]).parent == tmp]
    forkserver = [e for e in outside if all(in_pymp(tmp, Path(p)) for p in e["paths"])]
    assert [e for e in outside if e not in spool + probe + forkserver] == [], stderr[-2000:]
    assert spool, "the > 1 MB upload was expected to spool (test the rule, not luck)"
    assert len(probe) <= 2  # tempfile's probe: one file made and removed, once per process
    assert [list(f.iterdir()) for f in (cwd, home, tmp)] == [[], [], []]
    # os.replace is audited as "os.rename": one switch of CURRENT per change, so the writes were seen
    assert len([e for e in events if e["event"] == "os.rename" and e["paths"][-1].endswith("CURRENT")]) >= 7


@pytest.fixture()
def app_on(seed_index: Path, usem: UsemEmbedder, tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**overrides: Any) -> TestClient:
        index_dir = tmp_path / "index"
        shutil.copytree(seed_index, index_dir)
        settings = Settings(index_dir=index_dir, seeds_dir=tmp_path / "no-seeds", **overrides)
        return TestClient(create_app(settings, engine=open_engine(index_dir, usem)), raise_server_exceptions=False)

    return make


def test_index_errors_do_not_show_server_paths(app_on, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A damaged index is a 503 that names the problem and the operator's fix,
    not the server's files (those go to the log)."""
    client = app_on()
    with client:
        directory = IndexDirectory(tmp_path / "index")
        name, folder = directory.current()
        damaged = directory.versions / "v99999999T000000-000000000"  # newer: the service loads it next
        shutil.copytree(folder, damaged)
        os.truncate(damaged / "vectors.npy", 10)
        (directory.root / "CURRENT").write_text(damaged.name)
        r = client.post("/search", json={"query": "数字经济"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "index_corrupt"
        assert "policyqa verify" in r.json()["error"]["message"]
        assert_no_leak(r)
        assert str(tmp_path) not in r.text and "vectors.npy" not in r.text


def test_no_index_is_a_503_without_paths(usem: UsemEmbedder, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "none", seeds_dir=tmp_path / "no-seeds")
    with TestClient(create_app(settings, engine=open_engine(tmp_path / "none", usem))) as client:
        asked = client.post("/ask", json={"question": "数字经济"})
        for r in (client.post("/search", json={"query": "数字经济"}), asked):
            assert r.status_code == 503 and r.json()["error"]["code"] == "index_not_found"
            assert_no_leak(r)
            assert str(tmp_path) not in r.text


def test_api_keys_are_compared_in_constant_time(app_on, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Every configured key is compared with hmac.compare_digest, whether the
    given one is right or wrong, so timing does not tell how close a guess was."""
    from policyqa.service import app as service_app

    calls: list[tuple[bytes, bytes]] = []
    real = service_app.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(service_app.hmac, "compare_digest", spy)
    keys = ["first-key-0000000000", "second-key-111111111"]
    with app_on(api_keys=keys) as client:
        for given, status in [("second-key-111111111", 200), ("first-key-0000000001", 401), ("", 401)]:
            calls.clear()
            headers = {"Authorization": f"Bearer {given}"} if given else {}
            assert client.get("/documents", headers=headers).status_code == status
            if given:
                assert sorted(b for _, b in calls) == sorted(k.encode() for k in keys)
                assert {a for a, _ in calls} == {given.encode()}


def test_page_and_text_limits_leave_the_index_unchanged(app_on) -> None:  # type: ignore[no-untyped-def]
    with app_on(max_upload_bytes=16 * 1024 * 1024) as client:
        before = client.get("/health").json()
        pages = client.post("/documents", files={"file": ("long.pdf", make_scanned_pdf(pages=2001))})
        assert pages.status_code == 413
        assert "2001 pages, more than the limit of 2000" in pages.json()["error"]["message"]
        text = client.post("/documents", files={"file": ("long.txt", b"a" * (MAX_TEXT_CHARS + 1))})
        assert text.status_code == 413 and "more than the limit of 5,000,000" in text.json()["error"]["message"]
        html = client.post("/documents", files={"file": ("long.html", make_html("<p>" + "数" * 5_000_001 + "</p>"))})
        assert html.status_code == 413 and "characters" in html.json()["error"]["message"]
        for r in (pages, text, html):
            assert_no_leak(r)
        assert client.get("/health").json() == before
