"""Research charts of mdkit frames and captures.

    mdkit.plot.candles(mdkit.klines("btcusdt", "1min", limit=500))
    mdkit.plot.depth(mdkit.depth("btcusdt"))        # or cap.depth / cap.book()
    mdkit.plot.heatmap(cap)                         # book liquidity over time + trades
    mdkit.plot.tape(cap.trades, venue="bitget")
    mdkit.plot.latency(cap.trades)                  # local_timestamp - timestamp per venue
    mdkit.plot.venues(cap.book(1))                  # mid of every venue on one axis

Every chart returns its matplotlib Axes (Figure for the two-panel latency chart),
draws into ``ax=`` when given, labels time in UTC with one format, and is titled with
venue, symbol and interval. matplotlib is imported on the first chart, not on
``import mdkit``. Bad input raises :class:`mdkit.InvalidArgument` saying what each
chart expects.
"""

from __future__ import annotations

from mdkit.plot._bars import aggregate_bars, candles
from mdkit.plot._book import depth
from mdkit.plot._flow import latency, tape, venues
from mdkit.plot._heatmap import heatmap

__all__ = ["aggregate_bars", "candles", "depth", "heatmap", "latency", "tape", "venues"]
