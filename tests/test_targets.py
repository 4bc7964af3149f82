"""The targets table: extraction from sentences (written for the tests and the
seed reports, checked against rows found by reading the reports by hand),
indicator matching, storage that follows the index's documents, and the
HTTP and command-line reads of it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from policyqa.index.engine import Engine
from policyqa.index.targets import CSV_COLUMNS, REPORTED, TARGET, extract, indicator_matches, to_csv
from policyqa.index.tokenize import ChineseTokenizer
from policyqa.index.types import Document

TOKENIZER = ChineseTokenizer()

# Every target with a deadline year stated in the five seed reports, found by
# reading them (2026-11-30): (subject, indicator, value, unit, qualifier, direction, year).
SEED_TARGETS = {
    ("广阳湾智创生态城", "数字经济增加值占GDP比重", 35.0, "%", "=", "", 2025),
    ("广阳湾智创生态城", "R&D经费投入占GDP比重", 4.0, "%", "=", "", 2025),
    ("重庆经开区", "绿色产业增加值占工业总产值比重", 30.0, "%", "≥", "", 2025),
    ("重庆经开区", "单位规上工业增加值能耗", 15.0, "%", "=", "下降", 2025),
}


def records_of(text: str, title: str = "") -> list[Any]:
    return extract(text, "d1", title, TOKENIZER.tag)


def test_the_seed_reports_targets_precision_and_recall(seed_engine: Engine) -> None:
    records = seed_engine.targets()
    targets = [r for r in records if r.kind == TARGET]
    found = {(r.subject, r.indicator, r.value, r.unit, r.qualifier, r.direction, r.year) for r in targets}
    right = found & SEED_TARGETS
    precision, recall = len(right) / max(len(found), 1), len(right) / len(SEED_TARGETS)
    assert precision >= 0.9 and recall >= 0.9, (found - SEED_TARGETS, SEED_TARGETS - found)
    for r in records:  # every row is a citation: the exact sentence, value and subject spans
        text = seed_engine.document_with_text(r.doc_id)[1]
        assert text[r.start : r.end] == r.quote
        assert r.value_start >= r.start and text[r.value_start : r.value_end].startswith(f"{r.value:g}")
        assert r.subject_start < 0 or text[r.subject_start : r.subject_end] == r.subject


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("到2025年，全区规上工业产值突破3000亿元。", ("", "规上工业产值", 3000.0, "亿元", ">", "", 2025)),
        ("力争到2030年，研发投入强度不低于3.5%。", ("", "研发投入强度", 3.5, "%", "≥", "", 2030)),
        (
            "至2027年，PM2.5年均浓度控制在30微克左右，森林覆盖率达到55%左右。",
            ("", "森林覆盖率", 55.0, "%", "≈", "", 2027),
        ),
        (
            "两江新区提出，到2025年，单位地区生产总值能耗下降13.5%。",
            ("两江新区", "单位地区生产总值能耗", 13.5, "%", "=", "下降", 2025),
        ),
        ("到2025年，璧山区新能源汽车产量达到50万辆以上。", None),  # 辆 is no unit here: nothing guessed
        ("截至2024年底，高新区引进科创平台43个。", None),  # as of a date: a reported figure, not a target
        ("到2025年，能耗水平全市领先。", None),  # a target without a figure
    ],
)
def test_targets_in_sentences_written_for_the_tests(text: str, expected: tuple | None) -> None:
    targets = [r for r in records_of(text) if r.kind == TARGET]
    if expected is None:
        assert targets == []
        return
    r = targets[-1]
    assert (r.subject, r.indicator, r.value, r.unit, r.qualifier, r.direction, r.year) == expected
    assert r.quote == text and text[r.value_start : r.value_end].startswith(f"{r.value:g}")


def test_subjects_come_from_the_clause_the_paragraph_or_the_title() -> None:
    text = (
        "未来，广阳湾智创生态城将持续聚焦数字经济，到2025年，数字经济增加值占GDP比重达35%。\n\n"
        "同时，当地还将聚焦绿色低碳，到2025年，实现R&D经费投入占GDP比重达4%。\n\n"
        "到2025年，重庆经开区绿色产业增加值占工业总产值比重达到30%以上，单位规上工业增加值能耗下降15%。"
    )
    rows = [(r.subject, r.indicator) for r in records_of(text, title="一份报告")]
    assert rows == [
        ("广阳湾智创生态城", "数字经济增加值占GDP比重"),
        ("广阳湾智创生态城", "R&D经费投入占GDP比重"),  # 当地: the subject carries over to the next paragraph
        ("重庆经开区", "绿色产业增加值占工业总产值比重"),
        ("重庆经开区", "单位规上工业增加值能耗"),  # and within a sentence to its next clause
    ]
    titled = records_of("到2025年，新能源汽车产值占比达到25%。", title="璧山区高质量发展报告")
    assert titled[0].subject == "璧山区" and titled[0].subject_start == -1


def test_reported_figures_carry_their_period_and_compare_with_the_clause_before() -> None:
    text = "2021年上半年，重庆经开区地区生产总值208.2亿元，同比增长15.3%，较2019年同期增长19.3%。"
    rows = [(r.kind, r.period, r.indicator, r.value, r.unit, r.direction) for r in records_of(text)]
    assert rows == [
        (REPORTED, "2021年上半年", "地区生产总值", 208.2, "亿元", ""),
        (REPORTED, "2021年上半年", "地区生产总值", 15.3, "%", "增长"),
        (REPORTED, "2021年上半年", "地区生产总值", 19.3, "%", "增长"),
    ]


@pytest.mark.parametrize(
    ("query", "indicator", "match"),
    [
        ("数字经济占比", "数字经济增加值占GDP比重", True),
        ("数字经济", "数字经济增加值占GDP比重", True),
        ("能耗", "单位规上工业增加值能耗", True),
        ("R&D投入", "R&D经费投入占GDP比重", True),
        ("绿色产业比重", "绿色产业增加值占工业总产值比重", True),
        ("森林覆盖率", "数字经济增加值占GDP比重", False),
        ("地区生产总值", "单位规上工业增加值能耗", False),
    ],
)
def test_indicator_wordings_match_through_the_tokenizer(query: str, indicator: str, match: bool) -> None:
    assert indicator_matches(query, indicator, TOKENIZER.tokenize) is match


def test_records_follow_their_documents(tmp_path: Path, usem: Any) -> None:
    engine = Engine.open(tmp_path / "index", embedder=usem)

    def doc(text: str) -> Document:
        return Document(doc_id="plan", title="规划", source="plan.txt", text=text, fingerprint=text)

    engine.apply([doc("到2025年，两江新区数字经济增加值占比达到40%。")])
    assert [(r.subject, r.value) for r in engine.targets()] == [("两江新区", 40.0)]
    engine.apply([doc("到2030年，两江新区数字经济增加值占比达到50%。")])  # the document changed
    assert [(r.value, r.year) for r in engine.targets()] == [(50.0, 2030)]
    assert engine.targets(indicator="数字经济占比", year=2030)[0].value == 50.0
    assert engine.targets(year=2025) == [] and engine.targets(subject="璧山") == []
    reopened = Engine.open(tmp_path / "index", embedder=usem)  # stored beside the index
    assert [r.value for r in reopened.targets()] == [50.0]
    engine.apply([], remove=["plan"])
    assert engine.targets() == [] and reopened.targets() == []


def test_csv_has_a_header_and_one_row_per_record() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(records_of("到2025年，两江新区森林覆盖率达到55%。")))))
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["subject"], row["indicator"], row["value"], row["year"]) == ("两江新区", "森林覆盖率", "55.0", "2025")


# ---- reading the table: HTTP, command line, /ask -------------------------------


@pytest.fixture(scope="module")
def client(seed_index: Path, usem: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import shutil

    from fastapi.testclient import TestClient

    from policyqa.service.app import create_app
    from policyqa.service.settings import Settings

    from .support import open_engine

    index_dir = tmp_path_factory.mktemp("targets") / "index"
    shutil.copytree(seed_index, index_dir)
    settings = Settings(index_dir=index_dir, seeds_dir=index_dir.parent / "none")
    app = create_app(settings, engine=open_engine(index_dir, usem))
    with TestClient(app) as c:
        yield c


def test_get_targets_filters_and_cites(client: Any) -> None:
    everything = client.get("/targets").json()
    assert everything["total"] == len(everything["targets"]) >= 4
    rows = client.get("/targets", params={"indicator": "数字经济占比", "kind": "target"}).json()["targets"]
    assert [(r["subject"], r["value"], r["unit"], r["year"]) for r in rows] == [("广阳湾智创生态城", 35.0, "%", 2025)]
    text = client.get(f"/documents/{rows[0]['doc_id']}").json()["text"]
    assert text[rows[0]["start"] : rows[0]["end"]] == rows[0]["quote"]
    assert text[rows[0]["value_start"] : rows[0]["value_end"]] == "35%"
    by_zone = client.get("/targets", params={"subject": "经开区", "year": 2025}).json()["targets"]
    assert {r["indicator"] for r in by_zone} == {"绿色产业增加值占工业总产值比重", "单位规上工业增加值能耗"}
    assert client.get("/targets", params={"kind": "plan"}).status_code == 422
    assert client.get("/targets", params={"year": "soon"}).status_code == 422
    assert client.get("/targets?indicatr=数字经济").json()["error"]["code"] == "invalid_input"  # a misspelt filter
    assert client.get("/targets?kind=target&kind=reported").status_code == 422


def test_targets_csv_export(client: Any) -> None:
    r = client.get("/targets.csv", params={"kind": "target"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == list(CSV_COLUMNS) and len(rows) == 1 + 4
    assert {row[0] for row in rows[1:]} == {"广阳湾智创生态城", "重庆经开区"}


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Which park targets a 35% digital-economy share?", "广阳湾智创生态城"),
        ("哪个园区提出数字经济增加值占GDP比重达35%？", "广阳湾智创生态城"),
        ("经开区绿色产业占工业总产值的目标比重是多少？", "30%以上"),
        ("重庆经开区到2025年单位规上工业增加值能耗下降多少？", "15%"),
    ],
)
def test_ask_gives_the_short_answer_through_the_table(client: Any, question: str, short: str) -> None:
    answer = client.post("/ask", json={"question": question, "explain": True}).json()
    assert answer["found"] and answer["short_answer"]["text"] == short
    assert answer["explain"]["targets"]["value"] in (35.0, 30.0, 15.0)  # the record it came from
    text = client.get(f"/documents/{answer['short_answer']['doc_id']}").json()["text"]
    assert text[answer["short_answer"]["start"] : answer["short_answer"]["end"]] == short


def test_targets_command(seed_index: Path, tmp_path: Path) -> None:
    import json
    import shutil
    import subprocess
    import sys

    index_dir = tmp_path / "index"
    shutil.copytree(seed_index, index_dir)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "policyqa.service", "targets", "--index-dir", str(index_dir), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)

    out = run("--json", "--kind", "target")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["targets"]
    assert {(r["subject"], r["value"]) for r in rows} == {
        ("广阳湾智创生态城", 35.0), ("广阳湾智创生态城", 4.0), ("重庆经开区", 30.0), ("重庆经开区", 15.0)
    }
    table = run("--indicator", "能耗")
    assert table.returncode == 0 and "单位规上工业增加值能耗" in table.stdout and "下降15%" in table.stdout
    assert list(csv.reader(io.StringIO(run("--csv").stdout)))[0] == list(CSV_COLUMNS)
    bad = run("--kind", "plan")
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error: unknown --kind")
