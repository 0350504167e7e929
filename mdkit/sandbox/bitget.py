"""Bitget v2 WebSocket server (public, private) and REST symbol lists, from the shared market.

Written from ``bitget-v2-ws.txt`` and NOTES.md (Bitget v2), independently of the
client (no ``mdkit.venues``/``engine``/``capture`` imports):

- ``/v2/ws/public`` and ``/v2/ws/private``; text JSON frames; the data envelope
  ``{"action","arg","data","ts"}`` with the field order of the recorded frames;
- text ``ping`` → ``pong``; a client silent for ``idle_timeout`` s (~2 min live) is
  dropped without a close frame, even while pushed to; every connection is closed
  after ``max_age`` s (the live 24 h forced disconnect);
- login ``{"op":"login"}``: ``30011`` unknown key, ``30012`` wrong passphrase,
  ``30013`` timestamp not seconds, ``30014`` more than 30 s off, ``30015`` bad sign,
  ``30005`` malformed login; a refused login is followed by a close (doc "Login");
  private channels before a login: ``30004``;
- limits (doc "Connection instructions"): more than ``max_rate`` messages in one
  second (pings count) → ``30007`` and close; args over ``max_bytes`` → ``30007`` and
  close; past ``max_channels`` channels on a connection → ``30006`` for each channel
  refused; past ``max_subscribes`` subscribe requests per hour → ``30006``; past
  ``max_connections`` live connections → HTTP 429 at the handshake;
- unknown op ``30003``; non-JSON text (and ``{"op":"ping"}``) ``30002``; bad channel
  (``candle1h``) or instType ``30016``; unknown instId ``30001``; a listed symbol
  under the wrong instType is acknowledged and then silent (NOTES.md);
- channels ``trade`` (a backfill snapshot, then updates, newest first), ``ticker``,
  ``candle<token>`` (a snapshot of recent bars, then the forming bar),
  ``books`` (full snapshot, then updates when levels change, size "0" deletes) and
  ``books1/5/15`` (full snapshots); book integrity ``integrity="checksum"`` (CRC32 of
  the top 25 levels, signed) or ``"seq"`` (``seq``/``pseq``);
- private ``orders``, ``fill``, ``account`` of a sandbox account on the shared
  matching engine (:class:`~mdkit.sandbox.exchange.Exchange`); :meth:`place_order`;
- faults: the shared kinds plus ``checksum`` (the next book update carries a wrong
  checksum) and ``seq_gap`` (the next book update is skipped; seq moves on).

REST (under ``/bitget`` on the HTTP host): the symbol lists and the spot market
endpoints, in :mod:`mdkit.sandbox.bitget_rest`. The private side (login checks and the
``orders``, ``fill``, ``account`` pushes) is :mod:`mdkit.sandbox.bitget_private`; the
book pushes and their integrity fields are :mod:`mdkit.sandbox.bitget_book`.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from mdkit.sandbox import bitget_rest
from mdkit.sandbox.bitget_book import BookPushes
from mdkit.sandbox.bitget_private import ORDER_STATUS, PRIVATE_CHANNELS, PrivateChannels
from mdkit.sandbox.exchange import Exchange, UserAccount
from mdkit.sandbox.http import HttpVenue
from mdkit.sandbox.market import Instrument, Market
from mdkit.sandbox.wire import decimal_text, exact, trimmed
from mdkit.sandbox.wshost import Conn, Route, VenueServer

__all__ = ["BitgetServer", "CANDLES", "DEMO_API_KEY", "DEMO_SECRET_KEY", "DEMO_PASSPHRASE"]

DEMO_API_KEY = "bg-sandbox-demo-key-not-real"
DEMO_SECRET_KEY = "bg-sandbox-demo-secret-not-real"
DEMO_PASSPHRASE = "bg-sandbox-passphrase"
DEMO_BALANCES = {"usdt": "100000", "btc": "2", "eth": "20", "sol": "50"}
#: Candle channel token → bar length in seconds (doc candle channel list).
CANDLES = {"1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1H": 3600, "4H": 14400, "6H": 21600,
           "12H": 43200, "1D": 86400, "3D": 259200, "1W": 604800, "1M": 2592000}  # fmt: skip
INST_TYPES = ("SPOT", "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
_PUBLIC = {"trade", "ticker", "books", "books1", "books5", "books15"} | {
    f"candle{c}" for c in CANDLES
}


def _err(code: int, msg: str, arg: Any = None, op: str | None = None) -> str:
    out: dict[str, Any] = {"event": "error"}
    if arg is not None:
        out["arg"] = arg
    out |= {"code": code, "msg": msg}
    if op:
        out["op"] = op
    return orjson.dumps(out).decode()


@dataclass(eq=False)
class Subscription:
    """One channel a connection subscribed to, and how far its pushes got."""

    arg: dict[str, Any]
    channel: str
    symbol: str  # Bitget spelling
    source: str  # market symbol feeding it
    silent: bool = False
    last_ms: int = 0
    last_push: float = 0.0
    bar_open: int = -1
    second: int = -1  # books: the market second last sent
    seq: int = 0


@dataclass(eq=False)
class ConnectionState:
    """One client connection: its login, channels, rate windows, faults and private marks."""

    private: bool
    user: UserAccount | None = None
    subs: dict[tuple[str, str, str], Subscription] = field(default_factory=dict)
    times: deque[float] = field(default_factory=deque)
    subscribes: deque[float] = field(default_factory=deque)
    faults: dict[str, int] = field(default_factory=lambda: {"checksum": 0, "seq_gap": 0})
    orders: dict[int, tuple[str, str]] = field(default_factory=dict)
    fills: set[int] = field(default_factory=set)


class BitgetServer(VenueServer):
    """The Bitget v2 sandbox server (see the module docstring).

    Parameters
    ----------
    market : Market
    integrity : {"checksum", "seq"}
        Book integrity fields: the documented CRC32 ``checksum`` or ``seq``/``pseq``.
    rate : float
        Push speed multiplier (trades every ``0.1/rate`` s, tickers and candles every
        ``1/rate`` s; books whenever the market's book changes, once a second).
    idle_timeout, max_age : float
        Seconds without a client frame before the drop; lifetime of a connection.
    max_rate, max_bytes, max_channels, max_subscribes, max_connections : int
        The documented limits (10/s, 4096 bytes, 1000, 240/hour, 100).
    extra_symbols : int
        Spot symbols listed beyond the market's own (so > 1000 channels can be tried).
    trailing_zeros : bool
        Keep trailing zeros in numbers (the CoinTR clone does; Bitget strips them).
    """

    key = "bitget"
    paths = ("/v2/ws/public", "/v2/ws/private")
    fault_kinds = ("checksum", "seq_gap")
    ws_env = {"WS_URL": "/v2/ws/public", "PRIVATE_WS_URL": "/v2/ws/private"}
    credentials = {
        "API_KEY": DEMO_API_KEY,
        "SECRET_KEY": DEMO_SECRET_KEY,
        "PASSPHRASE": DEMO_PASSPHRASE,
    }

    def __init__(
        self,
        market: Market,
        *,
        integrity: str = "checksum",
        rate: float = 1.0,
        idle_timeout: float = 120.0,
        max_age: float = 86400.0,
        max_rate: int = 10,
        max_bytes: int = 4096,
        max_channels: int = 1000,
        max_subscribes: int = 240,
        max_connections: int = 100,
        extra_symbols: int = 800,
        trailing_zeros: bool = False,
    ) -> None:
        if integrity not in ("checksum", "seq"):
            raise ValueError("integrity must be 'checksum' or 'seq'")
        super().__init__(market)
        self.integrity = integrity
        self.rate = rate
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.max_rate = max_rate
        self.max_bytes = max_bytes
        self.max_channels = max_channels
        self.max_subscribes = max_subscribes
        self.max_connections = max_connections
        self.trailing_zeros = trailing_zeros
        #: Bitget's own view of the market (its symbols, spread, depth, noise, lead).
        self.view = market.venue(self.key)
        # Orders meet Bitget's own book and tape (SOLUSDT trades here, not on Crypto.com).
        self.exchange = Exchange(self.view)
        self.users: dict[str, tuple[UserAccount, str]] = {}
        self.demo = self.add_user(DEMO_BALANCES, DEMO_API_KEY, DEMO_SECRET_KEY, DEMO_PASSPHRASE)
        #: Login checks and the private channels (orders, fill, account).
        self.private = PrivateChannels(self)
        #: Catalogue key (``btcusdt``) → the view's symbol (``BTCUSDT``).
        self._vs = {inst.key: name for name, inst in self.view.instruments.items()}
        usdt = sorted(k for k in self._vs if k.endswith("usdt"))
        #: Spot symbol (Bitget spelling) → the catalogue key that feeds it.
        self.spot: dict[str, str] = {name: key for key, name in self._vs.items()}
        letters = itertools.product("ABCDEFGHIJKLMNOPQRSTUVWXYZ", repeat=3)
        for i, chars in zip(range(extra_symbols), letters, strict=False):
            self.spot[f"Z{''.join(chars)}USDT"] = usdt[i % len(usdt)]
        #: USDT-FUTURES contracts: the market's USDT instruments only.
        self.futures: dict[str, dict[str, str]] = {
            "USDT-FUTURES": {s.upper(): s for s in usdt},
            "COIN-FUTURES": {},
            "USDC-FUTURES": {},
        }
        #: Client messages received (decoded JSON or text), for tests.
        self.received: list[Any] = []
        self._books: dict[tuple[str, int], tuple[list[list[str]], list[list[str]]]] = {}
        #: Book snapshots and updates with their integrity fields.
        self.books = BookPushes(self)

    # -- accounts -----------------------------------------------------------------------
    def add_user(
        self, balances: dict[str, str], api_key: str, secret: str, passphrase: str
    ) -> UserAccount:
        """Open a sandbox account that can log in with this key, secret and passphrase."""
        user = self.exchange.create(balances, api_key=api_key, secret=secret)
        self.users[api_key] = (user, passphrase)
        return user

    def place_order(
        self,
        symbol: str,
        side: str,
        size: Any,
        price: Any = None,
        *,
        order_type: str = "limit",
        api_key: str = DEMO_API_KEY,
    ) -> dict[str, Any]:
        """Place an order for a sandbox account (thread-safe); its pushes follow.

        Returns ``{"orderId", "status", "filled"}``. Raises ``SandboxError`` as the
        matching engine does (bad parameter, balance not enough).
        """
        user = self.users[api_key][0]
        kind = {"limit": 1, "market": 2}[order_type]
        # Bitget spells spot symbols in upper case (BTCUSDT), as its view of the market.
        order = self.exchange.place(user, symbol.upper(), side.upper(), kind, size, price)
        return {"orderId": str(order.id), "status": ORDER_STATUS[order.status],
                "filled": str(order.deal_volume)}  # fmt: skip

    # -- HTTP: symbol lists ---------------------------------------------------------------
    def routes(self) -> dict[tuple[str, str], Route]:
        """``/api/v2/spot/public/symbols`` and ``/api/v2/mix/market/contracts``."""
        # Symbol lists, and the spot market REST: candles, fills, orderbook, tickers.
        return bitget_rest.routes(self)

    def bind_http(self, http: HttpVenue) -> None:  # noqa: D102 - VenueServer's, plus REST rates
        super().bind_http(http)
        bitget_rest.set_limits(http)

    # -- connection -----------------------------------------------------------------------
    def process_request(self, path: str, headers: Any) -> tuple[int, str] | None:
        """Past ``max_connections`` live connections: HTTP 429 (doc: 100 per IP)."""
        if len([c for c in self.connections if not c.closed]) >= self.max_connections:
            return 429, "too many connections\n"
        return None

    def malformed(self) -> str:
        """A data frame cut short."""
        return '{"action":"update","arg":{"instType":"SPOT","channel":"trade","instId":"BTC'

    def on_fault(self, conn: Conn, kind: str, *, seconds: float, count: int) -> None:
        """``checksum``: wrong checksum on the next update; ``seq_gap``: skip the next update."""
        state: ConnectionState = conn.state["bitget"]
        state.faults[kind] += count

    async def serve(self, conn: Conn) -> None:
        """One client: requests answered as they come; pushes and the watchdog beside."""
        state = ConnectionState(private=conn.path.endswith("private"))
        conn.state["bitget"] = state
        conn.spawn(self._watchdog(conn))
        conn.spawn(self._pusher(conn, state))
        async for message in conn:
            self._on_message(conn, state, message)

    async def _watchdog(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4, self.max_age / 4))
            now = time.monotonic()
            if now - conn.last_received > self.idle_timeout:
                conn.end_reason = "idle"
                conn.abort()  # live: close 1006, no close frame (NOTES.md probe)
                return
            if now - conn.opened > self.max_age:
                conn.end_reason = "max age"
                conn.close(1000, "connection expired")
                return

    def _on_message(self, conn: Conn, state: ConnectionState, message: str | bytes) -> None:
        now = time.monotonic()
        times = state.times
        times.append(now)
        while times and now - times[0] >= 1.0:
            times.popleft()
        if len(times) > self.max_rate:
            conn.send(_err(30007, "request over limit,connection close"))
            conn.end_reason = "over rate limit"
            conn.close(1000, "request over limit")
            return
        text = message.decode(errors="replace") if isinstance(message, bytes) else message
        if text == "ping":
            self.received.append("ping")
            conn.send("pong")
            return
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            msg = None
        self.received.append(msg if msg is not None else text)
        if not isinstance(msg, dict) or "op" not in msg or msg.get("op") == "ping":
            conn.send(_err(30002, f"Unrecognized request:{text[:200]}"))
            return
        op = msg["op"]
        if op == "login":
            self._login(conn, state, msg.get("args"))
        elif op in ("subscribe", "unsubscribe"):
            args = msg.get("args")
            if not isinstance(args, list) or not args:
                conn.send(_err(30016, "Param error", op=op))
            elif len(orjson.dumps(args)) > self.max_bytes:
                conn.send(_err(30007, "request over limit,connection close", op=op))
                conn.end_reason = "request too large"
                conn.close(1000, "request over limit")
            elif op == "subscribe":
                self._subscribe(conn, state, args, now)
            else:
                for arg in args:
                    if isinstance(arg, dict):
                        state.subs.pop(_key(arg), None)
                        conn.send(orjson.dumps({"event": "unsubscribe", "arg": arg}).decode())
        else:
            conn.send(_err(30003, f"Invalid op:{str(op)[:50]}"))

    def _login(self, conn: Conn, state: ConnectionState, args: Any) -> None:
        arg = args[0] if isinstance(args, list) and args and isinstance(args[0], dict) else None
        fields = ("apiKey", "passphrase", "timestamp", "sign")
        if arg is None or not all(isinstance(arg.get(k), str) for k in fields):
            refusal: tuple[int, str] | None = (30005, "login failed")
        else:
            refusal = self.private.check_login(arg)
        if refusal is not None:
            conn.send(_err(*refusal, op="login"))
            conn.end_reason = f"login refused {refusal[0]}"
            conn.close(
                1000, "login failed"
            )  # doc: "If login fails, it will automatically disconnect"
            return
        assert arg is not None
        state.user = self.users[arg["apiKey"]][0]
        conn.send('{"event":"login","code":0}')

    def _subscribe(self, conn: Conn, state: ConnectionState, args: list[Any], now: float) -> None:
        hour = state.subscribes
        while hour and now - hour[0] > 3600:
            hour.popleft()
        if len(hour) >= self.max_subscribes:
            conn.send(_err(30006, "too many requests", op="subscribe"))
            return
        hour.append(now)
        for arg in args:
            if not isinstance(arg, dict):
                conn.send(_err(30016, "Param error", op="subscribe"))
                continue
            refusal = self._check_arg(state, arg)
            if refusal is not None:
                conn.send(_err(*refusal, arg=arg, op="subscribe"))
                continue
            key = _key(arg)
            if key not in state.subs and len(state.subs) >= self.max_channels:
                conn.send(_err(30006, f"channel limit {self.max_channels}", arg, "subscribe"))
                continue
            conn.send(orjson.dumps({"event": "subscribe", "arg": arg}).decode())
            sub = self._new_sub(arg)
            state.subs[key] = sub
            if not sub.silent:
                self._first_push(conn, state, sub)

    def _check_arg(self, state: ConnectionState, arg: dict[str, Any]) -> tuple[int, str] | None:
        channel, inst_type = arg.get("channel"), arg.get("instType")
        if inst_type not in INST_TYPES:
            return 30016, "Param error"
        if channel in PRIVATE_CHANNELS:
            if not state.private:
                return 30016, "Param error"
            if state.user is None:
                return 30004, "User not logged in"
            return None
        if channel not in _PUBLIC or state.private:
            return 30016, "Param error"
        symbol = arg.get("instId")
        listed = self.spot if inst_type == "SPOT" else self.futures[str(inst_type)]
        if symbol not in listed and symbol not in self.spot:
            return 30001, f"instType:{inst_type},channel:{channel},instId:{symbol} doesn't exist"
        return None

    def _new_sub(self, arg: dict[str, Any]) -> Subscription:
        channel = str(arg["channel"])
        if channel in PRIVATE_CHANNELS:
            return Subscription(arg, channel, "", "")
        symbol = str(arg["instId"])
        listed = self.spot if arg["instType"] == "SPOT" else self.futures[str(arg["instType"])]
        silent = symbol not in listed  # real symbol, wrong instType: acked, then silent
        return Subscription(arg, channel, symbol, self.spot.get(symbol, ""), silent=silent)

    # -- wire helpers (the only places that read the market) --------------------------------
    def _inst(self, source: str) -> Instrument:
        return self.view.instrument(self._vs[source])

    def _num(self, value: float, decimals: int) -> str:
        """A float statistic (ticker, bar) as exact decimal text of its rounded value."""
        text = exact(value, decimals)
        if not self.trailing_zeros and "." in text:
            text = text.rstrip("0").rstrip(".")
        return text

    def _units(self, units: int, precision: int) -> str:
        """Integer ticks/lots as their exact decimal (issue 10: never a float's expansion)."""
        return decimal_text(units, precision) if self.trailing_zeros else trimmed(units, precision)

    def _book(self, source: str, second: int) -> tuple[list[list[str]], list[list[str]]]:
        """The book at a second as wire strings, cached (every channel of a symbol shares it)."""
        key = (source, second)
        cached = self._books.get(key)
        if cached is None:
            inst = self._inst(source)
            book = self.view.book(self._vs[source], second)
            pp, ap = inst.price_precision, inst.amount_precision
            sides = ((book.bid_ticks, book.bid_lots), (book.ask_ticks, book.ask_lots))
            cached = tuple(  # type: ignore[assignment]
                [[self._units(p, pp), self._units(a, ap)]
                 for p, a in zip(ticks.tolist(), lots.tolist(), strict=True)]
                for ticks, lots in sides
            )  # fmt: skip
            if len(self._books) > 256:
                self._books.clear()
            self._books[key] = cached  # type: ignore[assignment]
        assert cached is not None
        return cached

    def _envelope(self, sub: Subscription, action: str, data: Any, ts: bool = True) -> str:
        out: dict[str, Any] = {"action": action, "arg": sub.arg, "data": data}
        if ts:
            out["ts"] = int(self.view.now() * 1000)
        return orjson.dumps(out).decode()

    # -- pushes ---------------------------------------------------------------------------
    def _first_push(self, conn: Conn, state: ConnectionState, sub: Subscription) -> None:
        now_ms = int(self.view.now() * 1000)
        channel = sub.channel
        if channel == "trade":
            items = self._trades(sub.source, now_ms - 120_000, now_ms + 1)[:30]
            sub.last_ms = now_ms + 1
            conn.send(self._envelope(sub, "snapshot", items))
        elif channel == "ticker":
            sub.last_push = time.monotonic()
            conn.send(self._envelope(sub, "snapshot", [self._ticker(sub)]))
        elif channel.startswith("candle"):
            width = CANDLES[channel[6:]]
            now = int(self.view.now())
            sub.bar_open = self.view.bar_open(width, now)  # weeks from Monday, calendar months
            rows = self.view.klines(self._vs[sub.source], width, sub.bar_open - 49 * width, now + 1)
            bars = [self._bar(sub.source, r) for r in rows if r[1] == r[1]]
            sub.last_push = time.monotonic()
            conn.send(self._envelope(sub, "snapshot", bars, ts=False))  # as recorded: no ts
        elif channel.startswith("books"):
            self.books.push(conn, state, sub, snapshot=True)
        elif channel == "account" and state.user is not None:
            conn.send(self._envelope(sub, "snapshot", self.private.balances(state.user)))

    def _trades(self, source: str, start_ms: int, end_ms: int) -> list[dict[str, str]]:
        inst = self._inst(source)
        tr = self.view.trades(self._vs[source], start_ms, end_ms)
        pp, ap = inst.price_precision, inst.amount_precision
        ticks, lots = tr.price_ticks.tolist(), tr.amount_lots.tolist()
        return [{"ts": str(int(tr.time_ms[i])), "price": self._units(ticks[i], pp),
                 "size": self._units(lots[i], ap),
                 "side": "buy" if tr.is_buy[i] else "sell", "tradeId": str(int(tr.id[i]))}
                for i in range(len(tr) - 1, -1, -1)]  # fmt: skip

    def _ticker(self, sub: Subscription) -> dict[str, str]:
        stats = self.view.ticker(self._vs[sub.source])
        inst = self._inst(sub.source)
        pp, ap = inst.price_precision, inst.amount_precision
        return {"instId": sub.symbol, "lastPr": self._num(stats["last"], pp),
                "open24h": self._num(stats["open"], pp), "high24h": self._num(stats["high"], pp),
                "low24h": self._num(stats["low"], pp), "change24h": self._num(stats["change"], 5),
                "bidPr": self._num(stats["bid"], pp), "askPr": self._num(stats["ask"], pp),
                "bidSz": self._num(stats["bid_amount"], ap),
                "askSz": self._num(stats["ask_amount"], ap),
                "baseVolume": self._num(stats["volume"], ap),
                "quoteVolume": self._num(stats["quote_volume"], 6),
                "openUtc": self._num(stats["open"], pp),
                "changeUtc24h": self._num(stats["change"], 5),
                "ts": str(int(stats["time_ms"]))}  # fmt: skip

    def _bar(self, source: str, row: Any) -> list[str]:
        pp = self._inst(source).price_precision
        quote = self._num(float(row[6]), 8)
        return [str(int(row[0]) * 1000), *(self._num(float(v), pp) for v in row[1:5]),
                self._num(float(row[5]), 6), quote, quote]  # fmt: skip

    async def _pusher(self, conn: Conn, state: ConnectionState) -> None:
        step = 0.1 / self.rate
        while True:
            await asyncio.sleep(step)
            mono = time.monotonic()
            for sub in list(state.subs.values()):
                if sub.silent:
                    continue
                channel = sub.channel
                if channel == "trade":
                    now_ms = int(self.view.now() * 1000)
                    items = self._trades(sub.source, sub.last_ms, now_ms + 1)
                    sub.last_ms = now_ms + 1
                    if items:
                        conn.send(self._envelope(sub, "update", items), push=True)
                elif channel == "ticker" and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    conn.send(self._envelope(sub, "snapshot", [self._ticker(sub)]), push=True)
                elif channel.startswith("candle") and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    self._push_bar(conn, sub)
                elif channel.startswith("books"):
                    if channel == "books" or mono - sub.last_push >= 1.0 / self.rate:
                        sub.last_push = mono
                        self.books.push(conn, state, sub, snapshot=False)
            if state.user is not None and state.subs:
                self.private.push(conn, state)

    def _push_bar(self, conn: Conn, sub: Subscription) -> None:
        width = CANDLES[sub.channel[6:]]
        now = int(self.view.now())
        current = self.view.bar_open(width, now)
        start = min(sub.bar_open, current) if sub.bar_open >= 0 else current
        rows = self.view.klines(self._vs[sub.source], width, start, current + width)
        sub.bar_open = current
        bars = [self._bar(sub.source, r) for r in rows if r[1] == r[1]]
        if bars:  # on a rollover: the finished bar once more, then the new one
            conn.send(self._envelope(sub, "update", bars), push=True)


def _key(arg: dict[str, Any]) -> tuple[str, str, str]:
    return (str(arg.get("instType")), str(arg.get("channel")),
            str(arg.get("instId", arg.get("coin", ""))))  # fmt: skip
