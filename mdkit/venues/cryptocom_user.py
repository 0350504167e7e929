"""Crypto.com Exchange v1 signed user API — sans-I/O: signing, request builders, parsers.

Builders return unsigned :class:`~mdkit.venues.cryptocom.Request` values; the caller
adds ``api_key``, ``time`` and ``sign`` with :func:`signed` on every attempt (a
retried request needs a fresh ``time``). Parsers take the envelope's ``data``
and return typed DataFrames. Nothing here opens a socket or knows a secret
beyond the argument it is handed.

Protocol: ``shared/protocols/cryptocom-v1-rest-ws.md`` sections "Request Signing",
"Response Status Code" and "User API"; live-server quirks from ``NOTES.md``
(Crypto.com v1, REST) are named where they are handled.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pandas as pd

from mdkit.data import frames
from mdkit.errors import InvalidArgument, ProtocolError, VenueError
from mdkit.venues.cryptocom import VENUE, Request, normalize_side

__all__ = [
    "CANCEL_FALLBACK_CODES",
    "cancel_fallback",
    "clip_range",
    "DATE_MARGIN",
    "USER_RATE_PER_SECOND",
    "PAGE_SIZE",
    "ORDER_STATUS",
    "ORDER_TYPES",
    "CANCEL_ENDPOINTS",
    "TIME_CODES",
    "sign",
    "signed",
    "format_date",
    "format_amount",
    "is_time_error",
    "build_account",
    "build_create_order",
    "build_show_order",
    "build_cancel_order",
    "build_cancel_all",
    "build_open_orders",
    "build_all_orders",
    "build_my_trades",
    "parse_balances",
    "parse_order_id",
    "parse_page",
    "parse_orders",
    "parse_fills",
    "parse_order_detail",
]

#: doc "Response Status Code": user APIs allow 10 requests per second per user.
USER_RATE_PER_SECOND = 10
#: Rows asked per page of the paged endpoints (the doc gives no maximum).
PAGE_SIZE = 100
#: NOTES.md / doc "List all open orders": order ``status`` codes.
ORDER_STATUS: dict[int, str] = {
    0: "INIT",
    1: "NEW",
    2: "FILLED",
    3: "PART_FILLED",
    4: "CANCELED",
    5: "PENDING_CANCEL",
    6: "EXPIRED",
}
#: doc "Create an order": ``type`` 1 limit, 2 market.
ORDER_TYPES: dict[int, str] = {1: "limit", 2: "market"}
#: Cancel endpoint by name: the doc's ``DELETE /v1/order``, or ``POST /v1/orders/cancel``
#: which every public client of the live API used (NOTES.md).
CANCEL_ENDPOINTS: dict[str, tuple[str, str]] = {
    "doc": ("DELETE", "/v1/order"),
    "live": ("POST", "/v1/orders/cancel"),
}
#: HTTP answers meaning "no such route here" (nothing was done): a cancel is then
#: retried once through the other endpoint (:func:`cancel_fallback`).
CANCEL_FALLBACK_CODES = ("HTTP 404", "HTTP 405")
#: ``startDate``/``endDate`` are sent this much wider than asked (timezone unstated).
DATE_MARGIN = pd.Timedelta(hours=14)
#: Codes meaning "the request time is too far from server time". The doc lists none;
#: ``100010`` is what the mdkit sandbox answers (see mdkit.sandbox.cryptocom_account).
#: Other servers are recognised by their message (:func:`is_time_error`).
TIME_CODES = frozenset({"100010"})
_TIME_MESSAGE = re.compile(r"time.*(expire|stale|illegal|invalid|out of|differ|sync)", re.I)

_ORDER_FLOATS = (
    "total_price",
    "fee",
    "deal_price",
    "avg_price",
    "volume",
    "price",
    "deal_volume",
    "remain_volume",
)
_ORDER_INTS = ("id", "source", "type", "status")
_ORDER_COLUMNS = (
    "id",
    "side",
    "type",
    "status",
    "price",
    "volume",
    "deal_volume",
    "remain_volume",
    "avg_price",
    "deal_price",
    "total_price",
    "fee",
    "fee_coin",
    "base_coin",
    "count_coin",
    "created_at",
    "updated_at",
)
_FILL_FLOATS = ("volume", "price", "fee", "deal_price")
_FILL_INTS = ("id", "bid_id", "ask_id", "bid_user_id", "ask_user_id")
_FILL_COLUMNS = ("id", "ctime", "side", "price", "volume", "deal_price", "fee", "fee_coin")
_COIN_FIELDS = ("count_coin", "base_coin", "fee_coin")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


# -- signing ----------------------------------------------------------------------
def _text(value: Any) -> str:
    return "" if value is None else str(value)


def sign(params: Mapping[str, Any], secret: str) -> str:
    """Sign request parameters as the doc's "Request Signing" section says.

    Parameter names sorted ascending; ``name + value`` appended for every
    non-empty value, with no separator and the values as sent (not URL-encoded);
    the secret appended last; SHA-256, lower-case hex. ``api_key`` and ``time``
    are signed like any parameter; ``sign`` itself is left out.

    Parameters
    ----------
    params : mapping
        Every parameter of the request (values converted with ``str``).
    secret : str
        The API secret key.

    Returns
    -------
    str
        64 lower-case hex digits.

    Examples
    --------
    >>> sign({"api_key": "k", "time": "1", "symbol": ""}, "s") == hashlib.sha256(
    ...     b"api_keyktime1s").hexdigest()
    True
    """
    buffer = "".join(
        f"{name}{_text(params[name])}"
        for name in sorted(params)
        if name != "sign" and _text(params[name]) != ""
    )
    return hashlib.sha256((buffer + secret).encode("utf-8")).hexdigest()


def signed(params: Mapping[str, Any], api_key: str, secret: str, time_ms: int) -> dict[str, str]:
    """Return ``params`` with ``api_key``, ``time`` (ms) and ``sign`` added.

    Empty values are dropped from what is sent, so what is sent is what is signed.
    """
    out = {k: _text(v) for k, v in params.items() if _text(v) != "" and k != "sign"}
    out["api_key"] = api_key
    out["time"] = str(int(time_ms))
    out["sign"] = sign(out, secret)
    return out


def is_time_error(exc: VenueError) -> bool:
    """True if the venue refused the request because its ``time`` was off."""
    return exc.code in TIME_CODES or bool(_TIME_MESSAGE.search(exc.msg))


def format_date(ts: pd.Timestamp) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in UTC, the doc's ``startDate``/``endDate`` form."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S")


def clip_range(
    df: pd.DataFrame, column: str, start: pd.Timestamp | None, end: pd.Timestamp | None
) -> pd.DataFrame:
    """Rows whose ``column`` (UTC) lies in ``[start, end]``: the widened answer, clipped."""
    keep = pd.Series(True, index=df.index)
    if start is not None:
        keep &= df[column] >= start
    if end is not None:
        keep &= df[column] <= end
    return df if bool(keep.all()) else df[keep.to_numpy()]


def format_amount(value: Any, what: str = "amount") -> str:
    """A positive finite number as plain decimal text (never ``1e-05``).

    Raises
    ------
    InvalidArgument
        If the value is not a positive finite number.
    """
    if isinstance(value, bool):
        raise InvalidArgument(f"{what} must be a positive number, not {value!r}")
    try:
        if isinstance(value, str | Decimal | int):
            number = Decimal(value.strip() if isinstance(value, str) else value)
        else:
            # repr of a float is its shortest exact spelling (0.1, not 0.1000000000000000055)
            number = Decimal(repr(float(value)))
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidArgument(f"{what} must be a positive number, not {value!r}") from None
    if not number.is_finite() or number <= 0:
        raise InvalidArgument(f"{what} must be a positive number, not {value!r}")
    text = format(number.normalize(), "f")
    return text


# -- builders -------------------------------------------------------------------
def build_account() -> Request:
    """``POST /v1/account``: balances of every coin."""
    return Request("POST", "/v1/account", signed=True)


def build_create_order(
    symbol: str, side: str, volume: str, *, order_type: int = 1, price: str | None = None
) -> Request:
    """``POST /v1/order``: create an order.

    ``side`` is sent ``BUY``/``SELL``; ``type`` 1 limit, 2 market. For a market buy,
    ``volume`` is the quote total to spend (doc "Create an order").
    """
    params = {"symbol": symbol, "side": side.upper(), "type": str(order_type), "volume": volume}
    if price is not None and order_type == 1:
        params["price"] = price
    return Request("POST", "/v1/order", params, symbol=symbol, signed=True)


def build_show_order(symbol: str, order_id: int) -> Request:
    """``POST /v1/showOrder``: one order and its fills."""
    params = {"symbol": symbol, "order_id": str(int(order_id))}
    return Request("POST", "/v1/showOrder", params, symbol=symbol, signed=True)


def build_cancel_order(symbol: str, order_id: int, endpoint: str = "doc") -> Request:
    """Cancel one order: ``DELETE /v1/order`` (doc) or ``POST /v1/orders/cancel`` (live).

    Raises
    ------
    InvalidArgument
        If ``endpoint`` is not ``doc`` or ``live``.
    """
    if endpoint not in CANCEL_ENDPOINTS:
        raise InvalidArgument(
            f"cancel endpoint must be one of {', '.join(CANCEL_ENDPOINTS)}, not {endpoint!r}"
        )
    method, path = CANCEL_ENDPOINTS[endpoint]
    params = {"symbol": symbol, "order_id": str(int(order_id))}
    return Request(method, path, params, symbol=symbol, signed=True)


def cancel_fallback(error_code: str | None, endpoint: str) -> str | None:
    """The other cancel endpoint to try after ``endpoint`` answered ``error_code``, or None.

    The doc names ``DELETE /v1/order``; every known live client used ``POST
    /v1/orders/cancel`` (NOTES.md). A 404 or 405 means the server has no such route, so
    nothing was cancelled and the other one is safe to try (in either direction).
    """
    if error_code not in CANCEL_FALLBACK_CODES:
        return None
    return "live" if endpoint == "doc" else "doc"


def build_cancel_all(symbol: str) -> Request:
    """``POST /v1/cancelAllOrders``: cancel every open order of one market."""
    return Request("POST", "/v1/cancelAllOrders", {"symbol": symbol}, symbol=symbol, signed=True)


def _paged(path: str, symbol: str, page: int, page_size: int, **extra: str | None) -> Request:
    params = {"symbol": symbol, "page": str(page), "pageSize": str(page_size)}
    params.update({k: v for k, v in extra.items() if v})
    return Request("POST", path, params, symbol=symbol, signed=True)


def build_open_orders(symbol: str, page: int = 1, page_size: int = PAGE_SIZE) -> Request:
    """``POST /v1/openOrders``: one page of open orders (pages count from 1)."""
    return _paged("/v1/openOrders", symbol, page, page_size)


def _dated(
    path: str,
    symbol: str,
    page: int,
    page_size: int,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
) -> Request:
    return _paged(
        path,
        symbol,
        page,
        page_size,
        # The doc does not say in which timezone the server reads these: ask for a
        # range wide enough for any (UTC-12 to UTC+14), then clip_range() the rows.
        startDate=None if start is None else format_date(start - DATE_MARGIN),
        endDate=None if end is None else format_date(end + DATE_MARGIN),
    )


def build_all_orders(
    symbol: str,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> Request:
    """``POST /v1/allOrders``: one page of every order; ``startDate``/``endDate`` in UTC."""
    return _dated("/v1/allOrders", symbol, page, page_size, start, end)


def build_my_trades(
    symbol: str,
    page: int = 1,
    page_size: int = PAGE_SIZE,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> Request:
    """``POST /v1/myTrades``: one page of the account's fills."""
    return _dated("/v1/myTrades", symbol, page, page_size, start, end)


# -- parsers --------------------------------------------------------------------
def _snake(name: str) -> str:
    return _CAMEL.sub(r"_\1", name).lower()


def _attrs(source: str, **extra: Any) -> dict[str, Any]:
    return {"venue": VENUE, "source": source, **extra}


def parse_balances(data: Any) -> pd.DataFrame:
    """Parse ``/v1/account``.

    Raw: ``{"total_asset": 432323.23, "coin_list": [{"normal": 32323.233,
    "locked": 32323.233, "btcValuatin": 112.33, "coin": "btc"}]}`` — ``normal`` is the
    free balance; ``btcValuatin`` (sic) its value in BTC.

    Returns
    -------
    pandas.DataFrame
        Columns ``coin`` (lower-case str), ``free locked btc_value`` (float64).
        ``attrs["total_btc"]``: the venue's ``total_asset`` (float).

    Raises
    ------
    ProtocolError
        If there is no ``coin_list``.
    """
    if not isinstance(data, dict) or not isinstance(data.get("coin_list"), list):
        raise ProtocolError(f"{VENUE}: account answer lacks 'coin_list'")
    rows = [
        {
            "coin": item.get("coin"),
            "free": item.get("normal"),
            "locked": item.get("locked"),
            "btc_value": item.get("btcValuatin", item.get("btcValuation")),
        }
        for item in data["coin_list"]
    ]
    total = data.get("total_asset")
    extra = {} if total is None else {"total_btc": float(total)}
    return frames.balances_frame(rows, attrs=_attrs("rest:/v1/account", **extra))


def parse_order_id(data: Any) -> int:
    """Parse ``/v1/order`` (create): ``{"order_id": 34343}`` → ``34343``."""
    try:
        return int(data["order_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{VENUE}: create-order answer lacks 'order_id': {data!r}") from exc


def parse_page(data: Any) -> tuple[list[dict[str, Any]], int | None]:
    """Return ``(items, count)`` of one page of a paged answer.

    The list is keyed ``resultList`` (openOrders, myTrades) or ``orderList``
    (allOrders) on the live API (NOTES.md): both are read. ``count`` is the total
    number of rows over every page, or None if absent.
    """
    if not isinstance(data, dict):
        raise ProtocolError(f"{VENUE}: paged answer is not an object")
    items = data.get("resultList", data.get("orderList"))
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ProtocolError(f"{VENUE}: paged answer's list is {type(items).__name__}")
    count = data.get("count")
    return items, None if count is None else int(count)


def _order_row(item: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        if key in ("tradeList", "trade_list"):
            continue
        name = _snake(key)
        if name == "side":
            value = normalize_side(value)
        elif name in _COIN_FIELDS and isinstance(value, str):
            value = value.lower()
        row[name] = value
    return row


def parse_orders(items: Any, symbol: str, *, source: str = "rest:/v1/allOrders") -> pd.DataFrame:
    """Parse order records (``resultList``/``orderList`` items, or ``order_info``).

    Raw item: ``{"id": 8140, "side": "SELL", "type": 1, "status": 2, "price":
    "8000.00000000", "volume": "0.00100000", "fee": 0E-8, "deal_price":
    9.7442500000000000, "countCoin": "USDT", "baseCoin": "BTC", "created_at":
    1571971998681, ...}`` — numbers arrive as strings, bare ``0E-8`` and 16-decimal
    numbers (NOTES.md); side as ``BUY``, ``Sell`` or ``buy``.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, = ``created_at``), one row per order, oldest first.
        The venue's fields in snake_case:
        ``id source type status`` (int64), ``type_name`` (category limit/market),
        ``status_name`` (category INIT NEW FILLED PART_FILLED CANCELED
        PENDING_CANCEL EXPIRED), ``side`` (category buy/sell), ``price volume
        deal_volume remain_volume avg_price deal_price total_price fee`` (float64;
        ``deal_price`` is the filled quote total), ``fee_coin base_coin count_coin``
        (lower-case str), ``created_at updated_at`` (UTC), and the rest as sent
        (``side_msg status_msg source_msg``...). ``attrs``: ``venue symbol source``.
    """
    if not isinstance(items, list):
        raise ProtocolError(f"{VENUE}: expected a list of orders, got {type(items).__name__}")
    try:
        rows = [_order_row(item) for item in items]
        return frames.account_frame(
            rows,
            columns=_ORDER_COLUMNS,
            floats=_ORDER_FLOATS,
            ints=_ORDER_INTS,
            times_ms=("created_at", "updated_at"),
            sides=("side",),
            codes={"type": ORDER_TYPES, "status": ORDER_STATUS},
            sort_by=("created_at", "id"),
            time_index="created_at",
            attrs=_attrs(source, symbol=symbol),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{VENUE}: unexpected order record: {items[:1]!r}") from exc


def _fill_row(item: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in item.items():
        name = _snake(key)
        if name in _COIN_FIELDS and isinstance(value, str):
            value = value.lower()
        row[name] = value
    # myTrades has `side` and `type` (both a side spelling, e.g. SELL / Sell);
    # showOrder's trade_list only `type`. Either gives the order side.
    side = row.get("side", row.get("type"))
    if side is not None:
        row["side"] = normalize_side(side)
    if "type" in row:
        row["type"] = normalize_side(row["type"])
    return row


def parse_fills(items: Any, symbol: str, *, source: str = "rest:/v1/myTrades") -> pd.DataFrame:
    """Parse fill records (``/v1/myTrades`` items, or an order's ``trade_list``).

    Raw item: ``{"volume": "0.0047", "side": "SELL", "feeCoin": "USDT", "price":
    "213.26000000", "fee": "0.00", "ctime": 1589046006000, "deal_price": "1.00",
    "id": 1811457, "type": "Sell", "ask_id": 68117598, "ask_user_id": 71308}``.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, = ``ctime``), one row per fill, oldest first:
        ``id`` (int64), ``ctime`` (UTC), ``side``
        and ``type`` (category buy/sell: the account's side), ``price volume
        deal_price fee`` (float64; ``deal_price`` is the quote total), ``fee_coin``
        (lower-case str), and where sent ``bid_id ask_id bid_user_id ask_user_id``
        (``Int64``: only one side is set per fill). ``attrs``: ``venue symbol source``.
    """
    if not isinstance(items, list):
        raise ProtocolError(f"{VENUE}: expected a list of fills, got {type(items).__name__}")
    try:
        rows = [_fill_row(item) for item in items]
        return frames.account_frame(
            rows,
            columns=_FILL_COLUMNS,
            floats=_FILL_FLOATS,
            ints=_FILL_INTS,
            times_ms=("ctime",),
            sides=("side", "type"),
            sort_by=("ctime", "id"),
            time_index="ctime",
            attrs=_attrs(source, symbol=symbol),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise ProtocolError(f"{VENUE}: unexpected fill record: {items[:1]!r}") from exc


def parse_order_detail(data: Any, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parse ``/v1/showOrder``: ``{"order_info": {..., "tradeList": [...]}, "trade_list": [...]}``.

    The fills appear as ``order_info.tradeList`` and, in older answers, also as a
    top-level ``trade_list``; the first non-empty one is used.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(order, fills)``: a one-row frame with :func:`parse_orders`'s columns, and
        a frame with :func:`parse_fills`'s columns.
    """
    if not isinstance(data, dict) or not isinstance(data.get("order_info"), dict):
        raise ProtocolError(f"{VENUE}: showOrder answer lacks 'order_info'")
    info = data["order_info"]
    fills = info.get("tradeList") or data.get("trade_list") or []
    source = "rest:/v1/showOrder"
    return parse_orders([info], symbol, source=source), parse_fills(fills, symbol, source=source)


if TYPE_CHECKING:  # this module is the signed API the account speaks (checked by mypy)
    from mdkit.venues import cryptocom_user as _this
    from mdkit.venues.rest_api import SignedApi

    _SIGNED_API: SignedApi = _this
