"""Short answers from the targets table (index/targets.py).

A question about a target names part of it and asks for the rest:
- "Which park targets a 35% digital-economy share?" / "哪个园区提出数字经济增加值
  占GDP比重达35%？" gives the figure and asks for the subject: the record with
  that value whose indicator the question names answers with its subject;
- "经开区绿色产业占工业总产值的目标比重是多少？" gives the indicator (and the
  zone) and asks for the figure: the record answers with its value as written.

The short answer cites the record's span in the document (the zone where the
paragraph names it, the figure with its unit), exact like every citation. A
record counts only when the question names its indicator (for an English
question, through the Chinese terms the bridge found); otherwise the
answerer's own short answer stands.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .answer_types import AnswerType
from .targets import TARGET, Record

_FIGURE = re.compile(r"(\d+(?:\.\d+)?)\s*(%|％|percent\b|per\s+cent\b|个百分点)?", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
# Of an indicator, what a question must name: at least this share of its
# character pairs; less where the question also gives the record's figure
# (an English question names 数字经济 of 数字经济增加值占GDP比重, and 35%).
MIN_INDICATOR_SHARE = 0.5
MIN_SHARE_WITH_FIGURE = 0.2


@dataclass(frozen=True)
class TargetAnswer:
    record: Record
    text: str
    start: int
    end: int
    overlap: float  # the share of the indicator's character pairs the question names

    def evidence(self) -> dict[str, object]:
        r = self.record
        return {
            "subject": r.subject, "indicator": r.indicator, "value": r.value, "unit": r.unit,
            "year": r.year, "doc_id": r.doc_id, "start": r.start, "end": r.end, "overlap": round(self.overlap, 3),
        }  # fmt: skip


def _pairs(text: str) -> set[str]:
    chars = re.sub(r"[^\u4e00-\u9fffa-z0-9&]", "", unicodedata.normalize("NFKC", text).lower())
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def _figures(question: str) -> list[tuple[float, str]]:
    """(value, "%" or "") of the question's figures that are not years."""
    out = []
    for m in _FIGURE.finditer(unicodedata.normalize("NFKC", question)):
        if not m.group(2) and _YEAR.fullmatch(m.group(1)):
            continue
        out.append((float(m.group(1)), "%" if m.group(2) and m.group(2) != "个百分点" else ""))
    return out


def answer_from_targets(
    question: str, kind: AnswerType, named: Iterable[str], records: Sequence[Record]
) -> TargetAnswer | None:
    """The record that answers `question`, and its span: the subject for a
    question that gives the figure and asks which place or body, the value for
    one that asks how much of a named indicator. `named`: the question's words
    in Chinese (its own and, for English, the bridge's terms)."""
    pairs = _pairs(question + "".join(named))
    figures = _figures(question)
    years = {int(y) for y in _YEAR.findall(question)}
    best: TargetAnswer | None = None
    for r in records:
        if r.kind != TARGET or (years and r.year not in years):
            continue
        indicator = _pairs(r.indicator)
        overlap = len(indicator & pairs) / len(indicator) if indicator else 0.0
        same_figure = any(v == r.value and (not u or u == r.unit) for v, u in figures)
        if overlap < (MIN_SHARE_WITH_FIGURE if same_figure else MIN_INDICATOR_SHARE):
            continue
        if kind in (AnswerType.PLACE, AnswerType.ORGANIZATION) and figures:
            if not same_figure or r.subject_start < 0:
                continue
            found = TargetAnswer(r, r.subject, r.subject_start, r.subject_end, overlap)
        elif kind is AnswerType.QUANTITY and not figures:
            if r.subject and r.subject not in question and not _subject_named(r.subject, question):
                continue
            written = r.quote[r.value_start - r.start : r.value_end - r.start]
            found = TargetAnswer(r, written, r.value_start, r.value_end, overlap)
        else:
            continue
        if best is None or found.overlap > best.overlap:
            best = found
    return best


def _subject_named(subject: str, question: str) -> bool:
    """Whether the question names the zone, perhaps shortened (经开区 for 重庆经开区)."""
    return any(subject[i:] in question for i in range(len(subject) - 2)) if len(subject) > 2 else False
