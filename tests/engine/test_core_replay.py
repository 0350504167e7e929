"""Replay equals live by construction: both run the one ingestion core.

A tiny scripted Bitget-speaking server sends a book snapshot, an update with a
wrong checksum (a resync), the fresh snapshot after the client resubscribes, a
good update, and then a fatal error (30004, login required). The live capture
ends with that AuthError; replaying its recording gives the same rows, the same
gaps, the same server errors and the same fatal error.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mdkit
from mdkit.errors import AuthError
from mdkit.sandbox import Sandbox
from mdkit.venues import bitget as bg
from tests.conftest import capture_until, tiny_server

ARG = {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}


def _book(action: str, ts: int, seq: int, pseq: int, asks: Any, bids: Any, **extra: Any) -> str:
    item = {"asks": asks, "bids": bids, "ts": str(ts), "seq": seq, "pseq": pseq, **extra}
    return json.dumps({"action": action, "arg": ARG, "data": [item], "ts": ts})


async def _script(ws: Any) -> None:
    """Snapshot, broken update, (client resubscribes) fresh snapshot, good update, fatal."""
    snapshots = 0
    async for message in ws:
        if message == "ping" or '"op":"subscribe"' not in str(message).replace(" ", ""):
            continue
        snapshots += 1
        t = 1_790_000_000_000 + snapshots * 1000
        await ws.send(_book("snapshot", t, 1, 0, [["101", "1"]], [["100", "1"]]))
        if snapshots == 1:
            bad = _book("update", t + 1, 2, 1, [["101", "2"]], [], checksum=12345)
            await ws.send(bad)
            continue
        good = bg.book_checksum([["100", "1"], ["99", "3"]], [["101", "1"]])
        await ws.send(_book("update", t + 2, 2, 1, [], [["99", "3"]], checksum=good))
        await ws.send(json.dumps({"event": "error", "code": 30004, "msg": "login required"}))
        await ws.wait_closed()  # the client closes first


def _gaps(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    cols = ["start", "end", "venue", "connection", "channels", "reason"]
    return [tuple(row) for row in frame[cols].itertuples(index=False)]


def test_replay_equals_live_with_a_resync_and_a_fatal_error(tmp_path: Path) -> None:
    with tiny_server(_script) as url:
        with pytest.raises(AuthError) as caught:
            mdkit.capture("bitget", "BTCUSDT", "book", seconds=15, url=url)
    live = caught.value.capture
    assert live is not None
    assert live.stats["resyncs"] == 1
    assert live.stats["error"] is not None and "login required" in live.stats["error"]
    assert len(live.gaps) == 1 and "checksum" in live.gaps["reason"].iloc[0]
    assert live.gaps["end"].notna().all()  # recovered: the fresh snapshot closed it
    live.to_parquet(tmp_path, raw=True)

    again = mdkit.replay(tmp_path)

    pd.testing.assert_frame_equal(
        again.depth.reset_index(drop=False), live.depth.reset_index(drop=False), check_like=False
    )
    assert _gaps(again.gaps) == _gaps(live.gaps)
    assert again.stats["server_errors"] == live.stats["server_errors"]
    assert again.stats["error"] == live.stats["error"]
    assert again.stats["resyncs"] == live.stats["resyncs"]
    assert again.stats["parse_errors"] == live.stats["parse_errors"]
    assert again.stats["data_messages"] == live.stats["data_messages"]


def test_replay_tells_a_reconnect_from_the_venues_other_connection(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    # Richamster serves the book and user_orders on two connections (two slots); a
    # kick closes both and each slot reconnects once. Replay must count 2
    # reconnects, as live did: the venue's second connection is not a reconnect.
    kicked = threading.Event()

    def done(stats: dict[str, Any]) -> bool:
        if not kicked.is_set():
            if stats["acks"] >= 2 and stats["data_messages"] > 0:
                sandbox.richamster.inject("kick")
                kicked.set()
            return False
        return bool(stats["connections"] >= 4 and stats["acks"] >= 4)

    live = capture_until(done, "richamster", "KRB/UAH", ["book", "user_orders"])
    assert live.stats["connections"] == 4 and live.stats["reconnects"] == 2, live.stats
    live.to_parquet(tmp_path, raw=True)

    again = mdkit.replay(tmp_path)

    assert again.stats["connections"] == 4
    assert again.stats["reconnects"] == live.stats["reconnects"]
    assert len(again.gaps) == len(live.gaps)
    assert sorted(again.gaps["connection"]) == sorted(live.gaps["connection"])
    pd.testing.assert_frame_equal(again.depth, live.depth)
