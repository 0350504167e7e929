"""Crypto.com Exchange v1 (ChainUP-style API), market data over REST — sans-I/O.

Builders return :class:`Request` values; parsers take the decoded ``data`` of the
envelope and return typed DataFrames. Nothing here opens a socket.

Protocol: ``shared/protocols/cryptocom-v1-rest-ws.md``; the real servers' quirks
handled here are listed in ``NOTES.md`` (Crypto.com v1, REST) and named where they
are handled.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson
import pandas as pd

from mdkit.data import frames
from mdkit.data.markets import symbols_frame
from mdkit.data.timeparse import Interval
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, VenueError
from mdkit.venues.rest_api import (
    Request,
    RestApi,
    RestCall,
    epochs,
    field,
    floats,
    ids,
    levels,
    rows_of,
    table,
    whole_epochs,
)

__all__ = [
    "VENUE",
    "REST_URL",
    "WS_URL",
    "DEPTH_STEPS",
    "MARKET_RATE_PER_SECOND",
    "Request",
    "build_symbols",
    "build_tickers",
    "build_ticker",
    "build_klines",
    "build_trades",
    "build_prices",
    "build_depth",
    "check_depth_step",
    "parse_envelope",
    "parse_symbols",
    "parse_tickers",
    "parse_ticker",
    "parse_klines",
    "parse_trades",
    "parse_prices",
    "parse_depth",
    "normalize_side",
    "REST",
]

VENUE = "cryptocom"
REST_URL = "https://api.crypto.com"
WS_URL = "wss://ws.crypto.com/kline-api/ws"
#: doc "Response Status Code": market APIs allow 10 requests per second per IP.
MARKET_RATE_PER_SECOND = 10
#: doc "Get the order book": step0 is unaggregated, step1/step2 merge price levels.
DEPTH_STEPS = (0, 1, 2)
#: Error codes that mean the signature was refused (NOTES.md: 100005 "request sign
#: illegal"). An unknown key is an HTTP 401, mapped by the REST engine.
AUTH_CODES = frozenset({"100005"})
#: Canonical names of the kline intervals (doc "Get k-line data": period in minutes).
KLINE_INTERVALS = ("1min", "5min", "15min", "30min", "60min", "1day", "1week", "1month")


def build_symbols() -> Request:
    """Request the market list (``GET /v1/symbols``)."""
    return Request("GET", "/v1/symbols")


def build_tickers(*, legacy: bool = False) -> Request:
    """Request every market's ticker.

    The doc names ``/v1/tickers``; the live API served the same answer at
    ``/v1/ticker`` without a symbol (NOTES.md), selected with ``legacy=True``.
    """
    return Request("GET", "/v1/ticker" if legacy else "/v1/tickers")


def build_ticker(symbol: str) -> Request:
    """Request one market's ticker (``GET /v1/ticker?symbol=``)."""
    return Request("GET", "/v1/ticker", {"symbol": symbol}, symbol=symbol)


def build_klines(symbol: str, interval: Interval, **_: Any) -> Request:
    """Request the latest bars (``GET /v1/klines?symbol=&period=<minutes>``)."""
    return Request(
        "GET", "/v1/klines", {"symbol": symbol, "period": str(interval.minutes)}, symbol=symbol
    )


def build_trades(symbol: str, **_: Any) -> Request:
    """Request the last 200 trades (``GET /v1/trades?symbol=``)."""
    return Request("GET", "/v1/trades", {"symbol": symbol}, symbol=symbol)


def build_prices() -> Request:
    """Request the last price of every market (``GET /v1/ticker/price``)."""
    return Request("GET", "/v1/ticker/price")


def check_depth_step(step: object) -> int:
    """Return ``step`` if it is 0, 1 or 2, else raise :class:`InvalidArgument` naming them."""
    if isinstance(step, bool) or not isinstance(step, int) or step not in DEPTH_STEPS:
        raise InvalidArgument(f"depth step must be one of {DEPTH_STEPS}, not {step!r}")
    return step


def build_depth(symbol: str, step: int = 0, **_: Any) -> Request:
    """Request the order book (``GET /v1/depth?symbol=&type=step<N>``).

    Raises
    ------
    InvalidArgument
        If ``step`` is not 0, 1 or 2.
    """
    check_depth_step(step)
    return Request("GET", "/v1/depth", {"symbol": symbol, "type": f"step{step}"}, symbol=symbol)


def parse_envelope(body: bytes | str) -> Any:
    """Return ``data`` of a ``{code, msg, data}`` answer, or raise the venue's error.

    ``code`` is a string on the real server (``"0"``) and a number in the doc's
    table: both are accepted (NOTES.md).

    Raises
    ------
    VenueError
        For a non-zero code (:class:`AuthError` for signature and key errors).
    ProtocolError
        If the body is not a JSON envelope.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"{VENUE}: answer is not JSON: {_clip(body)}") from exc
    if not isinstance(doc, dict) or "code" not in doc:
        raise ProtocolError(f"{VENUE}: answer has no 'code' field: {_clip(body)}")
    code = str(doc["code"]).strip()
    if code not in ("0", ""):
        msg = str(doc.get("msg") or "")
        raise (AuthError if code in AUTH_CODES else VenueError)(code, msg)
    return doc.get("data")


def _clip(body: bytes | str, size: int = 200) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return text if len(text) <= size else text[:size] + "…"


def _attrs(source: str, **extra: Any) -> dict[str, Any]:
    return {"venue": VENUE, "source": source, **extra}


def normalize_side(value: Any) -> str:
    """Map the venue's side spellings (``buy``, ``Sell``, ``SELL``, ``BUY``) to ``buy``/``sell``.

    Raises
    ------
    ProtocolError
        For any other value.
    """
    side = str(value).strip().lower()
    if side in ("buy", "sell"):
        return side
    raise ProtocolError(f"{VENUE}: unknown side {value!r}")


def parse_symbols(data: Any) -> pd.DataFrame:
    """Parse ``/v1/symbols``.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``base quote`` (str), ``price_precision
        amount_precision`` (int64).

    Raises
    ------
    ProtocolError
        Naming the field that is missing or not of its type.

    Examples
    --------
    Raw item: ``{"symbol":"crobtc","count_coin":"BTC","amount_precision":2,
    "base_coin":"CRO","price_precision":8}`` (coins are upper case on the live API).
    """
    what = f"{VENUE} /v1/symbols"
    items = rows_of(data, what)
    rows = []
    for item in items:
        precisions = ids(
            [field(item, "price_precision", what), field(item, "amount_precision", what)],
            "precision",
            what,
        )
        rows.append(
            {
                "symbol": _text(field(item, "symbol", what), "symbol", what).lower(),
                "base": _text(field(item, "base_coin", what), "base_coin", what),
                "quote": _text(field(item, "count_coin", what), "count_coin", what),
                "price_precision": int(precisions[0]),
                "amount_precision": int(precisions[1]),
            }
        )
    return symbols_frame(rows, attrs=_attrs("rest:/v1/symbols"))


def _text(value: Any, name: str, what: str) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise ProtocolError(f"{what}: field {name!r} is not a name: {value!r}")
    return str(value)


_TICKER_FIELDS = (
    ("last", ("last", "close")),
    ("bid", ("buy",)),
    ("ask", ("sell",)),
    ("high", ("high",)),
    ("low", ("low",)),
    ("volume", ("vol",)),
    ("change", ("rose", "change")),
    ("open", ("open",)),
    ("quote_volume", ("amount",)),
)


def _ticker_row(symbol: str, item: Any, what: str) -> dict[str, Any]:
    # `rose` is the 24 h change as a fraction; the all-markets form also sends the
    # same value as `change`. `buy`/`sell` are best bid/ask; `vol` is base volume;
    # `amount` (WS form) is the quote turnover. Missing values stay NaN.
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{what}: ticker item is not an object: {item!r:.80}")
    row: dict[str, Any] = {"symbol": symbol}
    for name, keys in _TICKER_FIELDS:
        key = next((k for k in keys if k in item), None)
        if key is None:
            if name in ("open", "quote_volume"):
                continue
            row[name] = None
        else:
            row[name] = floats([item[key]], key, what, finite=False)[0]
    return row


def _time_ms(value: Any, name: str, what: str) -> float | None:
    if value is None:
        return None
    return float(epochs([value], "ms", name, what)[0])


def parse_tickers(data: Any) -> pd.DataFrame:
    """Parse ``/v1/tickers`` (or ``/v1/ticker`` without a symbol).

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``timestamp`` (server ``date``, UTC), ``last bid
        ask high low volume change`` (float64; values arrive as numbers or as
        16-decimal strings such as ``"0.0000069000000000"``).
    """
    what = f"{VENUE} /v1/tickers"
    items = rows_of(field(data, "ticker", what), f"{what} ticker")
    rows = [
        _ticker_row(_text(field(t, "symbol", what), "symbol", what).lower(), t, what) for t in items
    ]
    return frames.tickers_frame(
        rows, time_ms=_time_ms(data.get("date"), "date", what), attrs=_attrs("rest:/v1/tickers")
    )


def parse_ticker(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``/v1/ticker?symbol=``: one row, same columns as :func:`parse_tickers`."""
    what = f"{VENUE} /v1/ticker"
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: ticker answer is not an object")
    row = _ticker_row(symbol, data, what)
    return frames.tickers_frame(
        [row],
        time_ms=_time_ms(data.get("time"), "time", what),
        attrs=_attrs("rest:/v1/ticker", symbol=symbol),
    )


def parse_klines(
    data: Any, symbol: str, interval: Interval, *, now_s: float | None = None
) -> pd.DataFrame:
    """Parse ``/v1/klines``: rows ``[open_time_SECONDS, open, high, low, close, volume]``.

    Kline times are **seconds** (trades and tickers are milliseconds); row order
    is not confirmed on the wire, so rows are sorted (NOTES.md).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (bar open, UTC); ``open high low close volume`` float64;
        ``closed`` bool (False for the still-forming bar).
    """
    what = f"{VENUE} /v1/klines"
    rows = rows_of(data, what)
    now = time.time() if now_s is None else now_s
    attrs = _attrs("rest:/v1/klines", symbol=symbol, interval=interval.name)
    values = table(rows, ("open time", *_OHLCV), what)
    wide = bool(rows) and all(len(r) > 6 for r in rows)
    return frames.klines_frame(
        whole_epochs(values[:, 0], "s", "open time", what),
        values[:, 1:6],
        interval_seconds=interval.seconds,
        now_s=now,
        quote_volume=floats([r[6] for r in rows], "quote volume", what) if wide else None,
        attrs=attrs,
    )


_OHLCV = ("open", "high", "low", "close", "volume")


def parse_trades(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``/v1/trades``: items ``{amount, price, ctime (ms), id, type}``.

    The REST side key is ``type`` (WS uses ``side``); numbers carry 16 trailing
    decimals on the wire.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, oldest first); ``symbol id side price amount``.
    """
    what = f"{VENUE} /v1/trades"
    items = rows_of(data, what)
    return frames.trades_frame(
        epochs([field(t, "ctime", what) for t in items], "ms", "ctime", what),
        symbol,
        ids([field(t, "id", what) for t in items], "id", what),
        [normalize_side(t.get("type", t.get("side"))) for t in items],
        floats([field(t, "price", what) for t in items], "price", what),
        floats([field(t, "amount", what) for t in items], "amount", what),
        attrs=_attrs("rest:/v1/trades", symbol=symbol),
    )


def parse_prices(data: Any) -> pd.DataFrame:
    """Parse ``/v1/ticker/price`` (``{"btcusdt": 15000, ...}``): index ``symbol``, ``price``."""
    what = f"{VENUE} /v1/ticker/price"
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: prices answer is not an object")
    values = floats(list(data.values()), "price", what, finite=False)
    return frames.prices_frame(
        {str(k).lower(): v for k, v in zip(data, values, strict=True)},
        attrs=_attrs("rest:/v1/ticker/price"),
    )


def parse_depth(
    data: Any, symbol: str, step: int = 0, *, received_ms: float | None = None
) -> pd.DataFrame:
    """Parse ``/v1/depth``: ``{"tick": {"asks": [[p, a]...], "bids": [...], "time": ms|null}}``.

    REST names the bid side ``bids``; WS pushes call it ``buys`` — both are read.
    ``tick.time`` is ``null`` on the live API (NOTES.md): the receive time stands in.

    Returns
    -------
    pandas.DataFrame
        Columns ``side level price amount``; bids high→low, then asks low→high.
        ``attrs["timestamp"]`` is the book time (server's, else receive time).
    """
    what = f"{VENUE} /v1/depth"
    tick = field(data, "tick", what)
    if not isinstance(tick, dict):
        raise ProtocolError(f"{what}: field 'tick' is not an object")
    stamp = _time_ms(tick.get("time") or None, "tick.time", what)
    if stamp is None:
        stamp = received_ms or time.time() * 1000
    attrs = _attrs(
        "rest:/v1/depth",
        symbol=symbol,
        step=step,
        timestamp=pd.Timestamp(int(stamp), unit="ms", tz="UTC"),
    )
    bids = tick.get("bids", tick.get("buys"))
    return frames.depth_frame(
        levels(bids, "bids", what), levels(tick.get("asks"), "asks", what), attrs=attrs
    )


#: Public REST market data as descriptor data (doc "Response Status Code": the market
#: APIs share 10 requests per second per IP). Klines older than the REST page (300
#: bars) are paged over the WebSocket ``req``.
REST = RestApi(
    calls={
        "symbols": RestCall(lambda **_: build_symbols(), parse_symbols, MARKET_RATE_PER_SECOND),
        "tickers": RestCall(
            lambda **_: build_tickers(),
            parse_tickers,
            MARKET_RATE_PER_SECOND,
            fallback=RestCall(
                lambda **_: build_tickers(legacy=True), parse_tickers, MARKET_RATE_PER_SECOND
            ),
        ),
        "ticker": RestCall(
            lambda symbol, **_: build_ticker(symbol), parse_ticker, MARKET_RATE_PER_SECOND
        ),
        "prices": RestCall(lambda **_: build_prices(), parse_prices, MARKET_RATE_PER_SECOND),
        "klines": RestCall(build_klines, parse_klines, MARKET_RATE_PER_SECOND, page=300),
        "trades": RestCall(build_trades, parse_trades, MARKET_RATE_PER_SECOND, page=200),
        "depth": RestCall(build_depth, parse_depth, MARKET_RATE_PER_SECOND),
    },
    unwrap=lambda body: parse_envelope(body),
    intervals=KLINE_INTERVALS,
    kline_history="ws",
    depth_steps=DEPTH_STEPS,
    signed="mdkit.venues.cryptocom_user",
)
