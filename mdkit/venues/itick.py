"""iTick crypto WebSocket, market streams — sans-I/O.

Protocol: ``shared/protocols/itick-crypto-ws.txt``; real-server quirks from NOTES.md
("iTick crypto WebSocket") handled here and in :mod:`mdkit.venues.itick_wire` (its
constants, symbol codes and outgoing messages, re-exported here):

- authentication is the ``token`` handshake header (:func:`handshake_headers`); the
  server then sends ``{"code":1,"msg":"Connected Successfully"}`` and
  ``{"code":1,"resAc":"auth",...}``; older servers (``/cws``) took an in-band
  ``{"ac":"auth","params":"<token>"}`` instead (capture option ``auth="message"``).
  ``"auth failed"`` ends the capture at once with :class:`~mdkit.errors.AuthError`;
- the token is needed for public data too: the one endpoint is ``private``, so a
  capture without ``MDKIT_ITICK_TOKEN`` fails before connecting, naming it;
- on the WebSocket ``code`` 1 is ok and 0 a failure, but the doc's kline push
  carries ``"code":0`` and ``"msg":null``: pushes are recognised by their ``data``,
  never by ``code``; kline pushes may lack ``type`` (recognised by ``k``);
- pushes name ``ETH_USDT`` for a subscription to ``ETHUSDT`` (or ``ETHUSDT$BA``, the
  later code$region spelling): mapped back to the requested symbol;
- kline period codes 1=1m, 2=5m, 3=15m, 4=30m, 5=1h, 8=1d, 9=1w, 10=1M (NOTES.md;
  one doc version says code 3 is 10 min, the SDKs say 15 min);
- in tick and quote pushes ``ts`` is the **trading status** (0 normal, 1 suspended,
  2 delisted, 3 circuit breaker), not a time. No frame schema has a status column,
  so a non-zero status (and its return to 0) is reported once per change as a
  non-fatal :class:`~mdkit.venues.base.ServerError` (``cap.stats["server_errors"]``,
  and logged); the raw frames keep it;
- heartbeat ``{"ac":"ping","params":"<ms>"}`` answered by
  ``{"resAc":"pong","data":{"params":"<same>"}}``;
- one connection per token: a second connection disconnects the first. mdkit
  therefore captures everything of a venue over ONE connection
  (``Limits(connections=1)``), and a connection closed by the server with code 4000
  or a reason that says it was kicked ends the capture with a clear
  :class:`~mdkit.errors.VenueError` (code ``kicked``) instead of reconnecting, which
  would only kick the other client in turn. Other closes reconnect as usual;
- subscribe: the doc's example subscribes one type per message; mdkit first sends
  every type in one message (``"types":"tick,quote,depth"``, as the SDKs do). If the
  server refuses a combined message (``"cannot be resolved action"``), mdkit sends one
  message per type instead, and a type the server still refuses is reported (a
  non-fatal :class:`~mdkit.venues.base.ServerError` naming it) while the others go on.
  ``"exceeding the maximum subscription limit"`` (E003) is fatal;
- the one-connection rule (doc: "If another connection attempts to connect ... the
  current connection will be disconnected") names no close code: besides code 4000
  or a reason that says so, a close that comes again within
  :data:`DUEL_SECONDS` of each reconnect (:data:`DUEL_CLOSES` times in a row, same
  code) is read as that rule and ends the capture with a clear error instead of a
  reconnect duel with the other client.

What the vocabulary means here. iTick's ``quote`` is a last-price quote, not a best
bid/ask. The doc's quote has only ``s ld t v tu ts``, and in its example
``tu ≈ ld × v`` (3034 × 0.6186 ≈ 1876.83): ``v``/``tu`` read as the **last trade's size
and turnover**, not a 24 h volume. So:

- ``ticker`` ← iTick ``quote``: by default (capture option ``quote_fields="doc"``) only
  ``last`` (``ld``); ``v``/``tu`` are not written as ``volume``/``quote_volume`` (they
  are not 24 h figures; the raw frames keep them). ``quote_fields="sdk"`` also reads
  what the SDKs' quote type declares (``o h l chp`` → ``open high low change``,
  ``change`` = ``chp``/100) and ``v``/``tu`` as ``volume``/``quote_volume``;
- ``quotes`` ← best bid/ask (level 1 of each iTick ``depth`` push): a researcher who
  asks for quotes on any venue gets Tardis-style ``bid_price bid_amount ask_price
  ask_amount``, never a differently shaped table under the same name;
- ``book`` ← iTick ``depth`` (5 levels a side, each push a full snapshot);
- ``trades`` ← iTick ``tick`` (price ``ld``, amount ``v``). iTick sends no trade id and
  no side for crypto (``d`` is stock-only): ``id`` is missing (NA) and ``side`` NaN —
  left out, never invented;
- ``klines:<interval>`` ← ``kline@<code>``.

``book`` and ``quotes`` of one symbol share one ``depth`` subscription on the wire.
Depth pushes carry no time: their ``book`` and ``quotes`` rows have ``timestamp`` NaT
(the receive time is in ``local_timestamp`` only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import orjson

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
    Ready,
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    Venue,
    parse_channel,
)
from mdkit.venues.drift import Fields
from mdkit.venues.itick_wire import (
    BOOK_LEVELS,
    DEPTH_FIELDS,
    DUEL_CLOSES,
    DUEL_SECONDS,
    INTERVAL_TOKENS,
    KICK_CODES,
    KICK_WORDS,
    KLINE_FIELDS,
    KLINE_PUSH_FIELDS,
    LEVEL_FIELDS,
    PERIOD_NAMES,
    PING_INTERVAL,
    QUOTE_FIELDS_KNOWN,
    SDK_QUOTE,
    SILENCE_TIMEOUT,
    STATUS,
    TICK_FIELDS,
    VENUE,
    WIRE_TYPES,
    build_auth,
    build_ping,
    build_subscribe,
    clip,
    handshake_headers,
    itick_symbol,
    push_code,
    subscribe_error,
)

__all__ = [
    "VENUE",
    "WS_URL",
    "CHANNELS",
    "INTERVAL_TOKENS",
    "WIRE_TYPES",
    "BOOK_LEVELS",
    "STATUS",
    "DESCRIPTOR",
    "ItickSession",
    "build_auth",
    "build_ping",
    "build_subscribe",
    "handshake_headers",
    "plan",
    "push_code",
]

log = logging.getLogger("mdkit.venues.itick")

#: doc "Connect to the cluster" (header ``token``).
WS_URL = "wss://api.itick.org/crypto"
CHANNELS = ("trades", "ticker", "quotes", "book", "klines")
#: ``quote_fields`` option: which quote fields are read (see the module notes).
QUOTE_FIELDS = ("doc", "sdk")
_AUTH_MODES = ("header", "message")


def plan(
    symbols: Sequence[str], channels: Sequence[str], options: Mapping[str, Any]
) -> list[Subscription]:
    """Validate symbols, channels and options and return the subscriptions (no I/O).

    Parameters
    ----------
    symbols : sequence of str
        ``BTCUSDT``, ``btc/usdt``, ``BTC-USDT`` or ``BTCUSDT$BA`` (code$region, sent as
        is); compacted to upper case.
    channels : sequence of str
        ``trades ticker quotes book klines klines:<interval>`` (intervals: 1min 5min
        15min 30min 60min 1day 1week 1month).
    options : mapping
        ``auth``: ``"header"`` (default, the ``token`` handshake header) or
        ``"message"`` (also the older in-band ``{"ac":"auth"}``, for ``/cws`` servers).
        ``quote_fields``: ``"doc"`` (default: the doc's quote fields only) or ``"sdk"``
        (also ``o h l chp``, and ``v``/``tu`` as 24 h volume and turnover).

    Returns
    -------
    list of Subscription
        One per (channel, symbol), all on the one ``public`` endpoint.

    Raises
    ------
    UnknownChannel, UnknownInterval, InvalidArgument
        Naming the valid choices.
    """
    unknown = [k for k in options if k not in ("auth", "quote_fields")]
    if unknown:
        raise InvalidArgument(
            f"{VENUE} capture options: auth, quote_fields; not {', '.join(unknown)}"
        )
    quote_fields = options.get("quote_fields", "doc")
    if quote_fields not in QUOTE_FIELDS:
        raise InvalidArgument(
            f"{VENUE}: quote_fields must be one of {', '.join(QUOTE_FIELDS)}, not {quote_fields!r}"
        )
    auth = options.get("auth", "header")
    if auth not in _AUTH_MODES:
        raise InvalidArgument(
            f"{VENUE}: auth must be one of {', '.join(_AUTH_MODES)}, not {auth!r}"
        )
    if not symbols:
        raise InvalidArgument(
            f"{VENUE}: give at least one symbol (every iTick channel is per symbol)"
        )
    codes = list(dict.fromkeys(itick_symbol(s) for s in symbols))
    out: dict[str, Subscription] = {}
    for text in channels:
        kind, interval, arg = parse_channel(text, DESCRIPTOR)
        if arg and not (kind == "book" and arg == str(BOOK_LEVELS)):
            raise InvalidArgument(
                f"{VENUE}: channel {text!r} takes no ':' argument "
                f"(books are {BOOK_LEVELS} levels a side: 'book' or 'book:{BOOK_LEVELS}')"
            )
        if interval is not None:
            wire = f"kline@{INTERVAL_TOKENS[interval.name]}"
        else:
            wire = WIRE_TYPES[kind]
        for code in codes:
            name = f"{wire} {code}" + (" top" if kind == "quotes" else "")
            opts = {"type": wire, "auth": auth, "quote_fields": quote_fields}
            out.setdefault(name, Subscription(kind, code, name, "public", interval, opts))
    return list(out.values())


class ItickSession(Session):
    """One iTick connection (see :mod:`mdkit.venues.base` and the module docstring).

    Examples
    --------
    A quote push (doc "After successful subscription")::

        {"code": 1,
         "data": {"s": "ETH_USDT",       # pushed spelling of ETHUSDT -> symbol ETHUSDT
                  "ld": 3034,            # last price -> ticker.last
                  "t": 1731690011321,    # ms -> timestamp
                  "v": 0.6186,           # volume -> ticker.volume
                  "tu": 1876.832564,     # turnover -> ticker.quote_volume
                  "ts": 0,               # trading STATUS (0 normal), not a time
                  "type": "quote"}}      # -> the ticker table

    becomes one ``ticker`` row.
    """

    timer_interval: ClassVar[float] = PING_INTERVAL

    def __init__(self, setup: SessionSetup) -> None:
        super().__init__(setup)
        tables = setup.tables
        self._tables = tables
        # (pushed code, wire type) -> [(subscription key, requested symbol, interval)]
        self.routes: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        self._auth = "header"
        self._sdk_quote = False
        for sub in setup.subscriptions:
            wire = str(sub.options["type"])
            self._auth = str(sub.options.get("auth", self._auth))
            self._sdk_quote = sub.options.get("quote_fields") == "sdk"
            table = sub.kind if sub.kind != "book" else "depth"
            interval = sub.interval.name if sub.interval else ""
            self.routes.setdefault((push_code(sub.symbol), wire), []).append(
                (sub.key, sub.symbol, table + (f" {interval}" if interval else ""))
            )
        self._tick_fields = Fields("tick", TICK_FIELDS, ("tu", "ts", "d", "te"))
        self._quote_fields = Fields("quote", QUOTE_FIELDS_KNOWN, ("tu", "ts", *SDK_QUOTE))
        self._depth_fields = Fields("depth", DEPTH_FIELDS)
        self._level_fields = Fields("depth_level", LEVEL_FIELDS)
        self._kline_push_fields = Fields("kline_push", KLINE_PUSH_FIELDS, ("type",))
        self._kline_fields = Fields("kline", KLINE_FIELDS)
        self._handlers: dict[str, Callable[[Any, list[tuple[str, str, str]], int], None]] = {
            "tick": self._tick,
            "quote": self._quote,
            "depth": self._depth,
        }
        self.authenticated = False
        self._status: dict[tuple[str, str], int] = {}
        self._pings: set[str] = set()
        # Subscribe messages awaiting their answer, in order: (types, split form).
        self._asked: list[tuple[str, bool]] = []
        self._opened_ns = 0
        # Closes of this capture's earlier connections (the one-connection rule).
        self._closes: list[tuple[int | None, bool]] = setup.counters.shared.setdefault(
            "itick closes", []
        )

    # -- outgoing -----------------------------------------------------------------------
    def open(self, now_ns: int) -> Sequence[Event]:
        """Header auth: wait for the server's auth message; ``auth="message"``: send it."""
        self._opened_ns = now_ns
        token = self.credentials.get("token")
        if not token:
            return (
                ServerError(
                    f"{VENUE}: no token; set MDKIT_ITICK_TOKEN or pass token=",
                    code="E002",
                    fatal=True,
                    error=AuthError,
                ),
            )
        if self._auth == "message":
            return (Send(build_auth(token)),)
        return NOTHING

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """One ``subscribe`` message per group of symbols (see :func:`build_subscribe`)."""
        return self._send_subscribe(subscriptions, split=False)

    def _send_subscribe(
        self, subscriptions: Sequence[Subscription], *, split: bool
    ) -> Sequence[Event]:
        messages = build_subscribe(subscriptions, split=split)
        self._asked += [(str(_loads(m)["types"]), split) for m in messages]
        return [Send(m) for m in messages]

    def timer(self, now_ns: int) -> Sequence[Event]:
        """The ``{"ac":"ping"}`` heartbeat (once authenticated)."""
        if not self.authenticated:
            return NOTHING
        params = str(now_ns // _MS)
        self._pings.add(params)
        return (Send(build_ping(now_ns // _MS), urgent=True),)

    def closed(self, reason: str, code: int | None, now_ns: int) -> Sequence[Event]:
        """A connection kicked by another one with this token ends the capture."""
        closes = self._closes
        closes.append((code, self.authenticated and now_ns - self._opened_ns < DUEL_SECONDS * 1e9))
        recent = closes[-DUEL_CLOSES:]
        duel = len(recent) == DUEL_CLOSES and all(short and c == code for c, short in recent)
        if duel:
            return (
                ServerError(
                    f"{VENUE}: the server closed each of the last {DUEL_CLOSES} connections "
                    f"within {DUEL_SECONDS:.0f} s of its start (close code {code}, {reason}): "
                    "read as iTick's one-connection rule (one connection per token; another "
                    "client with this token takes over). Stop the other client, or give "
                    "this capture its own token",
                    code="kicked",
                    fatal=True,
                    error=VenueError,
                ),
            )
        if code in KICK_CODES or KICK_WORDS.search(reason):
            return (
                ServerError(
                    f"{VENUE}: disconnected by the server ({reason}): another connection "
                    "with the same token took over (iTick allows one connection per token). "
                    "Stop the other client, or give this capture its own token",
                    code="kicked",
                    fatal=True,
                    error=VenueError,
                ),
            )
        return NOTHING

    # -- incoming -----------------------------------------------------------------------
    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`."""
        try:
            msg = _loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"{VENUE}: frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        data = msg.get("data")
        res = msg.get("resAc")
        if type(data) is dict and res is None:
            return self._push(data, now_ns)
        if res == "pong":
            params = data.get("params") if type(data) is dict else None
            if str(params) in self._pings:
                self._pings.discard(str(params))
                self.counters.pongs += 1
            else:
                self.counters.other += 1  # a pong for no ping of ours (doc: must match)
            return NOTHING
        ok = msg.get("code") in (1, "1")
        text = str(msg.get("msg") or "")
        if res == "auth":
            if ok:
                self.authenticated = True
                self.counters.acks += 1
                return (Ready(),)
            return (
                ServerError(
                    f"{VENUE}: {text or 'auth failed'}: the token was refused "
                    "(check MDKIT_ITICK_TOKEN)",
                    code="E002",
                    fatal=True,
                    error=AuthError,
                ),
            )
        if res == "subscribe":
            types, split = self._asked.pop(0) if self._asked else ("", False)
            if ok:
                self.counters.acks += 1
                return NOTHING
            if "limit" in text:
                return (subscribe_error(text),)
            if not split and "," in types:
                # The combined form was refused: one type per message (the doc's form).
                wanted = [s for s in self.subscriptions if s.options["type"] in types.split(",")]
                log.info("%s: combined subscribe refused (%s); one type per message", VENUE, text)
                return self._send_subscribe(wanted, split=True)
            if split:
                return (
                    ServerError(
                        f"{VENUE}: subscribe to type {types!r} refused: {text or 'failed'} "
                        "(the other types go on)",
                        code="subscribe",
                    ),
                )
            return (subscribe_error(text),)
        if ok:  # "Connected Successfully" and other notices
            self.counters.other += 1
            return NOTHING
        if res is not None or text:
            return (ServerError(f"{VENUE}: {clip(msg)}", code=str(res) if res else None),)
        self.counters.other += 1
        return NOTHING

    def _push(self, data: Any, now_ns: int) -> Sequence[Event]:
        try:
            code = push_code(str(data["s"]))
            if "k" in data:
                wire = str(data.get("type") or f"kline@{data['t']}")
                routes = self.routes.get((code, wire))
                if routes is None:
                    self.counters.unrouted += 1
                    return NOTHING
                self._kline_push_fields.check(self, data)
                self._kline(data["k"], wire, routes, now_ns)
            else:
                wire = str(data["type"])
                routes = self.routes.get((code, wire))
                if routes is None:
                    self.counters.unrouted += 1
                    return NOTHING
                self._handlers[wire](data, routes, now_ns)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read push: {exc!r}") from None
        self.count(routes[0][0])
        per_channel = self.counters.per_channel
        for key, _, _ in routes[1:]:  # book and quotes share one depth push
            per_channel[key] = per_channel.get(key, 0) + 1
        if "ts" in data and wire in ("tick", "quote"):
            return self._status_change(routes[0][1], wire, data["ts"])
        return NOTHING

    def _status_change(self, symbol: str, wire: str, value: Any) -> Sequence[Event]:
        status = int(value)
        key = (symbol, wire)
        before = self._status.get(key, 0)
        self._status[key] = status
        if status == before:
            return NOTHING
        name = STATUS.get(status, f"status {status}")
        log.info("%s: %s trading status %d (%s)", VENUE, symbol, status, name)
        return (ServerError(f"{VENUE}: {symbol} trading status {status} ({name})", code="status"),)

    def _tick(self, data: Any, routes: list[tuple[str, str, str]], now_ns: int) -> None:
        self._tick_fields.check(self, data)
        t = data.get("t")
        ts = int(t) * _MS if t is not None else now_ns
        # No trade id and no side for crypto ticks (d is stock-only): NA / NaN.
        self._tables["trades"].append(
            timestamp=ts,
            local_timestamp=now_ns,
            symbol=routes[0][1],
            id=-1,
            side=None,
            price=float(data["ld"]),
            amount=float(data["v"]),
        )

    def _quote(self, data: Any, routes: list[tuple[str, str, str]], now_ns: int) -> None:
        self._quote_fields.check(self, data)
        t = data.get("t")
        get = data.get if self._sdk_quote else _doc_quote(data)
        chp = get("chp")
        self._tables["ticker"].append(
            timestamp=int(t) * _MS if t is not None else now_ns,
            local_timestamp=now_ns,
            symbol=routes[0][1],
            last=float(data["ld"]),
            bid=_NAN,  # not in an iTick quote
            ask=_NAN,
            high=_f(get("h")),
            low=_f(get("l")),
            volume=_f(get("v")),
            change=_NAN if chp is None else float(chp) / 100.0,
            open=_f(get("o")),
            quote_volume=_f(get("tu")),
            bid_amount=_NAN,
            ask_amount=_NAN,
        )

    def _depth(self, data: Any, routes: list[tuple[str, str, str]], now_ns: int) -> None:
        # Levels are objects {po, p, v, o}; ordered by po (1 = best). No time is sent.
        self._depth_fields.check(self, data)
        self._level_fields.items(self, data.get("b"))
        self._level_fields.items(self, data.get("a"))
        bids = sorted(data.get("b") or (), key=_position)
        asks = sorted(data.get("a") or (), key=_position)
        for _, symbol, table in routes:
            if table == "depth":
                levels = self._tables["depth"].writer("price", "amount")
                for side, rows in (("bid", bids), ("ask", asks)):
                    levels(timestamp=NO_TIME, local_timestamp=now_ns, symbol=symbol,
                           is_snapshot=True, side=side,
                           rows=[(level["p"], level["v"]) for level in rows])  # fmt: skip
            else:
                bid = bids[0] if bids else None
                ask = asks[0] if asks else None
                self._tables["quotes"].append(
                    timestamp=NO_TIME,  # no time in a depth push
                    local_timestamp=now_ns,
                    symbol=symbol,
                    bid_price=_NAN if bid is None else float(bid["p"]),
                    bid_amount=_NAN if bid is None else float(bid["v"]),
                    ask_price=_NAN if ask is None else float(ask["p"]),
                    ask_amount=_NAN if ask is None else float(ask["v"]),
                )

    def _kline(self, k: Any, wire: str, routes: list[tuple[str, str, str]], now_ns: int) -> None:
        interval = PERIOD_NAMES[wire.partition("@")[2]]
        self._kline_fields.check(self, k)
        self._tables["klines"].append(
            timestamp=int(k["t"]) * _MS,
            local_timestamp=now_ns,
            symbol=routes[0][1],
            interval=interval,
            open=float(k["o"]),
            high=float(k["h"]),
            low=float(k["l"]),
            close=float(k["c"]),
            volume=float(k["v"]),
            quote_volume=_f(k.get("tu")),
        )


def _doc_quote(data: Any) -> Callable[[str], Any]:
    """The doc's quote fields only: ``ld`` (``v``/``tu`` are the last trade's, not 24 h)."""
    return lambda name: None


def _position(level: Any) -> int:
    return int(level.get("po", 0))


#: iTick crypto as the capture engine sees it (see :mod:`mdkit.venues.base`).
DESCRIPTOR = Venue(
    key=VENUE,
    title="iTick crypto",
    # private=True: the token is required for every connection, public data included.
    endpoints={"public": Endpoint(WS_URL, "WS_URL", private=True)},
    credentials=("token",),
    channels={name: "public" for name in CHANNELS},
    intervals=INTERVAL_TOKENS,
    # One connection per token (doc: a second connection disconnects the first). The
    # plan's subscription limit is not documented (the server answers E003): no
    # per-connection cap here, so everything shares the one connection.
    limits=Limits(connections=1),
    session=ItickSession,
    plan=plan,
    options={
        "auth": "'header' (token handshake header, default) or 'message' (in-band auth)",
        "quote_fields": "'doc' (the doc's quote fields, default) or 'sdk' (also o/h/l/chp)",
    },
    silence_timeout=SILENCE_TIMEOUT,
    handshake_headers=handshake_headers,
    example_symbols=("BTCUSDT", "ETHUSDT"),
)
