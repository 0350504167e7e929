"""The floor of a Python receive path: each part's CPU per frame, side by side in one run.

    python bench/bench_floor.py [--frames 100000] [--repeats 3] [--quick]

Issue 21 asks for ≤ 2.0 µs CPU per message at 50k msg/s on Bitget text trades and
≤ 3.0 µs on Crypto.com gzip trades. This bench measures, on the frames bench_capture
feeds, the parts that any receive path written in Python pays once per frame, and sums
the ones that cannot be skipped (a socket read, one decode, one row, and for gzip one
inflate), against the whole path:

- **picows at 50k msg/s**: bench_capture's bare picows client (a callback that counts),
  paced feeder, CPU per frame: the transport and the event loop alone;
- **decode**: the fastest typed decoder measured (msgspec Structs, lax numbers, what the
  sessions use), beside orjson to dicts; a read's frames joined and decoded in one call;
- **row**: one trade row written by name into mdkit's columnar buffer;
- **inflate**: one gzip frame, bounded as mdkit inflates it (zlib), beside the faster
  bindings when installed (``pip install -e '.[bench]'``: isal, zlib-ng, libdeflate);
- **columnar JSON**: pyarrow's C++ JSON reader on a whole capture's frames at once, then
  the casts to typed columns (what a deferred, vectorised decode would cost);
- **whole path**: mdkit's receive path without sockets (bench_ingest, reads of 50) and
  mdkit's capture at 50k msg/s (bench_capture).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_capture  # noqa: E402
import msgspec  # noqa: E402
import orjson  # noqa: E402
from bench_ingest import bitget_frames, ingest_cpu  # noqa: E402

from mdkit.data.tables import Tables  # noqa: E402
from mdkit.data.wire import inflate  # noqa: E402
from mdkit.venues.bitget_wire import TradePush, decode_trade_push  # noqa: E402


def per_frame(run: Callable[[], Any], n: int, repeats: int) -> float:
    """Best CPU µs per frame of ``run`` (which handles ``n`` frames)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / n * 1e6


def inflaters() -> dict[str, Callable[[bytes], bytes]]:
    """One gzip frame inflated by each binding installed (mdkit's bounded zlib first)."""
    out: dict[str, Callable[[bytes], bytes]] = {"zlib, bounded (mdkit)": inflate}
    out["zlib.decompress (unbounded)"] = lambda f: zlib.decompress(f, 31)
    for label, module, call in (
        ("isal (ISA-L)", "isal.isal_zlib", "decompress"),
        ("zlib-ng", "zlib_ng.zlib_ng", "decompress"),
        ("libdeflate (deflate)", "deflate", "gzip_decompress"),
    ):
        try:
            function = getattr(importlib.import_module(module), call)
        except ImportError:
            print(f"  ({label}: not installed; pip install -e '.[bench]')")
            continue
        out[label] = (lambda f, fn=function: fn(f, 31)) if call == "decompress" else function
    return out


def columnar_json(frames: list[bytes]) -> None:
    """pyarrow's JSON reader on every frame at once, then typed columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    trade = pa.struct([(k, pa.string()) for k in ("ts", "price", "size", "side", "tradeId")])
    schema = pa.schema([("action", pa.string()), ("data", pa.list_(trade))])
    table = pj.read_json(
        io.BytesIO(b"\n".join(frames)),
        read_options=pj.ReadOptions(use_threads=False, block_size=1 << 26),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )
    flat = pc.list_flatten(table.column("data"))
    for name, to in (("ts", pa.int64()), ("price", pa.float64()), ("size", pa.float64())):
        pc.cast(pc.struct_field(flat, name), to)
    pc.cast(pc.struct_field(flat, "tradeId"), pa.int64())
    pc.struct_field(flat, "side").dictionary_encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.repeats = 2_000, 1
    n, repeats = args.frames, args.repeats
    text = bitget_frames(n)
    gz = (bench_capture.gzip_frames() * (n // bench_capture.FRAMES + 1))[:n]
    print(f"frames: {n:,} Bitget text (~{len(text[0])} B), {n:,} gzip (~{len(gz[0])} B)")

    paced, feeds = min(n, 150_000), ("text", "gzip")

    def at_50k(feed: str, client: str) -> float:  # best of two: the first one warms imports
        return min(bench_capture.cpu_per_message(paced, 50_000, feed, client)[0] for _ in "ab")

    picows = {feed: at_50k(feed, "picows") for feed in feeds}
    mdkit_50k = {feed: at_50k(feed, "mdkit") for feed in feeds}

    def decode_each() -> None:
        for frame in text:
            decode_trade_push(frame)

    def orjson_each() -> None:
        for frame in text:
            orjson.loads(frame)

    batch = msgspec.json.Decoder(list[TradePush], strict=False).decode

    def decode_reads() -> None:
        for k in range(0, n, 50):
            batch(b"[" + b",".join(text[k : k + 50]) + b"]")

    pushes = [decode_trade_push(frame) for frame in text[: min(n, 20_000)]]

    def rows() -> None:
        write = Tables()["trades"].append
        now = time.time_ns()
        for push in pushes:
            item = push.data[0]
            write(timestamp=item.ts * 1_000_000, local_timestamp=now, symbol="BTCUSDT",
                  id=item.tradeId, side=item.side, price=item.price, amount=item.size)  # fmt: skip

    parts = {
        "decode, msgspec typed (mdkit)": per_frame(decode_each, n, repeats),
        "decode, orjson to dicts": per_frame(orjson_each, n, repeats),
        "decode, msgspec, a read of 50 in one call": per_frame(decode_reads, n, repeats),
        "row written by name": per_frame(rows, len(pushes), repeats),
        "columnar JSON, pyarrow, all frames at once": per_frame(
            lambda: columnar_json(text), n, repeats
        ),
    }
    for label, function in inflaters().items():
        parts[f"inflate, {label}"] = per_frame(lambda fn=function: [fn(f) for f in gz], n, repeats)
    whole = ingest_cpu(text, 50, repeats) * 1e6

    print("\nCPU µs per frame")
    print(f"  {'picows at 50k msg/s, text':46s} {picows['text']:6.2f}")
    print(f"  {'picows at 50k msg/s, gzip':46s} {picows['gzip']:6.2f}")
    for label, value in parts.items():
        print(f"  {label:46s} {value:6.2f}")
    best_inflate = min(v for k, v in parts.items() if k.startswith("inflate"))
    text_floor = (
        picows["text"] + parts["decode, msgspec typed (mdkit)"] + parts["row written by name"]
    )
    gzip_floor = picows["gzip"] + best_inflate + parts["decode, msgspec typed (mdkit)"]
    gzip_floor += parts["row written by name"]
    print(f"\n  {'receive path without sockets (reads of 50)':46s} {whole:6.2f}")
    print(f"  {'floor, text: picows + decode + row':46s} {text_floor:6.2f}   target 2.0")
    print(f"  {'mdkit capture at 50k msg/s, text':46s} {mdkit_50k['text']:6.2f}")
    print(f"  {'floor, gzip: picows + inflate + decode + row':46s} {gzip_floor:6.2f}   target 3.0")
    print(f"  {'mdkit capture at 50k msg/s, gzip':46s} {mdkit_50k['gzip']:6.2f}")


if __name__ == "__main__":
    main()
