"""The BitTap sandbox server alone, with a bare websockets client, checked against the doc."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from mdkit.sandbox import Sandbox
from mdkit.sandbox.bittap import DEMO_KEY, DEMO_SECRET
from tests.conftest import trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, set_env=False, bittap_options={"idle_timeout": 2.0}) as box:
        yield box


def url(sb: Sandbox) -> str:
    return sb.bittap.url("/endpoint?format=JSON")


async def recv(ws: ClientConnection, match: Any = None, timeout: float = 5.0) -> dict[str, Any]:
    """The next message (that ``match`` accepts), within a deadline."""
    async with asyncio.timeout(timeout * FACTOR):
        while True:
            msg = json.loads(await ws.recv())
            if match is None or match(msg):
                return msg  # type: ignore[no-any-return]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def login_params(stamp_ms: int, secret: str = DEMO_SECRET, key: str = DEMO_KEY) -> list[str]:
    stamp = str(stamp_ms)
    return [key, stamp, hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()]


def test_time_and_ping_replies_carry_rate_limits(sb: Sandbox) -> None:
    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(url(sb)) as ws:
            await ws.send(json.dumps({"id": "187d3cb2", "method": "time"}))
            first = await recv(ws)
            await ws.send(json.dumps({"id": "922bcc6e", "method": "ping"}))
            return first, await recv(ws)

    t0 = time.time() * 1000
    first, second = run(go())
    assert first["id"] == "187d3cb2" and first["status"] == 200
    assert abs(first["result"]["serverTime"] - t0) < 5000
    (figure,) = first["rateLimits"]
    assert {k: figure[k] for k in ("rateLimitType", "interval", "intervalNum", "limit")} == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 6000,
    }
    assert second["id"] == "922bcc6e" and second["result"] == {}
    assert second["rateLimits"][0]["count"] == figure["count"] + 1  # weight 1 each


def test_past_the_limit_is_429_and_counted() -> None:
    with Sandbox(set_env=False, bittap_options={"rate_limit": 3, "rate_interval": "HOUR"}) as box:

        async def go() -> list[dict[str, Any]]:
            async with connect(url(box)) as ws:
                out = []
                for i in range(5):
                    await ws.send(json.dumps({"id": str(i), "method": "time"}))
                    out.append(await recv(ws))
                return out

        replies = run(go())
        assert [r["status"] for r in replies] == [200, 200, 200, 429, 429]
        assert replies[3]["error"]["code"] == -1003
        assert replies[4]["rateLimits"][0]["count"] == 5
        assert box.bittap.violations == 2


def test_subscribe_ack_lists_failed_topics(sb: Sandbox) -> None:
    good = [
        "s_trade@BTC-USDT",
        "s_ticker@ETH-USDT",
        "s_kline_3m@BTC-USDT",
        "s_depth1@BTC-USDT_0.01",
    ]
    bad = [
        "s_trade@NOPE-USDT",  # not listed
        "s_kline_7m@BTC-USDT",  # no such interval
        "s_depth1@BTC-USDT_0.001",  # finer than the tick
        "s_depth7@BTC-USDT_0.01",  # no such level
        "s_private",  # needs LOGIN first
    ]

    async def go() -> dict[str, Any]:
        async with connect(url(sb)) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": good + bad, "id": 7}))
            return await recv(ws, lambda m: "code" in m)

    ack = run(go())
    assert ack["id"] == 7 and ack["code"] != 0
    assert ack["topic"] == bad


def test_pushes_are_doc_shaped_with_exact_decimals(sb: Sandbox) -> None:
    topics = [
        "s_trade@BTC-USDT",
        "s_ticker@ETH-USDT",
        "s_kline_15m@BTC-USDT",
        "s_depth5@BTC-USDT_0.1",
    ]

    async def go() -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        async with connect(url(sb)) as ws:
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": topics, "id": 1}))
            ack = await recv(ws, lambda m: "code" in m)
            assert ack == {"code": 0, "msg": "", "topic": ["", ""], "id": 1}
            async with asyncio.timeout(15 * FACTOR):
                while len(seen) < 4:
                    # A client that only listens is closed after idle_timeout (2 s here).
                    await ws.send(json.dumps({"method": "PING"}))
                    try:
                        msg = await recv(ws, lambda m: "e" in m, timeout=1.0)
                    except TimeoutError:
                        continue
                    seen.setdefault(msg["e"], msg)
        return seen

    with trading(sb, "bittap", ["BTC-USDT"]):  # a trade to see, not one to wait for
        seen = run(go())
    trade = seen["s_trade"]
    assert set(trade) == {"e", "E", "s", "t", "p", "q", "T", "m"}
    assert trade["s"] == "BTC-USDT" and isinstance(trade["m"], bool)
    assert re.fullmatch(r"\d+\.\d{2}", trade["p"]) and re.fullmatch(r"\d+\.\d{6}", trade["q"])
    ticker = seen["s_ticker"]
    assert set(ticker) == {"e", "E", "s", "c", "o", "h", "l", "v", "q", "p", "P"}
    assert ticker["s"] == "ETH-USDT"
    kline = seen["s_kline_15m"]
    k = kline["k"]
    assert {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "q", "n", "x"} <= set(k)
    assert k["i"] == "15m" and k["t"] % 900_000 == 0 and k["T"] == k["t"] + 899_999
    depth = seen["s_depth5"]
    assert depth["i"] == "0.1" and len(depth["bids"]) == len(depth["asks"]) == 5
    for price, _ in depth["bids"] + depth["asks"]:
        assert Decimal(price) % Decimal("0.1") == 0  # merged to the scale
    assert Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])


@pytest.mark.parametrize(
    ("case", "reason"),
    [("good", None), ("bad_sig", -1022), ("old", -1021), ("future", -1021), ("key", -2015)],
)
def test_login_checks_key_signature_and_window(sb: Sandbox, case: str, reason: int | None) -> None:
    now = int(time.time() * 1000)
    params = {
        "good": login_params(now),
        "bad_sig": login_params(now, secret="wrong"),
        "old": login_params(now - 90_000),  # more than 1 min before the server
        "future": login_params(now + 400_000),  # more than 5 min after it
        "key": login_params(now, key="nobody"),
    }[case]

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(url(sb)) as ws:
            await ws.send(json.dumps({"id": "L", "method": "LOGIN", "params": params}))
            reply = await recv(ws)
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["s_private"], "id": 2}))
            return reply, await recv(ws, lambda m: "code" in m)

    reply, ack = run(go())
    if reason is None:
        assert reply["status"] == 200
        assert ack["topic"] == ["", ""]
    else:
        assert reply["status"] == 401 and reply["error"]["code"] == reason
        assert ack["topic"] == ["s_private"]


def test_private_stream_pushes_balances_after_login(sb: Sandbox) -> None:
    async def go() -> dict[str, Any]:
        async with connect(url(sb)) as ws:
            params = login_params(int(time.time() * 1000))
            await ws.send(json.dumps({"id": "L", "method": "LOGIN", "params": params}))
            await recv(ws)
            await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["s_private"], "id": 2}))
            return await recv(ws, lambda m: m.get("e") == "s_private")

    push = run(go())
    assert push["c"] == "BALANCE_UPDATE" and push["a"] == "USDT" and push["f"] == "100000"


@pytest.mark.parametrize("form", ["result", "method"])
def test_pong_variants(form: str) -> None:
    with Sandbox(set_env=False, bittap_options={"pong": form}) as box:

        async def go() -> dict[str, Any]:
            async with connect(url(box)) as ws:
                await ws.send(json.dumps({"id": "p", "method": "PING"}))
                return await recv(ws)

        assert run(go()) == ({"result": "PONG"} if form == "result" else {"method": "PONG"})


def test_idle_connection_is_closed_and_ping_keeps_it(sb: Sandbox) -> None:
    from websockets.exceptions import ConnectionClosed

    async def idle() -> float:
        async with connect(url(sb)) as ws:
            start = time.monotonic()
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=8 * FACTOR)
            return time.monotonic() - start

    async def pinging() -> int:
        replies = 0
        async with connect(url(sb)) as ws:
            end = time.monotonic() + 4.0  # twice the idle timeout
            while time.monotonic() < end:
                await ws.send(json.dumps({"id": f"k{replies}", "method": "PING"}))
                await recv(ws)
                replies += 1
                await asyncio.sleep(0.5)
            await ws.ping()  # still open
        return replies

    closed_after = run(idle())
    assert 1.5 < closed_after < 5.0 * FACTOR  # idle_timeout=2 s
    deadline = time.monotonic() + 5 * FACTOR  # the server records it after the close handshake
    while "idle" not in sb.bittap.ended and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "idle" in sb.bittap.ended
    assert run(pinging()) >= 6
