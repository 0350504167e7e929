"""Raw continuity: every frame the engine receives is a raw row, across flushes,
rotations and a restart into a directory that already holds a recording."""

from __future__ import annotations

from pathlib import Path

import mdkit
from mdkit.sandbox import Sandbox

STREAM = ("cryptocom", ["btcusdt"], ["trades", "book"])


def test_every_received_frame_is_a_raw_row_across_flushes_and_a_restart(
    tmp_path: Path,
) -> None:
    flushes: list[str] = []
    with Sandbox(trades_per_second=30, ws_options={"rate": 5}):
        first = mdkit.record(
            tmp_path,
            STREAM,
            flush="0.3s",
            rotate="0.7s",
            status_every="0.3s",
            raw=True,
            seconds=2.0,
            on_status=flushes.append,
        )
        # a second recorder into the same dataset (a restart): its frames are kept too
        second = mdkit.record(tmp_path, STREAM, flush="0.3s", raw=True, seconds=1.5)
    assert len(flushes) >= 3 and first["parts"] >= 3
    assert first["frames"] > 0 and second["frames"] > 0
    raw = mdkit.read_parquet(tmp_path, "raw")
    assert first["rows"]["raw"] == first["frames"]
    assert second["rows"]["raw"] == second["frames"]
    assert len(raw) == first["frames"] + second["frames"]
    # the raw rows cover the whole recording, not its first flush
    span = raw.index[-1] - raw.index[0]
    assert span.total_seconds() > 2.0
    replayed = mdkit.replay(tmp_path)
    assert replayed.stats["messages"] == len(raw)
