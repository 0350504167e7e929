"""mdkit against its peers on one bulk Bitget v2 trade feed, one process per client.

    python bench/bench_peers.py [--messages 200000] [--paced 100000] [--rounds 2]
                                [--feed text|books15] [--quick]
    make bench-peers          # sets up the peers first (ccxt in the `bench` extra;
                              # cryptofeed 3.0.1 in .venv-peers, Python >= 3.13)

The feeder is bench_capture.py's (pre-encoded ~220-byte Bitget v2 trade frames, 500
per ``transport.write``; 50 per ms when paced to 50k msg/s), here started with
``wait_subscribe``: it pushes after the client's first frame and answers Bitget's
subscribe (one ack per arg) and text ``ping``, as the venue does. Clients, each in a
fresh process of its own, all reading ``BTCUSDT`` SPOT ``trade``:

1. bare picows receive loop (a counting callback: the transport's ceiling);
2. bare websockets ``async for`` loop;
3. mdkit capture: ``Engine`` over a ``Stream`` of the Bitget session (bench_capture's
   ``engine()``): parse, columnar rows, raw store;
4. ccxt.pro ``bitget.watch_trades`` loop, markets preset with ``set_markets`` (its
   ``load_markets`` would go to the REST API), ``tradesLimit`` 10,000 so no trade is
   dropped from the count, ``ignoreDuplicates`` off (the feed's 1,000 frames repeat
   their trade ids);
5. cryptofeed 3.0.1 ``Bitget`` TRADES callback (bench/peer_cryptofeed.py, run by
   .venv-peers/bin/python; "not run" when that venv is missing).

Each client times itself from just before it connects to its N-th trade (or the
feeder's close): wall → msg/s, ``time.process_time()`` → CPU µs per message. Bulk:
``--rounds`` interleaved rounds, best msg/s kept (with that run's CPU). Paced: one run
each at 50k msg/s. ``--feed books15``: Bitget ``books15`` pushes instead (a full
15-level book per frame; ccxt.pro ``watch_order_book(limit=15)``, its handled pushes
counted; cryptofeed not run: its Bitget book reads the incremental ``books``).
Targets (DESIGN.md "Performance targets"): mdkit ≥ 3 × the faster peer's msg/s with
≤ 1/3 of its CPU per message; ≥ 0.5 × bare picows.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_capture import engine, start_feeder  # noqa: E402

CLIENTS = ("picows", "websockets", "mdkit", "ccxt.pro", "cryptofeed")
PEERS_PYTHON = ROOT / ".venv-peers" / "bin" / "python"
FEED = "text"  # bench_capture's feed name: "text" (trade) or "books15"; set by --feed
SUBSCRIBE = b'{"op":"subscribe","args":[{"instType":"SPOT","channel":"trade","instId":"BTCUSDT"}]}'


# -- clients (each runs in its own process: `bench_peers.py --client NAME URL N`) --------
async def picows_client(url: str, n: int) -> int:
    from picows import WSListener, WSMsgType, ws_connect

    class Counter(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_connected(self, transport: Any) -> None:
            transport.send(WSMsgType.TEXT, SUBSCRIBE)

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type is WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()
                return
            frame.get_payload_as_bytes()  # what any client must do: copy the payload out
            self.count += 1

    transport, listener = await ws_connect(Counter, url)
    await transport.wait_disconnected()
    return int(listener.count) - 1  # less the subscribe ack


async def websockets_client(url: str, n: int) -> int:
    from websockets.asyncio.client import connect

    count = 0
    async with connect(url, compression=None, max_size=2**24) as ws:
        await ws.send(SUBSCRIBE.decode())
        async for _ in ws:
            count += 1
    return count - 1  # less the subscribe ack


async def mdkit_client(url: str, n: int) -> int:
    eng = engine(url, n, FEED)
    await eng.run()
    return int(eng.data_total)


def ccxt_exchange(url: str) -> Any:
    import ccxt.pro as ccxtpro

    ex = ccxtpro.bitget({"enableRateLimit": False})
    ex.urls["api"]["ws"]["public"] = url
    ex.options["tradesLimit"] = 10_000
    ex.options["watchTrades"] = {"ignoreDuplicates": False}
    ex.set_markets([{"id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT",
                     "baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True,
                     "active": True, "precision": {"price": 0.01, "amount": 0.0001}}])  # fmt: skip
    return ex


async def ccxt_client(url: str, n: int) -> int:
    from ccxt.base.errors import NetworkError

    ex = ccxt_exchange(url)
    count = 0
    try:
        if FEED == "books15":
            # watch_order_book resolves with the latest book, not once per push: count
            # the pushes ccxt handles (its own handler, wrapped).
            handle = ex.handle_order_book

            def counted(client: Any, message: Any) -> Any:
                nonlocal count
                count += 1
                return handle(client, message)

            ex.handle_order_book = counted
            while count < n:
                await ex.watch_order_book("BTC/USDT", 15)
        else:
            while count < n:
                count += len(await ex.watch_trades("BTC/USDT"))
    except NetworkError:  # the feeder's close after N frames
        pass
    finally:
        await ex.close()
    return count


def run_client(name: str, url: str, n: int, feed: str) -> dict[str, Any]:
    """Time one client in this process, from just before it connects to its last trade."""
    run = {"picows": picows_client, "websockets": websockets_client, "mdkit": mdkit_client,
           "ccxt.pro": ccxt_client}[name]  # fmt: skip
    if name == "ccxt.pro":
        import ccxt.pro  # noqa: F401  (imports are start-up, not per message)
    if name == "mdkit":
        import mdkit.engine.stream  # noqa: F401
    global FEED
    FEED = feed
    wall, cpu = time.perf_counter(), time.process_time()
    count = asyncio.run(run(url, n))
    return {"count": count, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}


# -- driver ----------------------------------------------------------------------------
def measure_one(name: str, n: int, rate: float | None) -> dict[str, Any] | None:
    """Start a feeder and one client process; return its counts, or None if not run."""
    if name == "cryptofeed" and (not PEERS_PYTHON.exists() or FEED == "books15"):
        return None  # cryptofeed's Bitget L2 book reads the incremental `books` channel only
    proc, url = start_feeder(n, rate, FEED, wait_subscribe=True)
    try:
        if name == "cryptofeed":
            command = [str(PEERS_PYTHON), str(ROOT / "bench" / "peer_cryptofeed.py"), url, str(n)]
        else:
            command = [sys.executable, __file__, "--client", name, url, str(n), FEED]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    finally:
        proc.kill()
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["rate"] = out["count"] / out["wall"]
    out["cpu_us"] = out["cpu"] / max(out["count"], 1) * 1e6
    return out


def measure(n: int, paced: int, rounds: int) -> dict[str, Any]:
    bulk: dict[str, dict[str, Any] | None] = {name: None for name in CLIENTS}
    for _ in range(rounds):  # interleaved, best msg/s of each client kept
        for name in CLIENTS:
            got = measure_one(name, n, None)
            best = bulk[name]
            if got is not None and (best is None or got["rate"] > best["rate"]):
                bulk[name] = got
    pace = {name: measure_one(name, paced, 50_000) if paced else None for name in CLIENTS}
    return {"bulk": bulk, "paced": pace}


def fmt(run: dict[str, Any] | None, key: str, spec: str) -> str:
    return "not run" if run is None else f"{run[key]:{spec}}"


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    bulk, paced = r["bulk"], r["paced"]
    lines = [
        "## Peers — `python bench/bench_peers.py"
        f" --messages {args.messages} --paced {args.paced} --rounds {args.rounds}"
        f" --feed {args.feed}`",
        "",
        f"Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; Python "
        f"{platform.python_version()} (cryptofeed: its own 3.13 venv), {os.cpu_count()} cores, "
        f"{platform.machine()}. Same bulk Bitget v2 feed for every client ("
        + (
            "one trade per ~220-byte frame"
            if args.feed == "text"
            else "books15: a full 15-level book per ~800-byte frame"
        )
        + "), one process per client, loopback.",
        "",
        "| client | bulk msg/s | bulk CPU µs/msg | CPU µs/msg at 50k msg/s "
        "| rate reached when paced |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in CLIENTS:
        b, p = bulk[name], paced[name]
        lines.append(
            f"| {name} | {fmt(b, 'rate', ',.0f')} | {fmt(b, 'cpu_us', '.2f')} | "
            f"{fmt(p, 'cpu_us', '.2f')} | {fmt(p, 'rate', ',.0f')} |"
        )
    peers = [name for name in ("ccxt.pro", "cryptofeed") if bulk[name] is not None]
    if bulk["mdkit"] is not None and peers:
        top = max(peers, key=lambda name: bulk[name]["rate"])
        speed = bulk["mdkit"]["rate"] / bulk[top]["rate"]
        cpu_bulk = bulk["mdkit"]["cpu_us"] / bulk[top]["cpu_us"]
        cpu_paced = (
            paced["mdkit"]["cpu_us"] / paced[top]["cpu_us"]
            if paced["mdkit"] and paced[top]
            else float("nan")
        )
        ceiling = bulk["mdkit"]["rate"] / bulk["picows"]["rate"]
        lines += [
            "",
            f"Against the faster peer ({top}): msg/s **{speed:.1f}×** (target ≥ 3×); CPU per "
            f"message **{cpu_bulk:.2f}×** bulk, **{cpu_paced:.2f}×** at 50k msg/s "
            f"(target ≤ 0.33×). mdkit / bare picows: **{ceiling:.2f}** (target ≥ 0.5).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    global FEED
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        name, url, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(run_client(name, url, n, sys.argv[5])))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--paced", type=int, default=100_000, help="0: no paced run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--feed", choices=("text", "books15"), default="text")
    parser.add_argument("--write", default=None)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    FEED = args.feed
    if args.quick:
        args.messages, args.paced, args.rounds = 2_000, 0, 1  # paced: not run
    text = report(measure(args.messages, args.paced, args.rounds), args)
    print(text)
    if args.write:
        Path(args.write).write_text(text)


if __name__ == "__main__":
    main()
