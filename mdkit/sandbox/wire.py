"""JSON text the way the venues write it: raw number spellings, trailing zeros, ``0E-8``.

The standard encoder cannot write ``9744.2500000000000000`` or ``0E-8``; the real
servers do (NOTES.md), so the sandbox writes them with :class:`Raw`.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["Raw", "dumps", "fixed", "fixed_str", "plain"]


class Raw(str):
    """Text written into the JSON output as it is (a number spelling)."""


def fixed(value: float, decimals: int = 16) -> Raw:
    """A JSON number with exactly ``decimals`` decimals: ``9744.2500000000000000``."""
    if value == 0 and decimals == 8:
        return Raw("0E-8")  # BigDecimal zero as the live API printed it
    return Raw(f"{value:.{decimals}f}")


def fixed_str(value: float, decimals: int = 16) -> str:
    """A numeric string with exactly ``decimals`` decimals: ``"0.0000069000000000"``."""
    return f"{value:.{decimals}f}"


def plain(value: float, decimals: int) -> Raw:
    """A JSON number rounded to ``decimals`` without trailing zeros (``9744.25``)."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".") if decimals > 0 else f"{value:.0f}"
    return Raw(text if text not in ("", "-0") else "0")


def dumps(obj: Any) -> str:
    """Serialise dicts, lists, strings, numbers, None, bool and :class:`Raw` to compact JSON."""
    parts: list[str] = []
    _write(obj, parts)
    return "".join(parts)


def _write(obj: Any, out: list[str]) -> None:
    if isinstance(obj, Raw):
        out.append(str(obj))
    elif isinstance(obj, str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(obj))
    elif isinstance(obj, float):
        out.append(repr(obj) if math.isfinite(obj) else "null")
    elif isinstance(obj, dict):
        out.append("{")
        for i, (key, value) in enumerate(obj.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key)))
            out.append(":")
            _write(value, out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, value in enumerate(obj):
            if i:
                out.append(",")
            _write(value, out)
        out.append("]")
    else:
        _write(float(obj), out)  # numpy scalars
