"""short_answer: candidate spans with exact offsets, anchors, and the answerer's short answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policyqa.index.answer import ExtractiveAnswerer
from policyqa.index.answer_types import AnswerType
from policyqa.index.short_answer import (
    SPAN_FEATURES,
    Anchors,
    Span,
    anchored_spans,
    candidate_spans,
    context_features,
    context_fit,
    ends_like_noun,
    latin_share,
    span_features,
)
from policyqa.index.tokenize import ChineseTokenizer

REPO = Path(__file__).resolve().parent.parent
QUESTIONS = [json.loads(line) for line in (REPO / "eval/questions/seed.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def tokenizer() -> ChineseTokenizer:
    return ChineseTokenizer()


def spans_of(tokenizer: ChineseTokenizer, text: str) -> dict[str, set[AnswerType]]:
    spans = candidate_spans(text, tokenizer.tag(text))
    for s in spans:
        assert text[s.start : s.end] == s.text  # every span is an exact slice
    return {s.text: set(s.kinds) for s in spans}


def test_tags_concatenate_to_the_text(tokenizer: ChineseTokenizer) -> None:
    text = "未来，广阳湾智创生态城将持续聚焦“智\n慧+”。ＧＤＰ达208.2亿元"
    tags = tokenizer.tag(text)
    assert "".join(w for w, _ in tags) == text
    assert ("广阳湾", "ns") in tags  # the user dictionary's tag


def test_names_times_and_quantities(tokenizer: ChineseTokenizer) -> None:
    found = spans_of(
        tokenizer, "未来，广阳湾智创生态城将在2025年实现数字经济增加值占GDP比重达35%，投资约3.5万平方公里。"
    )
    assert AnswerType.PLACE in found["广阳湾智创生态城"]
    assert AnswerType.TIME in found["2025年"]
    assert AnswerType.QUANTITY in found["35%"]
    assert AnswerType.QUANTITY in found["约3.5万平方公里"]


def test_person_names_join_at_the_middle_dot(tokenizer: ChineseTokenizer) -> None:
    found = spans_of(tokenizer, "马其顿即将离任的总统是布兰科·茨尔文科夫斯基，1997年加入大宇资讯。")
    assert AnswerType.PERSON in found["布兰科·茨尔文科夫斯基"]
    assert AnswerType.TIME in found["1997年"]


def test_a_date_written_in_pieces_is_also_one_span(tokenizer: ChineseTokenizer) -> None:
    found = spans_of(tokenizer, "宋子仙于大宝二年（551年）六月二十二日投降，跟踪距离为40km。")
    assert AnswerType.TIME in found["大宝二年（551年）六月二十二日"]  # reign year, year and day joined
    assert AnswerType.TIME in found["六月二十二日"] and AnswerType.TIME in found["551年"]  # the pieces stay too
    assert "于大宝二年" not in found  # a reign name is two characters before its year
    assert AnswerType.QUANTITY in found["40km"]  # Latin units count as units
    assert AnswerType.TIME in spans_of(tokenizer, "宋朝建隆元年（960年）建立。")["建隆元年（960年）"]  # bracket closed
    apart = spans_of(tokenizer, "该园区始建于2015年，2018年投入使用，计划实施三年，长达七十年。")
    assert "2015年，2018年" not in apart  # two dates a comma parts are two answers
    assert not any(text.startswith(("实施", "长达")) for text in apart)  # durations are no reign years
    assert "一九九七年" in spans_of(tokenizer, "香港一九九七年回归。")


def test_a_run_of_nouns_also_gives_the_name_inside_it(tokenizer: ChineseTokenizer) -> None:
    # The answer is often a word of a longer noun run: the country of 巴西足球运动员,
    # the university of 香港大学工程理学士学位毕业, the person after a title.
    assert AnswerType.PLACE in spans_of(tokenizer, "莱昂德罗·内托，巴西足球运动员，司职前锋。")["巴西"]
    assert AnswerType.ORGANIZATION in spans_of(tokenizer, "他于香港大学工程理学士学位毕业。")["香港大学"]
    whole = spans_of(tokenizer, "他于香港大学工程理学士学位毕业。")
    assert any(len(text) > len("香港大学") and text.startswith("香港大学") for text in whole)  # the run stays


def test_eras_clock_times_ranges_and_more_units(tokenizer: ChineseTokenizer) -> None:
    assert AnswerType.TIME in spans_of(tokenizer, "金华县始于东汉，属会稽郡。")["东汉"]
    assert AnswerType.TIME in spans_of(tokenizer, "新角龙类生存于白垩纪早到末期。")["白垩纪早到末期"]
    assert AnswerType.TIME in spans_of(tokenizer, "营业时间为5时30分－22时30分。")["5时30分－22时30分"]
    assert AnswerType.QUANTITY in spans_of(tokenizer, "体长63-74厘米，重2公斤。")["63-74厘米"]
    assert AnswerType.QUANTITY in spans_of(tokenizer, "面积368平方英里（953平方公里）。")["368平方英里"]
    assert "十字" not in spans_of(tokenizer, "位于十字路口。")  # a unit only after digits
    assert AnswerType.TIME in spans_of(tokenizer, "此庙建于清代康熙年间。")["清代康熙年间"[:2]]


def test_everyday_characters_and_scores_are_no_times(tokenizer: ChineseTokenizer) -> None:
    # 元 明 周 金 are dynasties only with 朝/代 or a part of a reign; 3:1 is a score; 2023:10 no clock
    found = spans_of(tokenizer, "投资4.6亿元，明确周边商业清洁，资金到位，以3:1获胜，编号2023:10，为了纪念。")
    times = {text for text, kinds in found.items() if AnswerType.TIME in kinds}
    assert not times & {"元", "明", "周", "商", "清", "金", "23:10", "3:1", "为了纪"}, times
    assert AnswerType.TIME in spans_of(tokenizer, "唐朝末年，此地归属吐蕃。")["唐朝末年"]


@pytest.mark.parametrize("text", ["", "。，！", "abc"])
def test_no_spans_from_punctuation_or_nothing(tokenizer: ChineseTokenizer, text: str) -> None:
    assert all(any(ch.isalnum() for ch in s) for s in spans_of(tokenizer, text))


def test_anchors_cut_the_span_between_the_question_words() -> None:
    anchors = Anchors.of("固始站位于哪里？")
    assert anchors.left[0] == "始站位于" and not anchors.asks_subject
    sentence = "固始站位于河南省固始县段集镇，是京九铁路的车站。"
    spans = anchored_spans(sentence, anchors, AnswerType.PLACE)
    assert [s.text for s in spans] == ["河南省固始县段集镇"]
    assert sentence[spans[0].start : spans[0].end] == spans[0].text
    assert anchored_spans(sentence, anchors, AnswerType.QUANTITY) == []  # figures use their own pattern
    assert Anchors.of("哪个园区提出数字经济增加值占GDP比重达35%？").asks_subject
    assert Anchors.of("Which park targets a 35% share?").asks_subject
    assert Anchors.of("没有疑问词").left == ()


def test_a_name_is_also_cut_back_from_the_question_words_after_it() -> None:
    anchors = Anchors.of("朗孜厦的长官需经谁同意后任命？")
    sentence = "朗孜厦的长官为五品米本二人，由噶厦拟定经达赖喇嘛同意后任命。"
    spans = {s.text for s in anchored_spans(sentence, anchors, AnswerType.PERSON)}
    assert "达赖喇嘛" in spans  # after the last 经, before 同意后任命
    assert not any("，" in text for text in spans)  # never across a break
    # a preposition right before the right words: the name before it, not "长官经"
    close = {s.text for s in anchored_spans("朗孜厦的长官经同意后任命。", anchors, AnswerType.PERSON)}
    assert "长官经" not in close and "朗孜厦的长官" in close


def test_context_features_read_the_question_around_its_question_word() -> None:
    anchors = Anchors.of("过海隧道巴士935线由什么公司营运？")
    assert anchors.before.endswith("935线由") and anchors.after == "公司营运"
    sentence = "过海隧道巴士935线是香港一条巴士路线，由九巴营运。"
    at = sentence.index("九巴")
    span = Span(at, at + 2, "九巴", frozenset({AnswerType.ORGANIZATION}))
    left, right, left_break, right_break = context_features(span, sentence, anchors)
    assert left > 0.5 and right > 0.6 and left_break == 0.0 and right_break == 0.0  # 由[九巴]营运
    elsewhere = Span(0, 6, "过海隧道巴士", frozenset({AnswerType.ORGANIZATION}))
    assert sum(context_features(elsewhere, sentence, anchors)[:2]) < left + right
    # a sentence with a gap between the question's words fits better than one without
    assert context_fit(sentence, anchors) > context_fit("过海隧道巴士935线是香港一条巴士路线。", anchors)
    assert context_fit(sentence, Anchors.of("没有疑问词")) == 0.0 and context_fit("", anchors) == 0.0


@pytest.mark.parametrize("before", [True, False])
def test_the_one_pass_shares_equal_the_nearest_characters_at_every_position(before: bool) -> None:
    from policyqa.index.short_answer import _context_share, _nearest, _side_shares

    sentence = "过海隧道巴士935线，是香港（九龙）一条“巴士”路线， 由九巴营运。"
    context = "935线由什么公司营运"
    expected = [_context_share(_nearest(sentence, p, before), context) for p in range(len(sentence) + 1)]
    assert _side_shares(sentence, context, before) == expected and max(expected) > 0


def test_the_noun_asked_about() -> None:
    assert Anchors.of("过海隧道巴士935线由什么公司营运？").noun == "公司"
    assert Anchors.of("乌姆盖萨尔是哪个国家的军港？").noun == "国家"
    assert Anchors.of("固始站位于哪里？").noun == ""
    place = Span(0, 2, "美国", frozenset({AnswerType.PLACE}))
    assert ends_like_noun(place, "国家") == 1.0 and ends_like_noun(place, "") == 0.0
    assert ends_like_noun(Span(0, 3, "德克萨", frozenset({AnswerType.PLACE})), "国家") == 0.0


def test_span_features_are_named_and_anchor_aware() -> None:
    sentence = "固始站位于河南省固始县段集镇，是京九铁路的车站。"
    span = anchored_spans(sentence, Anchors.of("固始站位于哪里？"), AnswerType.PLACE)[0]
    features = span_features(
        span, sentence, "固始站位于哪里？", Anchors.of("固始站位于哪里？"), [(0, 3)], True, 0.9, ""
    )
    # the answerer adds the two gaps, the Latin share, the four context features, their gap and the asked noun
    assert len(features) == len(SPAN_FEATURES) - 9
    named = dict(zip(SPAN_FEATURES, features, strict=False))
    assert named["left_anchor"] == 1.0 and named["in_best"] == 1.0 and named["in_question"] < 0.5


def test_latin_share() -> None:
    assert latin_share("Cathedral Church") == 1.0 and latin_share("广阳湾") == 0.0 and latin_share("") == 0.0


# ---- through the answerer, on the seed index ----


@pytest.fixture(scope="module")
def answerer(seed_index: Path, usem: object) -> ExtractiveAnswerer:
    from .support import open_engine

    return ExtractiveAnswerer(open_engine(seed_index, usem))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "question", ["哪个园区提出数字经济增加值占GDP比重达35%？", "Which park targets a 35% digital-economy share?"]
)
def test_the_35_percent_question_names_the_park(answerer: ExtractiveAnswerer, question: str) -> None:
    answer = answerer.answer(question)
    assert answer.found and answer.short_answer is not None
    short = answer.short_answer
    assert short.text == "广阳湾智创生态城" and short.kind == "place"
    text = answerer.engine.backend.view().document_text(short.doc_id)
    assert text[short.start : short.end] == "广阳湾智创生态城"
    assert any("数字经济增加值占GDP比重达35%" in c.quote for c in answer.citations)


def test_every_short_answer_is_an_exact_span_of_its_document(answerer: ExtractiveAnswerer) -> None:
    view = answerer.engine.backend.view()
    given = 0
    for q in QUESTIONS:
        answer = answerer.answer(q["question"])
        if answer.short_answer is None:
            continue
        given += 1
        s = answer.short_answer
        assert view.document_text(s.doc_id)[s.start : s.end] == s.text, q["id"]
        assert s.kind in {"person", "place", "organization", "time", "quantity"}
    assert given >= 30  # most seed questions ask how much / which / when


def test_a_description_question_gets_no_short_answer(answerer: ExtractiveAnswerer) -> None:
    answer = answerer.answer("广阳湾智创生态城为什么要发展绿色产业？")
    assert answer.answer_type == "description" and answer.short_answer is None
