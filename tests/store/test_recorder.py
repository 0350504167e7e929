"""The recorder and replay over real sockets: flushes, restarts as gaps, replay equals live,
the replay server, the command line."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.sandbox.replay import ReplayServer
from mdkit.venues import get_venue, venue_keys
from tests.conftest import INTERRUPTIBLE, trading, wait_for, wait_or_dump, with_sigint


def test_record_flushes_and_a_restart_is_a_gap(tmp_path: Path) -> None:
    lines: list[str] = []
    with Sandbox(ws_options={"rate": 4}) as sb, trading(sb, "cryptocom", ["btcusdt"]):
        first = mdkit.record(
            tmp_path,
            ("cryptocom", ["btcusdt"], ["trades", "book"]),
            flush="0.5s",
            status_every="0.5s",
            seconds=2.5,
            on_status=lines.append,
        )
        state = next((tmp_path / "_recorders").glob("*.json"))
        stopped = json.loads(state.read_text())
        assert stopped["clean"] is True
        second = mdkit.record(
            tmp_path, ("cryptocom", ["btcusdt"], ["trades"]), flush=10, seconds=1.5
        )
    assert first["rows"]["trades"] > 0 and first["rows"]["depth"] > 0
    assert first["parts"] >= 4  # flushed while running, not once at the end
    assert lines and "trades" in lines[-1] and "gaps 0" in lines[-1]
    trades = mdkit.read_parquet(tmp_path, "trades")
    assert len(trades) == first["rows"]["trades"] + second["rows"]["trades"]
    assert trades.index.is_monotonic_increasing
    gaps = mdkit.read_parquet(tmp_path, "gaps")
    # different subscriptions (trades+book, then trades): separate state, no gap...
    assert len(gaps) == 0
    with Sandbox():
        third = mdkit.record(tmp_path, ("cryptocom", ["btcusdt"], ["trades"]), seconds=1.0)
    gaps = mdkit.read_parquet(tmp_path, "gaps")
    assert third["gaps"] == 1 and len(gaps) == 1
    assert gaps["reason"].iloc[0] == "recorder stopped (restart)"
    assert gaps["channels"].iloc[0] == "trades btcusdt"
    assert gaps["duration"].iloc[0] > pd.Timedelta(0)


def test_a_killed_recorder_leaves_its_flushed_rows_and_a_crash_gap(tmp_path: Path) -> None:
    with Sandbox(set_env=False) as sb, trading(sb, "cryptocom", ["btcusdt"]):
        env = {**os.environ, **sb.env}
        code = (
            f"import mdkit; mdkit.record(r'{tmp_path}', ('cryptocom', ['btcusdt'], ['trades']), "
            "flush='0.3s')"
        )
        proc = subprocess.Popen([sys.executable, "-c", code], env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(tmp_path.glob("kind=trades/**/*.parquet")):
            time.sleep(0.1)
        proc.kill()
        proc.wait(10)
        kept = mdkit.read_parquet(tmp_path, "trades")
        assert len(kept) > 0
        with pytest.MonkeyPatch.context() as patch:  # restores the session's own values
            for name, value in sb.env.items():
                patch.setenv(name, value)
            mdkit.record(tmp_path, ("cryptocom", ["btcusdt"], ["trades"]), seconds=0.5)
    gaps = mdkit.read_parquet(tmp_path, "gaps")
    assert list(gaps["reason"]) == ["recorder down (crash or kill; rows after the last flush lost)"]


def test_record_checks_its_options_before_connecting(tmp_path: Path) -> None:
    with pytest.raises(mdkit.InvalidArgument, match="flush"):
        mdkit.record(tmp_path, ("cryptocom", ["btcusdt"], ["trades"]), flush="soon")
    with pytest.raises(mdkit.InvalidArgument, match="valid: cryptocom"):
        mdkit.record(tmp_path, ("nowhere", ["btcusdt"], ["trades"]))


def _public_request(venue_key: str) -> tuple[list[str], list[str]]:
    venue = get_venue(venue_key)
    channels = [c for c in ("trades", "ticker", "book") if venue.channels.get(c) == "public"]
    return list(venue.example_symbols[:2]), channels


@pytest.mark.parametrize("venue_key", venue_keys())
def test_replay_equals_the_live_capture(venue_key: str, tmp_path: Path) -> None:
    symbols, channels = _public_request(venue_key)
    with Sandbox() as sb, trading(sb, venue_key, symbols):
        live = mdkit.capture(venue_key, symbols, channels, seconds=2.0)
    assert "trades" in live.frames() or "trades" not in channels, live
    assert live.frames(), live
    live.to_parquet(tmp_path, raw=True)
    again = mdkit.replay(tmp_path)
    assert again.frames() == live.frames()
    for kind in live.frames():
        assert again.frame(kind).equals(live.frame(kind)), kind
    assert again.stats["data_messages"] == live.stats["data_messages"]
    # one raw file (a plain cap.raw) with the subscriptions given
    live.raw.to_parquet(tmp_path / "raw.parquet")
    one = mdkit.replay(tmp_path / "raw.parquet", streams=[(venue_key, symbols, channels)])
    assert all(one.frame(k).equals(live.frame(k)) for k in live.frames())


def test_replay_server_serves_recorded_frames_over_a_socket(tmp_path: Path) -> None:
    with Sandbox() as sb, trading(sb, "cryptocom", ["btcusdt"]):
        live = mdkit.capture("cryptocom", ["btcusdt"], ["trades", "book"], seconds=2.0)
    assert len(live.trades) and len(live.depth)
    live.to_parquet(tmp_path, raw=True)
    with ReplayServer(tmp_path, venue="cryptocom", speed=None) as server:
        served = mdkit.capture(
            "cryptocom",
            ["btcusdt"],
            ["trades", "book"],
            seconds=None,
            max_messages=live.stats["data_messages"],
            url=server.url,
        )
    assert server.info()["served"] == len(live.raw)
    pd.testing.assert_frame_equal(
        served.trades.drop(columns="local_timestamp"), live.trades.drop(columns="local_timestamp")
    )
    assert len(served.depth) == len(live.depth)


def run_cli(  # type: ignore[no-untyped-def]
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
):
    return subprocess.run(
        [sys.executable, "-m", "mdkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def test_cli_help_version_and_usage_errors() -> None:
    out = run_cli("--help")
    assert out.returncode == 0 and "record" in out.stdout and "``" not in out.stdout
    assert ":func:" not in out.stdout and "exit codes" in out.stdout
    assert run_cli("--version").stdout.startswith("mdkit ")
    bad = run_cli("capture", "nowhere", "--symbols", "x")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "valid: cryptocom" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert run_cli("capture", "cryptocom", "--symbols", "x", "--out", "a.txt").returncode == 2
    assert run_cli("nosuchcommand").returncode == 2
    debug = run_cli("--debug", "capture", "nowhere", "--symbols", "x")
    assert "Traceback" in debug.stderr


def test_cli_capture_that_got_nothing_writes_its_empty_table(tmp_path: Path) -> None:
    # A silent server: the one table asked for is written, empty, with its columns (it was
    # a usage error: "this capture has 0 ()"), and the log says why it is empty.
    with Sandbox(set_env=False) as sb:
        sb.bitget.inject("silence", seconds=30)  # every frame of the next connection
        out = tmp_path / "trades.parquet"
        env = {**os.environ, **sb.env}
        done = run_cli("capture", "bitget", "--symbols", "BTCUSDT", "--channels", "trades",
                       "--seconds", "1", "-q", "--out", str(out), env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "received no data" in done.stderr and f"0 rows -> {out}" in done.stderr
    empty = pd.read_parquet(out)
    assert len(empty) == 0 and {"symbol", "id", "side", "price", "amount"} <= set(empty.columns)


def test_cli_capture_stopped_by_kill_saves_what_arrived(tmp_path: Path) -> None:
    # A script's `mdkit capture ... &` runs with SIGINT ignored: `kill` (SIGTERM) ends it
    # as Ctrl-C does, saving what arrived, here at least Bitget's subscribe backfill.
    with Sandbox(set_env=False) as sb:
        out = tmp_path / "trades.parquet"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mdkit", "capture", "bitget", "--symbols", "BTCUSDT",
             "--channels", "trades", "-q", "--out", str(out)],
            env={**os.environ, **sb.env, "PYTHONFAULTHANDLER": "1"},
            stderr=subprocess.PIPE,
            text=True,
            **with_sigint(signal.SIG_IGN),
        )  # fmt: skip
        try:

            async def sent() -> bool:  # on the sandbox's loop: a subscribe answered whole
                states = [(c.state.get("bitget"), c.queued) for c in sb.ws.connections()]
                return any(state is not None and state.subs and not q for state, q in states)

            def backfill_sent() -> bool:  # subscribed, and the backfill handed to the socket
                assert sb.ws.loop is not None
                return asyncio.run_coroutine_threadsafe(sent(), sb.ws.loop).result(10)

            wait_for(backfill_sent, 30, "the capture's subscription and its backfill sent")
            proc.send_signal(signal.SIGTERM)
            wait_or_dump(proc, 30)
            err = proc.communicate(timeout=10)[1]
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, err
    trades = pd.read_parquet(out)
    assert f"{len(trades):,} rows -> {out}" in err
    assert len(trades) > 0 and set(trades["symbol"]) == {"BTCUSDT"}


def test_cli_capture_replay_compact_and_record_interrupted(tmp_path: Path) -> None:
    with Sandbox(set_env=False) as sb, trading(sb, "cryptocom", ["btcusdt"]):
        env = {**os.environ, **sb.env}
        cap = run_cli(
            "capture",
            "cryptocom",
            "--symbols",
            "btcusdt",
            "--channels",
            "trades",
            "--seconds",
            "1.5",
            "--raw",
            "-q",
            "--out",
            f"{tmp_path}/data/",
            env=env,
        )
        assert cap.returncode == 0, cap.stderr
        rest = run_cli("klines", "btcusdt", "1h", "--out", f"{tmp_path}/k.csv", env=env)
        assert rest.returncode == 0, rest.stderr
        assert len(pd.read_csv(tmp_path / "k.csv")) > 0
        # `mdkit record` runs on Arrow's system pool (memory flat over hours) unless the
        # environment names a pool; -v shows the recorder's info line if it does not.
        rec_env = {k: v for k, v in env.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mdkit",
                "-v",
                "record",
                f"{tmp_path}/rec",
                "--venue",
                "cryptocom",
                "--symbols",
                "btcusdt",
                "--channels",
                "trades",
                "--flush",
                "0.3s",
                "--status-every",
                "0.5s",
            ],
            env={**rec_env, "PYTHONFAULTHANDLER": "1"},
            stderr=subprocess.PIPE,
            text=True,
            **INTERRUPTIBLE,
        )
        lines: list[str] = []
        reader = threading.Thread(
            target=lambda: [lines.append(x) for x in proc.stderr], daemon=True
        )
        reader.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            any(line.startswith("record 00:") for line in lines)
            and list((tmp_path / "rec").glob("kind=trades/**/*.parquet"))
        ):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        wait_or_dump(proc, 30)
        reader.join(10)
        err = "".join(lines)
    assert proc.returncode == 130, err
    assert "record 00:00:0" in err and "recorded trades" in err
    assert "ARROW_DEFAULT_MEMORY_POOL" not in err  # the system pool: no advice logged
    assert len(mdkit.read_parquet(tmp_path / "rec", "trades")) > 0
    state = json.loads(next((tmp_path / "rec" / "_recorders").glob("*.json")).read_text())
    assert state["clean"] is True
    rep = run_cli("replay", f"{tmp_path}/data", "--out", f"{tmp_path}/replayed.parquet")
    assert rep.returncode == 0, rep.stderr
    back = pd.read_parquet(tmp_path / "replayed.parquet")
    assert len(back) == len(mdkit.read_parquet(tmp_path / "data", "trades"))
    tomorrow = (pd.Timestamp.now("UTC") + pd.Timedelta("1D")).strftime("%Y-%m-%d")
    com = run_cli("compact", f"{tmp_path}/rec", "--before", tomorrow)
    assert com.returncode == 0 and "merged" in com.stderr


def test_cli_help_examples_chain_record_then_replay(tmp_path: Path) -> None:
    """The help's ``record`` example writes what its ``replay`` example reads (--raw)."""
    from mdkit.cli import _EPILOG

    lines = [line.split() for line in _EPILOG.splitlines() if line.strip().startswith("mdkit ")]
    record = next(words for words in lines if words[1] == "record")
    replay = next(words for words in lines if words[1] == "replay")
    with Sandbox(trades_per_second=20, set_env=False) as sb:
        env = {**os.environ, **sb.env}
        done = run_cli(*record[1:], "--seconds", "1.5", env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        again = run_cli(*replay[1:], env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
    assert mdkit.read_parquet(tmp_path / "replayed", "trades").shape[0] > 0


@pytest.mark.parametrize("pool", [None, "system"])
def test_record_says_how_to_keep_memory_flat_unless_the_system_pool_is_chosen(
    pool: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # On Arrow's default pool (mimalloc) a recorder's RSS took steps that stayed
    # (bench/RESULTS.md); only ARROW_DEFAULT_MEMORY_POOL=system at process start keeps
    # it flat: record() says so, and with it caps glibc's arenas while it runs.
    if pool is None:
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    else:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", pool)
    caplog.set_level("INFO", logger="mdkit.store.recorder")
    with Sandbox(ws_options={"rate": 4}) as sb, trading(sb, "cryptocom", ["btcusdt"]):
        summary = mdkit.record(
            tmp_path, ("cryptocom", ["btcusdt"], ["trades"]), flush="0.3s", seconds=1.0
        )
    assert summary["rows"]["trades"] > 0
    hints = [r for r in caplog.records if "ARROW_DEFAULT_MEMORY_POOL=system" in r.getMessage()]
    assert len(hints) == (1 if pool is None else 0)
