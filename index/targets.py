"""Quantitative targets and reported figures, read from a report's sentences:
what (indicator), how much (value, unit, qualifier), by when (a deadline year)
or for when (a reported period), who (the zone), and the exact sentence.

"到2025年，数字经济增加值占GDP比重达35%" in a paragraph about 广阳湾智创生态城
becomes {subject 广阳湾智创生态城, indicator 数字经济增加值占GDP比重, value 35,
unit %, kind target, year 2025}. Rule- and parse-based, offline: each
sentence is cut into clauses at "，；"; a clause holds a figure after one of
the verbs of targets and results (达到, 突破, 控制在, 下降, 增长 …), and the words
before that verb, less the zone and a leading verb, are its indicator. The
deadline (到/至/力争到 2025年) or the period (2021年上半年, 截至2024年底) found
earlier in the sentence applies to every clause after it.

The subject is the zone the clause names at its start (jieba.posseg place
names, merged: 重庆 + 经开区); else the zone an earlier clause of the sentence
named; else the paragraph's subject, the zone it names in its first clause
("未来，广阳湾智创生态城将…"), carried over to paragraphs that name none
("同时，当地还将…"); else the document title's zone.

Limits: figures written in words (三成, 百分之三十五) are not read here;
a target stated without a figure (能耗水平全市领先) is not a record; a clause
whose indicator spans an earlier clause ("…的比重，到2025年达到…") keeps only
its own words.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .chunking import sentence_spans

TARGET, REPORTED = "target", "reported"

# A figure: number, unit, and what follows it (以上 = at least ...).
_FIGURE = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>%|‰|个百分点|万亿元|亿元|万元|亿美元|万美元|元|万吨|吨|万人次|万人|人|家|个|项|倍|平方公里|公顷|亩|GW|MW|千瓦)?"
    r"(?P<after>以上|以下|以内|左右)?"
)
# The verb that attaches a figure to its indicator, and what it says of the value.
_VERBS = (
    ("不低于", "≥", ""), ("不少于", "≥", ""), ("不超过", "≤", ""), ("控制在", "≤", ""),
    ("突破", ">", ""), ("超过", ">", ""), ("达到", "=", ""), ("提高到", "=", ""), ("提升到", "=", ""),
    ("提升至", "=", ""), ("提高至", "=", ""), ("增至", "=", ""), ("增长到", "=", ""), ("保持在", "=", ""),
    ("下降", "=", "下降"), ("降低", "=", "下降"), ("减少", "=", "下降"), ("提高", "=", "提高"),
    ("提升", "=", "提高"), ("增长", "=", "增长"), ("增加", "=", "增长"), ("达", "=", ""), ("为", "=", ""),
)  # fmt: skip
_VERB = re.compile("|".join(re.escape(v) for v, _, _ in _VERBS))
_VERB_OF = {v: (q, d) for v, q, d in _VERBS}
_AFTER = {"以上": "≥", "以下": "≤", "以内": "≤", "左右": "≈"}
# A deadline makes a target; a period (or 截至) makes a reported figure.
_DEADLINE = re.compile(r"(?<!截)(?:到|至|力争到|力争在|计划到|预计到|争取到)\s*(?P<year>20\d\d)\s*年(?:底|末)?")
_PERIOD = re.compile(
    r"(?<![较比与])(?:截至\s*)?(?P<year>20\d\d)\s*年(?P<part>上半年|下半年|前三季度|一季度|二季度|三季度|四季度|第[一二三四]季度|"
    r"1-\d{1,2}月|\d{1,2}月|底|末)?"
)
# Words before the indicator that are not part of it.
_LEAD = re.compile(
    r"^(?:同时|其中|另外|此外|全年|全区|全市|当地|还将|将|力争|预计|计划|实现|确保|累计|共|要|年均|"
    r"上半年|下半年|前三季度|[一二三四]季度)+"
)
# A comparison is not part of an indicator: 同比, 较2019年同期, 比上年.
_COMPARISON = re.compile(r"同比|环比|较\s*(?:20\d\d\s*年)?\s*同期|比上年(?:同期)?|较上年(?:同期)?")
_CLAUSE = re.compile(r"[，；,;：:]")
# A zone's name ends so: 广阳湾智创生态城, 重庆经开区, 璧山区, 两江新区, 西永微电园.
_ZONE_END = re.compile(r"(?:区|城|园|县|市|镇|岛|街道|开发区|园区|新区)$")


@dataclass(frozen=True)
class Record:
    """One stated target or reported figure, citable: `quote ==
    document_text[start:end]` (the whole sentence)."""

    subject: str
    indicator: str
    value: float
    unit: str
    qualifier: str  # "=", "≥", "≤", "≈", ">"
    direction: str  # "" or 下降 / 增长 / 提高: the value is a change
    kind: str  # TARGET (by `year`) or REPORTED (for `period`)
    year: int | None
    period: str
    doc_id: str
    title: str
    start: int
    end: int
    quote: str
    # Where the value and the subject are written in the document text (a short
    # answer cites them); the subject's is -1 when only the title names it.
    value_start: int = -1
    value_end: int = -1
    subject_start: int = -1
    subject_end: int = -1

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


COLUMNS = [f.name for f in fields(Record)]


Tagger = Callable[[str], list[tuple[str, str]]]


def zones(tags: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """(offset, name) of the zone names in a tagged text: runs of place words
    (ns) merged (重庆 + 经开区), kept when the run ends like a zone (区, 城, 园 …)."""
    out: list[tuple[int, str]] = []
    offset, run, run_start = 0, "", 0
    for word, flag in [*tags, ("", "x")]:
        place = flag == "ns" or (run and word in ("高新区", "经开区", "开发区", "新区", "园区"))
        if place:
            if not run:
                run_start = offset
            run += word
        else:
            if run and len(run) >= 3 and _ZONE_END.search(run):
                out.append((run_start, run))
            run = ""
        offset += len(word)
    return out


def extract(text: str, doc_id: str, title: str, tag: Tagger) -> list[Record]:
    """Every target and reported figure stated in `text` (a document's stored text)."""
    records: list[Record] = []
    title_zone = next((z for _, z in zones(tag(title))), "") if title else ""
    paragraph: tuple[str, int] = (title_zone, -1)  # the paragraph's subject and where it is written
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        named = [(start + off, z) for off, z in zones(tag(sentence))]
        # a new paragraph (a line break before it) names its own subject in its first clause
        if start == 0 or "\n" in text[max(0, start - 2) : start]:
            first_clause = _CLAUSE.split(sentence, maxsplit=1)[0]
            lead = next(((z, at) for at, z in named if at < start + len(first_clause) + 8), None)
            if lead:
                paragraph = lead
        records += _sentence_records(sentence, start, named, paragraph, doc_id, title)
    return records


def _sentence_records(
    sentence: str, start: int, named: list[tuple[int, str]], paragraph: tuple[str, int], doc_id: str, title: str
) -> list[Record]:
    if not any(ch.isdigit() for ch in sentence):
        return []
    out: list[Record] = []
    year: int | None = None
    period = ""
    subject: tuple[str, int] = ("", -1)
    last_indicator = ""
    at = start
    for clause in _clauses(sentence):
        deadline = _DEADLINE.search(clause)
        if deadline:
            year, period = int(deadline.group("year")), ""
        else:
            found = _PERIOD.search(clause)
            if found and not year:
                period = found.group(0).removeprefix("截至").strip()
        zone = next(((z, off) for off, z in named if at <= off < at + len(clause)), None)
        subject = zone or subject
        record = _clause_record(clause, zone[0] if zone else "", deadline, last_indicator)
        if record is not None:
            last_indicator = record[0]
        if record is not None and (year or period):
            indicator, value, unit, qualifier, direction, (v_start, v_end) = record
            name, name_at = subject if subject[0] else paragraph
            out.append(
                Record(
                    subject=name,
                    indicator=indicator,
                    value=value,
                    unit=unit,
                    qualifier=qualifier,
                    direction=direction,
                    kind=TARGET if year else REPORTED,
                    year=year,
                    period="" if year else period,
                    doc_id=doc_id,
                    title=title,
                    start=start,
                    end=start + len(sentence),
                    quote=sentence,
                    value_start=at + v_start,
                    value_end=at + v_end,
                    subject_start=name_at,
                    subject_end=name_at + len(name) if name_at >= 0 else -1,
                )
            )
        at += len(clause) + 1
    return out


def _clauses(sentence: str) -> list[str]:
    """The sentence cut at "，；：" (a clause keeps no separator, each one
    character); decimal points and thousands separators are not cuts."""
    return re.split(r"(?<!\d)[，；：,;:]|[，；：](?=\D)|(?<=\D)[,;:]", sentence)


def _clause_record(
    clause: str, zone: str, deadline: re.Match[str] | None, previous: str = ""
) -> tuple[str, float, str, str, str, tuple[int, int]] | None:
    """(indicator, value, unit, qualifier, direction, (value start, end) in the
    clause) of a clause that attaches a figure to an indicator by a verb, or
    None. A clause that names only a comparison ("同比增长15.3%") is about the
    previous clause's indicator."""
    begin = deadline.end() if deadline else 0
    for verb in _VERB.finditer(clause, begin):
        figure = _FIGURE.match(clause, verb.end())
        if figure is None or not figure.group("unit") and not figure.group("after"):
            continue  # a bare number after a verb is a count without a unit: too ambiguous
        before = clause[begin : verb.start()]
        if zone and zone in before:
            before = before[before.index(zone) + len(zone) :]
        compared = bool(_COMPARISON.search(before))
        indicator = _clean_indicator(_PERIOD.sub("", _COMPARISON.sub("", before)))
        if len(re.findall(r"[\u4e00-\u9fffA-Za-z]", indicator)) < 2:
            if not (compared and previous):
                continue
            indicator = previous
        qualifier, direction = _VERB_OF[verb.group()]
        if figure.group("after"):
            qualifier = _AFTER[figure.group("after")]
        value = float(figure.group("num"))
        return indicator, value, figure.group("unit") or "", qualifier, direction, _figure_span(figure)
    # A clause that is an indicator and its figure alone: "地区生产总值208.2亿元".
    bare = _BARE.fullmatch(clause, begin)
    if bare and bare.group("unit"):
        named = bare.group("indicator")
        if zone and zone in named:
            named = named[named.index(zone) + len(zone) :]
        indicator = _clean_indicator(named)
        if len(indicator) >= 2:
            qualifier = _AFTER.get(bare.group("after") or "", "=")
            return indicator, float(bare.group("num")), bare.group("unit"), qualifier, "", _figure_span(bare)
    return None


def _figure_span(m: re.Match[str]) -> tuple[int, int]:
    """The figure as written, with its unit and qualifier ("30%以上")."""
    return m.start("num"), m.end()


def _clean_indicator(text: str) -> str:
    return _LEAD.sub("", text.strip()).strip(" \u3000“”\"'（）()、")


_BARE = re.compile(rf"\s*(?P<indicator>[\u4e00-\u9fffA-Za-z&]{{2,20}}?)\s*{_FIGURE.pattern}")


# ---- storage: one list of records per version of a document ----------------


class TargetStore:
    """Each document's records, by (doc_id, fingerprint), in a SQLite file
    beside the index (`<index dir>/targets.sqlite`, either backend).

    A version of a document is its id and content fingerprint, so what the
    live index version holds decides what is served: a record of a deleted or
    changed document is never read (and is dropped at the next `keep_only`),
    and a document without records yet is read when first needed. Nothing
    here can disagree with the index after a crash. Without a writable folder
    the records live in memory. Thread-safe."""

    def __init__(self, path: Path | None) -> None:
        self._memory: dict[tuple[str, str], list[Record]] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(path, check_same_thread=False)
                self._db.execute(
                    "CREATE TABLE IF NOT EXISTS records (doc_id TEXT, fingerprint TEXT, format INTEGER, rows TEXT, "
                    "PRIMARY KEY (doc_id, fingerprint))"
                )
                self._db.commit()
            except (OSError, sqlite3.Error):
                self._db = None

    def get(self, doc_id: str, fingerprint: str) -> list[Record] | None:
        with self._lock:
            if self._db is None:
                return self._memory.get((doc_id, fingerprint))
            row = self._db.execute(
                "SELECT rows FROM records WHERE doc_id = ? AND fingerprint = ? AND format = ?",
                (doc_id, fingerprint, FORMAT),
            ).fetchone()
        return None if row is None else [Record(**r) for r in json.loads(row[0])]

    def put(self, doc_id: str, fingerprint: str, records: Sequence[Record]) -> None:
        with self._lock:
            if self._db is None:
                self._memory[(doc_id, fingerprint)] = list(records)
                return
            rows = json.dumps([r.to_dict() for r in records], ensure_ascii=False)
            self._db.execute(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)", (doc_id, fingerprint, FORMAT, rows)
            )
            self._db.commit()

    def keep_only(self, versions: Iterable[tuple[str, str]]) -> None:
        """Drop the records of every document version not in `versions`."""
        live = set(versions)
        with self._lock:
            if self._db is None:
                self._memory = {k: v for k, v in self._memory.items() if k in live}
                return
            stored = self._db.execute("SELECT doc_id, fingerprint FROM records").fetchall()
            stale = [tuple(r) for r in stored if tuple(r) not in live]
            self._db.executemany("DELETE FROM records WHERE doc_id = ? AND fingerprint = ?", stale)
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


# Part of each stored row: a change to what extraction writes must change it,
# so that records of the old kind are read again rather than served.
FORMAT = 1


# ---- queries ----------------------------------------------------------------


def _bigrams(text: str) -> set[str]:
    chars = re.sub(r"[^\u4e00-\u9fffA-Za-z0-9%]", "", text).lower()
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def indicator_matches(query: str, indicator: str, tokenize: Callable[[str], list[str]]) -> bool:
    """Whether a wording of an indicator names this one: every word of the
    query is in it, or most of its character pairs are (数字经济占比 finds
    数字经济增加值占GDP比重: 数字, 字经, 经济 and 占 … 比 through the words)."""
    words, have = tokenize(query), set(tokenize(indicator))
    if words and all(w in have or w in indicator.lower() for w in words):
        return True
    pairs = _bigrams(query)
    return bool(pairs) and len(pairs & _bigrams(indicator)) / len(pairs) >= 0.6


def select(
    records: Iterable[Record],
    tokenize: Callable[[str], list[str]],
    indicator: str | None = None,
    subject: str | None = None,
    year: int | None = None,
    kind: str | None = None,
) -> list[Record]:
    """The records that match every given criterion (subject: a part of its name)."""
    return [
        r
        for r in records
        if (not indicator or indicator_matches(indicator, r.indicator, tokenize))
        and (not subject or subject in r.subject or r.subject in subject and len(r.subject) >= 2)
        and (year is None or r.year == year or str(year) in r.period)
        and (not kind or r.kind == kind)
    ]


CSV_COLUMNS = (
    "subject", "indicator", "value", "unit", "qualifier", "direction", "kind", "year", "period",
    "title", "doc_id", "start", "end", "quote",
)  # fmt: skip


def to_csv(records: Sequence[Record]) -> str:
    """The records as CSV (UTF-8 text; header row first), one row per record."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in records:
        row = r.to_dict()
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return out.getvalue()
