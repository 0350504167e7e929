"""mdkit.plot: every chart renders a non-blank PNG with the expected labels, from sandbox data."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.image as mimage  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import mdkit  # noqa: E402
from mdkit.sandbox import Sandbox  # noqa: E402
from tests.conftest import trading  # noqa: E402

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
VENUES = [
    ("cryptocom", "btcusdt", ["trades", "ticker", "book"]),
    ("bitget", "BTCUSDT", ["trades", "ticker", "book"]),
    ("bittap", "BTC-USDT", ["trades", "ticker", "book"]),
]


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def cap() -> Any:
    """A multi-venue capture over real sockets; every venue trades while it runs (the tape,
    heat map and latency charts need trades from each)."""
    with Sandbox() as sb, ExitStack() as stack:
        for venue, symbol, _ in VENUES:
            stack.enter_context(trading(sb, venue, [symbol], every=0.1))
        return mdkit.capture(VENUES, seconds=3 * FACTOR)


def png(fig: Any) -> np.ndarray:
    """Render to PNG bytes and read them back, as a file viewer would."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    buf.seek(0)
    return np.asarray(mimage.imread(buf, format="png"))


def assert_drawn(fig: Any) -> None:
    """Not blank: pixel variance, and a real share of non-white pixels."""
    img = png(fig)[..., :3]
    assert img.std() > 0.05
    assert (img.min(axis=2) < 0.9).mean() > 0.03


def assert_utc_time_axis(ax: Any, *, label: bool = True) -> None:
    formatter = ax.xaxis.get_major_formatter()
    assert isinstance(formatter, mdates.ConciseDateFormatter)
    assert str(formatter._tz) == "UTC"
    if label:
        assert ax.get_xlabel() == "time (UTC)"


def legend_texts(ax: Any) -> list[str]:
    """The axes' legend, or its figure's (charts that own their figure put it below)."""
    legend = ax.get_legend() or next(iter(ax.figure.legends), None)
    return [t.get_text() for t in legend.get_texts()]


# -- candles ------------------------------------------------------------------------------


def test_candles_20_bars_volume_panel_and_forming_bar(sandbox: Sandbox) -> None:
    df = mdkit.klines("btcusdt", "5min", limit=20)
    ax = mdkit.plot.candles(df)
    fig = ax.figure
    assert_drawn(fig)
    bodies = ax.containers[0]
    assert len(bodies) == 20
    assert ax.get_title("left") == "cryptocom btcusdt 5min"
    assert ax.get_ylabel() == "price (USDT)"  # units, from the pair
    (vol_ax,) = [a for a in fig.axes if a is not ax]
    assert vol_ax.get_ylabel() == "volume (BTC)"
    # a panel below, not a twin: own y axis, same x axis, lower on the figure
    assert vol_ax.get_shared_x_axes().joined(ax, vol_ax)
    assert vol_ax.get_position().y1 <= ax.get_position().y0 + 1e-6
    assert_utc_time_axis(vol_ax)
    # the forming bar is hollow and labelled, closed bars are filled
    assert not df["closed"].iloc[-1]
    assert bodies[-1].get_facecolor()[3] == 0 and bodies[0].get_facecolor()[3] > 0
    assert_label_covers_no_candle(ax, df)
    # volumes are drawn to scale from zero
    heights = [p.get_height() for p in vol_ax.containers[0]]
    np.testing.assert_allclose(heights, df["volume"].to_numpy())
    assert vol_ax.get_ylim()[0] == 0


def test_candles_50000_bars_are_aggregated_and_say_so(sandbox: Sandbox) -> None:
    df = mdkit.klines("btcusdt", "1min", start=pd.Timestamp.now("UTC") - pd.Timedelta(days=35))
    assert len(df) > 50_000
    ax = mdkit.plot.candles(df)
    assert_drawn(ax.figure)
    title = ax.get_title("left")
    assert title.startswith("cryptocom btcusdt · 4h bars aggregated from 50,")
    bodies = ax.containers[0]
    assert 150 <= len(bodies) <= 300
    merged = mdkit.plot.aggregate_bars(df, 4 * 3600)
    assert len(merged) == len(bodies)
    assert merged["volume"].sum() == pytest.approx(df["volume"].sum())
    assert merged["high"].max() == df["high"].max() and merged["low"].min() == df["low"].min()
    assert not merged["closed"].iloc[-1] and merged["closed"].iloc[1:-1].all()
    # the key columns stay, the interval is the new one's
    assert list(merged.columns[:4]) == ["venue", "symbol", "pair", "interval"]
    assert set(merged["pair"]) == {"BTC/USDT"} and set(merged["interval"]) == {"4h"}
    assert merged["pair"].dtype == df["pair"].dtype
    with pytest.raises(mdkit.InvalidArgument, match="one market"):
        mdkit.plot.aggregate_bars(pd.concat([df, df.assign(symbol="ethusdt")]), 3600)
    assert bodies[-1].get_facecolor()[3] == 0
    assert_label_covers_no_candle(ax, merged)


def assert_label_covers_no_candle(ax: Any, bars: pd.DataFrame) -> None:
    """The "forming" label overlaps no candle (wick to wick, body width), in pixels."""
    from matplotlib.text import Text
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    (label,) = [t for t in ax.texts if t.get_text() == "forming"]
    box = Text.get_window_extent(label, fig.canvas.get_renderer())  # the text, not its arrow
    width = [p.get_width() for p in ax.containers[0]]
    x = mdates.date2num(bars.index.tz_localize(None).to_numpy())
    for i, (lo, hi) in enumerate(zip(bars["low"], bars["high"], strict=True)):
        corners = ax.transData.transform([(x[i] - width[i] / 2, lo), (x[i] + width[i] / 2, hi)])
        assert not box.overlaps(Bbox(corners)), (i, box, corners)


def test_candles_into_a_given_axes(sandbox: Sandbox) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    df = mdkit.klines("ethusdt", "1min", limit=30)
    assert mdkit.plot.candles(df, ax=left) is left
    assert len(fig.axes) == 3  # the volume panel is carved out of `left`
    assert mdkit.plot.candles(df, ax=right, volume=False) is right
    assert len(fig.axes) == 3
    assert_drawn(fig)


# -- depth --------------------------------------------------------------------------------


def test_depth_rest_snapshot_shows_both_sides_and_the_spread(sandbox: Sandbox) -> None:
    book = mdkit.depth("btcusdt")
    ax = mdkit.plot.depth(book, levels=40)
    assert_drawn(ax.figure)
    bid = book[book.side == "bid"].price.max()
    ask = book[book.side == "ask"].price.min()
    assert legend_texts(ax) == ["bids (40)", "asks (40)"]
    assert ax.get_title("left").startswith("cryptocom btcusdt · depth, 40 levels a side at ")
    assert ax.get_ylabel() == "cumulative amount (BTC)" and ax.get_xlabel() == "price (USDT)"
    # every y tick written exactly (0.25 is "0.25", never "0.2")
    ax.figure.canvas.draw()
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    texts = [t.get_text() for t in ax.get_yticklabels()][: len(ticks)]
    assert [float(t) for t in texts] == pytest.approx(ticks)
    (note,) = [t.get_text() for t in ax.texts]
    assert f"mid {(bid + ask) / 2:,.3f}" in note and f"spread {ask - bid:,.2f}" in note
    lo, hi = ax.get_xlim()
    assert lo < bid - 0.2 and hi > ask + 0.2
    # the spread takes at most ~1/8 of the width, whatever its size in price
    fwd = ax.xaxis.get_transform().transform
    width = fwd(np.array([hi]))[0] - fwd(np.array([lo]))[0]
    gap = fwd(np.array([ask]))[0] - fwd(np.array([bid]))[0]
    assert gap / width < 0.125


def test_depth_same_book_from_updates_and_from_book_frame(cap: Any) -> None:
    from_updates = mdkit.plot.depth(cap.depth, venue="bitget")
    from_top = mdkit.plot.depth(cap.book(50), venue="bitget")
    assert_drawn(from_updates.figure)
    assert from_updates.texts[0].get_text() == from_top.texts[0].get_text()
    assert from_updates.get_title("left").startswith("bitget BTCUSDT · depth")
    assert mdkit.plot.depth(cap, venue="bittap").get_title("left").startswith("bittap BTC-USDT")


def test_depth_windows(sandbox: Sandbox) -> None:
    book = mdkit.depth("ethusdt")
    everything = mdkit.plot.depth(book, levels="all")
    per_side = book.side.value_counts()
    assert legend_texts(everything) == [f"bids ({per_side['bid']})", f"asks ({per_side['ask']})"]
    band = mdkit.plot.depth(book, band_bps=1000)
    assert "±1000 bps" in band.get_title("left")


def test_depth_refuses_ambiguous_and_bad_input(cap: Any) -> None:
    with pytest.raises(mdkit.InvalidArgument, match="pass venue= one of cryptocom, bitget, bittap"):
        mdkit.plot.depth(cap.depth)
    with pytest.raises(mdkit.InvalidArgument, match="levels must be a positive integer or 'all'"):
        mdkit.plot.depth(cap.depth, venue="bitget", levels=0)
    with pytest.raises(mdkit.InvalidArgument, match="missing side, level"):
        mdkit.plot.depth(pd.DataFrame({"price": [1.0], "amount": [1.0]}))


# -- capture charts -------------------------------------------------------------------------


def test_books_without_venue_time_are_placed_at_their_receive_time(cap: Any) -> None:
    # BitTap depth pushes carry no time: timestamp NaT, placed by local_timestamp.
    top = cap.book(levels=5)
    rows = top[top["venue"] == "bittap"]
    assert len(rows) and rows.index.isna().all()
    ax = mdkit.plot.heatmap(cap, venue="bittap")
    lo, hi = ax.get_xlim()
    first = mdates.date2num(rows["local_timestamp"].min().tz_convert(None))
    assert abs(lo - first) < 5 / 86400 and hi > lo  # starts at the first receive time
    at = rows["local_timestamp"].iloc[len(rows) // 2]
    assert "bittap" in mdkit.plot.depth(cap, venue="bittap", at=at).get_title("left")


def test_heatmap_of_a_capture(cap: Any) -> None:
    ax = mdkit.plot.heatmap(cap, venue="cryptocom")
    assert_drawn(ax.figure)
    assert ax.get_title("left").startswith("cryptocom btcusdt · book heat map, top ")
    assert ax.get_ylabel() == "price (USDT)"
    assert_utc_time_axis(ax)
    (mesh,) = ax.collections[:1]
    assert type(mesh.norm).__name__ == "LogNorm"
    assert np.ma.count(mesh.get_array()) > 0
    labels = legend_texts(ax)
    assert labels[:2] == ["best bid", "best ask"]
    trades = cap.trades[cap.trades.venue == "cryptocom"]
    points = np.concatenate([c.get_offsets() for c in ax.collections[1:]])
    # only trades inside the map's time and price range; the title counts the others
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert ((points[:, 0] >= x0) & (points[:, 0] <= x1)).all()
    assert ((points[:, 1] >= y0) & (points[:, 1] <= y1)).all()
    title = ax.get_title("left")
    left_out = int(title.split("(")[1].split()[0]) if "outside the map" in title else 0
    assert len(points) + left_out == len(trades)
    # the best bid and ask are both visible: the ask line always over the bid line
    bid, ask = (line for line in ax.lines if line.get_label() in ("best bid", "best ask"))
    ax.figure.canvas.draw()
    below = bid.get_transform().transform(bid.get_xydata())[:, 1]
    above = ask.get_transform().transform(ask.get_xydata())[:, 1]
    assert (above - below >= 3).all()  # pixels, even where the spread is one tick
    assert len(ax.figure.axes) == 2  # the colour bar


def test_tape_markers_per_trade(cap: Any) -> None:
    trades = cap.trades[cap.trades.venue == "bitget"]
    ax = mdkit.plot.tape(cap.trades, venue="bitget")
    assert_drawn(ax.figure)
    assert ax.get_title("left") == f"bitget BTCUSDT · {len(trades)} trades"
    assert_utc_time_axis(ax)
    buys, sells = (ax.collections[i].get_offsets() for i in (0, 1))
    assert len(buys) == (trades.side == "buy").sum() and len(sells) == (trades.side == "sell").sum()
    sizes = ax.collections[0].get_sizes()
    amounts = trades[trades.side == "buy"].amount.to_numpy()
    # the largest buy has the largest marker (several may share the largest size)
    assert sizes[np.argmax(amounts)] == sizes.max() and sizes.min() < sizes.max()
    assert legend_texts(ax)[0].startswith("buy (")


def test_latency_per_venue(cap: Any) -> None:
    fig = mdkit.plot.latency(cap)
    assert_drawn(fig)
    series, ecdf = fig.axes
    assert series.get_ylabel() == "latency (ms)"
    assert ecdf.get_xlabel() == "share of messages ≤ latency" and ecdf.get_xlim() == (0, 1)
    # one ECDF line per venue, each its own colour and line style, rising to 100 %
    lines = [line for line in ecdf.lines if len(line.get_xdata())]
    assert len(lines) == len({line.get_color() for line in lines}) == len(VENUES)
    assert len({str(line.get_linestyle()) for line in lines}) == len(VENUES)
    assert all(line.get_xdata()[-1] == 1.0 for line in lines)
    assert_utc_time_axis(series)
    assert "receive latency" in series.get_title("left")
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert sorted(t.split(":")[0] for t in labels) == sorted(v for v, *_ in VENUES)
    one = mdkit.plot.latency(cap.trades, first_message=True)
    assert len(one.axes) == 2


def test_venues_on_one_axis(cap: Any) -> None:
    ax = mdkit.plot.venues(cap.book(1))
    assert_drawn(ax.figure)
    assert legend_texts(ax) == [
        "cryptocom btcusdt (mid)",
        "bitget BTCUSDT (mid)",
        "bittap BTC-USDT (mid)",
    ]
    assert ax.get_title("left").startswith("cryptocom, bitget, bittap · mid by venue")
    assert_utc_time_axis(ax)
    last = mdkit.plot.venues(cap.trades)
    assert all(t.endswith("(trade price)") for t in legend_texts(last))


# -- one time format, bad input ---------------------------------------------------------------


def test_every_time_axis_uses_the_same_utc_format(cap: Any, sandbox: Sandbox) -> None:
    axes = [
        [a for a in mdkit.plot.candles(mdkit.klines("btcusdt", limit=20)).figure.axes][-1],
        mdkit.plot.heatmap(cap, venue="bitget"),
        mdkit.plot.tape(cap.trades, venue="cryptocom"),
        mdkit.plot.latency(cap).axes[0],
        mdkit.plot.venues(cap),
    ]
    formats = {tuple(a.xaxis.get_major_formatter().formats) for a in axes}
    assert len(formats) == 1
    for a in axes:
        assert_utc_time_axis(a)


EMPTY = pd.DataFrame()
WRONG = pd.DataFrame({"x": [1.0]}, index=pd.DatetimeIndex(["2026-01-01"], tz="UTC"))


@pytest.mark.parametrize(
    ("chart", "arg", "message"),
    [
        ("candles", None, "candles needs a DataFrame .*mdkit.klines"),
        ("candles", EMPTY, "candles needs columns open, high, low, close"),
        ("candles", pd.DataFrame(columns=["open", "high", "low", "close"]), "frame is empty"),
        ("depth", None, "depth needs a book"),
        ("depth", WRONG, "depth needs columns side, level, price, amount"),
        ("heatmap", None, "heatmap needs a Capture with a book channel"),
        ("heatmap", WRONG, "heatmap needs a Capture with a book channel"),
        ("tape", None, "tape needs a DataFrame .*cap.trades"),
        ("tape", WRONG, "tape needs columns side, price, amount"),
        ("latency", None, "latency needs a capture frame with local_timestamp"),
        ("latency", WRONG, "latency needs columns local_timestamp"),
        ("venues", None, "venues needs a DataFrame"),
        ("venues", EMPTY, "venues needs columns venue"),
    ],
)
def test_bad_input_is_refused_naming_what_is_expected(chart: str, arg: Any, message: str) -> None:
    with pytest.raises(mdkit.InvalidArgument, match=message):
        getattr(mdkit.plot, chart)(arg)


def test_candles_need_a_datetime_index() -> None:
    with pytest.raises(mdkit.InvalidArgument, match="datetime index"):
        mdkit.plot.candles(pd.DataFrame({"open": [1.0], "high": [1], "low": [1], "close": [1]}))
