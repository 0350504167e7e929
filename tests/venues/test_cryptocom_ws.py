"""Crypto.com v1 WebSocket venue, pure: recorded and doc frames in, rows out (no sockets)."""

from __future__ import annotations

import zlib

import numpy as np
import orjson
import pandas as pd
import pytest

import mdkit.venues.cryptocom_ws as ws
from mdkit.data.tables import Tables, stream_frame
from mdkit.data.timeparse import parse_interval
from mdkit.errors import InvalidArgument, ProtocolError, UnknownChannel, UnknownInterval
from mdkit.venues.base import (
    NOTHING,
    Counters,
    Reply,
    Send,
    ServerError,
    SessionSetup,
    Subscription,
)
from tests.conftest import load_samples


def _samples(name: str) -> dict[str, str]:
    return {k: v["raw"] for k, v in load_samples("cryptocom_v1", name).items()}


TEMPLATE = _samples("ws_template_examples.json")
FAMILY = _samples("ws_chainup_family_captured.json")
T0 = 1_700_000_000_000_000_000


def gz(text: str) -> bytes:
    return zlib.compress(text.encode(), 6, wbits=31)


class Router:
    """The session under test, with what each frame did (for terse assertions)."""

    def __init__(self, subs: list[Subscription]) -> None:
        self.tables = Tables()
        self.counters = Counters()
        setup = SessionSetup(ws.DESCRIPTOR, "public", tuple(subs), self.tables, self.counters)
        self.session = ws.CryptocomSession(setup)

    def handle(self, frame: bytes | str, now: int):
        data = isinstance(frame, bytes) and frame or str(frame).encode()
        before = self.counters.data_messages
        events = self.session.receive(data, now)
        return (self.counters.data_messages - before, events)

    def frame(self, kind: str):
        return stream_frame(kind, self.tables[kind].columns(), attrs={}, end_ns=T0)


def router(channels: list[str], symbols: list[str] | None = None):
    if symbols and "_" in symbols[0]:
        # Family servers name markets like e_btcusdt, which plan() would compact.
        kind = {"book": "book", "ticker": "ticker"}[channels[0]]
        name = f"market_{symbols[0]}_" + ("depth_step0" if kind == "book" else "ticker")
        subs = [Subscription(kind, symbols[0], name)]
    else:
        subs = ws.plan(symbols or ["btcusdt"], channels, {})
    r = Router(subs)
    return r, r


def test_trade_push_doc_example() -> None:
    r, t = router(["trades"])
    assert r.handle(gz(TEMPLATE["push_trade"]), T0) == (1, NOTHING)
    assert r.counters.per_channel == {"trades btcusdt": 1}
    df = r.frame("trades")
    assert list(df.columns) == [
        "symbol",
        "pair",
        "id",
        "side",
        "price",
        "amount",
        "local_timestamp",
    ]
    row = df.iloc[0]
    assert row["id"] == 12121 and row["side"] == "buy"
    assert row["price"] == 32.233 and row["amount"] == 232.0  # `vol` is the base amount
    assert df.index[0] == pd.Timestamp(1506584998239, unit="ms", tz="UTC")
    assert df["local_timestamp"].iloc[0] == pd.Timestamp(T0, unit="ns", tz="UTC")
    assert df.index.tz is not None and str(df["side"].dtype) == "category"


def test_trade_push_strings_uppercase_no_id_text_frame() -> None:
    r, t = router(["trades"])
    assert r.handle(FAMILY["darkex_trade_abridged"], T0)[0] == 1  # text frame, no ts at top
    df = r.frame("trades")
    assert df["side"].tolist() == ["sell"]
    assert df["price"].iloc[0] == 68821.73 and df["amount"].iloc[0] == 0.10834
    assert df["id"].isna().all()  # the server sent no id: missing, not invented


def test_ticker_numbers_and_strings() -> None:
    r, t = router(["ticker"])
    assert r.handle(gz(TEMPLATE["push_ticker"]), T0)[0] == 1
    r2, t2 = router(["ticker"], ["e_btcusdt"])
    assert r2.handle(gz(FAMILY["xme_ticker"]), T0)[0] == 1  # event_rep "" and strings
    a = r.frame("ticker")
    b = r2.frame("ticker")
    assert a["last"].iloc[0] == 1221.11 and a["change"].iloc[0] == -0.2922
    assert a["quote_volume"].iloc[0] == 123.1221 and a["open"].iloc[0] == 2233.22
    assert "bid" not in a and "ask" not in a  # v1 tickers carry no bid/ask: left out
    assert b["last"].iloc[0] == 86522.0 and b["volume"].iloc[0] == 80596849.0
    assert b.dtypes["last"] == np.float64


def test_kline_push_seconds() -> None:
    r, t = router(["klines:5min"])
    assert r.handle(gz(TEMPLATE["push_kline"]), T0) == (1, NOTHING)
    assert r.counters.per_channel == {"klines:5min btcusdt": 1}
    df = r.frame("klines")
    assert df.index[0] == pd.Timestamp(1506602880, unit="s", tz="UTC")
    assert df[["open", "high", "low", "close", "volume"]].iloc[0].tolist() == [
        2233.22,
        22322.22,
        2321.22,
        1221.11,
        1212.12211,
    ]
    assert bool(df["closed"].iloc[0])


@pytest.mark.parametrize(
    "sample, symbol, bids, asks",
    [
        (TEMPLATE["push_depth_full"], "btcusdt", 2, 2),
        (FAMILY["xme_first_book"], "e_btcusdt", 3, 3),
        (FAMILY["fameex_book"], "e_zilusdt", 3, 3),
    ],
)
def test_full_book(sample: str, symbol: str, bids: int, asks: int) -> None:
    r, t = router(["book"], [symbol])
    assert r.handle(gz(sample), T0)[0] == 1
    df = r.frame("depth")
    assert df["is_snapshot"].all()
    assert (df["side"] == "bid").sum() == bids and (df["side"] == "ask").sum() == asks
    first = orjson.loads(sample)["tick"]["buys"][0]
    assert df[df["side"] == "bid"]["price"].iloc[0] == float(first[0])


def test_incremental_level_and_delete() -> None:
    r, t = router(["book"])
    r.handle(gz(TEMPLATE["push_depth_incremental_hf"]), T0)
    delete = TEMPLATE["push_depth_incremental_hf"].replace('"volume":44.22', '"volume":0')
    r.handle(gz(delete.replace('"asks"', '"buys"')), T0 + 1)
    df = r.frame("depth")
    assert not df["is_snapshot"].any()
    assert df["side"].tolist() == ["ask", "bid"]
    assert df["amount"].tolist() == [44.22, 0.0] and df["price"].tolist() == [133.55, 133.55]


def test_unknown_symbol_empty_book_is_data_without_rows() -> None:
    r, t = router(["book"], ["e_nopeusdt"])
    assert r.handle(gz(FAMILY["xme_unknown_symbol"]), T0)[0] == 1
    assert len(t.tables["depth"]) == 0


@pytest.mark.parametrize(
    "ping, pong",
    [
        (TEMPLATE["server_ping_ms"], TEMPLATE["client_pong_ms"]),
        (FAMILY["xme_server_ping_seconds"], FAMILY["xme_client_pong"]),
    ],
)
def test_pong_echoes_the_ping_value(ping: str, pong: str) -> None:
    r, _ = router(["trades"])
    got, events = r.handle(gz(ping), T0)
    assert got == 0 and r.counters.pings == 1
    (send,) = events
    assert isinstance(send, Send) and send.urgent
    assert orjson.loads(send.message) == orjson.loads(pong)
    assert isinstance(orjson.loads(send.message)["pong"], int)


def test_silence_allowed_is_three_longest_ping_periods() -> None:
    # The doc gives no ping period; a family server pinged every 10 s. A quiet channel
    # plus one late ping must not read as a dead link.
    assert ws.DESCRIPTOR.silence_timeout >= 3 * 10
    r, _ = router(["trades"])
    s = 10**9
    for t in (0, 10, 20, 33):  # one ping 3 s late
        r.handle(gz(f'{{"ping":{T0 // 10**6 + t * 1000}}}'), T0 + t * s)
    assert r.session.silence_floor == pytest.approx(39.0)


def test_pong_keeps_a_string_value() -> None:
    r, _ = router(["trades"])
    (send,) = r.handle(gz('{"ping":"1595935723334"}'), T0)[1]
    assert send == Send('{"pong":"1595935723334"}', urgent=True)


def test_acks_replies_and_other_frames() -> None:
    r, t = router(["klines:5min", "trades"])
    assert r.handle(gz(TEMPLATE["ack_subed_template"]), T0) == (0, NOTHING)
    assert r.counters.acks == 1
    got, events = r.handle(gz(TEMPLATE["rep_kline_history"]), T0)
    assert got == 1 and isinstance(events[0], Reply)
    assert r.handle(gz(TEMPLATE["rep_trade_history"]), T0)[0] == 1
    assert r.handle(gz(TEMPLATE["rep_review"]), T0)[0] == 1
    assert len(t.tables["klines"]) == 1 and len(t.tables["trades"]) == 1
    review = r.frame("ticker")
    assert review["symbol"].tolist() == ["bchbtc"] and review["last"].iloc[0] == 0.07956
    other = r.counters.other
    assert r.handle(FAMILY["fameex_spot_system"], T0) == (0, NOTHING)  # ts string, tick null
    assert r.handle(gz(FAMILY["xme_unknown_event_echo"]), T0) == (0, NOTHING)
    assert r.counters.other == other + 2
    error = '{"event_rep":"subed","channel":"x","status":"error","msg":"channel illegal"}'
    got, events = r.handle(gz(error), T0)
    assert got == 0 and isinstance(events[0], ServerError) and not events[0].fatal
    assert "channel illegal" in events[0].message


def test_unsubscribed_channel_is_unrouted() -> None:
    r, t = router(["trades"], ["ethusdt"])
    assert r.handle(gz(TEMPLATE["push_trade"]), T0) == (0, NOTHING)
    assert r.counters.unrouted == 1 and len(t.tables["trades"]) == 0


@pytest.mark.parametrize(
    "frame",
    [
        gz('{"channel":"market_btcusdt_trade_ticker","tick":{"data":[{'),
        b"\x00\xffjunk",
        b"\x1f\x8b\x08broken-gzip",
        gz("[1, 2]"),
        gz(
            '{"channel":"market_btcusdt_trade_ticker","tick":{"data":[{"side":"up",'
            '"price":1,"vol":1}]}}'
        ),
        gz('{"channel":"market_btcusdt_trade_ticker","tick":{"data":[{"side":"buy"}]}}'),
    ],
)
def test_bad_frames_raise_protocol_error(frame: bytes) -> None:
    r, t = router(["trades"])
    with pytest.raises(ProtocolError):
        r.handle(frame, T0)


def test_plan_validates_before_connecting() -> None:
    subs = ws.plan(["BTC/USDT", "eth-usdt"], ["trades", "klines:1h", "book", "ticker"], {})
    assert [s.channel for s in subs[:2]] == [
        "market_btcusdt_trade_ticker",
        "market_ethusdt_trade_ticker",
    ]
    assert subs[2].channel == "market_btcusdt_kline_60min"
    assert ws.plan(["btcusdt"], ["klines"], {})[0].interval == parse_interval("1min")
    with pytest.raises(UnknownChannel, match="trades, ticker, klines, book"):
        ws.plan(["btcusdt"], ["quotes"], {})
    with pytest.raises(UnknownChannel, match="valid"):
        ws.plan(["btcusdt"], ["orders"], {})
    with pytest.raises(UnknownInterval, match="1min"):
        ws.plan(["btcusdt"], ["klines:2h"], {})
    with pytest.raises(InvalidArgument, match="symbol"):
        ws.plan(["btc usdt!"], ["trades"], {})
    with pytest.raises(InvalidArgument, match="no capture options"):
        ws.plan(["btcusdt"], ["trades"], {"inst_type": "SPOT"})


@pytest.mark.parametrize(
    "token", ["1min", "5min", "15min", "30min", "60min", "1day", "1week", "1month"]
)
def test_all_kline_periods(token: str) -> None:
    sub = ws.plan(["btcusdt"], [f"klines:{token}"], {})[0]
    assert sub.channel == f"market_btcusdt_kline_{token}"


def test_builders_match_the_doc() -> None:
    sub = orjson.loads(ws.build_subscribe(ws.plan(["btcusdt"], ["book"], {}))[0])
    doc = orjson.loads(TEMPLATE["sub_depth_doc"])
    assert sub["event"] == doc["event"] and sub["params"]["channel"] == doc["params"]["channel"]
    assert sub["params"]["asks"] == 150 and sub["params"]["bids"] == 150
    req = orjson.loads(
        ws.build_req_klines("btcusdt", parse_interval("5min"), since=1506602880, page_size=300)
    )
    assert req == {
        "event": "req",
        "params": {
            "channel": "market_btcusdt_kline_5min",
            "cb_id": "btcusdt",
            "pageSize": 300,
            "since": "1506602880",
        },
    }
    assert orjson.loads(ws.build_req_review()) == orjson.loads(TEMPLATE["req_review"])
    with pytest.raises(ValueError):
        ws.build_req_klines("btcusdt", parse_interval("1min"), page_size=301)
    assert orjson.loads(ws.build_req_trades("btcusdt"))["params"]["top"] == 200


def test_request_and_reply_by_cb_id() -> None:
    r, _ = router(["klines:5min"])
    (send,) = r.session.request(
        "klines",
        {"symbol": "btcusdt", "interval": parse_interval("5min"), "start_ns": 1506602880 * 10**9},
        "req-42",
    )
    sent = orjson.loads(send.message)
    assert sent["params"]["cb_id"] == "req-42" and sent["params"]["since"] == "1506602880"
    reply = orjson.loads(TEMPLATE["rep_kline_history"])
    reply["cb_id"] = "req-42"
    got, events = r.handle(gz(orjson.dumps(reply).decode()), T0)
    assert got == 1 and events == (Reply("req-42", 1),)
    assert r.frame("klines").index[0] == pd.Timestamp(1506602880, unit="s", tz="UTC")
    with pytest.raises(InvalidArgument, match="klines, trades"):
        r.session.request("orders", {}, "x")


def test_resubscribe_is_unsub_then_sub() -> None:
    r, _ = router(["book"])
    subs = r.session.subscriptions
    events = r.session.resubscribe(subs)
    assert [orjson.loads(e.message)["event"] for e in events] == ["unsub", "sub"]
    assert r.session.open(T0)[0].__class__.__name__ == "Ready"  # no login on v1
