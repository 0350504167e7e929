"""Richamster WebSocket streams (ticker, order book, trades, the user's orders) — sans-I/O.

Protocol: ``shared/protocols/richamster-ws.txt`` (one endpoint,
``wss://richamster.com/ws/public/v1/stream/``; subscribe ``{"channel","pair"}``).
Real-server quirks handled here (``NOTES.md``, Richamster WebSocket):

- acks are ``{"type":"success"|"error","message":...}``, one per subscribe message,
  in order; only the success text names the channel and pair, so error acks are
  matched to the oldest unanswered subscribe (doc "Responses");
- **data frames carry no channel name**, only ``pair``: see "Routing" below;
- ``side`` is ``buying``/``selling`` → ``bid``/``ask`` in books, ``buy``/``sell`` in
  trades and orders. The doc's schema types ``side`` as a *number* while its examples
  are strings: both are accepted, numbers by :data:`NUMERIC_SIDES` (0 buying, 1 selling:
  an assumption, no numeric example is published);
- **what a trade's side means is unstated**: ``trading`` sends "messages about closed
  orders", so ``side`` is the side of the order that closed, which may be the resting
  (maker) order rather than the taker. mdkit writes it to the ``side`` column as sent
  (``selling`` → ``sell``); do not read it as the aggressor without checking against
  the book (a sell printed at the ask was a resting sell hit by a buyer);
- **the book has no snapshot message** (doc: "you'll receive updates"). The frames
  that arrive right after an ``order_book`` subscribe (the *burst*: the levels the
  venue holds) are written as one snapshot (``is_snapshot`` true, every row with the
  receive time of the burst's first frame, so :meth:`~mdkit.capture.Capture.book`
  rebuilds a two-sided book at once); later frames are updates. A subscription that
  gets no burst within :data:`BURST_WAIT` seconds of its ack is logged once at WARNING
  (the rebuilt book then holds only levels changed since);
- **no event time** in ticker or book frames: their rows have ``timestamp`` NaT; the
  receive time is in ``local_timestamp`` only;
- ``created_at``/``closed_at`` are unix **seconds as strings** → epoch ns;
- the doc's ticker example subscribes with channel ``trading`` (and its
  ``user_orders`` example too): a doc error; mdkit subscribes with ``ticker`` and
  ``user_orders``;
- ``user_orders`` needs ``"token"`` in the subscribe message (credential ``token``,
  ``MDKIT_RICHAMSTER_TOKEN``); a refused one is an :class:`~mdkit.errors.AuthError`.

Routing. Documented data frames differ by keys: a ticker has ``last``/``first``, a
trade has ``created_at``/``closed_at``, a book level has ``unit_price`` without them.
A ``user_orders`` frame is a trade frame plus ``pk``: the only shapes that overlap,
and a server that ever adds a ``pk`` to its trades would turn trades into orders.
So the public channels are routed by shape on one connection, and ``user_orders``
lives on its own connection (endpoint ``private``, same URL), where every frame is
an order. The symbol comes from the frame's ``pair``. Connections needed for N pairs
× C channels: 1 (public, any N and C ≤ 3, up to :data:`SUBSCRIPTIONS_PER_CONNECTION`
subscriptions each) + 1 if ``orders`` is asked — e.g. 2 for 5 pairs × 4 channels
(20 subscriptions); one connection per subscription would need 20. Routing by
connection alone (one channel kind per connection) would need 4 and buy nothing
for the public channels, whose shapes do not overlap.

Pairs are written ``KRB/UAH``; ``krb/uah``, ``KRB-UAH`` and ``KRB_UAH`` are accepted
and sent as ``KRB/UAH``. ``KRBUAH`` is refused (base and quote cannot be split
without a symbol list, which the venue does not publish over WebSocket).

Channels: the vocabulary ``ticker book trades orders`` or Richamster's own names
``ticker order_book trading user_orders``.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    Venue,
    parse_channel,
)
from mdkit.venues.drift import Fields

__all__ = [
    "VENUE",
    "WS_URL",
    "CHANNELS",
    "VENUE_CHANNELS",
    "SUBSCRIPTIONS_PER_CONNECTION",
    "SILENCE_TIMEOUT",
    "NUMERIC_SIDES",
    "BURST_WAIT",
    "BURST_GAP",
    "DESCRIPTOR",
    "RichamsterSession",
    "normalise_pair",
    "build_subscribe",
    "plan",
]

VENUE = "richamster"
#: doc: the one WebSocket endpoint (public and ``user_orders`` alike).
WS_URL = "wss://richamster.com/ws/public/v1/stream/"
#: Vocabulary channel → Richamster channel (doc "Channels").
CHANNELS: dict[str, str] = {
    "ticker": "ticker",
    "book": "order_book",
    "trades": "trading",
    "orders": "user_orders",
}
#: Richamster's own channel names, accepted as the user may copy them from the doc.
VENUE_CHANNELS: dict[str, str] = {v: k for k, v in CHANNELS.items()}
#: No documented limit; 100 keeps one connection's frames well within one core.
SUBSCRIPTIONS_PER_CONNECTION = 100
#: No keepalive in the doc and pushes only on change: a thin pair (or a user_orders
#: connection before the user trades) is quiet for minutes without being dead.
SILENCE_TIMEOUT = 300.0

#: A numeric ``side`` (the doc's schema says number; its examples say strings).
NUMERIC_SIDES: dict[int, str] = {0: "buying", 1: "selling"}
#: Seconds after an ``order_book`` ack within which the first level must come for the
#: frames to count as the subscribe burst (the book's snapshot).
BURST_WAIT = 0.25
#: A burst ends at a pause longer than this (seconds) or at a level it already holds.
BURST_GAP = 0.5

#: Known frames (doc "Channels"; ``side`` a string or, per the schema, a number): anything
#: else is counted as drift (mdkit.venues.drift).
_N = "number|string"
TRADE_FIELDS = {"created_at": _N, "closed_at": _N, "side": _N, "volume": _N,
                "unit_price": _N, "sum": _N, "pair": "string"}  # fmt: skip
BOOK_FIELDS = {k: v for k, v in TRADE_FIELDS.items() if not k.endswith("_at")}
TICKER_FIELDS = {"pair": "string", **dict.fromkeys(("last", "first", "high", "low", "volume"), _N)}
#: A ``user_orders`` frame: a trade frame plus the order's ``pk`` (doc "user_orders");
#: ``closed_at`` may be null (an open order, read as open; the doc shows a closed one).
ORDER_FIELDS = {**TRADE_FIELDS, "closed_at": _N + "|null", "pk": "number"}

_log = logging.getLogger("mdkit.venues.richamster")
_PAIR = re.compile(r"^\s*([A-Za-z0-9]{1,16})\s*[/_-]\s*([A-Za-z0-9]{1,16})\s*$")
_ACK = re.compile(r'channel "(?P<channel>[^"]*)" and currency pair "(?P<pair>[^"]*)"')
_TRADE_SIDES = {"buying": "buy", "selling": "sell", "buy": "buy", "sell": "sell"}
_BOOK_SIDES = {"buying": "bid", "selling": "ask", "buy": "bid", "sell": "ask"}
_S = 1_000_000_000


def normalise_pair(symbol: Any) -> str:
    """``krb/uah``, ``KRB-UAH``, ``KRB_UAH`` → ``KRB/UAH``.

    Raises
    ------
    InvalidArgument
        For anything else, with the accepted spelling.
    """
    match = _PAIR.match(symbol) if isinstance(symbol, str) else None
    if match is None:
        raise InvalidArgument(
            f"{VENUE}: {symbol!r} is not a pair spelling; write it like 'KRB/UAH' "
            "(BASE/QUOTE; '-' or '_' also accepted)"
        )
    return f"{match[1].upper()}/{match[2].upper()}"


def plan(
    symbols: Sequence[str], channels: Sequence[str], options: Mapping[str, Any]
) -> list[Subscription]:
    """Validate pairs and channels and return the subscriptions, before any connection.

    Parameters
    ----------
    symbols : sequence of str
        Pairs (``KRB/UAH``; see :func:`normalise_pair`).
    channels : sequence of str
        ``ticker book trades orders`` or ``ticker order_book trading user_orders``.
    options : mapping
        None are accepted.

    Returns
    -------
    list of Subscription
        One per (channel, pair); ``orders`` on the ``private`` endpoint.

    Raises
    ------
    UnknownChannel, InvalidArgument
        Naming the valid choices.
    """
    if options:
        raise InvalidArgument(f"{VENUE} takes no capture options; got {', '.join(options)}")
    pairs = [normalise_pair(s) for s in symbols]
    if not pairs:
        raise InvalidArgument(f"{VENUE}: every channel is per pair; give pairs like 'KRB/UAH'")
    out: dict[str, Subscription] = {}
    for text in channels:
        given: Any = text
        if isinstance(text, str):
            head, colon, rest = text.strip().partition(":")
            own = VENUE_CHANNELS.get(head.strip().lower())
            given = own + colon + rest if own else text
        kind, _, arg = parse_channel(given, DESCRIPTOR)
        if arg:
            raise InvalidArgument(
                f"{VENUE}: channel {text!r} takes no ':' argument (the venue has one book "
                "depth and no kline channel)"
            )
        endpoint = "private" if kind == "orders" else "public"
        for pair in pairs:
            name = f"{CHANNELS[kind]} {pair}"
            out.setdefault(name, Subscription(kind, pair, name, endpoint))
    return list(out.values())


def build_subscribe(subscription: Subscription, token: str | None = None) -> str:
    """``{"channel": "...", "pair": "KRB/UAH"}`` (+ ``"token"`` for ``user_orders``)."""
    message: dict[str, str] = {"channel": CHANNELS[subscription.kind], "pair": subscription.symbol}
    if token is not None:
        message["token"] = token
    return orjson.dumps(message).decode()


def _seconds(value: Any, default_ns: int) -> int:
    """Unix seconds (``"1532696617"``, a number, or missing) → epoch ns."""
    if value is None or value == "":
        return default_ns
    if type(value) is str and value.isdigit():
        return int(value) * _S
    return int(round(float(value) * _S))


def _side(table: Mapping[str, str], value: Any) -> str:
    side = table.get(value) if type(value) is str else None
    if side is None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            named = NUMERIC_SIDES.get(int(value)) if float(value).is_integer() else None
        else:
            text = str(value).strip().lower()
            named = NUMERIC_SIDES.get(int(text)) if text.isdigit() else text
        side = table.get(named) if named is not None else None
        if side is None:
            raise ValueError(f"unknown side {value!r}")
    return side


class _Burst:
    """The book frames of one pair right after its subscribe (see the module notes)."""

    __slots__ = ("deadline_ns", "first_ns", "last_ns", "levels", "row")

    def __init__(self, deadline_ns: int) -> None:
        self.deadline_ns = deadline_ns  # first level due by then (0: already started)
        self.first_ns = 0  # receive time of the first burst frame (the snapshot's)
        self.last_ns = 0
        self.levels: set[tuple[str, float]] = set()
        self.row = -1  # depth-table length after the last burst row (contiguity)


class RichamsterSession(Session):
    """One Richamster connection: sans-I/O (see :mod:`mdkit.venues.base`).

    No login: subscriptions go out at once, ``user_orders`` with the token. Acks are
    counted; an error ack answers the oldest unanswered subscribe and ends the
    capture (a pair the venue does not list, a refused token) with an error naming
    that subscription.

    Examples
    --------
    A trade push (text frame; no channel name, routed by its keys)::

        {"created_at": "1532694617",   # order creation, unix s (string)
         "closed_at": "1532696617",    # trade time, unix s (string) -> timestamp
         "side": "selling",            # side of the order that closed -> sell
         "volume": 2.23236,            # base amount -> amount
         "unit_price": 1.00,           # -> price
         "sum": 2.23236,               # quote total (not kept)
         "pair": "KRB/UAH"}            # -> symbol, routes to "trades KRB/UAH"

    becomes one row of the ``trades`` table (``id`` -1: the venue sends none).
    """

    timer_interval = 60.0

    def __init__(self, setup: SessionSetup) -> None:
        super().__init__(setup)
        self.private = setup.endpoint == "private"
        # (kind, pair) -> subscription key, for the pairs this connection asked for.
        self.routes: dict[tuple[str, str], str] = {
            (s.kind, s.symbol): s.key for s in setup.subscriptions
        }
        self.pending: deque[Subscription] = deque()
        self._tables = setup.tables
        # pair -> burst being received (or awaited); pairs past their burst are absent.
        self.bursts: dict[str, _Burst] = {}
        self._awaiting = 0  # bursts not started yet (a cheap test per frame)
        self._fields = {
            "trades": Fields("trading", TRADE_FIELDS, ("created_at",)),
            "book": Fields("order_book", BOOK_FIELDS, ("sum",)),
            "ticker": Fields("ticker", TICKER_FIELDS, ("first",)),
            "orders": Fields("user_orders", ORDER_FIELDS, ("created_at",)),
        }

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """One subscribe message per subscription, in order (acks come back in order)."""
        out: list[Event] = []
        for sub in subscriptions:
            token = None
            if sub.kind == "orders":
                token = self.credentials.get("token")
                if not token:
                    raise AuthError(
                        "credentials", f"{VENUE}: user_orders needs MDKIT_RICHAMSTER_TOKEN"
                    )
            self.pending.append(sub)
            out.append(Send(build_subscribe(sub, token)))
        return out

    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`."""
        try:
            msg = _loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"{VENUE}: frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        if "type" in msg and "pair" not in msg:
            return self._ack(msg, now_ns)
        pair: Any = msg.get("pair")
        if self._awaiting:
            self._no_burst(now_ns)
        try:
            if self.private:
                kind = "orders" if "unit_price" in msg else ""
            elif "last" in msg:
                kind = "ticker"
            elif "closed_at" in msg or "created_at" in msg:
                kind = "trades"
            elif "unit_price" in msg:
                kind = "book"
            else:
                kind = ""
            key = self.routes.get((kind, pair)) if type(pair) is str else None
            if key is None:
                self.counters.unrouted += 1
                return NOTHING
            fields = self._fields.get(kind)
            if fields is not None:
                fields.check(self, msg)
            if kind == "trades":
                self._trades(msg, pair, now_ns)
            elif kind == "book":
                self._book(msg, pair, now_ns)
            elif kind == "ticker":
                self._ticker(msg, pair, now_ns)
            else:
                self._orders(msg, pair, now_ns)
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"{VENUE}: cannot read a {kind} push: {exc!r}") from None
        self.count(key)
        return NOTHING

    # -- acks -------------------------------------------------------------------------
    def _ack(self, msg: dict[str, Any], now_ns: int) -> Sequence[Event]:
        text = str(msg.get("message", ""))
        for secret in self.credentials.secrets():
            text = text.replace(secret, "***")
        if msg.get("type") == "success":
            self.counters.acks += 1
            named = _ACK.search(text)
            acked: tuple[str, str] | None = None
            if named is not None:
                acked = (VENUE_CHANNELS.get(named["channel"], ""), named["pair"])
            for sub in self.pending:
                if acked is None or (sub.kind, sub.symbol) == acked:
                    self.pending.remove(sub)
                    acked = (sub.kind, sub.symbol)
                    break
            # From the ack's own words (a replay has no pending subscribes).
            if acked is not None and acked[0] == "book" and acked in self.routes:
                if acked[1] not in self.bursts:
                    self.bursts[acked[1]] = _Burst(now_ns + int(BURST_WAIT * _S))
                    self._awaiting += 1
            return NOTHING
        if msg.get("type") != "error":
            self.counters.other += 1
            return NOTHING
        if not self.pending:
            return (ServerError(f"error not tied to a subscription: {text}"),)
        sub = self.pending.popleft()
        what = f"{CHANNELS[sub.kind]} {sub.symbol}"
        if sub.kind == "orders":
            return (
                ServerError(
                    f"the {what} subscription was refused: {text} (check MDKIT_RICHAMSTER_TOKEN)",
                    code="token",
                    fatal=True,
                    error=AuthError,
                ),
            )
        return (
            ServerError(
                f"the {what} subscription was refused: {text}",
                code="subscribe",
                fatal=True,
                error=VenueError,
            ),
        )

    # -- pushes -------------------------------------------------------------------------
    def _trades(self, msg: dict[str, Any], pair: str, now_ns: int) -> None:
        # closed_at is when the order closed, i.e. the trade time; created_at is a
        # fallback for a frame that lacks it.
        ts = _seconds(msg.get("closed_at"), _seconds(msg.get("created_at"), now_ns))
        self._tables["trades"].append(
            timestamp=ts,
            local_timestamp=now_ns,
            symbol=pair,
            id=-1,
            side=_side(_TRADE_SIDES, msg["side"]),
            price=float(msg["unit_price"]),
            amount=float(msg["volume"]),
        )

    def _no_burst(self, now_ns: int) -> None:
        """Warn once for each book subscription whose burst is overdue."""
        for pair, burst in list(self.bursts.items()):
            if burst.deadline_ns and now_ns > burst.deadline_ns:
                del self.bursts[pair]
                self._awaiting -= 1
                _log.warning(
                    "%s: order_book %s sent no levels within %.1f s of its subscribe: the "
                    "rebuilt book holds only the levels changed since (no snapshot)",
                    VENUE,
                    pair,
                    BURST_WAIT,
                )

    def _book(self, msg: dict[str, Any], pair: str, now_ns: int) -> None:
        # One level per frame: `volume` is the new total at `unit_price` (0: gone).
        # No venue time is sent: timestamp NaT, receive time in local_timestamp only.
        side = _side(_BOOK_SIDES, msg["side"])
        price, amount = float(msg["unit_price"]), float(msg["volume"])
        depth = self._tables["depth"]
        burst = self.bursts.get(pair)
        snapshot, local = False, now_ns
        if burst is not None:
            if burst.deadline_ns:  # the first frame after the ack: the burst starts
                burst.deadline_ns = 0
                self._awaiting -= 1
                burst.first_ns = now_ns
                snapshot = True
            elif (
                (side, price) not in burst.levels
                and now_ns - burst.last_ns <= BURST_GAP * _S
                and len(depth) == burst.row
            ):
                snapshot = True
            if snapshot:
                burst.levels.add((side, price))
                burst.last_ns = now_ns
                local = burst.first_ns  # one snapshot = one message for Capture.book
            else:
                del self.bursts[pair]
        depth.append(timestamp=NO_TIME, local_timestamp=local, symbol=pair, is_snapshot=snapshot,
                     side=side, price=price, amount=amount)  # fmt: skip
        if snapshot and burst is not None:
            burst.row = len(depth)

    def _ticker(self, msg: dict[str, Any], pair: str, now_ns: int) -> None:
        # 24 h window: `first` is its first price (-> open), change derived from the two.
        last, first = _f(msg["last"]), _f(msg.get("first"))
        change = (last - first) / first if first else _NAN
        self._tables["ticker"].append(
            timestamp=NO_TIME,  # no venue time in a ticker frame
            local_timestamp=now_ns,
            symbol=pair,
            last=last,
            bid=_NAN,
            ask=_NAN,
            high=_f(msg.get("high")),
            low=_f(msg.get("low")),
            volume=_f(msg.get("volume")),
            change=change,
            open=first,
            quote_volume=_NAN,
            bid_amount=_NAN,
            ask_amount=_NAN,
        )

    def _orders(self, msg: dict[str, Any], pair: str, now_ns: int) -> None:
        closed = msg.get("closed_at")
        ts = _seconds(closed, _seconds(msg.get("created_at"), now_ns))
        pk = msg["pk"]
        self._tables["orders"].append(
            timestamp=ts,
            local_timestamp=now_ns,
            symbol=pair,
            order_id=str(int(pk)) if isinstance(pk, float) and pk.is_integer() else str(pk),
            client_order_id=None,
            side=_side(_TRADE_SIDES, msg["side"]),
            type=None,
            status="open" if closed in (None, "") else "closed",
            price=_f(msg.get("unit_price")),
            amount=_f(msg.get("volume")),
            filled_amount=_NAN,
            average_price=_NAN,
            fee=_NAN,
            fee_currency=None,
        )


#: Richamster as the capture engine sees it (see :mod:`mdkit.venues.base`).
DESCRIPTOR = Venue(
    key=VENUE,
    title="Richamster",
    endpoints={
        "public": Endpoint(WS_URL, "WS_URL"),
        # Same URL: user_orders gets its own connection so its frames need no shape test.
        "private": Endpoint(WS_URL, "PRIVATE_WS_URL", private=True),
    },
    credentials=("token",),
    channels={kind: ("private" if kind == "orders" else "public") for kind in CHANNELS},
    intervals={},
    limits=Limits(subscriptions_per_connection=SUBSCRIPTIONS_PER_CONNECTION),
    session=RichamsterSession,
    plan=plan,
    silence_timeout=SILENCE_TIMEOUT,
    example_symbols=("BTC/UAH", "KRB/UAH"),
)
