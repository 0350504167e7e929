"""Bitget v2 push frames: typed decoders, per-channel state and row writers — sans-I/O.

The receive side of :class:`~mdkit.venues.bitget.BitgetSession`, kept apart from its
planning and login. The hot path reads a push with prebuilt ``msgspec.json.Decoder``
objects in lax mode (``strict=False``), so the wire's number strings
(``"price": "77600.75"``, ``"ts": "1788335044055"``) become floats and ints during the
parse (floats correctly rounded, the same as ``float(text)``; ints exact, book ``seq``
past 2**64 too):

- :func:`decode_push`: the envelope ``{"action","arg","data","ts"}``, ``data`` kept as
  raw JSON for the route's decoder; control frames (``event``) have no ``action``;
- :func:`decode_trades`: a ``trade`` push's items; a field the session does not know
  or a missing one fails the decode (``forbid_unknown_fields``), so such a frame goes to
  the general reader, which reports the drift (:mod:`mdkit.venues.drift`);
- :func:`decode_full_books`: ``books1``/``books5``/``books15`` (a full book per push);
- :func:`decode_trade_push`, :func:`decode_full_book_push`: a whole push of a known
  kind in one decode (the session tries the kind of the previous push first).

Every decoder raises :data:`DecodeError` on anything it does not read exactly; the
session then reads the frame with orjson and per-field conversions (the general
reader, :func:`trade_rows` and friends on dicts), whose errors and drift reports are the
reference. The one leniency of the typed path: an integer field written ``"1e3"`` or
``"1.0"`` is read as its value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Callable, Mapping, Sequence
from heapq import nlargest, nsmallest
from typing import Any

import msgspec
import orjson

from mdkit.data.tables import Tables
from mdkit.data.wire import MS, NAN, loads, to_float
from mdkit.errors import AuthError, InvalidArgument, MdkitError, ProtocolError, VenueError
from mdkit.venues.base import ServerError, Subscription, SymbolQuery
from mdkit.venues.drift import Fields, Row

__all__ = [
    "BOOK_FIELDS",
    "BOOK_OPTIONAL",
    "CANDLE_ROW",
    "ERRORS",
    "LEVEL",
    "PRIVATE_SHAPES",
    "TRADE_FIELDS",
    "TICKER_EXTRAS",
    "TICKER_FIELDS",
    "Arg",
    "DecodeError",
    "FullBook",
    "FullBookPush",
    "TradePush",
    "Push",
    "Route",
    "Shapes",
    "Trade",
    "book_checksum",
    "book_levels",
    "decode_full_book_push",
    "decode_full_books",
    "decode_push",
    "decode_trade_push",
    "decode_trades",
    "fee",
    "full_book_rows",
    "kline_rows",
    "parse_symbols",
    "private_rows",
    "server_error",
    "symbol_list",
    "ticker_rows",
    "trade_rows",
]

#: What every decoder raises on input it does not read (``msgspec.ValidationError`` too).
DecodeError = msgspec.DecodeError

#: Known item shapes (doc "Trade channel", "Tickers channel"; recorded spot and futures
#: tickers): anything else is counted as drift (mdkit.venues.drift).
TRADE_FIELDS = dict.fromkeys(("ts", "price", "size", "side", "tradeId"), "string")
TICKER_EXTRAS = ("changeUtc24h", "openUtc", "fundingRate", "holdingAmount", "indexPrice",
                 "markPrice", "nextFundingTime", "symbol", "symbolType", "usdtVolume",
                 "deliveryPrice")  # fmt: skip
TICKER_FIELDS = {
    **dict.fromkeys(("instId", "lastPr", "open24h", "high24h", "low24h", "change24h", "bidPr",
                     "askPr", "bidSz", "askSz", "baseVolume", "quoteVolume", "ts"), "string"),
    **dict.fromkeys(TICKER_EXTRAS, "any"),
}  # fmt: skip
#: ``books``/``books1/5/15`` items (NOTES.md; recorded spot, futures and clone frames):
#: ``checksum`` on the doc's servers, ``seq``/``pseq`` on recent live ones.
BOOK_FIELDS = {"asks": "array", "bids": "array", "ts": "string", "checksum": "number",
               "seq": "number", "pseq": "number"}  # fmt: skip
BOOK_OPTIONAL = ("checksum", "seq", "pseq")
#: A book level ``[price, size]`` and a candle row (NOTES.md "candles"): strings.
LEVEL = ("string", "string")
CANDLE_ROW = ("string",) * 8
#: Private items, spot and futures (Bitget's API docs, "Order/Fill/Account Channel" of
#: api-doc/spot and api-doc/contract websocket/private; no recorded frames exist):
#: channel → instType is SPOT → (known fields, optional). ``feeDetail`` is a list; every
#: other field a string. Optional: the latest-fill fields of an order (an order that
#: has not filled has none), ``price`` (absent from the spot example), ``notional``
#: (spot: market buys only), futures preset TP/SL prices.
_FILLED = ("fillPrice", "tradeId", "baseVolume", "fillTime", "fillFee", "fillFeeCoin",
           "tradeScope")  # fmt: skip
PRIVATE_SHAPES: dict[tuple[str, bool], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("orders", True): (("instId", "orderId", "clientOid", "price", "size", "newSize",
                        "notional", "orderType", "force", "side", *_FILLED, "accBaseVolume",
                        "priceAvg", "status", "cTime", "uTime", "stpMode", "feeDetail",
                        "enterPointSource"), (*_FILLED, "price", "notional")),
    ("orders", False): (("accBaseVolume", "cTime", "clientOId", "feeDetail", *_FILLED,
                         "fillNotionalUsd", "force", "instId", "leverage", "marginCoin",
                         "marginMode", "notionalUsd", "orderId", "orderType", "pnl", "posMode",
                         "posSide", "price", "priceAvg", "reduceOnly", "stpMode", "side", "size",
                         "enterPointSource", "status", "tradeSide", "presetStopSurplusPrice",
                         "totalProfits", "presetStopLossPrice", "uTime"),
                        (*_FILLED, "fillNotionalUsd", "presetStopSurplusPrice",
                         "presetStopLossPrice")),
    ("fill", True): (("orderId", "tradeId", "symbol", "orderType", "side", "priceAvg", "size",
                      "amount", "tradeScope", "feeDetail", "cTime", "uTime"), ()),
    ("fill", False): (("orderId", "tradeId", "symbol", "side", "orderType", "posMode", "price",
                       "baseVolume", "quoteVolume", "profit", "tradeSide", "tradeScope",
                       "feeDetail", "cTime", "uTime"), ()),
    ("account", True): (("coin", "available", "frozen", "locked", "limitAvailable", "uTime"), ()),
    ("account", False): (("marginCoin", "frozen", "available", "maxOpenPosAvailable",
                          "maxTransferOut", "equity", "usdtEquity", "crossedRiskRate",
                          "unrealizedPL"), ()),
}  # fmt: skip


class Shapes:
    """The drift checks of one session (:mod:`mdkit.venues.drift`), one per channel."""

    __slots__ = ("trade", "ticker", "book", "bids", "asks", "candle", "_private")

    def __init__(self) -> None:
        self.trade = Fields("trade", TRADE_FIELDS)
        self.ticker = Fields("ticker", TICKER_FIELDS, TICKER_EXTRAS)
        self.book = Fields("books", BOOK_FIELDS, BOOK_OPTIONAL)
        self.bids = Row("books", LEVEL, "bids")
        self.asks = Row("books", LEVEL, "asks")
        self.candle = Row("candle", CANDLE_ROW)
        self._private: dict[str, Fields] = {}

    def private(self, route: Route) -> Fields:
        """The shape of a private channel's items (spot or futures, by the route's instType)."""
        fields = self._private.get(route.key)
        if fields is None:
            arg = route.sub.options["arg"]
            known, optional = PRIVATE_SHAPES[arg["channel"], arg.get("instType") == "SPOT"]
            types = {name: "array" if name == "feeDetail" else "string" for name in known}
            fields = self._private[route.key] = Fields(arg["channel"], types, optional)
        return fields

    def own(self, session: Any, route: Route) -> Callable[[Any], None]:
        """``check(item)`` of a candle or private channel's items, reporting to ``session``."""
        check = self.candle.check if route.kind == "klines" else self.private(route).check
        return lambda item: check(session, item)

    def levels(self, session: Any, item: Any, *, types: bool = False) -> tuple[Any, Any]:
        """Check a book item (dict); its bid and ask levels, ready for the depth writer."""
        self.book.check(session, item, types=types)
        return (self.bids.levels(session, item["bids"], types=types),
                self.asks.levels(session, item["asks"], types=types))  # fmt: skip


#: Error codes (NOTES.md, samples/bitget_v2/error_codes.json) → (meaning, mdkit error, fatal).
ERRORS: dict[str, tuple[str, type[MdkitError], bool]] = {
    "30001": ("channel or instId doesn't exist", VenueError, False),
    "30002": ("illegal request", VenueError, False),
    "30003": ("invalid op", VenueError, False),
    "30004": ("login required", AuthError, True),
    "30005": ("login failed", AuthError, True),
    "30006": ("too many requests", VenueError, False),
    "30007": ("request over limit, connection closed", VenueError, False),
    "30011": ("invalid ACCESS_KEY", AuthError, True),
    "30012": ("invalid ACCESS_PASSPHRASE", AuthError, True),
    "30013": ("invalid ACCESS_TIMESTAMP", AuthError, True),
    "30014": ("request timestamp expired", AuthError, True),
    "30015": ("invalid sign", AuthError, True),
    "30016": ("param error", VenueError, False),
}


def server_error(msg: Mapping[str, Any]) -> ServerError:
    """The :class:`~mdkit.venues.base.ServerError` of an ``error`` or failed ``login`` frame."""
    code = str(msg.get("code", ""))
    meaning, error, fatal = ERRORS.get(code, ("error", VenueError, False))
    arg = msg.get("arg")
    where = f" ({arg.get('channel')} {arg.get('instId', '')})" if isinstance(arg, dict) else ""
    text = f"{meaning}: {str(msg.get('msg', ''))[:200]}{where}"
    return ServerError(text, code=code or None, fatal=fatal, error=error)


# -- login ------------------------------------------------------------------------------
#: doc "Login": the request path signed by every login.
VERIFY_PATH = "/user/verify"


def login_sign(secret: str, timestamp: str) -> str:
    """The login ``sign`` (doc "Login"): base64 HMAC-SHA256, or RSA-SHA256 for a PEM key.

    ``timestamp + "GET" + "/user/verify"`` signed with the secret. A secret that is an
    RSA private key (PEM) is signed with RSA PKCS#1 v1.5 SHA-256 (needs ``cryptography``,
    the ``rsa`` extra).

    Raises
    ------
    InvalidArgument
        If the secret is an RSA key and ``cryptography`` is not installed, or the key
        cannot be read (the key itself is never shown).
    """
    content = f"{timestamp}GET{VERIFY_PATH}".encode()
    if "PRIVATE KEY-----" not in secret:
        digest = hmac.new(secret.encode(), content, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        raise InvalidArgument(
            "bitget: the secret is an RSA key; RSA login needs `pip install mdkit[rsa]`"
        ) from None
    try:
        key = serialization.load_pem_private_key(secret.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidArgument("bitget: the RSA secret key cannot be read") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidArgument("bitget: the secret key is not an RSA key")
    signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def build_login(api_key: str, passphrase: str, secret: str, now_ns: int) -> str:
    """The login request with a fresh timestamp in **seconds** (doc "Login")."""
    timestamp = str(now_ns // 1_000_000_000)
    arg = {
        "apiKey": api_key,
        "passphrase": passphrase,
        "timestamp": timestamp,
        "sign": login_sign(secret, timestamp),
    }
    return orjson.dumps({"op": "login", "args": [arg]}).decode()


# -- typed decoders ----------------------------------------------------------------------
class Arg(msgspec.Struct, gc=False):
    """The push's ``arg``: channel and instrument (``coin`` on the account channel)."""

    channel: str = ""
    instId: str = ""
    coin: str = ""


class Push(msgspec.Struct, gc=False):
    """A frame's envelope; ``data`` is left as raw JSON (empty when absent)."""

    action: str | None = None
    arg: Arg | None = None
    data: msgspec.Raw = msgspec.Raw()


class Trade(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """One item of a ``trade`` push (strings on the wire, typed here); exactly
    :data:`TRADE_FIELDS`."""

    ts: int
    price: float
    size: float
    side: str
    tradeId: int


class FullBook(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """One item of a ``books1/5/15`` push: ``[price, size]`` string pairs, typed here;
    exactly :data:`BOOK_FIELDS` (the optional ones are not read here)."""

    ts: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]
    checksum: msgspec.Raw = msgspec.Raw()
    seq: msgspec.Raw = msgspec.Raw()
    pseq: msgspec.Raw = msgspec.Raw()


class TradePush(msgspec.Struct, gc=False):
    """A whole ``trade`` push, read in one decode (see :func:`decode_trade_push`)."""

    action: str
    arg: Arg
    data: list[Trade]


class FullBookPush(msgspec.Struct, gc=False):
    """A whole ``books1/5/15`` push, read in one decode."""

    action: str
    arg: Arg
    data: list[FullBook]


decode_push = msgspec.json.Decoder(Push, strict=False).decode
decode_trades = msgspec.json.Decoder(list[Trade], strict=False).decode
decode_full_books = msgspec.json.Decoder(list[FullBook], strict=False).decode
#: One decode per push when the kind is known (guessed from the previous push: a
#: connection's pushes mostly repeat a kind); the route it names confirms the guess.
decode_trade_push = msgspec.json.Decoder(TradePush, strict=False).decode
decode_full_book_push = msgspec.json.Decoder(FullBookPush, strict=False).decode


# -- per-channel state -------------------------------------------------------------------
class Route:
    """Per-channel state of one connection."""

    __slots__ = ("sub", "kind", "symbol", "key", "interval", "bids", "asks", "seq", "waiting",
                 "seen", "recovering", "full", "typed", "levels")  # fmt: skip

    def __init__(self, sub: Subscription, tables: Tables) -> None:
        self.sub = sub
        self.kind = sub.kind
        self.symbol = sub.symbol
        self.key = sub.key
        self.interval = sub.interval.name if sub.interval else ""
        #: books1/5/15: every push is a full book (``books`` is snapshot + updates).
        self.full = sub.kind == "book" and sub.channel[5:6] != " "
        #: The whole-push decoder of a typed kind (trades, books1/5/15), else None.
        self.typed: Callable[[bytes], Any] | None = None
        if self.full or sub.kind == "trades":
            self.typed = decode_full_book_push if self.full else decode_trade_push
        # books: price → (price string, size string) per side, as on the wire
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq: int | None = None
        self.waiting = False  # an integrity break: updates ignored until a snapshot
        self.recovering = False
        self.seen: set[int] = set()  # trade ids of the snapshot backfill
        #: A book's depth rows, one call per side (bound here: no empty table otherwise).
        self.levels: Callable[..., None] = _not_a_book
        if sub.kind == "book":
            self.levels = tables["depth"].writer("price", "amount")


def _not_a_book(**_: Any) -> None:
    raise TypeError("not a book channel")


# -- rows ----------------------------------------------------------------------------------
def trade_rows(
    route: Route,
    snapshot: bool,
    data: Sequence[Any],
    now_ns: int,
    append: Callable[..., None],
    check: Callable[[Any], None] | None = None,
) -> None:
    """Trade rows of one push; ``data`` is :class:`Trade` items, or dicts (the general
    reader: ``check(item)`` reports drift before each of them)."""
    typed = check is None
    symbol = route.symbol
    if snapshot:
        # The backfill (~30 trades) may repeat trades the updates carry: keep its
        # ids, skip them in updates until an update passes the newest of them.
        route.seen = {i.tradeId if typed else int(i["tradeId"]) for i in data}
    seen = route.seen
    newest = max(seen) if seen and not snapshot else 0
    for item in reversed(data):  # newest first on the wire
        if typed:
            tid = item.tradeId
        else:
            check(item)  # type: ignore[misc]
            tid = int(item["tradeId"])
        if newest:
            if tid in seen:
                continue
            if tid > newest:
                seen.clear()
                newest = 0
        if typed:
            append(timestamp=item.ts * MS, local_timestamp=now_ns, symbol=symbol, id=tid,
                   side=item.side, price=item.price, amount=item.size)  # fmt: skip
        else:
            append(timestamp=int(item["ts"]) * MS, local_timestamp=now_ns, symbol=symbol,
                   id=tid, side=item["side"], price=float(item["price"]),
                   amount=float(item["size"]))  # fmt: skip


def full_book_rows(
    route: Route, item: Any, now_ns: int, sides: tuple[Any, Any] | None = None
) -> None:
    """Depth rows of one ``books1/5/15`` item: a :class:`FullBook`, or a dict with its
    checked ``sides`` (:meth:`Shapes.levels`)."""
    symbol, levels = route.symbol, route.levels
    if sides is None:
        ts, bids, asks = item.ts * MS, item.bids, item.asks
    else:
        ts, (bids, asks) = int(item["ts"]) * MS, sides
    levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
           side="bid", rows=bids)  # fmt: skip
    levels(timestamp=ts, local_timestamp=now_ns, symbol=symbol, is_snapshot=True,
           side="ask", rows=asks)  # fmt: skip


def ticker_rows(
    route: Route,
    data: Any,
    now_ns: int,
    append: Callable[..., None],
    check: Callable[[Any], None],
) -> None:
    """Ticker rows of one push (dict items; ``check(item)`` reports drift)."""
    f = to_float
    for item in data:
        check(item)
        get = item.get
        append(
            timestamp=int(item["ts"]) * MS,
            local_timestamp=now_ns,
            symbol=route.symbol,
            last=f(get("lastPr")),
            bid=f(get("bidPr")),
            ask=f(get("askPr")),
            high=f(get("high24h")),
            low=f(get("low24h")),
            volume=f(get("baseVolume")),
            change=f(get("change24h")),
            open=f(get("open24h")),
            quote_volume=f(get("quoteVolume")),
            bid_amount=f(get("bidSz")),
            ask_amount=f(get("askSz")),
        )


def kline_rows(
    route: Route, data: Any, now_ns: int, append: Callable[..., None], check: Callable[[Any], None]
) -> None:
    """Kline rows of one candle push (rows of eight strings; ``check(row)`` reports drift;
    a row without its quote volume is still written, NaN there)."""
    # COIN-FUTURES (inverse): the base-coin volume is index 6 (ccxt reads it
    # there); index 5 counts contracts, not written as a quote volume.
    inverse = route.sub.options["arg"].get("instType") == "COIN-FUTURES"
    for row in data:
        check(row)
        if inverse:
            volume, quote = row[6], NAN
        else:
            volume, quote = row[5], (row[6] if len(row) > 6 else NAN)
        append(
            timestamp=int(row[0]) * MS,
            local_timestamp=now_ns,
            symbol=route.symbol,
            interval=route.interval,
            open=float(row[1]),
            high=float(row[2]),
            low=float(row[3]),
            close=float(row[4]),
            volume=float(volume),
            quote_volume=float(quote),
        )


def private_rows(
    route: Route, data: Any, now_ns: int, append: Callable[..., None], check: Callable[[Any], None]
) -> None:
    """Rows of one private push: ``orders``, ``fills`` or ``balances`` (``check(item)``
    reports drift). Spot and futures items differ (see :data:`PRIVATE_SHAPES`)."""
    kind = route.kind
    f = to_float
    for item in data:
        check(item)
        get = item.get
        ts = int(get("uTime") or get("cTime") or now_ns // MS) * MS
        if kind == "balances":
            free, frozen, locked = f(get("available")), f(get("frozen")), f(get("locked"))
            held = (0.0 if frozen != frozen else frozen) + (0.0 if locked != locked else locked)
            # Spot items name the asset `coin`; USDT-/COIN-FUTURES account items name
            # it `marginCoin` and send no `coin` (ccxt bitget handle_balance).
            coin = get("coin") or item["marginCoin"]
            append(timestamp=ts, local_timestamp=now_ns, coin=str(coin).lower(), free=free,
                   locked=held, total=free + held)  # fmt: skip
            continue
        paid, fee_coin = fee(item)
        if kind == "orders":
            append(
                timestamp=ts,
                local_timestamp=now_ns,
                symbol=item["instId"],
                order_id=str(item["orderId"]),
                client_order_id=get("clientOid", get("clientOId")),  # futures: clientOId
                side=item["side"],
                type=get("orderType"),
                status=item["status"],
                price=f(get("price")),
                amount=f(get("size")),
                filled_amount=f(get("accBaseVolume")),
                average_price=f(get("priceAvg")),
                fee=paid,
                fee_currency=fee_coin,
            )
        else:
            append(
                timestamp=ts,
                local_timestamp=now_ns,
                symbol=item["symbol"],
                trade_id=str(item["tradeId"]),
                order_id=str(item["orderId"]),
                side=item["side"],
                # Spot fills: priceAvg/size; futures fills: price/baseVolume.
                price=f(get("priceAvg", get("price"))),
                amount=f(get("size", get("baseVolume"))),
                fee=paid,
                fee_currency=fee_coin,
                liquidity=get("tradeScope"),
            )


def fee(item: Mapping[str, Any]) -> tuple[float, str | None]:
    """Fee paid (positive) and its coin: ``feeDetail`` (orders, fills) or ``fillFee``."""
    details = item.get("feeDetail") or []
    if details:
        first = details[0]
        value = first.get("totalFee", first.get("fee"))
        return abs(to_float(value)), first.get("feeCoin")
    return abs(to_float(item.get("fillFee"))), item.get("fillFeeCoin")


def book_levels(
    route: Route, snapshot: bool, item: Any, sides: tuple[Any, Any], ts: int, now_ns: int
) -> bool:
    """Apply one ``books`` snapshot or update (its checked ``sides``, :meth:`Shapes.levels`)
    to the route's book, writing its depth rows (size 0 deletes a level); False if its
    CRC32 ``checksum`` does not match the book."""
    bids, asks = route.bids, route.asks
    for side, book, changes in (("bid", bids, sides[0]), ("ask", asks, sides[1])):
        for price, size in changes:
            p = float(price)
            if size == "0" or float(size) == 0:
                book.pop(p, None)
            else:
                book[p] = (price, size)
        route.levels(timestamp=ts, local_timestamp=now_ns, symbol=route.symbol,
                     is_snapshot=snapshot, side=side, rows=changes)  # fmt: skip
    checksum = item.get("checksum")
    if checksum:  # 0 or absent: not carried (snapshots, seq/pseq servers)
        top_bids = [bids[p] for p in nlargest(25, bids)]
        top_asks = [asks[p] for p in nsmallest(25, asks)]
        return book_checksum(top_bids, top_asks) == int(checksum)
    return True


# -- vectors and REST answers ------------------------------------------------------------
def book_checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]]) -> int:
    """CRC32 of the top 25 levels interleaved, as a signed int32 (doc "Depth channel").

    ``bid1p:bid1s:ask1p:ask1s:bid2p...``; a side that runs out is skipped; the exact
    wire strings are used (trailing zeros matter).
    """
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i][:2]
        if i < len(asks):
            parts += asks[i][:2]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def parse_symbols(body: bytes) -> list[str]:
    """Symbols of a spot symbols or futures contracts answer (``code`` "00000" = ok).

    Raises
    ------
    VenueError
        For an error envelope.
    ProtocolError
        If the answer is not the documented envelope.
    """
    try:
        doc = loads(body)
        code = str(doc.get("code"))
        if code != "00000":
            raise VenueError(code, str(doc.get("msg", "")))
        return [str(item["symbol"]) for item in doc["data"]]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise ProtocolError(f"bitget: symbol list not understood: {exc!r}") from None


def symbol_list(options: Mapping[str, Any]) -> list[SymbolQuery]:
    """Where the symbols of an ``inst_type`` are listed (spot symbols, futures contracts)."""
    inst_type = str(options.get("inst_type", "SPOT")).upper()
    if inst_type == "SPOT":
        return [SymbolQuery("rest", "/api/v2/spot/public/symbols", {}, parse_symbols)]
    query = {"productType": inst_type}
    return [SymbolQuery("rest", "/api/v2/mix/market/contracts", query, parse_symbols)]
