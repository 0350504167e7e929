"""Capture throughput, CPU per message and memory per row, against a pre-encoded feeder.

    python bench/bench_capture.py [--messages 200000] [--write FILE]

The feeder runs in a separate process and sends pre-encoded gzip Crypto.com v1
trade frames (one trade each) as fast as possible, or paced. In the same run and over the
same transport we measure:

1. raw receive rate: a bare ``async for msg in ws`` loop (the transport's ceiling);
2. mdkit capture ingest rate (engine + gzip + orjson + columnar rows + raw store),
   and its ratio to (1) — target >= 0.8;
3. a naive pipeline (gzip + json.loads + a dict per row + DataFrame at the end);
4. CPU microseconds per message at a live-like 50k msg/s (paced feeder, process CPU time);
5. bytes held per trade row (tracemalloc), with and without the raw frame store.

(1)-(4) run against two feeders: ``send`` (a websockets server, one ``ws.send()``
per frame; it tops out near 140k msg/s on 2 cores, so it caps the "raw" rate) and
``bulk`` (pre-encoded frames written many per ``transport.write``: the client's
real ceiling, ~300k frames/s here).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import tracemalloc
import zlib
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import orjson  # noqa: E402
import pandas as pd  # noqa: E402

FRAMES = 1000


def frames() -> list[bytes]:
    out = []
    for i in range(FRAMES):
        ts = 1_700_000_000_000 + i
        msg = {
            "channel": "market_btcusdt_trade_ticker",
            "ts": ts,
            "tick": {
                "id": i,
                "ts": ts,
                "data": [
                    {
                        "id": 10_000 + i,
                        "side": "buy" if i % 2 else "sell",
                        "price": 65000.12 + i % 50,
                        "vol": 0.0123 + (i % 7) / 1000,
                        "amount": 799.5,
                        "ts": ts,
                    }
                ],
            },
        }
        out.append(zlib.compress(orjson.dumps(msg), 1, wbits=31))
    return out


def feeder(port_q: Any, n: int, rate: float | None) -> None:
    from websockets.asyncio.server import serve

    payload = frames()

    async def handler(ws: Any) -> None:
        sent = 0
        start = time.perf_counter()
        batch = 50
        while sent < n:
            for _ in range(min(batch, n - sent)):
                await ws.send(payload[sent % FRAMES])
                sent += 1
            if rate:
                ahead = sent / rate - (time.perf_counter() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await ws.close()

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
            port_q.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    asyncio.run(main())


def encode_frame(payload: bytes, opcode: int = 0x2) -> bytes:
    """One unmasked server WebSocket frame (FIN set), as RFC 6455 puts it on the wire."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big")
    return head + payload


def bulk_feeder(port_q: Any, n: int, rate: float | None) -> None:
    """A WebSocket server that writes many pre-encoded frames per ``transport.write``.

    The HTTP upgrade is a normal RFC 6455 handshake (done by hand); after it the
    server writes ``b"".join(frames)`` chunks of 500 frames (of 50 frames, one
    write per ms at 50k msg/s, when paced to ``rate``), then a close frame. Client frames
    are read and ignored. This measures the client's ceiling, not the feeder's ``ws.send()`` cost.
    """
    import base64
    import hashlib

    wire = [encode_frame(p) for p in frames()]
    per_chunk = 50 if rate else 500
    blocks = [b"".join(wire[i : i + per_chunk]) for i in range(0, FRAMES, per_chunk)]
    close = encode_frame((1000).to_bytes(2, "big"), opcode=0x8)

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = b""
        for line in request.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"sec-websocket-key":
                key = value.strip()
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

        async def drain_client() -> None:
            """Read (and ignore) client frames until the client's close frame."""
            while True:
                head = await reader.readexactly(2)
                size = head[1] & 0x7F
                if size == 126:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                elif size == 127:
                    size = int.from_bytes(await reader.readexactly(8), "big")
                await reader.readexactly(size + (4 if head[1] & 0x80 else 0))
                if head[0] & 0x0F == 0x8:
                    return

        client = asyncio.get_running_loop().create_task(drain_client())
        sent = 0
        start = time.perf_counter()
        while sent < n:
            k = min(per_chunk, n - sent)
            if k == per_chunk:  # sent is a multiple of per_chunk here
                writer.write(blocks[(sent % FRAMES) // per_chunk])
            else:
                writer.write(b"".join(wire[(sent + i) % FRAMES] for i in range(k)))
            sent += k
            await writer.drain()
            if rate:
                ahead = sent / rate - (time.perf_counter() - start)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        writer.write(close)
        await writer.drain()
        try:
            await asyncio.wait_for(client, 10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            pass
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port_q.put(server.sockets[0].getsockname()[1])
        await asyncio.Future()

    asyncio.run(main())


FEEDERS = {"send": feeder, "bulk": bulk_feeder}


def start_feeder(n: int, rate: float | None = None, mode: str = "send") -> tuple[mp.Process, str]:
    q: Any = mp.Queue()
    proc = mp.Process(target=FEEDERS[mode], args=(q, n, rate), daemon=True)
    proc.start()
    return proc, f"ws://127.0.0.1:{q.get(timeout=20)}"


async def raw_rate(url: str, n: int) -> float:
    from websockets.asyncio.client import connect

    count = 0
    async with connect(url, compression=None, max_size=2**24) as ws:
        start = time.perf_counter()
        async for _ in ws:
            count += 1
    return count / (time.perf_counter() - start)


async def naive_rate(url: str, n: int) -> tuple[float, int]:
    from websockets.asyncio.client import connect

    rows: list[dict[str, Any]] = []
    async with connect(url, compression=None, max_size=2**24) as ws:
        start = time.perf_counter()
        async for frame in ws:
            msg = json.loads(gzip.decompress(frame))
            for t in msg["tick"]["data"]:
                rows.append(
                    {
                        "timestamp": t["ts"],
                        "id": t["id"],
                        "side": t["side"],
                        "price": float(t["price"]),
                        "amount": float(t["vol"]),
                    }
                )
    df = pd.DataFrame(rows)
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="ms", utc=True)
    return len(rows) / (time.perf_counter() - start), len(df)


def engine(url: str, n: int, **options: Any) -> Any:
    from mdkit.engine.stream import Engine, stream_spec

    spec = stream_spec("cryptocom")
    subs = spec.plan(["btcusdt"], ["trades"])
    return Engine(spec, url, subs, seconds=None, max_messages=n, **options)


async def mdkit_rate(url: str, n: int) -> tuple[float, int]:
    eng = engine(url, n)
    start = time.perf_counter()
    await eng.run()
    elapsed = time.perf_counter() - start
    return eng.stats.data_messages / elapsed, len(eng.tables.trades)


def cpu_per_message(n: int, rate: float, mode: str = "send") -> tuple[float, float]:
    proc, url = start_feeder(n, rate, mode)
    try:
        eng = engine(url, n)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        asyncio.run(eng.run())
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        proc.kill()
    return cpu / eng.stats.data_messages * 1e6, eng.stats.data_messages / wall


def raw_cpu_per_message(n: int, rate: float, mode: str = "send") -> float:
    proc, url = start_feeder(n, rate, mode)
    try:
        cpu0 = time.process_time()
        asyncio.run(raw_rate(url, n))
        cpu = time.process_time() - cpu0
    finally:
        proc.kill()
    return cpu / n * 1e6


def bytes_per_row(n: int, raw_limit: int | None) -> tuple[float, float]:
    import websockets.asyncio.client  # noqa: F401  (a one-off import is not memory per row)

    proc, url = start_feeder(n)
    try:
        eng = engine(url, n, raw_limit=raw_limit)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(eng.run())
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    finally:
        proc.kill()
    rows = len(eng.tables.trades)
    return held / rows, eng.tables.trades.nbytes / rows


def measure(n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in FEEDERS:
        raws, caps, naives = [], [], []
        for _ in range(3):  # interleaved, best of three each
            for name, fn, sink in (
                ("raw", raw_rate, raws),
                ("mdkit", mdkit_rate, caps),
                ("naive", naive_rate, naives),
            ):
                proc, url = start_feeder(n, mode=mode)
                try:
                    result = asyncio.run(fn(url, n))
                finally:
                    proc.kill()
                sink.append(result if name == "raw" else result[0])
        out[mode] = m = {"raw": max(raws), "mdkit": max(caps), "naive": max(naives)}
        m["ratio"] = m["mdkit"] / m["raw"]
        m["cpu_us"], m["paced_rate"] = cpu_per_message(min(n, 150_000), 50_000, mode)
        m["raw_cpu_us"] = raw_cpu_per_message(min(n, 150_000), 50_000, mode)
    out["held_no_raw"], out["table_bytes"] = bytes_per_row(100_000, 0)
    out["held_with_raw"], _ = bytes_per_row(100_000, None)
    return out


def report(r: dict[str, Any], n: int) -> str:
    s, b = r["send"], r["bulk"]

    def row(label: str, key: str, fmt: str, target: str = "—") -> str:
        return f"| {label} | {s[key]:{fmt}} | {b[key]:{fmt}} | {target} |"

    return "\n".join(
        [
            "# Capture benchmark",
            "",
            f"Command: `python bench/bench_capture.py --messages {n}`",
            f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python "
            f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; "
            "feeder in a separate process, loopback, gzip Crypto.com v1 trade frames "
            "(one trade per frame), best of 3 interleaved runs per feeder.",
            "",
            "Feeders: **send** = a websockets server, one `ws.send()` per frame (batches "
            "of 50, then a yield); **bulk** = pre-encoded frames written "
            "`b''.join(frames)` 500 per `transport.write` after a normal handshake "
            "(50 per write, one write per ms, when paced).",
            "",
            "| measure | send feeder | bulk feeder | target |",
            "|---|---|---|---|",
            row("raw receive rate (`async for msg in ws`), msg/s", "raw", ",.0f"),
            row("mdkit capture ingest, msg/s", "mdkit", ",.0f"),
            row("**ratio mdkit / raw**", "ratio", ".2f", "≥ 0.8"),
            row("naive json + dicts + DataFrame, msg/s", "naive", ",.0f"),
            row("achieved rate when paced to 50k msg/s", "paced_rate", ",.0f"),
            row("**CPU per message at 50k msg/s**, µs", "cpu_us", ".2f", "≤ 5 µs"),
            row("bare receive loop CPU per message at 50k msg/s, µs", "raw_cpu_us", ".2f"),
            f"| mdkit's own CPU per message (difference), µs | "
            f"{s['cpu_us'] - s['raw_cpu_us']:.2f} | {b['cpu_us'] - b['raw_cpu_us']:.2f} | — |",
            "",
            "| memory (tracemalloc, 100k trade frames, send feeder) | figure | target |",
            "|---|---|---|",
            f"| trade table bytes per row (ColumnBuffer.nbytes) | {r['table_bytes']:.0f} B | — |",
            f"| **held per trade row, raw payloads off (`raw_limit=0`)** | "
            f"{r['held_no_raw']:.0f} B | ≤ 60 B |",
            f"| held per trade row, every raw payload kept (`raw_limit=None`) | "
            f"{r['held_with_raw']:.0f} B | — |",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--write", default=None)
    args = parser.parse_args()
    result = measure(args.messages)
    text = report(result, args.messages)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
