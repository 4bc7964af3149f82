"""Spans of a sentence that could be a short answer: names (person, place,
organisation), times and quantities, each with the kinds it could be.

Spans come from jieba.posseg tags (nr person, ns place, nt organisation, nz
other name, t time, m numeral, q measure word), with the name words inside a
longer run of nouns, and from patterns for dates, eras, clock times and
figures with their units. Which span answers is decided by a learned model
over `span_features` (index/answer_model.py); this module only finds and
describes the candidates, with offsets into the text it was given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .answer_types import AnswerType

_NAME_TAGS = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "n", "j", "eng", "ng", "nx", "an", "vn"})
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_PLACE_END = re.compile(
    r"(?:区|城|园|市|省|县|镇|乡|村|岛|湾|国|州|港|山|河|湖|江|海|路|街|站|半岛|大陆|地区|基地|盆地)$"
)
_ORG_END = re.compile(
    r"(?:公司|集团|大学|学院|学校|中学|小学|银行|医院|协会|委员会|局|部|厅|署|中心|研究院|研究所|所|队|俱乐部|会|社|台|厂|"
    r"政府|法院|机构|组织|乐队|党|军|报|出版社|基金会|实验室|企业)$"
)
_TIME = re.compile(
    r"(?:公元前?)?\d{1,4}\s*(?:[-－–~至到]\s*\d{1,4}\s*)?年代?(?:初期?|中期?|末期?|后期|前期|底|初|末)?"
    r"(?:\d{1,2}\s*(?:[-－–~至到]\s*\d{1,2}\s*)?月(?:上旬|中旬|下旬|底|初)?)?(?:\d{1,2}\s*日)?"
    r"|\d{1,2}\s*(?:[-－–~至到]\s*\d{1,2}\s*)?月(?:\d{1,2}\s*日)?(?:上旬|中旬|下旬|底|初)?"
    r"|\d{1,2}\s*世纪(?:\d{1,2}\s*年代)?(?:初期?|中期?|末期?|后期|前期)?"
    r"|[一二三四五六七八九十〇零]{2,4}年|[一二三四五六七八九十]{1,3}世纪"
    # months and days in Chinese numerals (六月二十二日)
    r"|[一二三四五六七八九十]{1,2}月(?:[一二三四五六七八九十]{1,3}[日号])?(?:上旬|中旬|下旬|底|初)?"
)
# A reign year, where the year of the common era follows in brackets ("元和九年（814年）"):
# without the bracket, "实施三年" or "长达七十年" would read as reign years too.
_REIGN_YEAR = re.compile(
    r"(?:(?![零〇一二两三四五六七八九十百千])[\u4e00-\u9fff]){2}(?:元|[一二三四五六七八九十]{1,3})年(?=[（(]\d{1,4}年)"
)
# Dynasties and eras, and geological periods ("白垩纪早到末期"). A one-character dynasty
# only with 朝/代 or a part of it (唐朝, 清代康熙年间 reads 清代, 明末): alone, 元 明 周 金
# are everyday characters (亿元, 明确, 周边, 资金).
_ERA_PART = r"(?:初年|末年|初期|中期|后期|末期|时期|年间)"
_ONE_CHARACTER_DYNASTY = r"[夏商周秦汉晋隋唐宋辽金元明清]"
_ERA = re.compile(
    r"(?:西汉|东汉|西晋|东晋|北宋|南宋|北魏|东魏|西魏|北齐|北周|南北朝|三国|五代十国|五代|战国|春秋|民国)"
    r"(?:时期|年间|末年|初年)?"
    rf"|{_ONE_CHARACTER_DYNASTY}(?:朝|代){_ERA_PART}?|{_ONE_CHARACTER_DYNASTY}{_ERA_PART}"
    r"|(?:寒武|奥陶|志留|泥盆|石炭|二叠|三叠|侏罗|白垩|古近|新近|第三|第四)纪(?:早期|中期|晚期|末期|早到末期)?"
)
# A range between two figures or two times.
_TO = r"\s*[-－–~至到]\s*"
# Clock times and their ranges ("5时30分－22时30分", "10:30"); never inside a longer
# figure (2023:10) and never a score or ratio (3:1: minutes have two digits).
_CLOCK_TIME = r"\d{1,2}(?:\s*[时点]\s*\d{1,2}\s*分?|[:：]\d{2})"
_CLOCK = re.compile(rf"(?<!\d){_CLOCK_TIME}(?:{_TO}{_CLOCK_TIME})?(?!\d)")
# Pieces of one date written apart ("元和九年（814年）九月"): only brackets or a space between them.
_TIME_JOINER = re.compile(r"^[\s（）()]{0,2}$")
_UNITS = (
    "km/h|km²|km2|km|kg|cm|mm|MW|kW|GW|mph|m/s|m²|m³|m2|m3|m(?![a-zA-Z])|%|‰|％|亿元|万元|千元|元|亿美元|万美元|美元|港元|欧元|日元|英镑|人次|万人|人|个|家|项|名|座|所|条|种|次|届|年|岁|倍|"
    "平方公里|平方千米|平方米|公顷|亩|千米|公里|厘米|毫米|米|英尺|英里|英寸|吨|万吨|千克|公斤|克|千瓦|兆瓦|瓦|"
    "分钟|小时|天|日|个月|月|周|度|级|部|本|首|场|位|辆|台|架|艘|层|户|件|册|集|章|卷|篇|分|秒|升|立方米|号|期|支|块|只|头|棵|张"
)
# More units, read only after digits (a bare 字 or 站 after a Chinese numeral is a word);
# first in the alternation, so that 平方英里 is read before 英里 and 光年 before 年.
_MORE_UNITS = (
    "平方英里|平方英尺|英亩|海里|光年|天文单位|地球日|马力|加仑|磅|盎司|字|票|枚|尾|匹|株|颗|粒|门|道|节|站|幅"
)
_QUANTITY = re.compile(
    rf"(?:约|近|超过|超|逾|第)?\s*\d+(?:[.,，]\d+)*\s*(?:多|余)?\s*(?:万|亿|千|百)*\s*(?:{_MORE_UNITS}|{_UNITS})?"
    rf"(?:以上|左右|多)?"
    rf"|(?:第)?[零〇一二两三四五六七八九十百千万亿]+(?:多|余)?(?:{_UNITS})"
)
# A range of figures with its unit ("63-74厘米").
_QUANTITY_RANGE = re.compile(
    rf"(?<![\d.])\d+(?:\.\d+)?{_TO}\d+(?:\.\d+)?\s*(?:万|亿|千|百)*\s*(?:{_MORE_UNITS}|{_UNITS})"
)
_TITLE = re.compile(r"《[^《》\n]{1,30}》")
_PREPOSITION = re.compile(r"(?:以|在|与|和|及|由|对|向|从|于|被|把|同|跟|将)$")
_COPULA = re.compile(r"(?:是|为|叫|称|名为|称为|叫做|作|即|：|:)\s*[“「《]?$")
_CLAUSE_START = re.compile(r"(?:^|[，。；！？、：\n]|未来|目前|如今|近年来|此外|同时|其中)\s*[“「]?$")


@dataclass(frozen=True)
class Span:
    """A candidate short answer: `text == sentence[start:end]`, with the kinds it could be."""

    start: int
    end: int
    text: str
    kinds: frozenset[AnswerType]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \t\n\r，。、；：,.;:":
        start += 1
    while end > start and text[end - 1] in " \t\n\r，。、；：,.;:":
        end -= 1
    return start, end


def candidate_spans(text: str, tags: list[tuple[str, str]]) -> list[Span]:
    """Every span of `text` that could be a short answer.

    `tags` is `text` cut by jieba.posseg (the words must concatenate to `text`).
    Names are maximal runs of noun-like words (a "·" joins two person names),
    and the place, organisation and person words inside a longer run;
    times and quantities come from patterns. A span is listed once, with every
    kind it could be.
    """
    kinds: dict[tuple[int, int], set[AnswerType]] = {}

    def add(start: int, end: int, kind: AnswerType) -> None:
        start, end = _strip(text, start, end)
        if end - start >= 1 and any(ch.isalnum() for ch in text[start:end]):
            kinds.setdefault((start, end), set()).add(kind)

    offset = 0
    run: list[tuple[int, int, str, str]] = []

    def close() -> None:
        if not run:
            return
        start, end = run[0][0], run[-1][1]
        flags = {f for *_, f in run}
        phrase = text[start:end]
        if flags & _PERSON_TAGS and not _PLACE_END.search(phrase) and not _ORG_END.search(phrase):
            add(start, end, AnswerType.PERSON)
        if "ns" in flags or _PLACE_END.search(phrase):
            add(start, end, AnswerType.PLACE)
        if "nt" in flags or _ORG_END.search(phrase):
            add(start, end, AnswerType.ORGANIZATION)
        if "eng" in flags or phrase.startswith("《"):  # a foreign name or a title: any name it could be
            for kind in (AnswerType.PERSON, AnswerType.PLACE, AnswerType.ORGANIZATION):
                add(start, end, kind)
        if flags & {"nz", "eng", "j"} or len(run) > 1:
            add(start, end, AnswerType.DESCRIPTION)  # some other name or term
        # A run is often longer than the answer: 巴西足球运动员 holds the place 巴西, 香港大学工程理学士
        # the university 香港大学, 创始人青木汤之助 the person 青木汤之助. So each place word, alone and
        # with the run up to it, each run prefix that ends like an organisation, and each person word.
        if len(run) > 1:
            for s, e, w, f in run:
                if f == "ns" or (len(w) > 1 and _PLACE_END.search(w)):
                    add(start, e, AnswerType.PLACE)
                    add(s, e, AnswerType.PLACE)
                if f == "nt" or _ORG_END.search(text[start:e]):
                    add(start, e, AnswerType.ORGANIZATION)
                if f in _PERSON_TAGS:
                    add(s, e, AnswerType.PERSON)
        run.clear()

    for word, flag in tags:
        start, end = offset, offset + len(word)
        offset = end
        joiner = (word in ("·", "•", "-") and run and run[-1][3] in _PERSON_TAGS) or (
            word == " " and run and run[-1][3] == "eng"
        )
        if flag in _NAME_TAGS or joiner or (run and run[-1][2] in ("·", "•") and flag in _NAME_TAGS):
            run.append((start, end, word, flag))
        else:
            close()
        if flag == "t":
            add(start, end, AnswerType.TIME)
    close()
    for m in _TITLE.finditer(text):
        for kind in (AnswerType.PERSON, AnswerType.PLACE, AnswerType.ORGANIZATION, AnswerType.DESCRIPTION):
            add(m.start(), m.end(), kind)
    times = [(m.start(), m.end()) for pattern in (_TIME, _REIGN_YEAR) for m in pattern.finditer(text)]
    for start, end in times:
        add(start, end, AnswerType.TIME)
    _join_times(text, times, add)
    for pattern in (_ERA, _CLOCK):
        for m in pattern.finditer(text):
            add(m.start(), m.end(), AnswerType.TIME)
    for m in _QUANTITY.finditer(text):
        if any(ch.isdigit() for ch in m.group()) or re.search(_UNITS, m.group()):
            add(m.start(), m.end(), AnswerType.QUANTITY)
    for m in _QUANTITY_RANGE.finditer(text):
        add(m.start(), m.end(), AnswerType.QUANTITY)
    return [Span(s, e, text[s:e], frozenset(k)) for (s, e), k in sorted(kinds.items())]


def _join_times(text: str, times: list[tuple[int, int]], add: Callable[[int, int, AnswerType], None]) -> None:
    """Each run of time spans that only brackets part, as one more span:
    "元和九年（814年）九月" is one date, not three."""
    run: list[tuple[int, int]] = []
    for start, end in [*sorted(set(times)), (len(text) + 10, len(text) + 10)]:
        if run and 0 <= start - run[-1][1] and _TIME_JOINER.match(text[run[-1][1] : start]):
            run.append((start, end))
            continue
        if len(run) > 1:
            first, last = run[0][0], run[-1][1]
            if text.count("（", first, last) > text.count("）", first, last) and text[last : last + 1] == "）":
                last += 1  # "建隆元年（960年）", not "建隆元年（960年"
            add(first, last, AnswerType.TIME)
        run = [(start, end)]


SPAN_FEATURES = (
    "in_question",  # share of the span's characters that occur in the question
    "near_terms",  # closeness to the nearest question term in the sentence: exp(-chars / 10)
    "in_best",  # the span lies in the best sentence (not a neighbouring one)
    "sentence_score",  # the answer model's probability for the span's sentence
    "length",  # log of the span's length in characters
    "clause_start",  # the span opens a clause
    "after_preposition",  # 以/在/由 ... right before it (an adverbial, not the subject)
    "after_copula",  # 是/为/叫 ... right before it ("X 是 Y": Y answers "X 是什么/谁")
    "in_title",  # the span occurs in the document's title
    "subject_asked",  # the span is a clause's subject and the question asks for its subject (哪个园区提出…)
    "sentences_before",  # how many sentences before the best one it stands (0 in a quoted one)
    "left_anchor",  # the question's words just before its question word end right before the span
    "right_anchor",  # the question's words just after its question word begin right after the span
    "anchored",  # the span was cut between such anchors rather than found by its tags
    "name_tag",  # jieba tagged a word of it as a person, place or organisation name
    "near_gap",  # near_terms minus the best near_terms among the question's spans (0 for the best)
    "anchor_gap",  # left + right anchor minus the best such sum among the question's spans
    "latin",  # share of Latin letters in it (a foreign name in brackets seldom answers a Chinese question)
    "left_context",  # the characters just before it occur just before the question word (nearest weigh most)
    "right_context",  # ... the characters after it, after the question word ("由[九巴]营运": 由什么公司营运)
    "left_break",  # punctuation or the sentence's start right before it
    "right_break",  # ... right after it
    "context_gap",  # left + right context minus the best such sum among the question's spans
    "asked_noun",  # a name that ends like the noun asked about (什么公司 → …公司, 哪个国家 → …国), names only
)
# A span followed by one of these is the subject of its clause.
_SUBJECT_NEXT = re.compile(
    r"^\s*[”」]?(?:将|要|已|正|是|为|在|持续|提出|计划|力争|实现|获得|成为|于|的目标|今年|目前|共|曾|也|还|则|由|所|与|和|设计|创作|主演|担任|发现|发明|建立|创立|领导|率领)"
)
# Question words (longest first); where one stands says which role the answer plays.
_ASKING = re.compile(
    r"什么时候|什么地方|哪一年|哪一天|哪个月|多少年|哪里|哪儿|何时|何地|何处|什么|哪些|哪个|哪家|哪位|哪所|哪一|哪|谁|多少|几|"
    r"\b(?:which|who|whom|whose|what|where|when|how)\b",
    re.I,
)
_LEADING_VERB = re.compile(r"(?:位于|坐落于|是|为|在|于|有|叫|称为|名为)")
_FUNCTION_START = re.compile(r"[了的这那其他她它就也都而并及与和将被把从对]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# The noun a question asks about, after its question word and a measure word: 公司 of 由什么公司营运.
_ASKED_NOUN = re.compile(r"(?:什么|哪一个|哪一|哪个|哪|何)(?:个|位|家|所|座|条|种|支|间|部|本)?([\u4e00-\u9fff]{2})")
# Where a name cut back from the question's right words starts: after the last of these.
_RIGHT_CUT_AFTER = re.compile(r"[由经被在于为是与和向从给让]")
# How much of the question on either side of its question word the context features read,
# and the weights of the 1st..4th nearest characters beside a span.
CONTEXT_CHARS = 10
_CONTEXT_WEIGHTS = (1.0, 0.7, 0.5, 0.35)
_CONTEXT_SKIP = frozenset("，。；、,;：:！？!?“”「」（）()《》")  # and whitespace
_BREAK = re.compile(r"[，。；、,;（(：:！？!?\n]")
_NEEDS = {
    AnswerType.QUANTITY: re.compile(r"[\d零〇一二两三四五六七八九十百千万亿]"),
    AnswerType.TIME: re.compile(r"\d|年|月|日|世纪|朝|时期|时代|代"),
}


@dataclass(frozen=True)
class Anchors:
    """The question's words on either side of its question word, longest first."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    asks_subject: bool
    before: str = ""  # the question's last characters before its question word
    after: str = ""  # ... and its first characters after it
    noun: str = ""  # the noun it asks about (公司 of 什么公司), if any

    @classmethod
    def of(cls, question: str) -> Anchors:
        asking = _ASKING.search(question)
        if asking is None:
            return cls((), (), False)
        before = re.sub(r"[\s，。？?！!、]+$", "", question[: asking.start()])
        after = re.sub(r"^[\s，。？?！!、]+|[\s，。？?！!]+$", "", question[asking.end() :])
        # "原址在哪里" → "原址在" and "原址": a report writes 原址位于 as often as 原址在.
        trimmed = re.sub(r"(?:在|是|于|为|的|有)$", "", before)
        left = tuple(dict.fromkeys(b[-k:] for k in (4, 3, 2) for b in (before, trimmed) if len(b) >= k))
        right = tuple(after[o : o + k] for k in (4, 3, 2) for o in (0, 1) if len(after) >= o + k)
        noun = _ASKED_NOUN.search(question)
        return cls(
            left, right, asking.start() <= max(2, len(question) // 5), before[-CONTEXT_CHARS:], after[:CONTEXT_CHARS],
            noun.group(1) if noun else "",
        )


def anchored_spans(text: str, anchors: Anchors, kind: AnswerType) -> list[Span]:
    """Spans cut between an occurrence of the question's left words and the next
    break (or its right words): "固始站位于[河南省固始县段集镇]"; and cut back from
    an occurrence of its right words to the last preposition or break before it:
    "经[达赖喇嘛]同意后任命". Names only: a time or a figure has its own pattern,
    which gives cleaner edges."""
    out: dict[tuple[int, int], Span] = {}
    if kind not in (AnswerType.PERSON, AnswerType.PLACE, AnswerType.ORGANIZATION):
        return []
    for left in anchors.left:
        at = text.find(left)
        while at != -1:
            start = at + len(left)
            stop = _BREAK.search(text, start)
            end = stop.start() if stop else len(text)
            for right in anchors.right:
                found = text.find(right, start, end + len(right))
                if found != -1:
                    end = min(end, found)
                    break
            start, end = _strip(text, start, end)
            lead = _LEADING_VERB.match(text, start, end)
            start = lead.end() if lead else start
            needs = _NEEDS.get(kind)
            if (
                2 <= end - start <= 25
                and not _FUNCTION_START.match(text, start)
                and (needs is None or needs.search(text[start:end]))
            ):
                out[(start, end)] = Span(start, end, text[start:end], frozenset({kind}))
            at = text.find(left, at + 1)
    # ... and between the last break, or the last preposition, and the question's right words:
    # "由噶厦拟定经[达赖喇嘛]同意后任命" for "需经谁同意后任命".
    for right in anchors.right:
        at = text.find(right)
        while at != -1:
            breaks = [m.end() for m in _BREAK.finditer(text, 0, at)]
            start = breaks[-1] if breaks else 0
            end = at
            while end > start and _RIGHT_CUT_AFTER.match(text, end - 1):
                end -= 1  # "长官经[同意后任命]": the name ends before its preposition
            leads = [m.end() for m in _RIGHT_CUT_AFTER.finditer(text, start, end)]
            start = leads[-1] if leads else start
            start, end = _strip(text, start, end)
            if 2 <= end - start <= 25 and not _FUNCTION_START.match(text, start):
                out.setdefault((start, end), Span(start, end, text[start:end], frozenset({kind})))
            at = text.find(right, at + 1)
    return list(out.values())


def _anchor_score(anchors: tuple[str, ...], text: str, position: int, before: bool) -> float:
    """len(anchor) / 4 for the longest anchor that ends (before=True) or starts
    within two characters of `position`; line breaks inside the text are ignored."""
    for anchor in anchors:
        reach = len(anchor) + 6
        window = text[max(0, position - reach) : position] if before else text[position : position + reach]
        squeezed = "".join(window.split())
        window = squeezed[-(len(anchor) + 2) :] if before else squeezed[: len(anchor) + 2]
        if anchor in window:
            return len(anchor) / 4
    return 0.0


def span_features(
    span: Span,
    sentence: str,
    question: str,
    anchors: Anchors,
    term_positions: list[tuple[int, int]],
    in_best: bool,
    sentence_score: float,
    title: str,
    sentences_before: int = 0,
    anchored: bool = False,
    name_tag: bool = False,
) -> list[float]:
    """The features of `span` (offsets in `sentence`), in `SPAN_FEATURES` order.
    `term_positions`: where the question's terms occur in `sentence`."""
    chars = [ch for ch in span.text if not ch.isspace()]
    in_question = sum(ch in question for ch in chars) / max(1, len(chars))
    gaps = [max(0, s - span.end, span.start - e) for s, e in term_positions if e <= span.start or s >= span.end]
    near = math.exp(-min(gaps) / 10) if gaps else 0.0
    before = sentence[max(0, span.start - 6) : span.start]
    subject = bool(_CLAUSE_START.search(before)) and bool(_SUBJECT_NEXT.search(sentence[span.end : span.end + 6]))
    return [
        in_question,
        near,
        1.0 if in_best else 0.0,
        sentence_score,
        math.log(1 + len(chars)),
        1.0 if _CLAUSE_START.search(before) else 0.0,
        1.0 if _PREPOSITION.search(before) else 0.0,
        1.0 if _COPULA.search(before) else 0.0,
        1.0 if span.text in title else 0.0,
        1.0 if subject and anchors.asks_subject else 0.0,
        float(sentences_before),
        _anchor_score(anchors.left, sentence, span.start, before=True),
        _anchor_score(anchors.right, sentence, span.end, before=False),
        1.0 if anchored else 0.0,
        1.0 if name_tag else 0.0,
    ]


def context_features(span: Span, sentence: str, anchors: Anchors) -> list[float]:
    """left_context, right_context, left_break and right_break of `span` (offsets in `sentence`)."""
    return [
        _context_share(_nearest(sentence, span.start, before=True), anchors.before),
        _context_share(_nearest(sentence, span.end, before=False), anchors.after),
        1.0 if span.start == 0 or _skipped(sentence[span.start - 1]) else 0.0,
        1.0 if span.end >= len(sentence) or _skipped(sentence[span.end]) else 0.0,
    ]


def context_fit(sentence: str, anchors: Anchors, reach: int = 30) -> float:
    """How well some gap of 1 to `reach` characters in `sentence` sits between the
    question's words before and after its question word: the best left + right
    context share around any such gap, over the number of sides the question has.
    A sentence that answers "X由什么公司营运" often reads "X…由[九巴]营运"."""
    sides = bool(anchors.before) + bool(anchors.after)
    if not sides or not sentence:
        return 0.0
    left = _side_shares(sentence, anchors.before, before=True)
    right = _side_shares(sentence, anchors.after, before=False)
    best = max(right[1:])  # a gap with nothing of the question before it
    if anchors.before:
        # following[i] = max(right[i + 1 : i + 1 + reach]): the best right side of a gap opening at i
        padded = np.array(right[1:] + [0.0] * (reach - 1))
        following = sliding_window_view(padded, reach).max(axis=1)
        sums = np.array(left[:-1]) + following
        opened = np.array(left[:-1]) > 0
        if opened.any():
            best = max(best, float(sums[opened].max()))
    return best / sides


def _side_shares(sentence: str, context: str, before: bool) -> list[float]:
    """`_context_share(_nearest(sentence, p, before), context)` for every cut position p
    (0..len(sentence)), in one pass: context_fit reads them all, for every candidate."""
    n = len(sentence)
    shares = [0.0] * (n + 1)
    if not context:
        return shares
    w0, w1, w2, w3 = _CONTEXT_WEIGHTS
    total = sum(_CONTEXT_WEIGHTS)
    h0 = h1 = h2 = h3 = False  # whether the context holds the 1st..4th nearest kept character
    for position in range(n + 1) if before else range(n, -1, -1):
        if not before and position < n and not _skipped(sentence[position]):
            h0, h1, h2, h3 = sentence[position] in context, h0, h1, h2
        shares[position] = (w0 * h0 + w1 * h1 + w2 * h2 + w3 * h3) / total  # as _context_share sums them
        if before and position < n and not _skipped(sentence[position]):
            h0, h1, h2, h3 = sentence[position] in context, h0, h1, h2
    return shares


def ends_like_noun(span: Span, noun: str) -> float:
    """1.0 when the span ends with the asked-about noun or one of its characters (美国 for 国家)."""
    text = span.text.strip()
    return 1.0 if noun and text and (text.endswith(noun) or text[-1] in noun) else 0.0


def _nearest(sentence: str, position: int, before: bool, count: int = 4) -> list[str]:
    """The `count` characters nearest to `position` on one side, nearest first, punctuation skipped."""
    out: list[str] = []
    step = -1 if before else 1
    i = position - 1 if before else position
    while 0 <= i < len(sentence) and len(out) < count:
        if not _skipped(sentence[i]):
            out.append(sentence[i])
        i += step
    return out


def _skipped(ch: str) -> bool:
    return ch.isspace() or ch in _CONTEXT_SKIP


def _context_share(chars: list[str], context: str) -> float:
    """Weighted share of the nearest `chars` (at most four) that `context` holds."""
    if not context:
        return 0.0
    found = sum(w for w, ch in zip(_CONTEXT_WEIGHTS, chars, strict=False) if ch in context)
    return found / sum(_CONTEXT_WEIGHTS)


def latin_share(text: str) -> float:
    """Share of Latin letters among the non-space characters of `text`."""
    chars = [ch for ch in text if not ch.isspace()]
    return len(_LATIN_LETTER.findall(text)) / max(1, len(chars))

