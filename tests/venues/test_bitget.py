"""Bitget v2 venue, pure: recorded frames, doc vectors and doc examples in; rows and events out."""

from __future__ import annotations

import json
import zlib
from typing import Any

import orjson
import pandas as pd
import pytest

from mdkit.data.tables import Tables, stream_frame
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, RateLimitError, UnknownInterval
from mdkit.venues import bitget as bg
from mdkit.venues import get_venue
from mdkit.venues.base import (
    Counters,
    Credentials,
    Ready,
    Recovered,
    Resubscribe,
    Send,
    ServerError,
    SessionSetup,
)
from tests.conftest import SAMPLES, load_samples

PUBLIC = load_samples("bitget_v2", "ws_public_recorded.json")
CONTROL = load_samples("bitget_v2", "ws_control_and_errors.json")
CLONE = load_samples("bitget_v2", "bitget_v2_clone_cointr_recorded.json")
T0 = 1_800_000_000_000_000_000


def raw(sample: dict[str, Any]) -> bytes:
    return str(sample["raw"]).encode()


def session(
    symbols: list[str], channels: list[str], endpoint: str = "public", **options: Any
) -> tuple[bg.BitgetSession, Tables]:
    subs = [s for s in bg.plan(symbols, channels, options) if s.endpoint == endpoint]
    tables = Tables()
    creds = Credentials({"api_key": "k", "secret_key": "example-secret", "passphrase": "p"})
    setup = SessionSetup(bg.DESCRIPTOR, endpoint, tuple(subs), tables, Counters(), creds)
    return bg.BitgetSession(setup), tables


def frame(tables: Tables, kind: str) -> pd.DataFrame:
    return stream_frame(kind, tables[kind].columns(), attrs={}, end_ns=0)


def test_registered() -> None:
    assert get_venue("bitget") is bg.DESCRIPTOR
    assert bg.DESCRIPTOR.limits == bg.Limits(
        messages_per_second=10,
        subscriptions_per_connection=1000,
        bytes_per_request=4096,
        subscribe_requests_per_hour=240,
        connections=100,
    )


# -- vectors ---------------------------------------------------------------------------------
def test_checksum_vectors() -> None:
    doc = json.loads((SAMPLES / "bitget_v2" / "checksum_vectors.json").read_text())
    for vector in doc["vectors"]:
        parts = vector["string"].split(":")
        pairs = [parts[i : i + 2] for i in range(0, len(parts), 2)]
        bids, asks = pairs[0::2], pairs[1::2]  # interleaved bid, ask, bid, ask
        assert bg.book_checksum(bids, asks) == vector["crc32_signed_int32"], vector["id"]
        assert zlib.crc32(vector["string"].encode()) == vector["crc32_unsigned"]


def test_checksum_exhausted_side_and_trailing_zeros() -> None:
    # A side that runs out is skipped; "1.10" and "1.1" are different strings.
    assert bg.book_checksum([["1", "2"], ["0.9", "3"]], [["1.1", "4"]]) == _signed(
        "1:2:1.1:4:0.9:3"
    )
    assert bg.book_checksum([["1", "2"]], [["1.10", "4"]]) != bg.book_checksum(
        [["1", "2"]], [["1.1", "4"]]
    )


def _signed(text: str) -> int:
    crc = zlib.crc32(text.encode())
    return crc - 2**32 if crc >= 2**31 else crc


def test_login_vector() -> None:
    doc = json.loads((SAMPLES / "bitget_v2" / "login_vector.json").read_text())["vector"]
    assert bg.login_sign(doc["secret"], doc["timestamp"]) == doc["sign"]
    message = orjson.loads(bg.build_login("key", "pass", doc["secret"], 1_700_000_000 * 10**9))
    assert message == {
        "op": "login",
        "args": [
            {"apiKey": "key", "passphrase": "pass", "timestamp": "1700000000", "sign": doc["sign"]}
        ],
    }


def test_login_rsa() -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    import base64

    sign = base64.b64decode(bg.login_sign(pem, "1700000000"))
    key.public_key().verify(sign, b"1700000000GET/user/verify", padding.PKCS1v15(), hashes.SHA256())


def test_login_fresh_timestamp_per_connection() -> None:
    s1, _ = session([], ["orders"], "private")
    s2, _ = session([], ["orders"], "private")
    first = orjson.loads(s1.open(T0)[0].message)  # type: ignore[union-attr]
    second = orjson.loads(s2.open(T0 + 31 * 10**9)[0].message)  # type: ignore[union-attr]
    assert int(second["args"][0]["timestamp"]) - int(first["args"][0]["timestamp"]) == 31
    assert "example-secret" not in repr(s1.credentials)


# -- plan and requests ---------------------------------------------------------------------
def test_plan_channel_spelling() -> None:
    subs = bg.plan(
        ["btc/usdt"],
        ["trades", "ticker", "klines:1h", "klines:1d", "klines:1w", "book", "book:5", "orders"],
        {},
    )
    args = {s.channel: s.options["arg"] for s in subs}
    kinds = {s.channel: s.key for s in subs}
    assert kinds["candle1H BTCUSDT"] == "klines:60min BTCUSDT"
    assert kinds["candle1D BTCUSDT"] == "klines:1day BTCUSDT"
    assert kinds["candle1W BTCUSDT"] == "klines:1week BTCUSDT"
    assert args["books BTCUSDT"] == {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}
    assert args["books5 BTCUSDT"] == {"instType": "SPOT", "channel": "books5", "instId": "BTCUSDT"}
    assert args["trade BTCUSDT"]["channel"] == "trade"
    assert args["orders"] == {"instType": "SPOT", "channel": "orders", "instId": "default"}
    assert {s.endpoint for s in subs if s.kind == "orders"} == {"private"}
    fut = bg.plan(["BTCUSDT"], ["trades", "balances"], {"inst_type": "usdt-futures"})
    assert fut[0].options["arg"]["instType"] == "USDT-FUTURES"
    assert fut[1].options["arg"] == {
        "instType": "USDT-FUTURES",
        "channel": "account",
        "coin": "default",
    }


def test_every_interval_token() -> None:
    tokens = ["1m", "5m", "15m", "30m", "1h", "4h", "6h", "12h", "1d", "3d", "1w", "1M"]
    names = {bg.plan(["BTCUSDT"], [f"klines:{t}"], {})[0].options["arg"]["channel"] for t in tokens}
    assert names == {"candle" + t for t in bg.INTERVAL_TOKENS.values()}
    with pytest.raises(UnknownInterval, match="1H|60min"):
        bg.plan(["BTCUSDT"], ["klines:3m"], {})


@pytest.mark.parametrize(
    ("symbols", "channels", "options", "match"),
    [
        (["BTCUSDT"], ["book:50"], {}, "book:5"),
        (["BTCUSDT"], ["trades"], {"inst_type": "MARGIN"}, "USDT-FUTURES"),
        (["BTCUSDT"], ["trades"], {"depth": 5}, "inst_type"),
        (["BTC USDT!"], ["trades"], {}, "BTCUSDT"),
        (["BTCUSDT"], ["orders:5"], {}, "no ':'"),
        ([f"S{i}USDT" for i in range(6000)], ["trades", "book", "ticker", "book:1", "book:5",
                                               "book:15", "klines", "klines:5m", "klines:1h",
                                               "klines:4h", "klines:1d", "klines:1w", "klines:1M",
                                               "klines:15m", "klines:30m", "klines:6h",
                                               "klines:12h", "klines:3d", "klines:30m"],
         {}, "past the limit of 100 connections"),
    ],
)  # fmt: skip
def test_plan_refuses(symbols: list[str], channels: list[str], options: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        bg.plan(symbols, channels, options)


def test_requests_fit_4096_bytes() -> None:
    subs = bg.plan([f"SYM{i:04d}USDT" for i in range(500)], ["trades", "book"], {})
    requests = bg.build_requests("subscribe", subs)
    sent = []
    for text in requests:
        message = orjson.loads(text)
        assert message["op"] == "subscribe"
        assert len(orjson.dumps(message["args"])) <= 4096
        sent += message["args"]
    assert sent == [s.options["arg"] for s in subs]
    assert len(requests) == -(-len(orjson.dumps(sent)) // 4096)  # as few as fit


# -- public frames ----------------------------------------------------------------------------
def test_trade_updates_by_column() -> None:
    s, t = session(["BTCUSDT"], ["trades"])
    assert s.receive(raw(PUBLIC["trade_update_single"]), T0) == ()
    s.receive(raw(PUBLIC["trade_update_multi"]), T0 + 1)
    df = frame(t, "trades")
    assert list(df["id"]) == [1478949856623706112, 1478949857936523264, 1478949857936523266,
                              1478949857936523268]  # fmt: skip
    first = df.iloc[0]
    assert first["price"] == 77600.75 and first["amount"] == 0.001352 and first["side"] == "buy"
    assert first["symbol"] == "BTCUSDT"
    assert df.index[0] == pd.Timestamp(1788335044055, unit="ms", tz="UTC")
    assert s.counters.data_messages == 2 and s.counters.per_channel == {"trades BTCUSDT": 2}


def test_trade_snapshot_deduplicated_against_updates() -> None:
    s, t = session(["BTCUSDT"], ["trades"])
    item = {"ts": "1788335044055", "price": "1", "size": "2", "side": "sell"}
    arg = {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"}
    snap = {"action": "snapshot", "arg": arg,
            "data": [item | {"tradeId": "12"}, item | {"tradeId": "11"}], "ts": 1}  # fmt: skip
    update = snap | {
        "action": "update",
        "data": [item | {"tradeId": "13"}, item | {"tradeId": "12"}],
    }
    s.receive(orjson.dumps(snap), T0)
    s.receive(orjson.dumps(update), T0 + 1)
    assert list(t["trades"].columns()["id"]) == [11, 12, 13]  # 12 appended once


def test_ticker_by_column() -> None:
    s, t = session(["BTCUSDT"], ["ticker"])
    s.receive(raw(PUBLIC["ticker_spot"]), T0)
    row = frame(t, "ticker").iloc[0]
    assert (row["last"], row["bid"], row["ask"]) == (83715.7, 83715.69, 83715.7)
    assert (row["high"], row["low"], row["open"]) == (85250.0, 83172.57, 83812.27)
    assert (row["volume"], row["quote_volume"], row["change"]) == (
        2673.629245,
        225237773.321358,
        -0.00491,
    )
    assert (row["bid_amount"], row["ask_amount"]) == (0.074435, 2.145777)
    s2, t2 = session(["BTCUSDT"], ["ticker"], inst_type="USDT-FUTURES")
    s2.receive(raw(PUBLIC["ticker_usdt_futures"]), T0)
    assert frame(t2, "ticker").iloc[0]["last"] == 83692.3


def test_candles_closed_when_later_open_appears() -> None:
    s, t = session(["BTCUSDT"], ["klines:1m"])
    s.receive(raw(PUBLIC["candle1m_spot_snapshot"]), T0)
    df = frame(t, "klines")
    assert list(df["closed"]) == [True, True, False]
    bar = df.iloc[0]
    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (
        83765.17,
        83765.17,
        83738.85,
        83738.85,
    )
    assert (bar["volume"], bar["quote_volume"]) == (0.701343, 58742.42150798)
    assert bar["interval"] == "1min" and df.index[0] == pd.Timestamp(
        1790358660000, unit="ms", tz="UTC"
    )
    s2, t2 = session(["BTCUSDT"], ["klines:1m"], inst_type="USDT-FUTURES")
    s2.receive(raw(PUBLIC["candle1m_usdtfut_update"]), T0)
    assert frame(t2, "klines").iloc[0]["close"] == 63415.2


def test_the_docs_unsubscribe_answer_is_an_ack() -> None:
    s, _ = session(["BTCUSDT"], ["ticker"], inst_type="USDT-FUTURES")
    answer = {"op": "unsubscribe", "args": [
        {"instType": "USDT-FUTURES", "channel": "ticker", "instId": "BTCUSDT"}]}  # fmt: skip
    assert s.receive(orjson.dumps(answer), T0) == ()
    assert s.counters.acks == 1 and s.counters.other == 0


def test_coin_futures_candle_volume_is_index_6() -> None:
    # Inverse contracts: index 5 counts contracts (USD), index 6 is the coin volume.
    push = {"action": "update",
            "arg": {"instType": "COIN-FUTURES", "channel": "candle1m", "instId": "BTCUSD"},
            "data": [["1790358660000", "63400.1", "63420.5", "63390", "63415.2", "25400",
                      "0.40057", "25400"]], "ts": 1790358661000}  # fmt: skip
    s, t = session(["BTCUSD"], ["klines:1m"], inst_type="COIN-FUTURES")
    s.receive(orjson.dumps(push), T0)
    bar = frame(t, "klines").iloc[0]
    assert bar["volume"] == 0.40057 and "quote_volume" not in bar.index


def test_books_seq_chain_from_recording() -> None:
    s, t = session(["MAVUSDT"], ["book"], inst_type="USDT-FUTURES")
    for name in (
        "books_usdtfut_snapshot_mav",
        "books_usdtfut_update1_mav",
        "books_usdtfut_update2_mav",
    ):
        assert s.receive(raw(PUBLIC[name]), T0) == ()
    df = frame(t, "depth")
    assert list(df["is_snapshot"]) == [True] * 4 + [False] * 5
    assert df.iloc[0][["side", "price", "amount"]].tolist() == ["bid", 0.01038, 4311.15]
    route = s.routes[("books", "MAVUSDT")]
    assert route.seq == 427583480664
    assert sorted(route.asks) == [0.01039, 0.0104, 0.01042]


def test_books_seq_gap_resubscribes_one_channel_then_recovers() -> None:
    s, t = session(["MAVUSDT", "BTCUSDT"], ["book"], inst_type="USDT-FUTURES")
    s.receive(raw(PUBLIC["books_usdtfut_snapshot_mav"]), T0)
    events = s.receive(raw(PUBLIC["books_usdtfut_update2_mav"]), T0)  # update1 skipped
    assert len(events) == 1 and isinstance(events[0], Resubscribe)
    assert [x.key for x in events[0].subscriptions] == ["book MAVUSDT"]
    assert "seq gap" in events[0].reason
    sends = [orjson.loads(e.message) for e in s.resubscribe(events[0].subscriptions)]  # type: ignore[union-attr]
    assert [m["op"] for m in sends] == ["unsubscribe", "subscribe"]
    assert sends[1]["args"] == [
        {"instType": "USDT-FUTURES", "channel": "books", "instId": "MAVUSDT"}
    ]
    before = len(t["depth"])
    assert s.receive(raw(PUBLIC["books_usdtfut_update1_mav"]), T0) == ()  # ignored while broken
    assert len(t["depth"]) == before
    events = s.receive(raw(PUBLIC["books_usdtfut_snapshot_mav"]), T0)
    assert len(events) == 1 and isinstance(events[0], Recovered)


def _book_frame(action: str, bids: list[list[str]], asks: list[list[str]], checksum: int) -> bytes:
    arg = {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}
    return orjson.dumps({"action": action, "arg": arg,
                         "data": [{"asks": asks, "bids": bids, "checksum": checksum,
                                   "ts": "1790134564685"}],
                         "ts": 1790134564685})  # fmt: skip


def test_books_checksum_doc_vector_and_mismatch() -> None:
    s, t = session(["BTCUSDT"], ["book"])
    # The doc's example book: bids 43231.1/4 and 43231/6, asks 43232.8/9 and 43232.9/8.
    s.receive(_book_frame("snapshot", [["43231.1", "4"]], [["43232.8", "9"]], 0), T0)
    good = _book_frame("update", [["43231", "6"]], [["43232.9", "8"]], -1504501796)
    assert s.receive(good, T0) == ()
    bad = _book_frame("update", [["43230", "1"]], [], 12345)
    events = s.receive(bad, T0)
    assert isinstance(events[0], Resubscribe) and "checksum" in events[0].reason
    assert s.routes[("books", "BTCUSDT")].bids == {}  # the corrupt book is not kept
    # A level deleted by size "0" after the fresh snapshot, and the checksum of what is left.
    assert isinstance(s.receive(_book_frame("snapshot", [["43231.1", "4"], ["43231", "6"]],
                                            [["43232.8", "9"]], 0), T0)[0], Recovered)  # fmt: skip
    left = bg.book_checksum([["43231.1", "4"]], [["43232.8", "9"]])
    assert s.receive(_book_frame("update", [["43231", "0"]], [], left), T0) == ()
    df = frame(t, "depth")
    assert df.iloc[-1][["side", "price", "amount", "is_snapshot"]].tolist() == [
        "bid",
        43231.0,
        0.0,
        False,
    ]


def test_clone_frames_with_checksum_key() -> None:
    s, t = session(["BTCUSDT", "ETHUSDT"], ["book", "book:15"])
    s.receive(raw(CLONE["cointr_books_snapshot"]), T0)
    s.receive(raw(CLONE["cointr_books15_snapshot"]), T0)
    # A level-free update of a book we have no snapshot of: its checksum cannot match.
    events = s.receive(raw(CLONE["cointr_books_empty_update"]), T0)
    assert isinstance(events[0], Resubscribe) and events[0].subscriptions[0].symbol == "ETHUSDT"
    df = frame(t, "depth")
    assert df["is_snapshot"].all() and len(df) == 10


def test_books5_snapshots() -> None:
    s, t = session(["BTCUSDT"], ["book:5"])
    s.receive(raw(PUBLIC["books5_spot_snapshot"]), T0)
    s.receive(raw(PUBLIC["books5_spot_snapshot"]), T0 + 1)
    df = frame(t, "depth")
    assert df["is_snapshot"].all() and len(df) == 8
    assert df.iloc[2][["side", "price", "amount"]].tolist() == ["ask", 83715.7, 2.145777]


# -- control frames ---------------------------------------------------------------------------
def test_pong_ping_acks() -> None:
    s, _ = session(["BTCUSDT"], ["trades"])
    assert s.receive(raw(CONTROL["keepalive_server_pong"]), T0) == ()
    assert s.counters.pongs == 1
    assert s.timer(T0) == (Send("ping", urgent=True),)
    assert s.receive(raw(PUBLIC["ack_subscribe_trade"]), T0) == ()
    assert s.receive(raw(CONTROL["ack_unsubscribe"]), T0) == ()
    assert s.counters.acks == 2
    with pytest.raises(ProtocolError):
        s.receive(b'{"action":', T0)


def test_login_ack_and_errors() -> None:
    s, _ = session([], ["orders", "fills", "balances"], "private")
    assert isinstance(s.open(T0)[0], Send)
    assert s.receive(raw(CONTROL["login_ok"]), T0) == (Ready(),)
    assert s.receive(b'{"event":"login","code":"0","msg":""}', T0) == (Ready(),)
    err = s.receive(raw(CONTROL["err_30015_invalid_sign"]), T0)[0]
    assert (
        isinstance(err, ServerError)
        and err.fatal
        and err.error is AuthError
        and err.code == "30015"
    )
    for code in ("30004", "30005", "30011", "30012", "30013", "30014"):
        e = s.receive(orjson.dumps({"event": "error", "code": int(code), "msg": "x"}), T0)[0]
        assert isinstance(e, ServerError) and e.fatal and e.error is AuthError, code
    param = s.receive(raw(CONTROL["err_30016_candle1h_lowercase"]), T0)[0]
    assert isinstance(param, ServerError) and not param.fatal and "candle1h" in param.message
    missing = s.receive(raw(CONTROL["err_30001_v2"]), T0)[0]
    assert isinstance(missing, ServerError) and missing.code == "30001" and not missing.fatal


def test_open_without_credentials_refused() -> None:
    subs = tuple(bg.plan([], ["orders"], {}))
    setup = SessionSetup(
        bg.DESCRIPTOR, "private", subs, Tables(), Counters(), Credentials({"api_key": "k"})
    )
    with pytest.raises(AuthError, match="secret_key, passphrase"):
        bg.BitgetSession(setup).open(T0)


# -- private frames (doc "Order Channel", "Fill Channel", "Account Channel" shapes) -----------
ORDER = {"action": "snapshot",
         "arg": {"instType": "SPOT", "channel": "orders", "instId": "default"},
         "data": [{"instId": "BTCUSDT", "orderId": "1089", "clientOid": "c-1", "price": "65000.5",
                   "size": "0.01", "orderType": "limit", "force": "gtc", "side": "buy",
                   "accBaseVolume": "0.004", "priceAvg": "64999.9", "status": "partially_filled",
                   "feeDetail": [{"feeCoin": "BTC", "fee": "-0.000004"}],
                   "cTime": "1790000000000", "uTime": "1790000000100"}],
         "ts": 1790000000101}  # fmt: skip
FILL = {"action": "snapshot", "arg": {"instType": "SPOT", "channel": "fill", "instId": "default"},
        "data": [{"orderId": "1089", "tradeId": "6001", "symbol": "BTCUSDT", "orderType": "limit",
                  "side": "buy", "priceAvg": "64999.9", "size": "0.004", "amount": "259.9996",
                  "tradeScope": "taker", "feeDetail": [{"feeCoin": "BTC", "deduction": "no",
                  "totalDeductionFee": "0", "totalFee": "-0.000004"}],
                  "cTime": "1790000000100", "uTime": "1790000000100"}],
         "ts": 1790000000101}  # fmt: skip
ACCOUNT = {"action": "snapshot",
           "arg": {"instType": "SPOT", "channel": "account", "coin": "default"},
           "data": [{"coin": "USDT", "available": "99740.0004", "frozen": "390.003", "locked": "0",
                     "limitAvailable": "0", "uTime": "1790000000100"}],
         "ts": 1790000000101}  # fmt: skip


def test_private_rows_by_column() -> None:
    s, t = session([], ["orders", "fills", "account"], "private")
    for msg in (ORDER, FILL, ACCOUNT):
        assert s.receive(orjson.dumps(msg), T0) == ()
    order = frame(t, "orders").iloc[0]
    assert (order["symbol"], order["order_id"], order["client_order_id"]) == (
        "BTCUSDT",
        "1089",
        "c-1",
    )
    assert (order["side"], order["type"], order["status"]) == ("buy", "limit", "partially_filled")
    assert (order["price"], order["amount"], order["filled_amount"]) == (65000.5, 0.01, 0.004)
    assert (order["average_price"], order["fee"], order["fee_currency"]) == (
        64999.9,
        0.000004,
        "BTC",
    )
    fill = frame(t, "fills").iloc[0]
    assert (fill["trade_id"], fill["order_id"], fill["price"], fill["amount"]) == (
        "6001",
        "1089",
        64999.9,
        0.004,
    )
    assert (fill["fee"], fill["fee_currency"], fill["liquidity"]) == (0.000004, "BTC", "taker")
    bal = frame(t, "balances").iloc[0]
    assert (bal["coin"], bal["free"], bal["locked"], bal["total"]) == (
        "usdt",
        99740.0004,
        390.003,
        100130.0034,
    )
    assert s.counters.per_channel == {"orders": 1, "fills": 1, "balances": 1}


def test_futures_account_items_name_their_coin_margin_coin() -> None:
    # A USDT-FUTURES account push (shape from ccxt's bitget watchBalance notes): items
    # carry `marginCoin`, no `coin`. Each used to be dropped as a parse error.
    push = {"action": "snapshot",
            "arg": {"instType": "USDT-FUTURES", "channel": "account", "coin": "default"},
            "data": [{"marginCoin": "USDT", "frozen": "1.5", "available": "11.98545761",
                      "maxOpenPosAvailable": "11.98545761", "maxTransferOut": "11.98545761",
                      "equity": "13.48545761", "usdtEquity": "13.485457617660",
                      "crossedRiskRate": "0", "unrealizedPL": "0.000000000000"}],
            "ts": 1790000000101}  # fmt: skip
    s, t = session([], ["account"], "private", inst_type="USDT-FUTURES")
    assert s.receive(orjson.dumps(push), T0) == ()
    bal = frame(t, "balances").iloc[0]
    assert (bal["coin"], bal["free"], bal["locked"]) == ("usdt", 11.98545761, 1.5)
    assert s.counters.per_channel == {"balances": 1}


def test_symbol_list_parse() -> None:
    body = (
        b'{"code":"00000","msg":"success","requestTime":1,'
        b'"data":[{"symbol":"BTCUSDT"},{"symbol":"ETHUSDT"}]}'
    )
    assert bg.parse_symbols(body) == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(Exception, match="40034"):
        bg.parse_symbols(b'{"code":"40034","msg":"Parameter does not exist","data":null}')
    queries = bg.DESCRIPTOR.symbol_list({"inst_type": "USDT-FUTURES"})  # type: ignore[misc]
    assert queries[0].path == "/api/v2/mix/market/contracts"
    assert queries[0].params == {"productType": "USDT-FUTURES"}


def test_every_subscribe_counts_toward_240_an_hour_reconnects_and_resyncs_too() -> None:
    subs = tuple(s for s in bg.plan(["BTCUSDT"], ["book"], {}) if s.endpoint == "public")
    counters = Counters()  # shared by every connection of one capture, as the engine does

    def connect(now: int) -> bg.BitgetSession:
        setup = SessionSetup(bg.DESCRIPTOR, "public", subs, Tables(), counters)
        s = bg.BitgetSession(setup)
        s.open(now)
        return s

    hour = 3_600 * 10**9
    for i in range(239):  # 239 reconnects, one subscribe request each
        (send,) = connect(T0 + i).subscribe(subs)
        assert isinstance(send, Send)
    s = connect(T0 + 300)
    assert isinstance(s.resubscribe(subs)[-1], Send)  # a resync spends the 240th
    (refused,) = s.resubscribe(subs)
    assert isinstance(refused, ServerError) and not refused.fatal and "240" in refused.message
    (stop,) = connect(T0 + 400).subscribe(subs)
    assert isinstance(stop, ServerError) and stop.fatal and stop.error is RateLimitError
    # An hour after the first ones, the budget frees up again.
    assert isinstance(connect(T0 + hour + 1).subscribe(subs)[0], Send)


def test_drift_is_counted_and_the_row_kept(caplog: pytest.LogCaptureFixture) -> None:
    s, t = session(["BTCUSDT"], ["trades"])
    item = {"ts": "1790000000000", "price": 65000.5, "size": "0.01", "side": "buy",
            "tradeId": "7", "feeRate": "0.001"}  # fmt: skip
    push = {"action": "update", "arg": {"instType": "SPOT", "channel": "trade",
            "instId": "BTCUSDT"}, "data": [item], "ts": 1790000000001}  # fmt: skip
    with caplog.at_level("WARNING", logger="mdkit.venues"):
        s.receive(orjson.dumps(push), T0)
        push["data"] = [{**item, "tradeId": "8"}]
        s.receive(orjson.dumps(push), T0)
    assert s.counters.drift == {
        ("bitget", "trade", "feeRate", "unknown"): 2,
        ("bitget", "trade", "price", "type number"): 2,
    }
    assert len(caplog.records) == 2  # once per (venue, channel, field, change)
    assert list(frame(t, "trades")["price"]) == [65000.5, 65000.5]
    del item["feeRate"], item["size"]
    push["data"] = [{**item, "tradeId": "9"}]
    with pytest.raises(ProtocolError):  # a field the row needs is gone: no row
        s.receive(orjson.dumps(push), T0)
    assert s.counters.drift[("bitget", "trade", "size", "missing")] == 1
