"""A read handed to the core at once gives what its frames give one by one.

The live driver passes the frames of each read to ``Core.receive_many`` (and replay
passes runs of recorded frames), where a session may read runs of plain data pushes
in one call (Bitget's trade pushes). Here two cores get the same frames: one frame by
frame through ``Core.receive``, the other in reads of random sizes. Their rows, raw
frames, stats, counters, drift reports and actions must be equal, whatever mix of
recorded pushes, control frames and odd frames (drift, refused values, a frame that
is two JSON values, a gzip bomb, not JSON at all) comes in: Bitget text frames and
Crypto.com gzip frames (its one-trade pushes are read in runs too).
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdkit.engine.core import Core
from mdkit.engine.plan import Stream
from mdkit.venues import get_venue
from mdkit.venues.drift import TYPE_EVERY
from tests.conftest import load_samples

PUBLIC = load_samples("bitget_v2", "ws_public_recorded.json")
SINGLE = json.loads(PUBLIC["trade_update_single"]["raw"])
MULTI = json.loads(PUBLIC["trade_update_multi"]["raw"])
ACK = PUBLIC["ack_subscribe_trade"]["raw"]
T0 = 1_790_000_000_000


def _trade(i: int, symbol: str = "BTCUSDT", **item: Any) -> bytes:
    """The recorded one-trade push, with its own id and time (and any item changes)."""
    push = json.loads(json.dumps(SINGLE))
    push["arg"]["instId"] = symbol
    push["data"][0].update(
        {"ts": str(T0 + i), "tradeId": str(1_478_949_856_623_706_112 + i), **item}
    )
    push["data"][0] = {k: v for k, v in push["data"][0].items() if v is not None}
    return json.dumps(push).encode()


def _frame(kind: str, i: int) -> bytes:
    if kind == "multi":
        push = json.loads(json.dumps(MULTI))
        for k, item in enumerate(push["data"]):
            item["tradeId"] = str(1_478_949_900_000_000_000 + 10 * i + k)
        return json.dumps(push).encode()
    if kind == "snapshot":
        push = json.loads(json.dumps(MULTI))
        push["action"] = "snapshot"
        return json.dumps(push).encode()
    if kind == "repeat":  # an update repeating a trade of the snapshot's backfill
        push = json.loads(json.dumps(MULTI))
        push["data"] = push["data"][-1:]
        return json.dumps(push).encode()
    odd: dict[str, bytes] = {
        "trade": _trade(i),
        "eth": _trade(i, "ETHUSDT", price="2500.5"),
        "other": _trade(i, "SOLUSDT"),  # not subscribed: unrouted
        "unknown": _trade(i, extra="1"),  # drift: an unknown field
        "missing": _trade(i, side=None),  # drift: a missing field
        "number": _trade(i, price=77600.5),  # drift: a number where a string was
        "inf": _trade(i, price="inf"),  # refused by the row's bounds: a parse error
        "flat": _trade(i, side="flat"),  # not a side: a parse error
        "huge": _trade(i, tradeId=str(2**70)),  # past int64: a parse error
        "two": _trade(i) + b"," + _trade(i + 1),  # two JSON values in one frame
        "empty": json.dumps({**SINGLE, "data": []}).encode(),
        "pong": b"pong",
        "ack": ACK.encode(),
        "garbage": b'{"action":"update","arg":',
    }
    return odd[kind]


KINDS = ["trade"] * 12 + ["eth"] * 3 + [
    "multi", "snapshot", "snapshot", "repeat", "repeat", "other", "unknown", "missing",
    "number", "inf", "flat", "huge", "two", "empty", "pong", "ack", "garbage",
]  # fmt: skip


CDC = load_samples("cryptocom_v1", "ws_template_examples.json")
CDC_PUSH = json.loads(CDC["push_trade"]["raw"])
FAMILY = load_samples("cryptocom_v1", "ws_chainup_family_captured.json")
CDC_FAMILY = json.loads(FAMILY["darkex_trade_abridged"]["raw"])


def _cdc_trade(i: int, symbol: str = "btcusdt", push: Any = None, **item: Any) -> bytes:
    """The doc's trade push (or another), gzipped as on the wire, with its own id."""
    push = json.loads(json.dumps(push or CDC_PUSH))
    push["channel"] = f"market_{symbol}_trade_ticker"
    data = push["tick"]["data"]
    data[0].update({"id": 12_121 + i, "ts": T0 + i, **item})
    data[0] = {k: v for k, v in data[0].items() if v is not None}
    return gzip.compress(json.dumps(push).encode(), mtime=0)


@functools.cache
def _bomb() -> bytes:
    """A trade push behind 16 MiB of blanks: past the inflate bound, ~16 KiB on the wire."""
    return gzip.compress(b" " * (2**24) + json.dumps(CDC_PUSH).encode(), mtime=0)


def _cdc_frame(kind: str, i: int) -> bytes:
    if kind == "multi":
        push = json.loads(json.dumps(CDC_PUSH))
        push["tick"]["data"] = [dict(push["tick"]["data"][0], id=10**6 + 2 * i + k) for k in (0, 1)]
        return gzip.compress(json.dumps(push).encode(), mtime=0)
    frames: dict[str, Any] = {
        "trade": lambda: _cdc_trade(i),
        "eth": lambda: _cdc_trade(i, "ethusdt", price="2500.5"),
        "family": lambda: _cdc_trade(i, push=CDC_FAMILY),  # strings, upper-case side, no id
        "text": lambda: gzip.decompress(_cdc_trade(i)),  # plain JSON, not gzip
        "other": lambda: _cdc_trade(i, "solusdt"),  # not subscribed: unrouted
        "unknown": lambda: _cdc_trade(i, extra=1),  # drift: an unknown field
        "number": lambda: _cdc_trade(i, ds=5),  # drift: a number where a string was
        "side1": lambda: _cdc_trade(i, side=1),  # a number for the side: refused
        "inf": lambda: _cdc_trade(i, price="inf"),  # refused by the row's bounds
        "flat": lambda: _cdc_trade(i, side="flat"),  # not a side
        "huge": lambda: _cdc_trade(i, id=2**70),  # past int64
        "badts": lambda: gzip.compress(
            json.dumps(
                {**CDC_PUSH, "ts": "soon", "channel": "market_btcusdt_trade_ticker"}
            ).encode()
        ),
        "bomb": _bomb,
        "ping": lambda: gzip.compress(json.dumps({"ping": T0 + i}).encode()),
        "ack": lambda: gzip.compress(b'{"event_rep":"subed","channel":"x","status":"ok"}'),
        "garbage": lambda: b"\x1f\x8b not gzip",
    }
    return frames[kind]()  # type: ignore[no-any-return]


CDC_KINDS = ["trade"] * 12 + ["eth"] * 3 + [
    "multi", "family", "text", "other", "unknown", "number", "side1", "inf", "flat", "huge",
    "badts", "bomb", "ping", "ack", "garbage",
]  # fmt: skip
BUILD = {"bitget": (_frame, KINDS), "cryptocom": (_cdc_frame, CDC_KINDS)}


def _core(venue_key: str = "bitget") -> tuple[Core, Any]:
    venue = get_venue(venue_key)
    pairs = ["BTCUSDT", "ETHUSDT"] if venue_key == "bitget" else ["btcusdt", "ethusdt"]
    subs = tuple(venue.plan(pairs, ["trades"], {}))
    core = Core([Stream(venue, subs, {"public": "test:"})], raw_limit=None)
    link = core.link(venue.key, "public", subs)
    core.connect(link, T0 * 10**6 - 1)
    return core, link


def _state(core: Core, link: Any, actions: list[Any]) -> dict[str, Any]:
    part = core.parts[link.stream.venue.key]
    tables = {
        kind: {k: np.asarray(v).tolist() for k, v in part.tables[kind].columns().items()}
        for kind in part.tables.kinds()
    }
    raw, payloads = core.raw.columns()
    counters = link.counters
    stats = core.stats
    return {
        "tables": tables,
        "raw": {k: np.asarray(v).tolist() for k, v in raw.items()},
        "payloads": payloads,
        "stats": (stats.messages, stats.bytes, stats.parse_errors, sorted(stats.parse_error_kinds)),
        "errors": {k: (e.count, e.first) for k, e in stats.parse_error_kinds.items()},
        "counters": (
            counters.data_messages,
            dict(counters.per_channel),
            dict(counters.drift),
            counters.unrouted,
            counters.pongs,
            counters.acks,
        ),
        "data_total": core.data_total,
        "last_ns": (core.last_ns, link.last_ns),
        "actions": [repr(a) for a in actions],
    }


def _run(frames: list[bytes], reads: list[int] | None, venue: str = "bitget") -> dict[str, Any]:
    core, link = _core(venue)
    times = [T0 * 10**6 + 1_000 * i for i in range(len(frames))]
    actions: list[Any] = []
    if reads is None:
        for frame, now in zip(frames, times, strict=True):
            actions += core.receive(link, frame, venue == "bitget", now)
    else:
        i = 0
        for size in reads:
            if i < len(frames):
                chunk, at = frames[i : i + size], times[i : i + size]
                actions += core.receive_many(link, chunk, at, venue == "bitget")
                i += size
        if i < len(frames):
            actions += core.receive_many(link, frames[i:], times[i:], venue == "bitget")
    return _state(core, link, actions)


@pytest.mark.parametrize("venue", sorted(BUILD))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_read_at_once_equals_its_frames_one_by_one(venue: str, data: st.DataObject) -> None:
    build, pool = BUILD[venue]
    kinds = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3 * TYPE_EVERY))
    reads = data.draw(st.lists(st.integers(1, 2 * TYPE_EVERY), max_size=12))
    frames = [build(kind, i) for i, kind in enumerate(kinds)]
    assert _run(frames, reads, venue) == _run(frames, None, venue)


@pytest.mark.parametrize("venue", sorted(BUILD))
def test_a_long_run_of_trades_is_read_in_one_call_with_drift_sampled_the_same(venue: str) -> None:
    """Past TYPE_EVERY frames, with drift kinds inside: the sampled type checks and the
    counts per channel agree (the case the random mixes above reach least often)."""
    build = BUILD[venue][0]
    # The first "number" push is the 2*TYPE_EVERY-th typed push: its types are checked.
    kinds = ["trade"] * (2 * TYPE_EVERY) + ["number"] + ["eth"] * (TYPE_EVERY + 3)
    kinds += ["number"] + ["trade"] * 10
    frames = [build(kind, i) for i, kind in enumerate(kinds)]
    batched = _run(frames, [1, len(frames)], venue)
    assert batched == _run(frames, None, venue)
    assert batched["counters"][0] == len(frames)
    kind, field = ("trade", "price") if venue == "bitget" else ("trade_ticker", "ds")
    assert (venue, kind, field, "type number") in batched["counters"][2]


def test_a_frame_of_another_route_left_unread_counts_nothing() -> None:
    """Found by the test above: two ETH pushes, then a BTC push whose row is refused."""
    frames = [_frame(kind, i) for i, kind in enumerate(["eth", "eth", "inf"])]
    batched = _run(frames, [3])
    assert batched == _run(frames, None)
    assert batched["counters"][1] == {"trades ETHUSDT": 2}


def test_the_snapshots_backfill_is_skipped_in_a_run_as_one_by_one() -> None:
    """After a snapshot, an update repeating one of its trades is not a new row."""
    kinds = ["trade", "trade", "snapshot", "repeat", "trade", "repeat", "multi", "trade"]
    frames = [_frame(kind, i) for i, kind in enumerate(kinds)]
    batched = _run(frames, [len(frames)])
    assert batched == _run(frames, None)
    rows = len(batched["tables"]["trades"]["price"])
    assert rows == len(kinds) - 2 + 2 * (len(MULTI["data"]) - 1)  # the two repeats skipped
