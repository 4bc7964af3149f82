"""Figures however they are written (issue 13, item 5): a question that writes
a figure one way finds the passage that writes it the other way, in both
directions, through the real engine (jieba, BM25, FAISS, the embedded model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policyqa.index.engine import Engine
from policyqa.index.figures import alternatives

# (how a report writes it, how a question writes it)
PAIRS = [
    ("3.3%", "百分之三点三"),
    ("30%", "三成"),
    ("114万", "一百一十四万"),
    ("15%", "百分之十五"),
    ("3.5亿", "三点五亿"),
]
# Distractors: the same sentence with other figures, so only the figure can decide.
OTHER = ["4.6%", "百分之七", "二十万", "52万", "六成", "8.1亿"]


@pytest.mark.parametrize(
    ("stated", "asked"), [*PAIRS, *[(b, a) for a, b in PAIRS]], ids=lambda v: str(v)
)
def test_a_figure_finds_its_other_writing(stated: str, asked: str, tmp_path: Path, usem: Any) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / "target.txt").write_text(f"示范区居民收入增长{stated}，居全市前列。", encoding="utf-8")
    for i, other in enumerate(OTHER):
        (folder / f"other{i}.txt").write_text(f"示范区居民收入增长{other}，居全市前列。", encoding="utf-8")
    engine = Engine.open(tmp_path / "index", embedder=usem)
    engine.ingest([folder])
    hits = engine.search(f"哪里居民收入增长{asked}？", k=3, mode="lexical").hits
    assert hits and hits[0].source.endswith("target.txt"), [h.text for h in hits]


@pytest.mark.parametrize(
    "text",
    ["一体化发展", "统一大市场", "十四五规划", "第一季度", "成立于", "成员单位", "成本下降", "万一"],
)
def test_words_that_are_not_figures_are_left_alone(text: str) -> None:
    assert alternatives(text) == []


def test_alternatives_each_way() -> None:
    assert alternatives("增长百分之三点三，超过三成，达到一百一十四万人") == ["3.3%", "30%", "114万"]
    assert alternatives("增长3.3%，占30%，达到114万人") == ["百分之三点三", "百分之三十", "三成", "一百一十四万"]
