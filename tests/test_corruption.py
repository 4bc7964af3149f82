"""A damaged index is refused with an error that names the file and the fix.

For every file of a committed version: truncated, and (separately) with one
byte changed in place so that its size stays the same. Opening the engine
raises IndexCorruptError naming that file and `policyqa ingest --rebuild`; it
never answers from the damaged data. Plus: a manifest from a newer format, a
different model, the command line's one-line errors, `policyqa verify`, and
(files too big to hash on open) no crash, only errors or answers that
`verify` then flags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.errors import IndexCorruptError, IndexVersionError, ModelMismatchError
from policyqa.index.store import IndexDirectory
from policyqa.index.tokenize import ChineseTokenizer
from policyqa.service.cli import app

REPO = Path(__file__).resolve().parent.parent
FIX = "policyqa ingest --rebuild"


def version_files(index: Path) -> list[str]:
    folder = IndexDirectory(index).current()[1]
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def alter(data: bytes) -> bytes:
    """One byte in the middle changed to another of its kind, so text stays
    plausible: a digit to a digit, a letter to a letter, a UTF-8 continuation
    byte to another (a different Chinese character), anything else flipped."""
    out = bytearray(data)
    i = len(out) // 2
    b = out[i]
    if 0x30 <= b <= 0x39:
        out[i] = 0x30 + (b - 0x30 + 1) % 10
    elif 0x61 <= b <= 0x7A:
        out[i] = 0x61 + (b - 0x61 + 1) % 26
    elif 0x41 <= b <= 0x5A:
        out[i] = 0x41 + (b - 0x41 + 1) % 26
    else:
        out[i] = b ^ 0x01
    assert out != data and len(out) == len(data)
    return bytes(out)


@pytest.fixture(scope="module")
def tokenizer() -> ChineseTokenizer:
    return ChineseTokenizer()


@pytest.fixture()
def index(seed_index: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    return copy


def test_every_file_of_a_version_is_covered(seed_index: Path) -> None:
    """The parametrized cases below list every file a version holds."""
    assert version_files(seed_index) == sorted(FILES)


FILES = [
    "manifest.json",
    "dense.faiss",
    "vectors.npy",
    *(f"chunks/{n}" for n in ["documents.json", "texts.bin"]),
    *(f"chunks/chunk_{c}.npy" for c in ["doc_row", "ordinal", "start", "end", "byte_start", "byte_end"]),
    *(f"lexical/{n}" for n in ["lexical.json", "vocab.json"]),
    *(
        f"lexical/{n}.npy"
        for n in ["doc_indptr", "doc_terms", "doc_tf", "doc_len", "term_indptr", "term_docs", "term_tf"]
    ),
]


@pytest.mark.parametrize("how", ["truncated", "altered"])
@pytest.mark.parametrize("rel", FILES)
def test_damaged_file_is_named_with_the_fix(
    rel: str, how: str, index: Path, usem: UsemEmbedder, tokenizer: ChineseTokenizer
) -> None:
    path = IndexDirectory(index).current()[1] / rel
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else alter(data))
    with pytest.raises(IndexCorruptError) as err:
        Engine.open(index, embedder=usem, tokenizer=tokenizer)
    message = str(err.value)
    assert str(path) in message and FIX in message
    assert "\n" not in message


def test_newer_format_version(index: Path, usem: UsemEmbedder, tokenizer: ChineseTokenizer) -> None:
    manifest = IndexDirectory(index).current()[1] / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["format_version"] = 99
    manifest.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(IndexVersionError, match=r"manifest\.json has format version 99.*upgrade policyqa"):
        Engine.open(index, embedder=usem, tokenizer=tokenizer)


class OtherModel:
    model_id = "intfloat/multilingual-e5-small"
    dim = 384

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        return np.zeros((len(texts), self.dim), np.float32)

    encode_documents = encode_queries


def test_model_mismatch_names_both_models(seed_index: Path, usem: UsemEmbedder, tokenizer: ChineseTokenizer) -> None:
    with pytest.raises(ModelMismatchError) as err:
        Engine.open(seed_index, embedder=OtherModel(), tokenizer=tokenizer)  # type: ignore[arg-type]
    message = str(err.value)
    assert usem.model_id in message and "512-d" in message
    assert "intfloat/multilingual-e5-small (384-d)" in message and "--rebuild" in message


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policyqa.service", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_cli_prints_one_line_and_exits_non_zero(index: Path, seed_index: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    shutil.copytree(seed_index, newer)
    manifest = IndexDirectory(newer).current()[1] / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "format_version": 2}), encoding="utf-8")
    os.truncate(IndexDirectory(index).current()[1] / "vectors.npy", 1000)
    for damaged, needles in [(index, ["vectors.npy", FIX]), (newer, ["format version 2", "upgrade policyqa"])]:
        proc = run_cli("search", "数字经济", "--index-dir", str(damaged), cwd=tmp_path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert lines[0].startswith("error: ") and all(n in lines[0] for n in needles), lines[0]


def test_verify_checks_every_byte(index: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", "--index-dir", str(index)])
    assert ok.exit_code == 0 and "all checksums match" in ok.output
    texts = IndexDirectory(index).current()[1] / "chunks" / "texts.bin"
    texts.write_bytes(alter(texts.read_bytes()))
    bad = runner.invoke(app, ["verify", "--index-dir", str(index)])
    assert bad.exit_code == 1 and "texts.bin does not match its checksum" in bad.output
    missing = runner.invoke(app, ["verify", "--index-dir", str(index.parent / "none")])
    assert missing.exit_code == 1 and "no index" in missing.output


# Run in a subprocess, so that a crash in native code (FAISS, numpy memory
# maps) shows up as a signal instead of taking pytest down with it.
BIG_FILES_SCRIPT = r"""
import json, shutil, sys
from pathlib import Path
import policyqa.index.store as store
store._HASH_ON_OPEN_LIMIT = -1  # as for files over 64 MB: sizes checked on open, bytes only by verify
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.errors import PolicyQAError
from policyqa.index.tokenize import ChineseTokenizer
src, work = Path(sys.argv[1]), Path(sys.argv[2])
embedder, tokenizer = UsemEmbedder(threads=1), ChineseTokenizer()
folder_name = store.IndexDirectory(src).current()[1].name
rels = sorted(p.relative_to(src / "versions" / folder_name).as_posix()
              for p in (src / "versions" / folder_name).rglob("*") if p.is_file())
for rel in rels:
    for how in ("truncated", "header", "middle", "tail"):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(src, work)
        path = work / "versions" / folder_name / rel
        data = bytearray(path.read_bytes())
        if how == "truncated":
            data = data[: len(data) // 2]
        else:
            at = {"header": min(60, len(data) - 1), "middle": len(data) // 2, "tail": len(data) - 1}[how]
            data[at] ^= 0x41
        path.write_bytes(bytes(data))
        print(json.dumps({"case": [rel, how]}), flush=True)  # the last line names a crashing case
        try:
            engine = Engine.open(work, embedder=embedder, tokenizer=tokenizer)
            engine.search("数字经济增加值占比目标", k=5)  # Chinese only: no bridge to build
            outcome, message = "answered", ""
        except PolicyQAError as exc:
            outcome, message = type(exc).__name__, str(exc)
        except Exception as exc:  # not a crash, but not a clean error either
            outcome, message = "unexpected " + type(exc).__name__ + ": " + str(exc)[:200], ""
        try:
            store.IndexDirectory(work).read_manifest(store.IndexDirectory(work).current()[1], verify_all=True)
            verified = True
        except PolicyQAError:
            verified = False
        print(json.dumps({"case": [rel, how], "outcome": outcome, "message": message, "verified": verified}),
              flush=True)
"""


@pytest.mark.slow
def test_files_too_big_to_hash_never_crash(seed_index: Path, tmp_path: Path) -> None:
    """With hashing on open off (as for files over 64 MB), damage to any file
    at its header, middle or end never crashes the process: opening fails with
    a clean error, or the answer comes from damaged data, which is why
    `policyqa verify` exists. It flags every one of these cases."""
    script = tmp_path / "big_files.py"
    script.write_text(BIG_FILES_SCRIPT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(seed_index), str(tmp_path / "work")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, f"crashed (exit {proc.returncode}) at {lines[-1:]}: {proc.stderr[-2000:]}"
    results = [r for r in lines if "outcome" in r]
    assert len(results) == len(FILES) * 4
    assert [r for r in results if r["outcome"].startswith("unexpected")] == []
    assert [r["case"] for r in results if r["verified"]] == []
    # truncation is always caught on open, by the size check
    assert all(r["outcome"] == "IndexCorruptError" for r in results if r["case"][1] == "truncated")
    # and whichever layer notices the damage names the fix that works (a plain
    # `policyqa ingest` of an unchanged corpus would change nothing)
    assert [r for r in results if r["outcome"] == "IndexCorruptError" and FIX not in r["message"]] == []
