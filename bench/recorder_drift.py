"""Where a recorder's slow memory drift sits: glibc's in-use bytes after every flush.

Run: ``ARROW_DEFAULT_MEMORY_POOL=system python bench/recorder_drift.py [--minutes M]
[--rate R] [--flush 1s] [--rotate 1min] [--step both|build|drain|write|table]
[--flushes N] [--rotate-flushes K]``

The recorder of ``bench_store.py recorder`` (the sandbox in its own spawned process,
Crypto.com, 4 symbols, trades + book), with glibc's ``mallinfo2`` in-use bytes, Python's
allocated blocks and the count of gc-tracked objects sampled in the recorder's own
worker thread right after each flush is written and trimmed (and after each rotation),
so no flush window's rows are in the figures (``held``: the rows the engine took in
meanwhile and the flush's frames, still referenced, by their own byte counts).
``--flush 1s --rotate 1min`` gives an hour's flushes and rotations of the default run
in 12 minutes. Prints medians per
minute, the slope after the first two minutes (MiB/h) and the same per flush (bytes).
``GLIBC_TUNABLES=glibc.malloc.tcache_count=0`` takes glibc's per-thread caches (counted
as in use; bounded) out of the figures.

``--step`` splits a flush into its parts:

- ``both`` (default): the recorder as it runs;
- ``build``: live, each flush drains the engine and builds its frames, then drops them
  (no Parquet; the state file is still written and memory trimmed);
- ``drain``: live, each flush drains the engine and builds nothing;
- ``write``: no engine, no sockets: first ``--minutes`` of recording keep every flush's
  frames (pickled), then the recorder's own ``write`` runs on them ``--flushes`` times in
  one worker thread (a rotation, its ``rotate``, every ``--rotate-flushes``; 0: none);
- ``table``: the same saved frames, ``frame_to_table`` alone (no writing).

The offline steps unpickle fresh frames for every flush, as a recorder has new ones: one
DataFrame used again and again keeps pandas' copy-on-write weak references (28 Python
blocks a flush, cleared by pandas only now and then), which no recorder does.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_store import mallinfo2, serve_sandbox  # noqa: E402

import mdkit  # noqa: E402
from mdkit.store import recorder as rec  # noqa: E402
from mdkit.store.fs import open_root  # noqa: E402
from mdkit.store.layout import frame_to_table  # noqa: E402

STEPS = ("both", "build", "drain", "write", "table")


def record(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The recorder of ``bench_store.py recorder``, for ``--minutes``."""
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve_sandbox, args=(args.rate, theirs), daemon=True)
    server.start()
    os.environ.update(ours.recv())
    try:
        return mdkit.record(
            work,
            [("cryptocom", ["btcusdt", "ethusdt", "ltcusdt", "crousdt"], ["trades", "book"])],
            flush=args.flush,
            rotate=args.rotate,
            status_every=None,
            seconds=args.minutes * 60,
        )
    finally:
        ours.send("stop")
        server.join(10)


def per_flush(in_use: np.ndarray[Any, Any], skip: int) -> float:
    """Bytes a flush: the slope of in-use bytes over flushes after the first ``skip``."""
    warm = in_use[skip:]
    return float(np.polyfit(np.arange(len(warm)), warm, 1)[0]) if len(warm) > 5 else 0.0


def live(args: argparse.Namespace) -> None:
    t0 = time.monotonic()
    samples: list[tuple[float, int, int, int, int, int]] = []  # time, glibc, blocks, gc,
    # flush?, held
    collect, write, rotate = rec._Recorder.collect, rec._Recorder.write, rec._Recorder.rotate

    def sample(flush: int, engine: Any = None, frames: Any = ()) -> None:
        m = mallinfo2()
        # Bytes the sample cannot help counting: the rows the engine took in while this
        # flush was written, and this flush's frames (still referenced by the caller).
        held = 0
        if engine is not None:  # as the recorder's status line counts them
            held = sum(p.tables.nbytes for p in engine.parts.values()) + engine.raw.nbytes
        held += sum(int(df.memory_usage(index=True).sum()) for _, df, _ in frames)
        samples.append(
            (time.monotonic() - t0, m.uordblks, sys.getallocatedblocks(), len(gc.get_objects()))
            + (flush, held)
        )

    def collect_step(self: Any, extra_gaps: Any = ()) -> list[Any]:
        if args.step == "drain":
            self.engine.drain()
            return []
        return collect(self, extra_gaps)

    def write_then_sample(self: Any, frames: list[Any]) -> None:
        write(self, [] if args.step == "build" else frames)
        sample(1, self.engine, frames)

    def rotate_then_sample(self: Any) -> None:
        rotate(self)
        sample(0)
        print(f"rotation at {samples[-1][0]:4.0f} s: glibc in use {samples[-1][1] / 2**20:.3f} MiB")

    rec._Recorder.collect = collect_step  # type: ignore[method-assign]
    rec._Recorder.write = write_then_sample  # type: ignore[method-assign]
    rec._Recorder.rotate = rotate_then_sample  # type: ignore[method-assign]
    work = Path(tempfile.mkdtemp(prefix="recorder_drift_"))
    try:
        summary = record(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"step {args.step}: summary {summary}")
    arr = np.array(samples, dtype=float)
    for minute in range(int(args.minutes) + 1):
        sel = arr[(arr[:, 0] >= minute * 60) & (arr[:, 0] < (minute + 1) * 60)]
        if len(sel):
            print(
                f"min {minute:3d}: glibc in use (median) {np.median(sel[:, 1]) / 2**20:7.3f} MiB"
                f"  python blocks {np.median(sel[:, 2]):9.0f}"
                f"  gc objects {np.median(sel[:, 3]):8.0f}"
                f"  held {np.median(sel[:, 5]) / 2**20:6.3f} MiB"
                f"  in use - held {np.median(sel[:, 1] - sel[:, 5]) / 2**20:7.3f} MiB"
                f"  samples {len(sel)}"
            )
    warm = arr[arr[:, 0] >= 120]
    if len(warm) > 5:
        per_h = np.polyfit(warm[:, 0], warm[:, 1], 1)[0] * 3600 / 2**20
        flushes = arr[arr[:, 4] == 1]
        skip = int((flushes[:, 0] < 120).sum())
        print(
            f"glibc in use after 2 min: {per_h:+.3f} MiB/h over {len(warm)} samples, "
            f"{per_flush(flushes[:, 1], skip):+.0f} B per flush; "
            f"less the held rows and frames {per_flush(flushes[:, 1] - flushes[:, 5], skip):+.0f}"
        )


def offline(args: argparse.Namespace) -> None:
    """Record ``--minutes`` keeping the frames, then run one step on them, no engine."""
    saved: list[bytes] = []
    write = rec._Recorder.write

    def keep(self: Any, frames: list[Any]) -> None:
        saved.append(pickle.dumps(frames))
        write(self, [])

    rec._Recorder.write = keep  # type: ignore[method-assign]
    work = Path(tempfile.mkdtemp(prefix="recorder_drift_"))
    try:
        record(args, work)
        rec._Recorder.write = write  # type: ignore[method-assign]
        shutil.rmtree(work)
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(rec._M_ARENA_MAX, rec._ARENAS)  # as the recorder runs
        root = open_root(str(work), create=True)
        recorder = rec._Recorder.__new__(rec._Recorder)  # write and rotate need only these
        recorder.root, recorder.pending, recorder.rows = root, [], {}
        recorder.parts, recorder.period_parts = 0, {}
        recorder.states = {"bench": root.join(root.path, "_recorders", "bench.json")}
        in_use: list[int] = []
        rotations: list[int] = []

        def flushes() -> None:
            for i in range(args.flushes):
                frames = pickle.loads(saved[i % len(saved)])
                if args.step == "write":
                    recorder.write(frames)
                else:
                    for kind, df, attrs in frames:
                        frame_to_table(kind, df, attrs)
                    rec._release_memory()
                in_use.append(mallinfo2().uordblks)
                if (
                    args.step == "write"
                    and args.rotate_flushes
                    and (i + 1) % args.rotate_flushes == 0
                ):
                    recorder.rotate()
                    rotations.append(mallinfo2().uordblks)

        t = time.monotonic()
        worker = threading.Thread(target=flushes)  # the recorder writes in a worker thread
        worker.start()
        worker.join()
        took = time.monotonic() - t
    finally:
        shutil.rmtree(work, ignore_errors=True)
    arr = np.array(in_use, dtype=float)
    eighth = max(1, len(arr) // 8)
    print(
        f"step {args.step}: {len(arr)} flushes of {len(saved)} saved ones in {took:.1f} s; "
        f"glibc in use (median) per eighth: "
        + " ".join(
            f"{np.median(arr[k : k + eighth]) / 2**20:.3f}" for k in range(0, len(arr), eighth)
        )
        + " MiB"
    )
    if rotations:
        print("after each rotation: " + " ".join(f"{r / 2**20:.3f}" for r in rotations) + " MiB")
    skip = len(arr) // 6
    print(f"glibc in use after {skip} flushes: {per_flush(arr, skip):+.0f} B per flush")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--flush", default="1s")
    parser.add_argument("--rotate", default="1min")
    parser.add_argument("--step", choices=STEPS, default="both")
    parser.add_argument("--flushes", type=int, default=720)
    parser.add_argument("--rotate-flushes", type=int, default=60)
    args = parser.parse_args()
    if args.step in ("write", "table"):
        offline(args)
    else:
        live(args)


if __name__ == "__main__":
    main()
