"""Drift on every channel a session reads: books, klines and private pushes, bytes in.

Each case feeds a real sample frame (tests/samples/<venue>/, or the doc's example where
no recorded frame exists: said so inline) through its venue's session, then the same
frame with one field renamed, added or retyped. The sample gives no drift; each change
gives exactly the expected ``(channel, field, change)`` counts, and the rows are still
written when the fields they need parse.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from mdkit.data.tables import Tables
from mdkit.venues import get_venue
from mdkit.venues.base import Counters, SessionSetup
from tests.venues.sample_sessions import CREDENTIALS, NOW, frames_of

Mutate = Callable[[Any], None]


def feed(
    venue: str,
    setup: dict[str, Any],
    frames: list[str],
) -> tuple[dict[str, int], dict[str, int]]:
    """Drift counts (``"channel field change"`` → n) and rows per table of the frames."""
    descriptor = get_venue(venue)
    endpoint = setup.get("endpoint", "public")
    plan = descriptor.plan(setup["symbols"], setup["channels"], setup.get("options", {}))
    subs = tuple(s for s in plan if s.endpoint == endpoint)
    tables, counters = Tables(), Counters()
    session = descriptor.session(
        SessionSetup(descriptor, endpoint, subs, tables, counters, CREDENTIALS)
    )
    session.open(NOW)
    session.subscribe(subs)
    for i, raw in enumerate(frames):
        session.receive(raw.encode(), NOW + i)
    drift = {" ".join(key[1:]): n for key, n in counters.drift.items()}
    return drift, {kind: len(tables[kind]) for kind in tables.kinds() if len(tables[kind])}


def sample(venue: str, name: str) -> str:
    return frames_of(venue)[name]


# -- mutations (on the decoded frame) ------------------------------------------------------
def rename(where: Callable[[Any], Any], old: str, new: str) -> Mutate:
    def apply(msg: Any) -> None:
        item = where(msg)
        item[new] = item.pop(old)

    return apply


def put(where: Callable[[Any], Any], key: Any, value: Any) -> Mutate:
    def apply(msg: Any) -> None:
        where(msg)[key] = value

    return apply


def drop(where: Callable[[Any], Any], *names: str) -> Mutate:
    def apply(msg: Any) -> None:
        for name in names:
            del where(msg)[name]

    return apply


def grow(where: Callable[[Any], Any], value: Any) -> Mutate:
    """Append an element to the array ``where`` picks (a level, a candle row)."""
    return lambda msg: where(msg).append(value)


def cut(where: Callable[[Any], Any]) -> Mutate:
    """Drop the last element of the array ``where`` picks."""
    return lambda msg: where(msg).pop()


def each(rows: Callable[[Any], Any], change: Callable[[Any], Any]) -> Mutate:
    """Apply ``change`` to every element of ``rows(msg)``."""

    def apply(msg: Any) -> None:
        for row in rows(msg):
            change(row)

    return apply


def item(msg: Any) -> Any:
    return msg["data"][0]


def data(msg: Any) -> Any:
    return msg["data"]


def tick(msg: Any) -> Any:
    return msg["tick"]


def k(msg: Any) -> Any:
    return msg["data"]["k"] if "code" in msg else msg["k"]


def top(msg: Any) -> Any:
    return msg


# -- the cases -----------------------------------------------------------------------------
BG_BOOKS = {"symbols": ["MAVUSDT"], "channels": ["book"], "options": {"inst_type": "USDT-FUTURES"}}
BG_BOOKS15 = {"symbols": ["BTCUSDT"], "channels": ["book:15"]}
BG_CANDLES = {"symbols": ["BTCUSDT"], "channels": ["klines:1min"]}
CC = {"symbols": ["btcusdt"], "channels": ["trades", "ticker", "book", "klines:5min"]}
IT = {"symbols": ["ETHUSDT"], "channels": ["ticker", "book", "quotes", "klines:1min", "trades"]}
IT_OPEN = [
    f"ws_doc_examples.json#{n}" for n in ("connected", "auth_ok_header_token", "subscribe_ok")
]
BT = {"symbols": ["BTC-USDT"], "channels": ["trades", "ticker", "book:1", "klines:1min"]}
BT_PRIVATE = {"symbols": [], "channels": ["balances"], "endpoint": "private"}
RC_PRIVATE = {"symbols": ["KRB/UAH"], "channels": ["orders"], "endpoint": "private"}

#: BitTap kline push: no recorded frame exists; NOTES.md lists its keys (Binance-style
#: ``{e,E,s,k:{t,T,s,i,f,L,o,c,h,l,v,q,n,x}}``), the values are made up.
BT_KLINE = json.dumps({
    "e": "s_kline_1m", "E": 1672515782136, "s": "BTC-USDT",
    "k": {"t": 1672515780000, "T": 1672515839999, "s": "BTC-USDT", "i": "1m", "f": 100,
          "L": 200, "o": "0.0010", "c": "0.0020", "h": "0.0025", "l": "0.0010", "v": "1000",
          "q": "1.5", "n": 100, "x": False},
})  # fmt: skip
#: Richamster's user_orders example (richamster-ws.txt "user_orders"; no recorded frame).
RC_ORDER = json.dumps({"created_at": "1532694617", "closed_at": "1532696617", "side": "selling",
                       "volume": 2.23236, "unit_price": 1.00, "sum": 2.23236, "pair": "KRB/UAH",
                       "pk": 1})  # fmt: skip

#: Bitget private pushes: Bitget's API docs' examples ("Order/Fill/Account Channel",
#: bitget.com/api-doc/spot/websocket/private/* and /api-doc/contract/websocket/private/*);
#: no recorded private frame exists.
BG_SPOT = {"symbols": [], "channels": ["orders", "fills", "account"], "endpoint": "private"}
BG_FUT = {**BG_SPOT, "options": {"inst_type": "USDT-FUTURES"}}


def _push(inst: str, channel: str, item: dict[str, Any]) -> str:
    key = "coin" if channel == "account" else "instId"
    arg = {"instType": inst, "channel": channel, key: "default"}
    return "=" + json.dumps({"action": "snapshot", "arg": arg, "data": [item], "ts": 1})


BG_SPOT_ORDER = _push("SPOT", "orders", {
    "instId": "BTCUSDT", "orderId": "1", "clientOid": "1", "size": "8.0000",
    "newSize": "500.0000", "notional": "8.000000", "orderType": "market", "force": "gtc",
    "side": "buy", "fillPrice": "26256.0", "tradeId": "1", "baseVolume": "0.0003",
    "fillTime": "1695797773286", "fillFee": "-0.00000018", "fillFeeCoin": "BTC",
    "tradeScope": "T", "accBaseVolume": "0.0003", "priceAvg": "26256.0",
    "status": "partially_filled", "cTime": "1695797773257", "uTime": "1695797773326",
    "stpMode": "cancel_taker", "feeDetail": [{"feeCoin": "BTC", "fee": "-0.00000018"}],
    "enterPointSource": "WEB"})  # fmt: skip
BG_FUT_ORDER = _push("USDT-FUTURES", "orders", {
    "accBaseVolume": "0.01", "cTime": "1695718781129", "clientOId": "1",
    "feeDetail": [{"feeCoin": "USDT", "fee": "-0.162003"}], "fillFee": "-0.162003",
    "fillFeeCoin": "USDT", "fillNotionalUsd": "270.005", "fillPrice": "27000.5",
    "baseVolume": "0.01", "fillTime": "1695718781146", "force": "gtc", "instId": "BTCUSDT",
    "leverage": "20", "marginCoin": "USDT", "marginMode": "crossed", "notionalUsd": "270",
    "orderId": "1", "orderType": "market", "pnl": "0", "posMode": "hedge_mode",
    "posSide": "long", "price": "0", "priceAvg": "27000.5", "reduceOnly": "no",
    "stpMode": "cancel_taker", "side": "buy", "size": "0.01", "enterPointSource": "WEB",
    "status": "filled", "tradeScope": "T", "tradeId": "1111111111", "tradeSide": "open",
    "presetStopSurplusPrice": "21.4", "totalProfits": "11221.45",
    "presetStopLossPrice": "21.5", "uTime": "1695718781146"})  # fmt: skip
_FEE = [{"feeCoin": "USDT", "deduction": "no", "totalDeductionFee": "0", "totalFee": "-0.18"}]
BG_SPOT_FILL = _push("SPOT", "fill", {
    "orderId": "111", "tradeId": "111", "symbol": "BTCUSDT", "orderType": "limit",
    "side": "buy", "priceAvg": "42740.41", "size": "0.0006", "amount": "25.644246",
    "tradeScope": "marker", "feeDetail": _FEE, "cTime": "1703580202094",
    "uTime": "1703580202094"})  # fmt: skip
BG_FUT_FILL = _push("USDT-FUTURES", "fill", {
    "orderId": "111", "tradeId": "222", "symbol": "BTCUSDT", "side": "buy",
    "orderType": "market", "posMode": "one_way_mode", "price": "51000.5", "baseVolume": "0.01",
    "quoteVolume": "510.005", "profit": "0", "tradeSide": "open", "tradeScope": "taker",
    "feeDetail": _FEE, "cTime": "1703577336606", "uTime": "1703577336606"})  # fmt: skip
BG_SPOT_ACCOUNT = _push("SPOT", "account", {
    "coin": "USDT", "available": "100000", "frozen": "0", "locked": "0",
    "limitAvailable": "0", "uTime": "1697092295506"})  # fmt: skip
BG_FUT_ACCOUNT = _push("USDT-FUTURES", "account", {
    "marginCoin": "USDT", "frozen": "0.00000000", "available": "11.98545761",
    "maxOpenPosAvailable": "11.98545761", "maxTransferOut": "11.98545761",
    "equity": "11.98545761", "usdtEquity": "11.985457617660", "crossedRiskRate": "0",
    "unrealizedPL": "0.000000000000"})  # fmt: skip

BITGET = "bitget"
BG_PUB = "ws_public_recorded.json#"
BG_CLONE = "bitget_v2_clone_cointr_recorded.json#"
CCT = "ws_template_examples.json#"
CASES: list[tuple[str, str, dict[str, Any], list[str], str, Mutate | None, dict[str, int], int]] = [
    # (id, venue, setup, prelude, frame, mutation, drift, change in rows)
    ("bitget books", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav", None, {}, 0),
    ("bitget books +field", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav",
     put(item, "maxdepth", "1000"), {"books maxdepth unknown": 1}, 0),
    ("bitget books renamed", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav",
     rename(item, "seq", "sequence"), {"books sequence unknown": 1}, 0),
    ("bitget books retyped", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav",
     put(item, "ts", 1789456510736), {"books ts type number": 1}, 0),
    ("bitget books level +1", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav",
     grow(lambda m: item(m)["bids"][0], "3"), {"books bids[2] unknown": 1}, 0),
    ("bitget books level -1", BITGET, BG_BOOKS, [], BG_PUB + "books_usdtfut_snapshot_mav",
     cut(lambda m: item(m)["asks"][1]), {"books asks[1] missing": 1}, -1),
    ("bitget books15", BITGET, BG_BOOKS15, [], BG_CLONE + "cointr_books15_snapshot", None, {}, 0),
    ("bitget books15 +field", BITGET, BG_BOOKS15, [], BG_CLONE + "cointr_books15_snapshot",
     put(item, "maxdepth", "15"), {"books maxdepth unknown": 1}, 0),
    ("bitget books15 retyped", BITGET, BG_BOOKS15, [], BG_CLONE + "cointr_books15_snapshot",
     put(item, "ts", 1790133569526), {"books ts type number": 1}, 0),
    ("bitget books15 level +1", BITGET, BG_BOOKS15, [], BG_CLONE + "cointr_books15_snapshot",
     grow(lambda m: item(m)["asks"][0], "2"), {"books asks[2] unknown": 1}, 0),
    ("bitget candle", BITGET, BG_CANDLES, [], BG_PUB + "candle1m_spot_snapshot", None, {}, 0),
    ("bitget candle +1", BITGET, BG_CANDLES, [], BG_PUB + "candle1m_spot_snapshot",
     each(data, lambda r: r.append("0")), {"candle [8] unknown": 3}, 0),
    ("bitget candle -1", BITGET, BG_CANDLES, [], BG_PUB + "candle1m_spot_snapshot",
     each(data, lambda r: r.pop()), {"candle [7] missing": 3}, 0),
    ("bitget candle retyped", BITGET, BG_CANDLES, [], BG_PUB + "candle1m_spot_snapshot",
     each(data, lambda r: r.__setitem__(5, 0.5)), {"candle [5] type number": 1}, 0),
    ("bitget spot order", BITGET, BG_SPOT, [], BG_SPOT_ORDER, None, {}, 0),
    ("bitget spot order renamed", BITGET, BG_SPOT, [], BG_SPOT_ORDER,
     rename(item, "clientOid", "clientOId"),
     {"orders clientOId unknown": 1, "orders clientOid missing": 1}, 0),
    ("bitget spot order unfilled", BITGET, BG_SPOT, [], BG_SPOT_ORDER,
     drop(item, "fillPrice", "tradeId", "baseVolume", "fillTime", "fillFee", "fillFeeCoin",
          "tradeScope"), {}, 0),
    ("bitget spot order -field", BITGET, BG_SPOT, [], BG_SPOT_ORDER,
     drop(item, "stpMode"), {"orders stpMode missing": 1}, 0),
    ("bitget futures order", BITGET, BG_FUT, [], BG_FUT_ORDER, None, {}, 0),
    ("bitget futures order +field", BITGET, BG_FUT, [], BG_FUT_ORDER,
     put(item, "cancelReason", ""), {"orders cancelReason unknown": 1}, 0),
    ("bitget spot fill", BITGET, BG_SPOT, [], BG_SPOT_FILL, None, {}, 0),
    ("bitget spot fill +field", BITGET, BG_SPOT, [], BG_SPOT_FILL,
     put(item, "feeRate", "0.001"), {"fill feeRate unknown": 1}, 0),
    ("bitget futures fill", BITGET, BG_FUT, [], BG_FUT_FILL, None, {}, 0),
    ("bitget futures fill retyped", BITGET, BG_FUT, [], BG_FUT_FILL,
     put(item, "profit", 0), {"fill profit type number": 1}, 0),
    ("bitget spot account", BITGET, BG_SPOT, [], BG_SPOT_ACCOUNT, None, {}, 0),
    ("bitget spot account renamed", BITGET, BG_SPOT, [], BG_SPOT_ACCOUNT,
     rename(item, "limitAvailable", "limitAvail"),
     {"account limitAvail unknown": 1, "account limitAvailable missing": 1}, 0),
    ("bitget futures account", BITGET, BG_FUT, [], BG_FUT_ACCOUNT, None, {}, 0),
    ("bitget futures account retyped", BITGET, BG_FUT, [], BG_FUT_ACCOUNT,
     put(item, "available", 11.98), {"account available type number": 1}, 0),
    ("cryptocom kline", "cryptocom", CC, [], CCT + "push_kline", None, {}, 0),
    ("cryptocom kline +field", "cryptocom", CC, [], CCT + "push_kline",
     put(tick, "count", 3), {"kline count unknown": 1}, 0),
    ("cryptocom kline renamed", "cryptocom", CC, [], CCT + "push_kline",
     rename(tick, "amount", "turnover"),
     {"kline turnover unknown": 1, "kline amount missing": 1}, 0),
    ("cryptocom kline retyped", "cryptocom", CC, [], CCT + "push_kline",
     put(tick, "amount", None), {"kline amount type null": 1}, 0),
    ("cryptocom kline reply +field", "cryptocom", CC, [], CCT + "rep_kline_history",
     put(lambda m: m["data"][0], "count", 3), {"kline count unknown": 1}, 0),
    ("cryptocom depth", "cryptocom", CC, [], CCT + "push_depth_full", None, {}, 0),
    ("cryptocom depth +field", "cryptocom", CC, [], CCT + "push_depth_full",
     put(tick, "ts", 1506584998239), {"depth ts unknown": 1}, 0),
    ("cryptocom depth level +1", "cryptocom", CC, [], CCT + "push_depth_full",
     grow(lambda m: m["tick"]["buys"][0], 1), {"depth buys[2] unknown": 1}, 0),
    ("cryptocom depth level retyped", "cryptocom", CC, [], CCT + "push_depth_full",
     each(lambda m: m["tick"]["asks"], lambda r: r.__setitem__(1, True)),
     {"depth asks[1] type boolean": 1}, 0),
    ("cryptocom depth update", "cryptocom", CC, [], CCT + "push_depth_incremental_hf", None, {}, 0),
    ("cryptocom depth update +field", "cryptocom", CC, [], CCT + "push_depth_incremental_hf",
     put(tick, "seq", 7), {"depth seq unknown": 1}, 0),
    ("itick depth", "itick", IT, IT_OPEN, "ws_doc_examples.json#depth_push", None, {}, 0),
    ("itick depth +field", "itick", IT, IT_OPEN, "ws_doc_examples.json#depth_push",
     put(data, "u", 1), {"depth u unknown": 1}, 0),
    ("itick depth level +field", "itick", IT, IT_OPEN, "ws_doc_examples.json#depth_push",
     put(lambda m: m["data"]["a"][2], "x", 1), {"depth_level x unknown": 1}, 0),
    ("itick depth level renamed", "itick", IT, IT_OPEN, "ws_doc_examples.json#depth_push",
     rename(lambda m: m["data"]["b"][0], "o", "n"),
     {"depth_level n unknown": 1, "depth_level o missing": 1}, 0),
    ("itick depth level retyped", "itick", IT, IT_OPEN, "ws_doc_examples.json#depth_push",
     put(lambda m: m["data"]["b"][0], "o", "20.9758"), {"depth_level o type string": 1}, 0),
    ("itick kline", "itick", IT, IT_OPEN, "ws_doc_examples.json#kline_push", None, {}, 0),
    ("itick kline +field", "itick", IT, IT_OPEN, "ws_doc_examples.json#kline_push",
     put(k, "n", 12), {"kline n unknown": 1}, 0),
    ("itick kline renamed", "itick", IT, IT_OPEN, "ws_doc_examples.json#kline_push",
     rename(k, "tu", "turnover"), {"kline turnover unknown": 1, "kline tu missing": 1}, 0),
    ("itick kline retyped", "itick", IT, IT_OPEN, "ws_doc_examples.json#kline_push",
     put(k, "v", "28"), {"kline v type string": 1}, 0),
    ("itick kline push +field", "itick", IT, IT_OPEN, "ws_doc_examples.json#kline_push",
     put(data, "x", 1), {"kline_push x unknown": 1}, 0),
    ("bittap depth", "bittap", BT, [], "ws_doc_examples.json#spot_depth_push", None, {}, 0),
    ("bittap depth +field", "bittap", BT, [], "ws_doc_examples.json#spot_depth_push",
     put(top, "E", 1672515782136), {"depth E unknown": 1}, 0),
    ("bittap depth retyped", "bittap", BT, [], "ws_doc_examples.json#spot_depth_push",
     put(top, "lastUpdateId", "1777735424"), {"depth lastUpdateId type string": 1}, 0),
    ("bittap depth level +1", "bittap", BT, [], "ws_doc_examples.json#spot_depth_push",
     grow(lambda m: m["bids"][0], "1"), {"depth bids[2] unknown": 1}, 0),
    ("bittap kline (NOTES keys)", "bittap", BT, [], "=" + BT_KLINE, None, {}, 0),
    ("bittap kline +field", "bittap", BT, [], "=" + BT_KLINE,
     put(k, "B", "0"), {"kline B unknown": 1}, 0),
    ("bittap kline renamed", "bittap", BT, [], "=" + BT_KLINE,
     rename(k, "x", "closed"), {"kline closed unknown": 1, "kline x missing": 1}, 0),
    ("bittap kline retyped", "bittap", BT, [], "=" + BT_KLINE,
     put(k, "o", 0.001), {"kline o type number": 1}, 0),
    ("bittap kline push +field", "bittap", BT, [], "=" + BT_KLINE,
     put(top, "u", 1), {"kline_push u unknown": 1}, 0),
    ("bittap balance", "bittap", BT_PRIVATE, [], "ws_doc_examples.json#private_balance_update",
     None, {}, 0),
    ("bittap balance +field", "bittap", BT_PRIVATE, [],
     "ws_doc_examples.json#private_balance_update", put(top, "u", 1), {"balance u unknown": 1}, 0),
    ("bittap balance renamed", "bittap", BT_PRIVATE, [],
     "ws_doc_examples.json#private_balance_update", rename(top, "d", "delta"),
     {"balance delta unknown": 1, "balance d missing": 1}, 0),
    ("bittap balance retyped", "bittap", BT_PRIVATE, [],
     "ws_doc_examples.json#private_balance_update", put(top, "f", 846365.3),
     {"balance f type number": 1}, 0),
    ("richamster order (doc)", "richamster", RC_PRIVATE, [], "=" + RC_ORDER, None, {}, 0),
    ("richamster open order", "richamster", RC_PRIVATE, [], "=" + RC_ORDER,
     put(top, "closed_at", None), {}, 0),
    ("richamster order +field", "richamster", RC_PRIVATE, [], "=" + RC_ORDER,
     put(top, "fee", 0.1), {"user_orders fee unknown": 1}, 0),
    ("richamster order renamed", "richamster", RC_PRIVATE, [], "=" + RC_ORDER,
     rename(top, "sum", "total"),
     {"user_orders total unknown": 1, "user_orders sum missing": 1}, 0),
    ("richamster order retyped", "richamster", RC_PRIVATE, [], "=" + RC_ORDER,
     put(top, "pk", "1"), {"user_orders pk type string": 1}, 0),
]  # fmt: skip


def _raw(venue: str, name: str) -> str:
    return name[1:] if name.startswith("=") else sample(venue, name)


@pytest.mark.parametrize(
    ("venue", "setup", "prelude", "name", "mutate", "drift", "rows"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_a_changed_field_is_counted_and_the_rows_kept(
    venue: str,
    setup: dict[str, Any],
    prelude: list[str],
    name: str,
    mutate: Mutate | None,
    drift: dict[str, int],
    rows: int,
) -> None:
    opening = [sample(venue, p) for p in prelude]
    raw = _raw(venue, name)
    base_drift, base_rows = feed(venue, setup, [*opening, raw])
    assert base_drift == {}  # the real frame: no drift
    assert base_rows  # and rows
    if mutate is None:
        return
    msg = json.loads(raw)
    mutate(msg)
    got_drift, got_rows = feed(venue, setup, [*opening, json.dumps(msg)])
    assert got_drift == drift
    assert got_rows == {kind: n + rows for kind, n in base_rows.items()}


def test_typed_books15_samples_types_and_falls_back_on_unknown_fields() -> None:
    # The typed path checks types on the first push and every TYPE_EVERY-th; an unknown
    # field fails the typed decode, so every such push is read (and counted) in full.
    from mdkit.venues.drift import TYPE_EVERY

    raw = sample(BITGET, BG_CLONE + "cointr_books15_snapshot")
    msg = json.loads(raw)
    item(msg)["ts"] = int(item(msg)["ts"])
    retyped = json.dumps(msg)
    extra = copy.deepcopy(json.loads(raw))
    item(extra)["maxdepth"] = "15"
    frames = [retyped] * (TYPE_EVERY + 1) + [json.dumps(extra)] * 3
    drift, rows = feed(BITGET, BG_BOOKS15, frames)
    assert drift == {"books ts type number": 2, "books maxdepth unknown": 3}
    assert rows == {"depth": 4 * (TYPE_EVERY + 4)}


def test_futures_private_items_are_read_by_their_own_names() -> None:
    # Futures orders name the client id `clientOId`, futures fills carry price and
    # baseVolume (no priceAvg/size), futures accounts `marginCoin` (Bitget's docs).
    descriptor = get_venue(BITGET)
    subs = tuple(descriptor.plan([], BG_FUT["channels"], BG_FUT["options"]))
    tables, counters = Tables(), Counters()
    session = descriptor.session(
        SessionSetup(descriptor, "private", subs, tables, counters, CREDENTIALS)
    )
    for raw in (BG_FUT_ORDER, BG_FUT_FILL, BG_FUT_ACCOUNT):
        session.receive(raw[1:].encode(), NOW)
    assert counters.drift == {}
    order = tables["orders"].columns()
    assert list(order["client_order_id"]) == ["1"]
    fill = tables["fills"].columns()
    assert (list(fill["price"]), list(fill["amount"])) == ([51000.5], [0.01])
    assert list(tables["balances"].columns()["coin"]) == ["usdt"]
