"""Where a capture's time goes: one mdkit client against bench_capture's bulk feeder.

    python bench/profile_capture.py cprofile [--feed text] [--messages 100000]
    python bench/profile_capture.py callgrind [--feed text] [--messages 10000]

``cprofile``: the client (``Engine`` over a ``Stream``, as bench_capture's ``engine()``)
under cProfile; own time summed by part: **transport** (picows and the event loop),
**engine** (mdkit/engine: on_message, counters, clock, routing), **raw store**
(mdkit/engine/raw.py), **session parse** (mdkit/venues: decode and row building),
**append** (the columnar writers, mdkit/data) and the rest. cProfile's own overhead
inflates call-heavy parts; read the shares, not the absolute µs.

``callgrind``: instructions per message counted by ``valgrind --tool=callgrind``
(immune to the machine's load): the client runs twice under valgrind, for N/5 and N
messages, and the difference is divided by the extra messages (start-up cancels out).
Needs valgrind on the PATH.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_capture import FEEDS, engine, start_feeder  # noqa: E402

PARTS = (
    ("raw store", ("mdkit/engine/raw.py",)),
    ("engine", ("mdkit/engine/",)),
    ("session parse", ("mdkit/venues/", "msgspec", "orjson", "zlib.decompress")),
    ("append", ("mdkit/data/", "<string>", "pack_into")),
    ("transport + loop", ("picows", "asyncio", "selectors", "socket", "select")),
)


def part_of(key: tuple[str, int, str]) -> str:
    where = f"{key[0]} {key[2]}"
    for name, marks in PARTS:
        if any(mark in where for mark in marks):
            return name
    return "other"


def run_client(url: str, n: int, feed: str) -> int:
    eng = engine(url, n, feed)
    asyncio.run(eng.run())
    return int(eng.data_total)


def cprofile(feed: str, n: int) -> None:
    proc, url = start_feeder(2_000, None, feed)
    try:
        run_client(url, 2_000, feed)  # warm-up: imports and first-use set-up not counted
    finally:
        proc.kill()
    proc, url = start_feeder(n, None, feed)
    prof = cProfile.Profile()
    try:
        prof.enable()
        got = run_client(url, n, feed)
        prof.disable()
    finally:
        proc.kill()
    stats = pstats.Stats(prof)
    total = 0.0
    by_part: dict[str, float] = {}
    entries = stats.stats  # type: ignore[attr-defined]
    for key, (_, _, tottime, _, _) in entries.items():
        by_part[part_of(key)] = by_part.get(part_of(key), 0.0) + tottime
        total += tottime
    print(f"feed {feed}: {got:,} messages, {total / got * 1e6:.2f} µs each under cProfile")
    for name, seconds in sorted(by_part.items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {seconds / got * 1e6:6.2f} µs  {seconds / total:6.1%}")
    stats.sort_stats("tottime").print_stats(15)


def callgrind(feed: str, n: int) -> None:
    small = max(n // 5, 500)
    counts = []
    for size in (small, n):
        proc, url = start_feeder(size, None, feed)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "cg.out")
                code = (
                    f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'bench')!r}]; "
                    "from profile_capture import run_client; "
                    f"print(run_client({url!r}, {size}, {feed!r}))"
                )
                done = subprocess.run(
                    ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                     sys.executable, "-c", code],
                    capture_output=True, text=True, check=True, timeout=1800,
                )  # fmt: skip
                got = int(done.stdout.strip().splitlines()[-1])
                found = re.search(r"Collected : (\d+)", done.stderr)
                assert found, done.stderr[-2000:]
                counts.append((got, int(found.group(1))))
        finally:
            proc.kill()
    (m1, i1), (m2, i2) = counts
    print(
        f"feed {feed}: {(i2 - i1) / (m2 - m1):,.0f} instructions per message "
        f"(callgrind, {m1:,} and {m2:,} messages: {i1:,} and {i2:,} instructions)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("cprofile", "callgrind"))
    parser.add_argument("--feed", choices=FEEDS, default="text")
    parser.add_argument("--messages", type=int, default=None)
    args = parser.parse_args()
    if args.mode == "cprofile":
        cprofile(args.feed, args.messages or 100_000)
    else:
        callgrind(args.feed, args.messages or 10_000)


if __name__ == "__main__":
    main()
