"""Resync budget: per-channel backoff (capped, jittered) within the venue's hourly budget."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import mdkit
from mdkit.engine.core import RESYNC_CAP, RESYNC_FIRST, Core, Later, Link, Transmit
from mdkit.engine.plan import Stream
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue

ARG = {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}
T0 = 1_800_000_000_000_000_000
S = 10**9


def _frame(action: str, seq: int, pseq: int, **extra: Any) -> bytes:
    item = {"asks": [["101", "1"]], "bids": [["100", "1"]], "ts": "1790000000000"}
    item |= {"seq": seq, "pseq": pseq, **extra}
    return json.dumps({"action": action, "arg": ARG, "data": [item]}).encode()


def _core() -> tuple[Core, Link]:
    venue = get_venue("bitget")
    subs = tuple(venue.plan(["BTCUSDT"], ["book"], {}))
    core = Core([Stream(venue, subs, {"public": "test:"})], jitter=lambda: 1.0)
    link = core.link("bitget", "public", subs)
    core.connect(link, T0)
    return core, link


def _break(core: Core, link: Link, now: int) -> list[Any]:
    """A fresh snapshot, then an update whose checksum is wrong: the actions of the break."""
    core.receive(link, _frame("snapshot", 1, 0), True, now)
    return list(core.receive(link, _frame("update", 2, 1, checksum=12345), True, now + 1))


def test_backoff_per_channel_doubles_to_its_cap_and_resets_after_quiet() -> None:
    core, link = _core()
    first = _break(core, link, T0 + S)
    assert first and all(type(a) is Transmit for a in first)  # at once the first time
    delays = []
    now = T0 + 2 * S
    for _ in range(9):
        actions = _break(core, link, now)
        assert len(actions) == 1 and type(actions[0]) is Later
        delays.append(actions[0].delay)
        core.resubscribe(link, actions[0].subscriptions, now)  # what the driver does later
        now += int(actions[0].delay * S) + 1
    assert delays[0] == RESYNC_FIRST
    assert delays[:4] == [RESYNC_FIRST * 2**i for i in range(4)]
    assert max(delays) == RESYNC_CAP
    # The book is never silently stale: every break opened a gap, closed by its snapshot.
    assert core.stats.resyncs == 10 and len(core.stats.gaps) == 10
    # After a quiet spell, the next break resyncs at once again.
    again = _break(core, link, now + 120 * S)
    assert again and all(type(a) is Transmit for a in again)


def test_the_hourly_budget_holds_over_reconnects() -> None:
    core, link = _core()
    allowed = link.stream.venue.limits.subscribe_requests_per_hour
    assert allowed
    # The budget lives on the link: a reconnect keeps what the last hour used.
    link.budget.extend([T0 + i for i in range(allowed)])
    core.closed(link, "closed by server", 1000, T0 + S, stopping=False)
    core.connect(link, T0 + 2 * S)
    actions = _break(core, link, T0 + 3 * S)
    assert len(actions) == 1 and type(actions[0]) is Later
    # Waits until the oldest request of the hour leaves the window (~1 h), not 0.5 s.
    assert actions[0].delay > 3500
    # A pending resubscribe is not asked twice.
    core.receive(link, _frame("update", 2, 1, checksum=12345), True, T0 + 4 * S)
    assert core.stats.resyncs == 1


def test_a_book_whose_checksum_is_always_wrong_resyncs_at_a_bounded_rate() -> None:
    """Over a real socket: every book update broken; resyncs back off (issue 17: 40 in 10 s)."""
    with Sandbox(seed=5, set_env=False, trades_per_second=100) as box:
        url = box.urls["bitget ws"]

        async def run() -> Any:
            task = asyncio.ensure_future(
                mdkit.acapture("bitget", "BTCUSDT", "book", seconds=6, url=url)
            )
            deadline = time.monotonic() + 5
            # The fault goes to a subscribed connection (queued ones reach none yet).
            while not any("bitget" in c.state and c.open for c in box.bitget.connections):
                assert time.monotonic() < deadline and not task.done()
                await asyncio.sleep(0.02)
            box.bitget.inject("checksum", count=100_000)
            return await task

        cap = asyncio.run(run())
    stats = cap.stats
    assert stats["resyncs"] >= 3, stats  # the faults did arrive
    # Immediate, then 0.5, 1, 2, 4 s (jitter halves at most): at most ~8 in 6 s.
    assert stats["resyncs"] <= 9, stats["resyncs"]
    assert stats["resyncs_deferred"] >= 2
    gaps = cap.gaps
    assert len(gaps) == stats["resyncs"] and gaps["end"].notna().all()


async def _storm(ws: Any) -> None:
    """Every subscribe gets a snapshot, then updates whose checksum is always wrong."""
    seq = 1

    async def updates() -> None:
        nonlocal seq
        while True:
            seq += 1
            await ws.send(_frame("update", seq, seq - 1, checksum=12345).decode())
            await asyncio.sleep(0.02)

    pusher = asyncio.ensure_future(updates())
    try:
        async for message in ws:
            if '"op":"subscribe"' in str(message).replace(" ", ""):
                seq += 1
                await ws.send(_frame("snapshot", seq, 0).decode())
    finally:
        pusher.cancel()


def test_a_resync_storm_server_gets_a_bounded_number_of_resubscribes() -> None:
    """A server whose book is always broken (issue 17: 40 resubscribes in 10 s)."""
    from tests.conftest import tiny_server

    with tiny_server(_storm) as url:
        cap = mdkit.capture("bitget", "BTCUSDT", "book", seconds=4, url=url)
    # At once, then after 0.25-0.5, 0.5-1, 1-2 s...: at most 5 in 4 s.
    assert 2 <= cap.stats["resyncs"] <= 5, cap.stats["resyncs"]
    assert cap.stats["resyncs_deferred"] >= 1


def test_a_subscribe_refused_for_rate_is_retried_later_in_a_gap() -> None:
    """Bitget 30006 (too many requests) on a subscribe: a gap, and a resubscribe later."""
    core, link = _core()
    refused = {"event": "error", "arg": ARG, "code": 30006, "msg": "too many requests"}
    actions = list(core.receive(link, json.dumps(refused).encode(), True, T0 + S))
    assert core.stats.server_errors and "30006" in core.stats.server_errors[0]
    assert core.stats.resyncs == 1 and core.stats.gaps[0].end_ns is None  # stale: in a gap
    assert actions and all(type(a) is Transmit for a in actions)  # first retry at once
    again = list(core.receive(link, json.dumps(refused).encode(), True, T0 + 2 * S))
    assert len(again) == 1 and type(again[0]) is Later and again[0].delay > 0
    core.resubscribe(link, again[0].subscriptions, T0 + 3 * S)
    core.receive(link, _frame("snapshot", 1, 0), True, T0 + 4 * S)
    assert core.stats.gaps[0].end_ns == T0 + 4 * S  # recovered by the fresh snapshot
