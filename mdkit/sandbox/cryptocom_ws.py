"""Crypto.com Exchange v1 WebSocket server (ChainUP kline-api), served from the synthetic market.

Written from ``cryptocom-v1-rest-ws.md`` ("WebSocket API") and NOTES.md, independently
of the client (it imports no ``mdkit.venues``/``stream``/``capture`` code):

- every server frame is **binary gzip**, pings included (``text=True`` for the
  family's text-frame servers);
- ``sub``/``unsub`` acked with ``{"event_rep":"subed",...,"status":"ok"}``, or no ack
  and ``"event_rep":""`` on pushes (``ack=False``, as some live servers);
- pushes: ``trade_ticker`` (the new trades of each elapsed interval in ``tick.data``),
  ``ticker`` (numbers), ``kline_<period>`` (the forming bar, ``tick.id`` in seconds),
  ``depth_step0/1/2``: a full book on subscribe and then either full books every
  ``book_interval`` s (``depth_mode="full"``, as the live servers) or one message per
  changed level (``depth_mode="incremental"``, volume 0 deletes);
- ``req``: kline history (``since``/``endIdx``/``pageSize`` ≤ 300), trades (``top`` ≤ 200),
  ``review`` (every market, values as strings);
- keepalive: ``{"ping": <ms>}`` every ``ping_interval`` s (``ping_unit="s"`` for 10-digit
  seconds); a client that leaves ``max_unanswered`` pings unanswered is dropped; a pong
  must echo the ping's value;
- a client whose send buffer exceeds ``max_buffer`` bytes is dropped (slow consumer);
- unknown events are echoed back; an unknown symbol is acked, gets an empty book on
  depth, then silence (NOTES.md).

Faults on request (:meth:`CryptocomWsServer.inject`): ``drop`` (abort the TCP
connection), ``close`` (clean close 1000), ``malformed`` (a broken frame),
``silence`` (send nothing, pings included, for ``seconds``), ``gap`` (skip the next
``count`` pushes).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from mdkit.sandbox.market import Market

__all__ = ["CryptocomWsServer", "WS_FAULT_KINDS", "PERIODS"]

log = logging.getLogger("mdkit.sandbox.cryptocom_ws")

#: Kline channel tokens and their length in seconds (doc "Subscribe to new k-line data").
PERIODS = {
    "1min": 60,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "60min": 3600,
    "1day": 86400,
    "1week": 604800,
    "1month": 2592000,
}
WS_FAULT_KINDS = ("drop", "close", "malformed", "silence", "gap")
PATH = "/kline-api/ws"
_CHANNEL = re.compile(
    r"^market_([a-z0-9]+)_(ticker|trade_ticker|kline_([0-9a-z]+)|depth_step([0-2]))$"
)
_MERGE = {0: 1, 1: 10, 2: 100}


@dataclass
class _Sub:
    kind: str
    symbol: str
    channel: str
    width: int = 0
    step: int = 0
    levels: int = 150
    last_ms: int = 0
    last_push: float = 0.0
    bar_open: int = -1
    book: dict[tuple[str, float], float] = field(default_factory=dict)


@dataclass(eq=False)
class _Conn:
    ws: Any
    subs: dict[str, _Sub] = field(default_factory=dict)
    outstanding: list[Any] = field(default_factory=list)
    silent_until: float = 0.0
    skip: int = 0


class CryptocomWsServer:
    """The Crypto.com v1 WebSocket sandbox server (own thread and loop, port 0 by default).

    Parameters
    ----------
    market : Market
        The shared synthetic market.
    host : str
    port : int
        0 picks a free port.
    ack : bool
        Acknowledge subscriptions (``event_rep:"subed"``); False = ack-less server
        whose pushes carry ``"event_rep":""``.
    depth_mode : {"full", "incremental"}
        Book pushes after the first full book.
    ping_interval : float
        Seconds between server pings.
    ping_unit : {"ms", "s"}
        Ping value: 13-digit ms (doc) or 10-digit seconds (later servers).
    max_unanswered : int
        Unanswered pings before the client is dropped.
    rate : float
        Push speed multiplier: ticker and kline pushes every ``1/rate`` s, books every
        ``book_interval/rate`` s, trades batched every ``0.1/rate`` s.
    book_interval : float
        Seconds between book pushes at ``rate=1`` (the live servers: ~0.5 s).
    strings : bool
        Numbers as strings and UPPERCASE sides in pushes (as some family servers).
    text : bool
        Send text frames instead of gzip binary frames.
    max_buffer : int
        Send-buffer bytes beyond which a client is dropped as a slow consumer.
    """

    def __init__(
        self,
        market: Market,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ack: bool = True,
        depth_mode: str = "full",
        ping_interval: float = 5.0,
        ping_unit: str = "ms",
        max_unanswered: int = 3,
        rate: float = 1.0,
        book_interval: float = 0.5,
        strings: bool = False,
        text: bool = False,
        max_buffer: int = 4 * 2**20,
    ) -> None:
        if depth_mode not in ("full", "incremental"):
            raise ValueError("depth_mode must be 'full' or 'incremental'")
        if ping_unit not in ("ms", "s"):
            raise ValueError("ping_unit must be 'ms' or 's'")
        self.market = market
        self.host = host
        self.port = port
        self.ack = ack
        self.depth_mode = depth_mode
        self.ping_interval = ping_interval
        self.ping_unit = ping_unit
        self.max_unanswered = max_unanswered
        self.rate = rate
        self.book_interval = book_interval
        self.strings = strings
        self.text = text
        self.max_buffer = max_buffer
        #: Client messages received (decoded), for tests.
        self.received: list[Any] = []
        #: Pong values received that matched an outstanding ping.
        self.pongs: list[Any] = []
        #: Connections accepted so far, and how each one ended.
        self.connections = 0
        self.closed: list[str] = []
        self._conns: set[_Conn] = set()
        self._pending: list[tuple[str, float, int]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self._stopped: asyncio.Event | None = None

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``ws://host:port/kline-api/ws``."""
        return f"ws://{self.host}:{self.port}{PATH}"

    def start(self) -> CryptocomWsServer:
        """Start serving in a daemon thread (returns self once listening)."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._main(ready))
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="sandbox-cryptocom-ws", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    async def _main(self, ready: threading.Event) -> None:
        from websockets.asyncio.server import serve

        self._stopped = asyncio.Event()
        async with serve(
            self._handler,
            self.host,
            self.port,
            compression=None,
            ping_interval=None,
            max_size=2**20,
        ) as server:
            self._server = server
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopped.wait()

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._loop is not None and self._stopped is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
            self._thread.join(10)
        self._thread = None

    # -- faults ---------------------------------------------------------------------------
    def inject(self, kind: str, *, seconds: float = 2.0, count: int = 1) -> None:
        """Inject a fault into every open connection (or the next one if none is open).

        Parameters
        ----------
        kind : {"drop", "close", "malformed", "silence", "gap"}
        seconds : float
            Length of a ``silence``.
        count : int
            Broken frames for ``malformed``; pushes skipped for ``gap``.

        Raises
        ------
        ValueError
            For an unknown kind.
        """
        if kind not in WS_FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; valid: {', '.join(WS_FAULT_KINDS)}")
        if self._loop is None:
            raise RuntimeError("the server is not running")
        self._loop.call_soon_threadsafe(self._inject, kind, seconds, count)

    def _inject(self, kind: str, seconds: float, count: int) -> None:
        if not self._conns:
            self._pending.append((kind, seconds, count))
            return
        for conn in list(self._conns):
            self._apply(conn, kind, seconds, count)

    def _apply(self, conn: _Conn, kind: str, seconds: float, count: int) -> None:
        if kind == "drop":
            conn.ws.transport.abort()
        elif kind == "close":
            asyncio.ensure_future(conn.ws.close(1000, "bye"))
        elif kind == "silence":
            conn.silent_until = time.monotonic() + seconds
        elif kind == "gap":
            conn.skip += count
        elif kind == "malformed":
            for i in range(count):
                # A gzip frame whose JSON is cut short, then bytes that are not gzip at all.
                broken = b'{"channel":"market_btcusdt_trade_ticker","tick":{"data":[{'
                frame = zlib.compress(broken, 1, wbits=31) if i % 2 == 0 else b"\x00\xffjunk"
                asyncio.ensure_future(conn.ws.send(frame))

    # -- connection -----------------------------------------------------------------------
    async def _handler(self, ws: Any) -> None:
        conn = _Conn(ws)
        self.connections += 1
        self._conns.add(conn)
        for fault in self._pending:
            self._apply(conn, *fault)
        self._pending.clear()
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._pusher(conn)), loop.create_task(self._pinger(conn))]
        try:
            async for message in ws:
                await self._on_message(conn, message)
            self.closed.append("client closed")
        except Exception as exc:  # a dropped client is routine here
            self.closed.append(f"{type(exc).__name__}")
        finally:
            for task in tasks:
                task.cancel()
            self._conns.discard(conn)

    async def _send(self, conn: _Conn, obj: Any, *, push: bool = False) -> None:
        if conn.silent_until and time.monotonic() < conn.silent_until:
            return
        if push and conn.skip:
            conn.skip -= 1
            return
        transport = conn.ws.transport
        if transport is not None and transport.get_write_buffer_size() > self.max_buffer:
            self.closed.append("slow consumer")
            await conn.ws.close(1008, "slow consumer")
            return
        data = orjson.dumps(obj)
        await conn.ws.send(data.decode() if self.text else zlib.compress(data, 1, wbits=31))

    def _ms(self) -> int:
        return int(self.market.now() * 1000)

    async def _pinger(self, conn: _Conn) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if len(conn.outstanding) >= self.max_unanswered:
                self.closed.append("no pong")
                await conn.ws.close(1008, "pong timeout")
                return
            value = self._ms() if self.ping_unit == "ms" else int(self.market.now())
            conn.outstanding.append(value)
            await self._send(conn, {"ping": value})

    async def _on_message(self, conn: _Conn, message: str | bytes) -> None:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            return
        self.received.append(msg)
        if not isinstance(msg, dict):
            return
        if "pong" in msg:
            if msg["pong"] in conn.outstanding:
                conn.outstanding.clear()
                self.pongs.append(msg["pong"])
            return
        event = msg.get("event")
        given = msg.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        channel = str(params.get("channel", ""))
        if event == "sub":
            await self._subscribe(conn, channel, params)
        elif event == "unsub":
            conn.subs.pop(channel, None)
            if self.ack:
                await self._send(
                    conn,
                    {
                        "event_rep": "unsubed",
                        "channel": channel,
                        "cb_id": params.get("cb_id"),
                        "ts": self._ms(),
                        "status": "ok",
                    },
                )
        elif event == "req":
            await self._request(conn, channel, params)
        else:
            await self._send(conn, msg)  # unknown events are echoed (NOTES.md)

    async def _subscribe(self, conn: _Conn, channel: str, params: dict[str, Any]) -> None:
        match = _CHANNEL.match(channel)
        if match is None or (match[3] and match[3] not in PERIODS):
            await self._send(
                conn,
                {
                    "event_rep": "subed",
                    "channel": channel,
                    "cb_id": params.get("cb_id"),
                    "ts": self._ms(),
                    "status": "error",
                    "msg": "channel illegal",
                },
            )
            return
        symbol, what = match[1], match[2]
        if self.ack:
            ack = {
                "event_rep": "subed",
                "channel": channel,
                "cb_id": params.get("cb_id"),
                "ts": self._ms(),
                "status": "ok",
            }
            if what.startswith("depth"):
                ack["asks"] = params.get("asks", 150)
                ack["bids"] = params.get("bids", params.get("buys", 150))
            await self._send(conn, ack)
        if symbol not in self.market.instruments:
            if what.startswith("depth"):
                await self._send(conn, self._push(channel, {"asks": [], "buys": []}))
            return  # then silence (NOTES.md)
        now_ms = self._ms()
        if what == "trade_ticker":
            sub = _Sub("trades", symbol, channel, last_ms=now_ms)
        elif what == "ticker":
            sub = _Sub("ticker", symbol, channel)
        elif what.startswith("kline"):
            sub = _Sub("kline", symbol, channel, width=PERIODS[match[3]])
        else:
            levels = int(params.get("asks", 150) or 150)
            sub = _Sub("depth", symbol, channel, step=int(match[4]), levels=max(1, levels))
            await self._send(conn, self._push(channel, self._full_book(sub)))
        conn.subs[channel] = sub

    # -- pushes ---------------------------------------------------------------------------
    def _push(self, channel: str, tick: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": channel, "ts": self._ms(), "tick": tick}
        if not self.ack:
            out = {
                "event_rep": "",
                "channel": channel,
                "data": None,
                "tick": tick,
                "ts": out["ts"],
                "status": "ok",
            }
        return out

    def _num(self, value: float, decimals: int) -> Any:
        rounded = round(float(value), decimals)
        return repr(rounded) if self.strings else rounded

    def _trade_items(
        self, symbol: str, start_ms: int, end_ms: int, top: int | None = None
    ) -> list[dict[str, Any]]:
        inst = self.market.instrument(symbol)
        tr = self.market.trades(symbol, start_ms, end_ms)
        idx = range(len(tr) - 1, -1, -1)  # newest first, as in the doc
        if top is not None:
            idx = range(len(tr) - 1, max(len(tr) - top, 0) - 1, -1)
        buy, sell = ("BUY", "SELL") if self.strings else ("buy", "sell")
        pp, ap = inst.price_precision, inst.amount_precision
        return [
            {
                "id": int(tr.id[i]),
                "side": buy if tr.is_buy[i] else sell,
                "price": self._num(tr.price[i], pp),
                "vol": self._num(tr.amount[i], ap),
                "amount": self._num(tr.price[i] * tr.amount[i], 8),
                "ts": int(tr.time_ms[i]),
                "ds": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(tr.time_ms[i] / 1000)),
            }
            for i in idx
        ]

    def _ticker_tick(self, symbol: str, as_strings: bool = False) -> dict[str, Any]:
        stats = self.market.ticker(symbol)
        pp = self.market.instrument(symbol).price_precision
        values = {
            "amount": round(stats["quote_volume"], 8),
            "vol": round(stats["volume"], 8),
            "open": round(stats["open"], pp),
            "close": round(stats["last"], pp),
            "high": round(stats["high"], pp),
            "low": round(stats["low"], pp),
            "rose": round(stats["change"], 8),
        }
        if as_strings or self.strings:
            return {k: repr(v) for k, v in values.items()}
        return {
            "id": int(stats["time_ms"] // 1000),
            **values,
            "ts": int(stats["time_ms"]),
            "lower_frame": "0",
        }

    def _bar(self, symbol: str, row: Any) -> dict[str, Any]:
        pp = self.market.instrument(symbol).price_precision
        return {
            "id": int(row[0]),
            "amount": round(float(row[6]), 8),
            "vol": round(float(row[5]), 8),
            "open": round(float(row[1]), pp),
            "close": round(float(row[4]), pp),
            "high": round(float(row[2]), pp),
            "low": round(float(row[3]), pp),
        }

    def _levels(self, sub: _Sub) -> tuple[list[list[float]], list[list[float]]]:
        inst = self.market.instrument(sub.symbol)
        book = self.market.book(sub.symbol)
        width = inst.tick * _MERGE[sub.step]
        out = []
        for levels, down in ((book.bids, True), (book.asks, False)):
            merged: dict[float, float] = {}
            for price, amount in levels.tolist():
                key = (
                    price
                    if sub.step == 0
                    else ((price // width) * width if down else -((-price) // width) * width)
                )
                key = round(key, inst.price_precision)
                merged[key] = merged.get(key, 0.0) + amount
            pairs = sorted(merged.items(), reverse=down)[: sub.levels]
            out.append([[p, round(a, inst.amount_precision)] for p, a in pairs])
        return out[0], out[1]

    def _full_book(self, sub: _Sub) -> dict[str, Any]:
        bids, asks = self._levels(sub)
        sub.book = {("buys", p): a for p, a in bids} | {("asks", p): a for p, a in asks}
        if self.strings:
            return {
                "asks": [[repr(p), repr(a)] for p, a in asks],
                "buys": [[repr(p), repr(a)] for p, a in bids],
            }
        return {"asks": asks, "buys": bids}

    async def _pusher(self, conn: _Conn) -> None:
        step = 0.1 / self.rate
        while True:
            await asyncio.sleep(step)
            mono = time.monotonic()
            for sub in list(conn.subs.values()):
                if sub.kind == "trades":
                    now_ms = self._ms()
                    items = self._trade_items(sub.symbol, sub.last_ms, now_ms + 1)
                    sub.last_ms = now_ms + 1
                    if items:
                        tick = {"id": items[0]["id"], "ts": items[0]["ts"], "data": items}
                        await self._send(conn, self._push(sub.channel, tick), push=True)
                elif sub.kind == "ticker" and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    await self._send(
                        conn, self._push(sub.channel, self._ticker_tick(sub.symbol)), push=True
                    )
                elif sub.kind == "kline" and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    await self._push_bar(conn, sub)
                elif sub.kind == "depth" and mono - sub.last_push >= self.book_interval / self.rate:
                    sub.last_push = mono
                    if self.depth_mode == "full":
                        tick = self._full_book(sub)
                        await self._send(conn, self._push(sub.channel, tick), push=True)
                    else:
                        await self._push_increments(conn, sub)

    async def _push_bar(self, conn: _Conn, sub: _Sub) -> None:
        now = self.market.now()
        current = int(now // sub.width * sub.width)
        start = current if sub.bar_open < 0 or sub.bar_open == current else sub.bar_open
        rows = self.market.klines(sub.symbol, sub.width, start, current + sub.width)
        sub.bar_open = current
        for row in rows:  # on a rollover: the finished bar once more, then the new one
            if row[1] == row[1]:  # not NaN
                await self._send(
                    conn, self._push(sub.channel, self._bar(sub.symbol, row)), push=True
                )

    async def _push_increments(self, conn: _Conn, sub: _Sub) -> None:
        before = sub.book
        bids, asks = self._levels(sub)
        after = {("buys", p): a for p, a in bids} | {("asks", p): a for p, a in asks}
        sub.book = after
        changes = [(k, v) for k, v in after.items() if before.get(k) != v]
        changes += [(k, 0.0) for k in before if k not in after]
        for (side, price), volume in changes:
            tick = {"side": side, "price": price, "volume": volume}
            await self._send(conn, self._push(sub.channel, tick), push=True)

    # -- requests -------------------------------------------------------------------------
    async def _request(self, conn: _Conn, channel: str, params: dict[str, Any]) -> None:
        base = {
            "event_rep": "rep",
            "channel": channel,
            "cb_id": params.get("cb_id"),
            "ts": self._ms(),
            "status": "ok",
        }
        if channel == "review":
            data = {s: self._ticker_tick(s, as_strings=True) for s in self.market.instruments}
            await self._send(conn, {**base, "data": data})
            return
        match = _CHANNEL.match(channel)
        if match is None or match[1] not in self.market.instruments:
            await self._send(conn, {**base, "status": "error", "data": None})
            return
        symbol, what = match[1], match[2]
        if what == "trade_ticker":
            top = max(1, min(int(params.get("top", 200) or 200), 200))
            now_ms = self._ms()
            items: list[dict[str, Any]] = []
            span = 60_000
            while len(items) < top and span < 86_400_000 * 8:
                items = self._trade_items(symbol, now_ms - span, now_ms + 1, top)
                span *= 4
            await self._send(conn, {**base, "top": top, "data": items})
        elif what.startswith("kline") and match[3] in PERIODS:
            await self._send(conn, {**base, **self._history(symbol, PERIODS[match[3]], params)})
        else:
            await self._send(conn, {**base, "status": "error", "data": None})

    def _history(self, symbol: str, width: int, params: dict[str, Any]) -> dict[str, Any]:
        page = max(1, min(int(params.get("pageSize", 300) or 300), 300))
        now = int(self.market.now())
        since = params.get("since")
        end_idx = params.get("endIdx")
        if since not in (None, ""):
            start = int(since)
            start = -(-start // width) * width  # the first bar opening at or after `since`
            stop = start + page * width
            if end_idx not in (None, ""):
                stop = min(stop, int(end_idx) + 1)
        else:
            last = int(end_idx) if end_idx not in (None, "") else now
            stop = last - last % width + width
            start = stop - page * width
        rows = self.market.klines(symbol, width, start, min(stop, now + 1))
        data = [self._bar(symbol, r) for r in rows if r[1] == r[1] and r[0] < stop]
        out: dict[str, Any] = {"data": data}
        if since not in (None, ""):
            out["since"] = str(since)
        return out
