"""Bitget spot v2 public REST market data — sans-I/O builders and parsers.

The companion of :mod:`mdkit.venues.bitget` (the WebSocket venue): its descriptor's
``rest`` is :data:`REST`. Nothing here opens a socket.

From Bitget's public API docs (api-doc/spot/market/*), cross-checked with ccxt's
bitget client (facts only):

- Envelope ``{"code":"00000","msg":"success","requestTime":ms,"data":...}``; any
  other ``code`` (a string, ``"40034"``) is an error.
- ``GET /api/v2/spot/market/candles?symbol&granularity&startTime&endTime&limit``:
  rows ``[ts_ms, open, high, low, close, baseVolume, usdtVolume, quoteVolume]`` as
  strings, limit up to 1000, 20 requests/s per IP.
- ``GET /api/v2/spot/market/history-candles?symbol&granularity&endTime&limit``:
  bars opening before ``endTime``, limit up to 200, 20/s.
- ``GET /api/v2/spot/market/fills?symbol&limit``: the latest trades, limit up to
  500, 10/s; ``GET /api/v2/spot/market/fills-history?symbol&limit&startTime&endTime
  &idLessThan``: limit up to 1000 (range within 7 days, data of 30 days), 10/s.
  Items ``symbol tradeId side price size ts`` (side ``buy``/``sell``, any case).
- ``GET /api/v2/spot/market/orderbook?symbol&type=step0..step5&limit``: ``{asks,
  bids, ts}``, levels ``[price, size]``, limit up to 150, 20/s.
- ``GET /api/v2/spot/market/tickers[?symbol]``: items ``symbol high24h open lastPr
  low24h quoteVolume baseVolume usdtVolume bidPr askPr bidSz askSz openUtc
  changeUtc24h change24h ts``, 20/s.
- ``GET /api/v2/spot/public/symbols``: items ``symbol baseCoin quoteCoin
  minTradeAmount pricePrecision quantityPrecision quotePrecision status``, 20/s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pandas as pd

from mdkit.data import frames
from mdkit.data.markets import symbols_frame
from mdkit.data.timeparse import Interval
from mdkit.errors import ProtocolError, VenueError
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
    "REST",
    "GRANULARITY",
    "RATES",
    "unwrap",
    "parse_symbols",
    "parse_tickers",
    "parse_klines",
    "parse_trades",
    "parse_depth",
]

VENUE = "bitget"
OK = "00000"
#: Canonical interval name → Bitget spot ``granularity`` (doc "Get Candlestick Data").
GRANULARITY = {
    "1min": "1min",
    "5min": "5min",
    "15min": "15min",
    "30min": "30min",
    "60min": "1h",
    "4h": "4h",
    "6h": "6h",
    "12h": "12h",
    "1day": "1day",
    "3day": "3day",
    "1week": "1week",
    "1month": "1M",
}
#: Requests per second per IP, per endpoint (doc "Frequency limit"; ccxt's costs agree:
#: cost 1 = 20/s, cost 2 = 10/s).
RATES = {
    "/api/v2/spot/public/symbols": 20,
    "/api/v2/spot/market/tickers": 20,
    "/api/v2/spot/market/candles": 20,
    "/api/v2/spot/market/history-candles": 20,
    "/api/v2/spot/market/fills": 10,
    "/api/v2/spot/market/fills-history": 10,
    "/api/v2/spot/market/orderbook": 20,
}
#: Most rows one answer holds, per endpoint (doc "limit ... maximum").
PAGES = {
    "/api/v2/spot/market/candles": 1000,
    "/api/v2/spot/market/history-candles": 200,
    "/api/v2/spot/market/fills": 500,
    "/api/v2/spot/market/fills-history": 1000,
    "/api/v2/spot/market/orderbook": 150,
}
DEPTH_STEPS = (0, 1, 2, 3, 4, 5)


def unwrap(body: bytes | str) -> Any:
    """Return ``data`` of a Bitget envelope, or raise its error.

    Raises
    ------
    VenueError
        For a code other than ``"00000"``.
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
    if code != OK:
        raise VenueError(code, str(doc.get("msg") or ""))
    return doc.get("data")


def _clip(body: bytes | str) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return repr(text[:120])


def _attrs(path: str, **extra: Any) -> dict[str, Any]:
    return {"venue": VENUE, "source": f"rest:{path}", **extra}


def _call(path: str, build: Any, parse: Any) -> RestCall:
    return RestCall(build, parse, RATES[path], rate_key=path, page=PAGES.get(path, 0))


# -- builders ------------------------------------------------------------------------------
def build_symbols(**_: Any) -> Request:
    """``GET /api/v2/spot/public/symbols``."""
    return Request("GET", "/api/v2/spot/public/symbols")


def build_tickers(symbol: str | None = None, **_: Any) -> Request:
    """``GET /api/v2/spot/market/tickers`` (one market with ``symbol``)."""
    params = {"symbol": symbol} if symbol else {}
    return Request("GET", "/api/v2/spot/market/tickers", params, symbol=symbol)


def _opt(params: dict[str, str], **values: Any) -> dict[str, str]:
    params.update({k: str(v) for k, v in values.items() if v is not None})
    return params


def build_klines(
    symbol: str,
    interval: Interval,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
    **_: Any,
) -> Request:
    """``GET /api/v2/spot/market/candles`` (the recent bars, up to 1000)."""
    params = {"symbol": symbol, "granularity": GRANULARITY[interval.name]}
    limit = min(limit or PAGES["/api/v2/spot/market/candles"], 1000)
    _opt(params, startTime=start_ms, endTime=end_ms, limit=limit)
    return Request("GET", "/api/v2/spot/market/candles", params, symbol=symbol)


def build_history_klines(
    symbol: str, interval: Interval, *, end_ms: int, limit: int | None = None, **_: Any
) -> Request:
    """``GET /api/v2/spot/market/history-candles`` (bars opening before ``end_ms``, ≤200)."""
    params = {"symbol": symbol, "granularity": GRANULARITY[interval.name]}
    _opt(params, endTime=end_ms, limit=min(limit or 200, 200))
    return Request("GET", "/api/v2/spot/market/history-candles", params, symbol=symbol)


def build_trades(symbol: str, *, limit: int | None = None, **_: Any) -> Request:
    """``GET /api/v2/spot/market/fills`` (the latest trades, ≤500)."""
    params = _opt({"symbol": symbol}, limit=min(limit or 500, 500))
    return Request("GET", "/api/v2/spot/market/fills", params, symbol=symbol)


def build_history_trades(
    symbol: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int | None = None,
    **_: Any,
) -> Request:
    """``GET /api/v2/spot/market/fills-history`` (≤1000, the range within 7 days)."""
    if start_ms is not None and end_ms is not None:
        start_ms = max(start_ms, end_ms - 7 * 86_400_000 + 1)
    params = _opt(
        {"symbol": symbol}, startTime=start_ms, endTime=end_ms, limit=min(limit or 1000, 1000)
    )
    return Request("GET", "/api/v2/spot/market/fills-history", params, symbol=symbol)


def build_depth(symbol: str, step: int = 0, *, limit: int | None = None, **_: Any) -> Request:
    """``GET /api/v2/spot/market/orderbook?type=step<N>`` (≤150 levels a side)."""
    params = _opt({"symbol": symbol, "type": f"step{step}"}, limit=min(limit or 150, 150))
    return Request("GET", "/api/v2/spot/market/orderbook", params, symbol=symbol)


# -- parsers -------------------------------------------------------------------------------
def _name(value: Any, key: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{what}: field {key!r} is not a name: {value!r:.60}")
    return value


def parse_symbols(data: Any) -> pd.DataFrame:
    """Parse ``/api/v2/spot/public/symbols``.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (``BTCUSDT``); the columns of
        :func:`mdkit.data.markets.symbols_frame` (``pair base quote price_precision
        amount_precision tick_size lot_size``), ``quote_precision`` (int64),
        ``min_amount``
        (float64), ``status`` (str).
    """
    what = f"{VENUE} /api/v2/spot/public/symbols"
    rows, quote_p, minimum, status = [], [], [], []
    for item in rows_of(data, what):
        names = [_name(field(item, k, what), k, what) for k in ("symbol", "baseCoin", "quoteCoin")]
        precision = ids(
            [field(item, "pricePrecision", what), field(item, "quantityPrecision", what)],
            "pricePrecision/quantityPrecision",
            what,
        )
        rows.append(
            {
                "symbol": names[0],
                "base": names[1],
                "quote": names[2],
                "price_precision": int(precision[0]),
                "amount_precision": int(precision[1]),
            }
        )
        quote_p.append(item.get("quotePrecision", precision[0]))
        minimum.append(item.get("minTradeAmount"))
        status.append(str(item.get("status", "")))
    df = symbols_frame(rows, attrs=_attrs("/api/v2/spot/public/symbols"))
    df["quote_precision"] = ids(quote_p, "quotePrecision", what)
    df["min_amount"] = floats(minimum, "minTradeAmount", what, finite=False)
    df["status"] = frames.strings(status)
    return df


_TICKER = (
    ("last", "lastPr"),
    ("bid", "bidPr"),
    ("ask", "askPr"),
    ("high", "high24h"),
    ("low", "low24h"),
    ("volume", "baseVolume"),
    ("change", "change24h"),
    ("open", "open"),
    ("quote_volume", "quoteVolume"),
    ("bid_amount", "bidSz"),
    ("ask_amount", "askSz"),
)


def parse_tickers(data: Any, symbol: str | None = None) -> pd.DataFrame:
    """Parse ``/api/v2/spot/market/tickers``.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``venue``, ``timestamp`` (``ts``, UTC), ``last bid
        ask high low volume change open quote_volume bid_amount ask_amount`` (float64;
        ``change`` is ``change24h``, a fraction).
    """
    what = f"{VENUE} /api/v2/spot/market/tickers"
    items = rows_of(data, what)
    rows: list[dict[str, Any]] = []
    for item in items:
        row: dict[str, Any] = {"symbol": _name(field(item, "symbol", what), "symbol", what)}
        for name, key in _TICKER:
            value = item.get(key)
            row[name] = floats([value], key, what, finite=False)[0]
        rows.append(row)
    stamps = epochs([field(item, "ts", what) for item in items], "ms", "ts", what)
    extra = {"symbol": symbol} if symbol else {}
    return frames.tickers_frame(
        rows, time_ms=stamps, attrs=_attrs("/api/v2/spot/market/tickers", **extra)
    )


def parse_ticker(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``/api/v2/spot/market/tickers?symbol=``: one row (see :func:`parse_tickers`)."""
    return parse_tickers(data, symbol)


def parse_klines(
    data: Any, symbol: str, interval: Interval, *, now_s: float, path: str = "candles"
) -> pd.DataFrame:
    """Parse ``candles`` / ``history-candles`` rows ``[ts_ms, o, h, l, c, base, usdt, quote]``.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (bar open, UTC); columns ``venue symbol interval``,
        ``open high low close volume quote_volume`` (float64), ``closed`` (bool).
    """
    what = f"{VENUE} /api/v2/spot/market/{path}"
    rows = rows_of(data, what)
    names = ("ts", "open", "high", "low", "close", "volume")
    values = table(rows, names, what)
    wide = bool(rows) and all(len(r) >= 8 for r in rows)
    opens_ms = whole_epochs(values[:, 0], "ms", "ts", what)
    if len(opens_ms) and np.any(opens_ms % 1000):
        raise ProtocolError(f"{what}: field 'ts' is not a whole second: {opens_ms[:3]!r}")
    return frames.klines_frame(
        opens_ms // 1000,
        values[:, 1:6],
        interval_seconds=interval.seconds,
        now_s=now_s,
        quote_volume=floats([r[7] for r in rows], "quoteVolume", what) if wide else None,
        attrs=_attrs(f"/api/v2/spot/market/{path}", symbol=symbol, interval=interval.name),
    )


def parse_history_klines(
    data: Any, symbol: str, interval: Interval, *, now_s: float
) -> pd.DataFrame:
    """Parse ``history-candles`` (same rows as :func:`parse_klines`)."""
    return parse_klines(data, symbol, interval, now_s=now_s, path="history-candles")


def _side(value: Any, what: str) -> str:
    side = str(value).strip().lower() if isinstance(value, str) else ""
    if side not in ("buy", "sell"):
        raise ProtocolError(f"{what}: field 'side' is not buy/sell: {value!r:.40}")
    return side


def parse_trades(data: Any, symbol: str, *, path: str = "fills") -> pd.DataFrame:
    """Parse ``fills`` / ``fills-history`` items ``{symbol, tradeId, side, price, size, ts}``.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, oldest first); columns ``venue symbol`` (str), ``id``
        (Int64), ``side`` (category, taker side), ``price``, ``amount`` (float64).
    """
    what = f"{VENUE} /api/v2/spot/market/{path}"
    items = rows_of(data, what)
    return frames.trades_frame(
        epochs([field(t, "ts", what) for t in items], "ms", "ts", what),
        symbol,
        ids([field(t, "tradeId", what) for t in items], "tradeId", what),
        [_side(field(t, "side", what), what) for t in items],
        floats([field(t, "price", what) for t in items], "price", what),
        floats([field(t, "size", what) for t in items], "size", what),
        attrs=_attrs(f"/api/v2/spot/market/{path}", symbol=symbol),
    )


def parse_history_trades(data: Any, symbol: str) -> pd.DataFrame:
    """Parse ``fills-history`` (same items as :func:`parse_trades`)."""
    return parse_trades(data, symbol, path="fills-history")


def parse_depth(
    data: Any, symbol: str, step: int = 0, *, received_ms: float | None = None
) -> pd.DataFrame:
    """Parse ``/api/v2/spot/market/orderbook`` (``{asks, bids, ts}``).

    Returns
    -------
    pandas.DataFrame
        Columns ``venue symbol side level price amount``; bids high→low, then asks
        low→high. ``attrs["timestamp"]``: the book's ``ts`` (UTC).
    """
    what = f"{VENUE} /api/v2/spot/market/orderbook"
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what}: answer is not an object")
    ts = data.get("ts")
    stamp = int(epochs([ts], "ms", "ts", what)[0]) if ts is not None else received_ms or 0
    attrs = _attrs(
        "/api/v2/spot/market/orderbook",
        symbol=symbol,
        step=step,
        timestamp=pd.Timestamp(int(stamp), unit="ms", tz="UTC"),
    )
    return frames.depth_frame(
        levels(data.get("bids"), "bids", what), levels(data.get("asks"), "asks", what), attrs=attrs
    )


#: Bitget spot public REST as descriptor data: per call its builder, parser, and the
#: endpoint's documented rate (requests per second per IP) and page size.
REST = RestApi(
    calls={
        "symbols": _call("/api/v2/spot/public/symbols", build_symbols, parse_symbols),
        "tickers": _call("/api/v2/spot/market/tickers", build_tickers, parse_tickers),
        "ticker": _call("/api/v2/spot/market/tickers", build_tickers, parse_ticker),
        "klines": _call("/api/v2/spot/market/candles", build_klines, parse_klines),
        "klines_history": _call(
            "/api/v2/spot/market/history-candles", build_history_klines, parse_history_klines
        ),
        "trades": _call("/api/v2/spot/market/fills", build_trades, parse_trades),
        "trades_history": _call(
            "/api/v2/spot/market/fills-history", build_history_trades, parse_history_trades
        ),
        "depth": _call("/api/v2/spot/market/orderbook", build_depth, parse_depth),
    },
    unwrap=unwrap,
    intervals=tuple(GRANULARITY),
    kline_history="rest",
    trade_filters=True,
    depth_steps=DEPTH_STEPS,
)
