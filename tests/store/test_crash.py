"""Crash consistency: a kill -9 at each step of a flush, a rotation or a compaction
leaves a dataset that reads every flushed row once; the next run finishes the step.

The kill is a test-only fault point (``MDKIT_FAULT_POINT=<step>[@n]`` makes the process
``os._exit(137)`` there), run in a subprocess: every step, not random timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.data import tables as t
from mdkit.data.frames import strings
from mdkit.sandbox import Sandbox
from mdkit.store.compact import compact
from mdkit.store.write import write_frame

YESTERDAY = (pd.Timestamp.now("UTC") - pd.Timedelta(days=1)).normalize()
MERGE_STEPS = [
    "part.written",
    "part.published",
    "merge.published",
    "merge.removed-one",
    "merge.removed-all",
]


def raw_frame(start_ns: int, n: int) -> pd.DataFrame:
    """n raw rows with unique receive times (raw rows are never de-duplicated on read)."""
    local = start_ns + np.arange(n, dtype="int64") * 1000
    cols = {
        "local_timestamp": local,
        "connection": np.ones(n, "int32"),
        "text": np.ones(n, bool),
        "error": np.zeros(n, bool),
        "size": np.full(n, 2, "int32"),
    }
    df = t.raw_frame(cols, [b"{}"] * n, attrs={})
    df.insert(0, "venue", pd.Series(strings(["cryptocom"] * n), index=df.index))
    return df


def run(code: str, fault: str, env: dict[str, str] | None = None) -> int:
    full = {**os.environ, **(env or {}), "MDKIT_FAULT_POINT": fault}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=full, timeout=90, capture_output=True
    )
    assert proc.returncode in (0, 137), proc.stderr.decode()[-2000:]
    return proc.returncode


def files(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.is_file() and "kind=" in str(p))


@pytest.mark.parametrize("step", MERGE_STEPS)
def test_a_compaction_killed_at_each_step_loses_and_doubles_nothing(
    step: str, tmp_path: Path
) -> None:
    start = YESTERDAY.value
    for i in range(4):  # four flushes of one partition
        write_frame(tmp_path, "raw", raw_frame(start + i * 10**9, 50))
    before = mdkit.read_parquet(tmp_path, "raw")
    assert len(before) == 200 and len(files(tmp_path)) == 4
    rc = run(f"from mdkit.store.compact import compact; compact(r'{tmp_path}')", step)
    assert rc == 137  # it died at the step
    after = mdkit.read_parquet(tmp_path, "raw")
    assert after.index.is_unique and len(after) == 200
    assert after.index.equals(before.index)
    # the next run finishes the interrupted step: one part, nothing hidden left behind
    summary = compact(tmp_path)
    assert len(files(tmp_path)) == 1, files(tmp_path)
    if step != "merge.removed-all":
        assert summary["repaired"] + summary["parts_before"] >= 1
    assert mdkit.read_parquet(tmp_path, "raw").index.equals(before.index)


@pytest.mark.parametrize("step", ["part.written", "part.published"])
def test_a_write_killed_at_each_step_keeps_every_published_part(step: str, tmp_path: Path) -> None:
    code = f"""
        import numpy as np, pandas as pd
        from tests.store.test_crash import raw_frame, YESTERDAY
        from mdkit.store.write import write_frame
        for i in range(4):
            write_frame(r'{tmp_path}', "raw", raw_frame(YESTERDAY.value + i * 10**9, 50))
    """
    assert run(code, f"{step}@3", {"PYTHONPATH": os.getcwd()}) == 137
    published = 2 if step == "part.written" else 3
    rows = mdkit.read_parquet(tmp_path, "raw")
    assert len(rows) == 50 * published and rows.index.is_unique
    compact(tmp_path)  # removes the dead writer's temporary part, merges the rest
    assert len(files(tmp_path)) == 1
    assert len(mdkit.read_parquet(tmp_path, "raw")) == 50 * published


RECORD = """
    import mdkit
    mdkit.record(r'{root}', ('cryptocom', ['btcusdt'], ['trades', 'book']), flush='0.3s',
                 rotate={rotate}, raw=True, status_every=None, seconds=30)
"""


@pytest.mark.parametrize(
    ("step", "rotate"),
    [
        ("flush.kind-written@3", None),
        ("flush.written@2", None),
        ("part.written@4", None),
        ("merge.published", "'1s'"),
        ("merge.removed-one", "'1s'"),
    ],
)
def test_a_recorder_killed_in_a_flush_or_rotation_reads_once_and_a_restart_repairs(
    step: str, rotate: str | None, tmp_path: Path
) -> None:
    with Sandbox(trades_per_second=30, ws_options={"rate": 5}, set_env=False) as sb:
        code = RECORD.format(root=tmp_path, rotate=rotate)
        assert run(code, step, sb.env) == 137
        raw = mdkit.read_parquet(tmp_path, "raw")
        depth = mdkit.read_parquet(tmp_path, "depth")
        assert len(raw) > 0 and raw.index.is_unique
        assert not depth.duplicated().any() and len(depth) > 0
        with pytest.MonkeyPatch.context() as patch:
            for name, value in sb.env.items():
                patch.setenv(name, value)
            again = mdkit.record(
                tmp_path, ("cryptocom", ["btcusdt"], ["trades", "book"]), raw=True, seconds=0.5
            )
    assert again["frames"] > 0
    everything = mdkit.read_parquet(tmp_path, "raw")
    assert everything.index.is_unique and len(everything) == len(raw) + again["frames"]
    assert not list(tmp_path.rglob(".*.tmp"))  # the dead writer's temporary part is gone
    # no part is both present and named by a merged part: the restart removed them
    from mdkit.store.compact import live_parts
    from mdkit.store.fs import Root

    for leaf in {p.parent for p in tmp_path.rglob("*.parquet")}:
        parts = sorted(str(p) for p in leaf.glob("*.parquet"))
        assert live_parts(Root(str(tmp_path)), parts)[1] == []
    gaps = mdkit.read_parquet(tmp_path, "gaps")
    assert "recorder down" in " ".join(gaps["reason"])


def test_the_default_compaction_finishes_an_interrupted_merge_of_today(tmp_path: Path) -> None:
    today = pd.Timestamp.now("UTC").normalize().value
    for i in range(3):
        write_frame(tmp_path, "raw", raw_frame(today + i * 10**9, 20))
    code = f"""
        from pathlib import Path
        from mdkit.store.compact import merge_parts
        merge_parts(sorted(str(p) for p in Path(r'{tmp_path}').rglob('*.parquet')))
    """
    assert run(code, "merge.removed-one") == 137  # a rotation killed mid-removal
    assert len(files(tmp_path)) == 3  # the merged part and two of its sources
    assert len(mdkit.read_parquet(tmp_path, "raw")) == 60
    summary = compact(tmp_path)  # today is not merged by default, but it is repaired
    assert summary["repaired"] == 2 and summary["partitions"] == 0
    assert len(files(tmp_path)) == 1 and len(mdkit.read_parquet(tmp_path, "raw")) == 60
