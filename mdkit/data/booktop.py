"""The top of the book over time, rebuilt from depth rows (``Capture.book``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from mdkit.data.book import OrderBook
from mdkit.data.tables import book_frame

__all__ = ["book_top"]


def book_top(
    depth: pd.DataFrame, levels: int, attrs: Callable[..., dict[str, Any]]
) -> pd.DataFrame:
    """Replay depth rows into one book per (venue, symbol); the top after each message.

    Parameters
    ----------
    depth : pandas.DataFrame
        A capture's ``depth`` frame (with its ``venue`` column).
    levels : int
        Levels per side.
    attrs : callable
        ``attrs(**extra)`` → the frame's attrs.

    Returns
    -------
    pandas.DataFrame
        As :meth:`mdkit.capture.Capture.book` returns: index ``timestamp`` (UTC);
        ``venue``, ``symbol`` (str), ``local_timestamp``, then for each level i
        ``asks[i].price asks[i].amount bids[i].price bids[i].amount`` (float64).
    """
    local = pd.DatetimeIndex(depth["local_timestamp"]).asi8
    n = len(local)
    # "\x1f" (not NUL: numpy unicode arrays drop trailing NULs on pandas 2.2)
    key = pd.Categorical(depth["venue"].astype(str) + "\x1f" + depth["symbol"].astype(str))
    codes = np.asarray(key.codes)
    names = [str(c).split("\x1f") for c in key.categories]
    # One message = one run of rows with the same receive time and venue/symbol.
    starts = (
        np.flatnonzero(np.r_[True, (local[1:] != local[:-1]) | (codes[1:] != codes[:-1])])
        if n
        else np.empty(0, dtype="int64")
    )
    ends = np.r_[starts[1:], n].astype("int64")
    snap = depth["is_snapshot"].to_numpy()
    side_codes = np.asarray(pd.Categorical(depth["side"], categories=["bid", "ask"]).codes)
    prices = depth["price"].to_numpy()
    amounts = depth["amount"].to_numpy()
    times = pd.DatetimeIndex(depth.index).asi8
    books: dict[int, OrderBook] = {}
    tops = np.empty((len(starts), 4, levels))
    crossed = 0
    for row, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        book = books.setdefault(int(codes[lo]), OrderBook())
        if snap[lo]:
            bid = side_codes[lo:hi] == 0
            pa = np.column_stack([prices[lo:hi], amounts[lo:hi]])
            book.apply_snapshot(pa[bid], pa[~bid])
        else:
            for i in range(lo, hi):
                book.update(
                    "bid" if side_codes[i] == 0 else "ask", float(prices[i]), float(amounts[i])
                )
        crossed += book.is_crossed()
        tops[row] = np.stack(book.top(levels))
    df = book_frame(
        times[starts],
        local[starts],
        [names[c][1] for c in codes[starts]],
        tops,
        attrs=attrs(levels=levels, crossed=int(crossed)),
        venues=np.asarray([names[c][0] for c in codes[starts]], dtype=object),
    )
    return df
