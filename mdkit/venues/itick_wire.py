"""iTick's wire vocabulary: constants, symbol codes, outgoing messages, subscribe errors.

The pure pieces of the iTick venue (:mod:`mdkit.venues.itick`, whose docstring lists
the real-server quirks): the channel → subscribe-type and interval → period-code maps
(NOTES.md "Kline period codes"), the connection rules' figures (heartbeat, the
one-connection rule), the known push fields, symbol codes, the ``auth``, ``ping`` and
``subscribe`` messages, and the error of a refused subscribe.
:mod:`mdkit.venues.itick` re-exports the public names it always had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from mdkit.data.wire import dumps as _dumps
from mdkit.errors import InvalidArgument, VenueError
from mdkit.venues.base import Credentials, ServerError, Subscription

__all__ = [
    "VENUE",
    "WIRE_TYPES",
    "INTERVAL_TOKENS",
    "PERIOD_NAMES",
    "BOOK_LEVELS",
    "STATUS",
    "PING_INTERVAL",
    "SILENCE_TIMEOUT",
    "KICK_CODES",
    "KICK_WORDS",
    "DUEL_SECONDS",
    "DUEL_CLOSES",
    "TICK_FIELDS",
    "DEPTH_FIELDS",
    "LEVEL_FIELDS",
    "KLINE_PUSH_FIELDS",
    "KLINE_FIELDS",
    "SDK_QUOTE",
    "QUOTE_FIELDS_KNOWN",
    "handshake_headers",
    "push_code",
    "itick_symbol",
    "build_auth",
    "build_ping",
    "build_subscribe",
    "clip",
    "subscribe_error",
]

VENUE = "itick"
#: Vocabulary channel → iTick subscribe type (``klines`` → ``kline@<code>``).
WIRE_TYPES = {"trades": "tick", "ticker": "quote", "quotes": "depth", "book": "depth"}
#: Canonical interval → kline period code (NOTES.md "Kline period codes").
INTERVAL_TOKENS: dict[str, str] = {
    "1min": "1",
    "5min": "2",
    "15min": "3",
    "30min": "4",
    "60min": "5",
    "1day": "8",
    "1week": "9",
    "1month": "10",
}
#: Kline period code → canonical interval.
PERIOD_NAMES = {code: name for name, code in INTERVAL_TOKENS.items()}
#: Levels per side of a depth push (doc example: 5).
BOOK_LEVELS = 5
#: ``ts`` of tick/quote pushes (NOTES.md): trading status, not a time.
STATUS = {0: "normal", 1: "suspended", 2: "delisted", 3: "circuit breaker"}
#: Seconds between client pings (the doc gives no period; well inside any idle cut).
PING_INTERVAL = 15.0
#: Pongs answer every ping: three missed periods is a dead link.
SILENCE_TIMEOUT = 3 * PING_INTERVAL
#: Close codes / reasons that mean "another connection with this token took over".
KICK_CODES = (4000,)
#: A close this soon (seconds) after the connection opened counts toward a duel ...
DUEL_SECONDS = 10.0
#: ... and this many such closes in a row (same close code) are the one-connection rule.
DUEL_CLOSES = 3
#: Close reasons that say another connection took over.
KICK_WORDS = re.compile(r"kick|another (connection|session)|replaced|duplicate", re.I)
#: Known tick and quote pushes (doc; the SDKs' quote adds o/h/l/ch/chp): anything else is
#: counted as drift (mdkit.venues.drift).
TICK_FIELDS = {"s": "string", "ld": "number", "t": "number", "v": "number", "tu": "number",
               "ts": "number", "type": "string", "d": "any", "te": "any"}  # fmt: skip
#: Quote fields only the SDKs declare (read with ``quote_fields="sdk"``).
SDK_QUOTE = ("o", "h", "l", "ch", "chp")
QUOTE_FIELDS_KNOWN = {**{k: v for k, v in TICK_FIELDS.items() if k not in ("d", "te")},
                      **dict.fromkeys(SDK_QUOTE, "number")}  # fmt: skip
#: Depth and kline pushes (doc "depth", "kline"; the schemas of samples/itick_crypto):
#: levels ``{po, p, v, o}``; a kline push's envelope ``{s, t, k, type}`` (``type``
#: absent on some servers, NOTES.md) and its bar ``k``.
DEPTH_FIELDS = {"s": "string", "a": "array", "b": "array", "type": "string"}
LEVEL_FIELDS = dict.fromkeys(("po", "p", "v", "o"), "number")
KLINE_PUSH_FIELDS = {"s": "string", "t": "number", "k": "object", "type": "string"}
KLINE_FIELDS = dict.fromkeys(("t", "o", "h", "l", "c", "v", "tu"), "number")
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}(\$[A-Z]{1,4})?$")


def handshake_headers(credentials: Credentials) -> Mapping[str, str]:
    """The ``token`` handshake header (doc "Connect to the cluster")."""
    token = credentials.get("token")
    return {"token": token} if token else {}


def push_code(symbol: str) -> str:
    """The key a push's ``s`` maps to: ``ETH_USDT``, ``ETHUSDT$BA``, ``ethusdt`` → ``ETHUSDT``."""
    return symbol.partition("$")[0].replace("_", "").replace("-", "").replace("/", "").upper()


def itick_symbol(text: Any) -> str:
    """iTick's code of a market: ``BTCUSDT`` or ``BTCUSDT$BA`` (code$region).

    Raises
    ------
    InvalidArgument
        For anything that is not a symbol code, with the accepted spellings.
    """
    if not isinstance(text, str):
        raise InvalidArgument(f"{VENUE}: a symbol is a string like 'BTCUSDT', not {text!r}")
    head, dollar, region = text.strip().partition("$")
    code = push_code(head) + (dollar + region.upper() if dollar else "")
    if not _SYMBOL.match(code):
        raise InvalidArgument(
            f"{VENUE}: {text!r} is not a symbol code; write it like 'BTCUSDT', 'BTC/USDT' "
            "or 'BTCUSDT$BA' (code$region)"
        )
    return code


def build_auth(token: str) -> str:
    """The older in-band auth: ``{"ac":"auth","params":"<token>"}``."""
    return _dumps({"ac": "auth", "params": token})


def build_ping(now_ms: int) -> str:
    """``{"ac":"ping","params":"<ms>"}`` (doc: the pong echoes ``params``)."""
    return _dumps({"ac": "ping", "params": str(now_ms)})


def build_subscribe(subscriptions: Sequence[Subscription], *, split: bool = False) -> list[str]:
    """Subscribe messages: one per set of symbols sharing the same types.

    ``{"ac":"subscribe","params":"BTCUSDT,ETHUSDT","types":"quote,tick,depth,kline@1"}``;
    the server subscribes every code to every type of a message, so symbols are
    grouped by the exact set of types they need (one message for a usual capture).
    ``split``: one type per message, as in the doc's example (``"types":"quote"``).
    """
    if split:
        by_type: dict[str, list[str]] = {}
        for sub in subscriptions:
            codes = by_type.setdefault(str(sub.options["type"]), [])
            if sub.symbol not in codes:
                codes.append(sub.symbol)
        return [
            _dumps({"ac": "subscribe", "params": ",".join(codes), "types": wire})
            for wire, codes in by_type.items()
        ]
    types: dict[str, list[str]] = {}
    for sub in subscriptions:
        wire = str(sub.options["type"])
        wanted = types.setdefault(sub.symbol, [])
        if wire not in wanted:
            wanted.append(wire)
    groups: dict[tuple[str, ...], list[str]] = {}
    for code, wires in types.items():
        groups.setdefault(tuple(wires), []).append(code)
    return [
        _dumps({"ac": "subscribe", "params": ",".join(codes), "types": ",".join(wires)})
        for wires, codes in groups.items()
    ]


def clip(msg: Any, size: int = 300) -> str:
    """A server message as JSON, cut to ``size`` characters (for error texts)."""
    text = orjson.dumps(msg).decode()
    return text if len(text) <= size else text[:size] + "…"


def subscribe_error(text: str) -> ServerError:
    """The fatal error of a refused subscribe (E003: over the plan's limit)."""
    if "limit" in text:
        return ServerError(
            f"{VENUE}: subscribe refused: {text} (the token's plan allows fewer symbols or "
            "types; capture fewer)",
            code="E003",
            fatal=True,
            error=VenueError,
        )
    return ServerError(
        f"{VENUE}: subscribe refused: {text or 'failed'} (a symbol code or type the server "
        "does not know)",
        code="subscribe",
        fatal=True,
        error=VenueError,
    )
