"""ChineseTokenizer: normalization, numbers, Latin words, stopwords, the domain
dictionary (checked against the seed reports) and the fingerprint."""

from __future__ import annotations

import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jieba
import pytest

from policyqa.index.errors import InputError
from policyqa.index.tokenize import ChineseTokenizer, CutMode, default_stopwords, normalize, parse_user_dict

SEEDS = sorted((Path(__file__).parents[1] / "seeds").glob("*.txt"))
USERDICT = Path(__file__).parents[1] / "index" / "resources" / "userdict.txt"


@pytest.fixture(scope="module")
def tok() -> ChineseTokenizer:
    # The rules below are written for accurate cuts (each word once, the
    # default); search mode adds the parts of long words: see "cut modes" below.
    return ChineseTokenizer(cut=CutMode.ACCURATE)


@pytest.fixture(scope="module")
def search_tok() -> ChineseTokenizer:
    return ChineseTokenizer(cut=CutMode.SEARCH)


def builtin_words() -> list[str]:
    return [e.word for e in parse_user_dict(USERDICT.read_text(encoding="utf-8"), "userdict.txt")]


# ---- normalization -----------------------------------------------------


def test_full_width_letters_digits_and_percent_become_half_width(tok: ChineseTokenizer) -> None:
    assert tok.tokenize("ＧＤＰ比重达３５％") == ["gdp", "比重", "达", "35%"]
    assert tok.tokenize("６．９％") == ["6.9%"]


def test_case_is_folded(tok: ChineseTokenizer) -> None:
    assert tok.tokenize("GDP Gdp gdp") == ["gdp", "gdp", "gdp"]


def test_whitespace_between_chinese_characters_is_a_layout_artifact(tok: ChineseTokenizer) -> None:
    # Seed 002 letter-spaces "地区生产 总 值 较"; PDF line wraps split 广阳 / 湾.
    assert tok.tokenize("广阳\n湾") == ["广阳湾"]
    assert tok.tokenize("生产 总 值") == tok.tokenize("生产总值")


def test_normalize_is_nfkc_lower_and_joins_cjk() -> None:
    assert normalize("ＡＢＣ１２３ 重庆\n经开区") == "abc123 重庆经开区"


# ---- numbers and Latin words -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35%", ["35%"]),
        ("6.9%", ["6.9%"]),
        ("2025", ["2025"]),
        ("18.5", ["18.5"]),
        ("249.3亿元", ["249.3", "亿元"]),
        ("同比增长15.3%", ["同比", "增长", "15.3%"]),
        ("100%。", ["100%"]),
    ],
)
def test_numbers_stay_whole_with_decimals_and_percent(tok: ChineseTokenizer, text: str, expected: list[str]) -> None:
    assert tok.tokenize(text) == expected


def test_a_year_is_split_from_its_unit_so_every_spelling_matches(tok: ChineseTokenizer) -> None:
    # Decision: "2025年" gives "2025" + "年", so the seeds' "到2025年" and
    # "到 2025 年" and a query "2025" all share the term "2025".
    assert tok.tokenize("2025年") == ["2025", "年"]
    assert tok.tokenize("到2025年") == tok.tokenize("到 2025 年") == ["2025", "年"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R&D经费", ["r&d", "经费"]),  # "&" inside a word keeps the acronym
        ("R & D", ["r", "d"]),  # a free-standing "&" is punctuation
        ("AI视频", ["ai", "视频"]),
        ("5G产业园", ["5g", "产业园"]),  # digits running into letters make one word
        ("vivo重庆生产基地", ["vivo", "重庆", "生产", "基地"]),
        ("café naïve Москва", ["café", "naïve", "москва"]),
    ],
)
def test_latin_words_stay_whole(tok: ChineseTokenizer, text: str, expected: list[str]) -> None:
    assert tok.tokenize(text) == expected


# ---- stopwords ---------------------------------------------------------


def test_stopwords_are_removed(tok: ChineseTokenizer) -> None:
    assert tok.tokenize("What is the GDP of 璧山区的？") == ["gdp", "璧山区"]
    assert tok.tokenize("绿色产业和数字经济") == ["绿色", "产业", "数字", "经济"]


def test_custom_stopwords_replace_the_default_and_are_normalized() -> None:
    t = ChineseTokenizer(stopwords=["ＧＤＰ"])
    assert t.tokenize("the GDP 的") == ["the", "的"]
    assert ChineseTokenizer(stopwords=()).tokenize("的") == ["的"]


def test_default_stopwords_hold_function_words_only() -> None:
    words = default_stopwords()
    assert {"的", "了", "和", "是", "在", "与", "及", "等", "the", "a", "of", "which", "what"} <= words
    assert not {"年", "亿元", "%", "绿色", "重庆"} & words


def test_stopwords_given_as_a_str_are_refused() -> None:
    with pytest.raises(InputError, match="iterable"):
        ChineseTokenizer(stopwords="的了")


# ---- the domain dictionary ---------------------------------------------


@pytest.mark.parametrize("word", builtin_words())
def test_every_builtin_dictionary_word_is_cut_whole(tok: ChineseTokenizer, word: str) -> None:
    assert tok.tokenize(word) == [word]


def test_compound_park_names_split_into_their_named_parts(tok: ChineseTokenizer) -> None:
    assert tok.tokenize("广阳湾智创生态城") == ["广阳湾", "智创生态城"]
    assert tok.tokenize("广阳岛智创生态城") == ["广阳岛", "智创生态城"]
    assert tok.tokenize("重庆经开区") == ["重庆", "经开区"]


def test_every_seed_occurrence_of_a_dictionary_word_comes_out_whole(tok: ChineseTokenizer) -> None:
    text = normalize("".join(p.read_text(encoding="utf-8") for p in SEEDS))
    counts = Counter(tok.tokenize(text))
    split = {w: (text.count(w), counts[w]) for w in builtin_words() if text.count(w) != counts[w]}
    assert split == {}, "word: (occurrences in the seeds, whole tokens)"
    assert counts["广阳湾"] == 44 and counts["经开区"] == 53  # counted with grep on the seeds


def test_low_dictionary_frequency_lets_ordinary_words_win_overlaps(tok: ChineseTokenizer) -> None:
    assert tok.tokenize("国电投资项目") == ["国电", "投资", "项目"]
    assert tok.tokenize("中国能建设") == ["中国", "建设"]  # 能 is a stopword


def test_a_user_dictionary_adds_words(tmp_path: Path) -> None:
    path = tmp_path / "extra.txt"
    path.write_text("# ours\n渝小宝 30 nz\n苦竹溪公园\n", encoding="utf-8")
    t = ChineseTokenizer(user_dict=path, cut="accurate")
    assert "渝" in ChineseTokenizer(cut="accurate").tokenize("渝小宝")  # cut without it
    assert t.tokenize("渝小宝在苦竹溪公园") == ["渝小宝", "苦竹溪公园"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("GDP 10 n", "Chinese word"),
        ("绿色 ten n", "neither a frequency nor a tag"),
        ("绿色 0 n", "frequency 0"),
        ("绿色 10 n extra", "Chinese word"),
    ],
)
def test_a_malformed_user_dictionary_line_is_refused_with_its_place(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"广阳湾 5\n{line}\n", encoding="utf-8")
    with pytest.raises(InputError, match=f"bad.txt:2.*{message}"):
        ChineseTokenizer(user_dict=path)


def test_a_missing_user_dictionary_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        ChineseTokenizer(user_dict=tmp_path / "nope.txt")


# ---- edge inputs -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   \n\t\u3000 ", []),
        ("，。！？、…“”《》（）——·%&", []),
        ("的了和是", []),
        ("重庆 Chongqing ＧＤＰ 2025", ["重庆", "chongqing", "gdp", "2025"]),
        ("東京タワー", ["東京", "タワー"]),
        ("1-6月", ["1", "6", "月"]),
    ],
    ids=["empty", "whitespace", "punctuation", "only-stopwords", "mixed-script", "kana", "range"],
)
def test_edge_inputs(tok: ChineseTokenizer, text: str, expected: list[str]) -> None:
    assert tok.tokenize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "广阳湾智创生态城推动绿色低碳发展，2025年数字经济占GDP比重达35%。" * 2500,
        "1" * 100_000,  # one long number and one long word: no regex backtracking blow-up
        "a1" * 50_000,
    ],
    ids=["chinese", "digits", "alnum"],
)
def test_huge_input_finishes_fast(tok: ChineseTokenizer, text: str) -> None:
    tok.tokenize("预热")  # load the dictionary outside the timing
    start = time.perf_counter()
    tokens = tok.tokenize(text)
    assert time.perf_counter() - start < 5.0  # about 0.4 s for 100k characters here
    assert tokens and all(t.strip() and not re.fullmatch(r"\W+", t) for t in tokens)


# ---- state and fingerprint ---------------------------------------------


_GRPC_LOG = re.compile(r"^[IWE]\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ \S+\.cc:\d+\] ")


def test_first_use_is_quiet_and_leaves_jiebas_global_dictionary_alone(capfd: pytest.CaptureFixture[str]) -> None:
    t = ChineseTokenizer()
    assert t.tokenize("广阳湾") == ["广阳湾"]
    # gRPC's C core may log from a Milvus Lite channel an earlier test left (keepalive "too_many_pings"):
    # those lines come from another thread at any time; anything else on stderr is the tokenizer's.
    err = capfd.readouterr().err
    assert [line for line in err.splitlines() if not _GRPC_LOG.match(line)] == []
    assert "广阳湾" not in jieba.dt.FREQ


def test_threads_share_one_lazily_loaded_dictionary() -> None:
    t = ChineseTokenizer(cut="accurate")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(t.tokenize, ["璧山区新能源汽车"] * 32))
    assert all(r == ["璧山区", "新能源", "汽车"] for r in results)


def test_fingerprint_is_stable_and_tracks_the_configuration(tmp_path: Path) -> None:
    base = ChineseTokenizer().fingerprint
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert ChineseTokenizer().fingerprint == base
    assert ChineseTokenizer(stopwords=default_stopwords()).fingerprint == base
    assert ChineseTokenizer(stopwords=default_stopwords() | {"重庆"}).fingerprint != base
    assert ChineseTokenizer(stopwords=()).fingerprint != base
    extra = tmp_path / "extra.txt"
    extra.write_text("渝小宝 30 nz\n", encoding="utf-8")
    assert ChineseTokenizer(user_dict=extra).fingerprint != base


# ---- cut modes -----------------------------------------------------------


def test_accurate_mode_is_the_default() -> None:
    assert ChineseTokenizer().cut is CutMode.ACCURATE
    assert ChineseTokenizer().fingerprint == ChineseTokenizer(cut="accurate").fingerprint


@pytest.mark.parametrize(
    ("text", "accurate", "search"),
    [
        # jieba's cut_for_search: the dictionary words inside a long word, then the word.
        ("工业园区", ["工业园区"], ["工业", "园区", "工业园", "工业园区"]),
        ("广阳湾", ["广阳湾"], ["广阳", "阳湾", "广阳湾"]),
        # 数字经济 is two words in either mode, so an English "digital economy"
        # (数字 + 经济) and a Chinese query meet the same terms.
        ("数字经济", ["数字", "经济"], ["数字", "经济"]),
        ("35%", ["35%"], ["35%"]),
        ("GDP比重", ["gdp", "比重"], ["gdp", "比重"]),
        ("", [], []),
    ],
)
def test_search_mode_adds_the_parts_of_long_words(
    tok: ChineseTokenizer, search_tok: ChineseTokenizer, text: str, accurate: list[str], search: list[str]
) -> None:
    assert tok.tokenize(text) == accurate
    assert search_tok.tokenize(text) == search


@pytest.mark.parametrize("word", builtin_words())
def test_search_mode_keeps_every_dictionary_word_whole_too(search_tok: ChineseTokenizer, word: str) -> None:
    assert search_tok.tokenize(word)[-1] == word


def test_cut_mode_is_in_the_fingerprint_and_parsed_with_a_clear_error() -> None:
    assert ChineseTokenizer(cut="accurate").fingerprint != ChineseTokenizer(cut="search").fingerprint
    assert ChineseTokenizer(cut="SEARCH").cut is CutMode.SEARCH
    with pytest.raises(InputError, match="unknown cut mode 'fast': use one of accurate, search"):
        ChineseTokenizer(cut="fast")


def test_tags_are_cached_per_text_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import policyqa.index.tokenize as tokenize_module

    monkeypatch.setattr(tokenize_module, "TAG_CACHE_SIZE", 2)
    tok = ChineseTokenizer()
    text = "广阳湾智创生态城数字经济增加值占GDP比重达35%。"
    first = tok.tag(text)
    assert "".join(w for w, _ in first) == text and ("广阳湾", "ns") in first
    calls = Counter[str]()
    cut = tok._tagger.cut
    monkeypatch.setattr(tok._tagger, "cut", lambda t, HMM=True: calls.update([t]) or cut(t, HMM=HMM))
    first.append(("changed", "x"))  # a caller's list is its own: the cache does not share it
    assert tok.tag(text) == first[:-1] and not calls  # served from the cache
    for other in ("第一句。", "第二句。", "第三句。"):
        tok.tag(other)
    assert tok.tag(text) == first[:-1] and calls[text] == 1  # evicted as the oldest, tagged again
