"""Capture throughput and CPU per message, against a pre-encoded bulk feeder.

    python bench/bench_capture.py [--messages 200000] [--rounds 3] [--write FILE] [--quick]

A feeder process writes pre-encoded WebSocket frames many per ``transport.write``
after a normal RFC 6455 handshake (the client's ceiling, not the feeder's), for two
feeds: **text** (uncompressed Bitget v2 trade frames, ~220 bytes, the format of
``samples/bitget_v2``; read by mdkit's Bitget session when that venue is registered,
else by the Crypto.com session as text frames) and **gzip** (Crypto.com v1 trade
frames, ~150 bytes compressed), and **books15** (Bitget v2 ``books15`` pushes: a full
15-level book per ~800-byte text frame, 30 depth rows each). In the same run, one
client process each:

1. bare picows receive loop (a callback that counts: the transport's ceiling);
2. bare websockets ``async for msg in ws`` loop;
3. mdkit capture (engine + session + columnar rows + raw store) and its ratio to (1);
4. CPU microseconds per message at a live-like 50k msg/s (paced feeder), mdkit and
   bare picows;
5. bytes held per trade row (tracemalloc), with and without raw payloads kept.

Targets (DESIGN.md): ≤ 2.0 µs (Bitget text) / ≤ 3.0 µs (Crypto.com gzip) CPU per
message at 50k msg/s, ≤ 60 B per trade row (and, from an earlier DESIGN, ingest ≥ 0.5 ×
bare picows for text, ≥ 0.35 × for gzip); bench/bench_floor.py measures how far below
2.0 and 3.0 a Python receive path can go (bench/RESULTS.md, "fifth pass").
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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

FRAMES = 1000
FEED = "gzip"  # set per process by start_feeder / the client helpers


def gzip_frames() -> list[bytes]:
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


def text_frames() -> list[bytes]:
    """Bitget v2 trade pushes (samples/bitget_v2), one trade each, as on the wire."""
    out = []
    for i in range(FRAMES):
        ts = 1_700_000_000_000 + i
        msg = {
            "action": "update",
            "arg": {"instType": "SPOT", "channel": "trade", "instId": "BTCUSDT"},
            "data": [
                {
                    "ts": str(ts),
                    "price": f"{65000.12 + i % 50:.2f}",
                    "size": f"{0.0123 + (i % 7) / 1000:.4f}",
                    "side": "buy" if i % 2 else "sell",
                    "tradeId": str(1_100_000_000_000_000_000 + i),
                }
            ],
            "ts": ts,
        }
        out.append(orjson.dumps(msg))
    return out


def books15_frames() -> list[bytes]:
    """Bitget v2 ``books15`` pushes: a full 15-level book each (30 depth rows), text."""
    out = []
    for i in range(FRAMES):
        ts = 1_700_000_000_000 + i
        mid = 65000.0 + i % 50
        bids = [
            [f"{mid - 0.01 * (k + 1):.2f}", f"{0.01 + (i + k) % 9 / 100:.4f}"] for k in range(15)
        ]
        asks = [
            [f"{mid + 0.01 * (k + 1):.2f}", f"{0.02 + (i + k) % 7 / 100:.4f}"] for k in range(15)
        ]
        msg = {
            "action": "snapshot",
            "arg": {"instType": "SPOT", "channel": "books15", "instId": "BTCUSDT"},
            "data": [{"asks": asks, "bids": bids, "checksum": 0, "seq": 1000 + i, "ts": str(ts)}],
            "ts": ts,
        }
        out.append(orjson.dumps(msg))
    return out


FEEDS = ("text", "gzip", "books15")


def frames(feed: str) -> list[bytes]:
    return {"text": text_frames, "gzip": gzip_frames, "books15": books15_frames}[feed]()


def text_venue() -> str:
    """The venue whose session reads the text feed (Bitget once registered)."""
    from mdkit.venues import REGISTRY

    return "bitget" if "bitget" in REGISTRY else "cryptocom"


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


def bulk_feeder(
    port_q: Any, n: int, rate: float | None, feed: str, wait_subscribe: bool = False
) -> None:
    """A WebSocket server that writes many pre-encoded frames per ``transport.write``.

    The HTTP upgrade is a normal RFC 6455 handshake (done by hand); after it the
    server writes ``b"".join(frames)`` chunks of 500 frames (of 50 frames, one
    write per ms at 50k msg/s, when paced to ``rate``), then a close frame. Client frames
    are read and ignored. This measures the client's ceiling, not the feeder's ``ws.send()`` cost.

    ``wait_subscribe`` (bench_peers.py: clients that subscribe and then wait for data):
    pushing starts after the first client frame; a Bitget ``{"op":"subscribe"}`` is
    answered with one ``{"event":"subscribe","arg":...}`` ack per arg and a text
    ``ping`` with ``pong``, as the venue does (bitget-v2-ws.txt).
    """
    import base64
    import hashlib

    if feed == "text" and text_venue() == "cryptocom":
        payloads = [zlib.decompress(f, 31) for f in gzip_frames()]  # text frames, same venue
    else:
        payloads = frames(feed)
    opcode = 0x2 if feed == "gzip" else 0x1
    wire = [encode_frame(p, opcode) for p in payloads]
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

        subscribed = asyncio.Event()

        async def drain_client() -> None:
            """Read client frames until the client's close frame (answered if asked)."""
            while True:
                head = await reader.readexactly(2)
                size = head[1] & 0x7F
                if size == 126:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                elif size == 127:
                    size = int.from_bytes(await reader.readexactly(8), "big")
                body = await reader.readexactly(size + (4 if head[1] & 0x80 else 0))
                if head[0] & 0x0F == 0x8:
                    return
                if wait_subscribe:
                    answer(unmask(body) if head[1] & 0x80 else body)
                    subscribed.set()

        def unmask(body: bytes) -> bytes:
            mask, data = body[:4], body[4:]
            return bytes(b ^ mask[i % 4] for i, b in enumerate(data))

        def answer(payload: bytes) -> None:
            if payload == b"ping":
                writer.write(encode_frame(b"pong", 0x1))
                return
            try:
                msg = orjson.loads(payload)
            except orjson.JSONDecodeError:
                return
            if isinstance(msg, dict) and msg.get("op") == "subscribe":
                for arg in msg.get("args") or []:
                    ack = orjson.dumps({"event": "subscribe", "arg": arg})
                    writer.write(encode_frame(ack, 0x1))

        client = asyncio.get_running_loop().create_task(drain_client())
        if wait_subscribe:
            await asyncio.wait_for(subscribed.wait(), 60)
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


def start_feeder(
    n: int, rate: float | None = None, feed: str = "gzip", wait_subscribe: bool = False
) -> tuple[mp.Process, str]:
    q: Any = mp.Queue()
    proc = mp.Process(target=bulk_feeder, args=(q, n, rate, feed, wait_subscribe), daemon=True)
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


async def picows_rate(url: str, n: int) -> float:
    from picows import WSListener, WSMsgType, ws_connect

    class Counter(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
                return
            frame.get_payload_as_bytes()  # what any client must do: copy the payload out
            self.count += 1

    start = time.perf_counter()
    transport, listener = await ws_connect(Counter, url)
    await transport.wait_disconnected()
    return listener.count / (time.perf_counter() - start)


def engine(url: str, n: int, feed: str, **options: Any) -> Any:
    from mdkit.engine.stream import Engine, Stream
    from mdkit.venues import get_venue

    venue = get_venue("cryptocom" if feed == "gzip" else text_venue())
    symbol = venue.example_symbols[0] if venue.example_symbols else "btcusdt"
    subs = tuple(venue.plan([symbol], ["book:15" if feed == "books15" else "trades"], {}))
    stream = Stream(venue, subs, {"public": url})
    options.setdefault("raw_limit", None)
    return Engine([stream], seconds=None, max_messages=n, **options)


async def mdkit_rate(url: str, n: int, feed: str) -> tuple[float, int]:
    eng = engine(url, n, feed)
    start = time.perf_counter()
    await eng.run()
    elapsed = time.perf_counter() - start
    return eng.data_total / elapsed, eng.data_total


def cpu_per_message(n: int, rate: float, feed: str, client: str) -> tuple[float, float]:
    proc, url = start_feeder(n, rate, feed)
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if client == "mdkit":
            eng = engine(url, n, feed)
            asyncio.run(eng.run())
            got = eng.data_total
        else:
            asyncio.run(picows_rate(url, n))
            got = n
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        proc.kill()
    return cpu / got * 1e6, got / wall


def bytes_per_row(n: int, raw_limit: int | None) -> tuple[float, float]:
    import picows  # noqa: F401  (a one-off import is not memory per row)

    proc, url = start_feeder(n, None, "gzip")
    try:
        eng = engine(url, n, "gzip", raw_limit=raw_limit)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(eng.run())
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
    finally:
        proc.kill()
    trades = eng.parts["cryptocom"].tables["trades"]
    return held / len(trades), trades.nbytes / len(trades)


def measure(n: int, rounds: int = 3, memory_rows: int = 100_000) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for feed in FEEDS:
        best: dict[str, float] = {"picows": 0.0, "websockets": 0.0, "mdkit": 0.0}
        for _ in range(rounds):  # interleaved, best of ``rounds`` each
            for name in best:
                proc, url = start_feeder(n, None, feed)
                try:
                    if name == "picows":
                        rate = asyncio.run(picows_rate(url, n))
                    elif name == "websockets":
                        rate = asyncio.run(raw_rate(url, n))
                    else:
                        rate = asyncio.run(mdkit_rate(url, n, feed))[0]
                finally:
                    proc.kill()
                best[name] = max(best[name], rate)
        m: dict[str, Any] = dict(best)
        m["ratio"] = m["mdkit"] / m["picows"]
        m["cpu_us"], m["paced_rate"] = cpu_per_message(min(n, 150_000), 50_000, feed, "mdkit")
        m["raw_cpu_us"], _ = cpu_per_message(min(n, 150_000), 50_000, feed, "picows")
        out[feed] = m
    out["memory_rows"] = memory_rows
    out["held_no_raw"], out["table_bytes"] = bytes_per_row(memory_rows, 0)
    out["held_with_raw"], _ = bytes_per_row(memory_rows, None)
    return out


def report(r: dict[str, Any], n: int, rounds: int = 3) -> str:
    t, g, b = r["text"], r["gzip"], r["books15"]

    def row(label: str, key: str, fmt: str, target: str = "—") -> str:
        return f"| {label} | {t[key]:{fmt}} | {g[key]:{fmt}} | {b[key]:{fmt}} | {target} |"

    return "\n".join(
        [
            "# Capture benchmark",
            "",
            f"Command: `python bench/bench_capture.py --messages {n}`",
            f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python "
            f"{platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}; "
            "bulk feeder in a separate process (pre-encoded frames, 500 per write; 50 per "
            f"write once a ms when paced), loopback, one trade per frame; text feed read by "
            f"the {text_venue()} session; best of {rounds} interleaved runs.",
            "",
            "| measure | text feed | gzip feed | books15 feed | target (text / gzip) |",
            "|---|---|---|---|---|",
            row("bare picows receive loop, msg/s", "picows", ",.0f"),
            row("bare websockets `async for` loop, msg/s", "websockets", ",.0f"),
            row("mdkit capture ingest, msg/s", "mdkit", ",.0f"),
            row("**ratio mdkit / bare picows**", "ratio", ".2f", "≥ 0.5 / ≥ 0.35"),
            row("mdkit rate when paced to 50k msg/s", "paced_rate", ",.0f"),
            row("**mdkit CPU per message at 50k msg/s**, µs", "cpu_us", ".2f", "≤ 2.0 / ≤ 3.0"),
            row("bare picows CPU per message at 50k msg/s, µs", "raw_cpu_us", ".2f"),
            "",
            f"| memory (tracemalloc, {r['memory_rows']:,} gzip trade frames) | figure | target |",
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
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.rounds = 2_000, 1
    result = measure(args.messages, args.rounds, 2_000 if args.quick else 100_000)
    text = report(result, args.messages, args.rounds)
    print(text)
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
