"""Sandbox WebSocket host: host-thread CPU per pushed frame (``python bench/bench_wshost.py``).

A venue server pushes N 150-byte text frames with ``conn.send(..., push=True)`` (the
path every sandbox venue uses) to a bare websockets reader in another process. The
figure is the host thread's CPU time (``time.thread_time``) per frame, from the first
send until every frame was handed to the socket: the venue's own encoding is not in
it. DESIGN.md allows half a core for 5,000 trades/s per instrument live.
``--quick``: 2,000 frames once (checks the bench runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

from mdkit.sandbox.market import Market
from mdkit.sandbox.wshost import Conn, VenueServer, WsHost

N = 100_000
REPEATS = 3
FRAME = (
    '{"channel":"market_btcusdt_trade_ticker","ts":1700000000000,"tick":{"id":1,'
    '"side":"buy","price":65000.12,"vol":0.0123,"amount":799.5,"ts":1700000000000}}'
)
READER = """
import asyncio, sys
from websockets.asyncio.client import connect
async def go():
    async with connect(sys.argv[1], max_size=None) as ws:
        await ws.send("go")
        async for m in ws:
            if m == "done":
                break
asyncio.run(go())
"""


class Flood(VenueServer):
    key = "flood"
    paths = ("/ws",)

    def __init__(self, market: Market, **options: Any) -> None:
        super().__init__(market, **options)
        self.result: tuple[float, float] = (0.0, 0.0)

    async def serve(self, conn: Conn) -> None:
        async for _ in conn:
            wall, cpu = time.perf_counter(), time.thread_time()
            for i in range(N):
                conn.send(FRAME, push=True)
                if i % 50 == 49:  # a pusher yields now and then; stay under max_buffer
                    await asyncio.sleep(0)
                    while conn.queued > 1_000_000:
                        await asyncio.sleep(0.001)
            while conn.queued:
                await asyncio.sleep(0.001)
            self.result = (time.perf_counter() - wall, time.thread_time() - cpu)
            conn.send("done")


def main() -> None:
    global N, REPEATS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    if parser.parse_args().quick:
        N, REPEATS = 2_000, 1
    host = WsHost()
    server = Flood(Market(7))
    host.attach(server)
    host.start()
    runs = []
    try:
        for _ in range(REPEATS):
            subprocess.run([sys.executable, "-c", READER, server.url()], check=True)
            runs.append(server.result)
    finally:
        host.stop()
    cpu = sorted(c / N * 1e6 for _, c in runs)
    rate = sorted((N / w for w, _ in runs), reverse=True)
    print(
        f"{N:,} frames x {REPEATS}: host CPU per frame best {cpu[0]:.2f} µs, "
        f"median {statistics.median(cpu):.2f} µs; "
        f"throughput best {rate[0]:,.0f} frames/s, median {statistics.median(rate):,.0f}"
    )
    print(f"5,000 frames/s would use {5000 * statistics.median(cpu) / 1e6:.1%} of a core")


if __name__ == "__main__":
    main()
