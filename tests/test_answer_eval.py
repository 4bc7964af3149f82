"""answer_eval: fold splits, absent-condition indexes and the summary arithmetic."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from policyqa.eval.answer_eval import (
    AnswerRow,
    absent_engines,
    answer_split,
    ask_one,
    fold_of,
    run_cmrc,
    summarize,
    to_markdown,
)
from policyqa.eval.datasets import Question
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.types import Document


def row(
    condition: str, found: bool, hit: bool, qtype: str = "place", f1: float | None = 0.0, ms: float = 10.0
) -> AnswerRow:
    return AnswerRow("q", "cmrc2018", condition, "heldout", "zh", qtype, found, hit, "", f1, f1, 1, 10, ms)


def test_folds_and_splits() -> None:
    assert [fold_of(i) for i in (0, 9, 10, 49, 50)] == [0, 0, 1, 4, 0]
    assert [answer_split(i) for i in (0, 1, 5, 10)] == ["dev", "heldout", "dev", "dev"]


def test_summary_arithmetic() -> None:
    rows = [
        row("present", True, True, f1=1.0),
        row("present", True, False, f1=0.5),
        row("present", False, False, qtype="description", f1=0.0),
        row("absent", False, False, f1=None),
        row("absent", True, False, f1=None),
    ]
    s = summarize(rows)
    # 1 of 3 present questions has the gold in its quotes; 1 of 3 was refused; 1 of 2 absent refused
    assert s["answer_hit"] == pytest.approx(1 / 3) and s["false_abstention"] == pytest.approx(1 / 3)
    assert s["abstention"] == 0.5
    # short answers over the 2 typed present rows: (1.0 + 0.5) / 2
    assert s["typed"] == 2 and s["f1"] == 0.75
    assert "| all | 3 | 0.333 | 0.333 | 1.00 | 2 | 0.500 | 2 |" in to_markdown("cmrc2018", rows)
    # ... and per kind asked for: the two typed rows are places, (1.0 + 0.5) / 2 (row() gives EM = F1)
    assert "| place | 2 | 0.000 | 0.750 | 0.750 |" in to_markdown("cmrc2018", rows)
    assert "by kind" not in to_markdown("seed", [row("present", True, True, f1=None)])  # no short gold


def test_ask_one_scores_quotes_and_short_answers() -> None:
    q = Question("c1", "固始站位于哪里？", "zh", "P1", "河南省固始县", "dev", "cmrc", ("河南省固始县",))
    quote = SimpleNamespace(quote="固始站位于河南省固始县段集镇。")
    answer = SimpleNamespace(found=True, citations=[quote], short_answer=SimpleNamespace(text="河南省固始县段集镇"))
    r = ask_one(lambda _: answer, q, "cmrc2018", "present")
    assert r.hit and r.qtype == "place" and r.exact == 0.0
    assert r.f1 == pytest.approx(2 * (6 / 9) * 1 / (6 / 9 + 1))  # run 6 of 9 predicted, 6 of 6 gold
    absent = ask_one(lambda _: answer, q, "cmrc2018", "absent")
    assert not absent.hit and absent.found


def paragraphs(n: int) -> list[Document]:
    return [
        Document(
            f"P{i}",
            f"标题{i}",
            f"t/P{i}",
            f"第{i}段讲述园区{i}号的发展目标。",
            hashlib.sha256(str(i).encode()).hexdigest(),
        )
        for i in range(n)
    ]


def test_absent_engines_copy_the_index_less_each_fold(tmp_path: Path, usem: UsemEmbedder) -> None:
    docs = paragraphs(12)
    full = Engine.open(tmp_path / "full", embedder=usem)
    full.apply(docs)
    opened = []

    def open_engine(path: Path) -> Engine:
        opened.append(path)
        return Engine.open(path, embedder=usem)

    engines = absent_engines(tmp_path / "full", docs, tmp_path / "folds", open_engine, folds=2)
    assert [sorted(d.doc_id for d in e.backend.view().documents()) for e in engines] == [
        ["P10", "P11"],
        [f"P{i}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)],
    ]
    assert len(full.backend.view().documents()) == 12  # the full index is untouched
    again = absent_engines(tmp_path / "full", docs, tmp_path / "folds", open_engine, folds=2)
    assert [e.backend.view().version for e in again] == [e.backend.view().version for e in engines]  # reused


def test_an_eval_index_holds_its_corpus_alone_whatever_the_working_directory(
    tmp_path: Path, usem: UsemEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from another folder, the same files get other source names; the eval
    index must not end up holding both (it did: every answer then saw each passage twice)."""
    from policyqa.eval.suite import load_dataset

    corpus = tmp_path / "work" / "corpus"
    corpus.mkdir(parents=True)
    (corpus / "a.txt").write_text("广阳湾智创生态城提出数字经济目标。", encoding="utf-8")
    (corpus / "b.txt").write_text("璧山区发展绿色制造。", encoding="utf-8")
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        '{"id": "x", "question": "哪里？", "language": "zh", "gold_doc": "a", "answer": "广阳湾", "split": "dev"}\n',
        encoding="utf-8",
    )
    _, build = load_dataset(str(questions), corpus)
    engine = Engine.open(tmp_path / "index", embedder=usem)
    monkeypatch.chdir(tmp_path / "work")
    build(engine, None)
    assert sorted(d.source for d in engine.backend.view().documents()) == ["corpus/a.txt", "corpus/b.txt"]
    monkeypatch.chdir(tmp_path)
    build(engine, None)
    assert sorted(d.source for d in engine.backend.view().documents()) == ["work/corpus/a.txt", "work/corpus/b.txt"]


def test_each_question_is_answered_by_its_folds_models_in_both_conditions(tmp_path: Path, usem: UsemEmbedder) -> None:
    # Cross-fitting: the answerer for a question of fold f must be the one fitted without f,
    # present (full index) and absent (the index less fold f) alike.
    docs = paragraphs(12)  # P0-P9 are fold 0, P10-P11 fold 1
    full = Engine.open(tmp_path / "full", embedder=usem)
    full.apply(docs)
    questions = [Question(f"q{i}", f"园区{i}号的发展目标？", "zh", f"P{i}", "目标", "heldout", "cmrc") for i in (3, 11)]
    asked: list[tuple[str, int, bool]] = []

    def make_answerer(engine: Engine, fold: int):  # type: ignore[no-untyped-def]
        held = {d.doc_id for d in engine.backend.view().documents()}

        def answer(question: str) -> SimpleNamespace:
            q = next(q for q in questions if q.question == question)
            asked.append((q.qid, fold, q.gold_doc in held))
            return SimpleNamespace(found=False, citations=[], short_answer=None)

        return answer

    rows = run_cmrc(
        full, tmp_path / "full", docs, questions, make_answerer, tmp_path / "folds",
        lambda p: Engine.open(p, embedder=usem),
    )
    assert sorted(asked) == [("q11", 1, False), ("q11", 1, True), ("q3", 0, False), ("q3", 0, True)]
    assert sorted((r.qid, r.condition) for r in rows) == [
        ("q11", "absent"), ("q11", "present"), ("q3", "absent"), ("q3", "present"),
    ]
