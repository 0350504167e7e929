"""One capture across every registered venue: one Capture, frames with a `venue` column."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue, venue_keys
from tests.conftest import capture_until, trading


def _parts(wanted: tuple[str, ...]) -> list[tuple[str, list[str], list[str]]]:
    out = []
    for key in venue_keys():
        venue = get_venue(key)
        channels = [c for c in wanted if c in venue.channels]
        out.append((key, list(venue.example_symbols[:1]), channels))
    return out


def test_tickers_of_every_venue_in_one_capture(sandbox: Sandbox) -> None:
    cap = capture_until(lambda s: all(s["per_channel"].values()), _parts(("ticker", "book")))
    assert cap.stats["parse_errors"] == 0 and not cap.stats["server_errors"]
    assert set(cap.ticker["venue"].astype(str)) == set(venue_keys())
    assert (cap.ticker["last"] > 0).all()


def test_every_venue_in_one_capture(sandbox: Sandbox) -> None:
    parts = _parts(("trades", "book"))
    assert len(parts) == len(venue_keys()) >= 5
    # Every venue's symbol trades while the capture runs (pushed trades, not luck).
    with ExitStack() as stack:
        for key, symbols, _ in parts:
            stack.enter_context(trading(sandbox, key, symbols))
        cap = capture_until(lambda s: all(s["per_channel"].values()), parts)
    stats = cap.stats
    assert stats["outcome"] == "completed" and stats["parse_errors"] == 0, stats
    assert not stats["server_errors"], stats["server_errors"]
    assert set(cap.venues) == set(venue_keys())
    assert set(cap.depth["venue"].astype(str)) == set(venue_keys())
    trades = cap.trades
    # every venue with a trades channel delivered trades
    with_trades = {k for k, _, chans in parts if "trades" in chans}
    assert set(trades["venue"].astype(str)) == with_trades
    assert trades.index.is_monotonic_increasing and str(trades.index.tz) == "UTC"
    assert {"venue", "symbol", "price", "amount", "local_timestamp"} <= set(trades.columns)
    # one consistent story: every venue's BTC price is within 5% of the others'
    btc = trades[trades["symbol"].astype(str).str.upper().str.startswith("BTC")]
    last = btc.groupby("venue", observed=True)["price"].last()
    usd = last[[v for v in last.index if v != "richamster"]]  # Richamster quotes BTC in UAH
    assert (usd.max() / usd.min()) < 1.05, last
    top = cap.book(levels=1)
    assert set(top["venue"].astype(str)) == set(venue_keys())
    assert top.attrs["crossed"] == 0
    raw = cap.raw
    assert set(raw["venue"].astype(str)) == set(venue_keys())
    assert len(raw) == stats["messages"]


def test_a_venue_twice_is_refused() -> None:
    with pytest.raises(mdkit.InvalidArgument, match="twice"):
        mdkit.capture([("cryptocom", ["btcusdt"], ["trades"])] * 2, seconds=1)


def test_multi_venue_bad_part_is_refused_before_connecting() -> None:
    with pytest.raises(mdkit.InvalidArgument, match="venue, symbols, channels"):
        mdkit.capture([("cryptocom", ["btcusdt"])], seconds=1)
    with pytest.raises(mdkit.errors.UnknownVenue, match="bitget"):
        mdkit.capture([("cryptocom", ["btcusdt"], ["trades"]), ("nasdaq", ["x"], ["trades"])])
