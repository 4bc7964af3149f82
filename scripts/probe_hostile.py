"""Measure the outside probe's findings against a real `policyqa serve` (issue 11).

    .venv/bin/python scripts/probe_hostile.py [--skip-writes]

Starts `policyqa serve` on a free loopback port with a fresh index of the seed
reports, then:

1. uploads the hostile files (the probe's sizes, and scaled to the 20 MB upload
   limit) and reports for each the status, the seconds to the answer and the
   peak memory of the server and its parsing workers above idle;
2. uploads a text of about 2,000 chunks and, while it is being embedded, times
   a small upload and two deletes.

It prints a table and exits 1 when a bound of issue 11 is broken: an answer to
each hostile file within 5 s with under 1 GB above idle; the small upload
under 5 s and a delete under 1 s during the big upload.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import docx_of_empty_paragraphs, html_of_line_breaks  # noqa: E402

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:  # a worker that just ended
            pass
    return total


class PeakMemory:
    """Samples the server's process tree every 10 ms while a request runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process, self.peak, self.running = process, 0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, tree_rss(self.process))
            time.sleep(0.01)

    def __enter__(self) -> PeakMemory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running = False
        self.thread.join()


def start_server(index_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "POLICYQA_INDEX_DIR": str(index_dir), "POLICYQA_PORT": str(port)}
    env.pop("POLICYQA_API_KEYS", None)  # the probe's setting: no keys, anyone may upload
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("policyqa")), "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            sys.exit(f"policyqa serve exited with {server.returncode} before it answered")
        time.sleep(0.5)
    server.kill()
    sys.exit("policyqa serve did not answer /health within 300 s")


def hostile_files() -> list[tuple[str, str, bytes]]:
    probe_docx = docx_of_empty_paragraphs(175_000)
    big_docx = docx_of_empty_paragraphs(30_000_000)  # 180 MB unpacked, under the 200 MB unpacked limit
    return [
        ("docx, 175,000 empty paragraphs (1 MB unpacked, the probe's first file)", "bomb.docx", probe_docx),
        ("docx, 5,000,000 empty paragraphs (30 MB unpacked)", "bomb30.docx", docx_of_empty_paragraphs(5_000_000)),
        ("docx, 30,000,000 empty paragraphs (180 MB unpacked)", "bomb180.docx", big_docx),
        ("html, 400,000 x<br> (the probe's 2 MB page)", "breaks.html", html_of_line_breaks(400_000)),
        ("html, 4,000,000 x<br> (20 MB, the upload limit)", "breaks20.html", html_of_line_breaks(4_000_000)),
    ]


def probe_parsers(url: str, server: psutil.Process) -> bool:
    time.sleep(1)
    idle = tree_rss(server)
    print(f"\nserver idle: {idle / MB:.0f} MB resident (server and parsing workers)\n")
    print("| file | bytes | status | seconds | peak above idle |")
    print("|---|---:|---:|---:|---:|")
    ok = True
    for label, name, data in hostile_files():
        with PeakMemory(server) as memory:
            started = time.perf_counter()
            r = httpx.post(f"{url}/documents", files={"file": (name, data)}, timeout=120)
            seconds = time.perf_counter() - started
        above = max(0, memory.peak - idle)
        ok &= seconds < 5 and above < 1024 * MB and r.status_code < 500
        print(f"| {label} | {len(data):,} | {r.status_code} | {seconds:.2f} | {above / MB:.0f} MB |")
    return ok


def big_text() -> bytes:
    """About 2,000 chunks of distinct sentences (about 0.9 MB)."""
    line = "第{i}条：示范区到2030年建成第{i}个数字化车间，累计投资{a}亿元，带动就业{b}人。"
    lines = [line.format(i=i, a=i * 7, b=i * 13) for i in range(8_000)]
    return "\n".join(lines).encode()


def probe_writes(url: str) -> bool:
    result: dict[str, object] = {}

    def upload_big() -> None:
        started = time.perf_counter()
        r = httpx.post(f"{url}/documents", files={"file": ("big.txt", big_text())}, timeout=600)
        result.update(status=r.status_code, seconds=time.perf_counter() - started, body=r.json())

    thread = threading.Thread(target=upload_big)
    thread.start()
    time.sleep(3)  # parsed and chunked by now; embedding takes tens of seconds
    with httpx.Client(base_url=url, timeout=60) as client:
        started = time.perf_counter()
        small = client.post("/documents", files={"file": ("small.txt", "青禾县建成高标准农田12万亩。".encode())})
        small_s = time.perf_counter() - started
        started = time.perf_counter()
        gone = client.delete(f"/documents/{small.json()['document']['doc_id']}")
        delete_s = time.perf_counter() - started
        started = time.perf_counter()
        missing = client.delete("/documents/doesnotexist")
        missing_s = time.perf_counter() - started
        embedding = thread.is_alive()
    thread.join()
    body = result["body"]
    chunks = body["document"]["chunks"] if isinstance(body, dict) and "document" in body else "?"
    print(f"\nbig upload: {len(big_text()):,} bytes, {chunks} chunks, {result['status']} in {result['seconds']:.1f} s")
    print(f"still embedding when the writes below had finished: {embedding}\n")
    print("| during the big upload | status | seconds |")
    print("|---|---:|---:|")
    print(f"| small upload | {small.status_code} | {small_s:.2f} |")
    print(f"| delete it | {gone.status_code} | {delete_s:.2f} |")
    print(f"| DELETE /documents/doesnotexist | {missing.status_code} | {missing_s:.2f} |")
    return embedding and small.status_code == 201 and small_s < 5 and delete_s < 1 and missing_s < 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-writes", action="store_true", help="only the hostile files")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"starting policyqa serve on port {port} (first run: ingests the seeds)...", flush=True)
        server = start_server(Path(tmp) / "index", port)
        try:
            url = f"http://127.0.0.1:{port}"
            ok = probe_parsers(url, psutil.Process(server.pid))
            if not args.skip_writes:
                ok &= probe_writes(url)
        finally:
            server.terminate()
            server.wait(30)
    print("\nall bounds held" if ok else "\na bound was broken")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
