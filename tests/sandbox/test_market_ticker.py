"""24 h tickers: the same story as the minute klines, and cheap on a busy sandbox."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.sandbox.market import VENUES, Market
from mdkit.venues import get_venue, venue_keys
from tests.conftest import Clock, capture_until

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
# Inside a minute, inside a 6-hour block: the trailing 24 h starts mid-block.
T = 1_700_000_000 + 86400 + 1234.5


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_venue_ticker_is_its_minute_bars_over_24h(venue: str) -> None:
    m = Market(7, clock=Clock(T)).venue(venue)
    minute = int(T // 60 * 60)
    for symbol in m.instruments:
        st = m.ticker(symbol)
        bars = m.klines(symbol, 60, minute - 86400 + 60, minute + 60)
        assert len(bars) == 1440 and bars[-1, 0] == minute
        traded = bars[:, 7] > 0
        assert st["high"] == bars[traded, 2].max() and st["low"] == bars[traded, 3].min()
        assert st["open"] == bars[traded][0, 1] and st["last"] == bars[traded][-1, 4]
        assert st["volume"] == pytest.approx(bars[:, 5].sum(), rel=1e-12)
        assert st["quote_volume"] == pytest.approx(bars[:, 6].sum(), rel=1e-12)


def test_whole_blocks_and_single_hours_give_the_same_minutes() -> None:
    # The ticker's first block is read an hour at a time, klines over whole blocks
    # from the 6-hour cache: both aggregate the same trades.
    m = Market(7, clock=Clock(T))
    start = int(T) // 21600 * 21600 - 2 * 21600
    whole = m.klines("btcusdt", 60, start, start + 21600)
    tail = m.klines("btcusdt", 60, start + 3600, start + 21600)
    assert np.array_equal(whole[60:], tail, equal_nan=True)


def test_public_ticker_agrees_with_the_public_minute_klines() -> None:
    with Sandbox(seed=7, clock=Clock(T)):
        tk = mdkit.ticker("btcusdt").iloc[0]
        minute = pd.Timestamp(int(T // 60 * 60), unit="s", tz="UTC")
        bars = mdkit.klines("btcusdt", "1min", start=minute - pd.Timedelta("1439min"), end=minute)
    assert len(bars) == 1440 and bars.index[-1] == minute
    # The wire rounds the ticker's volume to the instrument's lot, bars' to theirs.
    assert tk["high"] == bars["high"].max() and tk["low"] == bars["low"].min()
    assert tk["volume"] == pytest.approx(bars["volume"].sum(), abs=1e-6 * 1440)
    assert tk["last"] == bars["close"].iloc[-1]


def test_a_busy_sandbox_is_busy_from_its_start_only() -> None:
    clock = Clock(T)
    busy = Market(7, trades_per_second=60, clock=clock)
    quiet = Market(7, clock=clock)
    always = Market(7, trades_per_second=60, clock=clock, busy_since=0)
    ms = int(T * 1000)
    before = (ms - 3_600_000, ms - 600_000)
    assert np.array_equal(busy.trades("btcusdt", *before).id, quiet.trades("btcusdt", *before).id)
    assert len(always.trades("btcusdt", *before)) > 20 * len(quiet.trades("btcusdt", *before))
    clock.t = T + 60
    since = (ms, ms + 60_000)
    assert len(busy.trades("btcusdt", *since)) > 20 * len(quiet.trades("btcusdt", *since))
    assert busy.venue("bitget").busy_since == busy.busy_since == int(T)


def test_a_busy_sandbox_answers_its_first_ticker_from_the_default_rate_history() -> None:
    # 24 h of a 60 trades/s tape is millions of prints: the first ticker must not wait
    # for them. It reads the sandbox's history at the default rate (the same tape as a
    # default sandbox's, checked exactly), and every venue answers one.
    parts = [
        (key, list(get_venue(key).example_symbols[:1]), ["ticker"])
        for key in venue_keys()
        if "ticker" in get_venue(key).channels
    ]
    assert len(parts) == len(venue_keys())
    with Sandbox(trades_per_second=60) as sb:
        cap = capture_until(lambda s: all(s["per_channel"].values()), parts, seconds=20)
        # The busy tape starts at the sandbox's start: the ticker of the minute before
        # it is a default sandbox's, to the last digit.
        before = sb.market.busy_since // 60 * 60 - 1
        default = Market(7)
        for key, symbols, _ in parts:
            quiet = default.venue(key).ticker(symbols[0], before)
            assert sb.market.venue(key).ticker(symbols[0], before) == quiet, key
    assert not cap.stats["server_errors"], cap.stats
    assert set(cap.ticker["venue"].astype(str)) == set(venue_keys())
