"""The identity of an official document, read from its text: document number
(发文字号), issuing body (发文机关), date issued (成文日期) and date it takes
effect (施行日期).

Chinese official documents (党政机关公文, GB/T 9704) put these in fixed places:
the number under the red header ("渝府发〔2021〕12号"), the issuing body in the
header ("重庆市人民政府文件") and again in the sign-off (落款) at the end, above
the date ("重庆市人民政府\\n2021年3月1日", often in Chinese numerals:
"二〇二一年三月一日"), and the effective date in the closing article
("本办法自2021年5月1日起施行"). Government websites add labelled fields
("发文字号：", "成文日期：", "发布日期："), which win over what the layout
suggests. Only the header (the first lines) and the sign-off (the last lines)
are read, so a number or date quoted in the body is not taken for the
document's own.

`extract(text)` returns what it finds, dates as ISO strings ("2021-03-01");
fields it cannot find are absent, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

import cn2an

# Metadata keys, as documents, filters and `GET /documents` carry them.
DOC_NUMBER, ISSUER, ISSUED, EFFECTIVE, PUBLISHED = "doc_number", "issuer", "issued", "effective", "published"
FIELDS = (DOC_NUMBER, ISSUER, ISSUED, EFFECTIVE, PUBLISHED)

HEAD_LINES = 12  # the red header, number and title sit in the first lines
TAIL_LINES = 12  # the sign-off, date and 抄送 block in the last ones

_CN_DIGIT = "〇零一二三四五六七八九十"
_DIGIT_OF = {c: str(i) for i, c in enumerate("〇一二三四五六七八九")} | {"零": "0"}
# 2021年3月1日 · 2021年03月01日 · 二〇二一年三月一日 · 2021-03-01 · 2021.3.1 · 2021/3/1
_DATE = re.compile(
    rf"(?P<y>\d{{4}}|[{_CN_DIGIT}]{{4}})\s*年\s*(?P<m>\d{{1,2}}|[{_CN_DIGIT}]{{1,3}})\s*月\s*"
    rf"(?P<d>\d{{1,2}}|[{_CN_DIGIT}]{{1,3}})\s*日"
    r"|(?P<y2>\d{4})\s*[-./]\s*(?P<m2>\d{1,2})\s*[-./]\s*(?P<d2>\d{1,2})(?!\d)"
)
# 渝府发〔2021〕12号 · 国办发[2022]5号 · 京政发（2020）3号 · 渝经开管发〔2021〕101号
_NUMBER = re.compile(
    r"(?P<org>[\u4e00-\u9fff]{1,12}?)\s*[〔\[［【(（]\s*(?P<year>\d{4})\s*[〕\]］】)）]\s*(?P<n>\d{1,5})\s*号"
)
# A government order's header line: "重庆市人民政府令", "国务院令", "中华人民共和国主席令",
# "交通运输部令", the number on it or on the next line ("第345号"). The line holds nothing else.
_ORDER = re.compile(
    r"\s*(?P<org>[\u4e00-\u9fff]{0,20}(?:人民政府|国务院|主席|部|委员会|局|署))令\s*\n?\s*"
    r"[（(]?\s*第\s*(?P<n>\d{1,5})\s*号\s*[）)]?\s*$"
)
_LABEL = re.compile(
    r"^\s*(?P<label>发文字号|文号|发文机关|发布机构|发文单位|成文日期|印发日期|发布日期|施行日期|生效日期|实施日期)"
    r"\s*[:：]\s*(?P<value>\S.*?)\s*$",
    re.MULTILINE,
)
_LABELS = {
    "发文字号": DOC_NUMBER, "文号": DOC_NUMBER,
    "发文机关": ISSUER, "发布机构": ISSUER, "发文单位": ISSUER,
    "成文日期": ISSUED, "印发日期": ISSUED,
    "发布日期": PUBLISHED,
    "施行日期": EFFECTIVE, "生效日期": EFFECTIVE, "实施日期": EFFECTIVE,
}  # fmt: skip
# 自2021年5月1日起施行 · 自2022年1月1日起实施 · 自印发之日起施行 · 自发布之日起执行
# 本办法自2021年5月1日起施行 · 本意见自印发之日起施行 · 现予公布，自2022年7月1日起施行: the
# document's own closing clause, not a rule a news report mentions ("该条例自…起施行").
_EFFECTIVE = re.compile(
    r"(?:本[\u4e00-\u9fff]{0,10}?(?:办法|规定|条例|通知|意见|规划|方案|细则|决定|制度|措施|标准|规则|指引|计划|纲要|公告)"
    r"|现予(?:公布|发布|印发))[^。\n]{0,12}?"
    r"自\s*(?:(?P<date>[^，。；\n]{6,16}?日)|(?P<same>印发|发布|公布|公告)之日)\s*起\s*(?:施行|实施|执行|生效)"
)
# An issuing body ends in one of these (the sign-off line above the date, or a
# red header's "…文件"); "部" but not 西部, 全部 or 干部.
_BODY_END = re.compile(
    r"(?:人民政府|政府|委员会|管委会|办公厅|办公室|(?<![东西南北中全内外局干基总])部|局|厅|委|署|院|中心"
    r"|协会|学会|联合会|商会)$"
)
_HEADER = re.compile(r"^\s*(?P<org>[\u4e00-\u9fff]{3,40}?)\s*文\s*件\s*$")


# How search results can be ordered: by relevance, or by one of the dates,
# oldest first ("issued") or newest first ("-issued").
DATE_FIELDS = (ISSUED, EFFECTIVE, PUBLISHED)
SORTS = ("relevance", *DATE_FIELDS, *(f"-{f}" for f in DATE_FIELDS))


class _HasMetadata(Protocol):
    @property
    def metadata(self) -> dict[str, Any]: ...


_T = TypeVar("_T", bound=_HasMetadata)


def sort_by_date(items: Sequence[_T], sort: str) -> list[_T]:
    """`items` (hits, in relevance order) ordered by a date of their document:
    "issued" oldest first, "-issued" newest first; items without that date
    keep their relevance order after the dated ones. "relevance" changes nothing.

    Raises ValueError for a sort not in SORTS."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    if sort == "relevance":
        return list(items)
    key = sort.lstrip("-")
    dated = [i for i in items if isinstance(i.metadata.get(key), str)]
    undated = [i for i in items if not isinstance(i.metadata.get(key), str)]
    return sorted(dated, key=lambda i: str(i.metadata[key]), reverse=sort.startswith("-")) + undated


def parse_date(text: str) -> str | None:
    """The first date in `text` as "YYYY-MM-DD", or None (also for 2021年2月30日)."""
    m = _DATE.search(text)
    if not m:
        return None
    parts = m.group("y", "m", "d") if m.group("y") else m.group("y2", "m2", "d2")
    try:
        y, mo, d = (_number(p) for p in parts)
        return date(y, mo, d).isoformat()
    except (ValueError, TypeError):
        return None


def _number(part: str) -> int:
    if part.isdigit():
        return int(part)
    if len(part) == 4 and "十" not in part:  # a year read digit by digit: 二〇二一
        return int("".join(_DIGIT_OF[c] for c in part))
    return int(cn2an.cn2an(part, "normal"))


def normalized_number(org: str, year: str, n: str) -> str:
    """发文字号 written the standard way: 渝府发〔2021〕12号 (GB/T 9704 brackets)."""
    return f"{org}〔{year}〕{int(n)}号"


def extract(text: str, given: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The document number, issuing body and dates found in the header,
    labelled fields and sign-off of `text`; only the fields found. `given`:
    metadata the user gave, which wins: "自印发之日起施行" takes its `issued`."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head, tail = lines[:HEAD_LINES], lines[-TAIL_LINES:]
    found: dict[str, str] = {}

    # Labelled fields (a government site's metadata block) win.
    for m in _LABEL.finditer("\n".join(head + tail)):
        key, value = _LABELS[m.group("label")], m.group("value")
        if key in (ISSUED, EFFECTIVE, PUBLISHED):
            parsed = parse_date(value)
            if parsed:
                found.setdefault(key, parsed)
        elif key == DOC_NUMBER:
            number = _NUMBER.search(value)
            found.setdefault(key, normalized_number(*number.group("org", "year", "n")) if number else value)
        else:
            found.setdefault(key, value)

    # A government order: "重庆市人民政府令" over "第345号"; its issuer is the order's body.
    order = _ORDER.match("\n".join(head[:2]))
    if order:
        found.setdefault(DOC_NUMBER, f"{order.group('org')}令第{int(order.group('n'))}号")
        found.setdefault(ISSUER, order.group("org"))
    if DOC_NUMBER not in found:
        for line in head:
            # The number stands on its own line under the header (an upward
            # document adds 签发人 on it); one quoted in a sentence is not it.
            number = _NUMBER.match(line)
            if number and re.fullmatch(r"\s*(?:签发人[:：].*)?", line[number.end() :]):
                found[DOC_NUMBER] = normalized_number(*number.group("org", "year", "n"))
                break

    headers = (m.group("org") for line in head[:3] if (m := _HEADER.match(line)))
    header = next((org for org in headers if _BODY_END.search(org)), None)
    issuer, issued = _sign_off(tail)
    if ISSUER not in found and (header or issuer):
        found[ISSUER] = header or issuer or ""
    # A date closing the text is the issue date only under a signing body, or
    # in a document whose header says it is official (an order is signed by a person).
    official = bool(header or DOC_NUMBER in found)
    if ISSUED not in found and issued and (issuer or official):
        found[ISSUED] = issued

    effective = _effective(tail, {**found, **(given or {})})
    if effective and EFFECTIVE not in found:
        found[EFFECTIVE] = effective
    return found


def _sign_off(tail: list[str]) -> tuple[str | None, str | None]:
    """The issuing body and date of the sign-off: a line that is only a date,
    and the body on the line above it (or before the date on the same line)."""
    for i in range(len(tail) - 1, -1, -1):
        line = tail[i]
        m = _DATE.search(line)
        if not m:
            continue
        before, after = line[: m.start()].strip(), line[m.end() :].strip(" ）)")
        if after or len(before) > 30:  # a date inside a sentence, not a sign-off
            continue
        issued = parse_date(line[m.start() : m.end()])
        body = before or (tail[i - 1] if i > 0 else "")
        body = re.sub(r"\s+", "", body)
        if not (2 <= len(body) <= 40 and _BODY_END.search(body) and not re.search(r"[，。；：]", body)):
            body = ""
        return body or None, issued
    return None, None


def _effective(tail: list[str], found: Mapping[str, Any]) -> str | None:
    """The date of the document's own "本…自…起施行" in its closing lines;
    "自印发之日起" is the issue date, "自发布之日起" the publication date (or the
    issue date without one)."""
    closing = "\n".join(tail)
    # the last one: the closing article, not an earlier rule quoted in the text
    m = next(reversed(list(_EFFECTIVE.finditer(closing))), None)
    if m is None:
        return None
    if m.group("date"):
        return parse_date(m.group("date"))
    same = found.get(ISSUED) if m.group("same") == "印发" else (found.get(PUBLISHED) or found.get(ISSUED))
    return same if isinstance(same, str) else None
