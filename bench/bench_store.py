"""Benchmark the Parquet dataset and the recorder.

Run: ``python bench/bench_store.py throughput [--rows N] [--flushes F] [--quick]``
     ``python bench/bench_store.py recorder [--minutes M] [--rate R] [--quick]``

throughput: N synthetic trade rows over 4 symbols and 48 hours (3 UTC days), as a capture's
``trades`` frame. Write: ``write_frame`` (split by partition, LZ4, atomic parts)
against pandas' own ``df.to_parquet(file)`` of the same frame (pyarrow, snappy,
one file); read: ``mdkit.read_parquet`` (back to the live dtypes, order and
de-duplication) of the rows written in F flushes (a part per partition per flush, as a
recorder leaves them), then of the same dataset compacted (one part per partition),
against ``pd.read_parquet(file)`` of one file holding the same rows. Each pair of
mdkit and pandas runs in turn, 5 times (a load swing hits both); best of 5, rows/s;
ratios within one run.

recorder: a sandbox feeding R trades/s per symbol on 4 symbols (trades + book), in its
own process (spawned), recorded here with ``flush="5s"``, ``rotate="5min"`` for M
minutes; this process's RSS (``/proc/self/status`` VmRSS, RssAnon, RssFile: the
recorder's alone; the sandbox's beside it in brackets) sampled every 30 s (4 times in
all on runs under 2 min). Memory must stay flat. Allocator variants are set by the
environment of the run (``MALLOC_ARENA_MAX``, ``ARROW_DEFAULT_MEMORY_POOL``...).
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mdkit  # noqa: E402
from mdkit.store import write_frame  # noqa: E402
from mdkit.store.compact import compact  # noqa: E402


def trades_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    start = pd.Timestamp("2026-11-01 12:00", tz="UTC").value
    times = start + np.sort(rng.integers(0, 2 * 86_400 * 10**9, rows))
    index = pd.DatetimeIndex(times.view("datetime64[ns]"), name="timestamp").tz_localize("UTC")
    df = pd.DataFrame(
        {
            "venue": pd.Categorical(["cryptocom"] * rows),
            "symbol": pd.Categorical(
                rng.choice(["btcusdt", "ethusdt", "solusdt", "xrpusdt"], rows)
            ),
            "id": np.arange(rows, dtype="int64"),
            "side": pd.Categorical(rng.choice(["buy", "sell"], rows), categories=["buy", "sell"]),
            "price": rng.normal(100, 1, rows).round(2),
            "amount": rng.exponential(0.5, rows).round(4),
            "local_timestamp": index + pd.Timedelta("3ms"),
        },
        index=index,
    )
    df.attrs = {"venue": "cryptocom", "source": "ws"}
    return df


def best(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def best_pair(ours, theirs, repeats: int = 5) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Best times of two functions run in turn (a load swing hits both alike)."""
    a, b = [], []
    for _ in range(repeats):
        a.append(best(ours, 1))
        b.append(best(theirs, 1))
    return min(a), min(b)


def throughput(rows: int, flushes: int) -> None:
    df = trades_frame(rows)
    work = Path(tempfile.mkdtemp(prefix="bench_store_"))
    try:
        n = 0

        def ours() -> None:
            nonlocal n
            n += 1
            write_frame(work / f"ds{n}", "trades", df)

        w_ours, w_pandas = best_pair(ours, lambda: df.to_parquet(work / "pandas.parquet"))

        def theirs() -> None:
            pd.read_parquet(work / "pandas.parquet")

        # As a recorder leaves it: one part per partition per flush.
        flushed = work / "flushed"
        for chunk in np.array_split(np.arange(rows), flushes):
            write_frame(flushed, "trades", df.iloc[chunk])
        r_flushed, r_pandas_1 = best_pair(lambda: mdkit.read_parquet(flushed, "trades"), theirs)
        parts = sum(1 for _ in flushed.rglob("*.parquet"))
        tomorrow = pd.Timestamp.now("UTC") + pd.Timedelta(days=1)
        t = time.perf_counter()
        compact(flushed, before=tomorrow)
        t_compact = time.perf_counter() - t
        compacted = sum(1 for _ in flushed.rglob("*.parquet"))
        r_compacted, r_pandas_2 = best_pair(lambda: mdkit.read_parquet(flushed, "trades"), theirs)
        assert len(mdkit.read_parquet(flushed, "trades")) == rows
        size_ours = sum(p.stat().st_size for p in (work / "ds1").rglob("*.parquet"))
        size_pandas = (work / "pandas.parquet").stat().st_size
        print(f"rows {rows:,} (4 symbols x 3 UTC days = 12 partitions)")
        print(
            f"write  mdkit write_frame {rows / w_ours:>12,.0f} rows/s   pandas to_parquet "
            f"{rows / w_pandas:>12,.0f} rows/s   ratio {w_pandas / w_ours:.2f}"
        )
        for label, r_ours, r_pandas in (
            (f"read uncompacted ({parts} parts)", r_flushed, r_pandas_1),
            (f"read compacted ({compacted} parts)", r_compacted, r_pandas_2),
        ):
            print(
                f"{label:32s} mdkit {rows / r_ours:>12,.0f} rows/s   pandas read_parquet "
                f"{rows / r_pandas:>12,.0f} rows/s   ratio {r_pandas / r_ours:.2f}"
            )
        print(f"compact {parts} parts -> {compacted}: {t_compact:.2f} s")
        print(f"bytes  mdkit {size_ours:,} ({size_ours / rows:.1f} B/row)   pandas {size_pandas:,}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def rss_mib(field: str = "VmRSS", pid: int | str = "self") -> float:
    """A memory figure of a process from /proc/<pid>/status, MiB (``RssAnon``: heap
    and anonymous maps; ``RssFile``: mapped files, the libraries' code among them)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@functools.cache
def _mallinfo2_fn() -> Any:
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [
            (name, ctypes.c_size_t)
            for name in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks "
            "fordblks keepcost".split()
        ]

    try:
        fn = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = Mallinfo2
    return fn


def mallinfo2() -> Any:
    """glibc malloc's own figures (``mallinfo2``, every arena: ``uordblks`` in use,
    ``fordblks`` free but kept, ``hblkhd`` mmapped, bytes); None where the C library is
    not glibc."""
    fn = _mallinfo2_fn()
    return None if fn is None else fn()


def glibc_heap() -> str:
    """glibc malloc's figures in MiB: in use, free but kept, mmapped blocks; empty where
    the C library is not glibc."""
    m = mallinfo2()
    if m is None:
        return ""
    return (
        f"glibc used {m.uordblks / 2**20:5.1f} free {m.fordblks / 2**20:5.1f} "
        f"mmap {m.hblkhd / 2**20:5.1f}"
    )


def serve_sandbox(rate: float, conn: Any) -> None:
    """The sandbox, in its own process: send its ``MDKIT_*`` variables, serve until told."""
    from mdkit.sandbox import Sandbox

    sb = Sandbox(trades_per_second=rate, set_env=False).start()
    try:
        conn.send(sb.env)
        conn.recv()  # anything (or the parent gone: EOFError) stops it
    except EOFError:
        pass
    finally:
        sb.stop()


def recorder(
    minutes: float, rate: float, rotate: str = "5min", every: float = 30.0, trace: int = 0
) -> None:
    import multiprocessing

    import pyarrow as pa

    work = Path(tempfile.mkdtemp(prefix="bench_recorder_"))
    samples: list[tuple[float, float, str]] = []
    lines: list[str] = []
    stop = threading.Event()
    every = min(every, minutes * 15)
    if trace:
        import tracemalloc

        tracemalloc.start(trace)
    snapshots: list[Any] = []
    # The sandbox runs in its own process (spawned: none of this one's state), so the
    # RSS sampled below is the recorder's alone.
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve_sandbox, args=(rate, theirs), daemon=True)
    server.start()
    os.environ.update(ours.recv())
    print(
        f"recorder pid {os.getpid()}, sandbox pid {server.pid}; "
        f"arrow pool before recording {pa.default_memory_pool().backend_name}, "
        f"MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', '-')}",
        flush=True,
    )

    def sample() -> None:
        t0 = time.monotonic()
        while not stop.wait(every):
            samples.append((time.monotonic() - t0, rss_mib(), lines[-1] if lines else ""))
            arrow = pa.total_allocated_bytes() / 2**20
            print(
                f"{samples[-1][0]:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  "
                f"(anon {rss_mib('RssAnon'):6.1f}, files {rss_mib('RssFile'):5.1f})  "
                f"arrow {pa.default_memory_pool().backend_name} {arrow:5.1f} MiB  "
                f"threads {len(os.listdir('/proc/self/task'))}  "
                f"{glibc_heap()}  "
                f"[sandbox {rss_mib(pid=server.pid or 0):6.1f}]  {samples[-1][2]}",
                flush=True,
            )
            if trace:
                snap = tracemalloc.take_snapshot().filter_traces(
                    [tracemalloc.Filter(False, tracemalloc.__file__)]
                )
                total = sum(s.size for s in snap.statistics("filename")) / 2**20
                print(f"        python heap (tracemalloc) {total:.1f} MiB", flush=True)
                if snapshots:
                    for stat in snap.compare_to(snapshots[0], "traceback")[:8]:
                        if stat.size_diff > 50_000 or stat.size_diff < -50_000:
                            where = " <- ".join(str(f) for f in stat.traceback[-trace:][:4])
                            print(f"        {stat.size_diff / 1024:+9.0f} KiB {where}")
                elif samples[-1][0] >= 2 * every - 1:  # the baseline: after the first sample
                    snapshots.append(snap)

    syms = ["btcusdt", "ethusdt", "ltcusdt", "crousdt"]
    try:
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        summary = mdkit.record(
            work,
            [("cryptocom", syms, ["trades", "book"])],
            flush="5s",
            rotate=rotate,
            status_every=every,
            seconds=minutes * 60,
            on_status=lines.append,
        )
        stop.set()
        samples.append((minutes * 60, rss_mib(), lines[-1] if lines else ""))  # at the end
        first = [s[1] for s in samples[: max(1, len(samples) // 5)]]
        last = [s[1] for s in samples[-max(1, len(samples) // 5) :]]
        print(f"summary {summary}")
        print(
            f"recorder RSS first fifth {np.mean(first):.1f} MiB, last fifth "
            f"{np.mean(last):.1f} MiB, max {max(s[1] for s in samples):.1f} MiB over "
            f"{len(samples)} samples"
        )
        tens = [
            min(samples, key=lambda s: abs(s[0] - mark))[1]
            for mark in range(600, int(minutes * 60) + 1, 600)
        ]
        if tens:
            print(
                "recorder RSS at each 10 minutes: " + " -> ".join(f"{r:.1f}" for r in tens) + " MiB"
            )
        n = sum(1 for _ in work.rglob("*.parquet"))
        print(f"parts on disk {n}")
    finally:
        stop.set()
        ours.send("stop")
        server.join(10)
        if server.is_alive():  # pragma: no cover
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    quick = argparse.ArgumentParser(add_help=False)
    quick.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("throughput", parents=[quick])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--flushes", type=int, default=12)
    p = sub.add_parser("recorder", parents=[quick])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--rotate", default="5min", help="rotation period (default 5min)")
    p.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    p.add_argument(
        "--trace", type=int, default=0, help="tracemalloc frames: print heap growth by traceback"
    )
    args = parser.parse_args()
    if args.mode == "throughput":
        throughput(10_000 if args.quick else args.rows, 2 if args.quick else args.flushes)
    else:
        recorder(
            0.05 if args.quick else args.minutes, args.rate, args.rotate, args.every, args.trace
        )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
