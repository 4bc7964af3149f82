"""clean_text against the real seed pages, and edge cases written for the purpose."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policyqa.index.clean import CleanText, clean_text, is_heading
from policyqa.index.types import Section

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.txt"))
NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff] [\u4e00-\u9fff]")


def seed(prefix: str) -> tuple[str, CleanText]:
    path = next(p for p in SEED_FILES if p.name.startswith(prefix))
    raw = path.read_text(encoding="utf-8")
    return raw, clean_text(raw)


def paragraphs(cleaned: CleanText) -> list[str]:
    return cleaned.text.split("\n")


def test_there_are_five_seeds() -> None:
    assert len(SEED_FILES) == 5


# ---- seed quirks ----


def test_letter_spaced_figures_are_closed_up() -> None:
    raw, cleaned = seed("002")
    assert "产 总 值 较 2019 年 同 期 增 长" in raw
    assert "当地上半年地区生产总值较2019年同期增长19.3%，两年年均增速达到了9.2%。" in cleaned.text
    assert "2021年上半年经济发展“成绩单”" in cleaned.text  # was "2021 年" at a line start
    assert "同比增长15.3%（全市排名第三）" in cleaned.text  # was "同比增长 15.3%"


def test_spaces_around_figures_go_but_latin_stays() -> None:
    raw, cleaned = seed("000")
    assert "到 2025 年，实现" in raw
    assert "到2025年，实现R&D经费投入占GDP比重达4%，单位GDP能耗水平全市领先。" in cleaned.text


def test_hard_wrapped_paragraph_is_one_paragraph() -> None:
    # seed 002 wraps every 14-21 characters; the six lines are one paragraph
    _, cleaned = seed("002")
    assert (
        "值得一提的是，重庆经开区上半年规上工业总产值达420.6亿元，同比增长17.9%，较2019年同期增长19.1%，"
        "两年平均增速达9.1%。无论是装备制造业、汽车行业、摩托行业、医药行业，还是能源行业、电子行业和材料行业，"
        "均保持两位数以上增长。" in paragraphs(cleaned)
    )


def test_column_break_across_a_blank_line_is_joined() -> None:
    # seed 001: "…其中压" / blank line / "缩机是最核心的部件…"
    raw, cleaned = seed("001")
    assert "智能空调有四大主要部件，其中压\n\n缩机是最核心的部件" in raw
    para = next(p for p in paragraphs(cleaned) if p.startswith("智能空调"))
    assert para.startswith("智能空调有四大主要部件，其中压缩机是最核心的部件，相当于心脏，")
    assert para.endswith("此项技术一直以来为国外企业拥有。")


def test_break_after_a_paragraphs_first_line_is_joined() -> None:
    # seed 002: a one-line start with a comma, as wide as the column it flows into
    _, cleaned = seed("002")
    joined = (
        "以“智慧+”为抓手，重庆经开区正汇聚各类创新资源和创新人才，"
        + "强化创新链、产业链协同，营造出鼓励创新的政策环境。"
    )
    assert joined in paragraphs(cleaned)


def test_headline_glued_to_body_is_split_and_its_space_kept() -> None:
    # seed 000: "广阳湾智创生态城 为“绿色梦想”赋能" sits directly on the paragraph below,
    # which a column break then cuts after "签署合"
    raw, cleaned = seed("000")
    assert "广阳湾智创生态城 为“绿色梦想”赋能\n不久前，台达电子与重庆签署合\n\n作协议" in raw
    paras = paragraphs(cleaned)
    i = paras.index("广阳湾智创生态城 为“绿色梦想”赋能")
    body = (
        "不久前，台达电子与重庆签署合作协议，"
        + "将在重庆建设台达在中国大陆的首个西部生产基地，并落户广阳湾智创生态城。"
    )
    assert paras[i + 1] == body
    start = cleaned.text.index(paras[i])
    assert Section(start, "广阳湾智创生态城 为“绿色梦想”赋能") in cleaned.sections


def test_caption_stays_its_own_paragraph_and_is_a_section() -> None:
    _, cleaned = seed("003")
    paras = paragraphs(cleaned)
    assert "水天一色的秀湖公园" in paras
    start = cleaned.text.index("\n水天一色的秀湖公园\n") + 1
    assert Section(start, "水天一色的秀湖公园") in cleaned.sections
    # the body after the two-line section title is not glued to it
    assert paras[paras.index("赋能高质量发展产城融合") + 1] == "在璧山区，市民推窗见绿是一种生活常态。"


def test_indented_caption_is_not_glued_to_the_line_above() -> None:
    _, cleaned = seed("000")
    assert paragraphs(cleaned)[-5:] == [
        "厚植绿色基因推动六大类产业发展",
        "重庆软件园",
        "“智”“创”赋能放大绿色低碳优势",
        "水清岸美的苦竹溪",
        "飞象工业互联网平台·智能工厂",
    ]


def test_fact_box_items_stay_apart() -> None:
    # seed 002's fact box: short items ending in figures, no full stops
    _, cleaned = seed("002")
    paras = paragraphs(cleaned)
    i = paras.index("上半年，预计外贸进出口金额约45亿元人民币，同比增长58.9%")
    assert paras[i + 1 : i + 3] == ["预计外贸出口约15亿元人民币，同比增长183%", "外贸进口约30亿元人民币，同比增长30%"]


def test_balanced_comma_headline_is_a_section() -> None:
    _, cleaned = seed("004")
    titles = [s.title for s in cleaned.sections]
    assert "深植双化协同理念，数字产业绿色低碳发展，赋能产业提质增效" in titles
    assert "数字化绿色化融合创新，构建双化协同标准，夯实试点工作基础保障" in titles


@pytest.mark.parametrize(
    "prefix,title",
    [
        ("000", "两会专题·重庆经开区"),
        # page label "南岸" and a photo caption skipped; the kicker joins the headline
        ("001", "构建绿色产业链 广阳湾智创生态城 多个千亿级绿色产业集群呼之欲出"),
        ("002", "“十四五”开局稳中有进 地区生产总值同比增长15.3%"),  # body first; its headline is at the end
        ("003", "以绿为底 向绿而行"),
        ("004", "重庆高新区：紧紧围绕“六区一高地”建设目标"),  # a heading ending in "：" takes the next
    ],
)
def test_titles(prefix: str, title: str) -> None:
    assert seed(prefix)[1].title == title


# ---- properties every seed must keep ----


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_only_whitespace_changes_so_every_figure_survives(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    cleaned = clean_text(raw).text
    squeeze = re.compile(r"\s+")
    assert NUMBER.findall(squeeze.sub("", raw)) == NUMBER.findall(squeeze.sub("", cleaned))
    assert squeeze.sub("", raw) == squeeze.sub("", cleaned)  # stronger: no visible character changed


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_idempotent_on_seeds(path: Path) -> None:
    once = clean_text(path.read_text(encoding="utf-8"))
    twice = clean_text(once.text)
    assert twice == once  # text, sections and title


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_shape_of_the_output(path: Path) -> None:
    cleaned = clean_text(path.read_text(encoding="utf-8"))
    paras = paragraphs(cleaned)
    titles = {s.title for s in cleaned.sections}
    assert all(p and p == p.strip() for p in paras)  # no blank lines, no stray spaces
    # the only space left between two CJK characters is a headline's own
    assert all(not CJK_SPACE_CJK.search(p) for p in paras if p not in titles)
    starts = [s.start for s in cleaned.sections]
    assert starts == sorted(starts)
    for s in cleaned.sections:
        assert s.start == 0 or cleaned.text[s.start - 1] == "\n"
        assert cleaned.text[s.start :].split("\n", 1)[0] == s.title


# ---- edge cases ----


@pytest.mark.parametrize(
    "raw,text",
    [
        ("", ""),
        (" \n\u3000\n\t\n", ""),
        ("\ufeff标题\r\n\r\n第一段，一句话。\r\n", "标题\n第一段，一句话。"),  # BOM, CRLF
        ("甲\r乙。", "甲\n乙。"),  # old Mac newlines; too little text to call it wrapped
        ("\u3000\u3000第一条\u3000为了规范管理，制定本办法。", "第一条为了规范管理，制定本办法。"),  # full-width spaces
        ("到\u00a02025\u00a0年，\n实现增长。", "到2025年，实现增长。"),  # NBSP, and a wrapped line
        ("增长\x0015.3%\u200b，合计\x07。", "增长15.3%，合计。"),  # control and zero-width characters
        ("Liang Jiang New Area 两江新区 R&D 经费 AI 视频", "Liang Jiang New Area两江新区R&D经费AI视频"),
        ("ＧＤＰ增长　５．５％。", "ＧＤＰ增长５．５％。"),  # full-width letters and digits are left alone
        (
            "The district will install 40 MW of rooftop solar\npanels by 2025, and a further 12.5 MW of long-\n"
            "term storage.",
            "The district will install 40 MW of rooftop solar panels by 2025, and a further 12.5 MW of long-term "
            "storage.",
        ),
    ],
    ids=[
        "empty",
        "whitespace",
        "bom-crlf",
        "cr",
        "full-width-space",
        "nbsp",
        "controls",
        "mixed-script",
        "full-width-alnum",
        "english-wrapped",
    ],
)
def test_edge_cases(raw: str, text: str) -> None:
    cleaned = clean_text(raw)
    assert cleaned.text == text
    assert clean_text(cleaned.text).text == text


BODY = "重庆经开区今年上半年实现地区生产总值208.2亿元，同比增长15.3%，高于全市2.5个百分点。"


@pytest.mark.parametrize(
    "lines,title",
    [
        (["要闻", "", "绿色产业示范基地建设提速", "", BODY], "绿色产业示范基地建设提速"),  # page label skipped
        (["园区一角 摄/张三", "", "绿色产业示范基地建设提速", "", BODY], "绿色产业示范基地建设提速"),  # caption
        (["聚焦双碳", "", "绿色产业示范基地建设提速", "", BODY], "聚焦双碳 绿色产业示范基地建设提速"),  # kicker
        (["绿色产业示范基地建设提速", "", "园区一角 摄/张三", "", BODY], "绿色产业示范基地建设提速"),
        (["要闻", "", BODY], "要闻"),  # a short heading alone is still the title
    ],
)
def test_newspaper_furniture_before_the_headline(lines: list[str], title: str) -> None:
    assert clean_text("\n".join(lines)).title == title


def test_empty_input_has_no_title_or_sections() -> None:
    assert clean_text("") == CleanText(text="", sections=(), title="")


def test_a_uniform_left_margin_is_no_indent() -> None:
    # every line indented (a PDF page's margin): only the deeper indent starts a paragraph
    raw = (
        "    产业和区域经济的绿色发展，要求打造智慧\n"
        "    共享、低碳韧性的交通模式和基础设施。\n"
        "      对此，广阳湾智创生态城以先进理念推\n"
        "    动技术、管理创新，为绿色梦想赋能。"
    )
    assert paragraphs(clean_text(raw)) == [
        "产业和区域经济的绿色发展，要求打造智慧共享、低碳韧性的交通模式和基础设施。",
        "对此，广阳湾智创生态城以先进理念推动技术、管理创新，为绿色梦想赋能。",
    ]


def test_one_paragraph_per_line_is_not_joined() -> None:
    # a policy file: each line is a paragraph or a heading, no blank lines
    raw = (
        "关于加快推进绿色低碳发展的意见\n一、总体要求\n"
        "（一）指导思想。以新发展理念为指导，加快发展方式绿色转型。\n"
        "（二）主要目标。到2025年，绿色低碳循环发展的经济体系初步形成。\n二、重点任务\n"
    )
    cleaned = clean_text(raw)
    assert cleaned.text == raw.strip()
    assert [s.title for s in cleaned.sections] == ["关于加快推进绿色低碳发展的意见", "一、总体要求", "二、重点任务"]
    assert cleaned.title == "关于加快推进绿色低碳发展的意见"


def test_wrapped_text_without_blank_lines_keeps_its_headings() -> None:
    # what a PDF gives: wrapped lines, headings on their own, no blank lines
    raw = (
        "一、总体要求\n为深入贯彻落实党中央、国务院决策部署，加快推进绿色低碳发展，\n"
        "推动经济社会发展全面绿色转型，现提出如下意见。到2025年，绿色\n"
        "低碳循环发展的经济体系初步形成，重点行业能源利用效率明显提升，\n单位国内生产总值能耗比2020年下降13.5%。\n"
        "二、重点任务\n加快推进产业结构优化升级，坚决遏制高耗能、高排放项目盲目发展，\n推动传统产业绿色化改造。"
    )
    assert paragraphs(clean_text(raw)) == [
        "一、总体要求",
        "为深入贯彻落实党中央、国务院决策部署，加快推进绿色低碳发展，推动经济社会发展全面绿色转型，现提出如下意见。"
        "到2025年，绿色低碳循环发展的经济体系初步形成，重点行业能源利用效率明显提升，单位国内生产总值能耗比2020年下降13.5%。",
        "二、重点任务",
        "加快推进产业结构优化升级，坚决遏制高耗能、高排放项目盲目发展，推动传统产业绿色化改造。",
    ]


def test_huge_input() -> None:
    # 100 copies of a seed page (about 365,000 characters) in one text
    raw = SEED_FILES[0].read_text(encoding="utf-8")
    once = clean_text(raw * 100)
    single = clean_text(raw)
    assert len(once.sections) == 100 * len(single.sections)
    assert clean_text(once.text).text == once.text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("产业绿色转型", True),
        ("一、总体要求", True),  # the numbering's "、" is no clause
        ("关键词一：聚焦绿色+转型升级步伐快", True),
        ("深植双化协同理念，数字产业绿色低碳发展，赋能产业提质增效", True),
        ("智能空调有四大主要部件，其中压", False),  # one comma: running text
        ("（据《人民日报》）", False),  # a bracketed note
        ("厚植绿色基因、推动绿色转型。", False),  # a sentence
        ("甲" * 31, False),  # too long
        ("2025", False),  # no letter
        ("", False),
    ],
)
def test_is_heading(text: str, expected: bool) -> None:
    assert is_heading(text) is expected
