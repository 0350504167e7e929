"""The venue plug-in interface: a descriptor per venue, a sans-I/O session per connection.

A venue module exports one :class:`Venue` (conventionally ``VENUE``) and a
:class:`Session` subclass. Nothing here opens a socket or touches an event loop:
the ingestion core (:mod:`mdkit.engine.core`) drives it and the live engine
(:mod:`mdkit.engine.stream`) does the I/O around that, the way
websockets' protocol core is driven by its asyncio layer.

The descriptor is data: the venue key, its named endpoints (``public``,
``private``, ``rest``...), the credentials it needs, the vocabulary channels it
offers and on which endpoint each lives, its own interval tokens, its limits, and
``plan(symbols, channels, options)``, which validates a request before any
connection and returns :class:`Subscription` values tagged with their endpoint.

A session is built per connection (:class:`SessionSetup`: its subscriptions, the
capture's tables and counters, the credentials) and speaks only in bytes and events:

- ``open(now_ns)`` → the first events (a login :class:`Send` where the venue needs
  one; a session that needs no login returns :class:`Ready` at once);
- ``subscribe(subscriptions)`` → :class:`Send` events (called after :class:`Ready`,
  and again with the affected subscriptions on :class:`Resubscribe`);
- ``receive(frame, now_ns)`` → appends rows to the tables, updates the counters and
  returns events (most data frames return the empty tuple :data:`NOTHING`);
- ``timer(now_ns)`` → keepalives and anything else due (called every
  ``timer_interval`` seconds);
- ``closed(reason, code, now_ns)`` → events when the connection ended (a fatal
  :class:`ServerError` stops the reconnects);
- ``request(method, params, request_id)`` → :class:`Send` events of one
  request/response call (BitTap's API, paged history); its answer comes back from
  ``receive`` as a :class:`Reply`.

Events (what the engine acts on; defined in :mod:`mdkit.venues.events`, re-exported
here): :class:`Send` (paced to the venue's message rate), :class:`Ready` (login
accepted: subscribe now), :class:`Resubscribe` (these subscriptions lost integrity:
fresh snapshot), :class:`Recovered` (the fresh snapshot arrived), :class:`Gap` (data
lost without a reconnect), :class:`ServerError` (fatal or not), :class:`RateLimits`
(figures the venue reported), :class:`Reply` (answer to a request), :class:`Reconnect`
(the session asks for a fresh connection).

The channel vocabulary is shared by every venue: ``trades``, ``ticker``,
``klines`` / ``klines:<interval>``, ``book`` / ``book:<levels>``, ``quotes``, and the
private ``orders``, ``fills``, ``balances``, ``positions``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from mdkit.data.tables import Tables
from mdkit.data.timeparse import Interval, parse_interval
from mdkit.data.wire import DEFAULT_MAX_FRAME
from mdkit.errors import InvalidArgument, UnknownChannel, UnknownInterval
from mdkit.venues.events import (
    NOTHING,
    Event,
    Gap,
    RateLimits,
    Ready,
    Reconnect,
    Recovered,
    Reply,
    Resubscribe,
    Send,
    ServerError,
)
from mdkit.venues.rest_api import RestApi

__all__ = [
    "CHANNELS",
    "PRIVATE_CHANNELS",
    "NOTHING",
    "Counters",
    "Credentials",
    "Endpoint",
    "Event",
    "Gap",
    "Limits",
    "Ready",
    "RateLimits",
    "Reconnect",
    "Recovered",
    "Reply",
    "Resubscribe",
    "Send",
    "ServerError",
    "Session",
    "SessionSetup",
    "Subscription",
    "SymbolQuery",
    "Venue",
    "close_matches",
    "parse_channel",
]

_log = logging.getLogger("mdkit.venues")

#: The public channel vocabulary shared by every venue.
CHANNELS = ("trades", "ticker", "klines", "book", "quotes")
#: The private channel vocabulary (credentials needed).
PRIVATE_CHANNELS = ("orders", "fills", "balances", "positions")
_ALIASES = {
    "trade": "trades",
    "kline": "klines",
    "candle": "klines",
    "candles": "klines",
    "depth": "book",
    "orderbook": "book",
    "quote": "quotes",
    "order": "orders",
    "fill": "fills",
    "account": "balances",
    "balance": "balances",
    "position": "positions",
}


# -- credentials ---------------------------------------------------------------------------
class Credentials(Mapping[str, str]):
    """Credentials whose repr, str and pickling never show the values.

    A read-only mapping (``creds["api_key"]``); ``repr`` lists the names only.
    Pickling raises: a capture or session that holds credentials is not saved
    with them.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = {k: v for k, v in (values or {}).items() if v}

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<Credentials {', '.join(sorted(self._values)) or 'none'}>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("mdkit credentials cannot be pickled")

    def secrets(self) -> tuple[str, ...]:
        """The values, for scrubbing text (never for display).

        Values under 4 characters are left out: no real key is that short, and
        replacing every ``t`` of a message would make it unreadable.
        """
        return tuple(v for v in self._values.values() if len(v) >= 4)


# -- descriptor ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    """One named endpoint of a venue.

    Attributes
    ----------
    url : str
        The doc's default URL.
    env : str
        Suffix of the environment variable that overrides it:
        ``MDKIT_<VENUE>_<env>`` (``WS_URL``, ``PRIVATE_WS_URL``, ``REST_URL``).
    private : bool
        Needs credentials (login) on every connection.
    """

    url: str
    env: str
    private: bool = False


@dataclass(frozen=True)
class Limits:
    """What the venue allows; ``None`` means no documented limit.

    Attributes
    ----------
    messages_per_second : float or None
        Client messages per connection per second, keepalives included.
    subscriptions_per_connection : int or None
        Channels one connection may hold.
    bytes_per_request : int or None
        Bytes of one subscribe request.
    subscribe_requests_per_hour : int or None
        Subscribe requests per connection per hour.
    connections : int or None
        Connections at once (per IP, or per token where the venue says so).
    """

    messages_per_second: float | None = None
    subscriptions_per_connection: int | None = None
    bytes_per_request: int | None = None
    subscribe_requests_per_hour: int | None = None
    connections: int | None = None


@dataclass(frozen=True)
class Subscription:
    """One (channel, symbol) stream of a capture.

    Attributes
    ----------
    kind : str
        Vocabulary channel: ``trades ticker klines book quotes orders fills balances
        positions``.
    symbol : str
        The venue's spelling of the market (``BTCUSDT``); ``""`` for account-wide channels.
    channel : str
        The venue's own name of the stream, unique within a capture of the venue
        (``trade BTCUSDT``, ``market_btcusdt_trade_ticker``).
    endpoint : str
        Name of the endpoint it needs (``public``, ``private``).
    interval : Interval or None
        For ``klines``.
    options : mapping
        Venue-specific extras (book depth, instrument type).
    """

    kind: str
    symbol: str
    channel: str
    endpoint: str = "public"
    interval: Interval | None = None
    options: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        """Short name used in stats: ``trades BTCUSDT``, ``klines:1min BTCUSDT``."""
        head = f"{self.kind}:{self.interval.name}" if self.interval else self.kind
        return f"{head} {self.symbol}" if self.symbol else head


PlanFunction = Callable[[Sequence[str], Sequence[str], Mapping[str, Any]], list[Subscription]]


@dataclass(frozen=True)
class Venue:
    """A venue as data: what the engine needs to know, and its session class.

    Attributes
    ----------
    key : str
        Venue key (``bitget``).
    title : str
        Display name (``Bitget v2``).
    endpoints : mapping of str to Endpoint
        Named endpoints (``public``, ``private``, ``rest``...).
    credentials : tuple of str
        Credential names it uses (``api_key``, ``secret_key``, ``passphrase``, ``token``).
    channels : mapping of str to str
        Vocabulary channel → name of the endpoint that serves it.
    intervals : mapping of str to str
        Canonical interval name (:data:`mdkit.data.timeparse.INTERVALS` spelling or
        any :func:`~mdkit.data.timeparse.parse_interval` name) → the venue's token.
    limits : Limits
        What the venue allows per connection.
    session : type
        The :class:`Session` subclass built per connection.
    plan : callable
        ``plan(symbols, channels, options) -> list[Subscription]``; raises
        :class:`~mdkit.errors.InvalidArgument` subclasses before any connection.
    options : mapping of str to str
        Capture options the venue accepts (``inst_type``) → what they mean.
    silence_timeout : float
        Seconds without any frame after which a connection counts as dead.
    symbol_list : callable or None
        ``symbol_list(options) -> list of (endpoint, path, params, parse)``: the REST
        queries whose parsed answers list the venue's symbols (sans-I/O: the engine
        sends them). None: the venue has no public list; symbols are checked only
        for their spelling.
    page_sizes : mapping of str to int
        Rows per page of the request/response history methods (``klines``: 300).
    handshake_headers : callable or None
        ``handshake_headers(credentials) -> headers`` for venues that authenticate in
        the WebSocket handshake (iTick's ``token``).
    example_symbols : tuple of str
        Liquid symbols in the venue's spelling, for the demo and the docs.
    requests : mapping of str to str
        Request/response methods a user may call through :func:`mdkit.request`
        (method → what it returns); empty for venues without them.
    rest : RestApi or None
        Public REST market data (sans-I/O builders and parsers, documented rates)
        behind ``mdkit.klines`` and friends; None for a venue without it.
    """

    key: str
    title: str
    endpoints: Mapping[str, Endpoint]
    credentials: tuple[str, ...]
    channels: Mapping[str, str]
    intervals: Mapping[str, str]
    limits: Limits
    session: type[Session]
    plan: PlanFunction
    options: Mapping[str, str] = field(default_factory=dict)
    silence_timeout: float = 30.0
    symbol_list: Callable[[Mapping[str, Any]], list[SymbolQuery]] | None = None
    page_sizes: Mapping[str, int] = field(default_factory=dict)
    handshake_headers: Callable[[Credentials], Mapping[str, str]] | None = None
    example_symbols: tuple[str, ...] = ()
    requests: Mapping[str, str] = field(default_factory=dict)
    rest: RestApi | None = None

    def __repr__(self) -> str:
        return f"<Venue {self.key}: {', '.join(self.channels)}>"


@dataclass(frozen=True)
class SymbolQuery:
    """One REST query of a venue's symbol list (see :attr:`Venue.symbol_list`).

    Attributes
    ----------
    endpoint : str
        Endpoint name (``rest``).
    path : str
        Path appended to the endpoint URL.
    params : mapping
        Query parameters.
    parse : callable
        ``parse(body: bytes) -> list of str``: the symbols, in the venue's spelling.
    """

    endpoint: str
    path: str
    params: Mapping[str, Any]
    parse: Callable[[bytes], list[str]]


# -- counters ------------------------------------------------------------------------------
class Counters:
    """Message counters a capture's sessions update (read by the engine and ``stats``)."""

    __slots__ = (
        "data_messages",
        "per_channel",
        "acks",
        "pings",
        "pongs",
        "unrouted",
        "other",
        "drift",
        "shared",
    )

    def __init__(self) -> None:
        self.data_messages = 0
        self.per_channel: dict[str, int] = {}
        self.acks = 0
        self.pings = 0
        self.pongs = 0
        self.unrouted = 0
        self.other = 0
        #: (venue, channel, field, change) -> frames that showed it (see Session.drift).
        self.drift: dict[tuple[str, str, str, str], int] = {}
        #: What a venue's sessions keep across the connections of one capture (a
        #: subscribe budget, the history of closes), by the venue module's own keys.
        self.shared: dict[str, Any] = {}


# -- sessions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionSetup:
    """What a session is built with, per connection.

    Attributes
    ----------
    venue : Venue
    endpoint : str
        Endpoint name of this connection.
    subscriptions : tuple of Subscription
        This connection's share of the capture.
    tables : Tables
        Where rows go (shared by every connection of the venue).
    counters : Counters
        Shared message counters.
    credentials : Credentials
    connection : int
        Connection number within the capture (1 = first).
    max_frame : int
        Bytes one frame may inflate to (:func:`mdkit.data.wire.inflate`'s ``limit``).
    """

    venue: Venue
    endpoint: str
    subscriptions: tuple[Subscription, ...]
    tables: Tables
    counters: Counters
    credentials: Credentials = field(default_factory=Credentials)
    connection: int = 1
    max_frame: int = DEFAULT_MAX_FRAME


class Session:
    """One connection's protocol state (override what the venue needs).

    Subclasses receive frames as ``bytes`` (text frames UTF-8 encoded) and never
    perform I/O. The default ``open`` returns :class:`Ready` (no login); the default
    ``timer`` sends nothing.
    """

    #: Seconds between ``timer`` calls (the venue's keepalive period).
    timer_interval: ClassVar[float] = 5.0
    #: Least silence (s) before the connection counts as dead, learnt on this connection
    #: (e.g. 3 x the longest server ping period seen); the engine waits for the larger of
    #: this and the venue's ``silence_timeout`` unless the capture sets one outright.
    silence_floor: float = 0.0

    def __init__(self, setup: SessionSetup) -> None:
        self.setup = setup
        self.venue = setup.venue
        self.subscriptions = setup.subscriptions
        self.tables = setup.tables
        self.counters = setup.counters
        self.credentials = setup.credentials

    def open(self, now_ns: int) -> Sequence[Event]:
        """First events after connecting (login; :class:`Ready` when none is needed)."""
        return (Ready(),)

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Messages that subscribe (or, on :class:`Resubscribe`, re-subscribe) these."""
        raise NotImplementedError

    def resubscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Messages that get a fresh snapshot of these (default: subscribe again)."""
        return self.subscribe(subscriptions)

    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one received frame (receive time ``now_ns``, epoch ns).

        Raises
        ------
        ProtocolError
            If the frame cannot be understood (counted, kept in ``.raw``; not fatal).
            Any other exception is contained the same way by the ingestion core
            (:mod:`mdkit.engine.core`), so a session bug never drops a connection.
        """
        raise NotImplementedError

    def receive_many(self, frames: Sequence[bytes], times: Sequence[int], start: int) -> int:
        """Read the frames of one read from ``frames[start]`` on (receive times ``times``)
        as plain data pushes, in one go where the venue's decoders can: return how many
        frames from ``start`` were read.

        Each frame read here gives exactly the rows, counters and drift reports that
        :meth:`receive` gives it, and no event. The first frame not read (a control
        frame, another kind, anything odd) goes to :meth:`receive`, then the call is made
        again for the frames after it. Never raises for a frame: a frame it cannot read
        is left unread. Default: 0 (every frame through :meth:`receive`).
        """
        return 0

    def timer(self, now_ns: int) -> Sequence[Event]:
        """Keepalives and anything else due."""
        return NOTHING

    def closed(self, reason: str, code: int | None, now_ns: int) -> Sequence[Event]:
        """The connection ended (``code``: the server's close code, None without one).

        Called once per connection, before the engine reconnects. A venue whose server
        closes connections for a reason a reconnect cannot fix (iTick's "another
        connection with this token took over") returns a fatal :class:`ServerError`
        here instead of letting the engine reconnect. Default: nothing.
        """
        return NOTHING

    def request(self, method: str, params: Mapping[str, Any], request_id: str) -> Sequence[Event]:
        """Messages of one request/response call (venues that have them)."""
        raise InvalidArgument(f"{self.venue.key} has no request/response calls")

    def drift(self, channel: str, field: str, change: str) -> None:
        """Count one frame that differs from what this session knows (logged once).

        ``change`` is ``unknown`` (a field the session does not read), ``missing`` (an
        expected field absent) or ``type`` (e.g. a number where a string was expected);
        the row is still kept when its known fields parse.
        """
        key = (self.venue.key, channel, field, change)
        seen = self.counters.drift
        if key not in seen:
            seen[key] = 0
            _log.warning("%s %s: field %r %s (drift from what mdkit knows)", *key)
        seen[key] += 1

    def count(self, key: str) -> None:
        """Count one data message of a subscription key."""
        counters = self.counters
        counters.data_messages += 1
        counters.per_channel[key] = counters.per_channel.get(key, 0) + 1


# -- channel parsing -----------------------------------------------------------------------
def parse_channel(text: Any, venue: Venue) -> tuple[str, Interval | None, str]:
    """Read one vocabulary channel (``trades``, ``klines:1h``, ``book:5``) for a venue.

    Parameters
    ----------
    text : str
        As the user wrote it; ``klines`` alone means one minute.
    venue : Venue

    Returns
    -------
    (str, Interval or None, str)
        The vocabulary channel, the interval for ``klines``, and the argument after
        ``:`` for other channels (``"5"`` for ``book:5``; ``""`` if none).

    Raises
    ------
    UnknownChannel
        Naming the venue's channels.
    UnknownInterval
        Naming the venue's intervals.
    """
    offered = list(venue.channels)
    if not isinstance(text, str) or not text.strip():
        raise UnknownChannel(
            f"a channel must be a non-empty string, not {text!r}; "
            f"{venue.key} offers {', '.join(offered)}"
        )
    head, _, arg = text.strip().partition(":")
    head = head.strip().lower()
    head = _ALIASES.get(head, head)
    if head not in offered:
        known = CHANNELS + PRIVATE_CHANNELS
        hint = "" if head in known else f" (vocabulary: {', '.join(known)})"
        raise UnknownChannel(
            f"{venue.key} does not offer the channel {text!r}; valid: {', '.join(offered)}{hint}"
        )
    if head != "klines":
        return head, None, arg.strip()
    try:
        interval = parse_interval(arg.strip() or "1min")
    except UnknownInterval:
        raise UnknownInterval(
            f"{venue.key}: unknown kline interval {arg!r}; valid: {', '.join(venue.intervals)}"
        ) from None
    if interval.name not in venue.intervals:
        raise UnknownInterval(
            f"{venue.key} has no {interval.name} klines; valid: {', '.join(venue.intervals)}"
        )
    return head, interval, ""


def close_matches(word: str, choices: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` choices that look like ``word`` (case-insensitive)."""
    lowered = {c.lower(): c for c in choices}
    found = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[f] for f in found]
