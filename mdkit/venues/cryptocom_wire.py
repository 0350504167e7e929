"""Crypto.com v1 frames: typed trade decoding, item shapes, trade rows, the frame decoder
and the subscribe/pong messages — sans-I/O.

The receive side of :class:`~mdkit.venues.cryptocom_ws.CryptocomSession` that pays per
message. A trade push is read by one prebuilt ``msgspec.json.Decoder`` in lax mode
(``strict=False``: numbers may come as JSON numbers or as strings, as on the venue), so
its items are typed during the parse (floats correctly rounded, the same as
``float(text)``):

- :func:`decode_trade_push`: ``{"channel","ts","tick":{"data":[...]}}`` whole; an item
  field the session does not know, or a missing required one, fails the decode
  (``forbid_unknown_fields``), so such a frame goes to the session's general reader,
  which reports the drift (:mod:`mdkit.venues.drift`);
- :func:`trade_rows`: trade rows from typed items or from plain JSON dicts (``req``
  replies, the general reader), the same rows either way.

:data:`DecodeError` is raised on anything the decoder does not read exactly; the general
reader's errors and drift reports are the reference. The one leniency of the typed path:
an integer field written ``"1e3"`` or ``"1.0"`` is read as its value.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec
import orjson

from mdkit.data.wire import MS, dumps, inflate
from mdkit.errors import ProtocolError
from mdkit.venues.cryptocom import VENUE
from mdkit.venues.drift import Fields, Row

if TYPE_CHECKING:
    from mdkit.venues.base import Subscription

__all__ = [
    "BOOK_FIELDS",
    "BOOK_SIDES",
    "BOOK_UPDATE_FIELDS",
    "KLINE_FIELDS",
    "LEVEL",
    "SIDES",
    "TICKER_EXTRAS",
    "TICKER_FIELDS",
    "TRADE_FIELDS",
    "TRADE_OPTIONAL",
    "DecodeError",
    "Shapes",
    "Trade",
    "TradePush",
    "TradeTick",
    "build_pong",
    "build_req_review",
    "build_subscribe",
    "build_unsubscribe",
    "decode",
    "decode_trade_push",
    "epoch_ms",
    "side_of",
    "trade_rows",
]

#: What the decoder raises on input it does not read (``msgspec.ValidationError`` too).
DecodeError = msgspec.DecodeError

#: Known trade and ticker items (doc "Subscribe to real-time trades" / "ticker"; family
#: servers add mark/index): anything else is counted as drift (mdkit.venues.drift).
_NUM = "number|string"
TRADE_FIELDS = {"id": _NUM, "side": "string", "price": _NUM, "vol": _NUM, "amount": _NUM,
                "ts": _NUM, "ds": "string"}  # fmt: skip
#: Trade item fields that may be absent.
TRADE_OPTIONAL = ("id", "ts", "ds", "amount")
TICKER_EXTRAS = ("id", "ts", "lower_frame", "mark", "index", "funds_rate")
TICKER_FIELDS = {**dict.fromkeys(("amount", "vol", "open", "close", "high", "low", "rose"), _NUM),
                 **dict.fromkeys(TICKER_EXTRAS, "any")}  # fmt: skip
#: Kline items, pushed (``tick``) and replied (``data``) alike (doc "k-line data").
KLINE_FIELDS = dict.fromkeys(("id", "amount", "vol", "open", "close", "high", "low"), _NUM)
#: A full book (doc "order book ... Full update"; REST's ``bids`` tolerated), its
#: levels ``[price, volume]``, and the one-level update ("Incremental update").
BOOK_FIELDS = {"asks": "array", "buys": "array", "bids": "array"}
LEVEL = (_NUM, _NUM)
BOOK_UPDATE_FIELDS = {"side": "string", "price": _NUM, "volume": _NUM}
#: Wire side → trade side (some servers write UPPERCASE).
SIDES = {"buy": "buy", "sell": "sell", "BUY": "buy", "SELL": "sell", "Buy": "buy", "Sell": "sell"}
#: Depth key or incremental side → book side.
BOOK_SIDES = {"buys": "bid", "bids": "bid", "asks": "ask", "buy": "bid", "sell": "ask"}


class Trade(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """One trade: exactly :data:`TRADE_FIELDS`; ``ts`` (ms) and ``id`` may be missing."""

    side: str
    price: float
    vol: float
    ts: int | None = None
    id: int | None = None
    amount: msgspec.Raw = msgspec.Raw()  # quote total: known, not kept
    ds: msgspec.Raw = msgspec.Raw()


class TradeTick(msgspec.Struct, gc=False):
    """A ``market_<symbol>_trade_ticker`` tick (its own ``id``/``ts`` are not read)."""

    data: list[Trade]


class TradePush(msgspec.Struct, gc=False):
    """A whole trade push; ``ts`` is taken as it is (the session reads it)."""

    channel: str
    tick: TradeTick
    ts: Any = None


decode_trade_push = msgspec.json.Decoder(TradePush, strict=False).decode


class Shapes:
    """The drift checks of one session (:mod:`mdkit.venues.drift`), one per channel."""

    __slots__ = ("trade", "ticker", "kline", "book", "update", "bids", "asks")

    def __init__(self) -> None:
        self.trade = Fields("trade_ticker", TRADE_FIELDS, TRADE_OPTIONAL)
        self.ticker = Fields("ticker", TICKER_FIELDS, TICKER_EXTRAS)
        self.kline = Fields("kline", KLINE_FIELDS)
        self.book = Fields("depth", BOOK_FIELDS, ("bids",))
        self.update = Fields("depth", BOOK_UPDATE_FIELDS)
        self.bids = Row("depth", LEVEL, "buys")
        self.asks = Row("depth", LEVEL, "asks")


def clip(msg: Any, size: int = 300) -> str:
    """``msg`` as JSON text, cut to ``size`` characters (an ellipsis marks a cut)."""
    text = orjson.dumps(msg).decode()
    return text if len(text) <= size else text[:size] + "…"


def epoch_ms(value: Any, default: int) -> int:
    """An epoch-ms field that may be a number, a string or missing."""
    if value is None or value == "":
        return default
    return int(value)


def side_of(value: Any) -> str:
    """A trade side, ``buy`` or ``sell``, in any case (raises ValueError otherwise)."""
    side = SIDES.get(value) if type(value) is str else None
    if side is not None:
        return side
    side = str(value).strip().lower()
    if side in ("buy", "sell"):
        return side
    raise ValueError(f"unknown side {value!r}")


def trade_rows(
    items: Sequence[Any],
    symbol: str,
    default_ms: int,
    now_ns: int,
    append: Callable[..., None],
    check: Callable[[Any], None] | None = None,
) -> int:
    """Write trade rows (items without ``ts`` take ``default_ms``, without ``id`` -1);
    ``items`` are :class:`Trade` or plain dicts (then ``check(item)`` reports drift
    before each). Returns the number of items."""
    sides = SIDES
    if check is None:
        for item in items:
            side = sides.get(item.side) or side_of(item.side)
            ts, tid = item.ts, item.id
            append(timestamp=(default_ms if ts is None else ts) * MS, local_timestamp=now_ns,
                   symbol=symbol, id=-1 if tid is None else tid, side=side, price=item.price,
                   amount=item.vol)  # fmt: skip
        return len(items)
    for item in items:
        check(item)
        side = side_of(item["side"])
        ts = item.get("ts")
        tid = item.get("id")
        append(timestamp=(default_ms if ts is None else int(ts)) * MS, local_timestamp=now_ns,
               symbol=symbol, id=-1 if tid is None else int(tid), side=side,
               price=float(item["price"]), amount=float(item["vol"]))  # fmt: skip
    return len(items)


def build_pong(value: Any) -> str:
    """``{"pong": n}`` with exactly the ping's n (ms or s, number or string kept as is)."""
    return dumps({"pong": value})


def decode(frame: bytes | str) -> Any:
    """Decode one received frame: gzip binary (the norm), plain binary or text JSON.

    Raises
    ------
    ProtocolError
        If the frame is neither gzip nor JSON.
    """
    try:
        if isinstance(frame, str):
            return orjson.loads(frame)
        if frame[:2] == b"\x1f\x8b":
            frame = inflate(frame, 31)
        return orjson.loads(frame)
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise ProtocolError(f"{VENUE}: frame is neither gzip JSON nor JSON: {exc}") from None


def build_subscribe(subscriptions: Sequence[Subscription]) -> list[str]:
    """``{"event":"sub","params":{"channel":...,"cb_id":...}}`` for each subscription."""
    return [
        dumps({"event": "sub", "params": {"channel": s.channel, "cb_id": s.symbol, **s.options}})
        for s in subscriptions
    ]


def build_unsubscribe(subscriptions: Sequence[Subscription]) -> list[str]:
    """``{"event":"unsub",...}`` for each subscription."""
    return [
        dumps({"event": "unsub", "params": {"channel": s.channel, "cb_id": s.symbol}})
        for s in subscriptions
    ]


def build_req_review() -> str:
    """Every market's ticker (``review``); values come back as strings."""
    return dumps({"event": "req", "params": {"channel": "review"}})
