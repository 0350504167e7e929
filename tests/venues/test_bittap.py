"""BitTap spot, pure: bytes in (the doc examples in samples/bittap_spot), rows and events out."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
import pandas as pd
import pytest

from mdkit.data.tables import Tables, stream_frame
from mdkit.errors import (
    AuthError,
    InvalidArgument,
    RateLimitError,
    UnknownChannel,
    UnknownInterval,
    VenueError,
)
from mdkit.venues import bittap, get_venue
from mdkit.venues.base import (
    Counters,
    Credentials,
    RateLimits,
    Ready,
    Reply,
    Send,
    ServerError,
    SessionSetup,
)
from tests.conftest import load_samples

SAMPLES = load_samples("bittap_spot", "ws_doc_examples.json")
NOW = 1_700_000_000_123_456_789


def raw(name: str) -> bytes:
    return SAMPLES[name]["raw"].encode()


def session(
    symbols: list[str], channels: list[str], *, endpoint: str = "public", **creds: str
) -> bittap.BittapSession:
    subs = [s for s in bittap.plan(symbols, channels, {}) if s.endpoint == endpoint or not symbols]
    setup = SessionSetup(
        venue=bittap.DESCRIPTOR,
        endpoint=endpoint,
        subscriptions=tuple(subs),
        tables=Tables(),
        counters=Counters(),
        credentials=Credentials(creds),
    )
    return bittap.BittapSession(setup)


def frame(s: bittap.BittapSession, kind: str) -> pd.DataFrame:
    return stream_frame(kind, s.tables[kind].columns(), attrs={}, end_ns=NOW)


# -- planning -----------------------------------------------------------------------------
def test_registry_and_every_documented_interval() -> None:
    venue = get_venue("bittap")
    assert venue is bittap.DESCRIPTOR
    tokens = set(venue.intervals.values())
    assert tokens == set("1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M".split())
    subs = bittap.plan(["BTC-USDT"], ["klines:3m", "klines:2h", "klines:8h", "klines:3d"], {})
    assert [s.channel for s in subs] == [
        "s_kline_3m@BTC-USDT",
        "s_kline_2h@BTC-USDT",
        "s_kline_8h@BTC-USDT",
        "s_kline_3d@BTC-USDT",
    ]


@pytest.mark.parametrize("spelling", ["BTC-USDT", "btc-usdt", "BTC/USDT", "btc_usdt", "BTCUSDT"])
def test_symbol_spellings(spelling: str) -> None:
    assert bittap.bittap_symbol(spelling) == "BTC-USDT"


def test_plan_topics_match_the_doc() -> None:
    subs = bittap.plan(["BTC-USDT"], ["trades", "ticker", "klines:15m", "book:1"], {})
    assert [s.channel for s in subs] == [
        "s_trade@BTC-USDT",
        "s_ticker@BTC-USDT",
        "s_kline_15m@BTC-USDT",
        "s_depth1@BTC-USDT_0.01",  # exactly the doc's subscribe_depth topic
    ]
    doc = orjson.loads(raw("subscribe_depth"))["params"]
    assert subs[3].channel in doc
    scaled = bittap.plan(["ETH-USDT"], ["book"], {"scale": "0.1"})
    assert scaled[0].channel == "s_depth30@ETH-USDT_0.1"


def test_plan_refuses_bad_input_naming_the_choices() -> None:
    with pytest.raises(InvalidArgument, match="BTC-USDT"):
        bittap.plan(["BTC"], ["trades"], {})
    with pytest.raises(UnknownChannel, match="trades, ticker, klines, book"):
        bittap.plan(["BTC-USDT"], ["quotes"], {})
    with pytest.raises(UnknownInterval, match="3min"):
        bittap.plan(["BTC-USDT"], ["klines:7m"], {})
    with pytest.raises(InvalidArgument, match="1, 5, 10, 20, 30, 50, 100"):
        bittap.plan(["BTC-USDT"], ["book:7"], {})
    with pytest.raises(InvalidArgument, match="scale"):
        bittap.plan(["BTC-USDT"], ["book"], {"scale": "-1"})
    with pytest.raises(InvalidArgument, match="valid: scale"):
        bittap.plan(["BTC-USDT"], ["book"], {"depth": 5})


# -- pushes -> rows -----------------------------------------------------------------------
def test_trade_push_sample_by_column() -> None:
    # The doc's sample says s=BTCUSDT on an s_trade@BTC-USDT stream: routed all the same.
    s = session(["BTC-USDT"], ["trades"])
    assert s.receive(raw("spot_trade_push"), NOW) == ()
    df = frame(s, "trades")
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp(1672515782136, unit="ms", tz="UTC")
    assert row["symbol"] == "BTC-USDT"
    assert row["id"] == 12345
    assert row["side"] == "sell"  # m=true: the buyer was the maker
    assert row["price"] == 0.001
    assert row["amount"] == 100.0
    assert row["local_timestamp"] == pd.Timestamp(NOW, unit="ns", tz="UTC")
    assert s.counters.per_channel == {"trades BTC-USDT": 1}


def test_ticker_push_sample_by_column() -> None:
    s = session(["BNB-BTC"], ["ticker"])
    s.receive(raw("spot_ticker_push"), NOW)
    row = frame(s, "ticker").iloc[0]
    assert row["symbol"] == "BNB-BTC"
    assert row["last"] == 0.0025
    assert row["open"] == 0.0010
    assert row["high"] == 0.0025
    assert row["low"] == 0.0010
    assert row["volume"] == 10000.0
    assert row["quote_volume"] == 18.0
    assert row["change"] == pytest.approx(2.5)  # P is in percent: 250.00 % -> 2.5
    assert "bid" not in row and "ask" not in row  # not sent: left out, not invented


def test_depth_push_sample_by_column() -> None:
    # Subscribed s_depth1, the doc's push says s_depth30: routed by symbol.
    s = session(["BTC-USDT"], ["book:1"])
    s.receive(raw("spot_depth_push"), NOW)
    df = frame(s, "depth")
    bids, asks = df[df["side"] == "bid"], df[df["side"] == "ask"]
    assert list(bids["price"]) == [106610.65] and list(bids["amount"]) == [2.028125]
    assert list(asks["price"]) == [106610.66] and list(asks["amount"]) == [2.90337]
    assert bool(df["is_snapshot"].all())
    # No time in the push: timestamp NaT, the receive time only in local_timestamp.
    assert df.index.isna().all() and (df["local_timestamp"].astype("int64") == NOW).all()


def test_kline_push_by_column() -> None:
    # The stored page truncates the kline push; its known fields, completed per NOTES.md.
    push = {
        "e": "s_kline_15m",
        "E": 1762218910503,
        "s": "BTC-USDT",
        "k": {
            "t": 1762218900000,
            "T": 1762219799999,
            "s": "BTC-USDT",
            "i": "15m",
            "f": 738449604345856,
            "L": 738449604345999,
            "o": "106610.65",
            "c": "106700.10",
            "h": "106750.00",
            "l": "106600.01",
            "v": "12.5",
            "q": "1333000.5",
            "n": 144,
            "x": False,
        },
    }
    s = session(["BTC-USDT"], ["klines:15m"])
    s.receive(orjson.dumps(push), NOW)
    df = frame(s, "klines")
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp(1762218900000, unit="ms", tz="UTC")
    assert row["interval"] == "15min"
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        106610.65,
        106750.00,
        106600.01,
        106700.10,
    )
    assert row["volume"] == 12.5
    assert row["quote_volume"] == 1333000.5


def test_balance_update_sample_by_column() -> None:
    s = session([], ["balances"], endpoint="private", api_key="k", secret_key="s")
    s.receive(raw("private_balance_update"), NOW)
    row = s.tables["balances"].columns()
    assert list(row["coin"]) == ["USDT"]
    assert list(row["free"]) == [846365.30981895727648403853272]
    assert list(row["locked"]) == [100529.8]
    assert list(row["timestamp"]) == [1762226153952 * 1_000_000]


def test_unknown_symbol_push_is_unrouted_not_a_row() -> None:
    s = session(["ETH-USDT"], ["trades"])
    s.receive(raw("spot_trade_push"), NOW)
    assert s.counters.unrouted == 1 and len(s.tables["trades"]) == 0


# -- acks, replies, rate limits -------------------------------------------------------------
def test_doc_ack_with_blank_topics_is_success() -> None:
    s = session(["BTC-USDT"], ["trades"])
    assert s.receive(raw("subscribe_ack"), NOW) == ()
    assert s.counters.acks == 1


def test_failed_topics_become_an_error_naming_them() -> None:
    s = session(["BTC-USDT"], ["trades"])
    ack = {"code": 1, "msg": "subscribe failed", "topic": ["s_trade@NOPE-USDT", ""], "id": 1}
    (event,) = s.receive(orjson.dumps(ack), NOW)
    assert isinstance(event, ServerError) and event.fatal and event.error is VenueError
    assert "s_trade@NOPE-USDT" in event.message and "1 topic" in event.message


def test_time_reply_sample_gives_rate_limits_and_reply() -> None:
    s = session(["BTC-USDT"], ["trades"])
    (send,) = s.request("time", {}, "187d3cb2-942d-484c-8271-4e2141bbadb1")
    assert isinstance(send, Send)
    assert orjson.loads(send.message) == orjson.loads(raw("ws_api_time_request"))
    limits, reply = s.receive(raw("ws_api_time_response"), NOW)
    assert isinstance(limits, RateLimits)
    (figure,) = limits.figures
    assert (figure["name"], figure["limit"], figure["count"], figure["window"]) == (
        "REQUEST_WEIGHT 1 MINUTE",
        6000,
        1,
        60.0,
    )
    assert limits.pace == pytest.approx(0.8 * 6000 / 60)  # under the limit, before it
    assert isinstance(reply, Reply)
    assert reply.request_id == "187d3cb2-942d-484c-8271-4e2141bbadb1"
    assert reply.result == {"serverTime": 1656400526260} and reply.error is None


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (429, {"code": -1003, "msg": "Too many requests"}, RateLimitError),
        (418, {"code": -1003, "msg": "banned"}, RateLimitError),
        (401, {"code": -1022, "msg": "bad signature"}, AuthError),
        (400, {"code": -1100, "msg": "bad param"}, VenueError),
        (500, "internal", VenueError),
    ],
)
def test_status_maps_to_mdkit_errors(status: int, error: Any, kind: type) -> None:
    s = session(["BTC-USDT"], ["trades"])
    body = {"id": "x1", "status": status, "error": error}
    (reply,) = s.receive(orjson.dumps(body), NOW)
    assert isinstance(reply, Reply) and type(reply.error) is kind
    if isinstance(reply.error, VenueError) and isinstance(error, dict):
        assert reply.error.code == str(error["code"])


def test_request_refuses_connection_methods() -> None:
    s = session(["BTC-USDT"], ["trades"])
    with pytest.raises(InvalidArgument, match="time, ping"):
        s.request("SUBSCRIBE", {}, "1")


# -- keepalive ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pong", ["reply", '{"result":"PONG"}', '{"method":"PONG"}'], ids=["id", "result", "method"]
)
def test_ping_keepalive_and_every_pong_form(pong: str) -> None:
    s = session(["BTC-USDT"], ["trades"])
    (send,) = s.timer(NOW)
    assert isinstance(send, Send) and send.urgent
    msg = orjson.loads(send.message)
    assert msg["method"] == "ping" and msg["id"]  # the doc's spelling ("Test connectivity")
    if pong == "reply":
        pong = orjson.dumps({"id": msg["id"], "status": 200, "result": {}}).decode()
    events = s.receive(pong.encode(), NOW)
    assert not [e for e in events if isinstance(e, Reply)]
    assert s.counters.pongs == 1


def test_a_ping_reply_with_another_status_is_a_server_error_not_a_pong() -> None:
    s = session(["BTC-USDT"], ["trades"])
    (send,) = s.timer(NOW)
    ping_id = orjson.loads(send.message)["id"]
    refused = {"id": ping_id, "status": 400, "error": {"code": -1100, "msg": "bad method"}}
    events = s.receive(orjson.dumps(refused), NOW)
    errors = [e for e in events if isinstance(e, ServerError)]
    assert len(errors) == 1 and "400" in errors[0].message and not errors[0].fatal
    assert s.counters.pongs == 0


# -- login ---------------------------------------------------------------------------------
def test_login_is_signed_with_a_fresh_timestamp() -> None:
    s = session([], ["balances"], endpoint="private", api_key="KEY", secret_key="SECRET")
    (send,) = s.open(NOW)
    msg = orjson.loads(send.message)
    assert msg["method"] == "LOGIN"
    key, stamp, signature = msg["params"]
    assert key == "KEY" and stamp == str(NOW // 1_000_000)
    assert signature == hmac.new(b"SECRET", stamp.encode(), hashlib.sha256).hexdigest()
    assert "SECRET" not in send.message
    later = session([], ["balances"], endpoint="private", api_key="KEY", secret_key="SECRET")
    assert orjson.loads(later.open(NOW + 5 * 10**9)[0].message)["params"][1] != stamp
    ok = {"id": msg["id"], "status": 200, "result": {}}
    assert any(isinstance(e, Ready) for e in s.receive(orjson.dumps(ok), NOW))


def test_refused_login_is_a_fatal_auth_error() -> None:
    s = session([], ["balances"], endpoint="private", api_key="KEY", secret_key="SECRET")
    login_id = orjson.loads(s.open(NOW)[0].message)["id"]
    body = {"id": login_id, "status": 401, "error": {"code": -1022, "msg": "Signature not valid"}}
    (event,) = s.receive(orjson.dumps(body), NOW)
    assert isinstance(event, ServerError) and event.fatal and event.error is AuthError
    assert "Signature not valid" in event.message and event.code == "-1022"


def test_public_session_needs_no_login() -> None:
    assert session(["BTC-USDT"], ["trades"]).open(NOW) == (Ready(),)
