"""Turn raw text (newspaper pages converted to text, policy files) into clean
paragraphs, section headings and a title.

The raw text breaks lines at column edges, puts spaces inside Chinese words,
sets photo captions and headings on lines of their own, and separates
paragraphs with blank lines, though not always. Each rule below was checked
against the seed reports, and its comment says which quirk it is for.

Cleaning never changes a visible character. It only drops control characters,
whitespace and line breaks, so every figure survives as it was. Paragraphs
come out separated by one "\\n", and cleaning its own output changes nothing:
that text has no blank lines, and `_is_hard_wrapped` finds no column wrapping
in it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .types import Section

# Headings are short: a longer standalone line is body text.
MAX_HEADING_CHARS = 30
# Lines wider than this (display columns, CJK = 2) are never column-wrapped:
# newspaper columns hold 14-21 characters, a PDF page line about 40.
MAX_COLUMN_WIDTH = 100
# A wrapped line about fills its column; a much shorter one ends its paragraph.
# Loose, because a column narrows where it flows around a photo (seed 000).
FULL_LINE_RATIO = 0.6
# A line carries on across a blank line into a paragraph whose column it matches.
COLUMN_MATCH = (0.8, 1.15)
# A clause this short at the start of a line is a lead-in ("目前，", "例如，");
# at the end it is a word cut in two ("其中压|缩机"): either way, running text.
SHORT_SEGMENT = 3

_FINAL_CHARS = "。！？；!?;…．"
_CLOSERS = re.escape("”’\"'」』）)]】》〕")
# Sentence-final punctuation, then any closing quotes or brackets. An ASCII "."
# counts only after a non-digit: "增长5." at a line end is a decimal cut by the wrap.
_FINAL = re.compile(rf"(?:[{_FINAL_CHARS}]|(?<!\d)\.)[{_CLOSERS}]*$")
# A trailing colon introduces what follows ("亮点：", "重庆高新区："): the paragraph ends.
_COLON_END = re.compile(rf"[：:][{_CLOSERS}]*$")
_SENTENCE_MARK = re.compile(rf"[{_FINAL_CHARS}]|(?<!\d)\.(?!\d)")
_CLAUSE_MARK = re.compile(r"[，、；,;]")
_SEGMENT_SPLIT = re.compile(r"[，、；：,;:。！？!?…—]+")
# "一、" "（二）" "3." "第四章": numbering that opens a heading, whose "、" is no clause.
_ENUMERATOR = re.compile(
    r"^(?:第[一二三四五六七八九十百零〇\d]+[章节条部分篇]|[一二三四五六七八九十百]+、|\d+(?:[.．]\d+)*[、.．]"
    r"|[（(][一二三四五六七八九十百\d]+[）)])"
)
_SPACES = re.compile(r" +")
# Line separators other than "\n" that str.splitlines honours; "\f" is a page break.
_LINE_BREAKS = str.maketrans(dict.fromkeys("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029", "\n"))


@dataclass(frozen=True)
class CleanText:
    """Cleaned text (paragraphs separated by "\\n"), its headings and a title."""

    text: str
    sections: tuple[Section, ...]
    title: str


@dataclass(frozen=True)
class _Line:
    text: str  # whitespace already normalized, never empty
    indented: bool  # indented deeper than the rest of the text: a paragraph start
    headline: bool  # a "title subtitle" line whose inner spaces are kept

    @property
    def width(self) -> int:
        return display_width(self.text)


@dataclass(frozen=True)
class _Block:
    lines: list[_Line]  # consecutive non-blank lines
    blanks_before: int


def clean_text(raw: str) -> CleanText:
    """Clean the raw text of one document into paragraphs, sections and a title.

    Args:
        raw: decoded text, any newline convention.

    Returns:
        A `CleanText`: paragraphs joined by "\\n"; a `Section` for each heading
        or caption paragraph, at its offset in `text`; and a title ('' when the
        text has no heading). Empty or whitespace-only input gives empty text.
    """
    blocks = _blocks(_normalize(raw))
    hard = _is_hard_wrapped(blocks)
    paragraphs: list[list[_Line]] = []
    for block in blocks:
        pieces = _split_block(block.lines, hard)
        if paragraphs and block.blanks_before == 1 and _continues(paragraphs[-1], pieces[0]):
            paragraphs[-1] = paragraphs[-1] + pieces.pop(0)
        paragraphs.extend(pieces)
    return _assemble(paragraphs)


# ---- characters and whitespace ----


def display_width(text: str) -> int:
    """Columns the text takes in print: CJK and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WFA" else 1 for ch in text)


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def _normalize(raw: str) -> str:
    """One newline convention; no BOM, control or zero-width characters; plain spaces."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    out: list[str] = []
    for ch in text:
        if ch == "\n" or (ch.isprintable() and not ch.isspace()):
            out.append(ch)
        elif ch.isspace():  # tab, U+3000 full-width space, NBSP, thin spaces
            out.append(" ")
        elif unicodedata.category(ch) not in ("Cc", "Cf"):  # Cf: BOM, zero-width space, bidi marks
            out.append(ch)
    return "".join(out)


def _headline_tokens(line: str) -> list[str] | None:
    """The halves of a "title subtitle" line such as `以绿为底 向绿而行`, else None.

    Newspapers set a headline's parts apart with a space. That space carries
    meaning (`王彩艳 杨敏` are two people), so it is kept. Letter-spaced text
    (`产 总 值`) and spaces around figures (`到 2025 年`) do not qualify: each
    part must hold two or more CJK characters, with CJK on both sides of each space.
    """
    tokens = line.split(" ")
    if not 2 <= len(tokens) <= 3 or len("".join(tokens)) > MAX_HEADING_CHARS:
        return None
    if _SENTENCE_MARK.search(line) or _CLAUSE_MARK.search(line):
        return None
    for left, right in zip(tokens, tokens[1:], strict=False):
        if not (_is_wide(left[-1]) and _is_wide(right[0])):
            return None
    if any(sum(_is_wide(c) and c.isalpha() for c in t) < 2 for t in tokens):
        return None
    return tokens


def _squeeze_spaces(text: str) -> str:
    """Drop every space that touches a CJK character; keep one between Latin words or figures."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch == " " and (_is_wide(text[i - 1]) or _is_wide(text[i + 1])):
            continue
        out.append(ch)
    return "".join(out)


def _make_line(raw_line: str, indented: bool) -> _Line:
    line = _SPACES.sub(" ", raw_line.strip())
    tokens = _headline_tokens(line)
    if tokens is not None:
        return _Line(" ".join(_squeeze_spaces(t) for t in tokens), indented, headline=True)
    return _Line(_squeeze_spaces(line), indented, headline=False)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _blocks(text: str) -> list[_Block]:
    """Runs of non-blank lines, each with the number of blank lines before it.

    A line indented deeper than the text's least indented line starts a
    paragraph (seed 000's ` 重庆软件园`); measuring from the least indent
    keeps a uniformly indented text, such as a PDF with a left margin, joinable.
    """
    raw_lines = text.split("\n")
    base = min((_indent(line) for line in raw_lines if line.strip()), default=0)
    blocks: list[_Block] = []
    current: list[_Line] = []
    blanks = 0
    for raw_line in raw_lines:
        if raw_line.strip():
            current.append(_make_line(raw_line, _indent(raw_line) > base))
            continue
        if current:
            blocks.append(_Block(current, blanks))
            current, blanks = [], 0
        blanks += 1
    if current:
        blocks.append(_Block(current, blanks))
    return blocks


# ---- what a line is ----


def _ends_paragraph(text: str) -> bool:
    return bool(_FINAL.search(text) or _COLON_END.search(text))


def is_heading(text: str) -> bool:
    """Whether a paragraph is a heading or caption: short, standalone, not a sentence.

    At most MAX_HEADING_CHARS characters with a letter among them, no sentence
    punctuation, and either no commas (a leading `一、` or `（二）` aside) or a
    balanced headline such as `深植双化协同理念，数字产业绿色低碳发展，赋能产业提质增效`
    (three or more parts of four characters or more). A bracketed note such as
    `（据《人民日报》）` is not a heading.
    """
    compact = text.replace(" ", "")
    if not compact or len(compact) > MAX_HEADING_CHARS or not any(ch.isalpha() for ch in compact):
        return False
    if _SENTENCE_MARK.search(compact) or (compact[0] in "（(" and compact[-1] in "）)"):
        return False
    body = _ENUMERATOR.sub("", compact)
    if not _CLAUSE_MARK.search(body):
        return True
    parts = _CLAUSE_MARK.split(body)
    return len(parts) >= 3 and all(len(p) >= 4 for p in parts)


def _is_fragment(line: str, opens_paragraph: bool) -> bool:
    """A line of running text: it has clause marks and ends on a cut word, or
    opens a paragraph with a short lead-in. A heading does neither."""
    parts = _SEGMENT_SPLIT.split(line)
    if len(parts) < 2:
        return False
    return len(parts[-1]) <= SHORT_SEGMENT or (opens_paragraph and len(parts[0]) <= SHORT_SEGMENT)


def _column(lines: list[_Line]) -> int:
    """The width of a block's column: its upper-quartile line width, so that one
    short or over-wide line does not move it."""
    widths = sorted(line.width for line in lines)
    return widths[(3 * len(widths)) // 4]


def _is_hard_wrapped(blocks: list[_Block]) -> bool:
    """Whether single newlines in this text are column wraps, not paragraph ends.

    Evidence comes from each pair of adjacent lines, unless both could be
    headings (ambiguous) or the first is too wide for a column: a pair is
    a wrap when its first line stops mid-sentence and is not much shorter than
    the second. Text with one paragraph per line, such as policy files and
    `clean_text`'s own output, has few such pairs; a wrapped page is mostly them.
    """
    wraps = pairs = 0
    for block in blocks:
        for prev, line in zip(block.lines, block.lines[1:], strict=False):
            if prev.width > MAX_COLUMN_WIDTH or (is_heading(prev.text) and is_heading(line.text)):
                continue
            pairs += 1
            wraps += not _ends_paragraph(prev.text) and prev.width >= FULL_LINE_RATIO * line.width
    return pairs > 0 and wraps / pairs >= 0.5


# ---- joining lines into paragraphs ----


def _split_block(lines: list[_Line], hard: bool) -> list[list[_Line]]:
    """Group a block's lines into paragraphs. In wrapped text a line that fills
    its column and stops mid-sentence goes on in the next line; otherwise, and
    always in text that is not wrapped, each line is a paragraph."""
    column = _column(lines)
    pieces: list[list[_Line]] = [[lines[0]]]
    for prev, line in zip(lines, lines[1:], strict=False):
        goes_on = (
            hard
            and not _ends_paragraph(prev.text)
            # a headline's two halves, or an indented line, start afresh (seed 000's captions)
            and not (prev.headline or line.headline or line.indented)
            and prev.width >= FULL_LINE_RATIO * column
        )
        if goes_on:
            pieces[-1].append(line)
        else:
            pieces.append([line])
    return pieces


def _continues(para: list[_Line], nxt: list[_Line]) -> bool:
    """Whether a paragraph goes on after one blank line: a column or page break
    cut it mid-sentence. Headings, captions and finished sentences stop there."""
    last, first = para[-1], nxt[0]
    if _ends_paragraph(last.text) or last.headline or first.headline or first.indented:
        return False
    text, next_text = _join_lines(para), _join_lines(nxt)
    if is_heading(text) or (len(nxt) == 1 and is_heading(next_text)):
        return False
    if len(last.text) > MAX_HEADING_CHARS:  # a long line is body text (seeds 001, 004)
        return True
    if _is_fragment(last.text, opens_paragraph=len(para) == 1):  # "智能空调有四大主要部件，其中压"
        return True
    if len(para) == 1 and len(nxt) > 1 and _CLAUSE_MARK.search(last.text):
        # a paragraph's first line, as wide as the column it flows into (seed 002)
        column = max(line.width for line in nxt)
        return COLUMN_MATCH[0] * column <= last.width <= COLUMN_MATCH[1] * column
    if len(para) > 1 and _CLAUSE_MARK.search(text):
        # a wrapped paragraph whose last line fills the column and whose sentence
        # ends after the break (seed 000); figures in a fact box never end one
        full = last.width >= COLUMN_MATCH[0] * max(line.width for line in para)
        return full and _ends_paragraph(next_text)
    return False


def _join_lines(lines: list[_Line]) -> str:
    return join_lines([line.text for line in lines])


def join_lines(lines: list[str]) -> str:
    """Join the wrapped lines of one paragraph: nothing between CJK characters,
    nothing after a hyphen that splits a Latin word, else one space.

    Args:
        lines: non-empty, stripped lines, in order.
    """
    out = lines[0]
    for nxt in lines[1:]:
        if _is_wide(out[-1]) or _is_wide(nxt[0]):
            glue = ""
        elif out.endswith("-") and out[-2:-1].isalpha() and nxt[0].isalpha():
            glue = ""
        else:
            glue = " "
        out += glue + nxt
    return out


# ---- output ----


def _assemble(paragraphs: list[list[_Line]]) -> CleanText:
    texts = [_join_lines(p) for p in paragraphs]
    sections: list[Section] = []
    offset = 0
    for text in texts:
        if is_heading(text):
            sections.append(Section(start=offset, title=text))
        offset += len(text) + 1
    headlines = [t for t, p in zip(texts, paragraphs, strict=True) if len(p) == 1 and p[0].headline]
    return CleanText(text="\n".join(texts), sections=tuple(sections), title=_title(texts, headlines))


# A photo credit inside a caption: "摄/钟志兵", "摄影 王某", "图/新华社", "供图".
_CAPTION = re.compile(r"摄[/／:：\s]|摄影|(?:^|\s)图[/／]|供图$|图片由.*提供")
# A newspaper page label ("南岸", "要闻") is a heading of at most this many characters.
PAGE_LABEL_CHARS = 3
# A kicker ("构建绿色产业链") above the headline is joined to it when this short.
KICKER_CHARS = 8


def _title(texts: list[str], headlines: list[str]) -> str:
    """The heading that opens the document; when body text comes first (seed 002
    prints its headline below the article), its first "title subtitle" headline,
    else its first heading. Newspaper furniture before the headline is skipped:
    a page label of at most PAGE_LABEL_CHARS characters ("南岸") and photo
    captions ("… 摄/钟志兵"). A heading ending in a colon takes the next one on
    (`重庆高新区：` + `紧紧围绕“六区一高地”建设目标`), and so does a short kicker
    (`构建绿色产业链` + `广阳湾智创生态城 多个千亿级绿色产业集群呼之欲出`)."""
    headings = [i for i, t in enumerate(texts) if is_heading(t)]
    if not headings:
        return ""
    first = headings[0]
    if first > 0 and headlines:
        return headlines[0]
    heading_set = set(headings)
    while first + 1 in heading_set and (len(texts[first]) <= PAGE_LABEL_CHARS or _CAPTION.search(texts[first])):
        first += 1
    title = texts[first]
    following = texts[first + 1] if first + 1 in heading_set else ""
    if following and not _CAPTION.search(following):
        if _COLON_END.search(title):
            title += following
        elif len(title) <= KICKER_CHARS < len(following):
            title += " " + following
    return title
