"""The market list frame (``mdkit.symbols(venue)``): one contract for every venue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from mdkit.data.frames import (
    float_values,
    key_labels,
    new_frame,
    number_or_nan,
    strings,
    symbol_index,
)
from mdkit.data.symbols import split_symbol

__all__ = ["symbols_frame"]


def symbols_frame(rows: Sequence[Mapping[str, Any]], *, attrs: Mapping[str, Any]) -> pd.DataFrame:
    """Build the market list.

    Parameters
    ----------
    rows : sequence of mapping
        Each with ``symbol`` and, where the venue publishes them, ``base quote
        price_precision amount_precision`` (base and quote otherwise read from the
        venue's spelling, precisions NaN).

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (str); columns ``venue`` (str, from ``attrs``), ``pair``
        (``BASE/QUOTE``), ``base``, ``quote`` (lower-case str), ``price_precision``,
        ``amount_precision`` (decimals), ``tick_size``, ``lot_size`` (smallest price
        and amount steps), float64, NaN where the venue publishes none.
    """
    index = symbol_index([str(r["symbol"]) for r in rows])
    split = [split_symbol(str(r["symbol"])) for r in rows]
    columns = key_labels(attrs, len(rows), ("venue",))
    base = [str(r.get("base") or b).lower() for r, (b, _) in zip(rows, split, strict=True)]
    quote = [str(r.get("quote") or q).lower() for r, (_, q) in zip(rows, split, strict=True)]
    pp = float_values([number_or_nan(r.get("price_precision")) for r in rows])
    ap = float_values([number_or_nan(r.get("amount_precision")) for r in rows])
    columns |= {
        "pair": strings([f"{b}/{q}".upper() for b, q in zip(base, quote, strict=True)]),
        "base": strings(base),
        "quote": strings(quote),
        "price_precision": pp,
        "amount_precision": ap,
        "tick_size": 10.0**-pp,
        "lot_size": 10.0**-ap,
    }
    return new_frame(columns, index, attrs)
