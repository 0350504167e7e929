"""Soak, about a minute: every venue, every fault, again and again (bench/soak.py runs it
longer: ``python bench/soak.py --minutes 30``)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
SECONDS = float(os.environ.get("MDKIT_SOAK_SECONDS", "50"))


def _load_soak() -> Any:
    path = Path(__file__).parent.parent / "bench" / "soak.py"
    spec = importlib.util.spec_from_file_location("mdkit_bench_soak", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return _load_soak().soak(SECONDS, fault_every=1.0 * FACTOR)  # type: ignore[no-any-return]


def test_ends_on_time_and_completes(figures: dict[str, Any]) -> None:
    assert figures["error"] == "" and figures["outcome"] == "completed", figures
    assert figures["on_time"], figures["elapsed"]


def test_every_frame_in_raw_and_no_row_lost(figures: dict[str, Any]) -> None:
    assert figures["messages"] > 1000
    assert figures["raw_frames"] == figures["messages"] and figures["raw_dropped"] == 0
    assert figures["rows_lost"] == 0, figures["rows_diff"]
    assert figures["rows"] == figures["rows_replayed"]


def test_faults_injected_and_survived(figures: dict[str, Any]) -> None:
    kinds = figures["faults_by_kind"]
    for kind in ("drop", "close", "kick", "malformed", "silence", "gap"):
        assert kinds.get(kind, 0) >= 2, kinds  # each shared kind, more than once
    assert kinds.get("checksum", 0) + kinds.get("seq_gap", 0) >= 1, kinds
    assert figures["faults_judged"] >= 0.6 * figures["faults_injected"]
    assert figures["faults_survived"] == figures["faults_judged"], figures["failed_faults"]
    assert figures["rest_429_calls"] >= 5
    assert figures["rest_429_survived"] == figures["rest_429_calls"], figures["rest_errors"]


def test_every_interruption_is_a_gap(figures: dict[str, Any]) -> None:
    assert figures["reconnects"] >= 10 and figures["resyncs"] >= 1
    # A resync of a channel already inside an open resync gap extends that gap, and a
    # connection lost again before any data came back extends its reconnect gap.
    resync_gaps = figures["resyncs"] - figures["resyncs_in_gap"]
    reconnect_gaps = figures["reconnects"] - figures["reconnects_in_gap"]
    assert reconnect_gaps >= 10 and figures["gaps"] >= reconnect_gaps + resync_gaps
    assert figures["open_gaps"] == 0
    # Each malformed frame the client got is a parse error kept in .raw; one queued on a
    # connection that a drop/close/kick is closing never leaves the server.
    malformed = figures["faults_by_kind"].get("malformed", 0)
    assert 1 <= figures["parse_errors"] and abs(figures["parse_errors"] - malformed) <= max(
        2, malformed // 10
    ), (figures["parse_errors"], malformed)


def test_memory_flat(figures: dict[str, Any]) -> None:
    # RSS minus what the capture holds must not climb (allocator noise stays far below).
    assert figures["overhead_growth_mb"] < 64, figures
