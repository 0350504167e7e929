"""Numbers as people read them: to the symbol's precision, never in scientific notation.

The demo and the command line print frames through :func:`frame_text`: a price column
shows the decimals of the symbol's tick (``0.0000069`` for a CRO/BTC price, not
``0.000002`` nor ``6.9e-06``), an amount or volume as many decimals as its values
need (no ``1.2e+05``), and a spread in basis points with three significant digits
(:func:`bps_text`: ``0.00127 bps``, not ``0.00 bps``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["decimals_of", "number_text", "bps_text", "frame_text", "PRICE_COLUMNS"]

#: Columns holding prices (shown to the symbol's price precision where it is known).
PRICE_COLUMNS = ("price", "open", "high", "low", "close", "last", "bid", "ask", "spread")
_MAX_DECIMALS = 10


def decimals_of(values: Any, *, significant: int = 4) -> int:
    """Return the decimals that show every value of ``values`` without loss or noise.

    The fewest decimals (up to 10) at which every value is exact to 1e-12 of itself;
    where none is, enough for ``significant`` digits of the smallest non-zero value.

    Parameters
    ----------
    values : array-like of float
    significant : int
        Significant digits of the smallest value when the values are not on a grid.

    Returns
    -------
    int
    """
    arr = np.asarray(values, dtype="float64")
    arr = arr[np.isfinite(arr)]
    if not arr.size:
        return 0
    scale = np.maximum(np.abs(arr), 1.0) * 1e-12
    for d in range(_MAX_DECIMALS + 1):
        if bool(np.all(np.abs(arr - np.round(arr, d)) <= scale)):
            return d
    small = np.abs(arr[arr != 0]).min()
    return int(min(_MAX_DECIMALS, max(0, significant - 1 - math.floor(math.log10(small)))))


def number_text(value: Any, decimals: int | None = None) -> str:
    """Return ``value`` with thousands separated, to ``decimals`` (default: as it needs).

    Parameters
    ----------
    value : float or None
    decimals : int, optional

    Returns
    -------
    str
        ``""`` for a missing value.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    v = float(value)
    d = decimals_of([v]) if decimals is None else int(decimals)
    return f"{v:,.{d}f}"


def bps_text(spread: float, mid: float) -> str:
    """Return a spread relative to the mid in basis points, three significant digits.

    Parameters
    ----------
    spread, mid : float

    Returns
    -------
    str
        ``"0.00127 bps"``, ``"12.3 bps"``; ``""`` when the mid is not positive.
    """
    if not (mid > 0) or math.isnan(spread):
        return ""
    bps = spread / mid * 1e4
    if bps == 0:
        return "0 bps"
    d = max(0, 2 - math.floor(math.log10(abs(bps))))
    return f"{bps:,.{d}f} bps"


def frame_text(
    df: pd.DataFrame, *, precision: Mapping[str, float] | None = None, max_rows: int = 40
) -> str:
    """Return ``df`` as text with every float column written in full.

    Parameters
    ----------
    df : pandas.DataFrame
    precision : mapping of str to float, optional
        Price decimals per symbol (``mdkit.symbols()["price_precision"]``); price
        columns of a row whose ``symbol`` (column or index) is listed use them.
    max_rows : int
        Rows shown (head and tail beyond that).

    Returns
    -------
    str
    """
    if len(df) > max_rows:
        half = max_rows // 2
        df = pd.concat([df.head(half), df.tail(half)])
    out = df.copy()
    symbols = df["symbol"] if "symbol" in df.columns else None
    if symbols is None and df.index.name == "symbol":
        symbols = pd.Series(df.index, index=df.index)
    keys = [] if symbols is None else [str(s) for s in symbols]
    prices = [c for c in df.columns if c in PRICE_COLUMNS and pd.api.types.is_float_dtype(df[c])]
    places: dict[str, int] = {}
    for k in set(keys):
        # the symbol's tick where the venue lists it, else what all its prices need
        p = (precision or {}).get(k, math.nan)
        mine = np.asarray([x == k for x in keys])
        own: Any = df.loc[mine, prices].to_numpy(dtype="float64").ravel() if prices else []
        places[k] = decimals_of(own) if math.isnan(p) else int(p)
    for name in df.columns:
        column = df[name]
        if not pd.api.types.is_float_dtype(column.dtype):
            continue
        d = decimals_of(column)
        if name in prices and keys:
            text = [number_text(v, places[k]) for v, k in zip(column, keys, strict=True)]
        else:
            text = [number_text(v, d) for v in column]
        out[name] = pd.Series(text, index=df.index, dtype=object)
    with pd.option_context("display.width", 160, "display.max_columns", 24):
        return out.to_string()
