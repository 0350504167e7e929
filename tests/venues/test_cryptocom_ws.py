"""Crypto.com v1 WebSocket venue, pure: recorded and doc frames in, rows out (no sockets)."""

from __future__ import annotations

import ast
import json
import zlib
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

import mdkit.venues.cryptocom_ws as ws
from mdkit.data import frames
from mdkit.data.frames import StreamTables
from mdkit.data.timeparse import parse_interval
from mdkit.errors import InvalidArgument, ProtocolError, UnknownChannel, UnknownInterval
from mdkit.venues.spec import ACK, DATA, ERROR, OTHER, PING, UNROUTED, Subscription

SAMPLES = Path("/work/shared/protocols/samples/cryptocom_v1")
if not SAMPLES.exists():  # the repository layout: ../shared next to the project
    SAMPLES = Path(__file__).resolve().parents[3] / "shared/protocols/samples/cryptocom_v1"


def _samples(name: str) -> dict[str, str]:
    doc = json.loads((SAMPLES / name).read_text())
    return {s["id"]: s["raw"] for s in doc["samples"]}


TEMPLATE = _samples("ws_template_examples.json")
FAMILY = _samples("ws_chainup_family_captured.json")
T0 = 1_700_000_000_000_000_000


def gz(text: str) -> bytes:
    return zlib.compress(text.encode(), 6, wbits=31)


def router(channels: list[str], symbols: list[str] | None = None):
    tables = StreamTables()
    if symbols and "_" in symbols[0]:
        # Family servers name markets like e_btcusdt, which plan() would compact.
        kind = {"book": "book", "ticker": "ticker"}[channels[0]]
        name = f"market_{symbols[0]}_" + ("depth_step0" if kind == "book" else "ticker")
        subs: tuple[Subscription, ...] = (Subscription(kind, symbols[0], name),)
    else:
        subs = ws.plan(symbols or ["btcusdt"], channels)
    return ws.CryptocomRouter(subs, tables), tables


def test_trade_push_doc_example() -> None:
    r, t = router(["trades"])
    kind, key, reply = r.handle(gz(TEMPLATE["push_trade"]), T0)
    assert (kind, key, reply) == (DATA, "trades btcusdt", None)
    df = frames.stream_trades_frame(t.trades.columns(), attrs={})
    assert list(df.columns) == ["symbol", "id", "side", "price", "amount", "local_timestamp"]
    row = df.iloc[0]
    assert row["id"] == 12121 and row["side"] == "buy"
    assert row["price"] == 32.233 and row["amount"] == 232.0  # `vol` is the base amount
    assert df.index[0] == pd.Timestamp(1506584998239, unit="ms", tz="UTC")
    assert df.index.tz is not None and str(df["side"].dtype) == "category"


def test_trade_push_strings_uppercase_no_id_text_frame() -> None:
    r, t = router(["trades"])
    kind, _, _ = r.handle(FAMILY["darkex_trade_abridged"], T0)  # text frame, no ts at top
    assert kind == DATA
    df = frames.stream_trades_frame(t.trades.columns(), attrs={})
    assert df["side"].tolist() == ["sell"]
    assert df["price"].iloc[0] == 68821.73 and df["amount"].iloc[0] == 0.10834
    assert df["id"].isna().all()  # the server sent no id: missing, not invented


def test_ticker_numbers_and_strings() -> None:
    r, t = router(["ticker"])
    assert r.handle(gz(TEMPLATE["push_ticker"]), T0)[0] == DATA
    r2, t2 = router(["ticker"], ["e_btcusdt"])
    assert r2.handle(gz(FAMILY["xme_ticker"]), T0)[0] == DATA  # event_rep "" and strings
    a = frames.stream_ticker_frame(t.ticker.columns(), attrs={})
    b = frames.stream_ticker_frame(t2.ticker.columns(), attrs={})
    assert a["last"].iloc[0] == 1221.11 and a["change"].iloc[0] == -0.2922
    assert a["quote_volume"].iloc[0] == 123.1221 and a["open"].iloc[0] == 2233.22
    assert np.isnan(a["bid"].iloc[0])  # v1 tickers carry no bid/ask
    assert b["last"].iloc[0] == 86522.0 and b["volume"].iloc[0] == 80596849.0
    assert b.dtypes["last"] == np.float64


def test_kline_push_seconds() -> None:
    r, t = router(["klines:5min"])
    assert r.handle(gz(TEMPLATE["push_kline"]), T0) == (DATA, "klines:5min btcusdt", None)
    df = frames.stream_klines_frame(
        t.klines.columns(), interval_seconds={"5min": 300}, end_s=T0 / 1e9, attrs={}
    )
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
    assert r.handle(gz(sample), T0)[0] == DATA
    df = frames.stream_depth_frame(t.depth.columns(), attrs={})
    assert df["is_snapshot"].all()
    assert (df["side"] == "bid").sum() == bids and (df["side"] == "ask").sum() == asks
    first = orjson.loads(sample)["tick"]["buys"][0]
    assert df[df["side"] == "bid"]["price"].iloc[0] == float(first[0])


def test_incremental_level_and_delete() -> None:
    r, t = router(["book"])
    r.handle(gz(TEMPLATE["push_depth_incremental_hf"]), T0)
    delete = TEMPLATE["push_depth_incremental_hf"].replace('"volume":44.22', '"volume":0')
    r.handle(gz(delete.replace('"asks"', '"buys"')), T0 + 1)
    df = frames.stream_depth_frame(t.depth.columns(), attrs={})
    assert not df["is_snapshot"].any()
    assert df["side"].tolist() == ["ask", "bid"]
    assert df["amount"].tolist() == [44.22, 0.0] and df["price"].tolist() == [133.55, 133.55]


def test_unknown_symbol_empty_book_is_data_without_rows() -> None:
    r, t = router(["book"], ["e_nopeusdt"])
    assert r.handle(gz(FAMILY["xme_unknown_symbol"]), T0)[0] == DATA
    assert len(t.depth) == 0


@pytest.mark.parametrize(
    "ping, pong",
    [
        (TEMPLATE["server_ping_ms"], TEMPLATE["client_pong_ms"]),
        (FAMILY["xme_server_ping_seconds"], FAMILY["xme_client_pong"]),
    ],
)
def test_pong_echoes_the_ping_value(ping: str, pong: str) -> None:
    r, _ = router(["trades"])
    kind, _, reply = r.handle(gz(ping), T0)
    assert kind == PING
    assert orjson.loads(reply) == orjson.loads(pong)
    assert isinstance(orjson.loads(reply)["pong"], int)


def test_pong_keeps_a_string_value() -> None:
    r, _ = router(["trades"])
    assert r.handle(gz('{"ping":"1595935723334"}'), T0)[2] == '{"pong":"1595935723334"}'


def test_acks_replies_and_other_frames() -> None:
    r, t = router(["klines:5min", "trades"])
    assert r.handle(gz(TEMPLATE["ack_subed_template"]), T0)[0] == ACK
    assert r.handle(gz(TEMPLATE["rep_kline_history"]), T0)[0] == DATA
    assert r.handle(gz(TEMPLATE["rep_trade_history"]), T0)[0] == DATA
    assert r.handle(gz(TEMPLATE["rep_review"]), T0)[0] == DATA
    assert len(t.klines) == 1 and len(t.trades) == 1
    review = frames.stream_ticker_frame(t.ticker.columns(), attrs={})
    assert review["symbol"].tolist() == ["bchbtc"] and review["last"].iloc[0] == 0.07956
    assert r.handle(FAMILY["fameex_spot_system"], T0)[0] == OTHER  # ts string, tick null
    assert r.handle(gz(FAMILY["xme_unknown_event_echo"]), T0)[0] == OTHER
    error = '{"event_rep":"subed","channel":"x","status":"error","msg":"channel illegal"}'
    kind, _, text = r.handle(gz(error), T0)
    assert kind == ERROR and "channel illegal" in str(text)


def test_unsubscribed_channel_is_unrouted() -> None:
    r, t = router(["trades"], ["ethusdt"])
    assert r.handle(gz(TEMPLATE["push_trade"]), T0)[0] == UNROUTED
    assert len(t.trades) == 0


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
    subs = ws.plan(["BTC/USDT", "eth-usdt"], ["trades", "klines:1h", "book", "ticker"])
    assert [s.channel for s in subs[:2]] == [
        "market_btcusdt_trade_ticker",
        "market_ethusdt_trade_ticker",
    ]
    assert subs[2].channel == "market_btcusdt_kline_60min"
    assert ws.plan("btcusdt", "klines")[0].interval == parse_interval("1min")
    with pytest.raises(UnknownChannel, match="trades, ticker, klines, book"):
        ws.plan("btcusdt", ["quotes"])
    with pytest.raises(UnknownChannel, match="valid"):
        ws.plan("btcusdt", ["orders"])
    with pytest.raises(UnknownInterval, match="1min"):
        ws.plan("btcusdt", ["klines:2h"])
    with pytest.raises(InvalidArgument, match="symbol"):
        ws.plan("btc usdt!", ["trades"])


@pytest.mark.parametrize(
    "token", ["1min", "5min", "15min", "30min", "60min", "1day", "1week", "1month"]
)
def test_all_kline_periods(token: str) -> None:
    sub = ws.plan("btcusdt", [f"klines:{token}"])[0]
    assert sub.channel == f"market_btcusdt_kline_{token}"


def test_builders_match_the_doc() -> None:
    sub = orjson.loads(ws.build_subscribe(ws.plan("btcusdt", "book"))[0])
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


def test_venue_module_is_sans_io() -> None:
    tree = ast.parse(Path(ws.__file__).read_text())
    names = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    names |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert not names & {"asyncio", "websockets", "socket", "threading", "requests"}
