"""Concurrency: two compactions, or recorders and a compaction, on one dataset never
duplicate or lose rows; each recorder keeps its own state (no false "recorder down")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.store.compact import compact
from mdkit.store.write import write_frame
from tests.store.test_crash import YESTERDAY, raw_frame

COMPACT = """
    import logging, sys
    logging.basicConfig(stream=sys.stderr, level=logging.INFO)
    from mdkit.store.compact import compact
    compact(r'{root}')
"""


def start(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_compactions_at_once_merge_each_part_once(tmp_path: Path) -> None:
    for day in range(3):
        for i in range(4):
            begin = YESTERDAY.value - day * 86_400 * 10**9 + i * 10**9
            write_frame(tmp_path, "raw", raw_frame(begin, 40))
    before = mdkit.read_parquet(tmp_path, "raw")
    sync = tmp_path / "sync"
    sync.mkdir()
    # The first compaction pauses once it has chosen a partition's parts, before it
    # writes their merged part: the worst moment for a second one to start.
    first = start(COMPACT.format(root=tmp_path), {"MDKIT_PAUSE_POINT": f"merge.start={sync}"})
    deadline = time.monotonic() + 60
    while not (sync / "paused").exists():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    second = start(COMPACT.format(root=tmp_path), {})
    assert second.stderr is not None
    waiting = ""
    while second.poll() is None and "waiting for the merge lock" not in waiting:
        waiting += second.stderr.readline()  # blocks until the second logs or exits
    (sync / "go").touch()
    assert first.wait(60) == 0 and second.wait(60) == 0, second.stderr.read()
    after = mdkit.read_parquet(tmp_path, "raw")
    assert after.index.equals(before.index) and after.index.is_unique
    leaves = {p.parent for p in tmp_path.rglob("*.parquet")}
    assert len(leaves) == 3 and all(len(list(d.glob("*.parquet"))) == 1 for d in leaves)


RECORD = """
    import json, mdkit
    out = mdkit.record(r'{root}', ('cryptocom', ['btcusdt'], ['trades', 'book']),
                       flush='0.3s', rotate='0.6s', raw=True, status_every=None, seconds=3)
    print(json.dumps(out))
"""


def test_two_recorders_and_compactions_on_one_dataset(tmp_path: Path) -> None:
    with Sandbox(trades_per_second=30, ws_options={"rate": 5}, set_env=False) as sb:
        recorders = [start(RECORD.format(root=tmp_path), sb.env) for _ in range(2)]
        tomorrow = pd.Timestamp.now("UTC") + pd.Timedelta(days=1)
        merges = 0
        while any(r.poll() is None for r in recorders):  # compactions race the rotations
            merges += compact(tmp_path, before=tomorrow)["partitions"]
        outs = [r.communicate(timeout=60) for r in recorders]
    assert all(r.returncode == 0 for r in recorders), outs
    summaries = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    raw = mdkit.read_parquet(tmp_path, "raw")
    assert len(raw) == sum(s["frames"] for s in summaries)
    assert sum(s["rows"]["raw"] for s in summaries) == len(raw)
    depth = mdkit.read_parquet(tmp_path, "depth")
    assert len(depth) == sum(s["rows"]["depth"] for s in summaries)
    assert merges > 0
    states = sorted(p.name for p in (tmp_path / "_recorders").glob("*.json"))
    assert len(states) == 2  # one state per recorder
    gaps = mdkit.read_parquet(tmp_path, "gaps")
    assert not len(gaps), gaps  # no false "recorder down" from a shared state
