"""Bitget spot REST v2 through mdkit, against the sandbox, checked by ccxt's REST client.

ccxt's ``bitget`` is pointed at the sandbox's REST host (``urls['api']['spot']``), its
markets preset from the sandbox's symbol list (as in test_ccxt_bitget.py). Its
``fetch_ohlcv``, ``fetch_trades``, ``fetch_order_book`` and ``fetch_tickers`` read
the same endpoints mdkit reads, and must agree with mdkit's frames. The sandbox
runs on a frozen clock here, so both clients see the same book and tickers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.engine import listing
from mdkit.errors import InvalidArgument, UnknownInterval, UnknownVenue, VenueError
from mdkit.sandbox import Sandbox

ccxt = pytest.importorskip("ccxt")

SYMBOL = "BTC/USDT"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    listing.clear_cache()
    frozen = float(int(time.time()))  # the market stands still: book and tickers too
    with Sandbox(seed=11, clock=lambda: frozen) as box:
        yield box
    listing.clear_cache()


@pytest.fixture(scope="module")
def ex(sb: Sandbox) -> Any:
    client = ccxt.bitget({"enableRateLimit": True})
    client.urls["api"]["spot"] = sb.bitget.env()["REST_URL"]
    reply = client.publicSpotGetV2SpotPublicSymbols()
    client.set_markets(
        [
            {
                "id": row["symbol"],
                "symbol": f"{row['baseCoin']}/{row['quoteCoin']}",
                "base": row["baseCoin"],
                "quote": row["quoteCoin"],
                "baseId": row["baseCoin"],
                "quoteId": row["quoteCoin"],
                "type": "spot",
                "spot": True,
                "active": True,
                "precision": {
                    "price": 10.0 ** -int(row["pricePrecision"]),
                    "amount": 10.0 ** -int(row["quantityPrecision"]),
                },
                "info": row,
            }
            for row in reply["data"]
        ]
    )
    return client


def _ms(t: pd.Timestamp) -> int:
    return int(t.value // 1_000_000)


def test_symbols_carry_base_quote_and_precisions(sb: Sandbox) -> None:
    df = mdkit.symbols("bitget")
    row = df.loc["BTCUSDT"]
    assert (row["base"], row["quote"], row["venue"]) == ("btc", "usdt", "bitget")
    # float64 like every venue's list (NaN where a venue publishes none)
    assert df["price_precision"].dtype == np.float64 and df["amount_precision"].dtype == np.float64
    assert row["pair"] == "BTC/USDT" and row["tick_size"] == 10.0 ** -row["price_precision"]
    assert row["price_precision"] == sb.market.venue("bitget").instrument("BTCUSDT").price_precision
    assert df.index.name == "symbol" and len(df) > 800


def test_history_in_one_call_agrees_with_ccxt(sb: Sandbox, ex: Any) -> None:
    df = mdkit.klines("BTCUSDT", "1h", venue="bitget", start="3 days ago")
    assert 72 <= len(df) <= 73 and df.index.is_unique and df.index.is_monotonic_increasing
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta(hours=1)).all()
    assert list(df.columns) == [
        *["venue", "symbol", "pair", "interval", "open", "high", "low", "close", "volume"],
        *["quote_volume", "closed"],
    ]
    assert df.interval.iloc[0] == "60min" and not df.closed.iloc[-1] and df.closed.iloc[:-1].all()
    closed = df[df.closed]
    bars = ex.fetch_ohlcv(SYMBOL, "1h", since=_ms(closed.index[0]), limit=len(closed))
    theirs = pd.DataFrame(bars, columns=["t", "open", "high", "low", "close", "volume"])
    theirs.index = pd.to_datetime(theirs.pop("t"), unit="ms", utc=True)
    common = closed.index.intersection(theirs.index)
    assert len(common) >= len(closed) - 1
    cols = ["open", "high", "low", "close", "volume"]
    np.testing.assert_allclose(closed.loc[common, cols], theirs.loc[common, cols], rtol=1e-12)


def test_minute_history_pages_over_history_candles(sb: Sandbox) -> None:
    served = sb.bitget.http.requests_served
    df = mdkit.klines("ETH/USDT", "1min", venue="bitget", start="2 days ago")
    assert 2880 <= len(df) <= 2881 and df.index.is_unique
    assert (df.index[1:] - df.index[:-1] == pd.Timedelta(minutes=1)).all()
    pages = sb.bitget.http.requests_served - served
    assert 15 <= pages <= 17  # 200 bars a page (plus the symbol list, once)
    assert df.attrs["source"] == "rest:/api/v2/spot/market/history-candles"


def test_trades_range_agrees_with_ccxt(sb: Sandbox, ex: Any) -> None:
    end = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(seconds=30)
    start = end - pd.Timedelta(minutes=3)
    ours = mdkit.trades("BTCUSDT", venue="bitget", start=start, end=end)
    assert len(ours) > 0 and ours.index.min() >= start and ours.index.max() <= end
    assert ours["id"].is_unique and ours.index.is_monotonic_increasing
    theirs = ex.fetch_trades(SYMBOL, since=_ms(start), limit=1000, params={"until": _ms(end)})
    by_id = {int(t["id"]): t for t in theirs}
    assert len(by_id) >= min(len(ours), 1000) - 1
    for _, row in ours.tail(200).iterrows():
        t = by_id[int(row["id"])]
        assert (t["price"], t["amount"], t["side"]) == (row["price"], row["amount"], row["side"])
        assert t["timestamp"] == _ms(row.name)


def test_recent_trades_and_limit(sb: Sandbox) -> None:
    df = mdkit.trades("BTCUSDT", limit=50, venue="bitget")
    assert len(df) == 50 and df["side"].isin(["buy", "sell"]).all()
    assert df.attrs["source"] == "rest:/api/v2/spot/market/fills"


def test_order_book_agrees_with_ccxt(sb: Sandbox, ex: Any) -> None:
    ours = mdkit.depth("BTCUSDT", venue="bitget", limit=20)
    book = ex.fetch_order_book(SYMBOL, 20)
    assert _ms(ours.attrs["timestamp"]) == book["timestamp"]
    assert len(ours) == 40
    bids = ours[ours.side == "bid"][["price", "amount"]].to_numpy()
    asks = ours[ours.side == "ask"][["price", "amount"]].to_numpy()
    np.testing.assert_array_equal(bids, np.array(book["bids"])[:, :2])
    np.testing.assert_array_equal(asks, np.array(book["asks"])[:, :2])
    assert bids[0, 0] < asks[0, 0]


def test_tickers_agree_with_ccxt(sb: Sandbox, ex: Any) -> None:
    ours = mdkit.tickers(venue="bitget")
    theirs = ex.fetch_tickers()
    t, row = theirs[SYMBOL], ours.loc["BTCUSDT"]
    assert _ms(row["timestamp"]) == t["timestamp"]
    for mine, key in [("last", "last"), ("bid", "bid"), ("ask", "ask"), ("high", "high")]:
        assert row[mine] == t[key], mine
    assert row["volume"] == t["baseVolume"] and row["low"] == t["low"]
    assert mdkit.ticker("ETH/USDT", venue="bitget").index.tolist() == ["ETHUSDT"]


def test_every_endpoint_is_paced_under_its_rate() -> None:
    with Sandbox(seed=3, set_env=False) as fresh:
        url = fresh.bitget.env()["REST_URL"]
        mdkit.symbols("bitget", url=url)

        def fills() -> None:
            for _ in range(12):
                mdkit.trades("BTCUSDT", limit=5, venue="bitget", url=url)

        def books() -> None:
            for _ in range(20):
                mdkit.depth("BTCUSDT", limit=5, venue="bitget", url=url)

        threads = [threading.Thread(target=f) for f in (fills, fills, books, books)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # 24 fills at 10/s and 40 books at 20/s from four threads: not one 429.
        assert fresh.bitget.http.rate_limited == 0
        assert fresh.bitget.http.requests_served >= 65


def test_unsupported_venue_or_call_is_refused_before_any_request(sb: Sandbox) -> None:
    served = sb.bitget.http.requests_served
    with pytest.raises(InvalidArgument, match="cryptocom, bitget"):
        mdkit.klines("BTCUSDT", venue="itick")
    with pytest.raises(InvalidArgument, match="cryptocom"):
        mdkit.prices(venue="bitget")
    with pytest.raises(InvalidArgument, match="bitget"):
        mdkit.trades("btcusdt", start="1 hour ago")  # Crypto.com keeps no trade history
    with pytest.raises(UnknownVenue, match="cryptocom"):
        mdkit.tickers(venue="nope")
    with pytest.raises(UnknownInterval, match="1week"):
        mdkit.klines("BTCUSDT", "7min", venue="bitget")
    with pytest.raises(InvalidArgument, match=r"\(0, 1, 2, 3, 4, 5\)"):
        mdkit.depth("BTCUSDT", step=9, venue="bitget")
    assert sb.bitget.http.requests_served == served


def test_venue_error_envelope(sb: Sandbox) -> None:
    from mdkit.engine import rest
    from mdkit.venues import bitget_rest

    with pytest.raises(VenueError, match="40034"):
        rest.send(
            sb.bitget.env()["REST_URL"],
            "GET",
            "/api/v2/spot/market/fills",
            {"symbol": "NOPE"},
            parse_error=bitget_rest.unwrap,
        )
