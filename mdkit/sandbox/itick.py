"""iTick crypto WebSocket server, served from the synthetic market.

Written from ``itick-crypto-ws.txt`` and NOTES.md ("iTick crypto WebSocket"),
independently of the client (it imports no ``mdkit.venues``/engine/capture code):

- paths: ``/crypto`` (the doc: ``token`` handshake header), ``/websocket/crypto`` (the
  same, the SDKs' path layout) and ``/cws`` (the older in-band
  ``{"ac":"auth","params":"<token>"}``). On a header path a missing ``token`` header
  is refused at the handshake (HTTP 401); a wrong one gets the doc's
  ``{"code":0,"resAc":"auth","msg":"auth failed"}`` and the connection is closed
  (``refuse_at_handshake=True`` answers HTTP 401 to a wrong token as well);
- after the upgrade: ``{"code":1,"msg":"Connected Successfully"}`` then, on header
  paths, ``{"code":1,"resAc":"auth","msg":"authenticated"}`` at once;
- one connection per token (doc: "If another connection attempts to connect to the
  cluster simultaneously, the current connection will be disconnected"): when a
  connection authenticates, every older one with the same token is closed with code
  4000 ``"kicked: another connection with this token"``;
- ``subscribe`` with comma-joined codes (``BTCUSDT``, ``BTCUSDT$BA``) and types
  (``quote``, ``tick``, ``depth``, ``kline@<period>``); past ``max_subscriptions``
  codes per connection: ``"exceeding the maximum subscription limit"`` (nothing of
  that message is subscribed); an unknown action, type or code, or missing
  params: ``"cannot be resolved action"``; ``unsubscribe`` the same way;
- pushes name the market ``ETH_USDT``; quote/tick carry ``ts`` = trading status 0;
  depth is 5 levels a side as ``{po, p, v, o}``; kline pushes look like the doc's
  (``"code":0,"msg":null``, period code in ``t``, no ``type``) unless
  ``kline_type=True`` (``"code":1`` and ``"type":"kline@N"``, as the SDKs expect);
- ``{"ac":"ping","params":p}`` → ``{"resAc":"pong","data":{"params":p}}``; a client
  that sends nothing for ``idle_timeout`` s is closed (the doc gives no figure);
- prices and amounts are exact decimals of the instrument's grid (JSON numbers
  formatted from the grid, never a binary float's repr);
- slow consumers are cut by the host (doc: the server "will terminate the WebSocket
  connection"); shared faults only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from mdkit.sandbox.market import Market
from mdkit.sandbox.wire import plain, trimmed
from mdkit.sandbox.wshost import Conn, VenueServer

__all__ = ["ItickServer", "DEMO_TOKEN", "PATH", "LEGACY_PATH", "SDK_PATH", "PERIODS"]

#: The sandbox's demo token (not a real iTick key).
DEMO_TOKEN = "itick-sandbox-demo-token"
PATH = "/crypto"
LEGACY_PATH = "/cws"
SDK_PATH = "/websocket/crypto"
#: Kline period code → seconds (NOTES.md).
PERIODS = {
    "1": 60,
    "2": 300,
    "3": 900,
    "4": 1800,
    "5": 3600,
    "8": 86400,
    "9": 604800,
    "10": 2592000,
}
_TYPES = ("quote", "tick", "depth")
_CONNECTED = '{"code":1,"msg":"Connected Successfully"}'
_AUTH_OK = '{"code":1,"resAc":"auth","msg":"authenticated"}'
_AUTH_FAILED = '{"code":0,"resAc":"auth","msg":"auth failed"}'
_SUB_OK = '{"code":1,"resAc":"subscribe","msg":"subscribe Successfully"}'
_LIMIT = "exceeding the maximum subscription limit"
_UNRESOLVED = "cannot be resolved action"


def _num(value: float, decimals: int) -> orjson.Fragment:
    """A float statistic as a JSON number: exact decimal, trailing zeros trimmed."""
    return orjson.Fragment(str(plain(value, decimals)))


def _units(units: int, precision: int) -> orjson.Fragment:
    """Integer ticks/lots as a JSON number, the exact decimal (issue 10)."""
    return orjson.Fragment(trimmed(units, precision))


def _send(conn: Conn, obj: Any, *, push: bool = False) -> None:
    """Every iTick frame is a text frame."""
    conn.send(orjson.dumps(obj).decode(), push=push)


@dataclass(eq=False)
class _State:
    token: str | None = None
    authenticated: bool = False
    #: code as subscribed -> set of types ("quote", "tick", "depth", "kline@1", ...)
    subs: dict[str, set[str]] = field(default_factory=dict)
    last_trade_ms: dict[str, int] = field(default_factory=dict)


class ItickServer(VenueServer):
    """The iTick crypto sandbox server.

    Parameters
    ----------
    market : Market
        The shared synthetic market.
    tokens : sequence of str
        Tokens accepted (default: :data:`DEMO_TOKEN`).
    max_subscriptions : int
        Codes one connection may subscribe (the plan's limit).
    rate : float
        Push speed multiplier: quote, depth and kline pushes every ``0.5/rate`` s,
        ticks as the market trades (checked every ``0.1/rate`` s).
    idle_timeout : float
        Seconds without any client frame before the server closes the connection.
    kline_type : bool
        Kline pushes with ``"code":1`` and ``"type":"kline@N"`` instead of the doc's form.
    refuse_at_handshake : bool
        Answer a wrong token with HTTP 401 at the handshake instead of "auth failed".
    quote_fields : {"doc", "sdk"}
        ``"doc"`` (default): quotes carry only the doc's ``s ld t v tu ts`` with ``v``/``tu``
        the last trade's size and turnover (the doc's example has ``tu = ld × v``);
        ``"sdk"``: also ``o h l ch chp`` and ``v``/``tu`` as 24 h volume and turnover (the
        SDKs' quote type).
    combined_types : bool
        Accept several types in one subscribe message (default). False: only the doc's
        one type per message; a combined one is answered "cannot be resolved action".

    Attributes
    ----------
    received : list
        Every client message (decoded), for tests.
    kicked : int
        Connections closed because a newer one used the same token.
    """

    key = "itick"
    paths = (PATH, SDK_PATH, LEGACY_PATH)
    ws_env = {"WS_URL": PATH}
    credentials = {"TOKEN": DEMO_TOKEN}

    def __init__(
        self,
        market: Market,
        *,
        tokens: tuple[str, ...] | list[str] = (DEMO_TOKEN,),
        max_subscriptions: int = 50,
        rate: float = 1.0,
        idle_timeout: float = 60.0,
        kline_type: bool = False,
        refuse_at_handshake: bool = False,
        quote_fields: str = "doc",
        combined_types: bool = True,
    ) -> None:
        if quote_fields not in ("doc", "sdk"):
            raise ValueError(f"quote_fields must be 'doc' or 'sdk', not {quote_fields!r}")
        super().__init__(market)
        #: iTick's own view of the market (``BTCUSDT``; own spread, depth, lag).
        self.view = market.venue(self.key)
        self.tokens = frozenset(tokens)
        self.max_subscriptions = max_subscriptions
        self.rate = rate
        self.idle_timeout = idle_timeout
        self.kline_type = kline_type
        self.refuse_at_handshake = refuse_at_handshake
        self.quote_fields = quote_fields
        self.combined_types = combined_types
        self.received: list[Any] = []
        self.kicked = 0

    # -- handshake ------------------------------------------------------------------------
    def process_request(self, path: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """Header paths need a ``token`` header (and a valid one with ``refuse_at_handshake``)."""
        if path == LEGACY_PATH:
            return None
        token = headers.get("token")
        if not token:
            return 401, "token header required\n"
        if self.refuse_at_handshake and token not in self.tokens:
            return 401, "auth failed\n"
        return None

    def malformed(self) -> str:
        """A push cut short."""
        return '{"code":1,"data":{"s":"BTC_USDT","ld":'

    # -- connection -----------------------------------------------------------------------
    async def serve(self, conn: Conn) -> None:
        """Greet, authenticate (header or in-band), then answer and push."""
        state = _State()
        conn.state["itick"] = state
        conn.send(_CONNECTED)
        if conn.path != LEGACY_PATH:
            if not self._authenticate(conn, state, conn.headers.get("token")):
                return
        conn.spawn(self._pusher(conn, state))
        conn.spawn(self._idle_watch(conn))
        async for message in conn:
            try:
                msg = orjson.loads(message)
            except orjson.JSONDecodeError:
                msg = None
            self.received.append(msg)
            if not isinstance(msg, dict):
                self._reply(conn, "", _UNRESOLVED)
                continue
            ac = msg.get("ac")
            if ac == "auth":
                if not self._authenticate(conn, state, msg.get("params")):
                    return
            elif not state.authenticated:
                # Legacy path: nothing but auth before auth.
                conn.send(_AUTH_FAILED)
                conn.close(1008, "auth failed")
                return
            elif ac == "ping":
                params = msg.get("params")
                _send(conn, {"resAc": "pong", "data": {"params": params}})
            elif ac in ("subscribe", "unsubscribe"):
                self._subscribe(conn, state, str(ac), msg)
            else:
                self._reply(conn, str(ac or ""), _UNRESOLVED)

    def _authenticate(self, conn: Conn, state: _State, token: Any) -> bool:
        if not isinstance(token, str) or token not in self.tokens:
            conn.send(_AUTH_FAILED)
            conn.end_reason = "auth failed"
            conn.close(1008, "auth failed")
            return False
        state.token, state.authenticated = token, True
        # One connection per token: the older ones are disconnected.
        for other in list(self.connections):
            theirs = other.state.get("itick")
            if other is not conn and isinstance(theirs, _State) and theirs.token == token:
                if not other.closed:
                    self.kicked += 1
                    other.end_reason = "kicked"
                    other.close(4000, "kicked: another connection with this token")
        conn.send(_AUTH_OK)
        return True

    def _reply(self, conn: Conn, action: str, text: str | None = None) -> None:
        if text is None:
            conn.send(_SUB_OK)
        else:
            _send(conn, {"code": 0, "resAc": action, "msg": text})

    def _subscribe(self, conn: Conn, state: _State, action: str, msg: dict[str, Any]) -> None:
        params, types = msg.get("params"), msg.get("types")
        if not isinstance(params, str) or not isinstance(types, str):
            self._reply(conn, action, _UNRESOLVED)
            return
        codes = [c.strip() for c in params.split(",") if c.strip()]
        kinds = [t.strip() for t in types.split(",") if t.strip()]
        if (
            not codes
            or not kinds
            or any(self._market_symbol(c) is None for c in codes)
            or any(not (k in _TYPES or k.removeprefix("kline@") in PERIODS) for k in kinds)
            or (len(kinds) > 1 and not self.combined_types)
        ):
            self._reply(conn, action, _UNRESOLVED)
            return
        if action == "unsubscribe":
            for code in codes:
                left = state.subs.get(code, set()) - set(kinds)
                if left:
                    state.subs[code] = left
                else:
                    state.subs.pop(code, None)
            self._reply(conn, action)
            return
        if len(set(state.subs) | set(codes)) > self.max_subscriptions:
            self._reply(conn, action, _LIMIT)
            return
        now_ms = int(self.view.now() * 1000)
        for code in codes:
            state.subs.setdefault(code, set()).update(kinds)
            state.last_trade_ms.setdefault(code, now_ms)
        self._reply(conn, action)

    def _market_symbol(self, code: str) -> str | None:
        symbol = code.partition("$")[0].upper()
        return symbol if symbol in self.view.instruments else None

    async def _idle_watch(self, conn: Conn) -> None:
        while not conn.closed:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            if time.monotonic() - conn.last_received > self.idle_timeout:
                conn.end_reason = "idle"
                conn.close(1000, "idle")
                return

    # -- pushes ---------------------------------------------------------------------------
    async def _pusher(self, conn: Conn, state: _State) -> None:
        step = 0.1 / self.rate
        every = 5  # quote, depth and kline pushes every 5 steps
        n = 0
        while not conn.closed:
            await asyncio.sleep(step)
            slow = n % every == 0
            n += 1
            for code, kinds in list(state.subs.items()):
                symbol = self._market_symbol(code)
                if symbol is None:
                    continue
                if "tick" in kinds:
                    self._ticks(conn, state, code, symbol)
                if not slow:
                    continue
                if "quote" in kinds:
                    self._quote(conn, symbol)
                if "depth" in kinds:
                    self._depth(conn, symbol)
                for kind in kinds:
                    if kind.startswith("kline@"):
                        self._kline(conn, symbol, kind.removeprefix("kline@"))

    def _pushed_name(self, symbol: str) -> str:
        inst = self.view.instrument(symbol)
        return f"{inst.base}_{inst.quote}".upper()

    def _ticks(self, conn: Conn, state: _State, code: str, symbol: str) -> None:
        now_ms = int(self.view.now() * 1000)
        start = state.last_trade_ms.get(code, now_ms)
        trades = self.view.trades(symbol, start, now_ms)
        state.last_trade_ms[code] = max(start, now_ms)
        inst = self.view.instrument(symbol)
        name = self._pushed_name(symbol)
        pp, ap = inst.price_precision, inst.amount_precision
        ticks, lots = trades.price_ticks.tolist(), trades.amount_lots.tolist()
        for i in range(len(trades)):
            body = {
                "s": name,
                "ld": _units(ticks[i], pp),
                "v": _units(lots[i], ap),
                "t": int(trades.time_ms[i]),
                "tu": _units(ticks[i] * lots[i], pp + ap),
                "ts": 0,
                "type": "tick",
            }
            _send(conn, {"code": 1, "data": body}, push=True)

    def _quote(self, conn: Conn, symbol: str) -> None:
        inst = self.view.instrument(symbol)
        tk = self.view.ticker(symbol)
        p = inst.price_precision
        if self.quote_fields == "doc":
            # The doc's fields only; v/tu are the last trade's size and turnover.
            now_ms = int(self.view.now() * 1000)
            last = self.view.trades(symbol, now_ms - 60_000, now_ms)
            tick, lots = (
                (int(last.price_ticks[-1]), int(last.amount_lots[-1])) if len(last) else (0, 0)
            )
            doc = {
                "s": self._pushed_name(symbol),
                "ld": _num(tk["last"], p) if not len(last) else _units(tick, p),
                "t": int(tk["time_ms"]),
                "v": _units(lots, inst.amount_precision),
                "tu": _units(tick * lots, p + inst.amount_precision),
                "ts": 0,
                "type": "quote",
            }
            _send(conn, {"code": 1, "data": doc}, push=True)
            return
        body = {
            "s": self._pushed_name(symbol),
            "ld": _num(tk["last"], p),
            "o": _num(tk["open"], p),
            "h": _num(tk["high"], p),
            "l": _num(tk["low"], p),
            "t": int(tk["time_ms"]),
            "v": _num(tk["volume"], inst.amount_precision),
            "tu": _num(tk["quote_volume"], p + inst.amount_precision),
            "ch": _num(tk["last"] - tk["open"], p),
            "chp": _num(tk["change"] * 100.0, 2),
            "ts": 0,
            "type": "quote",
        }
        _send(conn, {"code": 1, "data": body}, push=True)

    def _depth(self, conn: Conn, symbol: str) -> None:
        inst = self.view.instrument(symbol)
        book = self.view.book(symbol)
        p, a = inst.price_precision, inst.amount_precision

        def levels(ticks: Any, lots: Any) -> list[dict[str, Any]]:
            return [
                {
                    "po": i + 1,
                    "p": _units(int(ticks[i]), p),
                    "v": _units(int(lots[i]), a),
                    "o": _units(int(lots[i]), a),  # the doc's example: o equals v
                }
                for i in range(min(5, len(ticks)))
            ]

        body = {
            "s": self._pushed_name(symbol),
            "a": levels(book.ask_ticks, book.ask_lots),
            "b": levels(book.bid_ticks, book.bid_lots),
            "type": "depth",
        }
        _send(conn, {"code": 1, "data": body}, push=True)

    def _kline(self, conn: Conn, symbol: str, period: str) -> None:
        inst = self.view.instrument(symbol)
        width = PERIODS[period]
        now = int(self.view.now())
        bars = self.view.klines(symbol, width, now - now % width, now + 1)
        if not len(bars):
            return
        bar = bars[-1]
        p, a = inst.price_precision, inst.amount_precision
        k = {
            "tu": _num(float(bar[6]), p + a),
            "c": _num(float(bar[4]), p),
            "t": int(bar[0]) * 1000,
            "v": _num(float(bar[5]), a),
            "h": _num(float(bar[2]), p),
            "l": _num(float(bar[3]), p),
            "o": _num(float(bar[1]), p),
        }
        data: dict[str, Any] = {"s": self._pushed_name(symbol), "t": int(period), "k": k}
        if self.kline_type:
            data["type"] = f"kline@{period}"
            frame = {"code": 1, "data": data}
        else:
            frame = {"code": 0, "msg": None, "data": data}
        _send(conn, frame, push=True)
