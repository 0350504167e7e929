"""A read handed to the core at once gives what its frames give one by one.

The live driver passes the frames of each read to ``Core.receive_many`` (and replay
passes runs of recorded frames), where a session may read runs of plain data pushes
in one call (Bitget's trade pushes). Here two cores get the same frames: one frame by
frame through ``Core.receive``, the other in reads of random sizes. Their rows, raw
frames, stats, counters, drift reports and actions must be equal, whatever mix of
recorded pushes, control frames and odd frames (drift, refused values, a frame that
is two JSON values, not JSON at all) comes in.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
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


def _core() -> tuple[Core, Any]:
    venue = get_venue("bitget")
    subs = tuple(venue.plan(["BTCUSDT", "ETHUSDT"], ["trades"], {}))
    core = Core([Stream(venue, subs, {"public": "test:"})], raw_limit=None)
    link = core.link(venue.key, "public", subs)
    core.connect(link, T0 * 10**6 - 1)
    return core, link


def _state(core: Core, link: Any, actions: list[Any]) -> dict[str, Any]:
    part = core.parts["bitget"]
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


def _run(frames: list[bytes], reads: list[int] | None) -> dict[str, Any]:
    core, link = _core()
    times = [T0 * 10**6 + 1_000 * i for i in range(len(frames))]
    actions: list[Any] = []
    if reads is None:
        for frame, now in zip(frames, times, strict=True):
            actions += core.receive(link, frame, True, now)
    else:
        i = 0
        for size in reads:
            if i < len(frames):
                actions += core.receive_many(link, frames[i : i + size], times[i : i + size], True)
                i += size
        if i < len(frames):
            actions += core.receive_many(link, frames[i:], times[i:], True)
    return _state(core, link, actions)


@settings(max_examples=60, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3 * TYPE_EVERY),
    reads=st.lists(st.integers(1, 2 * TYPE_EVERY), max_size=12),
)
def test_a_read_at_once_equals_its_frames_one_by_one(kinds: list[str], reads: list[int]) -> None:
    frames = [_frame(kind, i) for i, kind in enumerate(kinds)]
    assert _run(frames, reads) == _run(frames, None)


def test_a_long_run_of_trades_is_read_in_one_call_with_drift_sampled_the_same() -> None:
    """Past TYPE_EVERY frames, with drift kinds inside: the sampled type checks and the
    counts per channel agree (the case the random mixes above reach least often)."""
    # The first "number" push is the 2*TYPE_EVERY-th typed push: its types are checked.
    kinds = ["trade"] * (2 * TYPE_EVERY) + ["number"] + ["eth"] * (TYPE_EVERY + 3)
    kinds += ["number"] + ["trade"] * 10
    frames = [_frame(kind, i) for i, kind in enumerate(kinds)]
    batched = _run(frames, [1, len(frames)])
    assert batched == _run(frames, None)
    assert batched["counters"][0] == len(frames)
    assert ("bitget", "trade", "price", "type number") in batched["counters"][2]


def test_the_snapshots_backfill_is_skipped_in_a_run_as_one_by_one() -> None:
    """After a snapshot, an update repeating one of its trades is not a new row."""
    kinds = ["trade", "trade", "snapshot", "repeat", "trade", "repeat", "multi", "trade"]
    frames = [_frame(kind, i) for i, kind in enumerate(kinds)]
    batched = _run(frames, [len(frames)])
    assert batched == _run(frames, None)
    rows = len(batched["tables"]["trades"]["price"])
    assert rows == len(kinds) - 2 + 2 * (len(MULTI["data"]) - 1)  # the two repeats skipped
