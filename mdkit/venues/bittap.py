"""BitTap spot WebSocket: request/response API and market streams — sans-I/O.

One endpoint serves both (``bittap-spot-ws.txt`` "Connection"): WS-API requests
``{id, method, params}`` answered ``{id, status, result|error, rateLimits}``
("Request Format", "Response Format"), and streams subscribed with
``{"method":"SUBSCRIBE","params":[topics],"id":n}``. Nothing here opens a socket.
Symbol and topic spellings, the LOGIN signature and WS-API reply errors live in
:mod:`mdkit.venues.bittap_wire` (re-exported here).

Real-server quirks handled here (``NOTES.md``, BitTap spot WebSocket, and the
doc examples in ``samples/bittap_spot``):

- the stream ack has another shape than WS-API replies:
  ``{"code":0,"msg":"","topic":[<failed topics>],"id":1}``, the id echoed as an int
  even when a string was sent, and ``topic`` holding ``""`` entries on success: the
  non-empty entries are the topics that failed (turned into an error naming them);
- pushes are Binance-style short keys; ``s`` may be ``BTCUSDT`` on an
  ``s_trade@BTC-USDT`` stream, so pushes are routed by the compacted symbol;
- a depth push's ``e`` may name another level than the one subscribed
  (``s_depth1`` subscribed, ``"e":"s_depth30"`` pushed): routed by symbol alone;
  every depth push is a full snapshot and carries no time: its rows have
  ``timestamp`` NaT (an ``E`` is used where a server sends one), the receive time is
  in ``local_timestamp`` only;
- keepalive: the doc's ``{"id":..., "method":"ping"}`` (lower case, doc "Test
  connectivity"; NOTES.md also saw ``PING``) every 18 s. The pong's shape is not
  documented: a status-200 reply with the ping's id (or ``{"result":"PONG"}``) counts
  as a pong; a reply with another status is a server error (non-fatal, counted in
  ``stats["server_errors"]``), never a pong;
- ``rateLimits`` report REQUEST_WEIGHT per minute (limit 6000): surfaced as
  :class:`~mdkit.venues.base.RateLimits` with a pace under the limit;
- LOGIN ``params = [apiKey, ms timestamp, hex signature]``, the signature being
  HMAC-SHA256 of the timestamp with the API secret ("Private Message Push": "signature
  encrypted with api_secret using timestamp"); the timestamp must be within
  +5 min / -1 min of the server's clock, so it is made fresh on every connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from mdkit.data.timeparse import parse_interval
from mdkit.data.wire import (
    MS as _MS,
)
from mdkit.data.wire import (
    NAN as _NAN,
)
from mdkit.data.wire import (
    NO_TIME,
)
from mdkit.data.wire import (
    dumps as _dumps,
)
from mdkit.data.wire import (
    loads as _loads,
)
from mdkit.data.wire import (
    to_float as _f,
)
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, VenueError
from mdkit.venues.base import (
    NOTHING,
    Endpoint,
    Event,
    Limits,
    RateLimits,
    Ready,
    Reply,
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    Venue,
    parse_channel,
)
from mdkit.venues.bittap_wire import (
    BALANCE_FIELDS,
    BOOK_LEVELS,
    DEFAULT_BOOK_LEVELS,
    DEFAULT_SCALE,
    DEPTH_FIELDS,
    INTERVAL_TOKENS,
    KLINE_FIELDS,
    KLINE_PUSH_FIELDS,
    LEVEL,
    REQUEST_METHODS,
    VENUE,
    WEIGHT_PER_MINUTE,
    bittap_symbol,
    compact,
    pace,
    parse_rate_limits,
    reply_error,
    sign,
    topic,
)
from mdkit.venues.drift import Fields, Row

__all__ = [
    "VENUE",
    "WS_URL",
    "CHANNELS",
    "INTERVAL_TOKENS",
    "BOOK_LEVELS",
    "DEFAULT_BOOK_LEVELS",
    "DEFAULT_SCALE",
    "REQUEST_METHODS",
    "DESCRIPTOR",
    "BittapSession",
    "bittap_symbol",
    "topic",
    "sign",
    "parse_rate_limits",
    "reply_error",
    "plan",
]

#: doc "Connection": one URL for streams and the WS-API.
WS_URL = "wss://stream.bittap.com/endpoint?format=JSON"
CHANNELS = ("trades", "ticker", "klines", "book", "balances", "orders")
#: Topics per SUBSCRIBE message (no documented limit; keeps each message small).
TOPICS_PER_MESSAGE = 50
_SCALE = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]+)?$")


def plan(
    symbols: Sequence[str], channels: Sequence[str], options: Mapping[str, Any]
) -> list[Subscription]:
    """Validate symbols, channels and options; return the subscriptions, before connecting.

    Parameters
    ----------
    symbols : sequence of str
        ``BTC-USDT`` in any spelling :func:`bittap_symbol` accepts.
    channels : sequence of str
        ``trades ticker klines[:<interval>] book[:<levels>]`` and, with credentials,
        ``balances orders`` (the ``s_private`` stream, after a signed LOGIN).
    options : mapping
        ``scale``: depth price step (``"0.01"``, the doc's example, by default).

    Returns
    -------
    list of Subscription
        One per (channel, symbol); the private channels once, account-wide.

    Raises
    ------
    UnknownChannel, UnknownInterval, InvalidArgument
        Naming the valid choices.
    """
    unknown = [k for k in options if k not in DESCRIPTOR.options]
    if unknown:
        raise InvalidArgument(
            f"{VENUE}: unknown option(s) {', '.join(unknown)}; "
            f"valid: {', '.join(DESCRIPTOR.options)}"
        )
    scale = str(options.get("scale", DEFAULT_SCALE))
    if not _SCALE.match(scale) or float(scale) <= 0:
        raise InvalidArgument(f"{VENUE}: scale must be a positive decimal string such as '0.01'")
    names = [bittap_symbol(s) for s in symbols]
    out: dict[str, Subscription] = {}
    for text in channels:
        kind, interval, arg = parse_channel(text, DESCRIPTOR)
        extra: dict[str, Any] = {}
        if kind == "book":
            levels = int(arg) if arg.isdigit() else (DEFAULT_BOOK_LEVELS if not arg else -1)
            if levels not in BOOK_LEVELS:
                raise InvalidArgument(
                    f"{VENUE}: book levels {arg!r} not offered; valid: "
                    f"{', '.join(map(str, BOOK_LEVELS))} (book:{DEFAULT_BOOK_LEVELS} by default)"
                )
            extra = {"levels": levels, "scale": scale}
        elif arg:
            raise InvalidArgument(f"{VENUE}: channel {text!r} takes no ':' argument")
        if kind in ("balances", "orders"):
            out.setdefault(kind, Subscription(kind, "", "s_private", "private"))
            continue
        if not names:
            raise InvalidArgument(f"{VENUE}: the {kind} channel needs at least one symbol")
        for symbol in names:
            name = topic(kind, symbol, interval=interval, **extra)
            out.setdefault(name, Subscription(kind, symbol, name, "public", interval, extra))
    return list(out.values())


class BittapSession(Session):
    """One BitTap connection: sans-I/O (see :mod:`mdkit.venues.base`).

    Public connections are ready at once; the private one sends a signed LOGIN first
    and is ready on its 200 reply. Subscriptions go out as SUBSCRIBE messages of up to
    :data:`TOPICS_PER_MESSAGE` topics; their ack's failed topics end the capture with
    a :class:`~mdkit.errors.VenueError` naming them. Every WS-API reply's
    ``rateLimits`` becomes a :class:`~mdkit.venues.base.RateLimits` event.

    Examples
    --------
    A trade push (text frame)::

        {"e": "s_trade",          # stream type -> trades
         "E": 1672515782136,      # event time, ms
         "s": "BTCUSDT",          # symbol; routed compacted (BTC-USDT sub)
         "t": 12345,              # trade id -> `id`
         "p": "0.001",            # price (string) -> `price`
         "q": "100",              # amount, base units -> `amount`
         "T": 1672515782136,      # trade time, ms -> `timestamp`
         "m": true}               # buyer is maker: the taker sold -> side `sell`
    """

    #: NOTES.md: PING about every 18 s.
    timer_interval = 18.0

    def __init__(self, setup: SessionSetup) -> None:
        super().__init__(setup)
        self._next_id = 0
        self._login_id: str | None = None
        self._pings: set[str] = set()
        self._trade_fields = Fields("trade", TRADE_FIELDS, ("E",))
        self._ticker_fields = Fields("ticker", TICKER_FIELDS, ("E", "p"))
        self._kline_push_fields = Fields("kline_push", KLINE_PUSH_FIELDS)
        self._kline_fields = Fields("kline", KLINE_FIELDS)
        self._depth_fields = Fields("depth", DEPTH_FIELDS)
        self._bids, self._asks = Row("depth", LEVEL, "bids"), Row("depth", LEVEL, "asks")
        self._balance_fields = Fields("balance", BALANCE_FIELDS)
        t = setup.tables
        handlers: dict[str, Callable[[Any, str, str, int], None]] = {
            "trades": self._trade,
            "ticker": self._ticker,
            "klines": self._kline,
            "book": self._depth,
        }
        self.routes: dict[tuple[str, str], tuple[Callable[[Any, str, str, int], None], str, str]]
        self.routes = {}
        self._private: dict[str, str] = {}
        for sub in setup.subscriptions:
            if sub.endpoint == "private":
                self._private[sub.kind] = sub.key
                continue
            e = sub.channel.partition("@")[0]
            if sub.kind == "book":
                e = "s_depth"
            handler = handlers[sub.kind]
            self.routes[(e, compact(sub.symbol))] = (handler, sub.symbol, sub.key)
        self._trade_append = (
            t["trades"].append if any(s.kind == "trades" for s in self.subscriptions) else None
        )

    def _id(self, prefix: str) -> str:
        self._next_id += 1
        return f"{prefix}{self.setup.connection}-{self._next_id}"

    # -- outgoing ---------------------------------------------------------------------
    def open(self, now_ns: int) -> Sequence[Event]:
        """LOGIN on the private endpoint (fresh timestamp); :class:`Ready` otherwise."""
        if self.setup.endpoint != "private":
            return (Ready(),)
        try:
            api_key, secret = self.credentials["api_key"], self.credentials["secret_key"]
        except KeyError:
            raise AuthError("credentials", f"{VENUE}: LOGIN needs api_key and secret_key") from None
        stamp = str(now_ns // _MS)
        self._login_id = self._id("login")
        message = {
            "id": self._login_id,
            "method": "LOGIN",
            "params": [api_key, stamp, sign(secret, stamp)],
        }
        return (Send(_dumps(message)),)

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """SUBSCRIBE messages, :data:`TOPICS_PER_MESSAGE` topics each."""
        topics = list(dict.fromkeys(s.channel for s in subscriptions))
        out = []
        for i in range(0, len(topics), TOPICS_PER_MESSAGE):
            self._next_id += 1
            chunk = topics[i : i + TOPICS_PER_MESSAGE]
            out.append(Send(_dumps({"method": "SUBSCRIBE", "params": chunk, "id": self._next_id})))
        return out

    def timer(self, now_ns: int) -> Sequence[Event]:
        """The doc's ``{"method":"ping"}`` keepalive (with an id, to match the reply)."""
        ping_id = self._id("ping")
        self._pings.add(ping_id)
        return (Send(_dumps({"id": ping_id, "method": "ping"}), urgent=True),)

    def request(self, method: str, params: Mapping[str, Any], request_id: str) -> Sequence[Event]:
        """One WS-API request ``{id, method[, params]}`` (methods: :data:`REQUEST_METHODS`).

        Raises
        ------
        InvalidArgument
            For a method that is not a request method.
        """
        if method not in REQUEST_METHODS:
            raise InvalidArgument(
                f"{VENUE} request methods: {', '.join(REQUEST_METHODS)}; not {method!r}"
            )
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params:
            message["params"] = dict(params)
        return (Send(_dumps(message)),)

    # -- incoming -----------------------------------------------------------------------
    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`."""
        try:
            msg = _loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"{VENUE}: frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        e = msg.get("e")
        if e is not None:
            return self._push(msg, str(e), now_ns)
        if "code" in msg and "topic" in msg:
            return self._ack(msg)
        if "status" in msg or "error" in msg:
            return self._reply(msg)
        if msg.get("result") == "PONG" or msg.get("method") == "PONG":
            self.counters.pongs += 1
            return NOTHING
        if "id" in msg and "result" in msg:
            return self._reply(msg)
        self.counters.other += 1
        return NOTHING

    def _push(self, msg: dict[str, Any], e: str, now_ns: int) -> Sequence[Event]:
        if e == "s_private":
            return self._private_push(msg, now_ns)
        key_e = "s_depth" if e.startswith("s_depth") else e
        route = self.routes.get((key_e, compact(str(msg.get("s", "")))))
        if route is None:
            self.counters.unrouted += 1
            return NOTHING
        handler, symbol, key = route
        try:
            handler(msg, symbol, key, now_ns)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read {e} push: {exc!r}") from None
        self.count(key)
        return NOTHING

    def _trade(self, msg: Any, symbol: str, key: str, now_ns: int) -> None:
        self._trade_fields.check(self, msg)
        append = self._trade_append
        assert append is not None
        t = msg.get("T") or msg.get("E")
        append(
            timestamp=int(t) * _MS if t else now_ns,
            local_timestamp=now_ns,
            symbol=symbol,
            id=int(msg["t"]),
            side="sell" if msg["m"] else "buy",  # m: buyer is maker, so the taker sold
            price=float(msg["p"]),
            amount=float(msg["q"]),
        )

    def _ticker(self, msg: Any, symbol: str, key: str, now_ns: int) -> None:
        # c last, o open, h/l, v base volume, q quote volume, P change in percent
        # (-> fraction); the 24 h ticker carries no bid/ask.
        self._ticker_fields.check(self, msg)
        e_time = msg.get("E")
        pct = msg.get("P")
        self.tables["ticker"].append(
            timestamp=int(e_time) * _MS if e_time else now_ns,
            local_timestamp=now_ns,
            symbol=symbol,
            last=float(msg["c"]),
            bid=_NAN,
            ask=_NAN,
            high=_f(msg.get("h")),
            low=_f(msg.get("l")),
            volume=_f(msg.get("v")),
            change=_NAN if pct in (None, "") else float(pct) / 100.0,
            open=_f(msg.get("o")),
            quote_volume=_f(msg.get("q")),
            bid_amount=_NAN,
            ask_amount=_NAN,
        )

    def _kline(self, msg: Any, symbol: str, key: str, now_ns: int) -> None:
        k = msg["k"]
        self._kline_push_fields.check(self, msg)
        self._kline_fields.check(self, k)
        self.tables["klines"].append(
            timestamp=int(k["t"]) * _MS,
            local_timestamp=now_ns,
            symbol=symbol,
            interval=parse_interval(str(k.get("i") or msg["e"].rpartition("_")[2])).name,
            open=float(k["o"]),
            high=float(k["h"]),
            low=float(k["l"]),
            close=float(k["c"]),
            volume=float(k["v"]),
            quote_volume=_f(k.get("q")),
        )

    def _depth(self, msg: Any, symbol: str, key: str, now_ns: int) -> None:
        # A full snapshot each push, without a time: timestamp NaT (receive time is
        # in local_timestamp only).
        e_time = msg.get("E")
        ts = int(e_time) * _MS if e_time else NO_TIME
        self._depth_fields.check(self, msg)
        bids = self._bids.levels(self, msg.get("bids") or [])
        asks = self._asks.levels(self, msg.get("asks") or [])
        levels = self.tables["depth"].writer("price", "amount")  # one call per side
        levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
               side="bid", rows=bids)  # fmt: skip
        levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
               side="ask", rows=asks)  # fmt: skip

    def _private_push(self, msg: dict[str, Any], now_ns: int) -> Sequence[Event]:
        what = msg.get("c")
        t = msg.get("T") or msg.get("E")
        ts = int(t) * _MS if t else now_ns
        try:
            if what == "BALANCE_UPDATE" and "balances" in self._private:
                self._balance_fields.check(self, msg)
                free, locked = float(msg["f"]), _f(msg.get("l"))
                self.tables["balances"].append(
                    timestamp=ts,
                    local_timestamp=now_ns,
                    coin=str(msg["a"]),
                    free=free,
                    locked=locked,
                    total=free + (0.0 if locked != locked else locked),
                )
                self.count(self._private["balances"])
                return NOTHING
            if what == "ORDER_UPDATE" and "orders" in self._private:
                filled = _f(msg.get("z"))
                quote = _f(msg.get("Z"))
                average = quote / filled if filled and quote == quote else _NAN
                self.tables["orders"].append(
                    timestamp=ts,
                    local_timestamp=now_ns,
                    symbol=str(msg["s"]),
                    order_id=str(msg["i"]),
                    client_order_id=msg.get("C"),
                    side=str(msg.get("S", "")).lower(),
                    type=str(msg.get("o", "")).lower(),
                    status=str(msg.get("X", "")).lower(),
                    price=_f(msg.get("p")),
                    amount=_f(msg.get("q")),
                    filled_amount=filled,
                    average_price=average,
                    fee=_f(msg.get("n")),
                    fee_currency=msg.get("N"),
                )
                self.count(self._private["orders"])
                return NOTHING
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read s_private {what} push: {exc!r}") from None
        self.counters.unrouted += 1
        return NOTHING

    def _ack(self, msg: dict[str, Any]) -> Sequence[Event]:
        self.counters.acks += 1
        failed = [str(t) for t in msg.get("topic") or () if t]
        code = msg.get("code")
        if self._login_id is not None and not failed:
            # Some servers ack LOGIN in the stream shape: code 0 accepted.
            self._login_id = None
            if code in (0, "0"):
                return (Ready(),)
            return (ServerError(f"LOGIN refused: {msg.get('msg')}", str(code), True, AuthError),)
        if failed or code not in (0, "0", None):
            text = (
                f"SUBSCRIBE failed for {len(failed)} topic(s): {', '.join(failed)}"
                if failed
                else "SUBSCRIBE refused"
            )
            if msg.get("msg"):
                text += f" ({msg['msg']})"
            return (ServerError(text, str(code), fatal=True, error=VenueError),)
        return NOTHING

    def _reply(self, msg: dict[str, Any]) -> Sequence[Event]:
        request_id = str(msg.get("id"))
        status = msg.get("status", 200)
        ok = status in (200, "200")
        events: list[Event] = []
        figures = parse_rate_limits(msg.get("rateLimits"))
        if figures:
            events.append(RateLimits(figures, pace=pace(figures)))
        if request_id in self._pings:
            self._pings.discard(request_id)
            if not ok:  # doc: a reply with another status is an error, not a pong
                err = reply_error(status, msg.get("error"))
                events.append(ServerError(f"ping refused (status {status}): {err}", str(status)))
                return events
            self.counters.pongs += 1
            return events
        if request_id == self._login_id:
            self._login_id = None
            if ok:
                events.append(Ready())
            else:
                err = reply_error(status, msg.get("error"))
                auth = err if isinstance(err, AuthError) else AuthError(str(status), str(err))
                events.append(ServerError(f"LOGIN refused: {auth.msg}", auth.code, True, AuthError))
            return events
        error = None if ok else reply_error(status, msg.get("error"))
        events.append(Reply(request_id, msg.get("result"), error))
        return events


#: Known trade and ticker pushes (NOTES.md: Binance-style short keys): anything else is
#: counted as drift (mdkit.venues.drift).
TRADE_FIELDS = {"e": "string", "E": "number", "s": "string", "t": "number|string",
                "p": "string", "q": "string", "T": "number", "m": "boolean"}  # fmt: skip
TICKER_FIELDS = {"e": "string", "E": "number", "s": "string",
                 **dict.fromkeys(("c", "o", "h", "l", "v", "q", "p", "P"), "string")}  # fmt: skip


#: BitTap spot as the engine sees it (see :mod:`mdkit.venues.base`).
DESCRIPTOR = Venue(
    key=VENUE,
    title="BitTap spot",
    endpoints={
        "public": Endpoint(WS_URL, "WS_URL"),
        # doc "Private Message Push": the same URL, after a signed LOGIN.
        "private": Endpoint(WS_URL, "PRIVATE_WS_URL", private=True),
    },
    credentials=("api_key", "secret_key"),
    channels={
        **{name: "public" for name in ("trades", "ticker", "klines", "book")},
        "balances": "private",
        "orders": "private",
    },
    intervals=INTERVAL_TOKENS,
    # REQUEST_WEIGHT 6000/min = 100 requests/s at weight 1: paced under it from the
    # first message; the reported figures slow it further. Topics per connection are
    # not documented: 200 keeps a reconnect's resubscription small.
    limits=Limits(messages_per_second=WEIGHT_PER_MINUTE / 60.0, subscriptions_per_connection=200),
    session=BittapSession,
    plan=plan,
    options={"scale": "depth price step of the book topics (default '0.01')"},
    silence_timeout=45.0,
    requests=REQUEST_METHODS,
    example_symbols=("BTC-USDT", "ETH-USDT"),
)
