"""mdkit.capture("itick", ...) against the sandbox over real sockets: channels and errors."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import mdkit
from mdkit.errors import AuthError, VenueError
from mdkit.sandbox import Sandbox
from mdkit.sandbox.itick import DEMO_TOKEN, LEGACY_PATH
from tests.conftest import trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
SYMBOLS = ["BTCUSDT", "ETHUSDT"]
CHANNELS = ["quotes", "trades", "book", "ticker", "klines:1min", "klines:1h"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, itick_options={"rate": 4, "max_subscriptions": 5}) as box:
        yield box


@pytest.fixture(autouse=True)
def _clear(sb: Sandbox) -> Iterator[None]:
    yield
    sb.itick.clear_faults()


@pytest.fixture(scope="module")
def cap(sb: Sandbox) -> mdkit.Capture:
    with trading(sb, "itick", SYMBOLS):  # both symbols trade during the capture
        return mdkit.capture("itick", SYMBOLS, CHANNELS, seconds=2.0 * FACTOR)


def test_every_channel_has_rows(cap: mdkit.Capture) -> None:
    per = cap.stats["per_channel"]
    for channel in ("quotes", "trades", "book", "ticker", "klines:1min", "klines:60min"):
        for symbol in SYMBOLS:
            assert per[f"{channel} {symbol}"] > 0, per
    assert cap.stats["outcome"] == "completed" and cap.stats["connections"] == 1
    assert cap.stats["server_errors"] == [] and cap.stats["parse_errors"] == 0


def test_frames_follow_the_contract(cap: mdkit.Capture) -> None:
    assert set(cap.frames()) == {"trades", "ticker", "klines", "depth", "quotes"}
    trades = cap.trades
    assert set(trades["symbol"]) == set(SYMBOLS)  # pushed as BTC_USDT, mapped back
    assert str(trades.index.tz) == "UTC" and (trades["price"] > 0).all()
    assert trades["side"].isna().all() and trades["id"].isna().all()  # not sent by iTick
    q = cap.quotes
    assert (q["bid_price"] < q["ask_price"]).all() and (q["bid_amount"] > 0).all()
    t = cap.ticker
    # The doc's quote has no open/high/low, and its v/tu are the last trade's: not a 24 h
    # volume, so not written as one (quote_fields="sdk" reads them).
    assert (t["last"] > 0).all() and not {"open", "quote_volume"} & set(t.columns)
    k = cap.klines
    assert set(k["interval"]) == {"1min", "60min"}
    assert (k["low"] <= k["high"]).all()
    top = cap.book(levels=5)
    assert (top["bids[0].price"] < top["asks[0].price"]).all()
    assert top["asks[4].price"].notna().all()


def test_one_subscribe_message_for_everything(sb: Sandbox, cap: mdkit.Capture) -> None:
    subs = [m for m in sb.itick.received if isinstance(m, dict) and m.get("ac") == "subscribe"]
    assert {
        "ac": "subscribe",
        "params": "BTCUSDT,ETHUSDT",
        "types": "depth,tick,quote,kline@1,kline@5",
    } in subs


def test_in_band_auth_on_the_legacy_path(sb: Sandbox) -> None:
    with trading(sb, "itick", ["ETHUSDT"]):
        cap = mdkit.capture(
            "itick",
            "ETHUSDT",
            "trades",
            seconds=1.5 * FACTOR,
            auth="message",
            url=sb.itick.url(LEGACY_PATH),
        )
    assert cap.stats["per_channel"]["trades ETHUSDT"] > 0


def test_missing_token_fails_before_connecting(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MDKIT_ITICK_TOKEN")
    accepted = sb.itick.accepted
    with pytest.raises(AuthError, match="MDKIT_ITICK_TOKEN"):
        mdkit.capture("itick", "BTCUSDT", "trades", seconds=5)
    assert sb.itick.accepted == accepted


def test_bad_token_is_an_auth_error_at_once(sb: Sandbox) -> None:
    start = time.monotonic()
    with pytest.raises(AuthError, match="auth failed") as info:
        mdkit.capture("itick", "BTCUSDT", "trades", seconds=30, token="wrong-token-123")
    assert time.monotonic() - start < 5 * FACTOR  # not the 30 s box, not a reconnect loop
    assert "wrong-token-123" not in str(info.value) and "wrong-token-123" not in repr(info.value)
    assert info.value.capture.stats["connections"] == 1  # type: ignore[attr-defined]


def test_bad_token_refused_at_handshake_is_an_auth_error_at_once() -> None:
    with Sandbox(seed=7, itick_options={"refuse_at_handshake": True}) as box:
        start = time.monotonic()
        with pytest.raises(AuthError, match="401"):
            mdkit.capture("itick", "BTCUSDT", "trades", seconds=30, token="wrong")
        assert time.monotonic() - start < 5 * FACTOR
        assert box.itick.accepted == 0


def test_subscription_limit_is_a_venue_error(sb: Sandbox) -> None:
    symbols = ["BTCUSDT", "ETHUSDT", "LTCUSDT", "XRPUSDT", "CROUSDT", "ETHBTC"]  # 6 > 5
    with pytest.raises(VenueError, match="exceeding the maximum subscription limit") as info:
        mdkit.capture("itick", symbols, "ticker", seconds=30)
    assert info.value.code == "E003"


def test_unknown_symbol_cannot_be_resolved(sb: Sandbox) -> None:
    with pytest.raises(VenueError, match="cannot be resolved action"):
        mdkit.capture("itick", "NOSUCHCOIN", "trades", seconds=30)


def test_kicked_by_another_connection_stops_with_a_clear_error(sb: Sandbox) -> None:
    from websockets.sync.client import connect

    kicked_before = sb.itick.kicked

    def intruder() -> None:
        # Wait until the capture's connection is live, then take over its token.
        deadline = time.monotonic() + 10 * FACTOR
        while not any(c.open for c in sb.itick.connections) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5 * FACTOR)
        with connect(sb.itick.url(), additional_headers={"token": DEMO_TOKEN}) as ws:
            ws.recv(timeout=5)
            ws.recv(timeout=5)

    thread = threading.Thread(target=intruder)
    thread.start()
    start = time.monotonic()
    with pytest.raises(VenueError, match="one connection per token") as info:
        mdkit.capture("itick", "BTCUSDT", "trades", seconds=30)
    thread.join()
    assert time.monotonic() - start < 10 * FACTOR
    assert info.value.code == "kicked"
    stats = info.value.capture.stats  # type: ignore[attr-defined]
    assert stats["connections"] == 1 and stats["reconnects"] == 0
    assert sb.itick.kicked == kicked_before + 1


@pytest.mark.parametrize("kind", ["drop", "close"])
def test_other_disconnects_reconnect(sb: Sandbox, kind: str) -> None:
    def inject() -> None:
        deadline = time.monotonic() + 10 * FACTOR
        while not any(c.open for c in sb.itick.connections) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5 * FACTOR)
        sb.itick.inject(kind)

    thread = threading.Thread(target=inject)
    thread.start()
    with trading(sb, "itick", ["BTCUSDT"]):
        cap = mdkit.capture("itick", "BTCUSDT", "trades", seconds=3 * FACTOR, backoff=(0.05, 0.2))
    thread.join()
    assert cap.stats["reconnects"] >= 1 and cap.stats["outcome"] == "completed"
    assert len(cap.gaps) >= 1 and cap.gaps["end"].notna().all()
    assert isinstance(cap.trades.index, pd.DatetimeIndex)


def test_malformed_frame_is_kept_and_counted(sb: Sandbox) -> None:
    sb.itick.inject("malformed")  # applied to the next connection
    with trading(sb, "itick", ["BTCUSDT"]):
        cap = mdkit.capture("itick", "BTCUSDT", "trades", seconds=1.0 * FACTOR)
    assert cap.stats["parse_errors"] == 1 and cap.raw["error"].sum() == 1
    assert cap.stats["per_channel"]["trades BTCUSDT"] > 0


def test_a_server_that_takes_one_type_per_message(sb: Sandbox) -> None:
    # The doc's subscribe example has one type; a server that refuses the combined
    # form used to end the capture. mdkit falls back to one type per message.
    with Sandbox(seed=7, itick_options={"rate": 4, "combined_types": False}):
        cap = mdkit.capture("itick", ["BTCUSDT"], ["ticker", "book"], seconds=1.5 * FACTOR)
    per = cap.stats["per_channel"]
    assert per["ticker BTCUSDT"] > 0 and per["book BTCUSDT"] > 0, cap
    assert cap.stats["outcome"] == "completed" and not cap.stats["server_errors"]


def test_a_close_after_every_reconnect_is_the_one_connection_rule() -> None:
    # The doc says only that the earlier connection "will be disconnected": no close
    # code, no reason. This server closes every connection (code 1000, no reason) soon
    # after the subscribe, as another client with the same token would make it do.
    from tests.conftest import tiny_server

    connects: list[float] = []

    async def other_client_takes_over(ws: Any) -> None:
        connects.append(time.monotonic())
        await ws.send('{"code":1,"msg":"Connected Successfully"}')
        await ws.send('{"code":1,"resAc":"auth","msg":"authenticated"}')
        await ws.recv()
        await ws.send('{"code":1,"resAc":"subscribe","msg":"subscribe Successfully"}')
        await ws.close(1000)

    with tiny_server(other_client_takes_over) as url:
        with pytest.raises(VenueError, match="one-connection rule") as info:
            mdkit.capture(
                "itick", "BTCUSDT", "trades", seconds=30, url=url, token="t", backoff=(0.05, 0.1)
            )
    assert info.value.code == "kicked" and len(connects) == 3  # no endless duel
