#!/usr/bin/env python3
"""A bounded load test of `policyqa serve` on loopback.

Starts the service on a free 127.0.0.1 port (or targets --url, which must be a
loopback address), runs N concurrent clients for a fixed time, each sending a
mix of POST /search and POST /ask with the seed questions (Chinese and
English), and prints throughput, latency percentiles, the error count and the
server's resident memory at the start, middle and end of the run.

    python scripts/loadtest.py                       # 32 clients, 60 s
    python scripts/loadtest.py --clients 8 --duration 20 --index-dir data/index
    python scripts/loadtest.py --url http://127.0.0.1:8000 --server-pid 1234

Exits 1 when any request failed (a non-2xx status or a transport error).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = REPO / "eval" / "questions" / "seed.jsonl"
MAX_CLIENTS, MAX_DURATION = 256, 600  # bounded, whatever is asked for


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"/search": [], "/ask": []})
    errors: dict[str, int] = field(default_factory=dict)
    rss: list[tuple[float, int]] = field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def loopback_url(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        sys.exit(f"--url {url}: only loopback addresses (127.0.0.1, ::1, localhost) may be load-tested")
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(index_dir: Path, threads: int | None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "policyqa.service", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--index-dir", str(index_dir)] + (["--threads", str(threads)] if threads else [])
    env = {**os.environ, "POLICYQA_SEEDS_DIR": str(REPO / "seeds")}
    log = open(index_dir.parent / "server.log", "wb")  # noqa: SIM115  closed with the process
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    return server, f"http://127.0.0.1:{port}"


def wait_ready(url: str, server: subprocess.Popen[bytes] | None, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            sys.exit(f"the service exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit(f"the service at {url} was not ready within {timeout:.0f} s")


def rss_of(pid: int) -> int:
    process = psutil.Process(pid)
    return process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))


async def client(
    n: int, url: str, questions: list[str], ask_share: float, stop_at: float, results: Results
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        i = n
        while time.monotonic() < stop_at:
            question = questions[i % len(questions)]
            # every client asks in the same proportion, spread over the run
            path = "/ask" if (i * ask_share) % 1 + ask_share >= 1 else "/search"
            body = {"question": question, "k": 5} if path == "/ask" else {"query": question, "k": 10}
            started = time.perf_counter()
            try:
                response = await http.post(path, json=body)
                if response.status_code != 200:
                    results.error(f"{path} {response.status_code}")
                else:
                    results.latencies[path].append(time.perf_counter() - started)
            except httpx.HTTPError as exc:
                results.error(f"{path} {type(exc).__name__}")
            i += 1


async def sample_memory(pid: int | None, stop_at: float, results: Results) -> None:
    start = time.monotonic()
    while pid is not None and time.monotonic() < stop_at:
        results.rss.append((time.monotonic() - start, rss_of(pid)))
        await asyncio.sleep(1.0)
    if pid is not None:
        results.rss.append((time.monotonic() - start, rss_of(pid)))


async def run(url: str, pid: int | None, clients: int, duration: float, ask_share: float, warmup: float) -> Results:
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line]
    results = Results()
    # Warm-up at full concurrency, not measured: the first queries build caches (the
    # query bridge's dictionary, the answerer's sentence vectors) and the server's
    # thread pool grows to its size, so memory after it is what the service needs.
    warm_until = time.monotonic() + warmup
    await asyncio.gather(*(client(n, url, questions, ask_share, warm_until, Results()) for n in range(clients)))
    stop_at = time.monotonic() + duration
    await asyncio.gather(
        sample_memory(pid, stop_at, results),
        *(client(n, url, questions, ask_share, stop_at, results) for n in range(clients)),
    )
    return results


def percentile(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def report(results: Results, clients: int, duration: float) -> dict[str, object]:
    every = results.latencies["/search"] + results.latencies["/ask"]
    errors = sum(results.errors.values())
    summary: dict[str, object] = {"clients": clients, "duration_s": duration, "requests": len(every) + errors}
    summary["errors"] = errors
    summary["error_kinds"] = results.errors
    summary["throughput_rps"] = round(len(every) / duration, 1)
    for name, values in [("all", every), *results.latencies.items()]:
        if values:
            summary[name] = {
                "count": len(values),
                **{f"p{p}_ms": round(percentile(values, p) * 1000, 1) for p in (50, 95, 99)},
                "max_ms": round(max(values) * 1000, 1),
            }
    if results.rss:
        rss = [r for _, r in results.rss]
        start, middle, end = rss[0], rss[len(rss) // 2], rss[-1]
        summary["server_rss_mb"] = {
            "start": round(start / 2**20, 1),
            "middle": round(middle / 2**20, 1),
            "end": round(end / 2**20, 1),
            "max": round(max(rss) / 2**20, 1),
            "growth_pct": round(100 * (end - start) / start, 1),
        }
    return summary


def print_summary(summary: dict[str, object]) -> None:
    print(
        f"{summary['clients']} clients for {summary['duration_s']:.0f} s: {summary['requests']} requests, "
        f"{summary['throughput_rps']} req/s, {summary['errors']} errors {summary['error_kinds'] or ''}"
    )
    for name in ("all", "/search", "/ask"):
        if name in summary:
            s = summary[name]
            assert isinstance(s, dict)
            print(
                f"  {name:<8} n={s['count']:<6} p50 {s['p50_ms']:>8.1f} ms  p95 {s['p95_ms']:>8.1f} ms  "
                f"p99 {s['p99_ms']:>8.1f} ms  max {s['max_ms']:>8.1f} ms"
            )
    if "server_rss_mb" in summary:
        m = summary["server_rss_mb"]
        assert isinstance(m, dict)
        print(
            f"  server RSS: start {m['start']} MB, middle {m['middle']} MB, end {m['end']} MB "
            f"(max {m['max']} MB, {m['growth_pct']:+.1f}% over the run)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running service on loopback (default: start one)")
    parser.add_argument("--server-pid", type=int, help="with --url: the service's pid, to sample its memory")
    parser.add_argument("--index-dir", type=Path, help="index for the started service (default: a temporary one, "
                        "built from seeds/ on start)")
    parser.add_argument("--clients", type=int, default=32, help=f"concurrent clients (1..{MAX_CLIENTS}) [32]")
    parser.add_argument("--duration", type=float, default=60, help=f"seconds of load (1..{MAX_DURATION}) [60]")
    parser.add_argument("--ask-share", type=float, default=0.5, help="share of requests that are /ask [0.5]")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of unmeasured load first (0..60) [10]")
    parser.add_argument("--threads", type=int, help="BLAS threads of the started service")
    parser.add_argument("--json-out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    if not 1 <= args.clients <= MAX_CLIENTS or not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--clients must be 1..{MAX_CLIENTS} and --duration 1..{MAX_DURATION}")
    if not 0 <= args.ask_share <= 1 or not 0 <= args.warmup <= 60:
        parser.error("--ask-share must be between 0 and 1, --warmup between 0 and 60")

    server, scratch = None, None
    if args.url:
        url, pid = loopback_url(args.url), args.server_pid
    else:
        scratch = Path(tempfile.mkdtemp(prefix="policyqa-load-"))
        index_dir = args.index_dir or scratch / "index"
        print(f"starting policyqa serve on {index_dir} (the first run ingests seeds/)", flush=True)
        server, url = start_server(index_dir, args.threads)
        pid = server.pid
    try:
        wait_ready(url, server)
        print(f"load: {args.clients} clients, {args.duration:.0f} s, {args.ask_share:.0%} /ask, on {url}", flush=True)
        results = asyncio.run(run(url, pid, args.clients, args.duration, args.ask_share, args.warmup))
    finally:
        if server is not None:
            server.terminate()
            server.wait(60)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    summary = report(results, args.clients, args.duration)
    print_summary(summary)
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    sys.exit(1 if summary["errors"] else 0)


if __name__ == "__main__":
    main()
