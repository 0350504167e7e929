"""The Richamster sandbox server alone, with a bare websockets client, from the doc."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect

from mdkit.sandbox import Sandbox
from mdkit.sandbox.richamster import CHANNEL_INVALID, DEMO_TOKEN, PAIR_INVALID
from tests.conftest import trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=11, set_env=False) as box:
        yield box


async def recv_until(
    ws: ClientConnection, done: Callable[[list[dict[str, Any]]], bool], seconds: float = 5.0
) -> list[dict[str, Any]]:
    """Frames until ``done(frames)`` holds; fails at the deadline."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds * FACTOR
    while not done(frames):
        left = deadline - time.monotonic()
        assert left > 0, f"condition not met; got {len(frames)} frames: {frames[-5:]}"
        frames.append(orjson.loads(await asyncio.wait_for(ws.recv(), left)))
    return frames


def client(sb: Sandbox) -> connect:
    """A bare client; an unbounded queue, so closing with unread pushes is not delayed
    (websockets stops reading at 16 queued frames and would miss the close frame)."""
    return connect(sb.richamster.url(), max_queue=None)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def acks(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if "type" in f]


def test_doc_subscribe_and_ack(sb: Sandbox) -> None:
    async def go() -> list[dict[str, Any]]:
        async with client(sb) as ws:
            await ws.send('{"channel": "trading", "pair": "KRB/UAH"}')  # the doc's example
            return await recv_until(ws, lambda f: len(acks(f)) == 1)

    (ack,) = acks(run(go()))
    assert ack == {
        "type": "success",
        "message": 'You are connected to channel "trading" and currency pair "KRB/UAH"',
    }


def test_errors_answer_each_message_in_order(sb: Sandbox) -> None:
    async def go() -> list[dict[str, Any]]:
        async with client(sb) as ws:
            for msg in (
                {"channel": "tickers", "pair": "KRB/UAH"},
                {"channel": "ticker", "pair": "KRBUAH"},
                {"channel": "user_orders", "pair": "KRB/UAH"},
                {"channel": "user_orders", "pair": "KRB/UAH", "token": "nope"},
            ):
                await ws.send(orjson.dumps(msg).decode())
            await ws.send("not json")
            return await recv_until(ws, lambda f: len(acks(f)) == 5)

    got = acks(run(go()))
    assert [a["type"] for a in got] == ["error"] * 5
    assert got[0]["message"] == CHANNEL_INVALID and got[1]["message"] == PAIR_INVALID
    assert "token" in got[2]["message"] and "token" in got[3]["message"]


def test_every_channel_shapes_and_sides(sb: Sandbox) -> None:
    async def go() -> list[dict[str, Any]]:
        async with client(sb) as ws:
            for channel in ("ticker", "order_book", "trading"):
                await ws.send(orjson.dumps({"channel": channel, "pair": "BTC/UAH"}).decode())

            def enough(frames: list[dict[str, Any]]) -> bool:
                return all(any(k in f for f in frames) for k in ("last", "unit_price", "closed_at"))

            return await recv_until(ws, enough, 8.0)

    with trading(sb, "richamster", ["BTC/UAH"]):  # a trade to see, not one to wait for
        frames = [f for f in run(go()) if "type" not in f]
    assert all(f["pair"] == "BTC/UAH" and "channel" not in f for f in frames)
    ticker = next(f for f in frames if "last" in f)
    assert set(ticker) == {"pair", "last", "first", "high", "low", "volume"}
    assert ticker["low"] <= ticker["last"] <= ticker["high"]
    book = [f for f in frames if "unit_price" in f and "closed_at" not in f]
    assert {f["side"] for f in book} == {"buying", "selling"}
    assert set(book[0]) == {"pair", "unit_price", "sum", "side", "volume"}
    # The book a client rebuilds frame by frame is never crossed (removals are sent
    # before additions); the market moves, so this is checked after every frame.
    levels: dict[tuple[str, float], float] = {}
    for f in book:
        key = (f["side"], float(f["unit_price"]))
        if float(f["volume"]) == 0:
            levels.pop(key, None)
        else:
            levels[key] = float(f["volume"])
        bids = [p for s, p in levels if s == "buying"]
        asks = [p for s, p in levels if s == "selling"]
        assert not bids or not asks or max(bids) < min(asks)
    assert any(s == "buying" for s, _ in levels) and any(s == "selling" for s, _ in levels)
    trade = next(f for f in frames if "closed_at" in f)
    assert set(trade) == {"created_at", "closed_at", "side", "volume", "unit_price", "sum", "pair"}
    assert trade["closed_at"].isdigit() and int(trade["created_at"]) <= int(trade["closed_at"])
    assert abs(int(trade["closed_at"]) - time.time()) < 30
    assert trade["side"] in ("buying", "selling")


def test_numbers_are_exact_decimals_of_the_pair(sb: Sandbox) -> None:
    async def go() -> list[str]:
        async with client(sb) as ws:
            await ws.send('{"channel":"order_book","pair":"KRB/UAH"}')
            frames: list[str] = []
            while len(frames) < 20:
                frames.append(str(await asyncio.wait_for(ws.recv(), 5 * FACTOR)))
            return frames

    for text in run(go())[1:]:
        price = text.split('"unit_price":')[1].split(",")[0]
        assert len(price.partition(".")[2]) <= 4, text  # KRB/UAH: 4 price decimals
        assert "e" not in price.lower()


def test_user_orders_need_the_token_and_push_the_accounts_orders(sb: Sandbox) -> None:
    async def go() -> list[dict[str, Any]]:
        async with client(sb) as ws:
            msg = {"channel": "user_orders", "pair": "KRB/UAH", "token": DEMO_TOKEN}
            await ws.send(orjson.dumps(msg).decode())
            await recv_until(ws, lambda f: len(acks(f)) == 1)
            mid = sb.richamster.view.mid("KRB/UAH", time.time())[0]
            order = sb.richamster.place_order("KRB/UAH", "buy", "10", f"{mid * 0.5:.4f}")
            frames = await recv_until(ws, lambda f: any(x.get("pk") == order.id for x in f))
            sb.richamster.cancel_order("KRB/UAH", order.id)
            frames += await recv_until(ws, lambda f: any(x.get("closed_at") for x in f))
            return frames

    frames = [f for f in run(go()) if "pk" in f]
    opened, cancelled = frames[0], frames[-1]
    assert opened["closed_at"] is None and cancelled["closed_at"].isdigit()
    assert opened["side"] == "buying" and opened["volume"] == 10 and opened["pair"] == "KRB/UAH"
    assert Decimal(str(opened["sum"])) == Decimal(str(opened["unit_price"])) * 10


def test_shared_faults(sb: Sandbox) -> None:
    assert set(sb.richamster.kinds) >= {"drop", "close", "kick", "malformed", "silence", "gap"}

    async def go() -> str:
        async with client(sb) as ws:
            await ws.send('{"channel":"ticker","pair":"KRB/UAH"}')
            await recv_until(ws, lambda f: len(acks(f)) == 1)
            sb.richamster.inject("malformed")
            deadline = time.monotonic() + 5 * FACTOR
            while time.monotonic() < deadline:
                text = str(await asyncio.wait_for(ws.recv(), 5 * FACTOR))
                try:
                    orjson.loads(text)
                except orjson.JSONDecodeError:
                    return text
            raise AssertionError("no malformed frame")

    assert run(go()).startswith('{"pair":"KRB/UAH"')
