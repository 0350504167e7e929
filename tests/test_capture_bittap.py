"""mdkit.capture and mdkit.request against the BitTap sandbox server, over real sockets."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pandas as pd
import pytest

import mdkit
from mdkit.errors import (
    AuthError,
    InvalidArgument,
    RateLimitError,
    UnknownVenue,
    VenueError,
)
from mdkit.sandbox import Sandbox
from tests.conftest import trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


@pytest.fixture(autouse=True)
def _clear_bittap_faults(sandbox: Sandbox) -> Iterator[None]:
    yield
    sandbox.bittap.clear_faults()


def test_every_public_channel_in_one_capture(sandbox: Sandbox) -> None:
    chans = ["trades", "ticker", "klines:1m", "klines:3m", "klines:2h", "book:5"]
    with trading(sandbox, "bittap", ["BTC-USDT", "ETH-USDT"]):  # both trade meanwhile
        cap = mdkit.capture("bittap", ["BTC-USDT", "eth/usdt"], chans, seconds=2.5 * FACTOR)
    stats = cap.stats
    assert stats["outcome"] == "completed" and stats["parse_errors"] == 0
    assert stats["drift"] == {}, stats["drift"]  # the 2h bar carries f and L too
    assert set(stats["per_channel"]) == {
        f"{kind} {sym}"
        for kind in ("trades", "ticker", "klines:1min", "klines:3min", "klines:2h", "book")
        for sym in ("BTC-USDT", "ETH-USDT")
    }
    per = stats["per_channel"]
    assert all(n > 0 for n in per.values()), per
    assert cap.frames() == ["trades", "ticker", "klines", "depth"]

    # trades: exactly the market's tape, by id (the busier symbol)
    busiest = cap.trades["symbol"].value_counts().index[0]
    trades = cap.trades[cap.trades["symbol"] == busiest]
    start = int(trades.index[0].value // 1_000_000)
    end = int(trades.index[-1].value // 1_000_000) + 1
    tape = sandbox.bittap.view.trades(busiest, start, end)
    by_id = dict(zip(tape.id.tolist(), range(len(tape)), strict=True))
    for ts, row in trades.iterrows():
        i = by_id[int(row["id"])]
        assert row["price"] == tape.price[i] and row["amount"] == tape.amount[i]
        assert row["side"] == ("buy" if tape.is_buy[i] else "sell")
        assert ts == pd.Timestamp(int(tape.time_ms[i]), unit="ms", tz="UTC")
    assert str(trades["side"].dtype) == "category" and trades["price"].dtype == "float64"

    # klines: one row per bar and interval, the forming bar as the market has it
    k = cap.klines
    assert set(k["interval"].astype(str)) == {"1min", "3min", "2h"}
    bar = k[(k["symbol"] == "BTC-USDT") & (k["interval"] == "3min")].iloc[-1]
    opened = int(k[(k["symbol"] == "BTC-USDT") & (k["interval"] == "3min")].index[-1].value)
    rows = sandbox.bittap.view.klines("BTC-USDT", 180, opened // 10**9, opened // 10**9 + 180)
    assert bar["open"] == rows[0][1] and bar["high"] <= rows[0][2] and bar["low"] >= rows[0][3]

    # ticker: no bid/ask in BitTap's 24 h ticker; change is a fraction
    t = cap.ticker[cap.ticker["symbol"] == "ETH-USDT"].iloc[-1]
    assert t["low"] <= t["last"] <= t["high"]
    assert t["change"] == pytest.approx((t["last"] - t["open"]) / t["open"], abs=1e-4)
    assert "bid" not in cap.ticker or cap.ticker["bid"].isna().all()

    # book: 5 levels per side, never crossed
    top = cap.book(levels=5)
    assert top.attrs["crossed"] == 0
    assert (top["bids[0].price"] < top["asks[0].price"]).all()
    assert top[["bids[4].price", "asks[4].price"]].notna().all().all()


def test_compact_symbols_in_pushes_are_routed() -> None:
    # The doc's trade example says "s":"BTCUSDT" on an s_trade@BTC-USDT stream.
    with Sandbox(set_env=False, bittap_options={"compact_symbols": True}) as box:
        url = box.bittap.url("/endpoint?format=JSON")
        with trading(box, "bittap", ["BTC-USDT"]):
            cap = mdkit.capture(
                "bittap", "BTCUSDT", ["trades", "book:1"], url=url, seconds=2 * FACTOR
            )
    assert cap.stats["unrouted"] == 0
    assert set(cap.trades["symbol"]) == {"BTC-USDT"} and len(cap.depth)


def test_failed_topics_end_the_capture_naming_them(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(VenueError) as info:
        mdkit.capture("bittap", ["BTC-USDT", "DOGE-USDT"], ["trades", "book"], seconds=20)
    assert time.monotonic() - started < 10 * FACTOR  # at the ack, not at the time box
    text = str(info.value)
    assert "s_trade@DOGE-USDT" in text and "s_depth30@DOGE-USDT_0.01" in text
    assert "BTC-USDT" not in text.replace("DOGE-USDT", "")


def test_balances_after_a_signed_login(sandbox: Sandbox) -> None:
    cap = mdkit.capture("bittap", [], ["balances"], seconds=None, max_messages=4)
    bal = cap.balances.set_index("coin")
    assert bal.loc["USDT", "free"] == 100000.0 and bal.loc["BTC", "free"] == 2.0
    assert sandbox.bittap.logins[-1] == "ok"


def test_bad_signature_is_an_auth_error_at_once(sandbox: Sandbox) -> None:
    started = time.monotonic()
    with pytest.raises(AuthError) as info:
        mdkit.capture("bittap", [], ["balances"], seconds=20, secret_key="not-the-secret")
    assert time.monotonic() - started < 10 * FACTOR
    assert "-1022" in str(info.value) and "not-the-secret" not in repr(info.value)
    assert sandbox.bittap.logins[-1].startswith("-1022")


def test_private_channels_need_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDKIT_BITTAP_API_KEY", raising=False)
    monkeypatch.delenv("MDKIT_BITTAP_SECRET_KEY", raising=False)
    dead = "ws://127.0.0.1:9/nothing"
    with pytest.raises(AuthError, match="MDKIT_BITTAP_API_KEY, MDKIT_BITTAP_SECRET_KEY"):
        mdkit.capture("bittap", [], ["balances"], seconds=1, urls={"private": dead})


def test_drop_and_malformed_faults(sandbox: Sandbox) -> None:
    def inject_later() -> None:
        time.sleep(1.0)
        sandbox.bittap.inject("malformed")
        time.sleep(0.5)
        sandbox.bittap.inject("drop")

    import threading

    threading.Thread(target=inject_later, daemon=True).start()
    cap = mdkit.capture("bittap", "BTC-USDT", ["book:1"], seconds=4 * FACTOR, backoff=(0.1, 0.5))
    stats = cap.stats
    assert stats["parse_errors"] == 1 and cap.raw["error"].sum() == 1
    assert stats["reconnects"] >= 1 and stats["connections"] >= 2
    gaps = cap.gaps
    assert len(gaps) >= 1 and gaps["end"].notna().all()
    last_gap_end = gaps["end"].max()
    assert (cap.depth["local_timestamp"] > last_gap_end).any()  # data after the reconnect


# -- mdkit.request ---------------------------------------------------------------------------
def test_request_time_and_ping(sandbox: Sandbox) -> None:
    before = time.time() * 1000
    r = mdkit.request("bittap", "time")
    assert isinstance(r, mdkit.Response) and r.venue == "bittap" and r.method == "time"
    assert abs(r.result["serverTime"] - before) < 5000
    (figure,) = r.rate_limits.values()
    assert figure["limit"] == 6000 and figure["window"] == 60.0 and figure["count"] >= 1
    p = mdkit.request("bittap", "ping")
    assert p.result == {}
    assert next(iter(p.rate_limits.values()))["count"] == figure["count"] + 1


def test_arequest_under_a_running_loop(sandbox: Sandbox) -> None:
    async def both() -> tuple[mdkit.Response, mdkit.Response]:
        sync_in_loop = mdkit.request("bittap", "time")  # Jupyter-style: a loop is running
        return sync_in_loop, await mdkit.arequest("bittap", "ping")

    a, b = asyncio.run(both())
    assert "serverTime" in a.result and b.result == {}


def test_request_stays_under_the_reported_limit() -> None:
    # 10 per second; 30 calls: unpaced they take well under a second and break it.
    options = {"rate_limit": 10, "rate_interval": "SECOND"}
    with Sandbox(set_env=False, bittap_options=options) as box:
        url = box.bittap.url("/endpoint?format=JSON")
        started = time.monotonic()
        results = [mdkit.request("bittap", "time", url=url) for _ in range(30)]
        took = time.monotonic() - started
        assert box.bittap.violations == 0
        assert len(box.bittap.requests) == 30
        assert all(r.result["serverTime"] for r in results)
        counts = [r.rate_limits["REQUEST_WEIGHT 1 SECOND"]["count"] for r in results]
        assert max(counts) <= 8  # 80 % of the limit, then it waits for the next window
    assert took >= 2.0  # 30 calls at <= 8 a second


def test_rate_limit_reached_is_a_rate_limit_error(sandbox: Sandbox) -> None:
    sandbox.bittap.inject("rate_limit", count=1)
    with pytest.raises(RateLimitError, match="429"):
        mdkit.request("bittap", "time")
    assert mdkit.request("bittap", "time").result["serverTime"]


def test_request_bad_input_fails_before_connecting() -> None:
    dead = "ws://127.0.0.1:9/nothing"
    with pytest.raises(InvalidArgument, match="cryptocom has no request/response calls.*bittap"):
        mdkit.request("cryptocom", "time")
    with pytest.raises(InvalidArgument, match=r"valid: time .*; ping"):
        mdkit.request("bittap", "LOGIN", url=dead)
    with pytest.raises(InvalidArgument, match="JSON value"):
        mdkit.request("bittap", "time", url=dead, when=object())
    with pytest.raises(InvalidArgument, match="timeout"):
        mdkit.request("bittap", "time", url=dead, timeout=0)
    with pytest.raises(UnknownVenue, match="bittap"):
        mdkit.request("bitap", "time")


def test_request_exported() -> None:
    assert {"request", "arequest", "Response"} <= set(mdkit.__all__)


def test_one_connection_paces_itself_from_the_reported_figures() -> None:
    # Many calls at once over one connection: after the first reply the engine sends
    # at most 80 % of the reported 10/s, so the server never counts past its limit.
    from mdkit.engine.stream import Engine, Stream
    from mdkit.venues import get_venue

    options = {"rate_limit": 10, "rate_interval": "SECOND"}
    with Sandbox(set_env=False, bittap_options=options) as box:
        url = box.bittap.url("/endpoint?format=JSON")

        async def burst() -> list[object]:
            engine = Engine([Stream(get_venue("bittap"), (), {"public": url})], seconds=None)
            task = asyncio.ensure_future(engine.run())
            try:
                first = await engine.call("time", {})
                rest = await asyncio.gather(*(engine.call("ping", {}) for _ in range(20)))
                return [first, *rest]
            finally:
                engine.stop("done")
                await task

        started = time.monotonic()
        replies = asyncio.run(burst())
        took = time.monotonic() - started
        assert len(replies) == 21 and all(r.error is None for r in replies)  # type: ignore[attr-defined]
        assert box.bittap.violations == 0
    assert took >= 20 / 8 * 0.9  # 20 calls at 8 a second
