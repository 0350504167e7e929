"""Crypto.com Exchange v1 WebSocket (ChainUP kline-api), market streams — sans-I/O.

Frames in, rows out: :func:`decode` reads one received frame, :class:`CryptocomRouter`
appends its rows into the capture's :class:`~mdkit.data.frames.StreamTables` and says
what the frame was; the ``build_*`` functions return the text messages to send.
Nothing here opens a socket or touches an event loop.

Protocol: ``shared/protocols/cryptocom-v1-rest-ws.md`` section "WebSocket API".
Real-server quirks handled here (``NOTES.md``, Crypto.com v1 WebSocket):

- every server frame is **binary gzip**, pings included; some family servers send
  text frames: both are read;
- acks ``{"event_rep":"subed","status":"ok"}``; some servers send no ack and push
  with ``"event_rep":""`` (the router keys on ``channel`` + ``tick``, not on acks);
- depth pushes name the bid side ``buys``; full books replace the book, the
  incremental form ``{"side","price","volume"}`` sets one level (volume 0 deletes);
- ``{"ping": n}`` → ``{"pong": n}`` with the same n, 13-digit ms or 10-digit seconds;
- the doc gives no ping period (the sandbox's old 5 s was its own choice; a captured
  server of the family pinged every 10 s): a connection is dropped after
  :data:`SILENCE_TIMEOUT` s without a frame, or 3 × the longest ping period seen on it
  if longer (:attr:`~mdkit.venues.base.Session.silence_floor`); the capture option
  ``silence_timeout=`` sets it outright;
- kline ``tick.id`` is the bar open in **seconds**; ``review`` values are strings;
  numbers may be strings, sides may be UPPERCASE, ``ts`` may be a string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from itertools import islice
from typing import Any

import orjson

from mdkit.data.tables import Tables
from mdkit.data.timeparse import INTERVALS, Interval
from mdkit.data.wire import MS as _MS
from mdkit.data.wire import NAN as _NAN
from mdkit.data.wire import NO_TIME
from mdkit.data.wire import dumps as _dumps
from mdkit.data.wire import inflate as _inflate
from mdkit.data.wire import loads as _loads
from mdkit.data.wire import to_float as _f
from mdkit.errors import InvalidArgument, ProtocolError
from mdkit.venues import cryptocom as rest
from mdkit.venues import cryptocom_wire as wire
from mdkit.venues.base import (
    NOTHING,
    Endpoint,
    Event,
    Limits,
    Reply,
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    SymbolQuery,
    Venue,
    parse_channel,
)
from mdkit.venues.cryptocom import REST_URL, VENUE, WS_URL
from mdkit.venues.cryptocom_wire import (
    BOOK_SIDES,
    DecodeError,
    build_pong,
    build_req_review,
    build_subscribe,
    build_unsubscribe,
    decode,
    decode_trade_push,
    trade_rows,
)
from mdkit.venues.cryptocom_wire import clip as _clip
from mdkit.venues.cryptocom_wire import epoch_ms as _ms

__all__ = [
    "VENUE",
    "WS_URL",
    "CHANNELS",
    "INTERVAL_TOKENS",
    "KLINE_PAGE",
    "TRADES_TOP",
    "BOOK_LEVELS",
    "DESCRIPTOR",
    "CryptocomSession",
    "channel_name",
    "parse_channel_name",
    "decode",
    "build_subscribe",
    "build_unsubscribe",
    "build_req_klines",
    "build_req_trades",
    "build_req_review",
    "build_pong",
    "plan",
]

#: Vocabulary channels offered, all on the one public endpoint (``quotes`` has no v1
#: channel: use ``book``).
CHANNELS = ("trades", "ticker", "klines", "book")
#: Canonical interval → channel token (doc "Subscribe to new k-line data"): all eight.
INTERVAL_TOKENS: dict[str, str] = {name: name for name in INTERVALS}
#: doc "Request k-line data history": at most 300 bars per ``req``.
KLINE_PAGE = 300
#: doc "Request last 200 trades": ``top`` at most 200.
TRADES_TOP = 200
#: Levels per side asked for in a depth subscription (doc example).
BOOK_LEVELS = 150
#: The doc gives no ping period; a family server pinged every 10 s (NOTES.md) and servers
#: drop after ~3 unanswered: 3 x 10 s of silence is a dead link.
SILENCE_TIMEOUT = 30.0
#: The silence allowed is at least this many times the longest ping period seen.
PING_PERIODS = 3.0

#: Every trade channel's name ends so (``market_<symbol>_trade_ticker``).
_TRADE = b"_trade_ticker"
_CHANNEL = re.compile(
    r"^market_(?P<symbol>[a-z0-9_]+?)_(?P<what>ticker|trade_ticker|"
    r"kline_(?P<interval>[0-9a-z]+)|depth_step(?P<step>[0-2]))$"
)


def channel_name(kind: str, symbol: str, interval: Interval | None = None, step: int = 0) -> str:
    """The venue channel of a vocabulary channel: ``market_btcusdt_trade_ticker`` etc."""
    if kind == "trades":
        return f"market_{symbol}_trade_ticker"
    if kind == "ticker":
        return f"market_{symbol}_ticker"
    if kind == "klines":
        if interval is None:
            raise ValueError("klines need an interval")
        return f"market_{symbol}_kline_{INTERVAL_TOKENS[interval.name]}"
    if kind == "book":
        return f"market_{symbol}_depth_step{step}"
    raise ValueError(f"no Crypto.com v1 channel for {kind!r}")


def parse_channel_name(channel: str) -> tuple[str, str, str | None] | None:
    """``market_btcusdt_kline_1min`` → ``("klines", "btcusdt", "1min")``; None if unknown."""
    match = _CHANNEL.match(channel)
    if match is None:
        return None
    what = match["what"]
    if what == "ticker":
        kind = "ticker"
    elif what == "trade_ticker":
        kind = "trades"
    elif what.startswith("kline_"):
        kind = "klines"
    else:
        kind = "book"
    return kind, match["symbol"], match["interval"] or match["step"]


_SYMBOL = re.compile(r"^[a-z0-9_]{2,40}$")


def plan(
    symbols: Sequence[str], channels: Sequence[str], options: Mapping[str, Any]
) -> list[Subscription]:
    """Validate symbols and channels and return the subscriptions, before any connection.

    Parameters
    ----------
    symbols : sequence of str
        Any accepted spelling (``btcusdt``, ``BTC/USDT``); compacted to ``btcusdt``.
    channels : sequence of str
        Vocabulary channels: ``trades ticker klines klines:<interval> book``.
    options : mapping
        None are accepted (the mapping must be empty).

    Returns
    -------
    list of Subscription
        One per (channel, symbol), in the order given.

    Raises
    ------
    UnknownChannel, UnknownInterval, InvalidArgument
        Naming the valid choices.
    """
    if options:
        raise InvalidArgument(f"{VENUE} takes no capture options; got {', '.join(options)}")
    compact = [_compact(s) for s in symbols]
    out: dict[str, Subscription] = {}
    for text in channels:
        kind, interval, arg = parse_channel(text, DESCRIPTOR)
        if arg:
            raise InvalidArgument(
                f"{VENUE}: channel {text!r} takes no ':' argument (books are {BOOK_LEVELS} "
                "levels per side)"
            )
        for symbol in compact:
            name = channel_name(kind, symbol, interval)
            options_ = {"asks": BOOK_LEVELS, "bids": BOOK_LEVELS} if kind == "book" else {}
            out.setdefault(name, Subscription(kind, symbol, name, "public", interval, options_))
    return list(out.values())


def _compact(symbol: str) -> str:
    from mdkit.data.symbols import compact_symbol

    compact = compact_symbol(symbol) if isinstance(symbol, str) else ""
    if not _SYMBOL.match(compact):
        raise InvalidArgument(
            f"{VENUE}: {symbol!r} is not a symbol spelling; write it like 'btcusdt' or 'BTC/USDT'"
        )
    return compact


def build_req_klines(
    symbol: str,
    interval: Interval,
    *,
    since: int | None = None,
    end_idx: int | None = None,
    page_size: int = KLINE_PAGE,
    cb_id: str | None = None,
) -> str:
    """A kline history ``req`` (doc "Request k-line data history").

    Parameters
    ----------
    symbol : str
        Compact symbol.
    interval : Interval
        Bar interval.
    since, end_idx : int, optional
        Bar open times in epoch **seconds** (sent as strings, as in the doc).
    page_size : int
        Bars wanted, at most 300.

    Raises
    ------
    ValueError
        If ``page_size`` is not in 1..300.
    """
    if not 1 <= page_size <= KLINE_PAGE:
        raise ValueError(f"page_size must be within 1..{KLINE_PAGE}, not {page_size}")
    params: dict[str, Any] = {
        "channel": channel_name("klines", symbol, interval),
        "cb_id": cb_id or symbol,
        "pageSize": page_size,
    }
    if since is not None:
        params["since"] = str(int(since))
    if end_idx is not None:
        params["endIdx"] = str(int(end_idx))
    return _dumps({"event": "req", "params": params})


def build_req_trades(symbol: str, top: int = TRADES_TOP) -> str:
    """The last ``top`` (≤ 200) trades ``req``."""
    if not 1 <= top <= TRADES_TOP:
        raise ValueError(f"top must be within 1..{TRADES_TOP}, not {top}")
    channel = channel_name("trades", symbol)
    return _dumps({"event": "req", "params": {"channel": channel, "cb_id": symbol, "top": top}})


class CryptocomSession(Session):
    """One Crypto.com v1 connection: sans-I/O (see :mod:`mdkit.venues.base`).

    No login; subscriptions go out at once. Server pings are answered with the same
    value. ``req`` answers (kline history, last trades, ``review``) go into the same
    tables as pushes and come back as :class:`~mdkit.venues.base.Reply` events keyed
    by their ``cb_id``.

    Examples
    --------
    A trade push (gzip-compressed on the wire)::

        {"channel": "market_btcusdt_trade_ticker",   # routes to trades btcusdt
         "ts": 1506584998239,                        # server time, ms (may be a string)
         "tick": {"id": 12121, "ts": 1506584998239,
                  "data": [{"id": 12121,             # trade id (some servers omit it)
                            "side": "buy",           # taker side; "SELL" on some servers
                            "price": 32.233,         # number or string
                            "vol": 232,              # amount in base units -> `amount`
                            "amount": 323,           # quote total (not kept)
                            "ts": 1506584998239}]}}  # trade time, ms -> ns

    becomes one row of the ``trades`` table.
    """

    def __init__(self, setup: SessionSetup) -> None:
        super().__init__(setup)
        self._last_ping_ns = 0
        self._shapes = wire.Shapes()
        self._trade_due = self._shapes.trade.due
        tables: Tables = setup.tables
        self._trade_append = tables["trades"].append
        self._tables = tables
        self.routes: dict[str, tuple[Callable[[Any, Any, str, int], None], str, str]] = {}
        handlers: Mapping[str, Callable[[Any, Any, str, int], None]] = {
            "trades": self._trades,
            "ticker": self._ticker,
            "book": self._book,
        }
        self._intervals: dict[str, str] = {}
        for sub in setup.subscriptions:
            if sub.kind == "klines":
                self.routes[sub.channel] = (self._kline, sub.symbol, sub.key)
                self._intervals[sub.channel] = sub.interval.name if sub.interval else "1min"
            else:
                self.routes[sub.channel] = (handlers[sub.kind], sub.symbol, sub.key)
        self._pending: dict[str, str] = {}  # cb_id -> request id
        #: Trade channel → (symbol, key): pushes read by the typed decoder.
        self._trade_routes = {
            s.channel: (s.symbol, s.key) for s in setup.subscriptions if s.kind == "trades"
        }

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """One ``sub`` message per subscription."""
        return [Send(m) for m in build_subscribe(subscriptions)]

    def resubscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """``unsub`` then ``sub``: the server answers a ``sub`` with a fresh full book."""
        return [Send(m) for m in build_unsubscribe(subscriptions) + build_subscribe(subscriptions)]

    def request(self, method: str, params: Mapping[str, Any], request_id: str) -> Sequence[Event]:
        """``klines`` (symbol, interval, start_ns, limit ≤ 300) or ``trades`` (symbol, limit).

        Raises
        ------
        InvalidArgument
            For another method.
        """
        if method == "klines":
            since = int(params["start_ns"]) // 1_000_000_000
            message = build_req_klines(
                params["symbol"],
                params["interval"],
                since=since,
                page_size=int(params.get("limit", KLINE_PAGE)),
                cb_id=request_id,
            )
        elif method == "trades":
            message = build_req_trades(params["symbol"], int(params.get("limit", TRADES_TOP)))
            self._pending[f"trades {params['symbol']}"] = request_id
        else:
            raise InvalidArgument(f"{VENUE} requests: klines, trades; not {method!r}")
        return (Send(message),)

    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`. A trade push is read
        by the typed decoder (:mod:`.cryptocom_wire`); what it does not read exactly,
        and every other frame, goes to the general reader (orjson), the reference."""
        # gzip inflated with a bound (a compression bomb is a ProtocolError)
        text = _inflate(frame, 31, self.setup.max_frame) if frame[:2] == b"\x1f\x8b" else frame
        if self._trade_routes and _TRADE in text:  # a trade channel's name is in the frame
            try:
                push = decode_trade_push(text)
            except DecodeError:  # drift, odd values, or not a trade push
                return self._general(text, now_ns)
            channel = push.channel
            route = self._trade_routes.get(channel)
            if route is not None:
                try:
                    if self._trade_due():  # types on the first frame and every TYPE_EVERY-th
                        for item in _loads(text)["tick"]["data"]:
                            self._shapes.trade.check(self, item, types=True)
                    default = _ms(push.ts, now_ns // _MS)
                    trade_rows(push.tick.data, route[0], default, now_ns, self._trade_append)
                except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                    raise ProtocolError(f"{VENUE}: cannot read {channel} push: {exc!r}") from None
                counters, key = self.counters, route[1]  # Session.count, inlined
                counters.data_messages += 1
                counters.per_channel[key] = counters.per_channel.get(key, 0) + 1
                return NOTHING
        return self._general(text, now_ns)

    def receive_many(self, frames: Sequence[bytes], times: Sequence[int], start: int) -> int:
        """Read a run of one-trade pushes (see :meth:`Session.receive_many
        <mdkit.venues.base.Session.receive_many>`): each frame inflated and decoded on its
        own, its row, count and drift sampling as :meth:`receive` gives them."""
        routes, write, limit = self._trade_routes, self._trade_append, self.setup.max_frame
        per_channel, done, texts = self.counters.per_channel, 0, list[bytes]()
        for frame, now_ns in zip(islice(frames, start, None), islice(times, start, None)):  # noqa: B905
            try:
                text = _inflate(frame, 31, limit) if frame[:2] == b"\x1f\x8b" else frame
                push = decode_trade_push(text)
            except (DecodeError, ProtocolError):  # not a trade push, or a bomb: receive()
                break
            route = routes.get(push.channel)
            items = push.tick.data
            if route is None or len(items) != 1:  # a failed row must not leave others behind
                break
            item, (symbol, key) = items[0], route
            ts, tid = item.ts, item.id
            try:  # the frame's ts is read whether used or not, as receive() reads it
                default = _ms(push.ts, now_ns // _MS)
                write(timestamp=(default if ts is None else ts) * _MS,
                      local_timestamp=now_ns, symbol=symbol, id=-1 if tid is None else tid,
                      side=wire.SIDES.get(item.side) or wire.side_of(item.side),
                      price=item.price, amount=item.vol)  # fmt: skip
            except (TypeError, ValueError, OverflowError):  # receive() reports it
                break
            per_channel[key] = per_channel.get(key, 0) + 1
            texts.append(text)
            done += 1
        if done:
            self.counters.data_messages += done
            trade = self._shapes.trade  # the frames receive() would check (after the rows)
            for i in trade.due_many(done):
                for item in _loads(texts[i])["tick"]["data"]:
                    trade.check(self, item, types=True)
        return done

    def _general(self, text: bytes, now_ns: int) -> Sequence[Event]:
        """Any frame (inflated), read with orjson: the reference reader."""
        try:
            msg = _loads(text)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"{VENUE}: frame is neither gzip JSON nor JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        tick = msg.get("tick")
        channel = msg.get("channel")
        if tick is not None and channel is not None:
            route = self.routes.get(channel)
            if route is None:
                self.counters.unrouted += 1
                return NOTHING
            parse, symbol, key = route
            try:
                parse(tick, msg, channel, now_ns)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise ProtocolError(f"{VENUE}: cannot read {channel} push: {exc!r}") from None
            self.count(key)
            return NOTHING
        if "ping" in msg:
            self.counters.pings += 1
            if self._last_ping_ns:
                period = (now_ns - self._last_ping_ns) / 1e9
                self.silence_floor = max(self.silence_floor, PING_PERIODS * period)
            self._last_ping_ns = now_ns
            return (Send(build_pong(msg["ping"]), urgent=True),)
        rep = msg.get("event_rep")
        status = msg.get("status", "ok")
        if status not in ("ok", None, ""):
            return (ServerError(_clip(msg), code=str(msg.get("code") or "") or None),)
        if rep == "subed":
            self.counters.acks += 1
            return NOTHING
        if rep == "rep":
            return self._reply(msg, now_ns)
        if "pong" in msg:
            self.counters.pongs += 1
            return NOTHING
        self.counters.other += 1
        return NOTHING

    # -- pushes ---------------------------------------------------------------------
    def _trades(self, tick: Any, msg: Any, channel: str, now_ns: int) -> None:
        # Items may lack `ts` (then the frame's `ts`, else the receive time) and `id`.
        # Family servers (Bitrue, live capture in tests/samples) send a 24 h summary
        # without `data` on the trade channel right after the ack: no trades in it.
        if "data" not in tick and "vol" in tick:
            return
        default = _ms(msg.get("ts"), now_ns // _MS)
        self._trade_rows(tick["data"], self.routes[channel][1], default, now_ns)

    def _trade_rows(self, items: Any, symbol: str, default_ms: int, now_ns: int) -> int:
        check = self._shapes.trade.check
        return trade_rows(items, symbol, default_ms, now_ns, self._trade_append,
                          lambda item: check(self, item))  # fmt: skip

    def _ticker(self, tick: Any, msg: Any, channel: str, now_ns: int) -> None:
        ts = _ms(tick.get("ts", msg.get("ts")), now_ns // _MS)
        self._ticker_row(self.routes[channel][1], tick, ts * _MS, now_ns)

    def _ticker_row(self, symbol: str, tick: Any, ts_ns: int, now_ns: int) -> None:
        # `close` is the last price, `vol` base volume, `amount` quote turnover,
        # `rose` the 24 h change as a fraction; v1 tickers carry no bid/ask.
        self._shapes.ticker.check(self, tick)
        get = tick.get
        self._tables["ticker"].append(
            timestamp=ts_ns,
            local_timestamp=now_ns,
            symbol=symbol,
            last=_f(get("close")),
            bid=_NAN,
            ask=_NAN,
            high=_f(get("high")),
            low=_f(get("low")),
            volume=_f(get("vol")),
            change=_f(get("rose")),
            open=_f(get("open")),
            quote_volume=_f(get("amount")),
            bid_amount=_NAN,
            ask_amount=_NAN,
        )

    def _kline(self, tick: Any, msg: Any, channel: str, now_ns: int) -> None:
        self._kline_row(self.routes[channel][1], self._intervals[channel], tick, now_ns)

    def _kline_row(self, symbol: str, interval: str, item: Any, now_ns: int) -> None:
        # tick.id is the bar open in SECONDS (NOTES.md); repeated pushes update the bar.
        self._shapes.kline.check(self, item)
        self._tables["klines"].append(
            timestamp=int(item["id"]) * 1_000_000_000,
            local_timestamp=now_ns,
            symbol=symbol,
            interval=interval,
            open=float(item["open"]),
            high=float(item["high"]),
            low=float(item["low"]),
            close=float(item["close"]),
            volume=float(item["vol"]),
            quote_volume=_f(item.get("amount")),
        )

    def _book(self, tick: Any, msg: Any, channel: str, now_ns: int) -> None:
        symbol = self.routes[channel][1]
        ts = _ms(msg.get("ts"), now_ns // _MS) * _MS
        depth, shapes = self._tables["depth"], self._shapes
        if "asks" in tick or "buys" in tick or "bids" in tick:
            # Full book: replaces the previous one (`buys` on WS, `bids` tolerated).
            shapes.book.check(self, tick)
            bids = shapes.bids.levels(self, tick.get("buys") or tick.get("bids") or [])
            asks = shapes.asks.levels(self, tick.get("asks") or [])
            levels = depth.writer("price", "amount")  # one call per side
            levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
                   side="bid", rows=bids)  # fmt: skip
            levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
                   side="ask", rows=asks)  # fmt: skip
            return
        shapes.update.check(self, tick)
        # Incremental: one level, volume 0 deletes ("Deep Port (High Frequency)").
        depth.append(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=False,
                     side=BOOK_SIDES[tick["side"].lower()], price=float(tick["price"]),
                     amount=float(tick["volume"]))  # fmt: skip

    # -- req replies ------------------------------------------------------------------
    def _reply(self, msg: Any, now_ns: int) -> Sequence[Event]:
        channel = str(msg.get("channel") or "")
        data = msg.get("data")
        cb_id = str(msg.get("cb_id") or "")
        try:
            if channel == "review" and isinstance(data, dict):
                # The doc's review reply carries no time: NaT, not the receive time.
                sent = msg.get("ts")
                for symbol, values in data.items():
                    row_ns = NO_TIME if sent is None else _ms(sent, 0) * _MS
                    self._ticker_row(str(symbol).lower(), values, row_ns, now_ns)
                self.count("ticker review")
                return (Reply(cb_id or "review", len(data)),)
            named = parse_channel_name(channel)
            if named is None or not isinstance(data, list):
                self.counters.other += 1
                return (Reply(cb_id, 0),) if cb_id else NOTHING
            kind, symbol, token = named
            if kind == "klines":
                for item in data:
                    self._kline_row(symbol, token or "1min", item, now_ns)
                self.count(f"klines:{token} {symbol}")
                return (Reply(cb_id, len(data)),)
            if kind == "trades":
                default = _ms(msg.get("ts"), now_ns // _MS)
                n = self._trade_rows(data, symbol, default, now_ns)
                self.count(f"trades {symbol}")
                request_id = self._pending.pop(f"trades {symbol}", cb_id)
                return (Reply(request_id, n),)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read {channel} reply: {exc!r}") from None
        self.counters.other += 1
        return NOTHING


def _symbol_list(options: Mapping[str, Any]) -> list[SymbolQuery]:
    def parse(body: bytes) -> list[str]:
        return [str(s) for s in rest.parse_symbols(rest.parse_envelope(body)).index]

    return [SymbolQuery("rest", "/v1/symbols", {}, parse)]


#: Crypto.com v1 as the capture engine sees it (see :mod:`mdkit.venues.base`).
DESCRIPTOR = Venue(
    key=VENUE,
    title="Crypto.com Exchange v1",
    endpoints={
        "public": Endpoint(WS_URL, "WS_URL"),
        "rest": Endpoint(REST_URL, "REST_URL"),
    },
    credentials=("api_key", "secret_key"),
    channels={name: "public" for name in CHANNELS},
    intervals=INTERVAL_TOKENS,
    # No documented WS limits; 1000 channels per connection keeps frames per
    # connection well within one core.
    limits=Limits(subscriptions_per_connection=1000),
    session=CryptocomSession,
    plan=plan,
    silence_timeout=SILENCE_TIMEOUT,
    symbol_list=_symbol_list,
    page_sizes={"klines": KLINE_PAGE},
    example_symbols=("btcusdt", "ethusdt"),
    rest=rest.REST,
)
