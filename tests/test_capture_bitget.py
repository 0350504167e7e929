"""mdkit.capture against the Bitget v2 sandbox, real sockets: channels, login, limits, faults."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.engine import listing
from mdkit.errors import AuthError, InvalidArgument, UnknownSymbol
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue
from tests.conftest import capture_until, trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    listing.clear_cache()
    with Sandbox(seed=7, bitget_options={"rate": 4}) as box:
        yield box
    listing.clear_cache()


def when(check: Callable[[], bool], action: Callable[[], Any], timeout: float = 20.0) -> None:
    """Run ``action`` on a thread once ``check()`` holds (deadline ``timeout``)."""

    def run() -> None:
        deadline = time.monotonic() + timeout * FACTOR
        while time.monotonic() < deadline:
            if check():
                action()
                return
            time.sleep(0.02)

    threading.Thread(target=run, daemon=True).start()


def subscribed(box: Sandbox, channel: str, n: int = 1) -> Callable[[], bool]:
    def check() -> bool:
        return any(
            sum(s.channel == channel for s in c.state["bitget"].subs.values()) >= n
            for c in list(box.bitget.connections)
            if "bitget" in c.state and c.open
        )

    return check


def test_public_channels_values_from_the_market(sb: Sandbox) -> None:
    chans = ["trades", "ticker", "klines:1m", "book", "book:1", "book:5", "book:15"]
    with trading(sb, "bitget", ["BTCUSDT"]):
        cap = mdkit.capture("bitget", ["BTCUSDT", "ETHUSDT"], chans, seconds=3 * FACTOR)
    assert cap.stats["server_errors"] == [] and cap.stats["parse_errors"] == 0
    assert set(cap.frames()) >= {"trades", "ticker", "klines", "depth"}
    trades = cap.trades[cap.trades["symbol"] == "BTCUSDT"]
    ms = pd.DatetimeIndex(trades.index).asi8 // 10**6
    market = sb.bitget.view.trades("BTCUSDT", int(ms.min()), int(ms.max()) + 1)
    pairs = zip(market.price.tolist(), market.amount.tolist(), strict=True)
    by_id = dict(zip(market.id.tolist(), pairs, strict=True))
    assert len(trades) == len(market)  # every trade, once (backfill and updates)
    for tid, price, amount in zip(trades["id"], trades["price"], trades["amount"], strict=True):
        assert by_id[int(tid)] == (price, amount)
    tick = cap.ticker.iloc[-1]
    assert tick["bid"] < tick["ask"] and tick["symbol"] in ("BTCUSDT", "ETHUSDT")
    bars = cap.klines[cap.klines["symbol"] == "BTCUSDT"]
    assert bars["closed"].iloc[:-1].all()
    # the last bar is still forming unless the capture ended after its minute (a capture
    # that crosses a minute boundary before the next bar's first push)
    ended = pd.Timestamp(cap._engine.stats.ended_ns, unit="ns", tz="UTC")
    assert bool(bars["closed"].iloc[-1]) == (bars.index[-1] + pd.Timedelta(minutes=1) <= ended)
    assert set(bars["interval"]) == {"1min"}


def test_every_kline_interval(sb: Sandbox) -> None:
    tokens = ["1m", "5m", "15m", "30m", "1h", "4h", "6h", "12h", "1d", "3d", "1w", "1M"]
    chans = [f"klines:{t}" for t in tokens]
    cap = capture_until(lambda s: all(s["per_channel"].values()), "bitget", ["BTCUSDT"], chans)
    assert cap.stats["server_errors"] == []
    assert len(set(cap.klines["interval"])) == 12


def test_usdt_futures(sb: Sandbox) -> None:
    with trading(sb, "bitget", ["BTCUSDT"]):
        cap = mdkit.capture("bitget", "BTCUSDT", "trades", inst_type="USDT-FUTURES", seconds=2)
    assert len(cap.trades) > 0 and cap.stats["server_errors"] == []
    with pytest.raises(UnknownSymbol, match="ETHBTC"):  # not a USDT-FUTURES contract
        mdkit.capture("bitget", ["ETHBTC"], ["trades"], inst_type="USDT-FUTURES", seconds=1)


def test_unknown_symbol_and_limits_fail_before_connecting(sb: Sandbox) -> None:
    before = sb.bitget.accepted
    with pytest.raises(UnknownSymbol, match="close matches: BTCUSDT"):
        mdkit.capture("bitget", ["BTCUSDX"], ["trades"], seconds=1)
    many = [f"S{i}USDT" for i in range(13000)]
    with pytest.raises(InvalidArgument, match="100 connections"):
        chans = ["trades", "book", "ticker", "book:1", "book:5", "book:15", "klines", "klines:5m"]
        mdkit.capture("bitget", many, chans, seconds=1)
    assert sb.bitget.accepted == before


def test_private_channels_after_a_sandbox_order_fills(sb: Sandbox) -> None:
    placed: list[dict[str, Any]] = []
    when(subscribed(sb, "account"), lambda: placed.append(
        sb.bitget.place_order("BTCUSDT", "buy", "100", order_type="market")))  # fmt: skip
    cap = mdkit.capture("bitget", [], ["orders", "fills", "account"], seconds=3 * FACTOR)
    assert placed, "the order was never placed"
    order = cap.orders[cap.orders["order_id"] == placed[0]["orderId"]].iloc[-1]
    assert (order["status"], order["side"], order["type"], order["symbol"]) == (
        "filled", "buy", "market", "BTCUSDT")  # fmt: skip
    fills = cap.fills[cap.fills["order_id"] == placed[0]["orderId"]]
    assert len(fills) >= 1 and (fills["price"] * fills["amount"]).sum() == pytest.approx(100, 0.01)
    assert fills["fee_currency"].iloc[0] == "BTC" and (fills["fee"] > 0).all()
    usdt = cap.balances[cap.balances["coin"] == "usdt"]
    assert usdt["free"].iloc[0] - usdt["free"].iloc[-1] == pytest.approx(100, 0.01)
    # Every private item has the shape of Bitget's doc (newSize, stpMode...): no drift.
    assert cap.stats["drift"] == {}, cap.stats["drift"]


def test_orders_meet_bitgets_own_book(sb: Sandbox) -> None:
    # SOLUSDT is on Bitget, not on Crypto.com (the sandbox's base market): the order
    # fills on Bitget's view of the market, at prices of Bitget's own book.
    assert "SOLUSDT" in sb.bitget.view.instruments and "solusdt" not in sb.market.instruments
    placed: list[dict[str, Any]] = []
    when(subscribed(sb, "fill"), lambda: placed.append(
        sb.bitget.place_order("SOLUSDT", "buy", "0.5", price="1000")))  # fmt: skip
    cap = mdkit.capture("bitget", [], ["orders", "fills"], seconds=3 * FACTOR)
    assert placed, "the order was never placed"
    oid = placed[0]["orderId"]
    order = cap.orders[cap.orders["order_id"] == oid].iloc[-1]
    assert (order["status"], order["symbol"]) == ("filled", "SOLUSDT")
    fills = cap.fills[cap.fills["order_id"] == oid]
    assert len(fills) >= 1 and fills["amount"].sum() == pytest.approx(0.5)
    assert set(fills["symbol"].astype(str)) == {"SOLUSDT"}
    for when_, price in zip(fills.index, fills["price"], strict=True):
        asks = sb.bitget.view.book("SOLUSDT", when_.value / 1e9).asks[:, 0]
        assert price in asks, (price, asks[:5])


@pytest.mark.parametrize(
    ("override", "code"),
    [({"api_key": "nosuchkey"}, "30011"), ({"passphrase": "wrong"}, "30012"),
     ({"secret_key": "not-the-secret"}, "30015")],
)  # fmt: skip
def test_login_refused(sb: Sandbox, override: dict[str, str], code: str) -> None:
    with pytest.raises(AuthError) as info:
        mdkit.capture("bitget", [], ["orders"], seconds=5, **override)
    assert info.value.code == code
    assert "not-the-secret" not in repr(info.value) + str(info.value)


def test_login_timestamp_expired() -> None:
    with Sandbox(clock=lambda: time.time() + 120) as box:
        with pytest.raises(AuthError) as info:
            mdkit.capture("bitget", [], ["orders"], seconds=5)
        assert info.value.code == "30014" and box.bitget.accepted == 1


def _server_book(box: Sandbox, symbol: str, ts_ns: int) -> tuple[np.ndarray, np.ndarray]:
    book = box.bitget.view.book(symbol.upper(), ts_ns / 1e9)
    return book.bids[:10], book.asks[:10]


def _integrity_run(box: Sandbox, fault: str, reason: str) -> None:
    when(subscribed(box, "books"), lambda: box.bitget.inject(fault))
    cap = mdkit.capture("bitget", ["ETHUSDT"], ["book"], seconds=5 * FACTOR)
    gaps = cap.gaps[cap.gaps["reason"].str.contains(reason)]
    assert len(gaps) == 1 and cap.stats["resyncs"] == 1
    gap = gaps.iloc[0]
    assert gap["channels"] == "book ETHUSDT" and not pd.isna(gap["end"])
    depth = cap.depth
    after = depth[(depth.index >= gap["start"] - pd.Timedelta("1s")) & depth["is_snapshot"]]
    assert pd.DatetimeIndex(after["local_timestamp"]).max() >= gap["start"]  # a fresh snapshot
    last = cap.book(levels=10).iloc[-1]
    bids, asks = _server_book(box, "ethusdt", pd.Timestamp(last.name).value)
    assert [last[f"bids[{i}].price"] for i in range(10)] == bids[:, 0].tolist()
    assert [last[f"bids[{i}].amount"] for i in range(10)] == bids[:, 1].tolist()
    assert [last[f"asks[{i}].price"] for i in range(10)] == asks[:, 0].tolist()
    assert [last[f"asks[{i}].amount"] for i in range(10)] == asks[:, 1].tolist()


def test_checksum_mismatch_resubscribes_one_channel(sb: Sandbox) -> None:
    _integrity_run(sb, "checksum", "checksum mismatch")


def test_seq_gap_resubscribes_one_channel() -> None:
    with Sandbox(bitget_options={"integrity": "seq"}) as box:
        _integrity_run(box, "seq_gap", "seq gap")


def test_1500_channels_over_two_connections(sb: Sandbox) -> None:
    listed = listing.venue_symbols(get_venue("bitget"), {})  # what mdkit.symbols lists
    assert listed is not None and len(listed) >= 800
    symbols = listed[:750]
    before = len(sb.bitget.ended)

    def all_sent(stats: dict[str, Any]) -> bool:
        return sum(1 for n in stats["per_channel"].values() if n > 0) == 1500

    cap = capture_until(all_sent, "bitget", symbols, ["trades", "book:1"], seconds=60)
    stats = cap.stats
    assert stats["connections"] == 2 and stats["reconnects"] == 0
    assert stats["server_errors"] == []
    assert sum(1 for n in stats["per_channel"].values() if n > 0) == 1500
    assert "over rate limit" not in sb.bitget.ended[before:]


def test_forced_disconnect_reconnects_without_losing_rows() -> None:
    with Sandbox(bitget_options={"max_age": 2.0, "rate": 4}) as box:
        with trading(box, "bitget", ["BTCUSDT"]):  # trades before and after the cut
            cap = mdkit.capture("bitget", ["BTCUSDT"], ["trades"], seconds=5 * FACTOR)
        assert cap.stats["reconnects"] >= 1 and "max age" in box.bitget.ended
        gap = cap.gaps.iloc[0]
        trades = cap.trades
        assert (trades["local_timestamp"] < gap["start"]).any()
        assert (trades["local_timestamp"] > gap["end"]).any()
        # The backfill after the reconnect fills the gap: every market trade is there once.
        ms = pd.DatetimeIndex(trades.index).asi8 // 10**6
        market = box.bitget.view.trades("BTCUSDT", int(ms.min()), int(ms.max()) + 1)
        assert trades["id"].tolist() == market.id.tolist()
