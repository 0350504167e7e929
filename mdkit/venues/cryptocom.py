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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mdkit.data import frames
from mdkit.data.markets import symbols_frame
from mdkit.data.timeparse import Interval
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, VenueError

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


@dataclass(frozen=True)
class Request:
    """One HTTP request to make: method, path and parameters (query or form body)."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    #: The symbol the request is about, to explain an HTTP 500 (NOTES.md: unknown
    #: symbols on /v1/depth answer 500, not 404).
    symbol: str | None = None
    signed: bool = False


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


def build_klines(symbol: str, interval: Interval) -> Request:
    """Request the latest bars (``GET /v1/klines?symbol=&period=<minutes>``)."""
    return Request(
        "GET", "/v1/klines", {"symbol": symbol, "period": str(interval.minutes)}, symbol=symbol
    )


def build_trades(symbol: str) -> Request:
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


def build_depth(symbol: str, step: int = 0) -> Request:
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

    Examples
    --------
    Raw item: ``{"symbol":"crobtc","count_coin":"BTC","amount_precision":2,
    "base_coin":"CRO","price_precision":8}`` (coins are upper case on the live API).
    """
    rows = [
        {
            "symbol": str(item["symbol"]).lower(),
            "base": item["base_coin"],
            "quote": item["count_coin"],
            "price_precision": item["price_precision"],
            "amount_precision": item["amount_precision"],
        }
        for item in _list(data, "symbols")
    ]
    return symbols_frame(rows, attrs=_attrs("rest:/v1/symbols"))


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ProtocolError(f"{VENUE}: expected a list of {what}, got {type(data).__name__}")
    return data


def _ticker_row(symbol: str, item: Mapping[str, Any]) -> dict[str, Any]:
    # `rose` is the 24 h change as a fraction; the all-markets form also sends the
    # same value as `change`. `buy`/`sell` are best bid/ask; `vol` is base volume;
    # `amount` (WS form) is the quote turnover.
    row: dict[str, Any] = {
        "symbol": symbol,
        "last": item.get("last", item.get("close")),
        "bid": item.get("buy"),
        "ask": item.get("sell"),
        "high": item.get("high"),
        "low": item.get("low"),
        "volume": item.get("vol"),
        "change": item.get("rose", item.get("change")),
    }
    if "open" in item:
        row["open"] = item["open"]
    if "amount" in item:
        row["quote_volume"] = item["amount"]
    return row


def parse_tickers(data: Any) -> pd.DataFrame:
    """Parse ``/v1/tickers`` (or ``/v1/ticker`` without a symbol).

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``timestamp`` (server ``date``, UTC), ``last bid
        ask high low volume change`` (float64; values arrive as numbers or as
        16-decimal strings such as ``"0.0000069000000000"``).
    """
    if not isinstance(data, dict) or not isinstance(data.get("ticker"), list):
        raise ProtocolError(f"{VENUE}: tickers answer lacks a 'ticker' list")
    rows = [_ticker_row(str(t["symbol"]).lower(), t) for t in data["ticker"]]
    return frames.tickers_frame(rows, time_ms=data.get("date"), attrs=_attrs("rest:/v1/tickers"))


def parse_ticker(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``/v1/ticker?symbol=``: one row, same columns as :func:`parse_tickers`."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{VENUE}: ticker answer is not an object")
    row = _ticker_row(symbol, data)
    return frames.tickers_frame(
        [row], time_ms=data.get("time"), attrs=_attrs("rest:/v1/ticker", symbol=symbol)
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
    rows = _list(data, "klines")
    now = time.time() if now_s is None else now_s
    attrs = _attrs("rest:/v1/klines", symbol=symbol, interval=interval.name)
    if not rows:
        empty = np.empty((0, 5))
        return frames.klines_frame(
            np.empty(0, "int64"), empty, interval_seconds=interval.seconds, now_s=now, attrs=attrs
        )
    try:
        table = np.array(rows, dtype="float64")
    except (ValueError, TypeError) as exc:
        raise ProtocolError(f"{VENUE}: kline rows are not numeric: {rows[:1]!r}") from exc
    if table.ndim != 2 or table.shape[1] < 6:
        raise ProtocolError(f"{VENUE}: kline rows need 6 values, got shape {table.shape}")
    return frames.klines_frame(
        table[:, 0].astype("int64"),
        table[:, 1:6],
        interval_seconds=interval.seconds,
        now_s=now,
        quote_volume=table[:, 6] if table.shape[1] > 6 else None,
        attrs=attrs,
    )


def parse_trades(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``/v1/trades``: items ``{amount, price, ctime (ms), id, type}``.

    The REST side key is ``type`` (WS uses ``side``); numbers carry 16 trailing
    decimals on the wire.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, oldest first); ``symbol id side price amount``.
    """
    items = _list(data, "trades")
    try:
        return frames.trades_frame(
            [t["ctime"] for t in items],
            symbol,
            [t["id"] for t in items],
            [normalize_side(t.get("type", t.get("side"))) for t in items],
            [t["price"] for t in items],
            [t["amount"] for t in items],
            attrs=_attrs("rest:/v1/trades", symbol=symbol),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{VENUE}: unexpected trade item: {items[:1]!r}") from exc


def parse_prices(data: Any) -> pd.DataFrame:
    """Parse ``/v1/ticker/price`` (``{"btcusdt": 15000, ...}``): index ``symbol``, ``price``."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{VENUE}: prices answer is not an object")
    return frames.prices_frame(
        {str(k).lower(): v for k, v in data.items()}, attrs=_attrs("rest:/v1/ticker/price")
    )


def _levels(levels: Any) -> np.ndarray:
    if not levels:
        return np.empty((0, 2))
    return np.array(levels, dtype="float64").reshape(-1, 2)


def parse_depth(
    data: Any, symbol: str, step: int, *, received_ms: float | None = None
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
    tick = data.get("tick") if isinstance(data, dict) else None
    if not isinstance(tick, dict):
        raise ProtocolError(f"{VENUE}: depth answer lacks 'tick'")
    stamp = tick.get("time") or received_ms or time.time() * 1000
    attrs = _attrs(
        "rest:/v1/depth",
        symbol=symbol,
        step=step,
        timestamp=pd.Timestamp(int(stamp), unit="ms", tz="UTC"),
    )
    bids = tick.get("bids", tick.get("buys"))
    return frames.depth_frame(_levels(bids), _levels(tick.get("asks")), attrs=attrs)
