"""OCR throughput: pages per second for scanned PDFs, through the same path an
ingest takes (the parsing worker, rendering, RapidOCR, reading order, cleaning).

    python -m policyqa.eval.ocr_throughput --pages 10

Renders N pages of Chinese policy sentences with a CJK font into an image-only
PDF (no text layer, as a scanner makes), parses it once and prints pages per
second, the mean OCR confidence and the character accuracy against the
rendered text. Needs a CJK font (Debian: fonts-noto-cjk). The page renderer
and the accuracy measure are shared with tests/test_ocr.py.
"""

from __future__ import annotations

import argparse
import glob
import io
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SENTENCES = (
    "到2025年，数字经济增加值占GDP比重达35%。",
    "单位地区生产总值能耗比2020年下降13.5%，非化石能源消费比重提高到25%左右。",
    "全市规模以上工业企业研发投入强度达到2.1%，高新技术企业突破8000家。",
    "加快建设西部金融中心，推动成渝地区双城经济圈建设走深走实。",
    "新能源汽车产量年均增长42.4%，智能网联汽车产业集群初步形成。",
    "持续优化营商环境，全面推行证明事项告知承诺制，企业开办时间压缩至1个工作日以内。",
)
# A4 at 150 dpi, as an office scanner's default; text about 12 pt (25 px).
PAGE_PX = (1240, 1754)
FONT_PX = 25
MARGIN_PX = 120
_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/**/*CJK*.tt[cf]",
    "/usr/share/fonts/**/*[Ww]qy*.tt[cf]",
)


def find_cjk_font() -> Path | None:
    """A font with Chinese glyphs: Noto CJK where Debian puts it, else whatever fontconfig knows for zh."""
    for pattern in _FONT_GLOBS:
        found = sorted(glob.glob(pattern, recursive=True))
        if found:
            return Path(found[0])
    try:
        out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in out.splitlines() if line.strip())
    return Path(files[0]) if files else None


def page_lines(sentences: Sequence[str], width_chars: int) -> list[str]:
    """Sentences set as a page sets them: each its own paragraph, wrapped at `width_chars`."""
    lines: list[str] = []
    for sentence in sentences:
        lines.extend(sentence[i : i + width_chars] for i in range(0, len(sentence), width_chars))
    return lines


def render_page(sentences: Sequence[str], font: Path, font_px: int = FONT_PX) -> Any:
    """A white page (PIL, grayscale) with the sentences in black, a blank line between paragraphs."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", PAGE_PX, 255)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(str(font), font_px)
    width_chars = (PAGE_PX[0] - 2 * MARGIN_PX) // font_px
    y = MARGIN_PX
    for sentence in sentences:
        for line in page_lines([sentence], width_chars):
            draw.text((MARGIN_PX, y), line, font=face, fill=0)
            y += int(font_px * 1.6)
        y += font_px
    return image


def image_pdf(images: Sequence[Any], dpi: int = 150) -> bytes:
    """An image-only PDF, one image per page (Pillow writes no text layer)."""
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=list(images[1:]), resolution=dpi)
    return out.getvalue()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn a into b."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def char_accuracy(read: str, truth: str) -> float:
    """1 - edit distance / length of the truth, whitespace ignored on both sides."""
    read, truth = "".join(read.split()), "".join(truth.split())
    return 1 - edit_distance(read, truth) / max(len(truth), 1)


def pages_of_sentences(pages: int, per_page: int = 3) -> list[list[str]]:
    """`pages` pages of `per_page` sentences each, taken round the list."""
    return [[SENTENCES[(per_page * p + i) % len(SENTENCES)] for i in range(per_page)] for p in range(pages)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10, help="pages to render and OCR")
    parser.add_argument(
        "--sentences", type=int, default=12, help="sentences a page (12: 14 lines of 12 pt text, half an A4 page)"
    )
    args = parser.parse_args(argv)
    font = find_cjk_font()
    if font is None:
        print("error: no CJK font found: install one (apt-get install fonts-noto-cjk)", file=sys.stderr)
        return 1
    from policyqa.index.ingest import document_from_bytes

    texts = pages_of_sentences(args.pages, args.sentences)
    data = image_pdf([render_page(t, font) for t in texts])
    started = time.perf_counter()
    doc = document_from_bytes(data, "throughput.pdf")
    seconds = time.perf_counter() - started
    confidence = doc.metadata["ocr"]["confidence"]
    accuracy = char_accuracy(doc.text, "".join("".join(t) for t in texts))
    print(f"font: {font}")
    lines = sum(len(page_lines(t, (PAGE_PX[0] - 2 * MARGIN_PX) // FONT_PX)) for t in texts)
    print(
        f"{args.pages} pages ({lines} lines) in {seconds:.1f} s: {args.pages / seconds:.2f} pages/s; "
        f"mean confidence {sum(confidence.values()) / len(confidence):.3f}; character accuracy {accuracy:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
