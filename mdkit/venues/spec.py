"""What a venue module supplies to the capture engine: its stream protocol as data.

The engine (:mod:`mdkit.stream`) is one piece of code for every venue. A venue
module plugs in by exposing one :class:`StreamSpec` (conventionally ``STREAM``)
made of constants and pure functions — no sockets, no asyncio:

- ``plan(symbols, channels)`` validates the request and returns
  :class:`Subscription` values (raising :class:`~mdkit.errors.UnknownChannel`,
  :class:`~mdkit.errors.UnknownInterval`, :class:`~mdkit.errors.InvalidArgument`
  before any connection);
- ``subscribe(subscriptions)`` returns the messages to send after connecting
  (and again after every reconnect);
- ``router(subscriptions, tables)`` returns a :class:`Router` whose
  ``handle(frame, local_ns)`` decodes one received frame, appends its rows into
  the :class:`~mdkit.frames.StreamTables` and says what the frame was
  (:data:`DATA`, :data:`ACK`, :data:`PING` with the reply to send, ...);
- ``client_ping(now_s)`` builds the venue's client keepalive, sent every
  ``ping_interval`` seconds when the venue needs one;
- ``auth(credentials)`` returns ``(headers, messages)`` for private streams.

The channel vocabulary is shared by every venue: ``trades``, ``ticker``,
``klines`` / ``klines:<interval>`` (any spelling :func:`~mdkit.timeparse.parse_interval`
accepts), ``book``, ``quotes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mdkit.errors import InvalidArgument, UnknownChannel, UnknownInterval
from mdkit.frames import StreamTables
from mdkit.symbols import compact_symbol
from mdkit.timeparse import Interval, parse_interval

__all__ = [
    "CHANNELS",
    "DATA",
    "ACK",
    "PING",
    "PONG",
    "ERROR",
    "OTHER",
    "UNROUTED",
    "KIND_NAMES",
    "Handled",
    "Router",
    "StreamSpec",
    "Subscription",
    "parse_channel",
    "check_stream_symbol",
]

#: The channel vocabulary shared by every venue.
CHANNELS = ("trades", "ticker", "klines", "book", "quotes")

# What a received frame was (first item of :data:`Handled`).
DATA = 0  #: rows were appended
ACK = 1  #: a subscription was acknowledged
PING = 2  #: a server keepalive; the reply is in the third item
PONG = 3  #: the answer to a client keepalive
ERROR = 4  #: the server reported an error (the text is in the third item)
OTHER = 5  #: understood, carries nothing to keep (echoes, system notices, empty replies)
UNROUTED = 6  #: data for a channel this capture did not subscribe to
KIND_NAMES = ("data", "ack", "ping", "pong", "error", "other", "unrouted")

#: ``(kind, subscription key or None, reply to send / error text or None)``.
Handled = tuple[int, str | None, str | bytes | None]

_SYMBOL = re.compile(r"^[a-z0-9]{2,40}$")


@dataclass(frozen=True)
class Subscription:
    """One (channel, symbol) stream of a capture.

    Attributes
    ----------
    kind : str
        Vocabulary channel: ``trades ticker klines book quotes``.
    symbol : str
        The venue's spelling of the market (``btcusdt``).
    interval : Interval or None
        For ``klines``.
    channel : str
        The venue's channel name (``market_btcusdt_trade_ticker``).
    options : mapping
        Venue-specific extras (book depth, step).
    """

    kind: str
    symbol: str
    channel: str
    interval: Interval | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Short name used in stats: ``trades btcusdt``, ``klines:1min btcusdt``."""
        head = f"{self.kind}:{self.interval.name}" if self.interval else self.kind
        return f"{head} {self.symbol}"


class Router(Protocol):
    """Decodes received frames of one capture and appends their rows."""

    def handle(self, frame: bytes | str, local_ns: int) -> Handled:
        """Handle one frame received at ``local_ns`` (epoch ns).

        Raises
        ------
        ProtocolError
            If the frame cannot be understood (the engine counts it and goes on).
        """
        ...


@dataclass(frozen=True)
class StreamSpec:
    """A venue's stream protocol: constants and pure functions (see the module docstring).

    Attributes
    ----------
    venue : str
        Venue key (``cryptocom``).
    channels : tuple of str
        The vocabulary channels the venue offers.
    intervals : mapping of str to str
        Canonical interval name → the venue's token, for ``klines``.
    plan, subscribe, router, client_ping, auth : callables
        See the module docstring.
    ping_interval : float or None
        Seconds between client keepalives; None if the server pings instead.
    silence_timeout : float
        Seconds without any frame after which the engine reconnects.
    max_subscriptions : int
        Subscriptions per connection the venue allows.
    """

    venue: str
    channels: tuple[str, ...]
    intervals: Mapping[str, str]
    plan: Callable[[Sequence[str], Sequence[str]], tuple[Subscription, ...]]
    subscribe: Callable[[Sequence[Subscription]], list[str]]
    router: Callable[[Sequence[Subscription], StreamTables], Router]
    client_ping: Callable[[float], str | None] = lambda now_s: None
    auth: Callable[[Mapping[str, str]], tuple[dict[str, str], list[str]]] = lambda credentials: (
        {},
        [],
    )
    ping_interval: float | None = None
    silence_timeout: float = 15.0
    max_subscriptions: int = 1000


def parse_channel(
    text: str, *, venue: str, offered: Sequence[str], intervals: Mapping[str, str]
) -> tuple[str, Interval | None]:
    """Read one vocabulary channel (``trades``, ``klines:1h``...) for a venue.

    Parameters
    ----------
    text : str
        The channel as the user wrote it; ``klines`` alone means one minute.
    venue : str
        Venue key, for messages.
    offered : sequence of str
        The channels the venue offers.
    intervals : mapping of str to str
        The venue's kline intervals (canonical name → token).

    Returns
    -------
    (str, Interval or None)

    Raises
    ------
    UnknownChannel
        Naming the venue's channels.
    UnknownInterval
        Naming the venue's intervals.
    """
    if not isinstance(text, str) or not text.strip():
        raise UnknownChannel(
            f"a channel must be a non-empty string; {venue} offers {_list(offered)}"
        )
    head, _, rest = text.strip().lower().partition(":")
    if head in ("kline", "candles", "candle"):
        head = "klines"
    if head == "trade":
        head = "trades"
    if head not in offered:
        hint = " (vocabulary: " + ", ".join(CHANNELS) + ")" if head not in CHANNELS else ""
        raise UnknownChannel(
            f"{venue} does not offer the channel {text!r}; valid: {_list(offered)}{hint}"
        )
    if head != "klines":
        if rest:
            raise UnknownChannel(f"channel {text!r}: only klines takes ':<interval>'")
        return head, None
    spelled = text.strip().partition(":")[2] or "1min"
    try:
        interval = parse_interval(spelled)
    except UnknownInterval as exc:
        raise UnknownInterval(f"{exc}; {venue} klines offer {', '.join(intervals)}") from None
    if interval.name not in intervals:
        raise UnknownInterval(
            f"{venue} has no {interval.name} klines; valid: {', '.join(intervals)}"
        )
    return head, interval


def check_stream_symbol(symbol: str, *, venue: str) -> str:
    """Return the compact spelling of a symbol (``BTC/USDT`` → ``btcusdt``).

    Raises
    ------
    InvalidArgument
        If the spelling cannot name a market (empty, punctuation, spaces inside).
    """
    compact = compact_symbol(symbol)
    if not _SYMBOL.match(compact):
        raise InvalidArgument(
            f"{venue}: {symbol!r} is not a symbol spelling; write it like 'btcusdt' or 'BTC/USDT'"
        )
    return compact


def _list(items: Sequence[str]) -> str:
    return ", ".join(items)
