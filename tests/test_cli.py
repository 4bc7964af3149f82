"""The command line as users run it: a real subprocess, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine

REPO = Path(__file__).resolve().parent.parent
# The fields issue 2 asks every JSON hit to carry.
HIT_KEYS = ("doc_id", "title", "source", "chunk_id", "text", "start", "end", "score", "dense_score", "lexical_score")


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "policyqa.service", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_search_before_ingest_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run("search", "数字经济", "--index-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert_one_line_error(proc, "no index", "policyqa ingest")


def test_env_var_sets_the_index_dir(tmp_path: Path) -> None:
    proc = run("search", "数字经济", cwd=tmp_path, env={"POLICYQA_INDEX_DIR": str(tmp_path / "envdir")})
    assert_one_line_error(proc, str(tmp_path / "envdir"))


def test_missing_and_unreadable_inputs(tmp_path: Path) -> None:
    proc = run("ingest", str(tmp_path / "nope.txt"), "--index-dir", str(tmp_path / "i"), cwd=tmp_path)
    assert_one_line_error(proc, "nope.txt")
    assert not (tmp_path / "i" / "CURRENT").exists()


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory: pytest.TempPathFactory, seed_index: Path) -> Path:
    target = tmp_path_factory.mktemp("cli") / "index"
    shutil.copytree(seed_index, target)
    return target


@pytest.mark.parametrize(
    "args,needle",
    [
        (["search", ""], "empty"),
        (["search", "   "], "empty"),
        (["search", "数字经济", "--mode", "fuzzy"], "lexical, dense, hybrid"),
        (["search", "数字经济", "--fusion", "max"], "weighted"),
        (["search", "数字经济", "--filter", "novalue"], "KEY=VALUE"),
        (["search", "数字经济", "--filter", "issued>=2021-01-01", "--filter", "issued=2021-06-18"], "both a value"),
        (["search", "数字经济", "--filter", "issued>=2021-01-01", "--filter", "issued<5"], "is a date"),
        (["search", "数字经济", "--filter", "level>=1", "--filter", "level<high"], "all strings"),
        (["search", "数字经济", "--sort", "newest"], "-issued"),
        (["search", "数字经济", "--queries", "/nonexistent/q.txt"], "give either"),
    ],
)
def test_search_errors(cli_index: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run(*args, "--index-dir", str(cli_index), cwd=tmp_path)
    assert_one_line_error(proc, needle)


def test_search_json_and_batch(cli_index: Path, tmp_path: Path) -> None:
    query = "数字经济增加值占GDP比重达35%"
    proc = run("search", query, "--json", "-k", "3", "--index-dir", str(cli_index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["hits"]) == 3
    hit = out["hits"][0]
    for key in HIT_KEYS:
        assert key in hit
    assert "数字经济增加值占GDP比重达35%" in hit["text"]

    queries = tmp_path / "q.txt"
    queries.write_text("数字经济\n\nWhich park targets a 35% digital-economy share?\n", encoding="utf-8")
    proc = run("search", "--queries", str(queries), "--json", "-k", "2", "--index-dir", str(cli_index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    queries = ["数字经济", "Which park targets a 35% digital-economy share?"]
    assert [json.loads(line)["query"] for line in lines] == queries


def test_date_range_filters_and_sorting(tmp_path: Path, usem: UsemEmbedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, number, issued in (
        ("old.txt", "渝府发〔2020〕3号", "2020年5月6日"),
        ("new.txt", "渝府发〔2021〕9号", "2021年7月8日"),
    ):
        lines = ["重庆市人民政府文件", number, "关于建设数字经济示范区的通知", "到2025年，数字经济增加值占比达到40%。"]
        (docs / name).write_text("\n".join([*lines, "重庆市人民政府", issued]), encoding="utf-8")
    index = str(tmp_path / "index")
    assert run("ingest", str(docs), "--index-dir", index, cwd=tmp_path).returncode == 0

    def sources(*args: str) -> list[str]:
        proc = run("search", "数字经济示范区", "--json", "--index-dir", index, *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return list(dict.fromkeys(Path(h["source"]).name for h in json.loads(proc.stdout)["hits"]))

    assert sources("--filter", "issued>=2021-01-01", "--filter", "issued<2022-01-01") == ["new.txt"]
    assert sources("--filter", "issued<2021-01-01") == ["old.txt"]
    assert sources("--sort=-issued") == ["new.txt", "old.txt"]
    assert sources("--sort", "issued") == ["old.txt", "new.txt"]
    assert sources("--filter", "doc_number=渝府发〔2021〕9号") == ["new.txt"]


def test_human_output_is_a_ranked_list(cli_index: Path, tmp_path: Path) -> None:
    proc = run("search", "璧山区地区生产总值增长", "-k", "2", "--index-dir", str(cli_index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1].startswith(" 1. ") and " 2. " in proc.stdout


def test_ingest_reports_and_reingest_is_noop(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("重庆经开区到2025年数字经济增加值占GDP比重达35%。\n", encoding="utf-8")
    (docs / "b.md").write_text("# 璧山\n璧山区一季度地区生产总值同比增长6.9%。\n", encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"")
    first = run("ingest", str(docs), "--index-dir", str(tmp_path / "i"), cwd=tmp_path)
    assert first.returncode == 1  # one file failed, the others are in
    assert "2 added" in first.stderr and "bad.txt" in first.stderr and "Traceback" not in first.stderr
    (docs / "bad.txt").unlink()
    again = run("ingest", str(docs), "--index-dir", str(tmp_path / "i"), cwd=tmp_path)
    assert again.returncode == 0 and "0 added, 0 updated, 2 unchanged" in again.stderr


def test_demo_ingests_the_seeds_once_and_answers_with_a_citation(tmp_path: Path, usem: UsemEmbedder) -> None:
    """The README's first command: seeds ingested on first use, a quoted answer with its exact span."""
    env = {"POLICYQA_SEEDS_DIR": str(REPO / "seeds")}
    index_dir = str(tmp_path / "idx")
    question = "Which park targets a 35% digital-economy share?"
    proc = run("demo", question, "--index-dir", index_dir, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "first run: ingesting" in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("short answer: 广阳湾智创生态城  (place)")
    answer = lines[1]
    assert answer.startswith("answer: ") and "数字经济增加值占GDP比重达35%" in answer
    quotes = [q for q in re.split(r"\[\d+\]", answer.removeprefix("answer: ")) if q]
    view = Engine.open(Path(index_dir), embedder=usem).backend.view()
    sources = []
    for quote, citation in zip(quotes, lines[2 : 2 + len(quotes)], strict=True):
        source, span = citation.rsplit("[", 1)[1].rstrip("]").split()
        start, end = (int(x) for x in span.split("-"))
        doc = next(d for d in view.documents() if d.source == source)
        assert view.document_text(doc.doc_id)[start:end] == quote
        sources.append(source)
    assert any(s.endswith("000_6c3b29e3f385016a.txt") for s in sources)

    again = run("demo", "上海浦东新区2021年GDP是多少？", "--index-dir", index_dir, cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "first run" not in again.stderr
    assert again.stdout.startswith("not found: ") and "上海浦东新区" in again.stdout.splitlines()[0]


# ---- policyqa ask ----


def test_ask_json_matches_the_document(cli_index: Path, tmp_path: Path, usem: UsemEmbedder) -> None:
    question = "哪个园区提出数字经济增加值占GDP比重达35%？"
    proc = run("ask", question, "--json", "--explain", "--index-dir", str(cli_index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    assert reply["found"] is True and reply["answer_type"] == "place"
    short = reply["short_answer"]
    view = Engine.open(cli_index, embedder=usem).backend.view()
    assert short["text"] == "广阳湾智创生态城"
    assert view.document_text(short["doc_id"])[short["start"] : short["end"]] == short["text"]
    for c in reply["citations"]:
        assert view.document_text(c["doc_id"])[c["start"] : c["end"]] == c["quote"]
        assert len(c["quote"]) <= 120
    assert 1 <= len(reply["citations"]) <= 3
    decision = reply["explain"]["decision"]
    assert set(decision["features"]) >= {"known_terms", "subject_in_passage"} and 0 <= decision["probability"] <= 1


def test_ask_about_an_absent_subject_is_not_found(cli_index: Path, tmp_path: Path) -> None:
    proc = run("ask", "上海浦东新区2021年GDP是多少？", "--json", "--index-dir", str(cli_index), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    reply = json.loads(proc.stdout)
    assert reply["found"] is False and reply["short_answer"] is None and reply["citations"] == []
    assert "上海浦东新区" in reply["reason"] and reply["passages"]
    plain = run("ask", "上海浦东新区2021年GDP是多少？", "--index-dir", str(cli_index), cwd=tmp_path)
    assert plain.returncode == 0 and plain.stdout.startswith("not found: ")


@pytest.mark.parametrize(
    "args, needle",
    [
        (["ask", ""], "empty"),
        (["ask", "   "], "empty"),
        (["ask", "数字经济", "--filter", "novalue"], "KEY=VALUE"),
        (["ask", "数" * 2001], "2000"),
    ],
)
def test_ask_errors(cli_index: Path, tmp_path: Path, args: list[str], needle: str) -> None:
    proc = run(*args, "--index-dir", str(cli_index), cwd=tmp_path)
    assert_one_line_error(proc, needle)


def test_ask_before_ingest_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run("ask", "数字经济", "--index-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert_one_line_error(proc, "no index", "policyqa ingest")


@pytest.mark.parametrize("keys", [" , ", "[]", "[bad"])
def test_api_keys_that_name_nothing_stop_the_server(tmp_path: Path, keys: str) -> None:
    """Set but empty used to mean "no authentication" without a word (issue 11, item 9)."""
    env = {"POLICYQA_API_KEYS": keys}
    proc = run("serve", "--port", "1", "--index-dir", str(tmp_path / "i"), cwd=tmp_path, env=env)
    assert_one_line_error(proc, "api_keys")
    assert not (tmp_path / "i").exists()


def test_unset_or_blank_api_keys_still_mean_an_open_server() -> None:
    from policyqa.service.settings import Settings

    assert Settings(api_keys="").api_keys == [] and Settings().api_keys == []
    assert [k.get_secret_value() for k in Settings(api_keys="a, b").api_keys] == ["a", "b"]


def test_eval_refuses_an_unknown_bridge_component(tmp_path: Path) -> None:
    proc = run("eval", "--bridge-without", "phrases,glosses", "--cache-dir", str(tmp_path / "e"), cwd=tmp_path)
    assert_one_line_error(proc, "unknown bridge component 'glosses'", "numerals")
    assert not (tmp_path / "e").exists()  # refused before anything was built


def test_english_all_gathers_every_english_question_over_the_seeds() -> None:
    from policyqa.eval.datasets import load_questions
    from policyqa.eval.suite import ENGLISH_ALL, ENGLISH_QUESTIONS, SEED_QUESTIONS, load_dataset

    questions, _ = load_dataset(ENGLISH_ALL)
    seed_english = [q for q in load_questions(SEED_QUESTIONS) if q.language == "en"]
    assert len(questions) == len(seed_english) + len(load_questions(ENGLISH_QUESTIONS)) >= 60
    assert {q.language for q in questions} == {"en"} and len({q.qid for q in questions}) == len(questions)
    assert sum(q.split == "heldout" for q in questions) >= 20
