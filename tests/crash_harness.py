"""Run the `policyqa` command line with a pause at one named point of an ingest,
so that a test can SIGKILL it exactly there.

    python tests/crash_harness.py POINT FLAG_FILE -- ingest PATH --index-dir DIR ...

At POINT the process writes POINT into FLAG_FILE and sleeps; the test waits for
the file, then kills it. The hooks wrap library functions from the outside (this
script is the only place they exist), so the engine itself has no test hooks
and reads no environment variables.

    python tests/crash_harness.py --zygote

reads one JSON request per line ({"point", "flag", "cwd", "args", "env"}) and forks a
child per request that runs exactly as above, answering {"pid"} at once and
{"pid", "status"} when the child is gone. The imports and jieba's dictionary
(seconds each) are then paid once per test module instead of once per kill.

Points, in the order an ingest reaches them:
    read        reading the second input file
    embed       after the first batch of chunks is embedded
    write       the staging folder half written (vectors.npy not yet saved)
    seal        staging complete, before its manifest is written
    rename      manifest written and synced, before the rename into versions/
    renamed     renamed into versions/, CURRENT still names the old version
    pointer     CURRENT.tmp written, before it replaces CURRENT
    replaced    CURRENT replaced, before old versions are pruned
    prune       an old version being deleted, half of its files gone
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

POINTS = ("read", "embed", "write", "seal", "rename", "renamed", "pointer", "replaced", "prune")


def main() -> None:
    point, flag = sys.argv[1], Path(sys.argv[2])
    if point not in POINTS:
        sys.exit(f"unknown point {point!r}: use one of {', '.join(POINTS)}")
    args = sys.argv[sys.argv.index("--") + 1 :]

    def pause(at: str) -> None:
        if at == point:
            flag.write_text(at)
            time.sleep(3600)  # until the test kills us

    install_hooks(pause)
    from policyqa.service.cli import main as cli_main

    sys.argv = ["policyqa", *args]
    cli_main()


def zygote() -> None:
    import json

    from policyqa.index import engine
    from policyqa.index.tokenize import ChineseTokenizer
    from policyqa.service import cli, commands  # noqa: F401  everything the CLI imports, once

    warm = ChineseTokenizer()
    warm.tokenize("预热分词词典")
    # Only the default tokenizer is shared (the CLI's ingest asks for that one).
    engine.ChineseTokenizer = lambda **_: warm  # type: ignore[misc,assignment]
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: one CLI run, then gone without running the parent's cleanup
            code = 0
            try:
                os.chdir(request["cwd"])
                os.environ.update(request.get("env", {}))
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                sys.argv = [__file__, request["point"], request["flag"], "--", *request["args"]]
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                code = 1
            os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "status": status}), flush=True)


def install_hooks(pause) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    import policyqa.index.engine as engine
    import policyqa.index.store as store

    original_read = engine.read_document
    reads = {"n": 0}

    def read_document(*a, **kw):  # type: ignore[no-untyped-def]
        reads["n"] += 1
        if reads["n"] == 2:
            pause("read")
        return original_read(*a, **kw)

    engine.read_document = read_document

    original_prepare = engine.Engine.prepare

    def prepare(self, docs, progress=None):  # type: ignore[no-untyped-def]
        def step(stage: str, done: int, total: int) -> None:
            if stage == "embed" and done:
                pause("embed")
            if progress:
                progress(stage, done, total)

        return original_prepare(self, docs, step)

    engine.Engine.prepare = prepare

    original_save = np.save

    def save(file, arr, *a, **kw):  # type: ignore[no-untyped-def]
        if str(file).endswith("vectors.npy") and ".staging-" in str(file):
            pause("write")
        return original_save(file, arr, *a, **kw)

    np.save = save

    original_commit = store.IndexDirectory.commit

    def commit(self, staging, manifest):  # type: ignore[no-untyped-def]
        pause("seal")
        return original_commit(self, staging, manifest)

    store.IndexDirectory.commit = commit

    original_rename, original_replace = os.rename, os.replace

    def rename(src, dst, *a, **kw):  # type: ignore[no-untyped-def]
        sealing = ".staging-" in str(src)
        if sealing:
            pause("rename")
        result = original_rename(src, dst, *a, **kw)
        if sealing:
            pause("renamed")
        return result

    def replace(src, dst, *a, **kw):  # type: ignore[no-untyped-def]
        pointer = str(dst).endswith("CURRENT")
        if pointer:
            pause("pointer")
        result = original_replace(src, dst, *a, **kw)
        if pointer:
            pause("replaced")
        return result

    os.rename, os.replace = rename, replace

    original_rmtree = shutil.rmtree

    def rmtree(path, *a, **kw):  # type: ignore[no-untyped-def]
        target = Path(path)
        if target.parent.name == "versions" and not target.name.startswith(".staging-"):
            files = sorted(p for p in target.rglob("*") if p.is_file())
            for file in files[: len(files) // 2]:
                file.unlink()
            pause("prune")
        return original_rmtree(path, *a, **kw)

    shutil.rmtree = rmtree


if __name__ == "__main__":
    zygote() if sys.argv[1:] == ["--zygote"] else main()
