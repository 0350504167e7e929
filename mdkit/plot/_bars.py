"""Candlesticks with a volume panel: ``mdkit.plot.candles(mdkit.klines(...))``.

Readable from 20 bars to 50,000: past ``max_bars`` the bars are merged into the
smallest round interval (5min, 1h, 4h, 1day...) that fits, and the title says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mdkit.data.frames import KLINE_COLUMNS, strings
from mdkit.errors import InvalidArgument
from mdkit.plot._common import (
    BUY,
    SELL,
    assets_of,
    check_axes,
    compact_numbers,
    naive_utc,
    plain_prices,
    pyplot,
    require_frame,
    require_time_index,
    time_axis,
    title_of,
    unit_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["candles", "aggregate_bars"]

_OHLC = KLINE_COLUMNS[:4]
_VOLUME = KLINE_COLUMNS[4]
_CLOSED = "closed"
# Key columns kept through aggregation (one value each: one market's bars).
_KEYS = ("venue", "symbol", "pair")
_EXPECTED = "a klines frame such as mdkit.klines('btcusdt', '1min') or cap.klines"

# Round bar lengths to merge into, in seconds: each divides the next's natural day/week.
_ROUND = (1, 5, 15, 30, 60, 180, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 604800)
# Weeks start on Monday; 1970-01-05 was one, and every round length divides a week.
_ORIGIN = pd.Timestamp("1970-01-05")


def _name(seconds: int) -> str:
    """``1min``, ``4h``, ``1day``: the interval names mdkit uses elsewhere."""
    for size, unit in ((604800, "week"), (86400, "day"), (3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def aggregate_bars(df: pd.DataFrame, seconds: int) -> pd.DataFrame:
    """Merge bars into ``seconds``-long bars (first open, highest high, lowest low, last close).

    Volumes add up. A merged bar is closed only if every bar in it is closed and the data covers its
    whole length (the last one usually does not: it is still forming).

    Raises
    ------
    InvalidArgument
        If ``df`` is not a non-empty klines frame with a time index, holds several
        markets or intervals, or ``seconds`` is not a whole number of seconds from 1 to
        a year.

    Returns
    -------
    pandas.DataFrame
        The input's key columns ``venue symbol pair`` (str) and ``interval`` (the new
        one's name), ``open high low close`` (+ ``volume``), ``closed`` (bool); index
        ``timestamp`` at each merged bar's open.
    """
    require_frame(df, _OHLC, "aggregate_bars", _EXPECTED)
    require_time_index(df, "aggregate_bars", _EXPECTED)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | np.integer)
        or not 0 < seconds <= 366 * 86400
    ):
        raise InvalidArgument(
            f"seconds must be a whole number of seconds from 1 to a year, not {seconds!r}"
        )
    for key in (*_KEYS, "interval"):
        if key in df.columns and df[key].nunique() > 1:
            values = ", ".join(map(str, pd.unique(df[key])))
            raise InvalidArgument(f"aggregate_bars merges one market's bars; {key}s: {values}")
    rule = pd.Timedelta(seconds=int(seconds))
    index = pd.DatetimeIndex(df.index)
    origin = _ORIGIN.tz_localize(index.tz) if index.tz is not None else _ORIGIN
    spec = {"open": "first", "high": "max", "low": "min", "close": "last"}
    if _VOLUME in df:
        spec[_VOLUME] = "sum"
    grouped = df.resample(rule, origin=origin, label="left", closed="left")
    out = grouped.agg(spec).dropna(subset=list(_OHLC))
    closed = (
        df[_CLOSED].astype(bool).resample(rule, origin=origin).min()
        if _CLOSED in df
        else pd.Series(True, index=out.index)
    )
    out[_CLOSED] = closed.reindex(out.index).fillna(True).astype(bool)
    step = pd.Timedelta(np.median(np.diff(index.asi8)) if len(index) > 1 else 0)
    if len(out) and index[-1] + step < out.index[-1] + rule:
        out.loc[out.index[-1], _CLOSED] = False  # the data stops inside the last bar
    out.attrs = dict(df.attrs)
    out.attrs["interval"] = _name(seconds)
    keys = {k: strings([str(df[k].iloc[0])] * len(out)) for k in _KEYS if k in df.columns}
    if "interval" in df.columns:
        keys["interval"] = strings([out.attrs["interval"]] * len(out))
    merged = pd.concat([pd.DataFrame(keys, index=out.index), out], axis=1)
    merged.attrs = out.attrs
    return merged


def _bar_seconds(index: pd.DatetimeIndex) -> int:
    if len(index) < 2:
        return 60
    return max(1, int(np.median(np.diff(index.asi8)) // 1_000_000_000))


def candles(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    volume: bool = True,
    max_bars: int = 300,
) -> Axes:
    """Draw candlesticks of a klines frame, with a volume panel underneath.

    Parameters
    ----------
    df : pandas.DataFrame
        From :func:`mdkit.klines` (or ``cap.klines`` of one symbol): index
        ``timestamp`` (bar open, UTC); ``open high low close`` float64, ``volume``
        float64 (optional), ``closed`` bool (optional; the forming bar is drawn hollow
        and labelled).
    ax : matplotlib.axes.Axes, optional
        Where to draw the prices; the volume panel is carved from its bottom quarter.
        A new figure otherwise.
    volume : bool
        Draw the volume panel (when the frame has ``volume``).
    max_bars : int
        More bars than this are merged into the smallest round interval that fits
        (the title says ``aggregated from ...``).

    Returns
    -------
    matplotlib.axes.Axes
        The price axes; the volume axes shares its x axis (``ax.figure.axes``).

    Raises
    ------
    InvalidArgument
        If ``df`` is not a non-empty klines frame with a datetime index, or
        ``max_bars`` is below 10.

    Examples
    --------
    >>> mdkit.plot.candles(mdkit.klines("btcusdt", "1h", start="2 days ago"))  # doctest: +SKIP
    """
    require_frame(df, _OHLC, "candles", _EXPECTED)
    require_time_index(df, "candles", _EXPECTED)
    if isinstance(max_bars, bool) or not isinstance(max_bars, int) or max_bars < 10:
        raise InvalidArgument(f"max_bars must be an integer >= 10, not {max_bars!r}")
    df = df.sort_index()
    base = _bar_seconds(pd.DatetimeIndex(df.index))
    note = ""
    if len(df) > max_bars:
        span = base * len(df)
        target = next(
            (s for s in _ROUND if s % base == 0 and s >= base and span / s <= max_bars),
            base * int(np.ceil(len(df) / max_bars)),
        )
        source_name = df.attrs.get("interval") or _name(base)
        note = f"{_name(target)} bars aggregated from {len(df):,} × {source_name}"
        df = aggregate_bars(df, target)
        base = target
    if note:
        title = title_of(df, note, interval="")
    else:
        title = title_of(df, interval=str(df.attrs.get("interval") or _name(base)))

    check_axes(ax)
    plt = pyplot()
    from matplotlib.colors import to_rgba

    if ax is None:
        fig = plt.figure(figsize=(11, 5.5), layout="constrained")
        grid = fig.add_gridspec(2, 1, height_ratios=(3.2, 1), hspace=0.02)
        ax = fig.add_subplot(grid[0])
        vol_ax = fig.add_subplot(grid[1], sharex=ax) if volume and _VOLUME in df else None
    elif volume and _VOLUME in df:
        from mpl_toolkits.axes_grid1 import make_axes_locatable  # type: ignore[import-untyped]

        vol_ax = make_axes_locatable(ax).append_axes("bottom", size="28%", pad=0.1, sharex=ax)
    else:
        vol_ax = None

    x = naive_utc(df.index)
    step = np.timedelta64(base, "s")
    width = step * 0.7
    opens, closes = df["open"].to_numpy(float), df["close"].to_numpy(float)
    up = closes >= opens
    color = [BUY if u else SELL for u in up]
    forming = ~df[_CLOSED].to_numpy(dtype=bool) if _CLOSED in df else np.zeros(len(df), dtype=bool)
    ax.vlines(x, df["low"], df["high"], colors=color, linewidth=0.8, zorder=2)
    # A body at least a hair tall, so that doji bars stay visible.
    height = np.maximum(np.abs(closes - opens), (df["high"].max() - df["low"].min()) * 1e-4)
    ax.bar(
        x,
        height,
        width,
        bottom=np.minimum(opens, closes),
        color=["none" if f else c for f, c in zip(forming, color, strict=True)],
        edgecolor=color,
        linewidth=0.8,
        zorder=3,
    )
    ax.margins(y=0.06)
    if forming.any():
        # In headroom above every candle (no candle under the text), an arrow down to it.
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (high - low) * 0.12)
        last = int(np.flatnonzero(forming)[-1])
        ax.annotate(
            "forming",
            (x[last], float(df["high"].iloc[last])),
            xytext=(x[last], 0.985),
            textcoords=ax.get_xaxis_transform(),
            ha="right",
            va="top",
            fontsize=8,
            color="#555555",
            arrowprops={"arrowstyle": "-", "color": "#999999", "linewidth": 0.6},
        )
    ax.set_title(title, loc="left")
    base_asset, quote_asset = assets_of(df)
    ax.set_ylabel(unit_label("price", quote_asset))
    plain_prices(ax)
    ax.grid(True, color="#e6e6e6", linewidth=0.6, zorder=0)
    ax.set_xlim(x[0] - step, x[-1] + step)
    if vol_ax is not None:
        vol_ax.bar(
            x,
            df[_VOLUME].to_numpy(float),
            width,
            color=[
                (0, 0, 0, 0) if f else to_rgba(c, 0.6) for f, c in zip(forming, color, strict=True)
            ],
            edgecolor=color,
            linewidth=[0.8 if f else 0.0 for f in forming],
            zorder=2,
        )
        vol_ax.set_ylabel(unit_label("volume", base_asset))
        compact_numbers(vol_ax)
        vol_ax.grid(True, axis="y", color="#e6e6e6", linewidth=0.6, zorder=0)
        vol_ax.set_ylim(bottom=0)
        vol_ax.margins(y=0.05)
        ax.tick_params(labelbottom=False)
        time_axis(vol_ax)
        time_axis(ax, label=False)
    else:
        time_axis(ax)
    return ax
