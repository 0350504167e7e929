"""Cumulative depth of one order book (``mdkit.plot.depth``).

Both read any book mdkit makes: a REST snapshot (:func:`mdkit.depth`, long
``side level price amount``), a capture's updates (``cap.depth``; the book is
rebuilt with :class:`mdkit.data.book.OrderBook`) or its top of book over time
(``cap.book(levels)``, Tardis ``bids[i].price`` columns).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from mdkit.data.book import OrderBook
from mdkit.data.frames import BOOK_SIDES, DEPTH_COLUMNS
from mdkit.errors import InvalidArgument
from mdkit.plot._common import (
    ASK,
    BID,
    MID,
    assets_of,
    compact_numbers,
    new_axes,
    plain_prices,
    require_frame,
    require_time_index,
    select,
    time_index,
    title_of,
    unit_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["depth", "book_levels", "wide_levels"]

_EXPECTED = "mdkit.depth('btcusdt'), cap.depth or cap.book(levels)"
_WIDE = re.compile(r"^(bids|asks)\[(\d+)\]\.(price|amount)$")
_SNAPSHOT = "is_snapshot"
_LOCAL = "local_timestamp"
# The spread is drawn at this share of the chart when it would take more (see depth()).
_GAP_SHARE = 0.1


def _capture_depth(source: Any) -> Any:
    """A Capture's ``depth`` frame; anything else unchanged (duck-typed: no import cycle)."""
    frame = getattr(source, "frame", None)
    if callable(frame) and hasattr(source, "book"):
        return frame("depth")
    return source


def wide_levels(df: pd.DataFrame) -> int:
    """Levels per side of a ``cap.book(levels)`` frame (0 for any other frame)."""
    found = [int(m.group(2)) for c in df.columns if (m := _WIDE.match(str(c)))]
    return max(found) + 1 if found else 0


def book_levels(
    source: Any,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    at: Any = None,
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """One book as a long table, from a snapshot, a capture's updates or its top of book.

    Returns
    -------
    (pandas.DataFrame, pandas.Timestamp or None)
        ``side`` (``bid``/``ask``), ``price``, ``amount`` (float64), bids high→low then
        asks low→high; and the time of the book when known.
    """
    source = _capture_depth(source)
    if not isinstance(source, pd.DataFrame):
        raise InvalidArgument(
            f"depth needs a book frame ({_EXPECTED}), not {type(source).__name__}"
        )
    when = pd.Timestamp(at) if at is not None else None
    if when is not None and when.tz is None:
        when = when.tz_localize("UTC")
    if wide_levels(source):
        df = select(source, "depth", venue, symbol)
        require_time_index(df, "depth", _EXPECTED)
        if when is not None:
            df = df[time_index(df) <= when]
        if df.empty:
            raise InvalidArgument(
                f"depth: no book row{' at or before ' + str(when) if when else ''}"
            )
        row = df.iloc[-1]
        parts = []
        for side, key in zip(BOOK_SIDES, ("bids", "asks"), strict=True):
            n = wide_levels(df)
            prices = np.array([row[f"{key}[{i}].price"] for i in range(n)], dtype=float)
            amounts = np.array([row[f"{key}[{i}].amount"] for i in range(n)], dtype=float)
            keep = np.isfinite(prices) & (amounts > 0)
            parts.append(
                pd.DataFrame({"side": side, "price": prices[keep], "amount": amounts[keep]})
            )
        out = pd.concat(parts, ignore_index=True)
        return _named(out, df, source), pd.Timestamp(time_index(df)[-1])
    if _SNAPSHOT in source.columns:
        require_frame(source, ("side", "price", "amount", _SNAPSHOT), "depth", _EXPECTED)
        df = select(source, "depth", venue, symbol)
        require_time_index(df, "depth", _EXPECTED)
        if when is not None:
            df = df[time_index(df) <= when]
        book, stamp = _rebuild(df)
        return _named(book, df, source), stamp
    require_frame(source, DEPTH_COLUMNS, "depth", _EXPECTED)
    df = select(source, "depth", venue, symbol).sort_values(["side", "level"])
    stamp = source.attrs.get("timestamp")
    out = pd.concat(
        [df[df["side"] == s][["side", "price", "amount"]] for s in BOOK_SIDES], ignore_index=True
    )
    return _named(out, df, source), pd.Timestamp(stamp) if stamp is not None else None


def _named(out: pd.DataFrame, rows: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    """``out`` with attrs naming the venue and symbol of ``rows`` (for the title)."""
    keep = ("venue", "symbol", "venues", "symbols")
    attrs: dict[Hashable, Any] = {k: v for k, v in source.attrs.items() if k in keep}
    for key in ("venue", "symbol"):
        if key in rows.columns and len(rows):
            attrs[key] = str(rows[key].iloc[-1])
            attrs.pop(key + "s", None)
    out.attrs = attrs
    return out


def _rebuild(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The last book of a run of updates: from its last snapshot message on."""
    snap = df[_SNAPSHOT].to_numpy(dtype=bool)
    if not snap.any():
        raise InvalidArgument("depth: the book updates hold no snapshot to start from")
    last = int(np.flatnonzero(snap)[-1])
    first = last
    local = df[_LOCAL].to_numpy() if _LOCAL in df else df.index.to_numpy()
    while first > 0 and snap[first - 1] and local[first - 1] == local[last]:
        first -= 1
    sides = df["side"].astype(str).to_numpy()
    prices = df["price"].to_numpy(float)
    amounts = df["amount"].to_numpy(float)
    book = OrderBook()
    run = slice(first, last + 1)
    pa = np.column_stack([prices[run], amounts[run]])
    bid = sides[run] == "bid"
    book.apply_snapshot(pa[bid], pa[~bid])
    for i in range(last + 1, len(df)):
        book.update(sides[i], float(prices[i]), float(amounts[i]))
    bp, ba, ap, aa = book.top(len(book))
    parts = [
        pd.DataFrame({"side": side, "price": p[np.isfinite(p)], "amount": a[np.isfinite(p)]})
        for side, p, a in (("bid", bp, ba), ("ask", ap, aa))
    ]
    return pd.concat(parts, ignore_index=True), pd.Timestamp(time_index(df)[-1])


def depth(
    source: Any,
    *,
    levels: int | Literal["all"] = 50,
    band_bps: float | None = None,
    venue: str | None = None,
    symbol: str | None = None,
    at: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the cumulative depth of one book, both sides around the mid.

    When the spread would fill more than a tenth of the chart (a wide spread over thin
    levels, as on BTC), the x axis is broken at the spread: each side keeps its scale,
    the spread is drawn narrow, hatched and labelled with its true width.

    Parameters
    ----------
    source : pandas.DataFrame or Capture
        :func:`mdkit.depth` (``side level price amount``), ``cap.depth`` (updates; the
        last book is rebuilt), ``cap.book(levels)`` (the last row), or a Capture.
    levels : int or "all"
        Best levels per side to show (default 50); ``"all"`` shows every level.
    band_bps : float, optional
        Show prices within ± this many basis points of the mid instead of ``levels``.
    venue, symbol : str, optional
        Which book, when the frame holds several (the error names them).
    at : time-like, optional
        With ``cap.depth``/``cap.book()``: the book as it was at this time (UTC).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgument
        If ``source`` is not one of the book frames above (or empty), a side is
        missing, or ``levels``/``band_bps`` is not valid.
    """
    if source is None:
        raise InvalidArgument(f"depth needs a book ({_EXPECTED}), not None")
    if not (
        levels == "all" or (isinstance(levels, int) and not isinstance(levels, bool) and levels > 0)
    ):
        raise InvalidArgument(f"levels must be a positive integer or 'all', not {levels!r}")
    if band_bps is not None and not (isinstance(band_bps, int | float) and band_bps > 0):
        raise InvalidArgument(
            f"band_bps must be a positive number of basis points, not {band_bps!r}"
        )
    book, when = book_levels(source, venue=venue, symbol=symbol, at=at)
    bids = book[book["side"] == "bid"].sort_values("price", ascending=False)
    asks = book[book["side"] == "ask"].sort_values("price")
    if bids.empty or asks.empty:
        raise InvalidArgument(
            f"depth needs both sides of the book; it has {len(bids)} bids and {len(asks)} asks"
        )
    best_bid, best_ask = float(bids["price"].iloc[0]), float(asks["price"].iloc[0])
    mid = (best_bid + best_ask) / 2
    if band_bps is not None:
        half = mid * band_bps / 1e4
        bids, asks = bids[bids["price"] >= mid - half], asks[asks["price"] <= mid + half]
        window = f"±{band_bps:g} bps"
    elif levels != "all":
        bids, asks = bids.head(levels), asks.head(levels)
        window = f"{levels} levels a side"
    else:
        window = "all levels"

    ax = new_axes(ax, (10, 4.8))
    tops = []
    for part, color, name in ((bids, BID, "bids"), (asks, ASK, "asks")):
        prices = part["price"].to_numpy(float)
        cum = part["amount"].to_numpy(float).cumsum()
        # Start each curve from zero at the touch, so the two sides read as walls.
        xs, ys = np.r_[prices[:1], prices], np.r_[0.0, cum]
        ax.step(xs, ys, where="post", color=color, linewidth=1.4, label=f"{name} ({len(part)})")
        ax.fill_between(xs, ys, step="post", color=color, alpha=0.18, linewidth=0)
        tops.append(float(cum[-1]) if len(cum) else 0.0)
    lo = float(bids["price"].min()) if len(bids) else best_bid
    hi = float(asks["price"].max()) if len(asks) else best_ask
    spread = best_ask - best_bid
    sides = (best_bid - lo) + (hi - best_ask)
    broken = sides > 0 and spread > _GAP_SHARE * (sides + spread)
    if broken:
        _break_spread(ax, best_bid, best_ask, lo, hi)
    pad = 0.02 * ((hi - lo) if not broken else sides * (1 + _GAP_SHARE))
    ax.set_xlim(lo - pad, hi + pad)
    top = max(tops) * 1.12
    ax.set_ylim(0, top)
    ax.axvline(mid, color=MID, linewidth=0.8, linestyle="--", zorder=1)
    bps = spread / mid * 1e4
    d = _decimals(best_bid, best_ask)
    ax.annotate(
        # Three significant digits: a one-cent BTC spread is 0.00127 bps, not "0.00".
        f"mid {mid:,.{d + 1}f}\nspread {spread:,.{d}f} ({bps:.3g} bps)",
        (mid, top * 0.97),
        ha="center",
        va="top",
        fontsize=8.5,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "#bbbbbb"},
        zorder=5,
    )
    base_asset, quote_asset = assets_of(book)
    broken_note = "  (axis broken at the spread)" if broken else ""
    ax.set_xlabel(unit_label("price", quote_asset) + broken_note)
    ax.set_ylabel(unit_label("cumulative amount", base_asset))
    compact_numbers(ax)
    if not broken:
        plain_prices(ax, "x")
    ax.grid(True, color="#e6e6e6", linewidth=0.6, zorder=0)
    ax.legend(loc="upper left", frameon=False)
    stamp = (
        f" at {when.tz_convert('UTC'):%Y-%m-%d %H:%M:%S} UTC"
        if when is not None and when.tz
        else ""
    )
    ax.set_title(title_of(book, f"depth, {window}{stamp}"), loc="left")
    return ax


def _decimals(*prices: float) -> int:
    """Decimals needed to write these prices exactly (at most 8)."""
    for d in range(9):
        if all(abs(round(p, d) - p) < 1e-9 * max(1.0, abs(p)) for p in prices):
            return d
    return 8


def _break_spread(ax: Axes, best_bid: float, best_ask: float, lo: float, hi: float) -> None:
    """Squeeze [best_bid, best_ask] to a tenth of the axis; ticks only on the two sides."""
    import matplotlib.ticker as mticker

    spread = best_ask - best_bid
    shown = _GAP_SHARE * ((best_bid - lo) + (hi - best_ask)) / (1 - _GAP_SHARE)
    ratio = shown / spread

    def forward(p: Any) -> Any:
        p = np.asarray(p, dtype=float)
        inside = best_bid + (p - best_bid) * ratio
        return np.where(p <= best_bid, p, np.where(p >= best_ask, p - spread + shown, inside))

    def inverse(q: Any) -> Any:
        q = np.asarray(q, dtype=float)
        inside = best_bid + (q - best_bid) / ratio
        return np.where(
            q <= best_bid, q, np.where(q >= best_bid + shown, q + spread - shown, inside)
        )

    ax.set_xscale("function", functions=(forward, inverse))
    ticks = [best_bid, best_ask]
    for a, b, touch in ((lo, best_bid, best_bid), (best_ask, hi, best_ask)):
        found = mticker.MaxNLocator(nbins=3, steps=[1, 2, 2.5, 5, 10]).tick_values(a, b)
        # Keep a round tick only away from the touch's own label, so labels never collide.
        room = 0.22 * (b - a)
        ticks += [t for t in found if a - 1e-12 <= t <= b + 1e-12 and abs(t - touch) > room]
    ax.xaxis.set_major_locator(mticker.FixedLocator(sorted(set(ticks))))
    d = _decimals(best_bid, best_ask)
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:.{d}f}"))
    ax.xaxis.set_minor_locator(mticker.NullLocator())
    ax.axvspan(best_bid, best_ask, facecolor="none", edgecolor="#cccccc", hatch="////", linewidth=0)
