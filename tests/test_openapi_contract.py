"""The OpenAPI document tells the truth (issue 16): schemathesis's own command
line (`st run`), every check and every phase (stateful included), against a
real `policyqa serve` on a loopback port, with API keys unset and with keys
set (authenticated). Zero failures of any kind.

Each run has a time budget (POLICYQA_CONTRACT_SECONDS, 30 by default), which
schemathesis fills with more fuzzing and stateful sequences.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.service.app import create_app
from policyqa.service.settings import Settings

from .support import open_engine

SECONDS = int(os.environ.get("POLICYQA_CONTRACT_SECONDS", "30"))
KEY = "contract-key-0123456789"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(index_dir: Path, keys: str | None, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    env.update(POLICYQA_INDEX_DIR=str(index_dir), POLICYQA_PORT=str(port), POLICYQA_MAX_UPLOAD_BYTES="262144")
    env["POLICYQA_SEEDS_DIR"] = str(index_dir.parent / "no-seeds")
    if keys:
        env["POLICYQA_API_KEYS"] = keys
    with open(log, "wb") as out:
        server = subprocess.Popen([str(BIN / "policyqa"), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, log.read_text()[-2000:]
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "policyqa serve did not start"
        time.sleep(0.2)


@pytest.fixture(params=["keys unset", "keys set"])
def running(request: pytest.FixtureRequest, seed_index: Path, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)
    keys = KEY if request.param == "keys set" else None
    server, url = serve(index_dir, keys, tmp_path / "serve.log")
    try:
        yield url, (["-H", f"Authorization: Bearer {KEY}"] if keys else [])
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.slow
def test_schemathesis_finds_nothing(running: tuple[str, list[str]], tmp_path: Path) -> None:
    url, auth = running
    command = [
        str(BIN / "st"), "--config-file", str(Path(__file__).with_name("schemathesis.toml")),
        "run", f"{url}/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-time", str(SECONDS),
        "--workers", "1",
        "--seed", "1",
        "--continue-on-failure",
        *auth,
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 4 + 120, cwd=tmp_path)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):  # each ran, none was skipped
        assert f"✅ {phase}" in run.stdout, report
    print(run.stdout[-1500:])


# ---- the schema itself, without a server ----


def schema(seed_index: Path, usem: UsemEmbedder, tmp_path: Path, **settings: Any) -> dict[str, Any]:
    settings_ = Settings(index_dir=seed_index, seeds_dir=tmp_path / "none", **settings)
    return create_app(settings_, engine=open_engine(seed_index, usem)).openapi()


def readme_errors() -> dict[str, list[str]]:
    """The README's HTTP table: route -> the error statuses of its last column."""
    rows = {}
    for line in (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and " /" in cells[0]:
            rows[cells[0].strip("`")] = [c for c in cells[3].split() if c.isdigit()]
    return rows


def test_readme_lists_each_routes_errors_as_the_schema_does(
    seed_index: Path, usem: UsemEmbedder, tmp_path: Path
) -> None:
    paths = schema(seed_index, usem, tmp_path)["paths"]
    documented = readme_errors()
    for path, operations in paths.items():
        for method, operation in operations.items():
            errors = sorted(code for code in operation["responses"] if code[0] in "45")
            assert documented[f"{method.upper()} {path}"] == errors, (method, path)


def test_security_is_declared_only_when_keys_are_set(seed_index: Path, usem: UsemEmbedder, tmp_path: Path) -> None:
    open_schema = schema(seed_index, usem, tmp_path)
    assert "securitySchemes" not in open_schema.get("components", {})
    for operations in open_schema["paths"].values():
        for operation in operations.values():
            assert "security" not in operation and "401" not in operation["responses"]
    keyed = schema(seed_index, usem, tmp_path, api_keys="k1")
    assert keyed["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, operations in keyed["paths"].items():
        for operation in operations.values():
            protected = path != "/health"
            assert ("security" in operation) == protected and ("401" in operation["responses"]) == protected


def test_method_not_allowed_names_every_method_of_the_path(
    seed_index: Path, usem: UsemEmbedder, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    settings = Settings(index_dir=seed_index, seeds_dir=tmp_path / "none")
    with TestClient(create_app(settings, engine=open_engine(seed_index, usem))) as client:
        r = client.options("/documents")  # Starlette named only the first route's methods: GET
        assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
        assert {"GET", "POST"} <= set(r.headers["allow"].replace(" ", "").split(","))
        assert "PUT" not in r.headers["allow"]
        assert set(client.put("/documents/x").headers["allow"].replace(" ", "").split(",")) == {"DELETE", "GET"}
