"""Where a recorder's slow memory drift sits: glibc's in-use bytes after every flush.

Run: ``ARROW_DEFAULT_MEMORY_POOL=system python bench/recorder_drift.py [--minutes M]
[--rate R] [--flush 1s] [--rotate 1min]``

The recorder of ``bench_store.py recorder`` (the sandbox in its own spawned process,
Crypto.com, 4 symbols, trades + book), with glibc's ``mallinfo2`` in-use bytes, Python's
allocated blocks and the count of gc-tracked objects sampled in the recorder's own
worker thread right after each flush is written and trimmed (and after each rotation),
so no flush window's rows are in the figures. ``--flush 1s --rotate 1min`` gives an
hour's flushes and rotations of the default run in 12 minutes. Prints medians per
minute and the slope after the first two minutes.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_store import mallinfo2, serve_sandbox  # noqa: E402

import mdkit  # noqa: E402
from mdkit.store import recorder as rec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--flush", default="1s")
    parser.add_argument("--rotate", default="1min")
    args = parser.parse_args()
    t0 = time.monotonic()
    samples: list[tuple[float, int, int, int]] = []
    write, rotate = rec._Recorder.write, rec._Recorder.rotate

    def sample() -> None:
        samples.append(
            (
                time.monotonic() - t0,
                mallinfo2().uordblks,
                sys.getallocatedblocks(),
                len(gc.get_objects()),
            )
        )

    def write_then_sample(self: Any, frames: list[Any]) -> None:
        write(self, frames)
        sample()

    def rotate_then_sample(self: Any) -> None:
        rotate(self)
        sample()
        print(f"rotation at {samples[-1][0]:4.0f} s: glibc in use {samples[-1][1] / 2**20:.3f} MiB")

    rec._Recorder.write = write_then_sample  # type: ignore[method-assign]
    rec._Recorder.rotate = rotate_then_sample  # type: ignore[method-assign]
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe()
    server = ctx.Process(target=serve_sandbox, args=(args.rate, theirs), daemon=True)
    server.start()
    os.environ.update(ours.recv())
    work = Path(tempfile.mkdtemp(prefix="recorder_drift_"))
    try:
        summary = mdkit.record(
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
        shutil.rmtree(work, ignore_errors=True)
    print(f"summary {summary}")
    arr = np.array(samples, dtype=float)
    for minute in range(int(args.minutes) + 1):
        sel = arr[(arr[:, 0] >= minute * 60) & (arr[:, 0] < (minute + 1) * 60)]
        if len(sel):
            print(
                f"min {minute:3d}: glibc in use (median) {np.median(sel[:, 1]) / 2**20:7.3f} MiB"
                f"  python blocks {np.median(sel[:, 2]):9.0f}"
                f"  gc objects {np.median(sel[:, 3]):8.0f}"
                f"  samples {len(sel)}"
            )
    warm = arr[arr[:, 0] >= 120]
    if len(warm) > 5:
        per_h = np.polyfit(warm[:, 0], warm[:, 1], 1)[0] * 3600 / 2**20
        print(f"glibc in use after 2 min: {per_h:+.3f} MiB/h over {len(warm)} samples")


if __name__ == "__main__":
    main()
