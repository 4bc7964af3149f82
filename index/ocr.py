"""Text from images of pages (scanned PDFs, photos of documents) with
RapidOCR: PP-OCR's Chinese detection and recognition models, shipped inside
the `rapidocr-onnxruntime` wheel and run by onnxruntime on the CPU; nothing is
downloaded at run time.

Runs in the parsing worker (index/parse_worker.py), never in the server or the
CLI process: the models cost a few hundred MB and a page about 2 s of CPU.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# Pages are rendered at this resolution for OCR, and a rendered page or an
# image is scaled down to at most MAX_SIDE_PX on its longer side (an A4 page to
# 137 dpi). Measured on rendered A4 pages of Chinese: 8.5 pt to 16 pt text read
# without an error at 1,600 px; 2,000 px (RapidOCR's own limit) read no better
# and cost 40% more time and 1.1 GB of memory at its peak instead of 0.7 GB.
RENDER_DPI = 200
MAX_SIDE_PX = 1600
# onnxruntime's threads per model: more buy little on one page, and two
# documents may be parsed at once.
MAX_THREADS = 4
# A PDF page whose text layer has fewer visible characters than this is taken
# for a scan (or a scan with a page number laid over it) and OCR'd.
MIN_TEXT_CHARS = 20
# At most this many pages of one document are OCR'd (each may take its own
# budget of seconds): a longer scan is refused, to be split, rather than
# holding a parsing slot for hours.
MAX_OCR_PAGES = 300


@dataclass(frozen=True)
class OcrOptions:
    """Whether to OCR, and whom to tell before each page is read: on_page(page,
    done, total) with the 1-based page about to be read, and once more with
    page 0 when all `total` are done (the parsing worker's per-page budget and
    progress hang on these calls)."""

    enabled: bool = True
    on_page: Callable[[int, int, int], None] | None = None


@dataclass(frozen=True)
class OcrPage:
    """A page's text in reading order (lines by "\\n", paragraphs by a blank
    line) and the mean confidence of its recognized boxes (0 when none)."""

    text: str
    confidence: float


@dataclass(frozen=True)
class _Box:
    text: str
    score: float
    top: float
    bottom: float
    left: float

    @property
    def height(self) -> float:
        return self.bottom - self.top


_engine: Any = None


def _reader() -> Any:
    """One RapidOCR per process: loading its models takes about a second."""
    global _engine
    if _engine is None:
        from rapidocr_onnxruntime import RapidOCR

        _engine = RapidOCR(intra_op_num_threads=min(os.cpu_count() or 1, MAX_THREADS))
    return _engine


def read_image(image: Any) -> OcrPage:
    """OCR one image (a PIL image of any mode) into text in reading order."""
    result, _ = _reader()(_bounded(_upright_on_white(image)))
    boxes = [_box(points, text, score) for points, text, score in result or () if str(text).strip()]
    if not boxes:
        return OcrPage("", 0.0)
    return OcrPage(reading_order(boxes), round(statistics.fmean(b.score for b in boxes), 4))


def _upright_on_white(image: Any) -> Any:
    """RGB, turned as the camera's orientation tag says (a phone photo is stored
    sideways), with transparent parts white rather than black."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    return image.convert("RGB")


def _bounded(image: Any) -> Any:
    longest = max(image.size)
    if longest <= MAX_SIDE_PX:
        return image
    scale = MAX_SIDE_PX / longest
    return image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))


def _box(points: Sequence[Sequence[float]], text: str, score: float) -> _Box:
    ys = [float(p[1]) for p in points]
    xs = [float(p[0]) for p in points]
    return _Box(str(text).strip(), float(score), min(ys), max(ys), min(xs))


def reading_order(boxes: Sequence[_Box]) -> str:
    """Boxes top to bottom, then left to right, as text.

    A box is on the current line when its vertical middle lies within the
    line's extent (boxes of one line are detected apart at wide gaps, a little
    higher or lower). Lines are joined by "\\n" and `clean_text` later joins
    the wrapped ones; a gap between lines of more than one line height starts
    a new paragraph (a blank line).
    """
    lines: list[list[_Box]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        middle = (box.top + box.bottom) / 2
        if lines and min(b.top for b in lines[-1]) <= middle <= max(b.bottom for b in lines[-1]):
            lines[-1].append(box)
        else:
            lines.append([box])
    out: list[str] = []
    previous_bottom = None
    for line in lines:
        top = min(b.top for b in line)
        height = statistics.median(b.height for b in line)
        if previous_bottom is not None and top - previous_bottom > height:
            out.append("")
        out.append(" ".join(b.text for b in sorted(line, key=lambda b: b.left)))
        previous_bottom = max(b.bottom for b in line)
    return "\n".join(out)


def render_pdf_page(pdf: Any, index: int) -> Any:
    """Page `index` (0-based) of a pypdfium2 document as a PIL image at RENDER_DPI
    (less for a page so large that its longer side would pass MAX_SIDE_PX)."""
    page = pdf[index]
    try:
        width, height = page.get_size()  # points, 1/72 inch
        scale = min(RENDER_DPI / 72, MAX_SIDE_PX / max(width, height, 1))
        return page.render(scale=scale).to_pil()
    finally:
        page.close()
