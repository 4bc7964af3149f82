"""The outside probe's findings about keys, slow clients and headers (issue 11,
items 9 and 10), reproduced over real sockets against uvicorn on a loopback
port: the key is checked before a body is read, a client that sends its
headers or its body too slowly is cut off, and the pages carry a content
security policy."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.http_protocol import protocol_with_header_timeout
from policyqa.service.settings import Settings

from .support import Server, open_engine

StartServer = Callable[..., Server]


@pytest.fixture()
def start_server(seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> Iterator[StartServer]:
    servers: list[Server] = []

    def start(header_timeout_s: float = 10.0, **settings: Any) -> Server:
        index_dir = tmp_path / f"index{len(servers)}"
        shutil.copytree(seed_index, index_dir)
        app = create_app(
            Settings(index_dir=index_dir, seeds_dir=tmp_path / "no-seeds", **settings),
            engine=open_engine(index_dir, usem),
        )
        server = Server(app, http=protocol_with_header_timeout(header_timeout_s)).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def read_reply(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes or goes quiet; fails past `within` seconds."""
    sock.settimeout(within)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data and data.split(b"\r\n\r\n", 1)[1].count(b"}") >= 2:
                break
    except TimeoutError:
        pytest.fail(f"no reply within {within} s; got {data[:200]!r}")
    return data


def upload_headers(key: str | None, length: int) -> bytes:
    lines = [
        "POST /documents HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=xyz",
        f"Content-Length: {length}",
    ]
    if key is not None:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_a_bad_key_is_refused_before_the_body_is_sent(start_server: StartServer, key: str | None) -> None:
    server = start_server(api_keys="right-key")
    with connect(server) as sock:
        sock.sendall(upload_headers(key, 10_000_000))  # announces 10 MB, sends none of it
        started = time.perf_counter()
        reply = read_reply(sock, within=5)
        assert reply.startswith(b"HTTP/1.1 401") and b'"unauthorized"' in reply
        assert time.perf_counter() - started < 5
        # and the connection is closed: the refused body cannot go on trickling in
        sock.settimeout(5)
        try:
            for _ in range(20):
                sock.sendall(b"x" * 1024)
                time.sleep(0.05)
            closed = sock.recv(1) == b""
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        assert closed


def test_with_keys_set_only_the_public_paths_are_open(start_server: StartServer) -> None:
    server = start_server(api_keys="right-key")
    for path in ("/health", "/", "/embed", "/widget.js", "/static/app.js", "/docs", "/openapi.json"):
        assert httpx.get(f"{server.url}{path}").status_code == 200, path
    for path in ("/documents", "/some-route-added-later", "/documents/x"):
        assert httpx.get(f"{server.url}{path}").status_code == 401, path


def test_the_right_key_still_uploads(start_server: StartServer) -> None:
    server = start_server(api_keys="right-key")
    r = httpx.post(
        f"{server.url}/documents",
        files={"file": ("a.txt", "星河湾数字港建成智算中心。".encode())},
        headers={"Authorization": "Bearer right-key"},
    )
    assert r.status_code == 201, r.text


def test_headers_sent_too_slowly_are_cut_off(start_server: StartServer) -> None:
    server = start_server(header_timeout_s=1.0)
    with connect(server) as silent, connect(server) as slow:
        slow.sendall(b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of the headers
        started = time.perf_counter()
        assert read_reply(silent, within=5) == b""  # closed by the server
        assert read_reply(slow, within=5) == b""
        assert 0.8 < time.perf_counter() - started < 5


def test_a_kept_alive_connection_still_serves_requests(start_server: StartServer) -> None:
    server = start_server(header_timeout_s=1.0)
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            assert client.get("/health").status_code == 200
            time.sleep(0.6)  # longer in all than the header deadline; each request is on time


def test_a_body_sent_too_slowly_gets_408(start_server: StartServer) -> None:
    server = start_server(body_timeout_s=1.0)
    with connect(server) as sock:
        body = '{"query": "数字经济"}'.encode()
        sock.sendall(
            b"POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body) + 50}\r\n\r\n".encode()
            + body  # 50 bytes short, for ever
        )
        reply = read_reply(sock, within=5)
    assert reply.startswith(b"HTTP/1.1 408") and b'"request_timeout"' in reply


def test_pages_carry_a_content_security_policy(start_server: StartServer) -> None:
    server = start_server(cors_origins="https://portal.example")
    page = httpx.get(f"{server.url}/")
    embed = httpx.get(f"{server.url}/embed")
    api = httpx.post(f"{server.url}/search", json={"query": "数字经济"})
    for r in (page, embed, api):
        assert r.headers["x-content-type-options"] == "nosniff"
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";")[0]
    assert page.headers["x-frame-options"] == "DENY"
    # the widget's page may be framed by the allowed origins, and no others
    assert "frame-ancestors 'self' https://portal.example" in embed.headers["content-security-policy"]
    assert "x-frame-options" not in embed.headers


def test_the_api_docs_need_no_cdn(start_server: StartServer) -> None:
    server = start_server()
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    scripts = [part.split('"', 1)[0] for part in docs.text.split('src="')[1:]]
    links = [part.split('"', 1)[0] for part in docs.text.split('href="')[1:]]
    assert scripts and all(url.startswith("/") for url in scripts + links), (scripts, links)
    for url in scripts + links:
        assert httpx.get(f"{server.url}{url}").status_code == 200, url
