"""Instructions per frame of each part of the capture path (load-immune, valgrind).

    python bench/callgrind_parts.py [--feed text|gzip|books15] [--frames 12000]

Each part runs as a fixed loop over bench_capture's frames under
``valgrind --tool=callgrind`` (``PYTHONHASHSEED=0``), twice (N/6 and N frames); the
difference divided by the extra frames cancels start-up:

- **driver**: ``Driver.on_message`` (mdkit/engine/driver.py) over a core and session,
  as picows calls it, the frames handed on in reads of :data:`READ` (``Driver.flush``;
  the picows receive itself and the event loop are not counted here);
- **reads**: ``Core.receive_many`` over reads of :data:`READ` frames, as the driver
  calls it (runs of data pushes read by the session in one call);
- **core**: ``Core.receive`` (counters, raw store, containment, max_messages) over the
  session, one frame at a time;
- **session**: ``session.receive`` alone (decode, drift, rows appended);
- **raw store**: ``RawStore.add`` alone;
- **append**: the trade table's row writer alone, one row by name (text/gzip feeds).

So driver − core is the driver's own cost, core − session the core's (raw store
included), and session − append roughly the parse without the row write.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PARTS = ("driver", "reads", "core", "session", "raw store", "append")
#: Frames per read (bench_capture's paced feeder writes 50 frames a millisecond).
READ = 50
NOW = 1_788_000_000_000_000_000


def _frames(feed: str) -> list[bytes]:
    from bench_capture import books15_frames, gzip_frames, text_frames

    return {"text": text_frames, "gzip": gzip_frames, "books15": books15_frames}[feed]()


def _core(feed: str) -> tuple[Any, Any]:
    from mdkit.engine.core import Core
    from mdkit.engine.plan import Stream
    from mdkit.venues import get_venue

    venue = get_venue("cryptocom" if feed == "gzip" else "bitget")
    symbol = venue.example_symbols[0]
    subs = tuple(venue.plan([symbol], ["book:15" if feed == "books15" else "trades"], {}))
    core = Core([Stream(venue, subs, {"public": "bench:"})], raw_limit=None)
    link = core.link(venue.key, "public", subs)
    core.connect(link, NOW)
    return core, link


def loop(feed: str, part: str, n: int) -> None:
    """Run ``n`` frames through one part (the body callgrind counts)."""
    frames = _frames(feed)
    k = len(frames)
    text = feed != "gzip"
    core, link = _core(feed)
    if part == "driver":
        from mdkit.engine.driver import Driver as _Driver
        from mdkit.engine.stream import Engine

        engine = Engine(list(core.streams), seconds=None, raw_limit=None)
        engine.core = core
        driver = _Driver(engine, link)
        driver._due = True  # no event loop here: the bench flushes each read itself
        on_message, flush = driver.on_message, driver.flush
        for i in range(n):
            on_message(frames[i % k], text)
            if i % READ == READ - 1:
                flush()
        flush()
    elif part == "reads":
        receive_many = core.receive_many
        for start in range(0, n, READ):
            stop = min(n, start + READ)
            reads = [frames[i % k] for i in range(start, stop)]
            receive_many(link, reads, list(range(NOW + start, NOW + stop)), text)
    elif part == "core":
        receive = core.receive
        for i in range(n):
            receive(link, frames[i % k], text, NOW + i)
    elif part == "session":
        session_receive = link.session.receive
        for i in range(n):
            session_receive(frames[i % k], NOW + i)
    elif part == "raw store":
        from mdkit.engine.raw import RawStore

        add = RawStore(None).add
        for i in range(n):
            add(frames[i % k], NOW + i, 1, text)
    else:
        append = link.part.tables["trades"].append
        for i in range(n):
            append(timestamp=NOW, local_timestamp=NOW + i, symbol="BTCUSDT", id=i,
                   side="buy", price=77600.75, amount=0.001352)  # fmt: skip


def count(feed: str, part: str, n: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        code = (
            f"import sys; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'bench')!r}]; "
            f"from callgrind_parts import loop; loop({feed!r}, {part!r}, {n})"
        )
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-c", code],
            capture_output=True, text=True, check=True, timeout=1800, env=env,
        )  # fmt: skip
        found = re.search(r"Collected : (\d+)", done.stderr)
        assert found, done.stderr[-2000:]
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", choices=("text", "gzip", "books15"), default="text")
    parser.add_argument("--frames", type=int, default=12_000)
    parser.add_argument("--parts", default=",".join(PARTS))
    args = parser.parse_args()
    n = args.frames
    small = n // 6
    for part in args.parts.split(","):
        if part == "append" and args.feed == "books15":
            continue
        per = (count(args.feed, part, n) - count(args.feed, part, small)) / (n - small)
        print(f"feed {args.feed:7s} {part:10s} {per:9,.0f} instructions per frame", flush=True)


if __name__ == "__main__":
    main()
