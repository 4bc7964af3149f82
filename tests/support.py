"""Test support: small PDF, DOCX and HTML files made in the tests, and engines
that share one CC-CEDICT index.

reportlab is not installed, so the PDF is written by hand: a Type0 font with
Identity-H encoding and a ToUnicode map, which is how real Chinese PDFs carry
extractable text (the glyphs are not embedded; no viewer needs to draw them here).
"""

from __future__ import annotations

import io
import socket
import threading
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from policyqa.index.bridge import GlossDictionary
from policyqa.index.embedders import Embedder
from policyqa.index.engine import Engine

# Reading CC-CEDICT backwards takes seconds; every engine of these tests shares one.
SHARED_GLOSSES = GlossDictionary()


def open_engine(index_dir: Path, embedder: Embedder) -> Engine:
    """`Engine.open` with the shared gloss dictionary (the query bridge's English → Chinese index)."""
    engine = Engine.open(index_dir, embedder=embedder)
    engine.glosses = SHARED_GLOSSES
    return engine


Table = Sequence[Sequence[str]]  # rows of cells, the first row the header


def make_pdf(pages: Sequence[Sequence[str | Table]], title: str = "") -> bytes:
    """A PDF whose pages hold these lines of (Chinese or any BMP) text in a text
    layer; an item that is a list of rows is drawn as a ruled table (cells
    boxed by lines, as office software draws them)."""
    chars = sorted({ch for page in pages for item in page for text in _strings(item) for ch in text})
    cid = {ch: i + 1 for i, ch in enumerate(chars)}
    objects: list[bytes] = []  # object n is objects[n - 1]

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(data: bytes, extra: bytes = b"") -> bytes:
        return b"<< /Length %d %s>>\nstream\n%s\nendstream" % (len(data), extra, data)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    cmap_lines = [
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap",
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        b"/CMapName /Adobe-Identity-UCS def /CMapType 2 def",
        b"1 begincodespacerange <0000> <FFFF> endcodespacerange",
    ]
    items = list(cid.items())
    for i in range(0, len(items), 100):
        block = items[i : i + 100]
        cmap_lines.append(b"%d beginbfchar" % len(block))
        cmap_lines += [b"<%04X> <%04X>" % (code, ord(ch)) for ch, code in block]
        cmap_lines.append(b"endbfchar")
    cmap_lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
    to_unicode = add(stream(b"\n".join(cmap_lines)))
    descendant = add(
        b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>"
    )
    font = add(
        b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
        b"/DescendantFonts [%d 0 R] /ToUnicode %d 0 R >>" % (descendant, to_unicode)
    )
    kids = []
    for page in pages:
        if all(isinstance(item, str) for item in page):
            ops = [b"BT /F1 12 Tf 14 TL 40 800 Td"]
            for line in page:
                ops.append(b"<%s> Tj T*" % b"".join(b"%04X" % cid[ch] for ch in line))
            ops.append(b"ET")
        else:
            ops = _page_with_tables(page, cid)
        content = add(stream(b"\n".join(ops)))
        kids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (pages_obj, font, content)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = add(b"<< /Title <FEFF%s> >>" % title.encode("utf-16-be").hex().upper().encode()) if title else 0

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % o for o in offsets))
    out.write(
        b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, catalog, b"/Info %d 0 R " % info if info else b"", xref)
    )
    return out.getvalue()


def _strings(item: str | Table) -> list[str]:
    return [item] if isinstance(item, str) else [cell for row in item for cell in row]


def _page_with_tables(page: Sequence[str | Table], cid: dict[str, int]) -> list[bytes]:
    """Lines and ruled tables, top to bottom, each string placed where it goes (12 pt CJK, 1 em a character)."""
    ops: list[bytes] = []
    y = 800.0

    def text(x: float, y: float, line: str) -> None:
        ops.append(b"BT /F1 12 Tf 1 0 0 1 %.1f %.1f Tm <%s> Tj ET" % (x, y, b"".join(b"%04X" % cid[c] for c in line)))

    for item in page:
        if isinstance(item, str):
            text(40, y, item)
            y -= 14
            continue
        y -= 6
        widths = [12.0 * max(len(row[c]) for row in item) + 16 for c in range(len(item[0]))]
        for row in item:
            x = 40.0
            for width, cell in zip(widths, row, strict=True):
                ops.append(b"%.1f %.1f %.1f 20 re S" % (x, y - 20, width))
                text(x + 8, y - 15, cell)
                x += width
            y -= 20
        y -= 20
    return ops


def make_scanned_pdf(pages: int = 1) -> bytes:
    """A PDF with pages but no text layer at all (as a scan without OCR)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(
    paragraphs: Sequence[str], heading: str = "", table: Sequence[Sequence[str]] = (), title: str = ""
) -> bytes:
    """A Word document: an optional heading, paragraphs, an optional table (python-docx writes it)."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_zip_bomb(unpacked_bytes: int) -> bytes:
    """A small zip, shaped like a .docx, that unpacks to `unpacked_bytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as part:
            chunk = b"\0" * (1 << 20)
            for _ in range(unpacked_bytes // len(chunk)):
                part.write(chunk)
    return out.getvalue()


def make_html(body: str, title: str = "", charset: str = "utf-8") -> bytes:
    """A web page with a <head> (title, style, script that must not become text) and this body."""
    page = (
        f'<!DOCTYPE html><html><head><meta charset="{charset}"><title>{title}</title>'
        "<style>p {{ color: red }}</style><script>var secret = '不该出现';</script></head>"
        f"<body>{body}</body></html>"
    )
    return page.encode(charset)


# ---- hostile files (the outside probe's findings, issue 11) ----


def docx_of_empty_paragraphs(count: int, part: str = "word/document.xml", prefix: str = "w") -> bytes:
    """A tiny .docx whose body is `count` empty paragraphs (<w:p/>): 175,000 of
    them zip to about 2.4 KB and cost python-docx 43 s before the work limits.
    `part` renames the body part (python-docx finds it through the package's
    relationships, not by name); `prefix` declares Word's namespace under
    another prefix for the paragraphs."""
    plain = make_docx(["正文"])
    source = zipfile.ZipFile(io.BytesIO(plain))
    out = io.BytesIO()
    word = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            name = info.filename
            if name == "word/document.xml":
                declare = b"" if prefix == "w" else b' xmlns:%s="%s"' % (prefix.encode(), word)
                body = f"<{prefix}:p/>".encode() * count
                data = data.replace(b"<w:body>", b"<w:body" + declare + b">" + body, 1)
                name = part
            elif name in ("[Content_Types].xml", "_rels/.rels", "word/_rels/document.xml.rels"):
                data = data.replace(b"/word/document.xml", f"/{part}".encode()).replace(
                    b"word/document.xml", part.encode()
                )
            archive.writestr(name, data)
    return out.getvalue()


def html_of_line_breaks(count: int) -> bytes:
    """A page of `count` times "x<br>": 400,000 of them (2 MB) took 39 s and 460 MB to parse."""
    return b"<html><body>" + b"x<br>" * count + b"</body></html>"


# ---- a real HTTP server ----


class Server:
    """uvicorn in a thread, on a socket bound to a free loopback port."""

    def __init__(self, app: Any, **config: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = {"log_level": "warning", "timeout_keep_alive": 30, **config}
        self.server = uvicorn.Server(uvicorn.Config(app, **config))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


class OtherModel:
    """An embedder that is not the one an index was built with (only its name
    and dimension are read before the mismatch is refused)."""

    model_id = "other-model"
    dim = 512

    def encode_queries(self, texts: Any) -> Any:  # pragma: no cover - never reached
        raise AssertionError

    encode_documents = encode_queries
