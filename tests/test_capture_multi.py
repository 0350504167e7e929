"""One capture across every registered venue: one Capture, frames with a `venue` column."""

from __future__ import annotations

import pytest

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue, venue_keys

PUBLIC = ("trades", "ticker", "book")


def _parts() -> list[tuple[str, list[str], list[str]]]:
    out = []
    for key in venue_keys():
        venue = get_venue(key)
        channels = [c for c in PUBLIC if c in venue.channels]
        out.append((key, list(venue.example_symbols[:1]), channels))
    return out


def test_every_venue_in_one_capture(sandbox: Sandbox) -> None:
    parts = _parts()
    assert len(parts) == len(venue_keys()) >= 5
    cap = mdkit.capture(parts, seconds=4.0)
    stats = cap.stats
    assert stats["outcome"] == "completed" and stats["parse_errors"] == 0, stats
    assert not stats["server_errors"], stats["server_errors"]
    assert set(cap.venues) == set(venue_keys())
    for kind in ("ticker", "depth"):
        df = cap.frame(kind)
        got = set(df["venue"].astype(str))
        assert got == set(venue_keys()), (kind, got)
    trades = cap.trades
    # every venue with a trades channel delivered trades (the sandbox trades every second)
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
