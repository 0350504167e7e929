"""The iTick sandbox server alone, with a bare websockets client, against the doc."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mdkit.sandbox import Sandbox
from mdkit.sandbox.itick import DEMO_TOKEN, LEGACY_PATH, SDK_PATH
from tests.conftest import trading

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
WAIT = 5.0 * FACTOR


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, itick_options={"rate": 4, "max_subscriptions": 3}) as box:
        yield box


def recv(ws: ClientConnection, timeout: float = WAIT) -> Any:
    return json.loads(ws.recv(timeout=timeout))


def until(ws: ClientConnection, check: Any, timeout: float = WAIT) -> Any:
    """The first message for which check(msg) is true, within the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no matching message before the deadline")
        msg = recv(ws, left)
        if check(msg):
            return msg


@contextmanager
def open_authed(sb: Sandbox, path: str = "") -> Iterator[ClientConnection]:
    with connect(sb.itick.url(path), additional_headers={"token": DEMO_TOKEN}) as ws:
        assert recv(ws) == {"code": 1, "msg": "Connected Successfully"}
        assert recv(ws) == {"code": 1, "resAc": "auth", "msg": "authenticated"}
        yield ws


def test_missing_token_header_refused_at_handshake(sb: Sandbox) -> None:
    with pytest.raises(InvalidStatus) as info:
        connect(sb.itick.url())
    assert info.value.response.status_code == 401


def test_wrong_token_auth_failed_then_closed(sb: Sandbox) -> None:
    with connect(sb.itick.url(), additional_headers={"token": "nope"}) as ws:
        assert recv(ws) == {"code": 1, "msg": "Connected Successfully"}
        assert recv(ws) == {"code": 0, "resAc": "auth", "msg": "auth failed"}
        with pytest.raises(ConnectionClosed):
            recv(ws)


def test_legacy_in_band_auth(sb: Sandbox) -> None:
    with connect(sb.itick.url(LEGACY_PATH)) as ws:
        assert recv(ws) == {"code": 1, "msg": "Connected Successfully"}
        ws.send(json.dumps({"ac": "auth", "params": DEMO_TOKEN}))
        assert recv(ws) == {"code": 1, "resAc": "auth", "msg": "authenticated"}
        ws.send(json.dumps({"ac": "ping", "params": "1731688569840"}))
        assert recv(ws) == {"resAc": "pong", "data": {"params": "1731688569840"}}


def test_subscribe_and_every_push_type(sb: Sandbox) -> None:
    # ETHUSDT trades meanwhile: the "tick" (trade) push is made, not awaited from luck.
    with open_authed(sb, SDK_PATH) as ws, trading(sb, "itick", ["ETHUSDT"]):
        ws.send(
            json.dumps(
                {"ac": "subscribe", "params": "ETHUSDT", "types": "quote,tick,depth,kline@1"}
            )
        )
        assert until(ws, lambda m: "resAc" in m) == {
            "code": 1,
            "resAc": "subscribe",
            "msg": "subscribe Successfully",
        }
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + WAIT
        while len(seen) < 4 and time.monotonic() < deadline:
            msg = recv(ws)
            data = msg.get("data") or {}
            seen[data.get("type") or ("kline" if "k" in data else "?")] = msg
        assert set(seen) == {"quote", "tick", "depth", "kline"}
        assert all(m["data"]["s"] == "ETH_USDT" for m in seen.values())
        quote = seen["quote"]["data"]
        # Strict by default: the doc's quote fields only, v/tu of the last trade.
        assert quote["ts"] == 0 and set(quote) == {"s", "ld", "t", "v", "tu", "ts", "type"}
        assert abs(quote["tu"] - quote["ld"] * quote["v"]) <= 1e-6 * max(1.0, quote["tu"])
        depth = seen["depth"]["data"]
        assert [lv["po"] for lv in depth["b"]] == [1, 2, 3, 4, 5]
        assert depth["b"][0]["p"] < depth["a"][0]["p"]
        kline = seen["kline"]  # the doc's form: code 0, msg null, period in t
        assert kline["code"] == 0 and kline["msg"] is None and kline["data"]["t"] == 1
        assert set(kline["data"]["k"]) == {"t", "o", "h", "l", "c", "v", "tu"}


def test_numbers_are_exact_grid_decimals(sb: Sandbox) -> None:
    with open_authed(sb) as ws:
        ws.send(json.dumps({"ac": "subscribe", "params": "BTCUSDT", "types": "depth"}))
        text = ""
        while '"type":"depth"' not in text:
            text = str(ws.recv(timeout=WAIT))
        prices = json.loads(text, parse_float=Decimal)["data"]["a"]
        # An integral price is written without a fraction (a JSON int).
        assert all(-Decimal(str(p["p"])).as_tuple().exponent <= 2 for p in prices)  # 2 decimals


@pytest.mark.parametrize(
    "message",
    [
        {"ac": "subscribe", "params": "NOSUCHCOIN", "types": "quote"},
        {"ac": "subscribe", "params": "BTCUSDT", "types": "candles"},
        {"ac": "subscribe", "types": "quote"},
        {"ac": "dance"},
    ],
)
def test_cannot_be_resolved_action(sb: Sandbox, message: dict[str, Any]) -> None:
    with open_authed(sb) as ws:
        ws.send(json.dumps(message))
        reply = recv(ws)
        assert reply["code"] == 0 and reply["msg"] == "cannot be resolved action"


def test_subscription_limit(sb: Sandbox) -> None:
    with open_authed(sb) as ws:
        ws.send(
            json.dumps({"ac": "subscribe", "params": "BTCUSDT,ETHUSDT,LTCUSDT", "types": "quote"})
        )
        assert until(ws, lambda m: "resAc" in m)["code"] == 1
        ws.send(json.dumps({"ac": "subscribe", "params": "XRPUSDT", "types": "quote"}))
        reply = until(ws, lambda m: "resAc" in m)
        assert reply == {
            "code": 0,
            "resAc": "subscribe",
            "msg": "exceeding the maximum subscription limit",
        }


def test_second_connection_kicks_the_first(sb: Sandbox) -> None:
    before = sb.itick.kicked
    with open_authed(sb) as first, open_authed(sb) as second:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                first.recv(timeout=WAIT)
        assert info.value.rcvd is not None and info.value.rcvd.code == 4000
        assert "kicked" in info.value.rcvd.reason
        second.send(json.dumps({"ac": "ping", "params": "1"}))
        assert until(second, lambda m: m.get("resAc") == "pong")["data"]["params"] == "1"
        assert sb.itick.kicked == before + 1


def test_idle_client_is_closed() -> None:
    with Sandbox(seed=7, itick_options={"idle_timeout": 0.5}) as box:
        with open_authed(box) as ws:
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=WAIT)
        # the client sees the close a moment before the server records why
        deadline = time.monotonic() + WAIT
        while "idle" not in box.itick.ended and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "idle" in box.itick.ended
