"""Shared fixtures: the real embedded model and a seed index built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"


@pytest.fixture(scope="session")
def usem() -> UsemEmbedder:
    return UsemEmbedder(threads=2)


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory: pytest.TempPathFactory, usem: UsemEmbedder) -> Path:
    """An index of the five seed reports, built with the real model; treat as read-only."""
    root = tmp_path_factory.mktemp("seed-index")
    Engine.open(root / "index", embedder=usem).ingest([SEEDS])
    return root / "index"


@pytest.fixture()
def seed_engine(seed_index: Path, usem: UsemEmbedder) -> Engine:
    return Engine.open(seed_index, embedder=usem)


@pytest.fixture()
def seed_copy(tmp_path: Path) -> Path:
    """A private copy of the seed folder that a test may edit."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
