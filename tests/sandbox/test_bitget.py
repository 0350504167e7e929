"""The Bitget v2 sandbox server alone, with a bare websockets client written from the doc."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mdkit.sandbox import Sandbox
from mdkit.sandbox.bitget import DEMO_API_KEY, DEMO_PASSPHRASE, DEMO_SECRET_KEY
from tests.conftest import load_samples, trading

PUBLIC = load_samples("bitget_v2", "ws_public_recorded.json")
CONTROL = load_samples("bitget_v2", "ws_control_and_errors.json")


def sample(name: str) -> Any:
    return orjson.loads((PUBLIC | CONTROL)[name]["raw"])


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=7, set_env=False, bitget_options={"rate": 4}) as box:
        yield box


def ws(sb: Sandbox, private: bool = False) -> ClientConnection:
    path = "/v2/ws/private" if private else "/v2/ws/public"
    return connect(sb.bitget.url(path), open_timeout=5)


def recv(c: ClientConnection, timeout: float = 5.0) -> Any:
    text = c.recv(timeout=timeout)
    return text if text == "pong" else orjson.loads(text)


def until(c: ClientConnection, check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = recv(c, deadline - time.monotonic())
        if check(msg):
            return msg
    raise AssertionError("no matching frame")


def sub(inst_id: str, channel: str, inst_type: str = "SPOT") -> dict[str, str]:
    return {"instType": inst_type, "channel": channel, "instId": inst_id}


def subscribe(c: ClientConnection, *args: dict[str, str]) -> None:
    c.send(orjson.dumps({"op": "subscribe", "args": list(args)}).decode())


def login(c: ClientConnection, **override: str) -> None:
    stamp = str(int(time.time()))
    secret = override.pop("secret", DEMO_SECRET_KEY)
    content = f"{override.get('timestamp', stamp)}GET/user/verify".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()
    arg = {"apiKey": DEMO_API_KEY, "passphrase": DEMO_PASSPHRASE, "timestamp": stamp, "sign": sign}
    c.send(orjson.dumps({"op": "login", "args": [arg | override]}).decode())


def signed_crc(bids: list[list[str]], asks: list[list[str]]) -> int:
    parts: list[str] = []
    for i in range(25):
        parts += (bids[i] if i < len(bids) else []) + (asks[i] if i < len(asks) else [])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc


def apply(book: dict[str, str], levels: list[list[str]]) -> None:
    for price, size in levels:
        if size == "0":
            book.pop(price, None)
        else:
            book[price] = size


def top(book: dict[str, str], bids: bool) -> list[list[str]]:
    return [[p, book[p]] for p in sorted(book, key=float, reverse=bids)][:25]


# -- control ----------------------------------------------------------------------------------
def test_ping_and_bad_requests(sb: Sandbox) -> None:
    with ws(sb) as c:
        c.send("ping")
        assert recv(c) == "pong"
        c.send("hello")
        assert recv(c) == {"event": "error", "code": 30002, "msg": "Unrecognized request:hello"}
        c.send('{"op":"ping"}')
        assert recv(c)["code"] == 30002
        c.send('{"op":"nosuch","args":[]}')
        assert recv(c)["code"] == 30003


def test_channel_errors_match_recorded(sb: Sandbox) -> None:
    with ws(sb) as c:
        subscribe(c, sub("BTCUSDT", "candle1h"))
        assert recv(c) == sample("err_30016_candle1h_lowercase")
        subscribe(c, sub("NOPEUSDT", "books", "USDT-FUTURES"))
        err = recv(c)
        assert (err["event"], err["code"], err["op"]) == ("error", 30001, "subscribe")
        assert err.keys() == sample("err_30001_v2").keys()
        # A listed spot symbol under the wrong instType: acknowledged, then nothing.
        subscribe(c, sub("ETHBTC", "trade", "USDT-FUTURES"))
        assert recv(c) == {"event": "subscribe", "arg": sub("ETHBTC", "trade", "USDT-FUTURES")}
        with pytest.raises(TimeoutError):
            recv(c, 1.5)


# -- public channels, frames field for field ------------------------------------------------
def test_trade_ticker_candle_frames(sb: Sandbox) -> None:
    # BTCUSDT trades meanwhile: the trade update is made, not awaited from luck.
    with ws(sb) as c, trading(sb, "bitget", ["BTCUSDT"]):
        subscribe(c, sub("BTCUSDT", "trade"), sub("BTCUSDT", "ticker"), sub("BTCUSDT", "candle1H"))
        ack = recv(c)
        assert ack == sample("ack_subscribe_trade")
        snap = until(c, lambda m: m.get("action") == "snapshot" and m["arg"]["channel"] == "trade")
        assert snap.keys() == sample("trade_update_single").keys()
        assert 0 < len(snap["data"]) <= 30
        assert snap["data"][0].keys() == sample("trade_update_single")["data"][0].keys()
        ids = [int(t["tradeId"]) for t in snap["data"]]
        assert ids == sorted(ids, reverse=True)  # newest first
        tick = until(c, lambda m: "action" in m and m["arg"]["channel"] == "ticker")
        assert list(tick["data"][0]) == list(sample("ticker_spot")["data"][0])
        assert all(isinstance(v, str) for v in tick["data"][0].values())
        candle = until(c, lambda m: "action" in m and m["arg"]["channel"] == "candle1H")
        assert candle["action"] == "snapshot" and "ts" not in candle  # as recorded
        assert all(len(r) == 8 and all(isinstance(v, str) for v in r) for r in candle["data"])
        update = until(c, lambda m: m.get("action") == "update" and m["arg"]["channel"] == "trade")
        assert min(int(t["tradeId"]) for t in update["data"]) > max(ids)


def test_books_checksum_chain(sb: Sandbox) -> None:
    with ws(sb) as c:
        subscribe(c, sub("BTCUSDT", "books"), sub("BTCUSDT", "books5"))
        snap = until(c, lambda m: m.get("action") == "snapshot" and m["arg"]["channel"] == "books")
        assert snap["data"][0]["checksum"] == 0
        bids = {p: s for p, s in snap["data"][0]["bids"]}
        asks = {p: s for p, s in snap["data"][0]["asks"]}
        assert not any(p.endswith("0") and "." in p for p in bids)  # trailing zeros stripped
        five = until(c, lambda m: "action" in m and m["arg"]["channel"] == "books5")
        assert len(five["data"][0]["bids"]) == 5 and five["action"] == "snapshot"
        checked = 0
        while checked < 2:
            msg = until(c, lambda m: "action" in m and m["arg"]["channel"] == "books", 6)
            item = msg["data"][0]
            apply(bids, item["bids"])
            apply(asks, item["asks"])
            assert item["checksum"] == signed_crc(top(bids, True), top(asks, False))
            checked += 1
        sb.bitget.inject("checksum")
        msg = until(c, lambda m: "action" in m and m["arg"]["channel"] == "books", 6)
        apply(bids, msg["data"][0]["bids"])
        apply(asks, msg["data"][0]["asks"])
        assert msg["data"][0]["checksum"] != signed_crc(top(bids, True), top(asks, False))


def test_books_seq_mode_and_seq_gap() -> None:
    with Sandbox(set_env=False, bitget_options={"integrity": "seq"}) as box:
        with connect(box.bitget.url(), open_timeout=5) as c:
            subscribe(c, sub("ETHUSDT", "books"))
            recv(c)
            snap = recv(c)
            assert snap["data"][0].keys() == sample("books_usdtfut_snapshot_mav")["data"][0].keys()
            assert snap["data"][0]["pseq"] == 0
            last = snap["data"][0]["seq"]
            msg = until(c, lambda m: m.get("action") == "update")
            assert msg["data"][0]["pseq"] == last
            last = msg["data"][0]["seq"]
            box.bitget.inject("seq_gap")
            msg = until(c, lambda m: m.get("action") == "update")
            assert msg["data"][0]["pseq"] != last


# -- login ------------------------------------------------------------------------------------
def test_login_and_private_before_login(sb: Sandbox) -> None:
    with ws(sb, private=True) as c:
        subscribe(c, {"instType": "SPOT", "channel": "orders", "instId": "default"})
        assert recv(c)["code"] == 30004
        login(c)
        assert recv(c) == sample("login_ok")


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"apiKey": "nosuchkey"}, 30011),
        ({"passphrase": "wrong"}, 30012),
        ({"timestamp": "1700000000000"}, 30013),  # milliseconds
        ({"timestamp": str(int(time.time()) - 120)}, 30014),
        ({"secret": "not-the-secret"}, 30015),
        ({"sign": 5}, 30005),
    ],
)
def test_login_refusals_close(sb: Sandbox, override: dict[str, Any], code: int) -> None:
    with ws(sb, private=True) as c:
        login(c, **override)
        err = recv(c)
        assert (err["event"], err["code"]) == ("error", code)
        with pytest.raises(ConnectionClosed):
            recv(c)


# -- limits ------------------------------------------------------------------------------------
def test_message_rate_limit_disconnects(sb: Sandbox) -> None:
    with ws(sb) as c:
        for _ in range(11):  # pings count (doc)
            c.send("ping")
        frames = []
        with pytest.raises(ConnectionClosed):
            while True:
                frames.append(recv(c))
        assert frames[:10] == ["pong"] * 10 and frames[10]["code"] == 30007


def test_request_size_limit(sb: Sandbox) -> None:
    with ws(sb) as c:
        subscribe(
            c, *[sub(f"ZA{chr(65 + i // 26)}{chr(65 + i % 26)}USDT", "trade") for i in range(80)]
        )
        assert recv(c)["code"] == 30007
        with pytest.raises(ConnectionClosed):
            recv(c)


def test_channel_hour_and_connection_limits() -> None:
    options = {"max_channels": 2, "max_subscribes": 2, "max_connections": 2}
    with Sandbox(set_env=False, bitget_options=options) as box:
        assert (box.bitget.max_rate, box.bitget.max_bytes) == (10, 4096)
        with connect(box.bitget.url(), open_timeout=5) as c:
            subscribe(
                c, sub("BTCUSDT", "ticker"), sub("ETHUSDT", "ticker"), sub("XRPUSDT", "ticker")
            )
            refused = until(c, lambda m: m.get("event") == "error")
            assert refused["code"] == 30006 and refused["arg"]["instId"] == "XRPUSDT"
            subscribe(c, sub("BTCUSDT", "trade"))
            subscribe(c, sub("BTCUSDT", "trade"))  # the third request within the hour
            assert until(c, lambda m: m.get("event") == "error")["code"] == 30006
            with connect(box.bitget.url(), open_timeout=5):
                with pytest.raises(InvalidStatus) as info:
                    connect(box.bitget.url(), open_timeout=5)
                assert info.value.response.status_code == 429
    defaults = Sandbox(set_env=False).bitget
    assert (defaults.max_channels, defaults.max_subscribes, defaults.max_connections) == (
        1000,
        240,
        100,
    )


def test_idle_close_even_while_pushing() -> None:
    with Sandbox(set_env=False, bitget_options={"idle_timeout": 1.0}) as box:
        with connect(box.bitget.url(), open_timeout=5) as c:
            subscribe(c, sub("BTCUSDT", "trade"))
            start = time.monotonic()
            with pytest.raises(ConnectionClosed):
                while True:
                    recv(c)
            assert 0.9 < time.monotonic() - start < 5
            deadline = time.monotonic() + 5
            while not box.bitget.ended and time.monotonic() < deadline:
                time.sleep(0.01)
            assert box.bitget.ended == ["idle"]


# -- REST symbol lists ---------------------------------------------------------------------------
def test_symbol_lists(sb: Sandbox) -> None:
    spot = requests.get(sb.bitget.rest_url + "/api/v2/spot/public/symbols", timeout=5).json()
    assert spot["code"] == "00000" and len(spot["data"]) >= 800
    keys = "symbol baseCoin quoteCoin minTradeAmount maxTradeAmount takerFeeRate makerFeeRate "
    keys += "pricePrecision quantityPrecision quotePrecision minTradeUSDT status"
    assert list(spot["data"][0]) == keys.split()
    fut = requests.get(
        sb.bitget.rest_url + "/api/v2/mix/market/contracts",
        params={"productType": "USDT-FUTURES"},
        timeout=5,
    ).json()
    assert (
        "BTCUSDT" in {d["symbol"] for d in fut["data"]}
        and fut["data"][0]["symbolStatus"] == "normal"
    )
    assert "ETHBTC" not in {d["symbol"] for d in fut["data"]}


# -- private ------------------------------------------------------------------------------------
def test_private_channels_after_a_fill(sb: Sandbox) -> None:
    with ws(sb, private=True) as c:
        login(c)
        assert recv(c)["event"] == "login"
        subscribe(
            c,
            {"instType": "SPOT", "channel": "orders", "instId": "default"},
            {"instType": "SPOT", "channel": "fill", "instId": "default"},
            {"instType": "SPOT", "channel": "account", "coin": "default"},
        )
        first = until(c, lambda m: "action" in m and m["arg"]["channel"] == "account")
        usdt = next(d for d in first["data"] if d["coin"] == "USDT")
        placed = sb.bitget.place_order("BTCUSDT", "buy", "100", order_type="market")
        order = until(c, lambda m: "action" in m and m["arg"]["channel"] == "orders")["data"][0]
        assert (order["orderId"], order["status"], order["side"]) == (
            placed["orderId"],
            "filled",
            "buy",
        )
        fill = until(c, lambda m: "action" in m and m["arg"]["channel"] == "fill")["data"][0]
        assert fill["orderId"] == placed["orderId"] and fill["symbol"] == "BTCUSDT"
        after = until(c, lambda m: "action" in m and m["arg"]["channel"] == "account")
        spent = float(usdt["available"]) - float(
            next(d for d in after["data"] if d["coin"] == "USDT")["available"]
        )
        assert 99.0 < spent <= 100.0
