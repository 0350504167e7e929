"""BitTap spot WebSocket server (streams + WS-API), served from the synthetic market.

Written from ``bittap-spot-ws.txt``, the BitTap doc examples in
``samples/bittap_spot`` and NOTES.md, independently of the client (it imports no
``mdkit.venues``/``engine``/``capture`` code). One path, ``/endpoint`` (the doc's
``wss://stream.bittap.com/endpoint?format=JSON``), serves:

- WS-API requests ``{id, method, params}`` → ``{id, status, result|error,
  rateLimits}``: ``time`` (``{"serverTime": ms}``), ``ping``/``PING`` (``{}``),
  ``LOGIN`` (``[apiKey, ms timestamp, hex HMAC-SHA256(secret, timestamp)]``,
  timestamp within +5 min / -1 min of the server clock: doc "Private Message Push");
- a REQUEST_WEIGHT budget per window shared by every connection (one client IP on
  the sandbox), 6000 per MINUTE by default (doc "Response Format"); every request
  reports ``rateLimits``; past the limit a request is answered ``status`` 429 and
  counted in :attr:`BittapServer.violations`;
- SUBSCRIBE / UNSUBSCRIBE of ``s_trade@``, ``s_ticker@``, ``s_kline_<i>@``,
  ``s_depth<level>@<SYM>_<scale>`` and ``s_private`` (after LOGIN), acked in the
  stream shape ``{"code","msg","topic":[failed topics],"id"}``;
- pushes in Binance short keys: one ``s_trade`` per trade, ``s_ticker`` and the
  forming ``s_kline`` bar every second, a full ``s_depth`` snapshot of ``level``
  levels merged to ``scale`` every ``book_interval`` s, and ``BALANCE_UPDATE``
  records of the demo account on ``s_private``;
- idle rule: a connection that sends nothing for ``idle_timeout`` s is closed (the
  doc gives no figure; clients PING about every 18 s, NOTES.md).

Choices where the doc is silent (marked so in tests): error codes and messages
(Binance's: -1003 too many requests, -1021 timestamp, -1022 signature, -2015 key),
the depth levels accepted, the push cadences.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from mdkit.sandbox.exchange import DEMO_BALANCES
from mdkit.sandbox.market import Instrument, Market
from mdkit.sandbox.wire import decimal_text, exact
from mdkit.sandbox.wshost import Conn, VenueServer

__all__ = ["BittapServer", "PATH", "KLINE_TOKENS", "DEPTH_LEVELS", "DEMO_KEY", "DEMO_SECRET"]

PATH = "/endpoint"
#: NOTES.md: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M, in seconds.
KLINE_TOKENS = {
    "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "2h": 7200,
    "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400, "3d": 259200,
    "1w": 604800, "1M": 2592000,
}  # fmt: skip
#: Depth levels served (the doc's s_depth1, s_depth30 and the futures 5..100).
DEPTH_LEVELS = (1, 5, 10, 20, 30, 50, 100)
#: The demo credentials (fake) put in ``sb.env`` as MDKIT_BITTAP_API_KEY/SECRET_KEY.
DEMO_KEY = "bittap-sandbox-demo-key-not-real"
DEMO_SECRET = "bittap-sandbox-demo-secret-not-real"
_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_TOPIC = re.compile(
    r"^s_(?:(trade|ticker)|kline_([0-9]+[a-zA-Z])|depth([0-9]+))@([A-Z0-9]+)-([A-Z0-9]+)"
    r"(?:_([0-9.]+))?$"
)


@dataclass
class _Sub:
    kind: str  # trade ticker kline depth private
    topic: str
    symbol: str = ""  # BTC-USDT
    inst: Instrument | None = None
    width: int = 0
    token: str = ""
    levels: int = 0
    scale: str = ""
    scale_ticks: int = 1
    last_ms: int = 0
    last_push: float = 0.0


@dataclass(eq=False)
class _State:
    subs: dict[str, _Sub] = field(default_factory=dict)
    logged_in: bool = False
    update_id: int = 0


class BittapServer(VenueServer):
    """The BitTap sandbox server (see the module docstring).

    Parameters
    ----------
    market : Market
    rate_limit : int
        REQUEST_WEIGHT allowed per window (doc: 6000).
    rate_interval : {"SECOND", "MINUTE", "HOUR", "DAY"}
    rate_interval_num : int
        Window = ``rate_interval_num`` × ``rate_interval``, aligned to the epoch.
    weights : mapping, optional
        Weight per method (default 1 each, as the doc's ``count: 1`` after one ``time``).
    idle_timeout : float
        Seconds without a client frame before the server closes (1000 "idle").
    pong : {"reply", "result", "method"}
        PING answered as a WS-API reply (default), ``{"result":"PONG"}`` or
        ``{"method":"PONG"}`` (the forms a third-party doc reports; NOTES.md).
    compact_symbols : bool
        ``s`` in pushes as ``BTCUSDT`` (the doc's trade example) instead of ``BTC-USDT``.
    rate : float
        Push speed multiplier.
    book_interval : float
        Seconds between depth snapshots at ``rate=1``.
    """

    key = "bittap"
    paths = (PATH,)
    fault_kinds = ("rate_limit",)
    ws_env = {"WS_URL": PATH + "?format=JSON", "PRIVATE_WS_URL": PATH + "?format=JSON"}
    credentials = {"API_KEY": DEMO_KEY, "SECRET_KEY": DEMO_SECRET}

    def __init__(
        self,
        market: Market,
        *,
        rate_limit: int = 6000,
        rate_interval: str = "MINUTE",
        rate_interval_num: int = 1,
        weights: dict[str, int] | None = None,
        idle_timeout: float = 60.0,
        pong: str = "reply",
        compact_symbols: bool = False,
        rate: float = 1.0,
        book_interval: float = 0.5,
    ) -> None:
        if rate_interval not in _UNITS:
            raise ValueError(f"rate_interval must be one of {', '.join(_UNITS)}")
        if pong not in ("reply", "result", "method"):
            raise ValueError("pong must be 'reply', 'result' or 'method'")
        super().__init__(market)
        #: BitTap's own view of the market (``BTC-USDT``; own spread, depth, lag).
        self.view = market.venue(self.key)
        self.rate_limit = rate_limit
        self.rate_interval = rate_interval
        self.rate_interval_num = rate_interval_num
        self.window = _UNITS[rate_interval] * rate_interval_num
        self.weights = {"time": 1, "ping": 1, "PING": 1, "LOGIN": 1, **(weights or {})}
        self.idle_timeout = idle_timeout
        self.pong = pong
        self.compact_symbols = compact_symbols
        self.rate = rate
        self.book_interval = book_interval
        #: API key → secret of the accounts LOGIN accepts.
        self.keys = {DEMO_KEY: DEMO_SECRET}
        #: Requests answered 429 because the client went past the limit (not injected).
        self.violations = 0
        #: Every WS-API request: (monotonic time, method, weight count after it).
        self.requests: list[tuple[float, str, int]] = []
        #: LOGIN outcomes: "ok" or the refusal reason.
        self.logins: list[str] = []
        #: Client messages received (decoded), for tests.
        self.received: list[Any] = []
        self._window_start = 0
        self._count = 0
        self._forced_429 = 0

    def malformed(self) -> str:
        """A trade push cut short."""
        return '{"e":"s_trade","E":1,"s":"BTC-USDT","t":'

    def on_fault(self, conn: Conn, kind: str, *, seconds: float, count: int) -> None:
        """``rate_limit``: the next ``count`` requests are answered 429 (a busy IP)."""
        self._forced_429 += count

    # -- connection -----------------------------------------------------------------------
    async def serve(self, conn: Conn) -> None:
        """One client: requests answered as they come, pushes and the idle check beside."""
        state = _State()
        conn.state["bittap"] = state
        conn.spawn(self._pusher(conn, state))
        conn.spawn(self._idle(conn))
        async for message in conn:
            self._on_message(conn, state, message)

    async def _idle(self, conn: Conn) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            if time.monotonic() - conn.last_received > self.idle_timeout:
                conn.end_reason = "idle"
                conn.close(1000, "idle")
                return

    def _send(self, conn: Conn, obj: Any, *, push: bool = False) -> None:
        conn.send(orjson.dumps(obj).decode(), push=push)

    def _ms(self) -> int:
        return int(self.view.now() * 1000)

    # -- rate limit -----------------------------------------------------------------------
    def _charge(self, method: str) -> tuple[bool, list[dict[str, Any]]]:
        """Add a request's weight; (allowed, rateLimits figures)."""
        now = self.view.now()
        start = int(now // self.window * self.window)
        if start != self._window_start:
            self._window_start, self._count = start, 0
        self._count += self.weights.get(method, 1)
        self.requests.append((time.monotonic(), method, self._count))
        allowed = self._count <= self.rate_limit
        if not allowed:
            self.violations += 1
        if self._forced_429:
            self._forced_429 -= 1
            allowed = False
        figures = [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": self.rate_interval,
                "intervalNum": self.rate_interval_num,
                "limit": self.rate_limit,
                "count": self._count,
            }
        ]
        return allowed, figures

    # -- requests -------------------------------------------------------------------------
    def _on_message(self, conn: Conn, state: _State, message: str | bytes) -> None:
        try:
            msg = orjson.loads(message)
        except orjson.JSONDecodeError:
            self._send(
                conn, {"id": None, "status": 400, "error": {"code": -1100, "msg": "bad JSON"}}
            )
            return
        self.received.append(msg)
        if not isinstance(msg, dict):
            return
        method = msg.get("method")
        request_id = msg.get("id")
        params = msg.get("params")
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            self._streams(conn, state, method, params, request_id)
            return
        allowed, figures = self._charge(str(method))
        base: dict[str, Any] = {"id": request_id}
        if not allowed:
            error = {
                "code": -1003,
                "msg": f"Too many requests; current limit of REQUEST_WEIGHT is "
                f"{self.rate_limit} per {self.rate_interval_num} {self.rate_interval}.",
            }
            self._send(conn, {**base, "status": 429, "error": error, "rateLimits": figures})
            return
        if method in ("PING", "ping") and self.pong != "reply":
            self._send(conn, {"result": "PONG"} if self.pong == "result" else {"method": "PONG"})
            return
        if method in ("ping", "PING"):
            self._send(conn, {**base, "status": 200, "result": {}, "rateLimits": figures})
        elif method == "time":
            result = {"serverTime": self._ms()}
            self._send(conn, {**base, "status": 200, "result": result, "rateLimits": figures})
        elif method == "LOGIN":
            refused = self._login(params)
            self.logins.append(refused or "ok")
            if refused is None:
                state.logged_in = True
                self._send(conn, {**base, "status": 200, "result": {}, "rateLimits": figures})
            else:
                code, text = refused.split(" ", 1)
                error = {"code": int(code), "msg": text}
                self._send(conn, {**base, "status": 401, "error": error, "rateLimits": figures})
        else:
            error = {"code": -1100, "msg": f"Unknown method {method!r}"}
            self._send(conn, {**base, "status": 400, "error": error, "rateLimits": figures})

    def _login(self, params: Any) -> str | None:
        """None if the LOGIN is good, else ``"<code> <message>"``."""
        if not (
            isinstance(params, list)
            and len(params) == 3
            and all(isinstance(p, str) for p in params)
        ):
            return "-1102 LOGIN params must be [apiKey, timestamp, signature]"
        api_key, stamp, signature = params
        secret = self.keys.get(api_key)
        if secret is None:
            return "-2015 Invalid API-key"
        if not stamp.isdigit():
            return "-1021 Timestamp is not milliseconds"
        skew = int(stamp) - self._ms()
        # doc: no later than server time + 5 min, no earlier than server time - 1 min.
        if skew > 300_000 or skew < -60_000:
            return "-1021 Timestamp for this request is outside of the allowed window"
        expected = hmac.new(secret.encode(), stamp.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            return "-1022 Signature for this request is not valid"
        return None

    def _streams(
        self, conn: Conn, state: _State, method: str, params: Any, request_id: Any
    ) -> None:
        allowed, _ = self._charge(method)
        topics = [str(t) for t in params] if isinstance(params, list) else []
        if not allowed:
            msg = f"Too many requests; limit {self.rate_limit} per {self.rate_interval}"
            self._send(conn, {"code": 429, "msg": msg, "topic": topics, "id": request_id})
            return
        failed: list[str] = []
        for name in topics:
            if method == "UNSUBSCRIBE":
                state.subs.pop(name, None)
                continue
            sub = self._parse(name, state)
            if sub is None:
                failed.append(name)
            else:
                state.subs[name] = sub
        code, text = (0, "") if not failed else (1, "subscribe failed")
        if not topics:
            code, text = 1, "params must be a list of topics"
        # The doc's ack lists failed topics (blank entries when none failed).
        self._send(conn, {"code": code, "msg": text, "topic": failed or ["", ""], "id": request_id})
        for sub in (state.subs[t] for t in topics if t in state.subs and t not in failed):
            if sub.kind == "private" and method == "SUBSCRIBE":
                self._balances(conn)

    def _parse(self, name: str, state: _State) -> _Sub | None:
        if name == "s_private":
            return _Sub("private", name) if state.logged_in else None
        match = _TOPIC.match(name)
        if match is None:
            return None
        what, token, level, base, quote, scale = match.groups()
        inst = self.view.instruments.get(f"{base}-{quote}")
        if inst is None:
            return None
        symbol = f"{base}-{quote}"
        if what is not None:
            ok = scale is None
            return _Sub(what, name, symbol, inst, last_ms=self._ms()) if ok else None
        if token is not None:
            if token not in KLINE_TOKENS or scale is not None:
                return None
            return _Sub("kline", name, symbol, inst, width=KLINE_TOKENS[token], token=token)
        ticks = _scale_ticks(scale, inst)
        if ticks is None or int(level) not in DEPTH_LEVELS:
            return None
        return _Sub("depth", name, symbol, inst, levels=int(level), scale=scale, scale_ticks=ticks)

    # -- pushes ---------------------------------------------------------------------------
    def _s(self, symbol: str) -> str:
        return symbol.replace("-", "") if self.compact_symbols else symbol

    async def _pusher(self, conn: Conn, state: _State) -> None:
        step = 0.1 / self.rate
        while True:
            await asyncio.sleep(step)
            mono = time.monotonic()
            for sub in list(state.subs.values()):
                if sub.kind == "trade":
                    self._trades(conn, sub)
                elif sub.kind in ("ticker", "kline") and mono - sub.last_push >= 1.0 / self.rate:
                    sub.last_push = mono
                    self._ticker(conn, sub) if sub.kind == "ticker" else self._kline(conn, sub)
                elif sub.kind == "depth" and mono - sub.last_push >= self.book_interval / self.rate:
                    sub.last_push = mono
                    state.update_id += 1
                    self._depth(conn, sub, state.update_id)

    def _trades(self, conn: Conn, sub: _Sub) -> None:
        assert sub.inst is not None
        now_ms = self._ms()
        tr = self.view.trades(sub.inst.symbol, sub.last_ms, now_ms + 1)
        sub.last_ms = now_ms + 1
        pp, ap = sub.inst.price_precision, sub.inst.amount_precision
        ticks, lots = tr.price_ticks.tolist(), tr.amount_lots.tolist()
        for i in range(len(tr)):
            push = {
                "e": "s_trade",
                "E": now_ms,
                "s": self._s(sub.symbol),
                "t": int(tr.id[i]),
                "p": decimal_text(ticks[i], pp),
                "q": decimal_text(lots[i], ap),
                "T": int(tr.time_ms[i]),
                "m": not bool(tr.is_buy[i]),  # buyer is maker when the taker sold
            }
            self._send(conn, push, push=True)

    def _ticker(self, conn: Conn, sub: _Sub) -> None:
        assert sub.inst is not None
        st = self.view.ticker(sub.inst.symbol)
        pp, ap = sub.inst.price_precision, sub.inst.amount_precision
        push = {
            "e": "s_ticker",
            "E": int(st["time_ms"]),
            "s": self._s(sub.symbol),
            "c": exact(st["last"], pp),
            "o": exact(st["open"], pp),
            "h": exact(st["high"], pp),
            "l": exact(st["low"], pp),
            "v": exact(st["volume"], ap),
            "q": exact(st["quote_volume"], pp + ap),
            "p": exact(st["last"] - st["open"], pp),
            "P": exact(st["change"] * 100, 2),
        }
        self._send(conn, push, push=True)

    def _kline(self, conn: Conn, sub: _Sub) -> None:
        assert sub.inst is not None
        now = self.view.now()
        start = int(now // sub.width * sub.width)
        rows = self.view.klines(sub.inst.symbol, sub.width, start, start + sub.width)
        if not len(rows) or rows[-1][1] != rows[-1][1]:
            return  # no trade yet in any bar: nothing to show
        row = rows[-1]
        pp, ap = sub.inst.price_precision, sub.inst.amount_precision
        k: dict[str, Any] = {
            "t": int(row[0]) * 1000,
            "T": (int(row[0]) + sub.width) * 1000 - 1,
            "s": self._s(sub.symbol),
            "i": sub.token,
        }
        # First and last trade ids of the bar, from the tape. Ids grow with time and
        # every symbol prints at least every few minutes, so a long bar reads only
        # ten minutes at each end instead of its whole tape.
        open_ms, now_ms, edge = int(row[0]) * 1000, int(now * 1000) + 1, 600_000
        if sub.width <= 3600:
            tr = self.view.trades(sub.inst.symbol, open_ms, now_ms)
            k["f"], k["L"] = (int(tr.id[0]), int(tr.id[-1])) if len(tr) else (-1, -1)
        else:
            head = self.view.trades(sub.inst.symbol, open_ms, min(open_ms + edge, now_ms))
            tail = self.view.trades(sub.inst.symbol, max(open_ms, now_ms - edge), now_ms)
            k["f"] = int(head.id[0]) if len(head) else -1
            k["L"] = int(tail.id[-1]) if len(tail) else -1
        k.update(
            o=exact(row[1], pp),
            c=exact(row[4], pp),
            h=exact(row[2], pp),
            l=exact(row[3], pp),
            v=exact(row[5], ap),
            q=exact(row[6], pp + ap),
            n=int(row[7]),
            x=False,
        )
        push = {"e": f"s_kline_{sub.token}", "E": self._ms(), "s": self._s(sub.symbol), "k": k}
        self._send(conn, push, push=True)

    def _depth(self, conn: Conn, sub: _Sub, update_id: int) -> None:
        assert sub.inst is not None
        inst = sub.inst
        book = self.view.book(inst.symbol)
        pp, ap = inst.price_precision, inst.amount_precision
        sides = []
        step = sub.scale_ticks
        for ticks, lots, down in (
            (book.bid_ticks, book.bid_lots, True),
            (book.ask_ticks, book.ask_lots, False),
        ):
            # Bids merge down to the scale grid, asks up (no level crosses the touch);
            # integer ticks and lots, so every merged level is an exact decimal.
            keys = ticks // step if down else -(-ticks // step)
            merged: dict[int, int] = {}
            for k, q in zip(keys.tolist(), lots.tolist(), strict=True):
                merged[k] = merged.get(k, 0) + q
            top = sorted(merged, reverse=down)[: sub.levels]
            sides.append([[decimal_text(k * step, pp), decimal_text(merged[k], ap)] for k in top])
        push = {
            "e": f"s_depth{sub.levels}",
            "s": self._s(sub.symbol),
            "i": sub.scale,
            "lastUpdateId": update_id,
            "bids": sides[0],
            "asks": sides[1],
        }
        self._send(conn, push, push=True)

    def _balances(self, conn: Conn) -> None:
        now = self._ms()
        for version, (coin, free) in enumerate(DEMO_BALANCES.items(), start=1):
            push = {
                "E": now,
                "T": now,
                "a": coin.upper(),
                "c": "BALANCE_UPDATE",
                "d": "0",
                "e": "s_private",
                "f": free,
                "l": "0",
                "v": version,
            }
            self._send(conn, push, push=True)


def _scale_ticks(scale: str | None, inst: Instrument) -> int | None:
    """The scale in ticks of the instrument, or None if it is not a positive multiple."""
    if scale is None:
        return None
    try:
        ticks = Decimal(scale) * (Decimal(10) ** inst.price_precision)
    except InvalidOperation:
        return None
    if ticks <= 0 or ticks != ticks.to_integral_value():
        return None
    return int(ticks)
