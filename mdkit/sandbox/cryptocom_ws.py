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
from mdkit.sandbox.wire import plain, trimmed
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
    book: dict[tuple[str, int], int] = field(default_factory=dict)


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
        #: Crypto.com's own view of the market (its symbols, spread, depth, lag).
        self.view = market.venue(self.key)
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
        self.rest = CryptocomRest(self.view, http)
        self.accounts = CryptocomAccounts(self.view, http)
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
        return int(self.view.now() * 1000)

    async def _pinger(self, conn: Conn, state: _State) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            if len(state.outstanding) >= self.max_unanswered:
                conn.end_reason = "no pong"
                conn.close(1008, "pong timeout")
                return
            value = self._ms() if self.ping_unit == "ms" else int(self.view.now())
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
        if symbol not in self.view.instruments:
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

    def _num(self, text: str) -> Any:
        """An exact decimal: a string in ``strings`` mode, else a bare JSON number."""
        return text if self.strings else orjson.Fragment(text)

    def _trade_items(
        self, symbol: str, start_ms: int, end_ms: int, top: int | None = None
    ) -> list[dict[str, Any]]:
        inst = self.view.instrument(symbol)
        tr = self.view.trades(symbol, start_ms, end_ms)
        idx = range(len(tr) - 1, -1, -1)  # newest first, as in the doc
        if top is not None:
            idx = range(len(tr) - 1, max(len(tr) - top, 0) - 1, -1)
        buy, sell = ("BUY", "SELL") if self.strings else ("buy", "sell")
        pp, ap = inst.price_precision, inst.amount_precision
        ticks, lots = tr.price_ticks.tolist(), tr.amount_lots.tolist()
        num = self._num
        # Exact decimals from integer ticks/lots (issue 10), trailing zeros trimmed as
        # the live ChainUP sockets print them (samples: ``86522.1``).
        return [
            {
                "id": int(tr.id[i]),
                "side": buy if tr.is_buy[i] else sell,
                "price": num(trimmed(ticks[i], pp)),
                "vol": num(trimmed(lots[i], ap)),
                "amount": num(trimmed(ticks[i] * lots[i], pp + ap)),
                "ts": int(tr.time_ms[i]),
                "ds": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(tr.time_ms[i] / 1000)),
            }
            for i in idx
        ]

    def _ticker_tick(self, symbol: str, as_strings: bool = False) -> dict[str, Any]:
        stats = self.view.ticker(symbol)
        inst = self.view.instrument(symbol)
        pp, ap = inst.price_precision, inst.amount_precision
        texts = {
            "amount": str(plain(stats["quote_volume"], pp + ap)),
            "vol": str(plain(stats["volume"], ap)),
            "open": str(plain(stats["open"], pp)),
            "close": str(plain(stats["last"], pp)),
            "high": str(plain(stats["high"], pp)),
            "low": str(plain(stats["low"], pp)),
            "rose": str(plain(stats["change"], 8)),
        }
        if as_strings or self.strings:
            return texts
        return {
            "id": int(stats["time_ms"] // 1000),
            **{k: orjson.Fragment(v) for k, v in texts.items()},
            "ts": int(stats["time_ms"]),
            "lower_frame": "0",
        }

    def _bar(self, symbol: str, row: Any) -> dict[str, Any]:
        inst = self.view.instrument(symbol)
        pp, ap = inst.price_precision, inst.amount_precision
        return {
            "id": int(row[0]),
            "amount": orjson.Fragment(str(plain(float(row[6]), pp + ap))),
            "vol": orjson.Fragment(str(plain(float(row[5]), ap))),
            "open": orjson.Fragment(str(plain(float(row[1]), pp))),
            "close": orjson.Fragment(str(plain(float(row[4]), pp))),
            "high": orjson.Fragment(str(plain(float(row[2]), pp))),
            "low": orjson.Fragment(str(plain(float(row[3]), pp))),
        }

    def _levels(self, sub: _Sub) -> tuple[dict[int, int], dict[int, int]]:
        """Bids and asks as ``{ticks: lots}``, merged on the integer tick grid.

        ``depth_step1``/``2`` merge 10/100 ticks: bids down, asks up, so a merged
        book is never crossed (integer arithmetic: no float bucket edges).
        """
        book = self.view.book(sub.symbol)
        merge = _MERGE[sub.step]
        out: list[dict[int, int]] = []
        for ticks, lots, down in (
            (book.bid_ticks, book.bid_lots, True),
            (book.ask_ticks, book.ask_lots, False),
        ):
            keys = ticks // merge * merge if down else -(-ticks // merge) * merge
            merged: dict[int, int] = {}
            for k, q in zip(keys.tolist(), lots.tolist(), strict=True):
                merged[k] = merged.get(k, 0) + q
            top = sorted(merged, reverse=down)[: sub.levels]
            out.append({k: merged[k] for k in top})
        return out[0], out[1]

    def _level(self, symbol: str, ticks: int, lots: int) -> list[Any]:
        inst = self.view.instrument(symbol)
        return [
            self._num(trimmed(ticks, inst.price_precision)),
            self._num(trimmed(lots, inst.amount_precision)),
        ]

    def _full_book(self, sub: _Sub) -> dict[str, Any]:
        bids, asks = self._levels(sub)
        sub.book = {("buys", p): a for p, a in bids.items()}
        sub.book |= {("asks", p): a for p, a in asks.items()}
        return {
            "asks": [self._level(sub.symbol, p, a) for p, a in asks.items()],
            "buys": [self._level(sub.symbol, p, a) for p, a in bids.items()],
        }

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
        now = self.view.now()
        current = self.view.bar_open(sub.width, now)  # weeks from Monday, calendar months
        start = current if sub.bar_open < 0 or sub.bar_open == current else sub.bar_open
        rows = self.view.klines(sub.symbol, sub.width, start, current + sub.width)
        sub.bar_open = current
        for row in rows:  # on a rollover: the finished bar once more, then the new one
            if row[1] == row[1]:  # not NaN
                self._send(conn, self._push(sub.channel, self._bar(sub.symbol, row)), push=True)

    def _push_increments(self, conn: Conn, sub: _Sub) -> None:
        before = sub.book
        bids, asks = self._levels(sub)
        after = {("buys", p): a for p, a in bids.items()}
        after |= {("asks", p): a for p, a in asks.items()}
        sub.book = after
        # Removals first, then additions: a client applying them one by one never
        # holds a crossed book (a level that left one side is gone before the
        # other side reaches its price).
        changes = [(k, 0) for k in before if k not in after]
        changes += [(k, v) for k, v in after.items() if before.get(k) != v]
        for (side, price), volume in changes:
            level = self._level(sub.symbol, price, volume)
            tick = {"side": side, "price": level[0], "volume": level[1]}
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
            data = {s: self._ticker_tick(s, as_strings=True) for s in self.view.instruments}
            self._send(conn, {**base, "data": data})
            return
        match = _CHANNEL.match(channel)
        if match is None or match[1] not in self.view.instruments:
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
        now = int(self.view.now())
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
        rows = self.view.klines(symbol, width, start, min(stop, now + 1))
        data = [self._bar(symbol, r) for r in rows if r[1] == r[1] and r[0] < stop]
        out: dict[str, Any] = {"data": data}
        if since not in (None, ""):
            out["since"] = str(since)
        return out
