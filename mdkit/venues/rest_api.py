"""REST market data as data: what a venue descriptor's ``rest`` offers, and checked readers.

A venue that answers public REST market data describes it with a :class:`RestApi`
(its :attr:`~mdkit.venues.base.Venue.rest`): per call (``symbols tickers ticker
prices klines trades depth``, and the paged ``klines_history`` / ``trades_history``)
a builder returning a :class:`Request`, a parser turning the envelope's data into a
typed DataFrame, and the endpoint's documented rate. Nothing here opens a socket:
:mod:`mdkit.marketdata` sends the requests through :mod:`mdkit.engine.rest`.

The readers below (:func:`floats`, :func:`epochs`, :func:`ids`, :func:`field`,
:func:`levels`) check what a server sent against the data contract and raise
:class:`~mdkit.errors.ProtocolError` naming the endpoint and field: integers beyond
int64, times outside 1970–2262, non-numbers and NaN/inf where a number is required.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mdkit.errors import ProtocolError

if TYPE_CHECKING:
    import pandas as pd

    from mdkit.errors import VenueError

__all__ = [
    "CALLS",
    "Request",
    "RestCall",
    "RestApi",
    "SignedApi",
    "field",
    "floats",
    "epochs",
    "ids",
    "levels",
    "rows_of",
    "table",
    "whole_epochs",
]

#: The public REST calls a venue may describe (``marketdata`` function names), plus
#: the paged history calls behind ``klines(start=...)`` and ``trades(start=...)``.
CALLS = (
    "symbols",
    "tickers",
    "ticker",
    "prices",
    "klines",
    "klines_history",
    "trades",
    "trades_history",
    "depth",
)

# 1970-01-01 to 2262-04-11: what datetime64[ns] holds.
_MAX_NS = 9_223_372_036_854_775_807
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Request:
    """One HTTP request to make: method, path and parameters (query or form body).

    Attributes
    ----------
    method, path : str
        ``GET`` and ``/v1/klines``.
    params : dict of str to str
        Query parameters (form body for POST).
    symbol : str or None
        The market the request is about, to explain an HTTP 500 (Crypto.com answers
        500 for a symbol it does not list, NOTES.md).
    signed : bool
        Needs the user API's signature.
    """

    method: str
    path: str
    params: dict[str, str] = dc_field(default_factory=dict)
    symbol: str | None = None
    signed: bool = False


@dataclass(frozen=True)
class RestCall:
    """One public REST call: builder, parser, and the endpoint's documented rate.

    Attributes
    ----------
    build : callable
        Keyword arguments → :class:`Request` (``symbol``, ``interval``, ``start_ms``,
        ``end_ms``, ``limit``, ``step``, as the call takes them).
    parse : callable
        ``parse(data, **context)`` → DataFrame; raises ProtocolError naming the field.
    rate : float
        Requests per second the venue allows for ``rate_key`` (per IP).
    rate_key : str
        Which budget requests count against (endpoints sharing one budget share it).
    page : int
        Most rows one answer holds (0: not paged).
    fallback : RestCall or None
        Asked instead when the venue answers HTTP 404 (an older path).
    """

    build: Callable[..., Request]
    parse: Callable[..., Any]
    rate: float
    rate_key: str = "market"
    page: int = 0
    fallback: RestCall | None = None


@dataclass(frozen=True)
class RestApi:
    """A venue's public REST market data (see the module docstring).

    Attributes
    ----------
    calls : mapping of str to RestCall
        By call name (:data:`CALLS`).
    unwrap : callable
        ``unwrap(body: bytes)`` → the envelope's data; raises the venue's VenueError.
    intervals : tuple of str
        Canonical kline interval names the venue's REST serves.
    kline_history : {"rest", "ws", ""}
        How bars older than one ``klines`` answer are paged: the REST
        ``klines_history`` call, the WebSocket ``req`` (engine/history), or not at all.
    trade_filters : bool
        ``trades`` takes ``limit`` and a time range.
    depth_steps : tuple of int
        Accepted ``step`` values of ``depth`` (price-level merging).
    signed : str
        Module of the venue's signed user API (sans-I/O builders and parsers) behind
        :class:`mdkit.Account`; empty for none.
    """

    calls: Mapping[str, RestCall]
    unwrap: Callable[[bytes], Any]
    intervals: tuple[str, ...] = ()
    kline_history: str = ""
    trade_filters: bool = False
    depth_steps: tuple[int, ...] = (0,)
    signed: str = ""


def _fail(what: str, name: str, detail: str) -> ProtocolError:
    return ProtocolError(f"{what}: field {name!r} {detail}")


def field(item: Any, name: str, what: str) -> Any:
    """``item[name]``, or a ProtocolError naming the field if it is not there."""
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{what}: expected an object holding {name!r}, got {_kind(item)}")
    if name not in item or item[name] is None:
        raise _fail(what, name, "is missing")
    return item[name]


def rows_of(data: Any, what: str, kind: str = "list") -> list[Any]:
    """``data`` if it is a list, else a ProtocolError naming what was expected."""
    if not isinstance(data, list):
        raise ProtocolError(f"{what}: expected a {kind}, got {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}"


def _number(value: Any, name: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _fail(what, name, f"is not a number: {_kind(value)}")
    try:
        out = float(value)
    except (ValueError, OverflowError):
        raise _fail(what, name, f"is not a number: {_kind(value)}") from None
    return out


def floats(values: Sequence[Any], name: str, what: str, *, finite: bool = True) -> np.ndarray:
    """float64 array of numbers or numeric strings; NaN/inf refused when ``finite``.

    ``None`` and ``""`` become NaN where ``finite`` is False (a field the venue left
    empty), and are refused otherwise. Plain numbers and numeric strings convert in
    one vectorised step; anything else is looked at value by value.
    """
    try:
        fast = np.asarray(values, dtype="float64") if _plain(values) else None
    except (ValueError, TypeError, OverflowError):
        fast = None
    if fast is not None and fast.ndim == 1 and (not finite or bool(np.isfinite(fast).all())):
        return fast
    out = np.empty(len(values), dtype="float64")
    for i, v in enumerate(values):
        if v is None or v == "":
            if finite:
                raise _fail(what, name, "is empty")
            out[i] = math.nan
            continue
        x = _number(v, name, what)
        if finite and not math.isfinite(x):
            raise _fail(what, name, f"is not finite: {v!r}")
        out[i] = x
    return out


def _plain(values: Sequence[Any]) -> bool:
    """Every value an int, float or str (no bool, None, list...): the vectorised path."""
    kinds = set(map(type, values))
    return kinds <= {int, float, str} and not (str in kinds and "" in values)


def _integer(value: Any, name: str, what: str) -> int:
    if isinstance(value, bool):
        raise _fail(what, name, f"is not an integer: {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float) and value.is_integer():
        n = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        n = int(value.strip())
    else:
        raise _fail(what, name, f"is not an integer: {_kind(value)}")
    if not _INT64[0] <= n <= _INT64[1]:
        raise _fail(what, name, f"is beyond int64: {value!r}")
    return n


def _int64s(values: Sequence[Any]) -> np.ndarray | None:
    """int64 in one step for Python ints in range or digit strings; None otherwise."""
    kinds = set(map(type, values))
    if not kinds or not (kinds <= {int} or kinds <= {str}):
        return None
    try:
        arr = np.asarray(values)
        if arr.ndim != 1 or arr.dtype.kind not in "iU":
            return None
        return arr.astype("int64")
    except (ValueError, TypeError, OverflowError):
        return None


def ids(values: Sequence[Any], name: str, what: str) -> np.ndarray:
    """int64 array of integer ids (numbers or digit strings); beyond int64 refused."""
    fast = _int64s(values)
    if fast is not None:
        return fast
    return np.asarray([_integer(v, name, what) for v in values], dtype="int64")


def epochs(values: Sequence[Any], unit: str, name: str, what: str) -> np.ndarray:
    """int64 epoch numbers in ``unit``, each inside 1970–2262 (what ``datetime64[ns]`` holds).

    A time in the wrong unit (a kline open time of 1e15 seconds) is refused here,
    before ``× 1e9`` could wrap it into a plausible date.
    """
    scale = _UNIT_NS[unit]
    fast = _int64s(values)
    if fast is not None and (not len(fast) or (fast.min() >= 0 and fast.max() <= _MAX_NS // scale)):
        return fast
    out = np.empty(len(values), dtype="int64")
    for i, v in enumerate(values):
        if isinstance(v, float) and math.isfinite(v) and not v.is_integer():
            v = math.floor(v)  # fractional epoch: whole units
        n = _integer(v, name, what)
        if not 0 <= n <= _MAX_NS // scale:
            raise _fail(what, name, f"is not a time in 1970-2262 ({unit}): {v!r}")
        out[i] = n
    return out


def table(rows: Sequence[Any], names: Sequence[str], what: str) -> np.ndarray:
    """float64 ``(n, len(names))`` of the first values of each row, every one finite.

    Rows must be lists of at least ``len(names)`` values (else a ProtocolError). Plain
    numbers and numeric strings convert in one step; otherwise each column is read
    with :func:`floats`, which names the bad field.
    """
    width = len(names)
    for row in rows:
        if not isinstance(row, list) or len(row) < width:
            raise ProtocolError(f"{what}: a row needs {width} values, got {row!r:.80}")
    cut = [r[:width] for r in rows]
    if _plain(list(itertools.chain.from_iterable(cut))):
        try:
            arr = np.array(cut, dtype="float64").reshape(-1, width)
        except (ValueError, TypeError, OverflowError):
            arr = None
        if arr is not None and bool(np.isfinite(arr).all()):
            return arr
    columns = [floats([r[i] for r in cut], n, what) for i, n in enumerate(names)]
    return np.column_stack(columns).reshape(-1, width) if columns else np.empty((0, 0))


def whole_epochs(values: np.ndarray, unit: str, name: str, what: str) -> np.ndarray:
    """int64 epochs from a float64 column (from :func:`table`), inside 1970–2262."""
    scale = _UNIT_NS[unit]
    bad = (values < 0) | (values > _MAX_NS // scale) | (values != np.floor(values))
    if bool(bad.any()):
        raise _fail(what, name, f"is not a time in 1970-2262 ({unit}): {values[bad][0]!r}")
    return values.astype("int64")


def levels(value: Any, name: str, what: str) -> np.ndarray:
    """``[[price, amount, ...], ...]`` → float64 (n, 2); odd or non-numeric levels refused."""
    if value is None:
        return np.empty((0, 2))
    rows = rows_of(value, f"{what} {name}", "list of levels")
    out = np.empty((len(rows), 2), dtype="float64")
    for i, level in enumerate(rows):
        if not isinstance(level, (list, tuple)) or len(level) < 2:
            raise _fail(what, name, f"holds a level that is not [price, amount]: {_kind(level)}")
        out[i] = floats(level[:2], name, what)
    return out


class SignedApi(Protocol):
    """What :class:`mdkit.Account` needs of a venue's signed user API module.

    :attr:`RestApi.signed` names the module; the account imports it by that name, so
    no module outside ``venues/`` names the venue. The venue module states that it is
    one (a typed assignment of itself that mypy checks).
    """

    USER_RATE_PER_SECOND: int
    PAGE_SIZE: int
    CANCEL_ENDPOINTS: dict[str, tuple[str, str]]

    def signed(
        self, params: Mapping[str, Any], api_key: str, secret: str, time_ms: int
    ) -> dict[str, str]: ...
    def is_time_error(self, exc: VenueError) -> bool: ...
    def clip_range(
        self, df: pd.DataFrame, column: str, start: pd.Timestamp | None, end: pd.Timestamp | None
    ) -> pd.DataFrame: ...
    def format_amount(self, value: Any, what: str = "amount") -> str: ...
    def build_account(self) -> Request: ...
    def build_create_order(
        self, symbol: str, side: str, volume: str, *, order_type: int = 1, price: str | None = None
    ) -> Request: ...
    def build_show_order(self, symbol: str, order_id: int) -> Request: ...
    def build_cancel_order(self, symbol: str, order_id: int, endpoint: str = "doc") -> Request: ...
    def cancel_fallback(self, error_code: str | None, endpoint: str) -> str | None: ...
    def build_cancel_all(self, symbol: str) -> Request: ...
    def build_open_orders(self, symbol: str, page: int = 1, page_size: int = ...) -> Request: ...
    def build_all_orders(
        self,
        symbol: str,
        page: int = 1,
        page_size: int = ...,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Request: ...
    def build_my_trades(
        self,
        symbol: str,
        page: int = 1,
        page_size: int = ...,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> Request: ...
    def parse_balances(self, data: Any) -> pd.DataFrame: ...
    def parse_order_id(self, data: Any) -> int: ...
    def parse_page(self, data: Any) -> tuple[list[dict[str, Any]], int | None]: ...
    def parse_orders(self, items: Any, symbol: str, *, source: str = ...) -> pd.DataFrame: ...
    def parse_fills(self, items: Any, symbol: str, *, source: str = ...) -> pd.DataFrame: ...
    def parse_order_detail(self, data: Any, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]: ...
