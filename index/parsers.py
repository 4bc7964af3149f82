"""PDF, DOCX, HTML and image files → `Parsed` text, with well-kept parsers
(pypdf, pdfplumber for tables, python-docx, BeautifulSoup, RapidOCR for scans)
and guard limits against hostile files.

Each parser takes the raw bytes and the file name (for messages), plus its
limits as keyword arguments, and raises `IngestError` with a one-line message
that names the file and says what to do. A file over a limit raises
`DocumentTooLargeError` (a kind of `IngestError`), never a silently cut text.
"""

from __future__ import annotations

import io
import itertools
import re
import zipfile
import zlib
from typing import Any

from .decoding import Parsed, decode_bytes
from .errors import DocumentTooLargeError, IngestError
from .ocr import MAX_OCR_PAGES, MIN_TEXT_CHARS, OcrOptions
from .pages import is_visible
from .tables import cell_text, html_table_rows, row_texts, spread

MAX_PAGES = 2000
MAX_CHARS = 5_000_000  # extracted characters, about 2,500 pages of Chinese
MAX_UNCOMPRESSED = 200 * 1024 * 1024  # a .docx is a zip: total size of its parts once unpacked
MAX_ZIP_ENTRIES = 10_000
MAX_DEPTH = 256  # HTML element nesting
# Work limits, counted on the markup before a parser builds a tree: a small
# file of many empty elements costs parse time and memory out of all
# proportion to its text. A 2,000-page report holds about 40,000 paragraphs
# and a few hundred thousand tags.
MAX_TAGS = 2_000_000  # XML or HTML tags (opening and closing) in one document
MAX_PARAGRAPHS = 100_000  # Word paragraphs
# BeautifulSoup spends about 25 µs per element, so a page is held to fewer: a
# long report saved as HTML has some tens of thousands.
MAX_HTML_ELEMENTS = 100_000
# An image's pixels, checked from its header before it is decoded: an A4 scan
# at 600 dpi has 35 million (a small PNG can claim billions: a decompression bomb).
MAX_IMAGE_PIXELS = 50_000_000

# Paragraphs are set two blank lines apart, which clean_text never joins across
# (as markdown_to_text does): these formats say outright where paragraphs end.
_PARAGRAPH_BREAK = "\n\n\n"


def _too_long(name: str, chars: int, max_chars: int) -> DocumentTooLargeError:
    return DocumentTooLargeError(
        f"{name}: more than {max_chars:,} characters of text ({chars:,} so far): split the file into smaller ones"
    )


# ---- PDF ----


def parse_pdf(
    data: bytes,
    name: str,
    *,
    max_pages: int = MAX_PAGES,
    max_chars: int = MAX_CHARS,
    ocr: OcrOptions | None = None,
) -> Parsed:
    """The text of a PDF, page by page: the text layer (pypdf), its ruled tables
    as row texts (pdfplumber, see index/tables.py), and OCR (index/ocr.py) for
    pages with no text layer or too little of one (fewer than MIN_TEXT_CHARS
    visible characters: a scan). Each page's start is recorded, and each
    OCR'd page with its mean confidence.

    Raises:
        IngestError: not a readable PDF, encrypted with a password, or no text
            at all (a scan with OCR off, or one OCR read nothing on).
        DocumentTooLargeError: more than `max_pages` pages or `max_chars` characters.
    """
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    ocr = ocr or OcrOptions()
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError(f"{name}: the PDF is password-protected: save an unprotected copy and upload that")
        pages = reader.pages
        count = len(pages)
        if count > max_pages:
            raise DocumentTooLargeError(f"{name}: {count} pages, more than the limit of {max_pages}: split the PDF")
        texts: list[str] = []
        chars = 0
        for page in pages:
            text = page.extract_text() or ""
            chars += len(text)
            if chars > max_chars:
                raise _too_long(name, chars, max_chars)
            texts.append(text)
        title = _pdf_title(reader)
        texts = _with_tables(data, texts, [i for i, p in enumerate(pages) if _may_have_rules(p, texts[i])])
        # A scan is a page with (almost) no text layer that shows an image: a
        # short or blank page of a born-digital file is left as it is.
        scans = [i for i, t in enumerate(texts) if _visible(t) < MIN_TEXT_CHARS and _shows_image(pages[i])]
    except IngestError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        RecursionError,
        NotImplementedError,
        zipfile.BadZipFile,
    ) as exc:
        # pypdf raises a range of errors on broken files; none of them should escape as a bug
        raise IngestError(
            f"{name}: not a readable PDF ({exc.__class__.__name__}): check the file or re-export it"
        ) from exc
    confidence: dict[int, float] = {}
    if len(scans) > MAX_OCR_PAGES and ocr.enabled:
        raise DocumentTooLargeError(
            f"{name}: {len(scans)} scanned pages to OCR, more than the limit of {MAX_OCR_PAGES}: split the PDF"
        )
    if scans and ocr.enabled:
        confidence = _ocr_pdf_pages(data, name, texts, scans, ocr, max_chars - chars, max_chars)
    if not any(t.strip() for t in texts):
        if not ocr.enabled:
            raise IngestError(
                f"{name}: the PDF has no text layer (a scan or images only) and OCR is off: "
                "turn OCR on (POLICYQA_OCR=on, no --no-ocr) or OCR it first"
            )
        raise IngestError(
            f"{name}: the PDF has no text layer and OCR read no text on its {count} pages: "
            "check the scan, or OCR it first with another tool"
        )
    return _paged(texts, title, confidence)


def _visible(text: str) -> int:
    return sum(1 for ch in text if is_visible(ch))


def _shows_image(page: Any) -> bool:
    """Whether the page draws an image or a form (which may hold one); when
    its resources cannot be read, it is taken to (OCR decides)."""
    try:
        resources = page.get("/Resources")
        xobjects = resources.get_object().get("/XObject") if resources is not None else None
        if xobjects is None:
            return b"BI" in (page.get_contents().get_data() if page.get_contents() is not None else b"")
        return any(x.get_object().get("/Subtype") in ("/Image", "/Form") for x in xobjects.get_object().values())
    except Exception:  # noqa: BLE001 - a damaged page: let OCR look at it
        return True


def _paged(texts: list[str], title: str, confidence: dict[int, float]) -> Parsed:
    """Pages set apart as paragraphs of their own, each page's start recorded
    (an empty page starts where the next one does)."""
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for text in texts:
        text = text.strip()
        if text and parts:
            offset += len(_PARAGRAPH_BREAK)
        starts.append(offset)
        if text:
            parts.append(text)
            offset += len(text)
    metadata: dict[str, Any] = {}
    if confidence:
        metadata["ocr"] = {
            "pages": sorted(p + 1 for p in confidence),
            "confidence": {str(p + 1): c for p, c in sorted(confidence.items())},
        }
    return Parsed(_PARAGRAPH_BREAK.join(parts), title, page_starts=tuple(starts), metadata=metadata)


def _ocr_pdf_pages(
    data: bytes, name: str, texts: list[str], scans: list[int], ocr: OcrOptions, room: int, max_chars: int
) -> dict[int, float]:
    """OCR the scanned pages (0-based `scans`) in place in `texts`; their confidences by page.
    OCR's text replaces a page's thin text layer only where it reads more."""
    import pypdfium2

    from .ocr import read_image, render_pdf_page

    try:
        pdf = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise IngestError(f"{name}: its scanned pages cannot be rendered for OCR ({exc}): re-export the PDF") from exc
    confidence: dict[int, float] = {}
    try:
        for done, index in enumerate(scans):
            if ocr.on_page:
                ocr.on_page(index + 1, done, len(scans))
            page = read_image(render_pdf_page(pdf, index))
            if _visible(page.text) > _visible(texts[index]):
                room -= len(page.text) - len(texts[index])
                if room < 0:
                    raise _too_long(name, max_chars - room, max_chars)
                texts[index] = page.text
                confidence[index] = page.confidence
        if ocr.on_page:
            ocr.on_page(0, len(scans), len(scans))
    finally:
        pdf.close()
    return confidence


# A ruled table is drawn: a page whose content stream has no path operators
# (re, l) and draws no form XObject (Do) has none, and is not laid out again
# by pdfplumber (pdfminer takes about as long as pypdf did for the whole page).
_DRAWING = re.compile(rb"(?<![A-Za-z])(?:re|l|Do)(?![A-Za-z])")


def _may_have_rules(page: Any, text: str) -> bool:
    if _visible(text) < MIN_TEXT_CHARS:  # a scan: its tables are read by OCR, as text
        return False
    contents = page.get_contents()
    return contents is not None and _DRAWING.search(contents.get_data()) is not None


def _with_tables(data: bytes, texts: list[str], candidates: list[int]) -> list[str]:
    """The pages that hold ruled tables, read again with pdfplumber: the text
    outside the tables as lines, each table as its row texts, in reading order
    (top to bottom), so a table's cells are not also left as loose words."""
    if not candidates:
        return texts
    import pdfplumber

    texts = list(texts)
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for index in candidates:
                page = pdf.pages[index]
                try:
                    text = _page_with_tables(page)
                finally:
                    page.close()
                if text is not None:
                    texts[index] = text
    except MemoryError:
        raise
    except Exception:  # pdfminer cannot lay the file out: pypdf's text layer stands, tables read as words
        return texts
    return texts


def _page_with_tables(page: Any) -> str | None:
    tables = page.find_tables()
    if not tables:
        return None
    boxes = [t.bbox for t in tables]

    def outside(obj: dict[str, Any]) -> bool:
        x = (obj.get("x0", 0) + obj.get("x1", 0)) / 2
        y = (obj.get("top", 0) + obj.get("bottom", 0)) / 2
        return not any(x0 <= x <= x1 and top <= y <= bottom for x0, top, x1, bottom in boxes)

    items: list[tuple[float, int, str]] = []  # (top, 0 for a line of text / 1 for a table, text)
    for line in page.filter(outside).extract_text_lines():
        items.append((line["top"], 0, line["text"]))
    for table in tables:
        rows = row_texts([[c or "" for c in row] for row in table.extract()])
        items.append((table.bbox[1], 1, _PARAGRAPH_BREAK.join(rows)))
    blocks: list[str] = []
    previous = 1
    for _, kind, text in sorted(items, key=lambda item: item[0]):
        if not text:
            continue
        if kind == 0 and previous == 0:
            blocks[-1] += "\n" + text  # lines of one block of text
        else:
            blocks.append(text)
        previous = kind
    return _PARAGRAPH_BREAK.join(blocks)


def _pdf_title(reader: Any) -> str:
    try:
        meta = reader.metadata
        title = meta.title if meta is not None else None
    except Exception:  # a broken info dictionary only costs the title
        return ""
    return str(title).strip() if title else ""


# ---- DOCX ----


def parse_docx(
    data: bytes,
    name: str,
    *,
    max_uncompressed: int = MAX_UNCOMPRESSED,
    max_entries: int = MAX_ZIP_ENTRIES,
    max_chars: int = MAX_CHARS,
) -> Parsed:
    """Paragraphs and table rows of a Word document, in order (python-docx);
    paragraphs styled as headings (Heading n / 标题 n / Title) become sections.

    The zip is checked before python-docx unpacks it: a small file that unpacks
    to gigabytes (a zip bomb) is refused.

    Raises:
        IngestError: not a .docx (zip) file, or no text in it.
        DocumentTooLargeError: over `max_uncompressed` bytes unpacked, over
            `max_entries` parts, or over `max_chars` characters.
    """
    _check_zip(data, name, max_uncompressed, max_entries)
    _check_docx_work(data, name)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
        units, headings = _docx_units(document, name, max_chars)
        title = (document.core_properties.title or "").strip()
    except IngestError:
        raise
    except (PackageNotFoundError, KeyError, ValueError, zipfile.BadZipFile, AttributeError, TypeError) as exc:
        raise IngestError(
            f"{name}: not a readable Word (.docx) file ({exc.__class__.__name__}): re-save it as .docx"
        ) from exc
    except Exception as exc:  # lxml syntax errors in a damaged part
        raise IngestError(f"{name}: the .docx is damaged ({exc.__class__.__name__}): re-save it in Word") from exc
    if not units:
        raise IngestError(f"{name}: the document holds no text: check the file")
    return Parsed(_PARAGRAPH_BREAK.join(units), title or (headings[0] if headings else ""), tuple(headings))


def _check_zip(data: bytes, name: str, max_uncompressed: int, max_entries: int) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(f"{name}: not a .docx file (not a zip archive): re-save it as .docx") from exc
    if len(infos) > max_entries:
        raise DocumentTooLargeError(f"{name}: {len(infos)} parts inside the .docx, more than {max_entries}: refused")
    total = sum(info.file_size for info in infos)
    if total > max_uncompressed:
        raise DocumentTooLargeError(
            f"{name}: unpacks to {total:,} bytes, more than the limit of {max_uncompressed:,}: "
            "refused (a zip bomb, or a document to split)"
        )


# A paragraph under any namespace prefix (Word writes w:, but any prefix may be declared).
_WORD_PARAGRAPH = re.compile(rb"<(?:[\w.-]+:)?p[\s/>]")


def _check_docx_work(data: bytes, name: str) -> None:
    """Count the tags and paragraphs of every XML part (the body, but also
    headers, footnotes, styles, and a body under another part name), streamed
    out of the zip in blocks and never unpacked whole, before python-docx
    builds its trees."""
    tags = paragraphs = 0
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if not info.filename.lower().endswith((".xml", ".rels")):
                    continue
                tail = b""
                with archive.open(info) as part:
                    while block := part.read(1 << 20):
                        block = tail + block
                        cut = max(0, len(block) - 64)  # a tag split across blocks is counted in the next one
                        tags += block.count(b"<", 0, cut)
                        paragraphs += len(_WORD_PARAGRAPH.findall(block, 0, cut))
                        tail = block[cut:]
                        _check_work(name, tags, paragraphs)
                tags += tail.count(b"<")
                paragraphs += len(_WORD_PARAGRAPH.findall(tail))
                _check_work(name, tags, paragraphs)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise IngestError(f"{name}: the .docx is damaged ({exc}): re-save it in Word") from exc


def _check_work(name: str, tags: int, paragraphs: int) -> None:
    if tags > MAX_TAGS:
        raise DocumentTooLargeError(f"{name}: more than {MAX_TAGS:,} tags of markup: refused (split the document)")
    if paragraphs > MAX_PARAGRAPHS:
        raise DocumentTooLargeError(
            f"{name}: more than {MAX_PARAGRAPHS:,} paragraphs: refused (split the document)"
        )


def _docx_units(document: Any, name: str, max_chars: int) -> tuple[list[str], list[str]]:
    units: list[str] = []
    headings: list[str] = []
    chars = 0
    # Style names by id, read once: python-docx's `paragraph.style` scans every
    # style of the document for each paragraph (about 1 ms each).
    style_names = {s.style_id: s.name or "" for s in document.styles}
    heading_ids = {i for i, n in style_names.items() if re.match(r"(?i)^(heading|标题|title)\s*\d*$", n)}
    for block in document.iter_inner_content():
        if hasattr(block, "rows"):  # a table: one paragraph per row, each cell under its header
            rows = row_texts(_docx_cells(block))
        else:
            rows = [block.text.strip()]
            if rows[0] and block._p.style in heading_ids:
                headings.append(rows[0])
        for text in rows:
            if text:
                chars += len(text)
                if chars > max_chars:
                    raise _too_long(name, chars, max_chars)
                units.append(text)
    return units, headings


def _docx_cells(table: Any) -> list[list[str]]:
    """A Word table's cells by grid column. python-docx gives a merged cell once
    per column it spans; it is spread as an HTML colspan is (`spread`)."""
    rows: list[list[str]] = []
    for row in table.rows:
        cells: list[str] = []
        previous: Any = None
        span = 0
        for cell in [*row.cells, None]:
            if cell is not None and previous is not None and cell._tc is previous._tc:
                span += 1
                continue
            if previous is not None:
                cells.extend(spread(cell_text(previous.text), span, header=not rows))
            previous, span = cell, 1
        rows.append(cells)
    return rows


# ---- HTML ----

_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption dd details div dl dt figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header li main nav ol p pre section summary table tr ul".split()
)
# Elements that are closed explicitly in practice: their open/close balance
# measures nesting before any parser builds a tree (unclosed <p> and <li> are
# common and harmless, so they are not counted).
_CONTAINERS = frozenset(
    "a article aside b blockquote center div em figure font footer form header i main nav ol section "
    "small span strong table tbody u ul".split()
)
_CONTAINER_TAG = re.compile(
    r"<(/?)(?:{})(?=[\s/>])(?:[^<>]*?(/))?".format("|".join(sorted(_CONTAINERS, key=len, reverse=True))), re.I
)
# Every node BeautifulSoup builds starts with "<" that is not a closing tag:
# elements, but also comments, doctypes and processing instructions.
_OPENING_TAG = re.compile(r"<(?!/)")
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "object", "head")
_HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.I)


def parse_html(data: bytes, name: str, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS) -> Parsed:
    """The visible text of a web page (BeautifulSoup; lxml when installed, else
    the standard library's html.parser): block elements become paragraphs,
    h1–h6 become sections, <title> (or the first h1) the title. Scripts,
    styles and the <head> are dropped.

    The page is decoded by its <meta charset> when it declares one, else like a
    text file (UTF-8, then GB18030, then detection).

    Raises:
        IngestError: undecodable, or no visible text.
        DocumentTooLargeError: elements nested deeper than `max_depth`, or more
            than `max_chars` characters of text.
    """
    from bs4 import BeautifulSoup

    text = _decode_html(data, name)
    # Elements counted and nesting measured on the markup, before a parser
    # spends time and memory on a hostile page; nesting again on the tree the
    # parser actually built.
    _check_html_elements(text, name)
    depth = _markup_depth(text, max_depth)
    if depth <= max_depth:
        soup = BeautifulSoup(text, _html_builder())
        depth = _depth(soup)
    if depth > max_depth:
        raise DocumentTooLargeError(
            f"{name}: elements nested {depth} deep, more than the limit of {max_depth}: refused"
        )
    title_tag, dropped, heading_tags, tables = _special_tags(soup)
    title = " ".join(title_tag.get_text().split()) if title_tag else ""
    heading_tags = [h for h in heading_tags if not any(p.name in _DROP_TAGS for p in h.parents)]
    tables = [t for t in tables if not any(p.name in _DROP_TAGS or p.name == "table" for p in t.parents)]
    for tag in dropped:
        tag.decompose()
    for table in tables:
        _table_as_rows(soup, table)
    headings = [" ".join(h.get_text().split()) for h in heading_tags]
    headings = [h for h in headings if h]
    units = _html_units(soup, name, max_chars)
    if not units:
        raise IngestError(f"{name}: the page has no visible text: check the file")
    return Parsed(_PARAGRAPH_BREAK.join(units), title or (headings[0] if headings else ""), tuple(headings))


def _check_html_elements(text: str, name: str) -> None:
    # counting stops one past the limit, so a hostile page costs no more than a legal one
    elements = sum(1 for _ in itertools.islice(_OPENING_TAG.finditer(text), MAX_HTML_ELEMENTS + 1))
    if elements > MAX_HTML_ELEMENTS:
        raise DocumentTooLargeError(f"{name}: more than {MAX_HTML_ELEMENTS:,} elements: refused (split the page)")


def _table_as_rows(soup: Any, table: Any) -> None:
    """Replace a <table> by one <p> per row, each cell under its header (index/tables.py)."""
    replacement = soup.new_tag("div")
    for text in row_texts(html_table_rows(table)):
        paragraph = soup.new_tag("p")
        paragraph.string = text
        replacement.append(paragraph)
    table.replace_with(replacement)


def _special_tags(soup: Any) -> tuple[Any, list[Any], list[Any], list[Any]]:
    """The <title>, the elements to drop, the headings and the tables, in one walk
    of the tree (each `find_all` is a walk of its own, and costs about 1 µs a node)."""
    title = None
    dropped: list[Any] = []
    headings: list[Any] = []
    tables: list[Any] = []
    for node in soup.descendants:
        name = getattr(node, "name", None)
        if name is None:
            continue
        if name == "title" and title is None:
            title = node
        if name in _DROP_TAGS:
            dropped.append(node)
        elif name in _HEADING_TAGS:
            headings.append(node)
        elif name == "table":
            tables.append(node)
    # a dropped element inside another dropped one is already gone with it
    return title, [d for d in dropped if not any(p.name in _DROP_TAGS for p in d.parents)], headings, tables


def _html_builder() -> str:
    try:
        import lxml  # noqa: F401

        return "lxml"
    except ImportError:
        return "html.parser"


def _decode_html(data: bytes, name: str) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        encoding = declared.group(1).decode("ascii").lower()
        encoding = "gb18030" if encoding in ("gb2312", "gbk") else encoding  # the superset reads both
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: fall back to the content itself
    return decode_bytes(data, name)


def _markup_depth(text: str, limit: int) -> int:
    """The deepest nesting of container elements in the markup, from their tags
    alone; the scan stops as soon as it passes `limit`."""
    depth = deepest = 0
    for m in _CONTAINER_TAG.finditer(text):
        if m.group(2):  # <div/>
            continue
        depth = max(0, depth - 1) if m.group(1) else depth + 1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def _depth(soup: Any) -> int:
    """The deepest element nesting, walked with an explicit stack (no recursion)."""
    deepest = 0
    stack = [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in getattr(node, "contents", ()):
            if getattr(child, "name", None):
                stack.append((child, depth + 1))
    return deepest


def _html_units(soup: Any, name: str, max_chars: int) -> list[str]:
    """Paragraphs of text: strings under the same block element run on; a new
    block element, or a <br>, starts a new paragraph."""
    from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

    skip = (Comment, Declaration, Doctype, ProcessingInstruction)
    units: list[str] = []
    current: list[str] = []
    block: Any = None
    chars = 0

    def flush() -> None:
        text = " ".join("".join(current).split())
        if text:
            units.append(text)
        current.clear()

    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name in ("br", "hr"):
                flush()
            elif node.name in ("td", "th") and current:
                current.append(" ")  # cells of a row stay one paragraph, apart
            continue
        if not isinstance(node, NavigableString) or isinstance(node, skip):
            continue
        owner = next((p for p in node.parents if p.name in _BLOCK_TAGS), soup)
        if owner is not block:
            flush()
            block = owner
        chars += len(node)
        if chars > max_chars:
            raise _too_long(name, chars, max_chars)
        current.append(str(node))
    flush()
    return units


# ---- images ----


def parse_image(data: bytes, name: str, *, ocr: OcrOptions | None = None) -> Parsed:
    """The text of a .png or .jpg image of a document page, read by OCR (index/ocr.py).

    Raises:
        IngestError: not a readable image, OCR is off, or OCR read no text.
        DocumentTooLargeError: more than MAX_IMAGE_PIXELS pixels.
    """
    from PIL import Image, UnidentifiedImageError

    ocr = ocr or OcrOptions()
    if not ocr.enabled:
        raise IngestError(f"{name}: an image is read by OCR, and OCR is off: turn it on (POLICYQA_OCR=on, no --no-ocr)")
    try:
        image = Image.open(io.BytesIO(data))
        pixels = image.width * image.height
        if pixels > MAX_IMAGE_PIXELS:
            raise DocumentTooLargeError(
                f"{name}: {image.width}×{image.height} pixels, more than {MAX_IMAGE_PIXELS:,}: scale the image down"
            )
        image.load()
    except IngestError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise IngestError(f"{name}: not a readable image ({exc.__class__.__name__}): check the file") from exc
    from .ocr import read_image

    if ocr.on_page:
        ocr.on_page(1, 0, 1)
    page = read_image(image)
    if ocr.on_page:
        ocr.on_page(0, 1, 1)
    if not page.text.strip():
        raise IngestError(f"{name}: OCR read no text in the image: check that it shows a page of text")
    metadata = {"ocr": {"pages": [1], "confidence": {"1": page.confidence}}}
    return Parsed(page.text, page_starts=(0,), metadata=metadata)
