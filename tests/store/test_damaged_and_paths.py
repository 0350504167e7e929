"""Damaged parts are skipped and named; paths are checked and named before any write;
a sync mdkit call from ``on_status`` is an mdkit error pointing to the async form."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.errors import DatasetError, InvalidArgument, LoopThreadError, MdkitError
from mdkit.sandbox import Sandbox
from mdkit.store.compact import DamagedPartWarning, compact
from mdkit.store.write import write_frame
from tests.store.test_crash import YESTERDAY, raw_frame


def damaged_dataset(root: Path) -> tuple[pd.DataFrame, dict[str, Path]]:
    for i in range(2):
        write_frame(root, "raw", raw_frame(YESTERDAY.value + i * 10**9, 30))
    good = mdkit.read_parquet(root, "raw")
    leaf = next(root.rglob("date=*"))
    real = next(leaf.glob("*.parquet")).read_bytes()
    bad = {
        "empty": leaf / "empty.parquet",
        "truncated": leaf / "truncated.parquet",
        "random": leaf / "random.parquet",
        "foreign": leaf / "foreign.parquet",
        "foreign-times": leaf / "foreign-times.parquet",
    }
    bad["empty"].write_bytes(b"")
    bad["truncated"].write_bytes(real[: len(real) // 2])
    bad["random"].write_bytes(np.random.default_rng(1).bytes(4096))
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(bad["foreign"])
    times = pd.date_range(YESTERDAY, periods=3, freq="s", name="local_timestamp")
    pd.DataFrame({"payload": [b"x"] * 3}, index=times).to_parquet(bad["foreign-times"])
    return good, bad


def test_damaged_and_foreign_parts_are_skipped_and_named(tmp_path: Path) -> None:
    good, bad = damaged_dataset(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = mdkit.read_parquet(tmp_path, "raw")
    assert rows.index.equals(good.index)  # good rows read; foreign files add none
    named = " ".join(str(w.message) for w in caught if w.category is DamagedPartWarning)
    assert all(str(path) in named for path in bad.values()), named
    with pytest.raises(DatasetError, match="empty.parquet|truncated|random|foreign"):
        mdkit.read_parquet(tmp_path, "raw", on_damaged="raise")
    with pytest.warns(DamagedPartWarning):
        summary = compact(tmp_path)
    assert summary["parts_before"] == 2  # the damaged parts are left alone, not merged
    with pytest.warns(DamagedPartWarning):
        assert mdkit.read_parquet(tmp_path, "raw").index.equals(good.index)


def test_start_after_end_is_an_mdkit_error(tmp_path: Path) -> None:
    write_frame(tmp_path, "raw", raw_frame(YESTERDAY.value, 3))
    with pytest.raises(InvalidArgument, match="after end"):
        mdkit.read_parquet(tmp_path, "raw", start="2026-12-02", end="2026-12-01")


def test_a_home_path_expands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path)
    write_frame("~/data", "raw", raw_frame(YESTERDAY.value, 5))
    assert (tmp_path / "home" / "data" / "kind=raw").is_dir()
    assert not (tmp_path / "~").exists()
    assert len(mdkit.read_parquet("~/data", "raw")) == 5
    assert compact("~/data")["partitions"] == 0


def test_bad_dataset_paths_are_mdkit_errors_naming_the_path(tmp_path: Path) -> None:
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    stream = ("cryptocom", ["btcusdt"], ["trades"])
    with pytest.raises(InvalidArgument, match="file.txt"):
        write_frame(afile, "raw", raw_frame(YESTERDAY.value, 1))
    with pytest.raises(InvalidArgument, match="file.txt"):
        mdkit.read_parquet(afile, "raw")
    with pytest.raises(InvalidArgument, match="file.txt"):
        mdkit.record(afile, stream, seconds=1)
    missing = tmp_path / "no" / "such" / "data"
    with pytest.raises(InvalidArgument, match=str(missing.parent)):
        mdkit.record(missing, stream, seconds=1)
    assert not missing.parent.exists()
    if os.geteuid() == 0:  # root writes through permission bits: a kernel directory
        readonly = Path("/sys/kernel")
    else:
        readonly = tmp_path / "ro"
        readonly.mkdir()
        readonly.chmod(0o555)
    with pytest.raises(DatasetError, match=str(readonly)):
        write_frame(readonly, "raw", raw_frame(YESTERDAY.value, 1))
    with pytest.raises(DatasetError, match=str(readonly)):
        mdkit.record(readonly, stream, seconds=1)


def test_a_sync_call_from_on_status_is_an_mdkit_error(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def on_status(line: str) -> None:
        if errors:
            return
        try:
            mdkit.capture("cryptocom", "btcusdt", "trades", seconds=1)
        except BaseException as exc:  # what the callback saw
            errors.append(exc)

    with Sandbox(trades_per_second=20):
        mdkit.record(
            tmp_path,
            ("cryptocom", ["btcusdt"], ["trades"]),
            status_every="0.2s",
            seconds=1.0,
            on_status=on_status,
        )
    assert errors, "on_status was never called"
    assert isinstance(errors[0], LoopThreadError) and isinstance(errors[0], MdkitError)
    assert "acapture" in str(errors[0])
