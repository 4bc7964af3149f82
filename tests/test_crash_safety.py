"""A real `policyqa ingest` killed with SIGKILL at each step of an update.

Each run starts from a copy of an index with two committed versions, pauses
the CLI subprocess at one named point (tests/crash_harness.py) and kills it
there. Afterwards:
  - the index opens and answers the baseline query with the same hits as before
    the kill, or (killed after CURRENT was switched) it is the complete new
    version;
  - the leftovers the kill made are there (proof that it landed at that point),
    and the next writer removes them: no `.staging-*`, `.trash-*`, CURRENT.tmp
    or version folder newer than the live one remains;
  - a re-run of the same ingest completes and every remaining version verifies.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.store import IndexDirectory
from policyqa.index.tokenize import ChineseTokenizer

from .support import open_engine

HARNESS = Path(__file__).with_name("crash_harness.py")
# Chinese only: a query with Latin letters or figures builds the English bridge
# (CC-CEDICT, seconds) in every freshly opened engine.
QUERY = "哪个园区提出数字经济增加值占比目标？"
NEW_QUERY = "青禾县智慧农业示范区高标准农田"
# Points before CURRENT is switched leave the old version live; the others the new one.
# ("write", staging half written, leaves the same state as "seal" and is left out for time.)
BEFORE_SWITCH = ("read", "embed", "seal", "rename", "renamed", "pointer")
AFTER_SWITCH = ("replaced", "prune")

pytestmark = pytest.mark.slow


def new_documents(folder: Path, n: int = 6) -> Path:
    """`n` short generated reports on a topic the seeds do not cover (short, so
    that embedding them costs little: the kills, not the model, are under test)."""
    folder.mkdir()
    for i in range(n):
        text = f"青禾县智慧农业示范区第{i + 1}期：到{2025 + i}年建成高标准农田{12 + i}万亩，推广无人机植保。"
        (folder / f"qinghe_{i:02d}.txt").write_text(text, encoding="utf-8")
    return folder


def hits_of(engine: Engine, query: str) -> list[tuple[str, float]]:
    return [(h.chunk.chunk_id, round(h.score, 6)) for h in engine.search(query, k=5).hits]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, seed_index: Path, open_index: Opener) -> dict:
    """An index with two committed versions (so that the next commit prunes one),
    the baseline answer to QUERY, and a folder of new documents to ingest."""
    root = tmp_path_factory.mktemp("crash-base")
    shutil.copytree(seed_index, root / "index")
    extra = root / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("璧山区二〇二三年政府工作报告补充说明：全年新增市场主体一万户。", encoding="utf-8")
    engine = open_index(root / "index")
    engine.ingest([extra])
    directory = IndexDirectory(root / "index")
    return {
        "index": root / "index",
        "version": directory.current()[0],
        "versions": sorted(p.name for p in directory.versions.iterdir()),
        "documents": {d.doc_id for d in engine.backend.view().documents()},
        "hits": hits_of(engine, QUERY),
        "new": new_documents(root / "new"),
    }


def wait_for(flag: Path, point: str, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 240
    while not flag.exists():
        if not alive():
            pytest.fail(f"ingest ended before reaching {point}")
        if time.monotonic() > deadline:
            pytest.fail(f"ingest did not reach {point} within 240 s")
        time.sleep(0.05)


def kill_at(point: str, args: list[str], cwd: Path) -> None:
    """Run the CLI under the harness in a fresh interpreter, wait until it
    reaches `point`, SIGKILL it."""
    flag = cwd / f"reached-{point}"
    proc = subprocess.Popen(
        [sys.executable, str(HARNESS), point, str(flag), "--", *args],
        cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(flag, point, lambda: proc.poll() is None)
    finally:
        proc.kill()  # SIGKILL: no handler, no cleanup, no flush
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


class Zygote:
    """The harness in --zygote mode: each run is a forked process running the
    real CLI code, killed with SIGKILL; imports and jieba are loaded once."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HARNESS), "--zygote"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def kill_at(self, point: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        flag = cwd / f"reached-{point}"
        assert self.proc.stdin and self.proc.stdout
        request = {"point": point, "flag": str(flag), "cwd": str(cwd), "args": args, "env": env or {}}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        try:
            wait_for(flag, point, lambda: _alive(pid))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = json.loads(self.proc.stdout.readline())["status"]
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(timeout=30)
        self.proc.stdout.close()  # type: ignore[union-attr]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by the zygote) is not alive
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    return True


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    z = Zygote()
    yield z
    z.close()


Opener = Callable[..., Engine]


@pytest.fixture(scope="module")
def open_index(usem: UsemEmbedder) -> Opener:
    """Engine.open with the session's model and one tokenizer for every open
    (each new tokenizer loads jieba's dictionary again, about two seconds)."""
    tokenizer = ChineseTokenizer()
    return lambda index, **kw: Engine.open(index, embedder=usem, tokenizer=tokenizer, **kw)


def leftovers(index: Path) -> list[str]:
    """What a killed writer can leave: staging or trash folders, CURRENT.tmp,
    versions newer than the live one."""
    directory = IndexDirectory(index)
    live = directory.current()[0]
    found = [p.name for p in directory.versions.iterdir() if p.name.startswith(".") or p.name > live]
    return found + (["CURRENT.tmp"] if (index / "CURRENT.tmp").exists() else [])


def check_kill_landed(point: str, index: Path, base: dict) -> None:
    """The state a kill at `point` must leave behind, so a test cannot pass by
    killing too early or too late."""
    versions = index / "versions"
    names = sorted(p.name for p in versions.iterdir())
    staging = [versions / n for n in names if n.startswith(".staging-")]
    live = (index / "CURRENT").read_text()
    if point in ("read", "embed"):
        assert names == base["versions"]
    elif point in ("write", "seal"):
        assert len(staging) == 1 and not (staging[0] / "manifest.json").exists()
        assert (staging[0] / "vectors.npy").exists() == (point == "seal")
    elif point == "rename":
        assert len(staging) == 1 and (staging[0] / "manifest.json").exists()
    elif point == "renamed":
        assert [n for n in names if n > live] and not (index / "CURRENT.tmp").exists()
    elif point == "pointer":
        assert (index / "CURRENT.tmp").exists()
    elif point == "replaced":
        assert live != base["version"] and base["versions"][0] in names  # not pruned yet
    elif point == "prune":
        assert [n for n in names if n.startswith(".trash-")]


def check_recovered(index: Path, base: dict, open_index: Opener) -> Engine:
    """No leftovers, every version verifies in full, the live one holds old and new documents."""
    assert leftovers(index) == []
    directory = IndexDirectory(index)
    for version in directory.versions.iterdir():
        directory.read_manifest(version, verify_all=True)
    engine = open_index(index)
    documents = {d.doc_id for d in engine.backend.view().documents()}
    assert base["documents"] < documents and len(documents) == len(base["documents"]) + 6
    assert "qinghe" in engine.search(NEW_QUERY, k=1).hits[0].source
    return engine


@pytest.mark.parametrize("point", BEFORE_SWITCH + AFTER_SWITCH)
def test_ingest_killed_at_each_step(point: str, base: dict, tmp_path: Path, zygote: Zygote, open_index: Opener) -> None:
    index = tmp_path / "index"
    shutil.copytree(base["index"], index)
    zygote.kill_at(point, ["ingest", str(base["new"]), "--index-dir", str(index), "--threads", "1"], tmp_path)
    check_kill_landed(point, index, base)

    engine = open_index(index)
    if point in BEFORE_SWITCH:
        assert engine.search(QUERY, k=5).version == base["version"]
        assert hits_of(engine, QUERY) == base["hits"]
    else:  # the kill came after the switch: the new version is live and complete
        documents = {d.doc_id for d in engine.backend.view().documents()}
        assert base["documents"] < documents and len(documents) == len(base["documents"]) + 6
        assert "qinghe" in engine.search(NEW_QUERY, k=1).hits[0].source

    # The next writer cleans up, even when it finds nothing to change.
    report = open_index(index).ingest([base["new"]])
    assert not report.failed
    assert len(report.added if point in BEFORE_SWITCH else report.unchanged) == 6
    check_recovered(index, base, open_index)


def test_cli_rerun_after_a_kill_completes(base: dict, tmp_path: Path, open_index: Opener) -> None:
    """The real command, not just the engine, recovers: killed with an orphan
    version on disk, `policyqa ingest` run again finishes and leaves nothing behind."""
    index = tmp_path / "index"
    shutil.copytree(base["index"], index)
    args = ["ingest", str(base["new"]), "--index-dir", str(index), "--threads", "1"]
    kill_at("renamed", args, tmp_path)
    assert leftovers(index)
    proc = subprocess.run(
        [sys.executable, "-m", "policyqa.service", *args], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert "6 added" in proc.stderr
    check_recovered(index, base, open_index)


@pytest.mark.parametrize("point", ["seal"])
def test_rebuild_killed_keeps_the_old_index(
    point: str, base: dict, tmp_path: Path, zygote: Zygote, open_index: Opener
) -> None:
    """`ingest --rebuild` replaces the index in one commit: killed before it, the
    old index is still live and answers as before (it used to move CURRENT
    aside first, so a killed rebuild left no index at all)."""
    index = tmp_path / "index"
    shutil.copytree(base["index"], index)
    args = ["ingest", str(base["new"]), "--index-dir", str(index), "--rebuild", "--threads", "1"]
    zygote.kill_at(point, args, tmp_path)
    assert (index / "CURRENT").read_text() == base["version"]
    assert hits_of(open_index(index), QUERY) == base["hits"]
    # and a finished rebuild holds the new documents only
    open_index(index, rebuild=True).ingest([base["new"]])
    engine = open_index(index)
    assert len(engine.backend.view().documents()) == 6
    assert leftovers(index) == []


def test_rebuild_repairs_a_damaged_index(base: dict, tmp_path: Path, open_index: Opener) -> None:
    """The fix every corruption message names works: `ingest --rebuild` on an
    index whose live version is damaged (it is never opened)."""
    index = tmp_path / "index"
    shutil.copytree(base["index"], index)
    vectors = IndexDirectory(index).current()[1] / "vectors.npy"
    os.truncate(vectors, 100)
    open_index(index, rebuild=True).ingest([base["new"]])
    assert "qinghe" in open_index(index).search(NEW_QUERY, k=1).hits[0].source


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("point", ["embed", "renamed"])
def test_service_killed_during_an_upload(
    point: str, base: dict, tmp_path: Path, zygote: Zygote, usem: UsemEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`policyqa serve` killed while it adds an uploaded document: the old
    index answers as before, and the next start of the service removes what
    the upload left (before its first request), after which the upload works."""
    from fastapi.testclient import TestClient

    from policyqa.service.app import create_app
    from policyqa.service.settings import Settings

    for name in [n for n in os.environ if n.startswith("POLICYQA_")]:
        monkeypatch.delenv(name)
    index = tmp_path / "index"
    shutil.copytree(base["index"], index)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    upload = ("qinghe.txt", "青禾县智慧农业示范区：到2027年建成高标准农田15万亩。".encode())

    def post_upload() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it
            httpx.post(f"{url}/documents", files={"file": upload}, timeout=300)

    def start_and_upload() -> None:
        deadline = time.monotonic() + 240
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        threading.Thread(target=post_upload, daemon=True).start()

    starter = threading.Thread(target=start_and_upload, daemon=True)
    starter.start()
    args = ["serve", "--index-dir", str(index), "--port", str(port), "--threads", "1"]
    zygote.kill_at(point, args, tmp_path, env={"POLICYQA_SEEDS_DIR": str(tmp_path / "no-seeds")})
    starter.join(10)
    assert (index / "CURRENT").read_text() == base["version"]
    assert bool(leftovers(index)) == (point == "renamed")

    settings = Settings(index_dir=index, seeds_dir=tmp_path / "no-seeds")
    with TestClient(create_app(settings, engine=open_engine(index, usem))) as client:
        assert leftovers(index) == []  # cleaned at start-up, before any request
        hits = client.post("/search", json={"query": QUERY, "k": 5}).json()["hits"]
        assert [(h["chunk_id"], round(h["score"], 6)) for h in hits] == base["hits"]
        r = client.post("/documents", files={"file": upload})
        assert r.status_code == 201 and r.json()["status"] == "added"
    assert leftovers(index) == []


def test_without_current_no_version_is_taken_for_garbage(tmp_path: Path) -> None:
    """Leftovers are staging and trash folders, and versions newer than the live
    one. With CURRENT missing, or naming no version, complete versions stay
    (they may be the only copy of the index); only the certain leftovers go."""
    directory = IndexDirectory(tmp_path / "index")
    staging = directory.new_staging()
    (staging / "data.bin").write_bytes(b"x")
    name = directory.commit(staging, {"model_id": "m"})
    for pointer in (None, "v-does-not-exist"):
        (directory.versions / ".staging-dead").mkdir()
        (directory.versions / f".trash-{name}").mkdir()
        current = directory.root / "CURRENT"
        if pointer is None:
            current.unlink(missing_ok=True)
        else:
            current.write_text(pointer)
        assert sorted(p.name for p in directory.leftovers()) == [".staging-dead", f".trash-{name}"]
        assert sorted(directory.clean_staging()) == [".staging-dead", f".trash-{name}"]
        assert [p.name for p in directory.versions.iterdir()] == [name]
