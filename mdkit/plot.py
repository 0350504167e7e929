"""Quick plots of mdkit frames: ``mdkit.plot.candles(df)`` and ``mdkit.plot.depth(book)``.

matplotlib is imported when a plot is drawn, not on ``import mdkit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["candles", "depth"]

_UP, _DOWN = "#26a69a", "#ef5350"


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(
            f"{what} needs a DataFrame with columns {', '.join(columns)}, not {type(df).__name__}"
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidArgument(
            f"{what} needs columns {', '.join(columns)}; missing {', '.join(missing)} "
            f"(got {', '.join(map(str, df.columns))})"
        )


def _check_ax(ax: object) -> None:
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise InvalidArgument(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")


def _numeric(df: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InvalidArgument(f"{what} needs numeric columns; not numeric: {', '.join(bad)}")


def candles(df: pd.DataFrame, *, ax: Axes | None = None, volume: bool = True) -> Axes:
    """Draw a candlestick chart of a klines frame, with volume bars underneath.

    Parameters
    ----------
    df : pandas.DataFrame
        A frame from :func:`mdkit.klines`: index ``timestamp``, columns ``open high low
        close`` (and ``volume``). A still-forming bar (``closed`` False) is drawn hollow.
    ax : matplotlib.axes.Axes, optional
        Where to draw the prices; a new figure otherwise.
    volume : bool
        Add volume bars on a twin axis (when a ``volume`` column exists).

    Returns
    -------
    matplotlib.axes.Axes
        The price axes.

    Raises
    ------
    InvalidArgument
        If the frame lacks OHLC columns or a datetime index, or is empty.

    Examples
    --------
    >>> mdkit.plot.candles(mdkit.klines("btcusdt", "1h", start="2 days ago"))  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    _require(df, ("open", "high", "low", "close"), "candles")
    if not isinstance(df.index, pd.DatetimeIndex) or df.empty:
        raise InvalidArgument("candles needs a non-empty frame with a datetime index")
    _numeric(
        df, ("open", "high", "low", "close", *(["volume"] if "volume" in df else [])), "candles"
    )
    _check_ax(ax)
    if not isinstance(volume, bool):
        raise InvalidArgument(f"volume must be True or False, not {volume!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.5))
    times = df.index.tz_convert("UTC").tz_localize(None) if df.index.tz else df.index
    x = times.to_numpy()
    step = np.median(np.diff(x)) if len(x) > 1 else np.timedelta64(60, "s")
    width = step * 0.7
    up = (df.close >= df.open).to_numpy()
    color = [_UP if u else _DOWN for u in up]
    ax.vlines(x, df.low, df.high, colors=color, linewidth=0.8)
    opens, closes = df.open.to_numpy(), df.close.to_numpy()
    bottom = np.minimum(opens, closes)
    height = np.abs(closes - opens)
    forming = ~df["closed"].to_numpy(dtype=bool) if "closed" in df else np.zeros(len(df), bool)
    ax.bar(
        x,
        height,
        width,
        bottom=bottom,
        color=["none" if f else c for f, c in zip(forming, color, strict=True)],
        edgecolor=color,
        linewidth=0.8,
    )
    symbol = df.attrs.get("symbol", "")
    interval = df.attrs.get("interval", "")
    ax.set_title(f"{df.attrs.get('venue', '')} {symbol} {interval}".strip())
    ax.set_ylabel("price")
    if volume and "volume" in df:
        vol_ax = ax.twinx()
        vol_ax.bar(x, df.volume, width, color=color, alpha=0.25)
        vol_ax.set_ylim(0, float(df.volume.max() or 1.0) * 4)
        vol_ax.set_yticks([])
    ax.figure.autofmt_xdate()
    return ax


def depth(book: pd.DataFrame, *, ax: Axes | None = None, levels: int | None = None) -> Axes:
    """Draw the cumulative depth of a book snapshot from :func:`mdkit.depth`.

    Parameters
    ----------
    book : pandas.DataFrame
        Columns ``side level price amount``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.
    levels : int, optional
        Only the best ``levels`` per side.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgument
        If the frame lacks the book columns.
    """
    import matplotlib.pyplot as plt

    _require(book, ("side", "level", "price", "amount"), "depth")
    _numeric(book, ("level", "price", "amount"), "depth")
    _check_ax(ax)
    if levels is not None and (
        isinstance(levels, bool) or not isinstance(levels, int | np.integer) or levels < 1
    ):
        raise InvalidArgument(f"levels must be a positive integer or None, not {levels!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    for side, color in (("bid", _UP), ("ask", _DOWN)):
        part = book[book.side == side].sort_values("level")
        if levels is not None:
            part = part[part.level < levels]
        ax.step(part.price, part.amount.cumsum(), where="post", color=color, label=side)
        ax.fill_between(part.price, part.amount.cumsum(), step="post", color=color, alpha=0.2)
    ax.set_xlabel("price")
    ax.set_ylabel("cumulative amount")
    ax.set_title(f"{book.attrs.get('venue', '')} {book.attrs.get('symbol', '')} depth".strip())
    ax.legend()
    return ax
