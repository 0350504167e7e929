"""The Crypto.com v1 WebSocket sandbox server, checked with a bare websockets client."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from mdkit.sandbox import Market
from mdkit.sandbox.cryptocom_ws import CryptocomWsServer
from mdkit.sandbox.wshost import WsHost
from tests.conftest import trading


@pytest.fixture
def market() -> Market:
    return Market(7)


class Served:
    """The server on its own WsHost, with the URL a client dials."""

    def __init__(self, server: CryptocomWsServer) -> None:
        self.server = server
        self.url = server.url()
        self.pongs = server.pongs
        self.ended = server.ended


def serve(market: Market, **options: Any) -> Iterator[Served]:
    host = WsHost()
    server = CryptocomWsServer(market, **options)
    host.attach(server)
    host.start()
    try:
        assert server.url().endswith("/cryptocom/kline-api/ws")
        yield Served(server)
    finally:
        host.stop()


@pytest.fixture
def server(market: Market) -> Iterator[Served]:
    yield from serve(market, ping_interval=0.2, rate=5)


def unzip(frame: bytes | str) -> Any:
    assert isinstance(frame, bytes), "every server frame must be binary"
    assert frame[:2] == b"\x1f\x8b", "every server frame must be gzip"
    return orjson.loads(zlib.decompress(frame, 31))


async def session(
    url: str, sends: list[dict[str, Any]], seconds: float, until: Any = None
) -> list[Any]:
    out: list[Any] = []
    async with connect(url) as ws:
        for message in sends:
            await ws.send(orjson.dumps(message).decode())
        try:
            async with asyncio.timeout(seconds):
                async for frame in ws:
                    msg = unzip(frame)
                    out.append(msg)
                    if "ping" in msg:
                        await ws.send(orjson.dumps({"pong": msg["ping"]}).decode())
                    if until is not None and until(out):
                        break
        except TimeoutError:
            pass
    return out


def sub(channel: str, **extra: Any) -> dict[str, Any]:
    return {"event": "sub", "params": {"channel": channel, "cb_id": "t", **extra}}


def test_pushes_acks_and_gzip_pings(server: Served, market: Market) -> None:
    channels = [
        "market_btcusdt_trade_ticker",
        "market_btcusdt_ticker",
        "market_btcusdt_kline_1min",
        "market_btcusdt_depth_step0",
    ]
    with trading(market, "cryptocom", ["btcusdt"]):  # a trade to see, not one to wait for
        got = asyncio.run(session(server.url, [sub(c) for c in channels], 1.5))
    acks = [m for m in got if m.get("event_rep") == "subed"]
    assert sorted(a["channel"] for a in acks) == sorted(channels)
    assert all(a["status"] == "ok" for a in acks)
    pushes = {c: [m for m in got if m.get("channel") == c and "tick" in m] for c in channels}
    assert all(pushes.values()), {c: len(v) for c, v in pushes.items()}
    trade = pushes["market_btcusdt_trade_ticker"][0]["tick"]["data"][0]
    assert set(trade) >= {"id", "side", "price", "vol", "amount", "ts"}
    book = pushes["market_btcusdt_depth_step0"][0]["tick"]
    assert set(book) == {"asks", "buys"} and len(book["asks"]) == 150
    assert book["buys"][0][0] < book["asks"][0][0]
    kline = pushes["market_btcusdt_kline_1min"][0]["tick"]
    assert kline["id"] % 60 == 0 and kline["id"] < 1e11  # seconds
    assert any("ping" in m and m["ping"] > 1e12 for m in got)  # ms, gzip like the rest
    assert server.pongs


def test_ackless_mode_and_string_numbers(market: Market) -> None:
    for server in serve(market, ack=False, strings=True, rate=5):
        subs = [sub("market_btcusdt_trade_ticker"), sub("market_btcusdt_ticker")]
        with trading(market, "cryptocom", ["btcusdt"]):
            got = asyncio.run(session(server.url, subs, 1.2))
        assert not [m for m in got if m.get("event_rep") == "subed"]
        pushes = [m for m in got if "tick" in m]
        assert pushes and all(m["event_rep"] == "" for m in pushes)
        trades = [t for m in pushes if "data" in m["tick"] for t in m["tick"]["data"]]
        assert trades and all(t["side"] in ("BUY", "SELL") for t in trades)
        assert all(isinstance(t["price"], str) for t in trades)


def test_incremental_depth(market: Market) -> None:
    for server in serve(market, depth_mode="incremental", rate=4):
        got = asyncio.run(session(server.url, [sub("market_btcusdt_depth_step0")], 2.3))
        ticks = [m["tick"] for m in got if "tick" in m]
        assert "asks" in ticks[0] and "buys" in ticks[0]  # the full book first
        increments = [t for t in ticks[1:] if "side" in t]
        assert increments, "the book changes every second: increments must come"
        assert {t["side"] for t in increments} <= {"asks", "buys"}


def test_kline_history_pages(server: Served, market: Market) -> None:
    since = int(market.now()) // 60 * 60 - 600 * 60
    req = {
        "event": "req",
        "params": {
            "channel": "market_btcusdt_kline_1min",
            "cb_id": "h",
            "since": str(since),
            "pageSize": 300,
        },
    }
    got = asyncio.run(session(server.url, [req], 0.8))
    rep = next(m for m in got if m.get("event_rep") == "rep")
    ids = [d["id"] for d in rep["data"]]
    assert (
        len(ids) == 300
        and ids[0] == since
        and all(b - a == 60 for a, b in zip(ids, ids[1:], strict=False))
    )
    assert set(rep["data"][0]) == {"id", "amount", "vol", "open", "close", "high", "low"}
    big = {"event": "req", "params": {"channel": "market_btcusdt_kline_1min", "pageSize": 900}}
    rep2 = next(
        m for m in asyncio.run(session(server.url, [big], 0.8)) if m.get("event_rep") == "rep"
    )
    assert len(rep2["data"]) <= 300


def test_trades_top_and_review(server: Served) -> None:
    reqs = [
        {"event": "req", "params": {"channel": "market_btcusdt_trade_ticker", "top": 500}},
        {"event": "req", "params": {"channel": "review"}},
        {"event": "nope", "params": {"channel": "x"}},
    ]

    def done(out: list[Any]) -> bool:
        reps = [m for m in out if m.get("event_rep") == "rep"]
        return len(reps) == 2 and any(m.get("event") == "nope" for m in out)

    got = asyncio.run(session(server.url, reqs, 20, done))
    reps = [m for m in got if m.get("event_rep") == "rep"]
    trades = next(m for m in reps if m["channel"].endswith("trade_ticker"))
    assert len(trades["data"]) == 200
    ids = [t["id"] for t in trades["data"]]
    assert ids == sorted(ids, reverse=True)
    review = next(m for m in reps if m["channel"] == "review")
    assert all(isinstance(v, str) for v in review["data"]["btcusdt"].values())
    assert {"event": "nope", "params": {"channel": "x"}} in got  # echoed


def test_unanswered_pings_drop_the_client(market: Market) -> None:
    for server in serve(market, ping_interval=0.1, max_unanswered=3):

        async def mute(url: str) -> str:
            async with connect(url) as ws:
                await ws.send(orjson.dumps(sub("market_btcusdt_ticker")).decode())
                try:
                    async with asyncio.timeout(3):
                        async for frame in ws:
                            msg = unzip(frame)
                            if "ping" in msg:  # a wrong value is no answer
                                await ws.send(orjson.dumps({"pong": msg["ping"] + 1}).decode())
                except ConnectionClosed as exc:
                    return str(exc.rcvd.reason if exc.rcvd else "")
                return "still open"
            return "closed"

        assert asyncio.run(mute(server.url)) in ("pong timeout", "closed")
        deadline = time.monotonic() + 5  # the server records the end just after the client
        while "no pong" not in server.ended and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "no pong" in server.ended and not server.pongs


def test_seconds_pings(market: Market) -> None:
    for server in serve(market, ping_interval=0.1, ping_unit="s"):
        got = asyncio.run(session(server.url, [], 0.5))
        pings = [m["ping"] for m in got if "ping" in m]
        assert pings and all(1e9 < p < 1e11 for p in pings)
