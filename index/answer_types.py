"""What kind of answer a question asks for: a person, a place, an organisation,
a time, a quantity, a list, or a sentence (what / why / how).

Rules over the question's own wording, in Chinese and English. They decide
which spans can be a short answer (`index.short_answer`) and feed the
answer/abstain model a feature ("the sentence holds a span of the asked kind").
"""

from __future__ import annotations

import enum
import re
import unicodedata


class AnswerType(enum.StrEnum):
    PERSON = "person"
    PLACE = "place"
    ORGANIZATION = "organization"
    TIME = "time"
    QUANTITY = "quantity"
    LIST = "list"
    DESCRIPTION = "description"

    @property
    def typed(self) -> bool:
        """Whether a short span (a name, a date, a figure) can answer it."""
        return self in _TYPED


_TYPED = frozenset({AnswerType.PERSON, AnswerType.PLACE, AnswerType.ORGANIZATION, AnswerType.TIME, AnswerType.QUANTITY})

# Nouns after 哪个/哪家/which … that say what kind of thing is asked for.
_PLACE_NOUNS = (
    "国家|城市|省份|省|市|县|区|地区|地方|位置|园区|开发区|新区|城区|城|镇|乡|村|州|岛|湾|河|山|湖|海|港|"
    "大陆|洲|街道|街|路|站|机场|场馆|地点|区域|片区|基地"
)
_ORG_NOUNS = (
    "公司|企业|机构|组织|部门|单位|大学|学校|学院|高校|银行|医院|团队|球队|俱乐部|乐队|政府|协会|集团|厂商|"
    "品牌|媒体|电视台|报社|出版社|政党|党派|委员会|厂|商家|平台"
)
_PERSON_NOUNS = (
    "人|人物|演员|歌手|作者|导演|总统|皇帝|国王|领导|负责人|球员|教练|科学家|画家|诗人|作家|主任|书记|市长|区长"
)

_RULES_ZH: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (AnswerType.LIST, re.compile(r"哪些|有什么(?:企业|项目|产业|公司|园区|措施)")),
    (
        AnswerType.TIME,
        re.compile(
            r"什么时候|何时|哪一?年|何年|几月|哪一?天|哪个月|什么时间|什么年代|哪个年代|什么时期|哪个时期|哪一时期|"
            r"何日|几号|几点|什么日期|哪个朝代|几几年"
        ),
    ),
    (AnswerType.PERSON, re.compile(rf"谁|哪一?位|何人|什么人(?!口|数)|哪个(?:{_PERSON_NOUNS})|(?:叫什么名字)")),
    (AnswerType.ORGANIZATION, re.compile(rf"哪[家所个一]?(?:{_ORG_NOUNS})|什么(?:{_ORG_NOUNS})|哪家")),
    (
        AnswerType.PLACE,
        re.compile(rf"哪里|哪儿|何处|何地|什么地方|在哪|哪[个座一]?(?:{_PLACE_NOUNS})|什么(?:{_PLACE_NOUNS})"),
    ),
    (
        AnswerType.QUANTITY,
        re.compile(
            r"多少|几[个年月天项家位次届种座条名人岁倍成亿万千百十]|多大|多高|多长|多久|多远|多重|多深|多宽|多厚|多快|"
            r"占比|比重|比例|百分之几|增幅|增速|面积|人口|海拔|规模多大"
        ),
    ),
)

_EN_PLACE = (
    "park|city|district|zone|county|province|country|place|area|region|town|village|island|bay|site|"
    "location|base|new area|state|port|station"
)
_EN_ORG = (
    "company|companies|firm|organi[sz]ation|body|institution|agency|university|college|school|bank|enterprise|"
    "department|group|team|club|manufacturer|brand|platform|carmaker|automaker|maker|producer|operator"
)
_RULES_EN: tuple[tuple[AnswerType, re.Pattern[str]], ...] = (
    (AnswerType.LIST, re.compile(r"\bwhich (?:ones|\w+s) (?:are|were|have|will)\b|\blist\b|\bwhat are the\b")),
    (
        AnswerType.TIME,
        re.compile(
            r"\bwhen\b|\bwhat (?:year|date|month|day|time)\b|\bwhich (?:year|month|date|day)\b|\bby what year\b|"
            r"\bhow soon\b"
        ),
    ),
    (AnswerType.PERSON, re.compile(r"\bwho(?:m|se)?\b|\bwhich (?:person|official|leader|director)\b")),
    (AnswerType.ORGANIZATION, re.compile(rf"\b(?:which|what) (?:\w+ )?(?:{_EN_ORG})\b")),
    (AnswerType.PLACE, re.compile(rf"\bwhere\b|\b(?:which|what) (?:\w+ )?(?:{_EN_PLACE})\b")),
    (
        AnswerType.QUANTITY,
        re.compile(
            r"\bhow (?:many|much|long|large|big|high|far|fast|old)\b|"
            r"\bwhat (?:share|percentage|proportion|rate|amount|number|value|level|size|total|figure)\b|"
            r"\bwhat (?:is|was|will be) the (?:share|percentage|proportion|rate|amount|number|value|total|growth)\b"
        ),
    ),
)
_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")


def detect_answer_type(question: str) -> AnswerType:
    """The kind of answer `question` asks for; DESCRIPTION when no rule fits.

    A Chinese question is read with the Chinese rules, any other with the
    English ones. Rules are tried in a fixed order (list, time, person,
    organisation, place, quantity): "哪一年" is a time before it is a quantity,
    "哪家公司" an organisation before 公司 reads as a place.
    """
    text = unicodedata.normalize("NFKC", question)
    chinese = len(_CJK.findall(text)) >= len(_LATIN.findall(text)) / 3 and _CJK.search(text) is not None
    rules = _RULES_ZH if chinese else _RULES_EN
    probe = text if chinese else text.lower()
    for kind, pattern in rules:
        if pattern.search(probe):
            return kind
    return AnswerType.DESCRIPTION
