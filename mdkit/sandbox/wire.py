"""JSON text the way the venues write it: raw number spellings, trailing zeros, ``0E-8``.

The standard encoder cannot write ``9744.2500000000000000`` or ``0E-8``; the real
servers do (NOTES.md), so the sandbox writes them with :class:`Raw`.

Every number is written as an exact decimal: integer ticks/lots through
:func:`decimal_text`, floats through their shortest round-trip spelling (``repr``)
rounded in decimal, never through the binary expansion (``74326.74`` printed to 16
places must read ``74326.7400000000000000``, not ``74326.7400000000052387``).
"""

from __future__ import annotations

import decimal
import json
import math
from typing import Any

__all__ = ["Raw", "decimal_text", "dumps", "exact", "fixed", "fixed_str", "plain", "trimmed"]

_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN)


def decimal_text(units: int, precision: int, decimals: int | None = None) -> str:
    """Exact decimal text of ``units · 10**-precision`` with ``decimals`` places.

    ``decimal_text(974425, 2, 16) == "9744.2500000000000000"``; ``decimals`` below
    ``precision`` is not allowed (it would round a grid value).
    """
    places = precision if decimals is None else decimals
    if places < precision:
        raise ValueError(f"decimals {places} < precision {precision}")
    sign = "-" if units < 0 else ""
    digits = str(abs(units)).rjust(precision + 1, "0")
    if precision == 0:
        whole, frac = digits, ""
    else:
        whole, frac = digits[:-precision], digits[-precision:]
    frac += "0" * (places - precision)
    return f"{sign}{whole}.{frac}" if places else f"{sign}{whole}"


def trimmed(units: int, precision: int) -> str:
    """Exact decimal of ``units · 10**-precision``, no trailing zeros (``86522.1``)."""
    text = decimal_text(units, precision)
    if precision:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def exact(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places from its shortest decimal spelling."""
    number = decimal.Decimal(repr(float(value)))
    quantum = decimal.Decimal(1).scaleb(-decimals)
    text = format(number.quantize(quantum, context=_CONTEXT), "f")
    return "0" + text[2:] if text.startswith("-0") and not text.strip("-0.") else text


class Raw(str):
    """Text written into the JSON output as it is (a number spelling)."""


def fixed(value: float, decimals: int = 16) -> Raw:
    """A JSON number with exactly ``decimals`` decimals: ``9744.2500000000000000``."""
    if value == 0 and decimals == 8:
        return Raw("0E-8")  # BigDecimal zero as the live API printed it
    return Raw(exact(value, decimals))


def fixed_str(value: float, decimals: int = 16) -> str:
    """A numeric string with exactly ``decimals`` decimals: ``"0.0000069000000000"``."""
    return exact(value, decimals)


def plain(value: float, decimals: int) -> Raw:
    """A JSON number rounded to ``decimals`` without trailing zeros (``9744.25``)."""
    text = exact(value, decimals)
    text = text.rstrip("0").rstrip(".") if decimals > 0 else text
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
