"""Book liquidity over time (``mdkit.plot.heatmap``): price × time, amount as colour.

The map samples the top of book (``cap.book(levels)``) at ``time_bins`` instants:
each column holds the book as it stood then, so it is faithful when updates are
rarer than columns and a sample when they are not. Colour is on a log scale because
resting amounts span orders of magnitude between the touch and the walls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument
from mdkit.plot._book import wide_levels
from mdkit.plot._common import (
    BUY,
    SELL,
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
    time_index,
    title_of,
    unit_label,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["heatmap"]


def heatmap(
    source: Any,
    *,
    trades: pd.DataFrame | bool | None = None,
    venue: str | None = None,
    symbol: str | None = None,
    levels: int = 200,
    time_bins: int = 400,
    price_bins: int = 200,
    ax: Axes | None = None,
) -> Axes:
    """Draw book liquidity over time: price × time, amount as colour (log scale).

    The best bid (solid) and ask (dashed) are drawn as lines and the trades inside the
    map's time and price range as markers (buy ▲, sell ▼, area by amount) over the map;
    the title counts the trades left out.

    Parameters
    ----------
    source : Capture or pandas.DataFrame
        A capture with a ``book`` channel, or ``cap.book(levels)``.
    trades : pandas.DataFrame or bool, optional
        Trades to overlay (``cap.trades``); by default a capture's own; False for none.
    venue, symbol : str, optional
        Which book, when the capture holds several (the error names them).
    levels : int
        Levels per side drawn (from a Capture; a ``cap.book(n)`` frame has its own).
    time_bins, price_bins : int
        Resolution of the map. Prices use one row per tick when the tick grid fits.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidArgument
        If ``source`` is not a capture with book data or a ``cap.book()`` frame, or it
        holds several books and ``venue``/``symbol`` do not pick one.
    """
    import matplotlib.colors as mcolors
    import matplotlib.ticker as mticker
    from matplotlib import patheffects
    from matplotlib.transforms import offset_copy

    if source is None:
        raise InvalidArgument(
            "heatmap needs a Capture with a book channel or cap.book(levels), not None"
        )
    if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= 1000:
        raise InvalidArgument(f"levels must be an integer from 1 to 1000, not {levels!r}")
    if callable(getattr(source, "book", None)) and hasattr(source, "frames"):
        if "depth" not in source.frames():
            raise InvalidArgument("heatmap needs a capture with a book channel; this one has none")
        if trades is None and "trades" in source.frames():
            trades = source.frame("trades")
        source = source.book(levels)
    if not isinstance(source, pd.DataFrame) or not wide_levels(source):
        raise InvalidArgument(
            "heatmap needs a Capture with a book channel or cap.book(levels) "
            f"(columns bids[0].price ...), not {type(source).__name__}"
        )
    book = select(
        require_frame(source, ("bids[0].price", "asks[0].price"), "heatmap", "cap.book(levels)"),
        "heatmap",
        venue,
        symbol,
    )
    require_time_index(book, "heatmap", "cap.book(levels)")
    n = wide_levels(book)
    times = time_index(book).asi8
    prices = np.column_stack(
        [book[f"{k}[{i}].price"].to_numpy(float) for k in ("bids", "asks") for i in range(n)]
    )
    amounts = np.column_stack(
        [book[f"{k}[{i}].amount"].to_numpy(float) for k in ("bids", "asks") for i in range(n)]
    )
    trade_rows = None
    if isinstance(trades, pd.DataFrame) and len(trades):
        trade_rows = select(trades, "heatmap trades", venue, symbol)
    t_end = times[-1] + max(1, (times[-1] - times[0]) // 50) if len(times) > 1 else times[0] + 10**9
    t_edges = np.linspace(times[0], t_end, time_bins + 1)
    centers = (t_edges[:-1] + t_edges[1:]) / 2
    row = np.searchsorted(times, centers, side="right") - 1
    state_p, state_a = prices[row], amounts[row]
    finite = np.isfinite(state_p) & np.isfinite(state_a) & (state_a > 0)
    p_lo, p_hi = float(np.nanmin(state_p)), float(np.nanmax(state_p))
    grid = np.unique(prices[np.isfinite(prices)])
    tick = float(np.min(np.diff(grid))) if len(grid) > 1 else max(p_hi * 1e-6, 1e-12)
    if (p_hi - p_lo) / tick + 1 <= price_bins:
        p_edges = np.arange(p_lo - tick / 2, p_hi + tick, tick)
    else:
        p_edges = np.linspace(p_lo, p_hi, price_bins + 1)
    outside = 0
    if trade_rows is not None and len(trade_rows):
        # Only the trades inside the map's time and price range (the book's band).
        when = pd.DatetimeIndex(trade_rows.index).asi8
        price = trade_rows["price"].to_numpy(float)
        inside = (when >= t_edges[0]) & (when <= t_edges[-1])
        inside &= (price >= p_edges[0]) & (price <= p_edges[-1])
        outside = int((~inside).sum())
        trade_rows = trade_rows[inside]
    tt = np.broadcast_to(centers[:, None], state_p.shape)[finite]
    mat, _, _ = np.histogram2d(
        tt, state_p[finite], bins=[t_edges, p_edges], weights=state_a[finite]
    )
    mat = np.ma.masked_less_equal(mat.T, 0)
    positive = mat.compressed()
    vmin = float(np.percentile(positive, 2)) if positive.size else 1e-9
    vmax = float(positive.max()) if positive.size else 1.0

    own_figure = ax is None
    ax = new_axes(ax, (11, 5.2))
    cmap = pyplot().get_cmap("magma").with_extremes(bad="#0b0b16")
    x_edges = naive_utc(t_edges.astype("int64"))
    mesh = ax.pcolormesh(
        x_edges,
        p_edges,
        mat,
        cmap=cmap,
        norm=mcolors.LogNorm(vmin=vmin, vmax=max(vmax, vmin * 1.01)),
        shading="flat",
        rasterized=True,
    )
    ax.set_facecolor("#0b0b16")
    cbar = ax.get_figure(root=True).colorbar(mesh, ax=ax, pad=0.01, fraction=0.04)  # type: ignore[union-attr]
    base_asset, quote_asset = assets_of(book)
    cbar.set_label(unit_label("amount resting at the price", base_asset) + ", log scale")
    cbar.ax.yaxis.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    cbar.ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _p: f"{v:g}"))
    cbar.ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    x = naive_utc(times)
    x_last = naive_utc(np.array([t_end]))
    # Both touches stay visible when the spread is a tick (less than a pixel on most
    # maps): the bid is drawn just under its price and the ask just over it, each with
    # a dark halo, so neither hides the other; the gap between them is never narrower
    # than the spread.
    halo = [patheffects.withStroke(linewidth=3.0, foreground="#0b0b16")]
    fig = ax.get_figure(root=True)
    for column, color, style, shift, label in (
        (0, "#7df0c4", "-", -1.6, "best bid"),
        (n, "#ffb199", (0, (4, 2)), 1.6, "best ask"),
    ):
        ax.step(
            np.r_[x, x_last],
            np.r_[prices[:, column], prices[-1, column]],
            where="post",
            color=color,
            linestyle=style,
            linewidth=1.2,
            path_effects=halo,
            label=label,
            zorder=3,
            transform=offset_copy(ax.transData, fig=fig, y=shift, units="points"),
        )
    count = 0
    if trade_rows is not None and len(trade_rows):
        amount = trade_rows["amount"].to_numpy(float)
        scale = float(np.percentile(amount, 95)) or 1.0
        size = 10 + 110 * np.clip(amount / scale, 0, 1)
        for side, color, marker in (("buy", BUY, "^"), ("sell", SELL, "v")):
            mask = (trade_rows["side"].astype(str) == side).to_numpy()
            ax.scatter(
                naive_utc(trade_rows.index[mask]),
                trade_rows["price"].to_numpy(float)[mask],
                s=size[mask],
                c=color,
                marker=marker,
                edgecolors="white",
                linewidths=0.5,
                zorder=4,
                label=f"{side}s",
            )
            count += int(mask.sum())
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(p_edges[0], p_edges[-1])
    ax.set_ylabel(unit_label("price", quote_asset))
    plain_prices(ax)
    time_axis(ax)
    if own_figure:  # below the map: inside, it would cover the book wherever it went
        figure_of(ax).legend(loc="outside lower left", fontsize=8, frameon=False, ncols=4)
    else:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.85, ncols=4)
    title = title_of(
        book,
        f"book heat map, top {n} levels"
        + (f", {count} trades" if count else "")
        + (f" ({outside} outside the map left out)" if outside else ""),
    )
    ax.set_title(title, loc="left")
    return ax
