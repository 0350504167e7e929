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

import base64
import hashlib
import hmac
import importlib
import math
import re
import zlib
from collections.abc import Mapping, Sequence
from heapq import nlargest, nsmallest
from typing import Any

import orjson

from mdkit.errors import AuthError, InvalidArgument, MdkitError, ProtocolError, VenueError
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
    SymbolQuery,
    Venue,
    parse_channel,
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
#: The server closes after ~2 min without a ping; the doc asks for one every 30 s.
PING_SECONDS = 20.0
#: doc "Login": the request path signed by every login.
VERIFY_PATH = "/user/verify"

_PRIVATE = {"orders": "orders", "fills": "fill", "balances": "account"}
_SYMBOL = re.compile(r"^[A-Z0-9_]{2,40}$")
_NAN = float("nan")
_MS = 1_000_000
_loads = orjson.loads


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
def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


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
            f"{VENUE}: the secret is an RSA key; RSA login needs `pip install mdkit[rsa]`"
        ) from None
    try:
        key = serialization.load_pem_private_key(secret.encode(), password=None)
    except (ValueError, TypeError):
        raise InvalidArgument(f"{VENUE}: the RSA secret key cannot be read") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidArgument(f"{VENUE}: the secret key is not an RSA key")
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
    return _dumps({"op": "login", "args": [arg]})


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
        doc = _loads(body)
        code = str(doc.get("code"))
        if code != "00000":
            raise VenueError(code, str(doc.get("msg", "")))
        return [str(item["symbol"]) for item in doc["data"]]
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise ProtocolError(f"{VENUE}: symbol list not understood: {exc!r}") from None


def _symbol_list(options: Mapping[str, Any]) -> list[SymbolQuery]:
    inst_type = str(options.get("inst_type", "SPOT")).upper()
    if inst_type == "SPOT":
        return [SymbolQuery("rest", "/api/v2/spot/public/symbols", {}, parse_symbols)]
    return [
        SymbolQuery(
            "rest", "/api/v2/mix/market/contracts", {"productType": inst_type}, parse_symbols
        )
    ]


# -- the session ---------------------------------------------------------------------------
class _Route:
    """Per-channel state of one connection."""

    __slots__ = ("sub", "kind", "symbol", "key", "interval", "bids", "asks", "seq", "waiting",
                 "seen", "recovering")  # fmt: skip

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.kind = sub.kind
        self.symbol = sub.symbol
        self.key = sub.key
        self.interval = sub.interval.name if sub.interval else ""
        # books: price → (price string, size string) per side, as on the wire
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq: int | None = None
        self.waiting = False  # an integrity break: updates ignored until a snapshot
        self.recovering = False
        self.seen: set[int] = set()  # trade ids of the snapshot backfill


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
        self.routes: dict[tuple[Any, Any], _Route] = {}
        for sub in setup.subscriptions:
            arg = sub.options["arg"]
            self.routes[(arg["channel"], arg.get("instId") or arg.get("coin", ""))] = _Route(sub)
        tables = setup.tables
        self._tables = tables
        self._trades = tables["trades"].append
        self.private = setup.venue.endpoints[setup.endpoint].private

    # -- sending ---------------------------------------------------------------------
    def open(self, now_ns: int) -> Sequence[Event]:
        """Login on the private endpoint (fresh timestamp); public needs none.

        Raises
        ------
        AuthError
            If a credential is missing (the values are never shown).
        """
        if not self.private:
            return (Ready(),)
        creds = self.credentials
        missing = [n for n in ("api_key", "secret_key", "passphrase") if n not in creds]
        if missing:
            raise AuthError("credentials", f"{VENUE}: login needs {', '.join(missing)}")
        login = build_login(creds["api_key"], creds["passphrase"], creds["secret_key"], now_ns)
        return (Send(login),)

    def subscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Subscribe requests of up to 4096 bytes of args each."""
        return [Send(m) for m in build_requests("subscribe", subscriptions)]

    def resubscribe(self, subscriptions: Sequence[Subscription]) -> Sequence[Event]:
        """Unsubscribe then subscribe these channels only: the server sends a fresh snapshot."""
        return [
            Send(m)
            for m in build_requests("unsubscribe", subscriptions)
            + build_requests("subscribe", subscriptions)
        ]

    def timer(self, now_ns: int) -> Sequence[Event]:
        """The text ``ping`` (doc "Connection instructions": at least every 30 s)."""
        return (Send("ping", urgent=True),)

    # -- receiving -------------------------------------------------------------------
    def receive(self, frame: bytes, now_ns: int) -> Sequence[Event]:
        """Handle one frame; see :class:`~mdkit.venues.base.Session`."""
        if frame == b"pong":  # bare text, not JSON (NOTES.md)
            self.counters.pongs += 1
            return NOTHING
        try:
            msg = _loads(frame)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"{VENUE}: frame is not JSON: {exc}") from None
        if type(msg) is not dict:
            raise ProtocolError(f"{VENUE}: frame is not a JSON object")
        action = msg.get("action")
        if action is not None:
            arg = msg.get("arg") or {}
            route = self.routes.get((arg.get("channel"), arg.get("instId") or arg.get("coin", "")))
            if route is None:
                self.counters.unrouted += 1
                return NOTHING
            try:
                events = self._data(route, action, msg["data"], msg, now_ns)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise ProtocolError(f"{VENUE}: cannot read {route.key} push: {exc!r}") from None
            return events
        return self._control(msg)

    def _control(self, msg: dict[str, Any]) -> Sequence[Event]:
        event = msg.get("event")
        if event in ("subscribe", "unsubscribe"):
            self.counters.acks += 1
            return NOTHING
        if event == "login":
            if str(msg.get("code", "0")) == "0":
                self.counters.acks += 1
                return (Ready(),)
            return (self._error(msg),)
        if event == "error":
            return (self._error(msg),)
        self.counters.other += 1
        return NOTHING

    def _error(self, msg: dict[str, Any]) -> ServerError:
        code = str(msg.get("code", ""))
        meaning, error, fatal = ERRORS.get(code, ("error", VenueError, False))
        arg = msg.get("arg")
        where = f" ({arg.get('channel')} {arg.get('instId', '')})" if isinstance(arg, dict) else ""
        text = f"{meaning}: {str(msg.get('msg', ''))[:200]}{where}"
        return ServerError(text, code=code or None, fatal=fatal, error=error)

    def _data(
        self, route: _Route, action: str, data: Any, msg: Any, now_ns: int
    ) -> Sequence[Event]:
        kind = route.kind
        if kind == "trades":
            self._trade_rows(route, action == "snapshot", data, now_ns)
        elif kind == "book":
            events = self._book(route, action == "snapshot", data[0], now_ns)
            if events is not None:
                return events
        elif kind == "ticker":
            self._ticker(route, data, now_ns)
        elif kind == "klines":
            append = self._tables["klines"].append
            for row in data:
                append(int(row[0]) * _MS, now_ns, route.symbol, route.interval,
                       float(row[1]), float(row[2]), float(row[3]), float(row[4]),
                       float(row[5]), float(row[6]))  # fmt: skip
        else:
            self._private(route, data, now_ns)
        self.count(route.key)
        return NOTHING

    def _trade_rows(self, route: _Route, snapshot: bool, data: Any, now_ns: int) -> None:
        append = self._trades
        symbol = route.symbol
        if snapshot:
            # The backfill (~30 trades) may repeat trades the updates carry: keep its
            # ids, skip them in updates until an update passes the newest of them.
            route.seen = {int(item["tradeId"]) for item in data}
        seen = route.seen
        newest = max(seen) if seen and not snapshot else 0
        for item in reversed(data):  # newest first on the wire
            tid = int(item["tradeId"])
            if newest:
                if tid in seen:
                    continue
                if tid > newest:
                    seen.clear()
                    newest = 0
            append(int(item["ts"]) * _MS, now_ns, symbol, tid, item["side"],
                   float(item["price"]), float(item["size"]))  # fmt: skip

    def _ticker(self, route: _Route, data: Any, now_ns: int) -> None:
        append = self._tables["ticker"].append
        for item in data:
            get = item.get
            append(int(item["ts"]) * _MS, now_ns, route.symbol, _f(get("lastPr")),
                   _f(get("bidPr")), _f(get("askPr")), _f(get("high24h")), _f(get("low24h")),
                   _f(get("baseVolume")), _f(get("change24h")), _f(get("open24h")),
                   _f(get("quoteVolume")), _f(get("bidSz")), _f(get("askSz")))  # fmt: skip

    def _book(
        self, route: _Route, snapshot: bool, item: Any, now_ns: int
    ) -> Sequence[Event] | None:
        ts = int(item["ts"]) * _MS
        append = self._tables["depth"].append
        symbol = route.symbol
        if route.sub.channel[5:6] != " ":  # books1/5/15: every push is a full book
            for price, size in item["bids"]:
                append(ts, now_ns, symbol, True, "bid", float(price), float(size))
            for price, size in item["asks"]:
                append(ts, now_ns, symbol, True, "ask", float(price), float(size))
            return None
        bids, asks = route.bids, route.asks
        if snapshot:
            bids.clear()
            asks.clear()
            route.waiting = False
        elif route.waiting:
            return NOTHING  # a broken book: wait for the fresh snapshot
        pseq = item.get("pseq")
        if not snapshot and pseq is not None and route.seq is not None and pseq != route.seq:
            return self._broken(route, f"seq gap: pseq {pseq} != previous seq {route.seq}")
        route.seq = item.get("seq")
        for price, size in item["bids"]:
            p = float(price)
            if size == "0" or float(size) == 0:
                bids.pop(p, None)
            else:
                bids[p] = (price, size)
            append(ts, now_ns, symbol, snapshot, "bid", p, float(size))
        for price, size in item["asks"]:
            p = float(price)
            if size == "0" or float(size) == 0:
                asks.pop(p, None)
            else:
                asks[p] = (price, size)
            append(ts, now_ns, symbol, snapshot, "ask", p, float(size))
        checksum = item.get("checksum")
        if checksum:  # 0 or absent: not carried (snapshots, seq/pseq servers)
            top_bids = [bids[p] for p in nlargest(25, bids)]
            top_asks = [asks[p] for p in nsmallest(25, asks)]
            if book_checksum(top_bids, top_asks) != int(checksum):
                self.count(route.key)
                return self._broken(route, f"checksum mismatch ({checksum})")
        self.count(route.key)
        if snapshot and route.recovering:
            route.recovering = False
            return (Recovered((route.sub,)),)
        return NOTHING

    def _broken(self, route: _Route, reason: str) -> Sequence[Event]:
        route.bids.clear()
        route.asks.clear()
        route.seq = None
        route.waiting = route.recovering = True
        return (Resubscribe((route.sub,), f"{route.sub.channel}: {reason}"),)

    def _private(self, route: _Route, data: Any, now_ns: int) -> None:
        kind = route.kind
        append = self._tables[kind].append
        for item in data:
            get = item.get
            ts = int(get("uTime") or get("cTime") or now_ns // _MS) * _MS
            if kind == "balances":
                free, frozen, locked = _f(get("available")), _f(get("frozen")), _f(get("locked"))
                held = (0.0 if frozen != frozen else frozen) + (0.0 if locked != locked else locked)
                append(ts, now_ns, str(item["coin"]).lower(), free, held, free + held)
                continue
            fee, fee_coin = _fee(item)
            if kind == "orders":
                price = _f(get("price"))
                append(ts, now_ns, item["instId"], str(item["orderId"]), get("clientOid"),
                       item["side"], get("orderType"), item["status"], price, _f(get("size")),
                       _f(get("accBaseVolume")), _f(get("priceAvg")), fee, fee_coin)  # fmt: skip
            else:
                append(ts, now_ns, item["symbol"], str(item["tradeId"]), str(item["orderId"]),
                       item["side"], _f(get("priceAvg")), _f(get("size")), fee, fee_coin,
                       get("tradeScope"))  # fmt: skip


def _f(value: Any) -> float:
    return _NAN if value is None or value == "" else float(value)


def _fee(item: Mapping[str, Any]) -> tuple[float, str | None]:
    """Fee paid (positive) and its coin: ``feeDetail`` (orders, fills) or ``fillFee``."""
    details = item.get("feeDetail") or []
    if details:
        first = details[0]
        value = first.get("totalFee", first.get("fee"))
        return abs(_f(value)), first.get("feeCoin")
    return abs(_f(item.get("fillFee"))), item.get("fillFeeCoin")


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
    symbol_list=_symbol_list,
    example_symbols=("BTCUSDT", "ETHUSDT"),
    rest=importlib.import_module("mdkit.venues.bitget_rest").REST,  # spot REST (companion)
)
