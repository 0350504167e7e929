"""BitTap's wire vocabulary: symbols, stream topics, the LOGIN signature, WS-API replies.

The pure pieces of the BitTap venue (:mod:`mdkit.venues.bittap`) that neither plan
nor session state needs: how a market and a stream are spelled (doc stream pages;
NOTES.md), how LOGIN is signed (doc "Private Message Push"), and how a WS-API
reply's ``rateLimits`` and error become figures and mdkit errors (doc "Response
Format"). :mod:`mdkit.venues.bittap` re-exports the public names.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mdkit.data.timeparse import Interval, parse_interval
from mdkit.errors import AuthError, InvalidArgument, MdkitError, RateLimitError, VenueError

__all__ = [
    "BALANCE_FIELDS",
    "DEPTH_FIELDS",
    "KLINE_FIELDS",
    "KLINE_PUSH_FIELDS",
    "LEVEL",
    "VENUE",
    "INTERVAL_TOKENS",
    "BOOK_LEVELS",
    "DEFAULT_BOOK_LEVELS",
    "DEFAULT_SCALE",
    "REQUEST_METHODS",
    "WEIGHT_PER_MINUTE",
    "RATE_MARGIN",
    "bittap_symbol",
    "compact",
    "topic",
    "sign",
    "parse_rate_limits",
    "pace",
    "reply_error",
]

#: Kline and depth pushes (NOTES.md "Payloads are Binance-style"; the recorded depth
#: push), a depth level ``[price, size]`` (strings), and the private ``BALANCE_UPDATE``
#: push (doc "Private Message Push" sample): anything else is counted as drift
#: (:mod:`mdkit.venues.drift`).
KLINE_PUSH_FIELDS = {"e": "string", "E": "number", "s": "string", "k": "object"}
KLINE_FIELDS = {**dict.fromkeys(("t", "T", "f", "L", "n"), "number"), "x": "boolean",
                **dict.fromkeys(("s", "i", "o", "c", "h", "l", "v", "q"), "string")}  # fmt: skip
DEPTH_FIELDS = {"e": "string", "s": "string", "i": "string", "lastUpdateId": "number",
                "bids": "array", "asks": "array"}  # fmt: skip
LEVEL = ("string", "string")
BALANCE_FIELDS = {**dict.fromkeys(("E", "T", "v"), "number"),
                  **dict.fromkeys(("a", "c", "d", "e", "f", "l"), "string")}  # fmt: skip

VENUE = "bittap"
#: Kline stream tokens (NOTES.md: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M),
#: keyed by canonical interval name.
INTERVAL_TOKENS: dict[str, str] = {
    parse_interval(token).name: token
    for token in ("1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M").split()
}
#: Depth levels seen in the docs (``s_depth1`` subscribed, ``s_depth30`` pushed,
#: futures 5/10/20/50/100): the doc lists none, these are the ones accepted.
BOOK_LEVELS = (1, 5, 10, 20, 30, 50, 100)
DEFAULT_BOOK_LEVELS = 30
#: Depth price step of the doc's example topic ``s_depth1@BTC-USDT_0.01``.
DEFAULT_SCALE = "0.01"
#: WS-API methods :func:`mdkit.request` may call (doc "Common Requests"); LOGIN,
#: SUBSCRIBE and UNSUBSCRIBE belong to a connection and are sent by the session.
REQUEST_METHODS = {
    "time": "server time: {'serverTime': epoch ms}",
    "ping": "connectivity test: {}",
}
#: doc "Response Format" example: REQUEST_WEIGHT 6000 per minute.
WEIGHT_PER_MINUTE = 6000
#: Share of a reported limit the client uses (it slows before the limit, not after).
RATE_MARGIN = 0.8
_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "USD", "TRY")
_SYMBOL = re.compile(r"^([A-Z0-9]{1,20})[-/_ :]([A-Z0-9]{1,20})$")


def bittap_symbol(symbol: Any) -> str:
    """BitTap's spelling of a spot market: ``BTC-USDT``.

    Accepts ``BTC-USDT``, ``btc-usdt``, ``BTC/USDT``, ``BTC_USDT`` and, where the
    quote is a common one (USDT, USDC, BTC, ETH, ...), ``BTCUSDT`` / ``btcusdt``.

    Raises
    ------
    InvalidArgument
        For anything else, with the accepted spellings.
    """
    text = symbol.strip().upper() if isinstance(symbol, str) else ""
    match = _SYMBOL.match(text)
    if match:
        return f"{match[1]}-{match[2]}"
    if re.fullmatch(r"[A-Z0-9]{2,40}", text):
        for quote in _QUOTES:
            if text.endswith(quote) and len(text) > len(quote):
                return f"{text[: -len(quote)]}-{quote}"
    raise InvalidArgument(
        f"{VENUE}: {symbol!r} is not a symbol spelling; write it like 'BTC-USDT' "
        "(also accepted: 'BTC/USDT', 'btc_usdt', and 'BTCUSDT' for common quotes)"
    )


def compact(symbol: str) -> str:
    """A symbol without separators, upper case: how pushes name it (``BTCUSDT``)."""
    return symbol.replace("-", "").replace("_", "").replace("/", "").upper()


def topic(sub_kind: str, symbol: str, *, interval: Interval | None = None, **opts: Any) -> str:
    """The stream name of a subscription (doc stream pages; NOTES.md).

    ``s_trade@BTC-USDT``, ``s_ticker@BTC-USDT``, ``s_kline_15m@BTC-USDT``,
    ``s_depth30@BTC-USDT_0.01``, ``s_private``.
    """
    if sub_kind == "trades":
        return f"s_trade@{symbol}"
    if sub_kind == "ticker":
        return f"s_ticker@{symbol}"
    if sub_kind == "klines":
        if interval is None:
            raise ValueError("klines need an interval")
        return f"s_kline_{INTERVAL_TOKENS[interval.name]}@{symbol}"
    if sub_kind == "book":
        return f"s_depth{opts.get('levels', DEFAULT_BOOK_LEVELS)}@{symbol}_{opts.get('scale')}"
    if sub_kind in ("balances", "orders"):
        return "s_private"
    raise ValueError(f"no BitTap stream for {sub_kind!r}")


def sign(secret: str, timestamp_ms: str) -> str:
    """LOGIN signature: hex HMAC-SHA256 of the ms timestamp, keyed by the API secret."""
    return hmac.new(secret.encode(), timestamp_ms.encode(), hashlib.sha256).hexdigest()


def parse_rate_limits(figures: Any) -> tuple[dict[str, Any], ...]:
    """``rateLimits`` → figures with ``name window limit count`` (and the venue's own keys).

    ``window`` is in seconds (``intervalNum`` × ``interval``); a figure the venue
    sends without a known interval keeps ``window`` None.
    """
    out = []
    for item in figures if isinstance(figures, list) else ():
        if not isinstance(item, dict):
            continue
        unit = str(item.get("interval", "")).upper()
        num = int(item.get("intervalNum") or 1)
        seconds = _INTERVAL_SECONDS.get(unit)
        out.append(
            {
                "name": f"{item.get('rateLimitType', 'LIMIT')} {num} {unit}".strip(),
                "type": item.get("rateLimitType"),
                "window": float(seconds * num) if seconds else None,
                "limit": int(item["limit"]) if item.get("limit") is not None else None,
                "count": int(item["count"]) if item.get("count") is not None else None,
            }
        )
    return tuple(out)


def pace(figures: Sequence[Mapping[str, Any]]) -> float | None:
    """Messages per second that keep every window under ``RATE_MARGIN`` of its limit."""
    paces = [RATE_MARGIN * f["limit"] / f["window"] for f in figures if f["window"] and f["limit"]]
    return min(paces) if paces else None


def reply_error(status: Any, error: Any) -> MdkitError:
    """The mdkit error of a WS-API reply whose ``status`` is not 200.

    401/403 → :class:`~mdkit.errors.AuthError`; 418/429 →
    :class:`~mdkit.errors.RateLimitError`; anything else →
    :class:`~mdkit.errors.VenueError` (code = the venue's error code, else the status).
    """
    if isinstance(error, dict):
        code = str(error.get("code", status))
        msg = str(error.get("msg") or error.get("message") or error)
    else:
        code, msg = str(status), str(error or f"status {status}")
    if status in (401, 403):
        return AuthError(code, msg)
    if status in (418, 429):
        return RateLimitError(f"{VENUE}: rate limit reached (status {status}, code {code}): {msg}")
    return VenueError(code, msg)
