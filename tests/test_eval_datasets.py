"""Question loaders: our JSONL format (errors carry file and line) and CMRC 2018."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from policyqa.eval.datasets import Question, default_cmrc_path, load_cmrc2018, load_questions
from policyqa.index.types import Document

_DROP = object()  # marks a field to leave out of a JSONL line


def _line(**overrides: object) -> str:
    obj: dict[str, object] = {
        "id": "q1",
        "question": "重庆经开区入选了哪一份名单？",
        "language": "zh",
        "gold_doc": "000_6c3b29e3f385016a",
        "answer": "绿色产业示范基地",
        "split": "dev",
        "kind": "lexical",
    }
    obj.update(overrides)
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP}, ensure_ascii=False)


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- JSONL -------------------------------------------------------------------------


def test_load_questions_reads_fields_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _line(),
        "",
        "   ",
        _line(id="q2", language="en", question="Which list?", split="heldout", kind=_DROP),
    )
    assert load_questions(path) == [
        Question(
            qid="q1",
            question="重庆经开区入选了哪一份名单？",
            language="zh",
            gold_doc="000_6c3b29e3f385016a",
            answer="绿色产业示范基地",
            split="dev",
            kind="lexical",
        ),
        Question(
            qid="q2",
            question="Which list?",
            language="en",
            gold_doc="000_6c3b29e3f385016a",
            answer="绿色产业示范基地",
            split="heldout",
            kind=None,  # kind is optional
        ),
    ]


def test_load_questions_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    # Line 3 (after a blank line 2) lacks gold_doc: blank lines still count.
    path = _write(tmp_path, _line(), "", _line(id="q2", gold_doc=_DROP))
    with pytest.raises(ValueError) as err:
        load_questions(path)
    assert f"{path}:3" in str(err.value)
    assert "missing field 'gold_doc'" in str(err.value)


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "q2", "question": ', "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        (_line(id="q2", answer=7), "field 'answer' must be a string"),
        (_line(id="q2", kind=3), "field 'kind' must be a string or null"),
        (_line(id="q2", language="fr"), "language 'fr' is not one of ('zh', 'en')"),
        (_line(id="q2", split="test"), "split 'test' is not one of ('dev', 'heldout')"),
        (_line(id="q2", answer="  "), "field 'answer' is empty"),
        (_line(), "id 'q1' already used on line 1"),
    ],
)
def test_load_questions_bad_line_names_line_two(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    path = _write(tmp_path, _line(), bad_line)
    with pytest.raises(ValueError) as err:
        load_questions(path)
    assert f"{path}:2:" in str(err.value)
    assert message in str(err.value)


def test_load_questions_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_questions(tmp_path / "absent.jsonl")


# --- CMRC 2018: a tiny hand-made file -------------------------------------------------


def _cmrc_file(tmp_path: Path, paragraph: dict[str, object]) -> Path:
    path = tmp_path / "cmrc.json"
    data = {
        "version": "v1.0",
        "data": [{"id": "DEV_0", "title": "标题", "paragraphs": [paragraph]}],
    }
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_cmrc2018_maps_paragraphs_and_questions(tmp_path: Path) -> None:
    context = "国家发展改革委 公布了名单。"
    qas = [
        {
            "id": "DEV_0_QUERY_0",
            "question": "谁公布了名单？",
            "answers": [{"text": "国家发展改革委", "answer_start": 0}],
        },
        {
            "id": "DEV_0_QUERY_1",
            "question": "公布了什么？",
            "answers": [{"text": "名单", "answer_start": 11}, {"text": "x"}],
        },
    ]
    docs, questions = load_cmrc2018(
        _cmrc_file(tmp_path, {"id": "DEV_0", "context": context, "qas": qas})
    )
    assert docs == [
        Document(
            doc_id="DEV_0",
            title="标题",
            source="cmrc2018/DEV_0",
            text=context,
            fingerprint=hashlib.sha256(context.encode("utf-8")).hexdigest(),
        )
    ]
    assert [(q.qid, q.gold_doc, q.answer, q.language, q.split, q.kind) for q in questions] == [
        ("DEV_0_QUERY_0", "DEV_0", "国家发展改革委", "zh", "dev", "cmrc"),  # paragraph 0 is a tuning (dev) paragraph
        ("DEV_0_QUERY_1", "DEV_0", "名单", "zh", "dev", "cmrc"),  # the first answer wins
    ]


@pytest.mark.parametrize(
    ("paragraph", "message"),
    [
        ({"id": "DEV_0", "qas": []}, "missing key 'context'"),
        (
            {
                "id": "DEV_0",
                "context": "文本",
                "qas": [{"id": "Q", "question": "问", "answers": []}],
            },
            "has no answers",
        ),
    ],
)
def test_load_cmrc2018_malformed(
    tmp_path: Path, paragraph: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_cmrc2018(_cmrc_file(tmp_path, paragraph))


def test_default_cmrc_path_says_where_it_looked(tmp_path: Path) -> None:
    repo = tmp_path / "main"
    repo.mkdir()
    expected = tmp_path / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_dev.json"
    with pytest.raises(FileNotFoundError) as err:
        default_cmrc_path(repo)
    assert str(expected.resolve()) in str(err.value)
    expected.parent.mkdir(parents=True)
    expected.write_text("{}", encoding="utf-8")
    assert default_cmrc_path(repo) == expected.resolve()


# --- CMRC 2018: the real dev set ------------------------------------------------------


@pytest.fixture(scope="module")
def cmrc() -> tuple[list[Document], list[Question]]:
    try:
        path = default_cmrc_path()
    except FileNotFoundError as e:
        pytest.skip(f"CMRC 2018 dev set not available: {e}")
    return load_cmrc2018(path)


def test_cmrc_counts(cmrc: tuple[list[Document], list[Question]]) -> None:
    docs, questions = cmrc
    # The README's numbers, checked against the file: 848 paragraphs, 3,219 questions.
    assert len(docs) == 848
    assert len(questions) == 3219
    assert len({d.doc_id for d in docs}) == 848
    assert len({q.qid for q in questions}) == 3219
    # every tenth paragraph (0, 10, ..., 840) is a tuning paragraph: 85 of 848
    dev_docs = {q.gold_doc for q in questions if q.split == "dev"}
    assert dev_docs == {docs[i].doc_id for i in range(0, 848, 10)}


def test_cmrc_first_document_and_question(cmrc: tuple[list[Document], list[Question]]) -> None:
    docs, questions = cmrc
    first = docs[0]
    assert (first.doc_id, first.title, first.source) == ("DEV_0", "战国无双3", "cmrc2018/DEV_0")
    assert first.fingerprint == hashlib.sha256(first.text.encode("utf-8")).hexdigest()
    assert first.sections == ()
    assert questions[0] == Question(
        qid="DEV_0_QUERY_0",
        question="《战国无双3》是由哪两个公司合作开发的？",
        language="zh",
        gold_doc="DEV_0",
        answer="光荣和ω-force",
        split="dev",
        kind="cmrc",
        answers=("光荣和ω-force",),  # every accepted answer, without repeats
    )
    assert max(len(q.all_answers) for q in questions) == 3  # CMRC gives up to three


def test_cmrc_every_answer_occurs_in_its_paragraph(
    cmrc: tuple[list[Document], list[Question]],
) -> None:
    docs, questions = cmrc
    text_of = {d.doc_id: d.text for d in docs}
    assert all(q.gold_doc in text_of for q in questions)
    missing = [q.qid for q in questions if q.answer not in text_of[q.gold_doc]]
    assert missing == []
    # 65 answers contain whitespace (e.g. English names); they must survive unchanged.
    assert sum(1 for q in questions if any(c.isspace() for c in q.answer)) == 65


def test_the_english_set_is_sound() -> None:
    """eval/questions/english.jsonl: 45 English questions, every answer a verbatim
    span of its own report and of no other, every third one held out."""
    root = Path(__file__).resolve().parent.parent
    reports = {p.stem: p.read_text(encoding="utf-8") for p in (root / "seeds").glob("*.txt")}
    questions = load_questions(root / "eval/questions/english.jsonl")
    assert len(questions) == 45 and {q.language for q in questions} == {"en"}
    for n, q in enumerate(questions, start=1):
        assert q.answer in reports[q.gold_doc], q.id
        assert not any(q.answer in text for stem, text in reports.items() if stem != q.gold_doc), q.id
        assert q.split == ("heldout" if n % 3 == 0 else "dev"), q.id
