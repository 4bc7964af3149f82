"""Bytes to text, and what a parser makes of a file: shared by the text
formats (`ingest`) and the binary ones (`parsers`), which therefore need not
import each other."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import charset_normalizer

from .errors import IngestError

# More than this share of control characters (besides newlines and tabs) in
# decoded text means the bytes were not text at all.
MAX_CONTROL_SHARE = 0.01


@dataclass(frozen=True)
class Parsed:
    """What a parser makes of one file: plain text for `clean_text`, and what the format states outright."""

    text: str
    title: str = ""
    # Headings the format marks explicitly (markdown `#`), in order. When there
    # are any, they alone become sections; otherwise `clean_text` finds headings.
    headings: tuple[str, ...] = ()
    # Where each page starts in `text` (PDF, images): stored as metadata["pages"],
    # moved to the cleaned text (index/pages.py).
    page_starts: tuple[int, ...] = ()
    # What the parser found out about the file (metadata["ocr"]); JSON values only.
    # The caller's metadata wins on a clash.
    metadata: dict[str, Any] = field(default_factory=dict)


Parser = Callable[[bytes, str], Parsed]  # (raw bytes, file name for messages) -> Parsed


# ---- decoding ----

# UTF-32 first: its little-endian BOM starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_bytes(data: bytes, name: str) -> str:
    """Decode a text file's bytes: UTF-8 (with or without BOM) first, then GB18030
    (a superset of the GBK that Chinese government files often use), then
    whatever charset_normalizer detects. UTF-16/32 files are read by their BOM.

    Args:
        data: the raw bytes.
        name: the file name, for error messages.

    Raises:
        IngestError: the bytes are binary or no encoding fits, or the text is
            empty or only whitespace.
    """
    text = _decode(data, name)
    if not text.strip():
        raise IngestError(f"{name}: the file is empty or only whitespace: add text to it or leave it out")
    controls = sum(1 for ch in text if ch < " " and ch not in "\n\r\t\f\v") + text.count("\ufffd")
    if controls > MAX_CONTROL_SHARE * len(text):
        raise IngestError(f"{name}: this looks like binary data, not text: convert it to UTF-8 text first")
    return text


def _decode(data: bytes, name: str) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"{name}: starts with a {encoding} mark but is not valid {encoding}: "
                    f"{exc.reason} at byte {exc.start}: re-save it as UTF-8"
                ) from exc
    if b"\x00" in data:  # no 8-bit text encoding uses NUL; binary formats are full of it
        raise IngestError(f"{name}: this looks like binary data, not text: convert it to UTF-8 text first")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise IngestError(f"{name}: cannot tell its text encoding (not UTF-8 or GB18030): re-save it as UTF-8")
    return str(best)
