"""Evaluation questions: our own JSONL question sets and the CMRC 2018 dev set.

A question names its gold document by id: for the seed set that is the seed
file's stem (e.g. `000_6c3b29e3f385016a`), for CMRC 2018 the paragraph id
(e.g. `DEV_0`). `answer` is a short verbatim span of the gold document, used
for passage-level relevance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policyqa.index.types import Document

LANGUAGES = ("zh", "en")
SPLITS = ("dev", "heldout")

_REQUIRED_FIELDS = ("id", "question", "language", "gold_doc", "answer", "split")
_CMRC_RELATIVE = Path("shared") / "benchmarks" / "cmrc2018" / "cmrc2018_dev.json"


@dataclass(frozen=True)
class Question:
    """One evaluation question and where its answer lives.

    `split` is 'dev' (may be looked at while tuning) or 'heldout' (never tuned
    on); `kind` is an optional label such as 'lexical' or 'paraphrase'.
    """

    qid: str
    question: str
    language: str
    gold_doc: str
    answer: str
    split: str
    kind: str | None = None
    # Every accepted answer (CMRC 2018 gives up to three); empty means just `answer`.
    answers: tuple[str, ...] = ()

    @property
    def all_answers(self) -> tuple[str, ...]:
        return self.answers or (self.answer,)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(
                f"question {self.qid!r}: language {self.language!r} is not one of {LANGUAGES}"
            )
        if self.split not in SPLITS:
            raise ValueError(f"question {self.qid!r}: split {self.split!r} is not one of {SPLITS}")
        for name in ("qid", "question", "gold_doc", "answer"):
            if not getattr(self, name).strip():
                raise ValueError(f"question {self.qid!r}: field {name!r} is empty")


# --- JSONL question sets ---------------------------------------------------


def load_questions(path: Path) -> list[Question]:
    """Read questions from a JSONL file, one JSON object per line; blank lines are skipped.

    Each object has string fields `id, question, language, gold_doc, answer,
    split` and optionally `kind` (string or null).

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: naming the file and 1-based line number, for a line that is
            not a JSON object, lacks a field, has a non-string or empty field, an
            unknown language or split, or repeats an earlier id.
    """
    questions: list[Question] = []
    first_line_of: dict[str, int] = {}
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            q = _parse_question_line(line, where)
            if q.qid in first_line_of:
                raise ValueError(
                    f"{where}: id {q.qid!r} already used on line {first_line_of[q.qid]}: "
                    "give every question a unique id"
                )
            first_line_of[q.qid] = lineno
            questions.append(q)
    return questions


def _parse_question_line(line: str, where: str) -> Question:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from e
    # Every problem with a line's content is a ValueError, so callers catch one type.
    if not isinstance(obj, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(obj).__name__}")  # noqa: TRY004
    for name in _REQUIRED_FIELDS:
        if name not in obj:
            raise ValueError(
                f"{where}: missing field {name!r} (required: {', '.join(_REQUIRED_FIELDS)})"
            )
        if not isinstance(obj[name], str):
            raise ValueError(f"{where}: field {name!r} must be a string, got {obj[name]!r}")  # noqa: TRY004
    kind = obj.get("kind")
    if kind is not None and not isinstance(kind, str):
        raise ValueError(f"{where}: field 'kind' must be a string or null, got {kind!r}")
    try:
        return Question(
            qid=obj["id"],
            question=obj["question"],
            language=obj["language"],
            gold_doc=obj["gold_doc"],
            answer=obj["answer"],
            split=obj["split"],
            kind=kind,
        )
    except ValueError as e:
        # Question's own check knows what is wrong; add where it came from.
        raise ValueError(f"{where}: {e}") from e


# --- CMRC 2018 -----------------------------------------------------------------


def default_cmrc_path(repo_root: Path | None = None) -> Path:
    """Where the CMRC 2018 dev set lies.

    That is `<repo_root>/../shared/benchmarks/cmrc2018/cmrc2018_dev.json`, where
    `repo_root` defaults to the directory holding the `eval/` package.

    Raises:
        FileNotFoundError: if the file is not there; the message names the path tried.
    """
    root = Path(__file__).resolve().parent.parent if repo_root is None else Path(repo_root)
    candidate = (root.parent / _CMRC_RELATIVE).resolve()
    if not candidate.is_file():
        raise FileNotFoundError(
            f"CMRC 2018 dev set not found at {candidate} (looked relative to repo root {root}): "
            "pass its path to load_cmrc2018() explicitly"
        )
    return candidate


def load_cmrc2018(path: Path) -> tuple[list[Document], list[Question]]:
    """Turn the CMRC 2018 dev set (SQuAD-style JSON) into documents and questions.

    One `Document` per paragraph: doc_id = the paragraph id (e.g. 'DEV_0'),
    title = the article title, source = 'cmrc2018/<id>', text = the context
    unchanged, fingerprint = sha256 of the context (UTF-8). One `Question` per
    qa: gold_doc = its paragraph's id, answer = the first answer's text,
    language 'zh', kind 'cmrc'. Split: the questions of every tenth paragraph
    (paragraph 0, 10, 20, ...) are 'dev', the only ones fusion settings may be
    tuned on; all others are 'heldout'. Splitting by paragraph keeps tuning
    from seeing any held-out paragraph.

    Raises:
        FileNotFoundError: if `path` does not exist.
        ValueError: if the JSON lacks an expected key, a qa has no answer, or a
            paragraph id repeats.
    """
    with Path(path).open(encoding="utf-8") as f:
        data = json.load(f)
    documents: list[Document] = []
    questions: list[Question] = []
    for article in _require(data, "data", str(path)):
        title = _require(article, "title", str(path))
        for paragraph in _require(article, "paragraphs", f"{path} article {title!r}"):
            doc, qs = _cmrc_paragraph(paragraph, title, str(path), dev=len(documents) % 10 == 0)
            documents.append(doc)
            questions.extend(qs)
    _check_unique([d.doc_id for d in documents], "paragraph id", path)
    _check_unique([q.qid for q in questions], "question id", path)
    return documents, questions


def _cmrc_paragraph(
    paragraph: dict[str, Any], title: str, where: str, dev: bool
) -> tuple[Document, list[Question]]:
    pid = _require(paragraph, "id", f"{where} article {title!r}")
    context = _require(paragraph, "context", f"{where} paragraph {pid}")
    doc = Document(
        doc_id=pid,
        title=title,
        source=f"cmrc2018/{pid}",
        text=context,
        fingerprint=hashlib.sha256(context.encode("utf-8")).hexdigest(),
    )
    questions = [
        _cmrc_question(qa, pid, where, "dev" if dev else "heldout")
        for qa in _require(paragraph, "qas", f"{where} paragraph {pid}")
    ]
    return doc, questions


def _cmrc_question(qa: dict[str, Any], pid: str, where: str, split: str) -> Question:
    qid = _require(qa, "id", f"{where} paragraph {pid}")
    answers = _require(qa, "answers", f"{where} question {qid}")
    if not answers:
        raise ValueError(
            f"{where} question {qid}: has no answers; every CMRC dev question should have one"
        )
    return Question(
        qid=qid,
        question=_require(qa, "question", f"{where} question {qid}"),
        language="zh",
        gold_doc=pid,
        answer=_require(answers[0], "text", f"{where} question {qid} answer 0"),
        split=split,
        kind="cmrc",
        answers=tuple(dict.fromkeys(a["text"] for a in answers if isinstance(a, dict) and a.get("text"))),
    )


def _require(obj: Any, key: str, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise ValueError(
            f"{where}: missing key {key!r}; is this the SQuAD-style cmrc2018_dev.json?"
        )
    return obj[key]


def _check_unique(ids: list[str], what: str, path: Path) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"{path}: {what} {i!r} occurs more than once")
        seen.add(i)
