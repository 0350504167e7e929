"""Every benchmark runs to the end (tiny sizes, ``--quick``): a broken bench fails the suite.

No figure is checked (timings are not tested); only that each script completes and
prints its report.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
assert spec is not None and spec.loader is not None
bench_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench_run)

COMMANDS = bench_run.commands(quick=True)
#: What the recorder benches run with: plain malloc, so glibc's counters see Arrow's memory.
SYSTEM_POOL = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


def test_every_bench_script_is_run() -> None:
    scripts = {Path(c[0]).name for c in COMMANDS}
    assert scripts == {p.name for p in BENCH.glob("bench_*.py")}
    assert all(c[-1] == "--quick" for c in COMMANDS)


def run_script(*args: str, env: dict[str, str] | None = None) -> str:
    """Run ``python bench/<args>`` from the project root; its stdout, once it exits 0."""
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=90, cwd=BENCH.parent,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[" ".join([Path(c[0]).stem, *c[1:-1]]) for c in COMMANDS]
)
def test_bench_runs_to_the_end(command: list[str]) -> None:
    assert run_script(*command).strip(), "the bench printed nothing"


def test_profile_capture_cprofile_runs() -> None:
    # bench/profile_capture.py (where a capture's time goes) is not a bench_*.py script:
    # its cProfile mode, briefly (the callgrind mode needs valgrind and minutes).
    out = run_script(str(BENCH / "profile_capture.py"), "cprofile", "--messages", "2000")
    assert "session parse" in out and "engine" in out


def test_recorder_drift_sampler_runs() -> None:
    # bench/recorder_drift.py (the recorder's glibc in-use bytes after each flush) is not a
    # bench_*.py script either: a few seconds of recording, its per-minute line printed.
    out = run_script(
        str(BENCH / "recorder_drift.py"), "--minutes", "0.1", "--flush", "1s", "--rotate", "4s",
        env=SYSTEM_POOL,
    )  # fmt: skip
    assert "min   0: glibc in use (median)" in out and "rotation at" in out


def test_recorder_drift_offline_write_step_runs() -> None:
    # Its --step write: frames kept from a few seconds of recording, then the recorder's
    # own write and rotate on them with no engine (the writer split from frame building).
    out = run_script(
        str(BENCH / "recorder_drift.py"), "--minutes", "0.1", "--flush", "1s",
        "--step", "write", "--flushes", "12", "--rotate-flushes", "5", env=SYSTEM_POOL,
    )  # fmt: skip
    assert "step write: 12 flushes" in out and "after each rotation" in out
