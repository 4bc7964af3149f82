"""Figures however they are written. A question may write 百分之三点三, 三成
or 一百一十四万 where a report writes 3.3%, 30% or 114万, and the other way
round; the tokens of one writing never meet the other's.

`alternatives(text)` gives the other writings of each figure in a query; the
engine adds their tokens to the lexical query (weighted terms, as the
cross-lingual bridge does), so either writing finds the other. Numerals are
read and written by `cn2an`; only runs that are clearly figures are taken (a
magnitude or decimal point, a percent phrase, a count of 成, or a unit of 万 or
亿), so words such as 一体化, 统一 or 十四五 are left alone.
"""

from __future__ import annotations

import re

import cn2an

_DIGITS = "零〇一二两三四五六七八九"
_RUN = rf"[{_DIGITS}十百千点]+"
# 百分之三点三, 百分之十五
_PERCENT_CN = re.compile(rf"百分之({_RUN})")
# 三成 (30%), not the 成 of 成立, 成员, 成本 ...
_TENTHS_CN = re.compile(rf"(?<![{_DIGITS}十百千])([一二两三四五六七八九])成(?![员立为功本果绩就交熟长都型品效])")
# 一百一十四万, 三点五亿, 二十万: a run with a magnitude or a point, before 万 or 亿 (or alone)
_AMOUNT_CN = re.compile(rf"({_RUN})(万|亿)?")
_PERCENT_AN = re.compile(r"(\d+(?:\.\d+)?)%")
_AMOUNT_AN = re.compile(r"(\d+(?:\.\d+)?)(万|亿)")


def _arabic(run: str) -> str | None:
    """A Chinese numeral run as an Arabic number, or None when it is not one."""
    try:
        value = cn2an.cn2an(run, "normal")
    except (ValueError, KeyError, TypeError):
        return None
    return f"{value:g}" if isinstance(value, float) else str(value)


def _chinese(number: str) -> str | None:
    try:
        return str(cn2an.an2cn(number, "low"))
    except (ValueError, KeyError, TypeError):
        return None


def alternatives(text: str) -> list[str]:
    """The other writings of the figures in `text`, in order, each once."""
    found: list[str] = []
    for m in _PERCENT_CN.finditer(text):
        if (value := _arabic(m.group(1))) is not None:
            found.append(f"{value}%")
    for m in _TENTHS_CN.finditer(text):
        if (value := _arabic(m.group(1))) is not None:
            found.append(f"{int(value) * 10}%")
    for m in _AMOUNT_CN.finditer(text):
        run, unit = m.group(1), m.group(2) or ""
        if m.start() >= 3 and text[m.start() - 3 : m.start()] == "百分之":
            continue  # read above as a percentage
        if not (re.search("[十百千点]", run) or (unit and len(run) >= 1)):
            continue  # 一 alone, 统一, 一体化: not a figure
        if (value := _arabic(run)) is not None:
            found.append(f"{value}{unit}")
    for m in _PERCENT_AN.finditer(text):
        number = m.group(1)
        if (chinese := _chinese(number)) is not None:
            found.append(f"百分之{chinese}")
        if number.isdigit() and 10 <= int(number) <= 90 and int(number) % 10 == 0:
            found.append(f"{_chinese(str(int(number) // 10))}成")
    for m in _AMOUNT_AN.finditer(text):
        if (chinese := _chinese(m.group(1))) is not None:
            found.append(f"{chinese}{m.group(2)}")
    return list(dict.fromkeys(found))
