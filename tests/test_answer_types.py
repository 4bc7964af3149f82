"""answer_types: what kind of answer a question asks for, in Chinese and English."""

from __future__ import annotations

import pytest

from policyqa.index.answer_types import AnswerType, detect_answer_type

P, L, ORG, T, Q, LI, D = (
    AnswerType.PERSON,
    AnswerType.PLACE,
    AnswerType.ORGANIZATION,
    AnswerType.TIME,
    AnswerType.QUANTITY,
    AnswerType.LIST,
    AnswerType.DESCRIPTION,
)


@pytest.mark.parametrize(
    "question, kind",
    [
        # Chinese
        ("重庆经开区管委会主任是谁？", P),
        ("《长眠不醒》的作者是谁？", P),
        ("哪位科学家的团队把沙漠土技术带到广阳湾？", P),
        ("哪个园区提出数字经济增加值占GDP比重达35%？", L),
        ("固始站位于哪里？", L),
        ("金关丈夫出身于什么地方？", L),
        ("广茂铁路由哪家公司管理运营？", ORG),
        ("2010年东亚足球锦标赛由哪个机构举办？", ORG),
        ("秧鸡什么时候从关岛南部消失了？", T),
        ("曾志豪在哪一年加入了大宇资讯工作？", T),
        ("重庆超力高科将投资多少钱？", Q),
        ("璧山区今年一季度地区生产总值同比增长多少？", Q),
        ("2007年亚足联冠军联赛是第几届？", Q),
        ("广阳湾布局了哪些头部企业？", LI),
        ("为什么说《一年之初》是郑有杰的成名之作？", D),
        ("新西兰鸲鹟身体呈什么颜色？", D),
        # full-width and mixed input
        ("ＧＤＰ增长了多少？", Q),
        # English
        ("Who is the party secretary of Bishan District?", P),
        ("Which park targets a 35% digital-economy share?", L),
        ("Where is the Konghui plant?", L),
        ("Which company builds the Bishan high-speed rail station?", ORG),
        ("When will the college enroll its first students?", T),
        ("What year did the zone open?", T),
        ("How much did Tesla invest in the zone?", Q),
        ("What share of GDP does the digital economy reach?", Q),
        ("Why does Bishan focus on green manufacturing?", D),
        ("", D),
    ],
)
def test_detect_answer_type(question: str, kind: AnswerType) -> None:
    assert detect_answer_type(question) is kind


def test_typed_kinds_are_the_short_answer_ones() -> None:
    assert {k for k in AnswerType if k.typed} == {P, L, ORG, T, Q}
