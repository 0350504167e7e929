"""cryptofeed's Bitget TRADES callback on a given WebSocket URL (runs in .venv-peers).

    .venv-peers/bin/python bench/peer_cryptofeed.py WS_URL N [--rest REST_URL] [--keep K]

cryptofeed 3.0.1 (the Bitget v2 feed) needs Python >= 3.13, so it runs in its own
venv (``make bench-peers-env``) as a separate process; this script is its whole
client. Stock ``cryptofeed.exchanges.Bitget`` with only its endpoints moved (and its
wss-only address check lifted, :func:`plain_ws`):
``websocket_endpoints`` at ``WS_URL`` and, with ``--rest``, ``rest_endpoints`` at the
sandbox's symbol lists (cryptofeed's own symbol loading); without ``--rest`` (the
bulk feeder serves no REST) the symbol table is preset with BTC-USDT only. The
handler runs as users run it (``FeedHandler.run()``, uvloop when installed, its
default) until ``N`` trades arrived. Prints one JSON line: ``count``, ``wall``
and ``cpu`` seconds from just before it connects to the N-th trade, and the first ``K`` trades
(``--keep``) as ``[id, ts_ms, side, price, amount]`` strings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any


def plain_ws() -> None:
    """Let cryptofeed dial ``ws://`` (loopback, no TLS, as every client in the bench).

    ``WSAsyncConn`` refuses any address but ``wss://``; this subclass passes the
    check and then connects to the address as given. Nothing else changes.
    """
    from cryptofeed import feed
    from cryptofeed.connection import WSAsyncConn

    class PlainWSAsyncConn(WSAsyncConn):  # type: ignore[misc]
        def __init__(self, address: str, conn_id: str, subscription: Any = None, **kw: Any):
            super().__init__("wss://" + address.split("://", 1)[1], conn_id, subscription, **kw)
            self.address = address

    feed.WSAsyncConn = PlainWSAsyncConn


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("n", type=int)
    parser.add_argument("--rest", default=None)
    parser.add_argument("--keep", type=int, default=0)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="cryptofeed-")
    os.environ["XDG_CACHE_HOME"] = tmp  # its symbol cache must not outlive this run

    from cryptofeed import FeedHandler
    from cryptofeed.connection import RestEndpoint, Routes, WebsocketEndpoint
    from cryptofeed.defines import PERPETUAL, SPOT, TRADES
    from cryptofeed.exchanges import Bitget
    from cryptofeed.symbols import Symbols

    plain_ws()
    Bitget.websocket_endpoints = [WebsocketEndpoint(args.url)]
    if args.rest:
        contracts = [f"/api/v2/mix/market/contracts?productType={p}"
                     for p in ("USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")]  # fmt: skip
        Bitget.rest_endpoints = [
            RestEndpoint(args.rest, instrument_filter=("TYPE", (SPOT,)),
                         routes=Routes("/api/v2/spot/public/symbols")),
            RestEndpoint(args.rest, instrument_filter=("TYPE", (PERPETUAL,)),
                         routes=Routes(contracts)),
        ]  # fmt: skip
    else:
        Symbols.set(
            Bitget.id, {"BTC-USDT": "BTCUSDT_SPOT"}, {"instrument_type": {"BTC-USDT": SPOT}}
        )

    state: dict[str, Any] = {"count": 0, "kept": []}
    handler = FeedHandler(config={"uvloop": True, "log": {"filename": os.path.join(tmp, "fh.log"),
                                                          "level": "WARNING"}})  # fmt: skip

    async def on_trade(trade: Any, receipt: float) -> None:
        state["count"] += 1
        if len(state["kept"]) < args.keep:
            state["kept"].append([str(trade.id), str(round(trade.timestamp * 1000)), trade.side,
                                  str(trade.price), str(trade.amount)])  # fmt: skip
        if state["count"] >= args.n:
            state["t1"], state["c1"] = time.perf_counter(), time.process_time()
            handler.request_stop()

    handler.add_feed(Bitget(symbols=["BTC-USDT"], channels=[TRADES], callbacks={TRADES: on_trade}))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    handler.run(install_signal_handlers=False)
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    out = {
        "count": state["count"],
        # from just before it connects to the N-th trade, as every client in the bench
        "wall": state.get("t1", end_wall) - start_wall,
        "cpu": state.get("c1", end_cpu) - start_cpu,
        "kept": state["kept"],
        "python": sys.version.split()[0],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
