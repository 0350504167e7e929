"""Typed push decoding (bitget_wire, cryptocom_wire): bytes in, rows out, as exact as before.

The compiled decoders read the wire's number strings and numbers during the parse; the
rows must equal what ``float(text)`` / ``int(text)`` give, for any number the venues
write, and a malformed item must stay a ProtocolError naming the channel.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdkit.data.tables import Tables
from mdkit.errors import ProtocolError
from mdkit.venues import bitget, cryptocom_ws
from mdkit.venues.base import Counters, SessionSetup

T0 = 1_800_000_000_000_000_000

#: Decimal strings as venues write them: up to 12 integer and 10 fraction digits.
decimals = st.builds(
    lambda i, f: f"{i}.{f}" if f else str(i),
    st.integers(0, 10**12),
    st.text("0123456789", max_size=10),
)
ids = st.integers(0, 2**63 - 1)


def session(module: Any, channel: str, symbol: str) -> tuple[Any, Tables]:
    venue = module.DESCRIPTOR
    subs = tuple(venue.plan([symbol], [channel], {}))
    tables = Tables()
    return venue.session(SessionSetup(venue, "public", subs, tables, Counters())), tables


def bitget_trade(items: list[dict[str, Any]], action: str = "update") -> bytes:
    arg = {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"}
    return orjson.dumps({"action": action, "arg": arg, "data": items, "ts": 1})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(decimals, decimals, ids, st.integers(0, 2**41)), min_size=1, max_size=4))
def test_bitget_trade_rows_equal_float_and_int_of_the_wire_strings(
    trades: list[tuple[str, str, int, int]],
) -> None:
    s, tables = session(bitget, "trades", "BTCUSDT")
    items = [
        {"ts": str(ts), "price": p, "size": q, "side": "buy", "tradeId": str(tid)}
        for p, q, tid, ts in trades
    ]
    assert s.receive(bitget_trade(items), T0) == ()
    cols = tables["trades"].columns()
    wire = list(reversed(trades))  # newest first on the wire
    assert cols["price"].tolist() == [float(p) for p, _, _, _ in wire]
    assert cols["amount"].tolist() == [float(q) for _, q, _, _ in wire]
    assert cols["id"].tolist() == [tid for _, _, tid, _ in wire]
    assert cols["timestamp"].tolist() == [ts * 1_000_000 for _, _, _, ts in wire]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(decimals, decimals), min_size=1, max_size=15))
def test_bitget_books15_rows_equal_float_of_the_wire_strings(levels: list[tuple[str, str]]) -> None:
    s, tables = session(bitget, "book:15", "BTCUSDT")
    arg = {"instType": "SPOT", "channel": "books15", "instId": "BTCUSDT"}
    book = {"bids": [list(x) for x in levels], "asks": [list(x) for x in levels[::-1]],
            "checksum": 0, "seq": 2**63 + 5, "ts": "1700000000000"}  # fmt: skip
    frame = orjson.dumps({"action": "snapshot", "arg": arg, "data": [book], "ts": 1})
    assert s.receive(frame, T0) == ()
    cols = tables["depth"].columns()
    expected = [float(p) for p, _ in levels] + [float(p) for p, _ in levels[::-1]]
    assert cols["price"].tolist() == expected
    assert cols["amount"].tolist() == [float(q) for _, q in levels] + [
        float(q) for _, q in levels[::-1]
    ]
    assert s.counters.data_messages == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(decimals, decimals, st.booleans()), min_size=1, max_size=4))
def test_cryptocom_trade_rows_from_numbers_or_strings(trades: list[tuple[str, str, bool]]) -> None:
    s, tables = session(cryptocom_ws, "trades", "btcusdt")
    items = [
        {"id": 7, "side": "BUY", "price": p if quoted else float(p),
         "vol": q if quoted else float(q), "ts": "1700000000001" if quoted else 1700000000001}
        for p, q, quoted in trades
    ]  # fmt: skip
    msg = {"channel": "market_btcusdt_trade_ticker", "ts": 5, "tick": {"data": items}}
    assert s.receive(zlib.compress(orjson.dumps(msg), 1, wbits=31), T0) == ()
    cols = tables["trades"].columns()
    assert cols["price"].tolist() == [float(p) for p, _, _ in trades]
    assert cols["amount"].tolist() == [float(q) for _, q, _ in trades]
    assert set(cols["timestamp"].tolist()) == {1700000000001 * 1_000_000}


def test_cryptocom_trade_without_ts_or_id_takes_the_frame_time_and_no_id() -> None:
    s, tables = session(cryptocom_ws, "trades", "btcusdt")
    msg = {"channel": "market_btcusdt_trade_ticker", "ts": 1700000000009,
           "tick": {"data": [{"side": "sell", "price": "1.5", "vol": 2}]}}  # fmt: skip
    s.receive(orjson.dumps(msg), T0)
    cols = tables["trades"].columns()
    assert cols["timestamp"].tolist() == [1700000000009 * 1_000_000]
    assert cols["id"].tolist() == [-1]
    assert cols["side"].tolist() == ["sell"]


@pytest.mark.parametrize(
    "item",
    [
        {"ts": "1", "size": "1", "side": "buy", "tradeId": "1"},  # no price
        {"ts": "1", "price": "x", "size": "1", "side": "buy", "tradeId": "1"},
        {"ts": "", "price": "1", "size": "1", "side": "buy", "tradeId": "1"},
        {"ts": "1", "price": "1", "size": "1", "side": None, "tradeId": "1"},
    ],
)
def test_bitget_malformed_trade_is_a_protocol_error_naming_the_channel(item: Any) -> None:
    s, tables = session(bitget, "trades", "BTCUSDT")
    with pytest.raises(ProtocolError, match="BTCUSDT push"):
        s.receive(bitget_trade([item]), T0)
    assert len(tables["trades"]) == 0


@pytest.mark.parametrize(
    "item",
    [
        {"side": "buy", "vol": 1},  # no price
        {"side": "buy", "price": "x", "vol": 1},
        {"side": "up", "price": 1, "vol": 1},
        {"side": "buy", "price": 1, "vol": 1, "ts": ""},
    ],
)
def test_cryptocom_malformed_trade_is_a_protocol_error_naming_the_channel(item: Any) -> None:
    s, tables = session(cryptocom_ws, "trades", "btcusdt")
    msg = {"channel": "market_btcusdt_trade_ticker", "tick": {"data": [item]}}
    with pytest.raises(ProtocolError, match="market_btcusdt_trade_ticker"):
        s.receive(orjson.dumps(msg), T0)
    assert len(tables["trades"]) == 0
