"""`Filters` as a Milvus boolean expression over the chunk rows' own fields.

The embedded backend matches filters in Python (`Filters.matches`); this is
the same rule written for Milvus, so both backends return the same hits:
- `doc_id`: any of the ids;
- `source`: starts with any of the prefixes, written as a range of strings
  (`source >= "a_b/" and source < "a_b0"`): Milvus Lite 3.2 returns no hits
  from a sparse-vector search filtered by a `like` with an escaped `_`;
- a metadata key: equal to any of the values, where a number and its decimal
  string are equal ("2021" finds 2021 and the other way round), as they are
  for the embedded backend, which compares `str(value)` too. Two differences
  remain: Milvus compares numbers as numbers (a stored 2021.0 equals "2021"),
  and it takes true for 1 (Python does so for a filter of 1, not of "1").
Milvus refuses `in` on a JSON path, so a metadata key becomes an `or` of `==`.
- a metadata range (`Range`): each bound a comparison on the JSON path; Milvus
  compares a JSON value only with a literal of its own kind, as
  `Range.contains` does (a string date never matches a number bound).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from .backend import Filters, Range

_INTEGER = re.compile(r"-?\d+")
_OPERATOR = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def literal(value: Any) -> str:
    """A value as a Milvus expression literal (strings double-quoted and escaped)."""
    return json.dumps(value, ensure_ascii=False)


def _prefix_range(prefix: str) -> str:
    """`source` starts with `prefix`: at least the prefix, below the first string
    after every string that starts with it (UTF-8 order is code point order)."""
    upper = prefix.rstrip(chr(0x10FFFF))
    if not upper:
        return f"source >= {literal(prefix)}"
    following = ord(upper[-1]) + 1
    following = 0xE000 if 0xD800 <= following < 0xE000 else following  # no surrogates in UTF-8
    return f"(source >= {literal(prefix)} and source < {literal(upper[:-1] + chr(following))})"


def equal_forms(value: Any) -> list[Any]:
    """Every JSON value a metadata value equal to `value` may be stored as."""
    forms: list[Any] = [value]
    if isinstance(value, str):
        if _INTEGER.fullmatch(value) and str(int(value)) == value:  # "007" is no number's str()
            forms.append(int(value))
        else:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number) and str(number) == value:
                forms.append(number)
        if value in ("True", "False"):
            forms.append(value == "True")
    else:  # bool, int or float: its str() too
        forms.append(str(value))
    return forms


def filter_expression(filters: Filters | None) -> str:
    """The expression for `filters` ('' for none)."""
    if filters is None:
        return ""
    parts = []
    if filters.doc_ids:
        parts.append(f"doc_id in {literal(list(filters.doc_ids))}")
    if filters.sources:
        parts.append("(" + " or ".join(_prefix_range(s) for s in filters.sources) + ")")
    for key, wanted in filters.metadata.items():
        path = f"metadata[{literal(key)}]"
        if isinstance(wanted, Range):
            parts.append("(" + " and ".join(f"{path} {_OPERATOR[op]} {literal(b)}" for op, b in wanted.bounds) + ")")
            continue
        options = wanted if isinstance(wanted, list) else [wanted]
        alternatives = [f"{path} == {literal(form)}" for option in options for form in equal_forms(option)]
        parts.append("(" + " or ".join(alternatives) + ")")
    return " and ".join(parts)
