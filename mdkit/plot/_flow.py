"""Stream charts: the trade tape, receive latency per venue, several venues on one axis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from mdkit.data.frames import LOCAL_TIMESTAMP, TRADE_SIDES
from mdkit.errors import InvalidArgument
from mdkit.plot._common import (
    BUY,
    SELL,
    SYMBOL,
    VENUE,
    assets_of,
    figure_of,
    naive_utc,
    new_axes,
    plain_prices,
    pyplot,
    require_frame,
    require_time_index,
    select,
    time_axis,
    title_of,
    unit_label,
    venue_colors,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["tape", "latency", "venues"]

_TRADES = "a trades frame such as mdkit.trades('btcusdt') or cap.trades"
_STREAM = "a capture frame with local_timestamp, such as cap.trades, cap.ticker or cap.depth"
_PRICES = "cap.book(1), cap.ticker or cap.trades of a multi-venue capture"
_BOOK_TOP = ("bids[0].price", "asks[0].price")
# Per venue, beside its colour: a marker (time series) and a line style (ECDF).
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_DASHES: tuple[Any, ...] = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 3)))


def _is_capture(source: Any) -> bool:
    return callable(getattr(source, "frame", None)) and callable(getattr(source, "frames", None))


def tape(
    trades: Any,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw the trade tape: price over time, buys ▲ and sells ▼ sized by amount.

    Parameters
    ----------
    trades : pandas.DataFrame or Capture
        :func:`mdkit.trades` or ``cap.trades``: index ``timestamp``; ``side``
        (``buy``/``sell``, the taker), ``price``, ``amount`` (float64).
    venue, symbol : str, optional
        Which trades, when the frame holds several venues or symbols.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgument
        If ``trades`` is not a non-empty trades frame of one venue and symbol.
    """
    if _is_capture(trades):
        trades = trades.frame("trades")
    df = require_frame(trades, ("side", "price", "amount"), "tape", _TRADES)
    require_time_index(df, "tape", _TRADES)
    df = select(df, "tape", venue, symbol).sort_index(kind="stable")
    if df.empty:
        raise InvalidArgument(f"tape: no trades of venue {venue!r} symbol {symbol!r}")
    own_figure = ax is None
    ax = new_axes(ax, (11, 4.6))
    x = naive_utc(df.index)
    price = df["price"].to_numpy(float)
    amount = df["amount"].to_numpy(float)
    unit = f" {assets_of(df)[0]}" if assets_of(df)[0] else ""  # amounts in base units
    ax.step(x, price, where="post", color="#9a9a9a", linewidth=0.8, zorder=1)
    # Marker area ∝ amount, capped at the 98th percentile so one block does not hide the rest.
    cap = float(np.percentile(amount, 98)) or 1.0
    size = 8 + 160 * np.clip(amount / cap, 0, 1)
    sides = df["side"].astype(str).to_numpy()
    counts = {}
    for side, color, marker in zip(TRADE_SIDES, (BUY, SELL), ("^", "v"), strict=True):
        m = sides == side
        counts[side] = int(m.sum())
        ax.scatter(
            x[m],
            price[m],
            s=size[m],
            c=color,
            marker=marker,
            alpha=0.75,
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
            label=f"{side} ({counts[side]:,}, {amount[m].sum():.4g}{unit} total)",
        )
    for q in (0.5, 1.0):
        label = f"amount {cap * q:.3g}{unit}"
        ax.scatter([], [], s=8 + 160 * q, c="#bbbbbb", marker="o", label=label)
    if own_figure:  # below the chart: inside, it would cover trades
        figure_of(ax).legend(loc="outside lower left", fontsize=8, ncols=4, frameon=False)
    else:
        ax.legend(loc="upper left", fontsize=8, ncols=4, frameon=False)
    ax.margins(x=0.01, y=0.12)
    ax.set_ylabel(unit_label("price", assets_of(df)[1]))
    plain_prices(ax)
    time_axis(ax)
    ax.grid(True, color="#e6e6e6", linewidth=0.6, zorder=0)
    ax.set_title(title_of(df, f"{len(df):,} trades"), loc="left")
    return ax


def _messages(source: Any, first_message: bool) -> tuple[pd.DataFrame, int]:
    """Rows with a receive time, one per message; and how many first messages were left out.

    A book message arrives as many rows with one receive time: it counts once. The
    first message of each stream is left out unless asked for: venues replay recent
    trades (Bitget ``snapshot``) or the book on subscribe, so its "latency" is the age
    of old data, not the feed's delay.
    """
    if _is_capture(source):
        parts = []
        for kind in source.frames():
            part = source.frame(kind)
            if LOCAL_TIMESTAMP in part.columns and len(part):
                keys = [c for c in (VENUE, SYMBOL) if c in part.columns]
                parts.append(part[[*keys, LOCAL_TIMESTAMP]].assign(_stream=kind))
        if not parts:
            raise InvalidArgument("latency: the capture holds no rows with a local_timestamp")
        source = pd.concat(parts)
    df = require_frame(source, (LOCAL_TIMESTAMP,), "latency", _STREAM)
    require_time_index(df, "latency", _STREAM)
    keys = [c for c in (VENUE, SYMBOL, "_stream") if c in df.columns]
    out = df.reset_index()
    first = out.columns[0]
    out = out.drop_duplicates([*keys, first, LOCAL_TIMESTAMP])
    dropped = 0
    if not first_message:
        local = out[LOCAL_TIMESTAMP]
        opening = local == (
            local.groupby([out[k].astype(str) for k in keys]).transform("min")
            if keys
            else local.min()
        )
        # Count messages (one receive time per stream), not rows.
        dropped = int(out[opening].drop_duplicates([*keys, LOCAL_TIMESTAMP]).shape[0])
        out = out[~opening]
    out = out.set_index(first)
    out.attrs = dict(df.attrs)
    return out, dropped


def _ms(value: float) -> str:
    return f"{value / 1000:.3g} s" if abs(value) >= 1000 else f"{value:.3g} ms"


def latency(
    frame: Any,
    *,
    first_message: bool = False,
    axes: tuple[Axes, Axes] | None = None,
) -> Figure:
    """Draw receive latency (``local_timestamp − timestamp``) per venue: series and ECDF.

    The latency includes the venue's own delay and any clock offset between it and
    this machine (negative values mean the clocks disagree). Rows whose venue sends no
    server time (``timestamp`` is the receive time, latency exactly 0) are left out
    and counted in the title.

    Parameters
    ----------
    frame : pandas.DataFrame or Capture
        A stream frame (``cap.trades``, ``cap.ticker``, ``cap.depth``...) with index
        ``timestamp`` and ``local_timestamp`` (UTC), grouped by its ``venue`` column;
        or a Capture (all its market frames, one point per message).
    first_message : bool
        Include each stream's first message (left out by default: replayed trades and
        snapshots sent on subscribe are old data, not delay).
    axes : (Axes, Axes), optional
        Where to draw the time series and the ECDF (latency on a shared y axis); a new
        figure otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidArgument
        If the frame has no rows or no ``local_timestamp`` (REST frames have none).
    """
    if frame is None:
        raise InvalidArgument(f"latency needs {_STREAM}, not None")
    import matplotlib.ticker as mticker

    df, skipped = _messages(frame, first_message)
    plt = pyplot()
    if axes is None:
        fig = plt.figure(figsize=(11, 4.4), layout="constrained")
        grid = fig.add_gridspec(1, 2, width_ratios=(3.2, 1), wspace=0.02)
        series_ax = fig.add_subplot(grid[0])
        ecdf_ax = fig.add_subplot(grid[1], sharey=series_ax)
    else:
        series_ax, ecdf_ax = axes
    ms = (pd.DatetimeIndex(df[LOCAL_TIMESTAMP]).asi8 - pd.DatetimeIndex(df.index).asi8) / 1e6
    no_server_time = ms == 0
    untimed = int(no_server_time.sum())
    df, ms = df[~no_server_time], ms[~no_server_time]
    if df.empty:
        raise InvalidArgument(
            "latency: no row carries a server time apart from its receive time "
            f"({untimed} rows with timestamp == local_timestamp)"
        )
    groups = (
        [str(v) for v in pd.unique(df[VENUE].astype(str))]
        if VENUE in df
        else [str(df.attrs.get("venue", "stream"))]
    )
    venue_of = df[VENUE].astype(str).to_numpy() if VENUE in df else np.full(len(df), groups[0])
    colors = venue_colors(groups)
    positive = bool((ms > 0).all())
    from matplotlib.lines import Line2D

    x = naive_utc(df.index)
    handles: list[Any] = []
    for i, key in enumerate(groups):
        m = venue_of == key
        values = ms[m]
        med, p99 = float(np.median(values)), float(np.percentile(values, 99))
        label = f"{key}: median {_ms(med)}, p99 {_ms(p99)} (n={m.sum():,})"
        # One colour and one marker/line style per venue: told apart in grey print too.
        series_ax.scatter(
            x[m],
            values,
            s=12,
            marker=_MARKERS[i % len(_MARKERS)],
            color=colors[key],
            alpha=0.7,
            linewidths=0,
        )
        # ECDF: the share of messages at or below each latency (lines never blend).
        ordered = np.sort(values)
        share = np.arange(1, len(ordered) + 1) / len(ordered)
        ecdf_ax.step(
            share,
            ordered,
            where="post",
            color=colors[key],
            linestyle=_DASHES[i % len(_DASHES)],
            linewidth=1.6,
        )
        handles.append(
            Line2D(
                [],
                [],
                color=colors[key],
                marker=_MARKERS[i % len(_MARKERS)],
                linestyle=_DASHES[i % len(_DASHES)],
                label=label,
            )
        )
    if positive:
        series_ax.set_yscale("log")
    else:
        series_ax.set_yscale("symlog", linthresh=1.0)
    series_ax.set_ylabel("latency (ms)")
    series_ax.grid(True, which="major", color="#e6e6e6", linewidth=0.6)
    time_axis(series_ax)
    # Plain numbers (0.5, 1, 2, 5, 10 ms) on the log axis, not powers of ten.
    if positive:
        series_ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    series_ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    ecdf_ax.set_xlabel("share of messages ≤ latency")
    ecdf_ax.set_xlim(0, 1)
    ecdf_ax.tick_params(labelleft=False)
    ecdf_ax.grid(True, color="#e6e6e6", linewidth=0.6)
    ecdf_ax.xaxis.set_major_locator(mticker.FixedLocator([0, 0.25, 0.5, 0.75, 1]))
    ecdf_ax.xaxis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=0))
    notes = [f"first message of each stream left out ({skipped})" if skipped else ""]
    notes.append(f"{untimed:,} rows without a server time left out" if untimed else "")
    series_ax.set_title(
        title_of(
            df, "receive latency, local_timestamp − timestamp", interval="", with_symbols=False
        ),
        loc="left",
    )
    note = "; ".join(n for n in notes if n) or None
    # Below the chart (a figure legend, so the panels keep their width): inside, it
    # would hide points wherever it went. Into given axes, it goes inside.
    style: dict[str, Any] = {"fontsize": 8, "title": note, "alignment": "left"}
    if axes is None:
        legend = figure_of(series_ax).legend(
            handles=handles,
            loc="outside lower left",
            ncols=min(3, len(groups)),
            frameon=False,
            **style,
        )
    else:
        legend = series_ax.legend(handles=handles, loc="upper right", framealpha=0.85, **style)
    legend.get_title().set_fontsize(7.5)
    legend.get_title().set_color("#666666")
    return figure_of(series_ax)


def _price_series(df: pd.DataFrame, what: str) -> tuple[pd.Series, str]:
    """The price each row says: mid from a book top or ticker, else last/trade price."""
    if what in ("auto", "mid"):
        if all(c in df.columns for c in _BOOK_TOP):
            # rows with one side empty have no mid: left out, not drawn as gaps
            return ((df["bids[0].price"] + df["asks[0].price"]) / 2).dropna(), "mid"
        if {"bid", "ask"} <= set(df.columns) and df[["bid", "ask"]].notna().all(axis=1).any():
            return ((df["bid"] + df["ask"]) / 2).dropna(), "mid"
        if what == "mid":
            raise InvalidArgument(
                f"venues(what='mid') needs bids[0]/asks[0] or bid/ask columns ({_PRICES})"
            )
    if "price" in df.columns:
        return df["price"], "trade price"
    if "last" in df.columns:
        return df["last"].dropna(), "last price"
    raise InvalidArgument(
        f"venues needs a book top, ticker or trades frame ({_PRICES}); "
        f"got columns {', '.join(map(str, df.columns))}"
    )


def venues(
    frame: Any,
    *,
    what: Literal["auto", "mid", "last"] = "auto",
    ax: Axes | None = None,
) -> Axes:
    """Draw the price of every venue (and symbol) of a frame on one axis.

    Parameters
    ----------
    frame : pandas.DataFrame or Capture
        ``cap.book(1)`` (mid), ``cap.ticker`` (mid where bid/ask are sent, else
        last), ``cap.trades`` (trade prices), with a ``venue`` column; or a Capture
        (its book, else trades, else ticker).
    what : {"auto", "mid", "last"}
        Mid where the frame allows it (``auto``), only mid, or last/trade prices.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgument
        If the frame is empty, has no ``venue`` column or no price columns, or
        ``what`` is not one of the choices.
    """
    if what not in ("auto", "mid", "last"):
        raise InvalidArgument(f"what must be 'auto', 'mid' or 'last', not {what!r}")
    if _is_capture(frame):
        kinds = frame.frames()
        if "depth" in kinds and what != "last":
            frame = frame.book(1)
        elif "trades" in kinds:
            frame = frame.frame("trades")
        elif "ticker" in kinds:
            frame = frame.frame("ticker")
        else:
            held = ", ".join(kinds) or "nothing"
            raise InvalidArgument(
                f"venues needs a capture with book, trades or ticker; it has {held}"
            )
    df = require_frame(frame, (VENUE,), "venues", _PRICES)
    require_time_index(df, "venues", _PRICES)
    keys = [c for c in (VENUE, SYMBOL) if c in df.columns]
    ax = new_axes(ax, (11, 4.6))
    groups = list(df.groupby(keys, observed=True, sort=False))
    names = [" ".join(map(str, k)) if isinstance(k, tuple) else str(k) for k, _ in groups]
    colors = venue_colors(names)
    label_kind = ""
    for (_key, part), name in zip(groups, names, strict=True):
        series, label_kind = _price_series(part.sort_index(kind="stable"), what)
        if what == "last" and label_kind == "mid":
            continue
        if series.empty:
            continue
        ax.step(
            naive_utc(series.index),
            series.to_numpy(float),
            where="post",
            color=colors[name],
            linewidth=1.3,
            label=f"{name} ({label_kind})",
        )
    ax.set_ylabel(unit_label("price", assets_of(df)[1]))
    plain_prices(ax)
    time_axis(ax)
    ax.grid(True, color="#e6e6e6", linewidth=0.6)
    ax.legend(loc="best", fontsize=8.5, frameon=True, framealpha=0.85)
    ax.set_title(
        title_of(df, f"{label_kind or 'price'} by venue", interval="", with_symbols=False),
        loc="left",
    )
    return ax
