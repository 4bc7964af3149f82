"""Tables (index/tables.py): every row becomes one paragraph that names each
cell by its column's header, in PDF, DOCX and HTML alike; chunking keeps a row
whole; a question about a figure in a table is answered by quoting its row."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyqa.index.answer import ExtractiveAnswerer
from policyqa.index.chunking import chunk_document, sentence_spans
from policyqa.index.embedders import UsemEmbedder
from policyqa.index.engine import Engine
from policyqa.index.ingest import document_from_bytes
from policyqa.index.parsers import parse_html, parse_pdf
from policyqa.index.tables import is_row_text, row_texts
from policyqa.index.types import Document

from .support import make_docx, make_html, make_pdf

TABLE = [
    ["指标", "2020年", "2025年目标"],
    ["单位GDP能耗下降", "13%", "15%"],
    ["非化石能源消费比重", "18.2%", "25%"],
    ["森林覆盖率", "52.5%", "55%"],
]
ROWS = [
    "指标：单位GDP能耗下降；2020年：13%；2025年目标：15%",
    "指标：非化石能源消费比重；2020年：18.2%；2025年目标：25%",
    "指标：森林覆盖率；2020年：52.5%；2025年目标：55%",
]
BEFORE = ["重庆市绿色低碳发展规划", "坚持生态优先、绿色发展，推动经济社会发展全面绿色转型。", "主要指标如下表。"]
AFTER = ["各区县要结合实际制定实施方案，确保各项目标如期实现。"]
QUESTION = "2025年单位GDP能耗下降目标是多少"


def test_row_text_keeps_the_header_with_every_row() -> None:
    assert row_texts(TABLE) == ROWS
    # an empty cell is left out; a cell under an empty header stands alone; a repeated header row goes
    assert row_texts([["项目", "", "金额"], ["甲", "备注", ""], ["项目", "", "金额"]]) == ["项目：甲；备注"]
    # no header to speak of: cells a space apart, as before
    assert row_texts([["只有一行", "两格"]]) == ["只有一行 两格"]
    assert row_texts([["一列"], ["二"]]) == ["一列", "二"]
    assert all(is_row_text(r) for r in ROWS)
    assert not is_row_text("目标：到2025年，数字经济占比达35%。")
    # a blank top-left corner: the first column's cells are written alone, and the row is still one
    corner = row_texts([["", "2020年", "2025年目标"], ["单位GDP能耗下降", "13%", "15%"]])
    assert corner == ["单位GDP能耗下降；2020年：13%；2025年目标：15%"] and is_row_text(corner[0])
    # prose in the shape of a row is not one ("。" ends its sentences)
    assert not is_row_text("主要目标：增长5%。稳步推进；重点任务：深化改革。")


def test_chunking_never_cuts_a_row() -> None:
    long_row = "；".join(f"第{i}列指标：{i}.5%" for i in range(8))  # about 100 characters, one row
    text = "\n".join(["前文一句。", *ROWS, long_row, "后文一句；再一句。"])
    spans = [text[s:e] for s, e in sentence_spans(text)]
    assert spans == ["前文一句。", *ROWS, long_row, "后文一句；", "再一句。"]
    doc = Document(doc_id="d", title="t", source="s", text=text, fingerprint="f")
    for chunk in chunk_document(doc):
        for row in [*ROWS, long_row]:
            start = text.index(row)
            # a chunk holds a row whole or not at all
            assert chunk.end <= start or chunk.start >= start + len(row) or chunk.text.count(row) == 1


def test_html_table_rows() -> None:
    body = (
        "<p>主要指标如下。</p><table><thead><tr><th>指标</th><th>2020年</th><th>2025年目标</th></tr></thead>"
        "<tbody><tr><td>单位GDP<br>能耗下降</td><td>13%</td><td>15%</td></tr>"
        '<tr><td colspan="2">合计（含<table><tr><td>嵌套</td></tr></table>）</td><td>3</td></tr></tbody></table>'
        "<p>表后。</p>"
    )
    parsed = parse_html(make_html(body), "t.html")
    assert parsed.text.split("\n\n\n") == [
        "主要指标如下。",
        "指标：单位GDP 能耗下降；2020年：13%；2025年目标：15%",
        "指标：合计（含 嵌套 ）；2025年目标：3",
        "表后。",
    ]


def test_pdf_table_rows_replace_the_loose_cells_in_reading_order() -> None:
    parsed = parse_pdf(make_pdf([[*BEFORE, TABLE, *AFTER]]), "plan.pdf")
    paragraphs = [p for p in parsed.text.split("\n\n\n") if p]
    assert paragraphs == ["\n".join(BEFORE), *ROWS, AFTER[0]]
    assert parsed.text.count("13%") == 1  # the cells are not also kept as loose words


def test_docx_table_rows() -> None:
    doc = document_from_bytes(make_docx(BEFORE[1:], heading=BEFORE[0], table=TABLE), "plan.docx")
    assert doc.text.split("\n")[-3:] == ROWS


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["pdf", "docx"])
def test_a_question_about_a_table_quotes_its_row(kind: str, tmp_path: Path, usem: UsemEmbedder) -> None:
    data = (
        make_pdf([[*BEFORE, TABLE, *AFTER]])
        if kind == "pdf"
        else make_docx([*BEFORE[1:], "表后说明见下。"], heading=BEFORE[0], table=TABLE)
    )
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / f"plan.{kind}").write_bytes(data)
    engine = Engine.open(tmp_path / "index", embedder=usem)
    assert not engine.ingest([folder]).failed
    top = engine.search(QUESTION, k=3).hits[0]
    assert ROWS[0] in top.chunk.text
    answer = ExtractiveAnswerer(engine).answer(QUESTION)
    assert answer.found
    quotes = [c.quote for c in answer.citations]
    assert any("单位GDP能耗下降" in q and "15%" in q for q in quotes), quotes
    text = engine.view().document_text(top.chunk.doc_id)
    assert all(text[c.start : c.end] == c.quote for c in answer.citations)  # citations stay exact
