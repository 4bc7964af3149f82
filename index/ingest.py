"""Files in, `Document`s out: find the files, decode their bytes, parse their
format, clean the text and give each document a stable id.

A format is one parser in `PARSERS` (suffix -> function from raw bytes to
`Parsed`); adding PDF, DOCX or HTML later means writing one function and
adding one entry. Every failure is an `IngestError` whose one-line message
names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from .clean import clean_text, join_lines
from .decoding import Parsed, Parser, decode_bytes
from .errors import DocumentTooLargeError, IngestError, UnsupportedFormatError
from .official_meta import extract as extract_official
from .pages import cleaned_offsets
from .types import Document, Section, stable_id

# ---- parsers ----


def plain_to_text(text: str) -> Parsed:
    """Plain text as it is: `clean_text` finds its paragraphs and headings."""
    return Parsed(text)


# The most characters a text or markdown file may hold, as index.parsers.MAX_CHARS
# for the text extracted from PDF, DOCX and HTML: about 2,500 pages of Chinese,
# already hours of embedding on a small machine.
MAX_TEXT_CHARS = 5_000_000


def _decode_bounded(data: bytes, name: str) -> str:
    text = decode_bytes(data, name)
    if len(text) > MAX_TEXT_CHARS:
        raise DocumentTooLargeError(
            f"{name}: {len(text):,} characters, more than the limit of {MAX_TEXT_CHARS:,}: split the file"
        )
    return text


def parse_text(data: bytes, name: str) -> Parsed:
    """A plain text file: decoded, then taken as it is.

    Raises:
        IngestError: not text (see `decode_bytes`).
        DocumentTooLargeError: more than `MAX_TEXT_CHARS` characters.
    """
    return plain_to_text(_decode_bounded(data, name))


def parse_markdown(data: bytes, name: str) -> Parsed:
    """Markdown: `#` headings become sections, markup is stripped (see `markdown_to_text`).

    Raises:
        IngestError: not text (see `decode_bytes`).
        DocumentTooLargeError: more than `MAX_TEXT_CHARS` characters.
    """
    return markdown_to_text(_decode_bounded(data, name))


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_MD_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_MD_ATX = re.compile(r"^ {0,3}#{1,6}(?:[ \t]*(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_MD_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_MD_TABLE_RULE = re.compile(r"^[ \t]*\|?(?:[ \t]*:?-+:?[ \t]*\|)+(?:[ \t]*:?-+:?[ \t]*)?\|?[ \t]*$")
_MD_LINK_DEF = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+")
_MD_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_MD_BULLET = re.compile(r"^[ \t]*[-*+][ \t]+")
_MD_ORDERED = re.compile(r"^[ \t]*\d+[.)][ \t]+")  # its number is kept: figures are never dropped
# Inline markup, applied in this order; each keeps the text a reader sees.
# The content of each span excludes its own delimiters, so that a scan for the
# closing one stops at the next opening one: with `.+?` or `[^)]*`, a line of
# ten thousand "[" or "**a " took minutes (each opener scanned to the end of the
# line), which one uploaded file could use to stall ingestion.
_MD_INLINE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"!\[([^\[\]]*)\]\([^()]*\)"), r"\1"),  # image -> alt text
    (re.compile(r"\[([^\[\]]+)\]\([^()]*\)"), r"\1"),  # link -> link text
    (re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]"), r"\1"),  # reference link
    (re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>"), r"\1"),  # autolink
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # code span
    (re.compile(r"\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*"), r"\1"),  # strong
    (re.compile(r"__(?=[^\s_])([^_]+?)(?<=\S)__"), r"\1"),
    # emphasis: not between ASCII letters or digits, so 2*3*4 and snake_case stay
    (re.compile(r"(?<![A-Za-z0-9*\\])\*(?=[^\s*])([^*]+?)(?<=[^\s*\\])\*(?![A-Za-z0-9*])"), r"\1"),
    (re.compile(r"(?<![A-Za-z0-9_\\])_(?=[^\s_])([^_]+?)(?<=[^\s_\\])_(?![A-Za-z0-9_])"), r"\1"),
    (re.compile(r"~~(?=[^\s~])([^~]+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # inline HTML tag
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),  # backslash escape
)


def _md_inline(text: str) -> str:
    for pattern, replacement in _MD_INLINE:
        text = pattern.sub(replacement, text)
    return text.strip()


def markdown_to_text(markdown: str) -> Parsed:
    """Plain text from markdown, one block (heading, paragraph, list item, table
    row) per paragraph, with the headings listed and the first one as title.

    Markdown says outright where paragraphs end, so its wrapped lines are
    joined here and blocks are set two blank lines apart, which `clean_text`
    never joins across. Code blocks keep their lines; ordered lists keep
    their numbers.
    """
    units: list[str] = []
    headings: list[str] = []
    current: list[str] = []

    def flush() -> None:
        lines = [text for text in map(_md_inline, current) if text]
        if lines:
            units.append(join_lines(lines))
        current.clear()

    in_fence = False
    for line in _FRONT_MATTER.sub("", markdown).splitlines():
        if _MD_FENCE.match(line):
            flush()
            in_fence = not in_fence
        elif in_fence:
            if line.strip():
                units.append(line.strip())
        elif not line.strip() or _MD_LINK_DEF.match(line) or _MD_TABLE_RULE.match(line):
            flush()
        elif current and _MD_SETEXT.match(line):  # "Title\n=====": the paragraph above is a heading
            before = len(units)
            flush()
            headings.extend(units[before:])
        elif _MD_RULE.match(line):
            flush()
        elif (atx := _MD_ATX.match(line)) is not None:
            flush()
            heading = _md_inline(atx.group(1) or "")
            if heading:
                units.append(heading)
                headings.append(heading)
        else:
            line = _MD_QUOTE.sub("", line)
            if _MD_BULLET.match(line) or _MD_ORDERED.match(line) or line.lstrip().startswith("|"):
                flush()  # each list item and table row is a paragraph of its own
            line = _MD_BULLET.sub("", line).strip().strip("|").replace("|", " ")
            current.append(line)
    flush()
    units = [u for u in units if u]
    return Parsed("\n\n\n".join(units), headings[0] if headings else "", tuple(headings))


def _from_parsers(name: str) -> Parser:
    """A parser of `index.parsers`, run in a worker process with a time budget
    and a memory cap (these formats are where hostile files hide)."""

    def parse(data: bytes, file: str) -> Parsed:
        from .parse_worker import parse_in_worker

        result: Parsed = parse_in_worker(name, data, file)
        return result

    parse.__name__ = name
    return parse


# Suffix -> parser.
PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        ".txt": parse_text,
        ".md": parse_markdown,
        ".pdf": _from_parsers("parse_pdf"),
        ".docx": _from_parsers("parse_docx"),
        ".html": _from_parsers("parse_html"),
        ".htm": _from_parsers("parse_html"),
        # a photo or scan of a page, read by OCR (index/ocr.py)
        ".png": _from_parsers("parse_image"),
        ".jpg": _from_parsers("parse_image"),
        ".jpeg": _from_parsers("parse_image"),
    }
)
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(PARSERS)
# Text-level parsers, for text that arrives already decoded (HTTP uploads).
_TEXT_PARSERS: Mapping[str, Callable[[str], Parsed]] = MappingProxyType(
    {".txt": plain_to_text, ".md": markdown_to_text}
)


# ---- finding files ----


# API uploads are named "upload:<file name>": no file path an ingest gives
# starts so (`source_key` sees to it), so a folder ingest never takes an
# upload for one of its files, nor removes it as vanished.
UPLOAD_SCHEME = "upload:"


def source_key(path: Path, root: Path | None = None) -> str:
    """How a file is named in the index, with "/" separators and never as an
    absolute path (a server must not show its folders): relative to the
    current directory when inside it, else starting from `root` (the folder or
    file named for ingest; by default the file itself). Symlinks are not
    resolved, so the name is the path as given, made absolute and tidied."""
    absolute = Path(os.path.abspath(path))
    try:
        key = absolute.relative_to(Path.cwd()).as_posix()
    except ValueError:
        base = Path(os.path.abspath(root if root is not None else path)).parent
        key = absolute.relative_to(base).as_posix()
    return "./" + key if key.startswith(UPLOAD_SCHEME) else key


def iter_files(paths: Iterable[Path]) -> list[Path]:
    """The files to ingest: folders expanded recursively in sorted order, hidden
    files and folders below them skipped, only supported suffixes kept, each
    file once.

    Raises:
        IngestError: a path does not exist, or names a file of an unsupported type.
    """
    return [file for file, _ in iter_files_with_roots(paths)]


def iter_files_with_roots(paths: Iterable[Path]) -> list[tuple[Path, Path]]:
    """`iter_files`, each file with the path it was found under (for `source_key`)."""
    found: dict[str, tuple[Path, Path]] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            candidates = _walk(path)
        elif path.is_file():
            _check_suffix(path)
            candidates = [path]
        else:
            raise IngestError(f"{path}: no such file or folder: check the path")
        for file in candidates:
            found.setdefault(os.path.abspath(file), (file, path))
    return list(found.values())


def _walk(folder: Path) -> list[Path]:
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        # sorted for a stable order; pruning in place keeps os.walk out of hidden folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith(".") and Path(name).suffix.lower() in PARSERS:
                files.append(Path(root) / name)
    return files


def _check_suffix(path: Path | PurePosixPath) -> None:
    if path.suffix.lower() not in PARSERS:
        kind = f"'{path.suffix}'" if path.suffix else "a file without a suffix"
        raise UnsupportedFormatError(f"{path}: {kind} is not supported: use one of {', '.join(SUPPORTED_SUFFIXES)}")


# ---- documents ----


def read_document(path: Path, source: str | None = None, metadata: dict[str, Any] | None = None) -> Document:
    """Read, parse and clean one file into a `Document`.

    Args:
        path: a .txt or .md file.
        source: its name in the index; by default `source_key(path)`. The id is
            derived from it, so a file keeps its id when its content changes.
        metadata: stored with the document, copied.

    Raises:
        IngestError: the file is missing, unreadable, of an unsupported type,
            not text, or holds no text after cleaning.
    """
    path = Path(path)
    _check_suffix(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError as exc:
        raise IngestError(f"{path}: is a folder, not a file: pass it to iter_files to list its files") from exc
    except FileNotFoundError as exc:
        raise IngestError(f"{path}: no such file: check the path") from exc
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise IngestError(f"{path}: cannot be read ({reason}): check that it exists and is readable") from exc
    parsed = PARSERS[path.suffix.lower()](data, str(path))
    return _document(parsed, source or source_key(path), hashlib.sha256(data).hexdigest(), metadata, None)


def document_from_text(
    raw: str,
    source: str,
    fingerprint: str,
    metadata: dict[str, Any] | None = None,
    title: str | None = None,
) -> Document:
    """A `Document` from text that is already decoded, such as an HTTP upload.

    Markdown markup is stripped when `source` ends in .md; any other name is
    taken as plain text.

    Args:
        raw: the text.
        source: its name in the index; the id derives from it.
        fingerprint: identifies this version of the content (sha256 of the bytes).
        metadata: stored with the document, copied.
        title: overrides the title found in the text.

    Raises:
        IngestError: the text is empty after cleaning.
    """
    parse = _TEXT_PARSERS.get(PurePosixPath(source).suffix.lower(), plain_to_text)
    return _document(parse(raw), source, fingerprint, metadata, title)


def document_from_bytes(
    data: bytes, source: str, metadata: dict[str, Any] | None = None, title: str | None = None
) -> Document:
    """A `Document` from a file's raw bytes, such as an HTTP upload, parsed by the suffix of `source`.

    Raises:
        UnsupportedFormatError: no parser for the suffix.
        IngestError: the parser cannot read the bytes, or no text is left after cleaning.
    """
    _check_suffix(PurePosixPath(source))
    parsed = PARSERS[PurePosixPath(source).suffix.lower()](data, source)
    return _document(parsed, source, hashlib.sha256(data).hexdigest(), metadata, title)


def _document(
    parsed: Parsed, source: str, fingerprint: str, metadata: dict[str, Any] | None, title: str | None
) -> Document:
    cleaned = clean_text(parsed.text)
    if not cleaned.text:
        raise IngestError(f"{source}: no text left after cleaning: check that the file holds readable text")
    sections = _explicit_sections(cleaned.text, parsed.headings) if parsed.headings else cleaned.sections
    found = clean_text(parsed.title).text if parsed.title else cleaned.title
    return Document(
        doc_id=stable_id(source),
        title=title or found or PurePosixPath(source.removeprefix(UPLOAD_SCHEME)).stem or source,
        source=source,
        text=cleaned.text,
        fingerprint=fingerprint,
        sections=sections,
        metadata=_found_metadata(parsed, cleaned.text, metadata or {}) | dict(metadata or {}),
    )


def _found_metadata(parsed: Parsed, text: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """What the parser found (OCR confidences), the official document's number,
    issuing body and dates read from its text (index/official_meta.py), and
    each page's start moved into the cleaned `text` (see index/pages.py); the
    caller's metadata is laid over it."""
    # read from the parser's lines: cleaning joins the short lines of a header into one paragraph
    found = extract_official(parsed.text, given) | dict(parsed.metadata)
    if parsed.page_starts:
        found["pages"] = cleaned_offsets(parsed.text, parsed.page_starts, text)
    return found


def _explicit_sections(text: str, headings: tuple[str, ...]) -> tuple[Section, ...]:
    """Sections at the paragraphs that are the given headings, matched in order.
    Each heading was set apart as its own paragraph, so it is found whole."""
    wanted = [clean_text(h).text for h in headings]
    sections: list[Section] = []
    offset = 0
    for paragraph in text.split("\n"):
        if wanted and paragraph == wanted[0]:
            sections.append(Section(start=offset, title=wanted.pop(0)))
        offset += len(paragraph) + 1
    return tuple(sections)
