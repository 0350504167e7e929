"""Bitget v2 WebSocket, public and private streams — sans-I/O.

Frames in, rows out: :class:`BitgetSession` reads every frame of one connection,
appends rows to the capture's tables and returns events; :func:`plan` validates a
request before any connection; the ``build_*`` functions return the text messages.
Nothing here opens a socket or touches an event loop.

Protocol: ``shared/protocols/bitget-v2-ws.txt`` ("Connection instructions", "Login",
"Subscription Instructions"). Real-server quirks handled here (``NOTES.md``, Bitget v2):

- data envelope ``{"action","arg":{"instType","channel","instId"},"data":[...],"ts"}``;
  ``data[i].ts`` is a string, prices and sizes are strings; the instrument is only in
  ``arg.instId``;
- keepalive is the bare text ``ping`` → ``pong`` (not JSON), at least every 30 s; the
  server closes a client that stops pinging after ~2 min even while it pushes;
- candle channels are spelt ``candle1H``/``candle1D``/``candle1W`` (``candle1h`` is
  error 30016); rows are eight strings and carry no closed flag;
- ``books`` is a snapshot then updates (size ``"0"`` deletes); its integrity is either
  the documented CRC32 ``checksum`` (signed int32 over the top 25 levels interleaved,
  exact wire strings) or, on recent servers, the ``seq``/``pseq`` chain (an update's
  ``pseq`` is the previous ``seq``; seq may exceed 2**53, parsed exactly); a break
  resubscribes that one channel and the fresh snapshot ends the gap;
- ``books1/5/15`` are full snapshots on every push;
- errors ``{"event":"error","code":30001,...}`` with a numeric code (:data:`ERRORS`);
  login ``code`` may be the number 0 or the string "0";
- limits: 10 messages/s per connection (pings count), 1000 channels per connection,
  4096 bytes of args per request, 240 subscribe requests per hour, 100 connections.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Mapping, Sequence
from itertools import islice
from typing import Any

from mdkit.data.wire import MS as _MS
from mdkit.data.wire import dumps as _dumps
from mdkit.data.wire import loads as _loads
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, RateLimitError
from mdkit.venues import bitget_wire as wire
from mdkit.venues.base import (
    NOTHING,
    Endpoint,
    Event,
    Limits,
    Ready,
    Recovered,
    Resubscribe,
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    Venue,
    parse_channel,
)
from mdkit.venues.bitget_budget import SubscribeBudget
from mdkit.venues.bitget_wire import (  # public here too
    ERRORS,
    DecodeError,
    book_checksum,
    build_login,
    decode_full_books,
    decode_push,
    decode_trade_push,
    decode_trades,
    full_book_rows,
    login_sign,
    parse_symbols,
    trade_rows,
)

__all__ = [
    "VENUE",
    "WS_URL",
    "PRIVATE_WS_URL",
    "REST_URL",
    "INST_TYPES",
    "INTERVAL_TOKENS",
    "BOOK_DEPTHS",
    "ERRORS",
    "LIMITS",
    "DESCRIPTOR",
    "BitgetSession",
    "plan",
    "login_sign",
    "build_login",
    "build_requests",
    "book_checksum",
    "parse_symbols",
]

VENUE = "bitget"
#: doc "Domain WebSocket API".
WS_URL = "wss://ws.bitget.com/v2/ws/public"
PRIVATE_WS_URL = "wss://ws.bitget.com/v2/ws/private"
#: NOTES.md "Symbol lists": the public REST host.
REST_URL = "https://api.bitget.com"
#: Instrument types (capture option ``inst_type``); spot is the default.
INST_TYPES = ("SPOT", "USDT-FUTURES", "COIN-FUTURES", "USDC-FUTURES")
#: Canonical interval → candle channel suffix (NOTES.md: uppercase H/D/W; the doc's
#: candle channel list). The ``...utc`` variants share canonical names with these.
INTERVAL_TOKENS: dict[str, str] = {
    "1min": "1m",
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "60min": "1H",
    "4h": "4H",
    "6h": "6H",
    "12h": "12H",
    "1day": "1D",
    "3day": "3D",
    "1week": "1W",
    "1month": "1M",
}
#: ``book:<n>`` → the snapshot channel ``books<n>``; ``book`` alone is ``books``.
BOOK_DEPTHS = (1, 5, 15)
#: doc "Connection instructions" and NOTES.md.
LIMITS = Limits(
    messages_per_second=10,
    subscriptions_per_connection=1000,
    bytes_per_request=4096,
    subscribe_requests_per_hour=240,
    connections=100,
)
#: The server closes after ~2 min without a ping; the doc asks for one every 30 s.
PING_SECONDS = 20.0

_PRIVATE = {"orders": "orders", "fills": "fill", "balances": "account"}
_SYMBOL = re.compile(r"^[A-Z0-9_]{2,40}$")


# -- planning ------------------------------------------------------------------------------
def plan(
    symbols: Sequence[str], channels: Sequence[str], options: Mapping[str, Any]
) -> list[Subscription]:
    """Validate symbols, channels and options; return the subscriptions, before any connection.

    Parameters
    ----------
    symbols : sequence of str
        Any spelling (``BTCUSDT``, ``btc/usdt``); sent upper-case without separators.
        Private channels need none.
    channels : sequence of str
        ``trades ticker klines[:<interval>] book book:1 book:5 book:15`` and the private
        ``orders fills balances`` (``account``).
    options : mapping
        ``inst_type``: one of :data:`INST_TYPES` (default ``SPOT``).

    Returns
    -------
    list of Subscription
        One per (channel, symbol); ``options`` carries the subscribe ``arg``.

    Raises
    ------
    InvalidArgument, UnknownChannel, UnknownInterval
        Naming the valid choices, or the limit a request would break.
    """
    unknown = [k for k in options if k != "inst_type"]
    if unknown:
        raise InvalidArgument(f"{VENUE}: unknown option(s) {unknown}; valid: inst_type")
    inst_type = str(options.get("inst_type", "SPOT")).upper()
    if inst_type not in INST_TYPES:
        raise InvalidArgument(
            f"{VENUE}: inst_type {options.get('inst_type')!r} is not one of {', '.join(INST_TYPES)}"
        )
    compact = [_compact(s) for s in symbols]
    out: dict[str, Subscription] = {}
    for text in channels:
        kind, interval, arg = parse_channel(text, DESCRIPTOR)
        if kind in _PRIVATE:
            if arg:
                raise InvalidArgument(f"{VENUE}: channel {text!r} takes no ':' argument")
            name = _PRIVATE[kind]
            wire = {"instType": inst_type, "channel": name}
            wire["coin" if name == "account" else "instId"] = "default"
            out.setdefault(name, Subscription(kind, "", name, "private", None, {"arg": wire}))
            continue
        if kind == "book":
            if arg and (not arg.isdigit() or int(arg) not in BOOK_DEPTHS):
                raise InvalidArgument(
                    f"{VENUE}: book depth {arg!r} is not offered; valid: book (full, "
                    f"incremental), {', '.join(f'book:{n}' for n in BOOK_DEPTHS)}"
                )
            name = f"books{arg}"
        elif kind == "klines":
            assert interval is not None
            name = "candle" + INTERVAL_TOKENS[interval.name]
        elif kind == "ticker":
            name = "ticker"
        else:
            name = "trade"
        for symbol in compact:
            wire = {"instType": inst_type, "channel": name, "instId": symbol}
            key = f"{name} {symbol}"
            out.setdefault(key, Subscription(kind, symbol, key, "public", interval, {"arg": wire}))
    subs = list(out.values())
    _check_limits(subs)
    return subs


def _compact(symbol: Any) -> str:
    from mdkit.data.symbols import compact_symbol

    text = compact_symbol(symbol).upper() if isinstance(symbol, str) else ""
    if not _SYMBOL.match(text):
        raise InvalidArgument(
            f"{VENUE}: {symbol!r} is not a symbol spelling; write it like 'BTCUSDT' or 'BTC/USDT'"
        )
    return text


def _check_limits(subs: Sequence[Subscription]) -> None:
    """Fail before connecting when a capture would break a documented limit (doc, NOTES)."""
    per = LIMITS.subscriptions_per_connection or 1000
    by_endpoint: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_endpoint.setdefault(sub.endpoint, []).append(sub)
    connections = sum(math.ceil(len(v) / per) for v in by_endpoint.values())
    if LIMITS.connections is not None and connections > LIMITS.connections:
        raise InvalidArgument(
            f"{VENUE}: {len(subs)} channels need {connections} connections ({per} channels each), "
            f"past the limit of {LIMITS.connections} connections per IP; capture fewer"
        )
    for group in by_endpoint.values():
        for i in range(0, len(group), per):
            requests = build_requests("subscribe", group[i : i + per])
            hourly = LIMITS.subscribe_requests_per_hour or len(requests)
            if len(requests) > hourly:
                raise InvalidArgument(
                    f"{VENUE}: one connection would need {len(requests)} subscribe requests, "
                    f"past the limit of {hourly} per hour"
                )


# -- messages ------------------------------------------------------------------------------
def build_requests(op: str, subscriptions: Sequence[Subscription]) -> list[str]:
    """``subscribe``/``unsubscribe`` requests, each carrying as many channels as fit.

    The doc: "the total length of multiple channels cannot exceed 4096 bytes at a
    time" — the JSON of ``args`` stays within :attr:`Limits.bytes_per_request`.

    Raises
    ------
    InvalidArgument
        If one channel alone is longer than the limit.
    """
    limit = LIMITS.bytes_per_request or 4096
    out: list[str] = []
    batch: list[str] = []
    size = 2  # the brackets of args
    for sub in subscriptions:
        item = _dumps(sub.options["arg"])
        if len(item) + 2 > limit:
            raise InvalidArgument(
                f"{VENUE}: the channel {sub.channel!r} alone is past {limit} bytes per request"
            )
        if batch and size + len(item) + 1 > limit:
            out.append(f'{{"op":"{op}","args":[{",".join(batch)}]}}')
            batch, size = [], 2
        size += len(item) + (1 if batch else 0)
        batch.append(item)
    if batch:
        out.append(f'{{"op":"{op}","args":[{",".join(batch)}]}}')
    return out


# -- the session ---------------------------------------------------------------------------
class BitgetSession(Session):
    """One Bitget v2 connection, public or private: sans-I/O (see :mod:`mdkit.venues.base`).

    A private connection logs in first (fresh timestamp on every connection) and
    subscribes after the login ack; a public one subscribes at once. A text ``ping``
    goes out every :data:`PING_SECONDS`.

    Examples
    --------
    A trade push (text JSON)::

        {"action": "update",                          # "snapshot": the ~30-trade backfill
         "arg": {"instType": "SPOT", "channel": "trade",
                 "instId": "BTCUSDT"},                # routes to trades BTCUSDT
         "data": [{"ts": "1788335044055",            # trade time, ms, a string -> ns
                   "price": "77600.75",              # -> price
                   "size": "0.001352",               # base units -> amount
                   "side": "buy",                    # taker side
                   "tradeId": "1478949856623706112"}],   # -> id (int64)
         "ts": 1788335044056}                        # envelope time (a number)

    becomes one row of the ``trades`` table.
    """

    timer_interval = PING_SECONDS

    def __init__(self, setup: SessionSetup) -> None:
        super().__init__(setup)
        self.routes: dict[tuple[Any, Any], wire.Route] = {}
        for sub in setup.subscriptions:
            arg = sub.options["arg"]
            key = (arg["channel"], arg.get("instId") or arg.get("coin", ""))
            self.routes[key] = wire.Route(sub, setup.tables)
        self._tables = tables = setup.tables
        self._trades = tables["trades"].append
        self.private = setup.venue.endpoints[setup.endpoint].private
        # Every subscribe of this connection slot (reconnects too) counts toward 240/h.
        slot = (setup.endpoint, tuple(s.channel for s in setup.subscriptions))
        limit = LIMITS.subscribe_requests_per_hour or 1 << 30
        self._budget = SubscribeBudget.of(setup.counters.shared, slot, limit)
        self._shapes = wire.Shapes()
        self._trade_due = self._shapes.trade.due
        self._now = 0
        self._guess: Any = None  # the whole-push decoder of the previous typed push

    # -- sending ---------------------------------------------------------------------
    def open(self, now_ns: int) -> Sequence[Event]:
        """Login on the private endpoint (fresh timestamp); public needs none.

        Raises
        ------
        AuthError
            If a credential is missing (the values are never shown).
        """
        self._now = now_ns
        if not self.private:
            return (Ready(),)
        creds = self.credentials
        missing = [n for n in ("api_key", "secret_key", "passphrase") if n not in creds]
        if missing:
            raise AuthError("credentials", f"{VENUE}: login needs {', '.join(missing)}")
        login = build_login(creds["api_key"], creds["passphrase"], creds["secret_key"], now_ns)
        return (Send(login),)

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Subscribe requests of up to 4096 bytes of args each (counted: 240 an hour)."""
        requests = build_requests("subscribe", subscriptions)
        if not self._budget.spend(len(requests), self._now):
            return (self._over_budget(len(requests), fatal=True),)
        return [Send(m) for m in requests]

    def resubscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Unsubscribe then subscribe these channels only: the server sends a fresh snapshot."""
        requests = build_requests("subscribe", subscriptions)
        if not self._budget.spend(len(requests), self._now):
            return (self._over_budget(len(requests), fatal=False),)
        return [Send(m) for m in build_requests("unsubscribe", subscriptions) + requests]

    def _over_budget(self, requests: int, *, fatal: bool) -> ServerError:
        return ServerError(
            f"{VENUE}: {requests} more subscribe request(s) would pass the venue's limit of "
            f"{self._budget.limit} per hour (reconnects and resyncs count); "
            + ("stopping" if fatal else "not resubscribing; the gap stays open"),
            code="30006",
            fatal=fatal,
            error=RateLimitError,
        )

    def timer(self, now_ns: int) -> Sequence[Event]:
        """The text ``ping`` (doc "Connection instructions": at least every 30 s)."""
        return (Send("ping", urgent=True),)

    # -- receiving -------------------------------------------------------------------
    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`. Trade and
        ``books1/5/15`` pushes are read by typed decoders (:mod:`.bitget_wire`); what
        they do not read exactly goes to the general reader (orjson), the reference."""
        self._now = now_ns
        if frame == b"pong":  # bare text, not JSON (NOTES.md)
            self.counters.pongs += 1
            return NOTHING
        guess = self._guess
        if guess is not None:
            try:
                push = guess(frame)
                arg = push.arg
                route = self.routes.get((arg.channel, arg.instId or arg.coin))
            except DecodeError:
                route = None
            if route is not None and route.typed is guess:
                return self._typed(route, push.action, push.data, frame, now_ns)
        try:
            envelope = decode_push(frame)  # `data` stays raw JSON
        except DecodeError:
            return self._general(frame, now_ns)
        arg = envelope.arg
        if envelope.action is None or arg is None or not envelope.data:
            return self._general(frame, now_ns)
        route = self.routes.get((arg.channel, arg.instId or arg.coin))
        if route is None:
            self.counters.unrouted += 1
            return NOTHING
        if route.typed is None:
            data = _loads(memoryview(envelope.data))
            try:
                return self._data(route, envelope.action, data, now_ns)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise ProtocolError(f"{VENUE}: cannot read {route.key} push: {exc!r}") from None
        try:
            items = (decode_full_books if route.full else decode_trades)(envelope.data)
        except DecodeError:  # drift or an odd value: the general reader reports it
            return self._general(frame, now_ns)
        self._guess = route.typed
        return self._typed(route, envelope.action, items, frame, now_ns)

    def receive_many(self, frames: Sequence[bytes], times: Sequence[int], start: int) -> int:
        """Read a run of one-trade ``update`` pushes (see :meth:`Session.receive_many
        <mdkit.venues.base.Session.receive_many>`): each frame's own typed decode, row,
        count and drift sampling as :meth:`receive` gives them, without its per-frame
        dispatch. Frames are decoded one by one: joined into one JSON document, a frame
        that is not one whole value could pass for part of its neighbour."""
        decode = self._guess
        if decode is not decode_trade_push:  # this connection's pushes are not trades
            return 0
        routes, write, per_channel = self.routes, self._trades, self.counters.per_channel
        last: Any = None  # the arg of the run's route (pushes mostly repeat one)
        route: Any = None
        run = done = 0
        for frame, now_ns in zip(islice(frames, start, None), islice(times, start, None)):  # noqa: B905
            try:
                push = decode(frame)
            except DecodeError:
                break
            data, arg = push.data, push.arg
            if len(data) != 1 or push.action != "update":
                break
            if arg != last:
                found = routes.get((arg.channel, arg.instId or arg.coin))
                if found is None or found.typed is not decode or found.seen:
                    break
                if run:
                    per_channel[route.key] = per_channel.get(route.key, 0) + run
                last, route, run = arg, found, 0
            item = data[0]
            try:  # a row refused (out of bounds, odd side) is left to receive() to report
                write(timestamp=item.ts * _MS, local_timestamp=now_ns, symbol=route.symbol,
                      id=item.tradeId, side=item.side, price=item.price,
                      amount=item.size)  # fmt: skip
            except (TypeError, ValueError, OverflowError):
                break
            run += 1
            done += 1
        if run:  # (a route found for a frame then left unread counts nothing)
            per_channel[route.key] = per_channel.get(route.key, 0) + run
        if done:
            self.counters.data_messages += done
            self._now = times[start + done - 1]
            trade = self._shapes.trade  # the frames receive() would check (after the rows)
            for i in trade.due_many(done):
                trade.check(self, _loads(frames[start + i])["data"][0], types=True)
        return done

    def _typed(
        self, route: wire.Route, action: str, items: Any, frame: bytes, now_ns: int
    ) -> Sequence[Event]:
        try:
            shapes = self._shapes
            if route.full:
                if shapes.book.due():  # types on the first frame and every TYPE_EVERY-th
                    shapes.levels(self, _loads(frame)["data"][0], types=True)
                full_book_rows(route, items[0], now_ns)
            else:
                if shapes.trade.due():
                    for item in _loads(frame)["data"]:
                        shapes.trade.check(self, item, types=True)
                trade_rows(route, action == "snapshot", items, now_ns, self._trades)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read {route.key} push: {exc!r}") from None
        self.count(route.key)
        return NOTHING

    def _general(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Any frame, read with orjson: control frames, and pushes the typed path left."""
        try:
            msg = _loads(frame)
        except ValueError as exc:
            raise ProtocolError(f"{VENUE}: frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        action = msg.get("action")
        if action is None:
            return self._control(msg)
        arg = msg.get("arg") or {}
        route = self.routes.get((arg.get("channel"), arg.get("instId") or arg.get("coin", "")))
        if route is None:
            self.counters.unrouted += 1
            return NOTHING
        try:
            return self._data(route, action, msg["data"], now_ns)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read {route.key} push: {exc!r}") from None

    def _control(self, msg: dict[str, Any]) -> Sequence[Event]:
        # The doc's unsubscribe answer is {"op":"unsubscribe","args":[...]} (no "event").
        event = msg.get("event") or msg.get("op")
        if event in ("subscribe", "unsubscribe"):
            self.counters.acks += 1
            return NOTHING
        if event == "login":
            if str(msg.get("code", "0")) == "0":
                self.counters.acks += 1
                return (Ready(),)
            return (wire.server_error(msg),)
        if event == "error":
            error = wire.server_error(msg)
            arg = msg.get("arg")
            if error.code == "30006" and isinstance(arg, dict):
                # A subscribe refused for rate: back off and ask again (the engine paces
                # resubscribes within the hourly budget); the channel is in a gap until then.
                route = self.routes.get((arg.get("channel"), arg.get("instId") or ""))
                if route is not None:
                    return (error, *self._broken(route, "subscribe rate-limited (30006)"))
            return (error,)
        self.counters.other += 1
        return NOTHING

    def _data(self, route: wire.Route, action: Any, data: Any, now_ns: int) -> Sequence[Event]:
        """Rows of one push read as plain JSON (the general reader)."""
        kind = route.kind
        tables = self._tables
        if kind == "trades":
            check = self._shapes.trade.check
            trade_rows(route, action == "snapshot", data, now_ns, self._trades,
                       lambda item: check(self, item))  # fmt: skip
        elif route.full:
            full_book_rows(route, data[0], now_ns, self._shapes.levels(self, data[0]))
        elif kind == "book":
            return self._book(route, action == "snapshot", data[0], now_ns)
        elif kind == "ticker":
            check = self._shapes.ticker.check
            wire.ticker_rows(route, data, now_ns, tables["ticker"].append, lambda i: check(self, i))
        else:  # klines and the private channels (check: their drift report)
            rows = wire.kline_rows if kind == "klines" else wire.private_rows
            rows(route, data, now_ns, tables[kind].append, self._shapes.own(self, route))
        self.count(route.key)
        return NOTHING

    def _book(self, route: wire.Route, snapshot: bool, item: Any, now_ns: int) -> Sequence[Event]:
        ts = int(item["ts"]) * _MS
        if snapshot:
            route.bids.clear()
            route.asks.clear()
            route.waiting = False
        elif route.waiting:
            return NOTHING  # a broken book: wait for the fresh snapshot
        pseq = item.get("pseq")
        if not snapshot and pseq is not None and route.seq is not None and pseq != route.seq:
            return self._broken(route, f"seq gap: pseq {pseq} != previous seq {route.seq}")
        route.seq = item.get("seq")
        sides = self._shapes.levels(self, item)
        if not wire.book_levels(route, snapshot, item, sides, ts, now_ns):
            self.count(route.key)
            return self._broken(route, f"checksum mismatch ({item.get('checksum')})")
        self.count(route.key)
        if snapshot and route.recovering:
            route.recovering = False
            return (Recovered((route.sub,)),)
        return NOTHING

    def _broken(self, route: wire.Route, reason: str) -> Sequence[Event]:
        route.bids.clear()
        route.asks.clear()
        route.seq = None
        route.waiting = route.recovering = True
        return (Resubscribe((route.sub,), f"{route.sub.channel}: {reason}"),)


#: Bitget v2 as the capture engine sees it (see :mod:`mdkit.venues.base`).
DESCRIPTOR = Venue(
    key=VENUE,
    title="Bitget v2",
    endpoints={
        "public": Endpoint(WS_URL, "WS_URL"),
        "private": Endpoint(PRIVATE_WS_URL, "PRIVATE_WS_URL", private=True),
        "rest": Endpoint(REST_URL, "REST_URL"),
    },
    credentials=("api_key", "secret_key", "passphrase"),
    channels={
        "trades": "public",
        "ticker": "public",
        "klines": "public",
        "book": "public",
        "orders": "private",
        "fills": "private",
        "balances": "private",
    },
    intervals=INTERVAL_TOKENS,
    limits=LIMITS,
    session=BitgetSession,
    plan=plan,
    options={"inst_type": f"instrument type: {', '.join(INST_TYPES)} (default SPOT)"},
    # A ping every 20 s is answered by a pong: 45 s without any frame is a dead link.
    silence_timeout=45.0,
    symbol_list=wire.symbol_list,
    example_symbols=("BTCUSDT", "ETHUSDT"),
    rest=importlib.import_module("mdkit.venues.bitget_rest").REST,  # spot REST (companion)
)
