"""The code stays clean under the project's own ruff settings (pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra: pip install -e '.[test]')")
    proc = subprocess.run([ruff, "check", "--output-format", "concise", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_nothing_outside_the_library_reaches_into_the_backend() -> None:
    """service/ and eval/ ask the engine (exists, documents, stats, view...), never its storage."""
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for folder in ("service", "eval")
        for path in sorted((REPO / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ".backend." in line or "engine.backend" in line or ".store." in line
    ]
    assert found == []
