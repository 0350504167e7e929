"""The public market-data functions against the sandbox, over real sockets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.errors import InvalidArgument, UnknownInterval, UnknownSymbol
from mdkit.sandbox import Sandbox


def test_klines_contract(sandbox: Sandbox) -> None:
    df = mdkit.klines("btcusdt", "1min")
    assert isinstance(df.index, pd.DatetimeIndex) and str(df.index.tz) == "UTC"
    assert df.index.name == "timestamp" and df.index.is_monotonic_increasing
    assert list(df.columns) == [
        "venue",
        "symbol",
        "pair",
        "interval",
        *["open", "high", "low", "close", "volume", "closed"],
    ]
    assert df.venue.iloc[0] == "cryptocom" and df.interval.iloc[0] == "1min"
    assert all(df[c].dtype == np.float64 for c in ["open", "high", "low", "close", "volume"])
    assert len(df) == 300
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta(minutes=1)).all()
    assert not df.closed.iloc[-1] and df.closed.iloc[:-1].all()
    assert (df.high >= df[["open", "close"]].max(axis=1)).all()
    assert (df.low <= df[["open", "close"]].min(axis=1)).all()
    assert df.attrs["venue"] == "cryptocom" and df.attrs["symbol"] == "btcusdt"
    assert df.attrs["interval"] == "1min"


def test_klines_intervals_and_filters(sandbox: Sandbox) -> None:
    hourly = mdkit.klines("ETH/USDT", "1h", start="12 hours ago")
    assert 12 <= len(hourly) <= 13
    assert (hourly.index[1:] - hourly.index[:-1] == pd.Timedelta(hours=1)).all()
    assert len(mdkit.klines("ethbtc", 1440, limit=5)) == 5
    daily = mdkit.klines("ethbtc", "1d")
    end = daily.index[-3]
    assert mdkit.klines("ethbtc", "1d", end=end).index[-1] == end


ONE_MIN = pd.Timedelta(minutes=1)


def test_klines_limit_past_the_rest_page_is_paged(sandbox: Sandbox) -> None:
    df = mdkit.klines("btcusdt", "1min", limit=1000)
    assert len(df) == 1000 and df.index.is_unique
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta(minutes=1)).all()
    assert not df.closed.iloc[-1] and df.closed.iloc[:-1].all()
    assert set(df.symbol) == {"btcusdt"} and set(df.venue) == {"cryptocom"}


def test_klines_start_in_the_future_is_refused(sandbox: Sandbox) -> None:
    with pytest.raises(InvalidArgument, match="in the future"):
        mdkit.klines("btcusdt", "1min", start="2099-01-01")
    with pytest.raises(InvalidArgument, match="in the future"):
        mdkit.klines("btcusdt", "1h", start=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3))


def test_kline_matches_the_trades_in_its_minute(sandbox: Sandbox) -> None:
    # A quieter pair: its 200 latest trades span several whole minutes even at the
    # busy hour (the sandbox's trade rate varies through the day, in bursts).
    trades = mdkit.trades("ethbtc")
    bars = mdkit.klines("ethbtc", "1min")
    first = trades.index[0].ceil("min")
    minutes = pd.date_range(first, trades.index[-1].floor("min"), freq="min", inclusive="left")
    full = [m for m in minutes if ((trades.index >= m) & (trades.index < m + ONE_MIN)).sum() >= 3]
    if not full:
        pytest.fail("no whole minute with trades in the 200 latest; the story is inconsistent")
    minute = full[-1]
    inside = trades[(trades.index >= minute) & (trades.index < minute + ONE_MIN)]
    bar = bars.loc[minute]
    assert bar.high == pytest.approx(inside.price.max())
    assert bar.low == pytest.approx(inside.price.min())
    assert bar.open == pytest.approx(inside.price.iloc[0])
    assert bar.close == pytest.approx(inside.price.iloc[-1])
    assert bar.volume == pytest.approx(inside.amount.sum(), rel=1e-6)


def test_trades_contract(sandbox: Sandbox) -> None:
    df = mdkit.trades("BTC/USDT")
    assert len(df) == 200 and df.index.is_monotonic_increasing
    assert list(df.columns) == ["venue", "symbol", "pair", "id", "side", "price", "amount"]
    assert df.id.dtype == "Int64" and df.id.is_unique
    assert set(df.side.unique()) <= {"buy", "sell"}
    assert (df.symbol == "btcusdt").all()
    assert (df.amount > 0).all() and (df.price > 0).all()


def test_depth_long_table(sandbox: Sandbox) -> None:
    df = mdkit.depth("btcusdt", step=0)
    bids, asks = df[df.side == "bid"], df[df.side == "ask"]
    assert bids.price.is_monotonic_decreasing and asks.price.is_monotonic_increasing
    assert bids.price.iloc[0] < asks.price.iloc[0]
    assert bids.level.tolist() == list(range(len(bids)))
    merged = mdkit.depth("btcusdt", step=2)
    assert len(merged[merged.side == "bid"]) < len(bids)
    # step2 merges 100 ticks (0.01 USDT) into one level: prices on a 1 USDT grid
    assert np.allclose(merged.price, merged.price.round(0))
    merged_bids = merged[merged.side == "bid"]
    assert merged_bids.price.is_monotonic_decreasing and merged_bids.price.is_unique


def test_tickers_ticker_prices_symbols(sandbox: Sandbox) -> None:
    tickers = mdkit.tickers()
    syms = mdkit.symbols()
    assert set(tickers.index) == set(syms.index)
    t = mdkit.ticker("eth-btc")
    assert t.index.tolist() == ["ethbtc"]
    row = t.iloc[0]
    assert row.bid <= row.ask and row.low <= row["last"] <= row.high
    assert str(t["timestamp"].dt.tz) == "UTC"
    prices = mdkit.prices()
    assert prices.loc["btcusdt", "price"] == pytest.approx(tickers.loc["btcusdt", "last"], rel=0.01)


def test_bad_input_fails_before_any_request(sandbox: Sandbox) -> None:
    mdkit.symbols()  # fill the cache
    before = sandbox.cryptocom.requests_served
    with pytest.raises(UnknownInterval, match="1min"):
        mdkit.klines("btcusdt", "7min")
    with pytest.raises(InvalidArgument, match="limit"):
        mdkit.klines("btcusdt", "1min", limit=0)
    with pytest.raises(InvalidArgument, match="after end"):
        mdkit.klines("btcusdt", "1min", start="2024-02-01", end="2024-01-01")
    with pytest.raises(InvalidArgument, match=r"\(0, 1, 2\)"):
        mdkit.depth("btcusdt", step=5)
    with pytest.raises(UnknownSymbol, match="btcusdt"):
        mdkit.trades("btcusd")
    assert sandbox.cryptocom.requests_served == before


def test_url_argument_overrides_environment(sandbox: Sandbox) -> None:
    with Sandbox(seed=99, set_env=False) as other:
        df = mdkit.klines("btcusdt", "1min", url=other.cryptocom.rest_url)
        ours = mdkit.klines("btcusdt", "1min")
    assert not np.allclose(df.close.to_numpy()[:-1], ours.close.to_numpy()[:-1])
