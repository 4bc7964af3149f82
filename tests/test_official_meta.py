"""Official metadata from a document's text: 发文字号, 发文机关, 成文日期 and
施行日期 in the formats official documents and government websites use."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyqa.index.official_meta import extract, parse_date

RED_HEADER = """重庆市人民政府文件
渝府发〔2021〕12号
重庆市人民政府关于印发重庆市数字经济发展规划的通知
各区县（自治县）人民政府，市政府各部门：
现将《重庆市数字经济发展规划》印发给你们，请认真贯彻执行。
本规划自2021年5月1日起施行。
重庆市人民政府
2021年3月1日
（此件公开发布）"""

CHINESE_NUMERALS = """渝经开管发[2022]5号
关于推进绿色制造的实施意见
各部门、各园区：
到2025年，绿色产业占工业总产值比重达到30%以上。
本意见自印发之日起施行。
重庆经济技术开发区管理委员会
二〇二二年一月十五日"""

LABELLED = """索引号：11500000MB1234567X/2021-00012
发文机关：重庆市经济和信息化委员会
发文字号：渝经信发（2021）33号
成文日期：2021年06月18日
发布日期：2021-06-25
关于开展2021年工业互联网试点的通知
各区县经济信息委：
本通知自发布之日起实施。"""

ORDER = """重庆市人民政府令
第345号
《重庆市公共数据开放管理暂行办法》已经市政府同意，现予公布，自2022年7月1日起施行。
市长  胡衡华
2022年3月30日"""

SIGN_OFF_ON_ONE_LINE = """国办发〔2020〕7号          签发人：张三
国务院办公厅关于促进平台经济规范健康发展的指导意见
……
国务院办公厅    2020年8月1日"""

BODY_ONLY = """广阳湾智创生态城发展报告
到2025年，数字经济增加值占GDP比重达35%。
渝府发〔2021〕12号文件提出，2021年上半年实现产值120亿元。
会议于2021年7月1日召开。"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            RED_HEADER,
            {
                "doc_number": "渝府发〔2021〕12号",
                "issuer": "重庆市人民政府",
                "issued": "2021-03-01",
                "effective": "2021-05-01",
            },
        ),
        (
            CHINESE_NUMERALS,
            {
                "doc_number": "渝经开管发〔2022〕5号",
                "issuer": "重庆经济技术开发区管理委员会",
                "issued": "2022-01-15",
                "effective": "2022-01-15",
            },
        ),
        (
            LABELLED,
            {
                "doc_number": "渝经信发〔2021〕33号",
                "issuer": "重庆市经济和信息化委员会",
                "issued": "2021-06-18",
                "published": "2021-06-25",
                "effective": "2021-06-25",
            },
        ),
        (
            ORDER,
            {
                "doc_number": "重庆市人民政府令第345号",
                "issuer": "重庆市人民政府",
                "issued": "2022-03-30",
                "effective": "2022-07-01",
            },
        ),
        (
            SIGN_OFF_ON_ONE_LINE,
            {"doc_number": "国办发〔2020〕7号", "issuer": "国务院办公厅", "issued": "2020-08-01"},
        ),
        # A number or a date quoted in the body, a report without a sign-off: nothing is guessed.
        (BODY_ONLY, {}),
    ],
    ids=["red-header", "chinese-numerals", "labelled", "order", "one-line-sign-off", "body-only"],
)
def test_official_metadata_from_header_and_sign_off(text: str, expected: dict[str, str]) -> None:
    assert extract(text) == expected


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2021年3月1日", "2021-03-01"),
        ("2021年03月01日", "2021-03-01"),
        ("二〇二一年十二月三十一日", "2021-12-31"),
        ("二零二二年一月五日", "2022-01-05"),
        ("2021-06-25", "2021-06-25"),
        ("2021.6.5", "2021-06-05"),
        ("2021/06/05", "2021-06-05"),
        ("2021年2月30日", None),  # no such day
        ("2021年上半年", None),
    ],
)
def test_dates_in_the_ways_documents_write_them(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso


@pytest.mark.parametrize(
    "text",
    [
        "重庆经开区新闻\n园区推进数字经济。\n（来源：重庆日报）\n2021年3月1日",  # a news item's closing date
        "季度报告\n统计时间：2021年12月31日",
        "截至2021年6月30日",
        "中央出台重要文件\n正文内容。",  # a headline that ends in 文件
        "正文。\n打造内陆开放高地和西部\n2021年3月1日",  # 西部 is no issuing body
        "李克强签署国务院令第745号\n正文。",  # a headline about an order
        "新闻\n据悉，该条例自2021年9月1日起施行。",  # a report on a law, not the law
    ],
    ids=["news-date", "statistics-date", "as-of", "headline", "west", "order-headline", "law-news"],
)
def test_ordinary_text_gives_no_official_fields(text: str) -> None:
    assert extract(text) == {}


def test_the_users_issue_date_is_the_one_a_document_takes_effect_on() -> None:
    text = "渝府发〔2021〕1号\n关于加快发展的通知\n本通知自印发之日起施行。\n重庆市人民政府\n2021年3月1日"
    assert extract(text)["effective"] == "2021-03-01"
    assert extract(text, {"issued": "2021-04-04"})["effective"] == "2021-04-04"


def test_the_seed_reports_are_news_articles_with_no_official_fields() -> None:
    for path in sorted(Path(__file__).resolve().parents[1].joinpath("seeds").glob("*.txt")):
        assert extract(path.read_text(encoding="utf-8")) == {}, path.name
