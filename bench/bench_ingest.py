"""CPU per frame of the receive path, without sockets: frame → driver → core → session → row.

    python bench/bench_ingest.py [--frames 200000] [--repeats 5]

Feeds pre-encoded Bitget trade frames (one trade each) to the live driver's
``on_message`` (what picows calls per frame), handed on in reads of ``--read`` frames
(``Driver.flush``, what the event loop calls once a read is delivered): the ingestion
core, the session's parse, the row writer and the raw store (``raw_limit=0``).
``--read 1`` is a frame per read. Prints the best CPU time
(``time.process_time``, steadier than wall time on a shared machine) per frame.
To compare two trees, run it with ``PYTHONPATH=<tree>`` for each, alternately.
"""

from __future__ import annotations

import argparse
import json
import time

from mdkit.engine.stream import Engine, Stream
from mdkit.venues import get_venue


def bitget_frames(n: int) -> list[bytes]:
    """``n`` Bitget v2 one-trade ``update`` pushes, as on the wire."""
    arg = {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"}
    frames = []
    for i in range(n):
        trade = {"ts": str(1_790_000_000_000 + i), "price": "77600.75", "size": "0.001352"}
        trade |= {"side": "buy", "tradeId": str(1_478_949_856_623_706_112 + i)}
        push = {"action": "update", "arg": arg, "data": [trade], "ts": 1_790_000_000_000 + i}
        frames.append(json.dumps(push).encode())
    return frames


def ingest_cpu(frames: list[bytes], read: int, repeats: int) -> float:
    """Best CPU seconds per frame of the receive path (Bitget session), reads of ``read``."""
    venue = get_venue("bitget")
    subs = tuple(venue.plan(["BTCUSDT"], ["trades"], {}))
    best = float("inf")
    for _ in range(repeats):
        engine = Engine([Stream(venue, subs, {"public": "bench:"})], seconds=None, raw_limit=0)
        driver = engine.links[0]
        engine.core.connect(driver.link, time.time_ns())
        driver._due = True  # no event loop: the reads are flushed here
        on_message, flush = driver.on_message, driver.flush
        start = time.process_time()
        for i, frame in enumerate(frames, 1):
            on_message(frame, True)
            if not i % read:
                flush()
        flush()
        best = min(best, time.process_time() - start)
    return best / len(frames)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--read", type=int, default=50, help="frames per read (default 50)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeats = 2_000, 1
    best = ingest_cpu(bitget_frames(args.frames), args.read, args.repeats)
    print(f"{best * 1e6:.3f} µs CPU per frame, reads of {args.read} (best of {args.repeats})")


if __name__ == "__main__":
    main()
