"""Typed push decoding (bitget_wire, cryptocom_wire): bytes in, rows out, as exact as before.

The compiled decoders read the wire's number strings and numbers during the parse; the
rows must equal what ``float(text)`` / ``int(text)`` give, for any number the venues
write, and a malformed item must stay a ProtocolError naming the channel. Differential:
mutated pushes through ``receive`` (typed first) give the same rows, counters, errors and
drift as the session's general reader (orjson, the reference) on its own.
"""

from __future__ import annotations

import json
import random
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
from mdkit.venues.drift import TYPE_EVERY

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
@given(st.lists(st.tuples(decimals, decimals, ids, st.integers(1, 2**41)), min_size=1, max_size=4))
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
        {"ts": "1", "price": "1", "size": "1", "side": "up", "tradeId": "1"},
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


def test_bitget_typed_path_checks_types_on_sampled_frames_only() -> None:
    # Unknown and missing fields are counted on every item (the general reader reads
    # those frames); a number where a string was is seen on sampled frames.
    s, _ = session(bitget, "trades", "BTCUSDT")
    item = {"ts": "1790000000000", "price": 1.5, "size": "1", "side": "buy", "tradeId": "1"}
    for i in range(TYPE_EVERY + 1):
        s.receive(bitget_trade([{**item, "tradeId": str(i + 1)}]), T0 + i)
    assert s.counters.drift == {("bitget", "trade", "price", "type number"): 2}
    assert s.counters.data_messages == TYPE_EVERY + 1
    s.receive(bitget_trade([{**item, "x": 1}]), T0)
    s.receive(bitget_trade([{**item, "x": 1}]), T0)
    assert s.counters.drift[("bitget", "trade", "x", "unknown")] == 2


def test_an_integer_written_as_a_float_string_is_read_by_value() -> None:
    # The typed path's one documented leniency: "1.0" and "1e3" in an integer field.
    s, tables = session(bitget, "trades", "BTCUSDT")
    item = {"ts": "1.79e12", "price": "1", "size": "1", "side": "buy", "tradeId": "1.0"}
    s.receive(bitget_trade([item]), T0)
    cols = tables["trades"].columns()
    assert cols["id"].tolist() == [1]
    assert cols["timestamp"].tolist() == [1_790_000_000_000 * 1_000_000]


# -- differential: typed path == general reader ---------------------------------------------
#: Values a mutation writes (not "1e3"/"1.0" in integer fields: the documented leniency).
JUNK: list[Any] = [None, "", "abc", 2**70, -(2**70), -1, 0, 1.5, 1e15, 1e308, "NaN", "inf",
                   "-Infinity", "1e400", " 1.5", "1_0", "+2", [], {}, [["1", "2", "3"]],
                   True, "9" * 40, "BUY", "Sell", "x", "00.5", ".5"]  # fmt: skip
INT_FIELDS = {"ts", "tradeId", "id"}


def _mutate(rng: random.Random, node: Any) -> Any:
    """One random change somewhere in ``node`` (a copy): a value swapped, a key
    deleted or added, a list emptied."""
    if isinstance(node, dict) and node:
        key = rng.choice(sorted(node))
        choice = rng.random()
        out = dict(node)
        if choice < 0.15:
            del out[key]
        elif choice < 0.25:
            out["extra"] = rng.choice(JUNK)
        elif choice < 0.6 or not isinstance(node[key], (dict, list)):
            junk = [j for j in JUNK if not (key in INT_FIELDS and j in ("1e400",))]
            out[key] = rng.choice(junk)
        else:
            out[key] = _mutate(rng, node[key])
        return out
    if isinstance(node, list) and node:
        out_list = list(node)
        i = rng.randrange(len(out_list))
        if rng.random() < 0.1:
            return []
        out_list[i] = _mutate(rng, out_list[i])
        return out_list
    return rng.choice(JUNK)


def _outcome(module: Any, channel: str, symbol: str, frames: list[bytes], typed: bool) -> Any:
    s, tables = session(module, channel, symbol)
    results = []
    for i, frame in enumerate(frames):
        try:
            if typed:
                events = s.receive(frame, T0 + i)
            elif module is cryptocom_ws:
                events = s._general(zlib.decompress(frame, 31), T0 + i)
            else:
                events = s._general(frame, T0 + i)
            results.append(repr(events))
        except Exception as exc:  # noqa: BLE001 - the core contains any; compare the kind
            results.append(type(exc).__name__)
    c = s.counters
    rows = {k: {n: repr(v.tolist()) for n, v in tables[k].columns().items()}
            for k in ("trades", "depth")}  # fmt: skip
    drift = {k: v for k, v in c.drift.items() if not k[3].startswith("type")}
    return results, rows, (c.data_messages, c.per_channel, c.unrouted, c.other), drift


BITGET_TRADE = {
    "action": "update",
    "arg": {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"},
    "ts": 1790000000001,
    "data": [
        {"ts": "1790000000000", "price": "65000.5", "size": "0.01", "side": "buy", "tradeId": "9"},
        {"ts": "1790000000001", "price": "65000.1", "size": "2", "side": "sell", "tradeId": "8"},
    ],
}
BITGET_BOOK = {
    "action": "snapshot",
    "arg": {"instType": "SPOT", "channel": "books15", "instId": "BTCUSDT"},
    "ts": 1790000000001,
    "data": [
        {
            "asks": [["65001.5", "0.2"], ["65002", "1"]],
            "bids": [["65000.5", "0.1"]],
            "checksum": 0,
            "seq": 123,
            "ts": "1790000000000",
        }
    ],
}
CRYPTOCOM_TRADE = {"channel": "market_btcusdt_trade_ticker", "ts": 1790000000001, "tick": {
    "id": 1, "ts": 1790000000001, "data": [
        {"id": 7, "side": "buy", "price": 65000.5, "vol": "0.01", "amount": 650,
         "ts": 1790000000000},
        {"side": "SELL", "price": "65000.1", "vol": 2, "ds": "2026-12-07 05:00:00"}]}}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "channel", "symbol", "seed"),
    [
        (bitget, "trades", "BTCUSDT", BITGET_TRADE),
        (bitget, "book:15", "BTCUSDT", BITGET_BOOK),
        (cryptocom_ws, "trades", "btcusdt", CRYPTOCOM_TRADE),
    ],
    ids=["bitget trade", "bitget books15", "cryptocom trade"],
)
def test_typed_path_equals_the_general_reader_on_mutated_pushes(
    module: Any, channel: str, symbol: str, seed: dict[str, Any]
) -> None:
    rng = random.Random(20261207)
    gzip = module is cryptocom_ws
    for _ in range(200):
        frames = []
        for _ in range(8):  # a short stream: the seed, mutants (1-2 changes each), snapshots
            msg = seed
            for _ in range(rng.randrange(3)):
                msg = _mutate(rng, msg)
            if not gzip and rng.random() < 0.2 and isinstance(msg, dict):
                msg = {**msg, "action": "snapshot"}
            text = json.dumps(msg, separators=(",", ":")).encode()  # ints past 64 bits too
            frames.append(zlib.compress(text, 6, wbits=31) if gzip else text)
        typed = _outcome(module, channel, symbol, frames, typed=True)
        general = _outcome(module, channel, symbol, frames, typed=False)
        # `type` drift is sampled differently (typed: whole frames, Fields.due): not compared
        assert typed[:4] == general[:4], frames
