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


def import_graph() -> dict[str, set[str]]:
    """policyqa's modules and the policyqa modules each imports, at any depth of the code
    (an import inside a function closes a cycle as surely as one at the top)."""
    import ast

    packages = {"index": "policyqa.index", "service": "policyqa.service", "eval": "policyqa.eval"}
    graph: dict[str, set[str]] = {}
    for folder, package in packages.items():
        for path in sorted((REPO / folder).glob("*.py")):
            module = f"{package}.{path.stem}" if path.stem != "__init__" else package
            edges = graph.setdefault(module, set())
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    base = package if node.level == 1 else (node.module or "")
                    if node.level == 1 and node.module:
                        base = f"{package}.{node.module}"
                    names = [f"{base}.{a.name}" for a in node.names] + [base]
                elif isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    continue
                edges |= {n for n in names if n.startswith("policyqa.")}
    return {m: {e for e in edges if e in graph and e != m} for m, edges in graph.items()}


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_library_imports_neither_the_service_nor_the_evaluation() -> None:
    """index/ stands alone; service/ may use eval/ only for the CLI's eval and bench commands."""
    graph = import_graph()
    library = {m: e for m, e in graph.items() if m.startswith("policyqa.index")}
    assert {e for edges in library.values() for e in edges if not e.startswith("policyqa.index")} == set()
    service = {m: e for m, e in graph.items() if m.startswith("policyqa.service")}
    users_of_eval = {m for m, e in service.items() if any(x.startswith("policyqa.eval") for x in e)}
    assert users_of_eval <= {"policyqa.service.commands", "policyqa.service.eval_answers"}


def test_nothing_is_installed_as_a_bare_index_service_or_eval(tmp_path: Path) -> None:
    code = (
        "import importlib.util as u, policyqa.index.engine, policyqa.service.app, policyqa.eval.suite;"
        "print([n for n in ('index', 'service', 'eval') if u.find_spec(n) is not None])"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
