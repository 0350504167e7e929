"""Session parse cost: µs per frame of ``session.receive`` (sans-I/O, no socket, no engine).

    python bench/bench_parse.py [--frames 100000] [--repeats 5] [--quick]
    python bench/bench_parse.py --profile FEED     # cProfile of one feed's receive loop

Feeds are bench_capture.py's pre-encoded frames (1,000 distinct, cycled): **text**
(Bitget v2 trade, one trade per ~215-byte frame), **books15** (Bitget v2 full
15-level book, 30 depth rows per ~840-byte frame), **gzip** (Crypto.com v1 trade,
~150-byte gzip frame) and **cryptocom text** (the same Crypto.com frames
uncompressed). Each is read by its venue's session into a fresh ``Tables`` per repeat,
exactly as the engine calls it (``receive(frame, now_ns)``); the figure is the best
and median process CPU time per frame over the repeats (CPU, not wall: steadier on a
shared machine), and the rows written are checked. Compare figures of one run only.
"""

from __future__ import annotations

import argparse
import cProfile
import platform
import pstats
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_capture import books15_frames, gzip_frames, text_frames  # noqa: E402

from mdkit.data.tables import Tables  # noqa: E402
from mdkit.venues import get_venue  # noqa: E402
from mdkit.venues.base import Counters, SessionSetup  # noqa: E402

#: feed → (venue, channel, table, rows per frame, frames)
FEEDS: dict[str, tuple[str, str, str, int, Any]] = {
    "text": ("bitget", "trades", "trades", 1, text_frames),
    "books15": ("bitget", "book:15", "depth", 30, books15_frames),
    "gzip": ("cryptocom", "trades", "trades", 1, gzip_frames),
    "cryptocom text": (
        "cryptocom",
        "trades",
        "trades",
        1,
        lambda: [zlib.decompress(f, 31) for f in gzip_frames()],
    ),
}


def session(feed: str) -> tuple[Any, Tables]:
    venue_key, channel, _, _, _ = FEEDS[feed]
    venue = get_venue(venue_key)
    symbol = venue.example_symbols[0] if venue.example_symbols else "btcusdt"
    subs = tuple(venue.plan([symbol], [channel], {}))
    tables = Tables()
    setup = SessionSetup(venue, "public", subs, tables, Counters())
    return venue.session(setup), tables


def run_once(feed: str, wire: list[bytes], n: int) -> tuple[float, int]:
    sess, tables = session(feed)
    receive = sess.receive
    now = time.time_ns()
    k = len(wire)
    start = time.process_time()
    for i in range(n):
        receive(wire[i % k], now)
    elapsed = time.process_time() - start
    return elapsed, len(tables[FEEDS[feed][2]])


def measure(n: int, repeats: int) -> dict[str, tuple[float, float]]:
    out = {}
    for feed, (_, _, _, rows, make) in FEEDS.items():
        wire = make()
        times = []
        for _ in range(repeats):
            elapsed, got = run_once(feed, wire, n)
            assert got == n * rows, (feed, got, n * rows)
            times.append(elapsed / n * 1e6)
        out[feed] = (min(times), statistics.median(times))
    return out


def profile(feed: str, n: int) -> None:
    wire = FEEDS[feed][4]()
    prof = cProfile.Profile()
    prof.enable()
    run_once(feed, wire, n)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", choices=tuple(FEEDS), default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    n, repeats = (2_000, 1) if args.quick else (args.frames, args.repeats)
    if args.profile:
        profile(args.profile, n)
        return
    print(f"python {platform.python_version()}, {platform.machine()}; {n:,} frames x {repeats}")
    print(f"{'feed':16s} {'session':10s} {'best CPU µs/frame':>18s} {'median':>8s}")
    for feed, (best, med) in measure(n, repeats).items():
        print(f"{feed:16s} {FEEDS[feed][0]:10s} {best:18.3f} {med:8.3f}")


if __name__ == "__main__":
    main()
