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
- unknown events are echoed back; an unknown symbol is acked, gets an empty book on
  depth, then silence (NOTES.md).

It is a protocol class on the sandbox's :class:`~mdkit.sandbox.wshost.WsHost`
(``ws://host:port/cryptocom/kline-api/ws``), which owns the thread and loop, the send
queues and slow-consumer cut, and the shared faults (``drop``, ``close``, ``kick``,
``malformed`` — :meth:`CryptocomWsServer.malformed` —, ``silence``, ``gap``). Its HTTP
side (REST market data, the signed user API) is bound under ``/cryptocom`` on the
sandbox's HTTP host by :meth:`CryptocomWsServer.bind_http`.
"""

from __future__ import annotations

import asyncio
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from mdkit.sandbox.cryptocom import CryptocomRest
from mdkit.sandbox.cryptocom_account import CryptocomAccounts
from mdkit.sandbox.exchange import DEMO_API_KEY, DEMO_BALANCES, DEMO_SECRET_KEY
from mdkit.sandbox.http import HttpVenue
from mdkit.sandbox.market import Market
from mdkit.sandbox.wshost import SHARED_FAULTS, Conn, VenueServer

__all__ = ["CryptocomWsServer", "WS_FAULT_KINDS", "PERIODS", "PATH"]

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
#: The WebSocket faults (all shared ones: the venue has no kind of its own).
WS_FAULT_KINDS = SHARED_FAULTS
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
class _State:
    """Per connection: subscriptions and the pings not answered yet."""

    subs: dict[str, _Sub] = field(default_factory=dict)
    outstanding: list[Any] = field(default_factory=list)


class CryptocomWsServer(VenueServer):
    """The Crypto.com v1 sandbox server: WebSocket protocol, plus its REST and user API.

    Parameters
    ----------
    market : Market
        The shared synthetic market.
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

    Attributes
    ----------
    rest : CryptocomRest
        The REST market API (once bound to the HTTP host).
    accounts : CryptocomAccounts
        The signed user API; a demo account (``DEMO_API_KEY``/``DEMO_SECRET_KEY``,
        fake) is funded with ``DEMO_BALANCES``.
    """

    key = "cryptocom"
    paths = (PATH,)
    ws_env = {"WS_URL": PATH}
    credentials = {"API_KEY": DEMO_API_KEY, "SECRET_KEY": DEMO_SECRET_KEY}

    def __init__(
        self,
        market: Market,
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
    ) -> None:
        if depth_mode not in ("full", "incremental"):
            raise ValueError("depth_mode must be 'full' or 'incremental'")
        if ping_unit not in ("ms", "s"):
            raise ValueError("ping_unit must be 'ms' or 's'")
        super().__init__(market)
        self.ack = ack
        self.depth_mode = depth_mode
        self.ping_interval = ping_interval
        self.ping_unit = ping_unit
        self.max_unanswered = max_unanswered
        self.rate = rate
        self.book_interval = book_interval
        self.strings = strings
        self.text = text
        #: Client messages received (decoded), for tests.
        self.received: list[Any] = []
        #: Pong values received that matched an outstanding ping.
        self.pongs: list[Any] = []
        self.rest: CryptocomRest | None = None
        self.accounts: CryptocomAccounts | None = None
        self._malformed = 0

    def bind_http(self, http: HttpVenue) -> None:
        """Serve the REST market API and the signed user API under ``/cryptocom``."""
        super().bind_http(http)
        self.rest = CryptocomRest(self.market, http)
        self.accounts = CryptocomAccounts(self.market, http)
        self.accounts.create(DEMO_BALANCES, api_key=DEMO_API_KEY, secret=DEMO_SECRET_KEY)

    def malformed(self) -> bytes:
        """A gzip frame whose JSON is cut short, then bytes that are not gzip at all."""
        self._malformed += 1
        if self._malformed % 2:
            broken = b'{"channel":"market_btcusdt_trade_ticker","tick":{"data":[{'
            return zlib.compress(broken, 1, wbits=31)
        return b"\x00\xffjunk"

    # -- connection -----------------------------------------------------------------------
    async def serve(self, conn: Conn) -> None:
        """One client: pushes and pings beside, requests answered as they come."""
        state = _State()
        conn.state["cryptocom"] = state
        conn.spawn(self._pusher(conn, state))
        conn.spawn(self._pinger(conn, state))
        async for message in conn:
            self._on_message(conn, state, message)

    def _send(self, conn: Conn, obj: Any, *, push: bool = False) -> None:
        data = orjson.dumps(obj)
        conn.send(data.decode() if self.text else zlib.compress(data, 1, wbits=31), push=push)

    def _ms(self) -> int:
        return int(self.market.now() * 1000)

    async def _pinger(self, conn: Conn, state: _State) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if len(state.outstanding) >= self.max_unanswered:
                conn.end_reason = "no pong"
                conn.close(1008, "pong timeout")
                return
            value = self._ms() if self.ping_unit == "ms" else int(self.market.now())
            state.outstanding.append(value)
            self._send(conn, {"ping": value})

    def _on_message(self, conn: Conn, state: _State, message: str | bytes) -> None:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            return
        self.received.append(msg)
        if not isinstance(msg, dict):
            return
        if "pong" in msg:
            if msg["pong"] in state.outstanding:
                state.outstanding.clear()
                self.pongs.append(msg["pong"])
            return
        event = msg.get("event")
        given = msg.get("params")
        params: dict[str, Any] = given if isinstance(given, dict) else {}
        channel = str(params.get("channel", ""))
        if event == "sub":
            self._subscribe(conn, state, channel, params)
        elif event == "unsub":
            state.subs.pop(channel, None)
            if self.ack:
                self._send(
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
            self._request(conn, channel, params)
        else:
            self._send(conn, msg)  # unknown events are echoed (NOTES.md)

    def _subscribe(self, conn: Conn, state: _State, channel: str, params: dict[str, Any]) -> None:
        match = _CHANNEL.match(channel)
        if match is None or (match[3] and match[3] not in PERIODS):
            self._send(
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
            self._send(conn, ack)
        if symbol not in self.market.instruments:
            if what.startswith("depth"):
                self._send(conn, self._push(channel, {"asks": [], "buys": []}))
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
            self._send(conn, self._push(channel, self._full_book(sub)))
        state.subs[channel] = sub

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

    async def _pusher(self, conn: Conn, state: _State) -> None:
        step = 0.1 / self.rate
        while True:
            await asyncio.sleep(step)
            mono = time.monotonic()
            for sub in list(state.subs.values()):
                if sub.kind == "trades":
                    now_ms = self._ms()
                    items = self._trade_items(sub.symbol, sub.last_ms, now_ms + 1)
                    sub.last_ms = now_ms + 1
                    if items:
                        tick = {"id": items[0]["id"], "ts": items[0]["ts"], "data": items}
                        self._send(conn, self._push(sub.channel, tick), push=True)
                elif sub.kind == "ticker" and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    self._send(
                        conn, self._push(sub.channel, self._ticker_tick(sub.symbol)), push=True
                    )
                elif sub.kind == "kline" and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    self._push_bar(conn, sub)
                elif sub.kind == "depth" and mono - sub.last_push >= self.book_interval / self.rate:
                    sub.last_push = mono
                    if self.depth_mode == "full":
                        tick = self._full_book(sub)
                        self._send(conn, self._push(sub.channel, tick), push=True)
                    else:
                        self._push_increments(conn, sub)

    def _push_bar(self, conn: Conn, sub: _Sub) -> None:
        now = self.market.now()
        current = int(now // sub.width * sub.width)
        start = current if sub.bar_open < 0 or sub.bar_open == current else sub.bar_open
        rows = self.market.klines(sub.symbol, sub.width, start, current + sub.width)
        sub.bar_open = current
        for row in rows:  # on a rollover: the finished bar once more, then the new one
            if row[1] == row[1]:  # not NaN
                self._send(conn, self._push(sub.channel, self._bar(sub.symbol, row)), push=True)

    def _push_increments(self, conn: Conn, sub: _Sub) -> None:
        before = sub.book
        bids, asks = self._levels(sub)
        after = {("buys", p): a for p, a in bids} | {("asks", p): a for p, a in asks}
        sub.book = after
        changes = [(k, v) for k, v in after.items() if before.get(k) != v]
        changes += [(k, 0.0) for k in before if k not in after]
        for (side, price), volume in changes:
            tick = {"side": side, "price": price, "volume": volume}
            self._send(conn, self._push(sub.channel, tick), push=True)

    # -- requests -------------------------------------------------------------------------
    def _request(self, conn: Conn, channel: str, params: dict[str, Any]) -> None:
        base = {
            "event_rep": "rep",
            "channel": channel,
            "cb_id": params.get("cb_id"),
            "ts": self._ms(),
            "status": "ok",
        }
        if channel == "review":
            data = {s: self._ticker_tick(s, as_strings=True) for s in self.market.instruments}
            self._send(conn, {**base, "data": data})
            return
        match = _CHANNEL.match(channel)
        if match is None or match[1] not in self.market.instruments:
            self._send(conn, {**base, "status": "error", "data": None})
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
            self._send(conn, {**base, "top": top, "data": items})
        elif what.startswith("kline") and match[3] in PERIODS:
            self._send(conn, {**base, **self._history(symbol, PERIODS[match[3]], params)})
        else:
            self._send(conn, {**base, "status": "error", "data": None})

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
