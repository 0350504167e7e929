"""The data contract: column names, dtypes and the builders that make every DataFrame.

Column names follow Tardis's normalized schemas so that mdkit captures and Tardis
history combine. This is the only module that names columns; venue parsers hand
it numpy arrays and it returns typed frames:

- time: tz-aware UTC ``datetime64[ns]``; index ``timestamp`` for time series;
- numbers: float64 prices and amounts, int64 ids (trade ids nullable ``Int64``: some
  streams send none);
- ``side``: a category, ``buy``/``sell`` for trades (taker side), ``bid``/``ask`` for books;
  one :class:`pandas.CategoricalDtype` object per set (:data:`TRADE_SIDE_DTYPE`,
  :data:`BOOK_SIDE_DTYPE`) on every path, so frames concatenate without turning ``side``
  into object (pandas keeps a categorical through ``concat`` only when the categories,
  and their dtype, are identical);
- open sets (``venue``, ``symbol``, ``interval``, free-text fields): pandas' default
  string dtype, :func:`string_dtype` — ``str`` on pandas 3 (Arrow-backed, NaN for
  missing), ``object`` on pandas 2.2 (what 2.2 gives every string column). A category
  would not survive ``concat`` of two symbols; the nullable ``"string"`` dtype would,
  but it differs from what ``read_parquet``, ``read_csv`` and the DataFrame
  constructor give on either version, so user frames would not combine with ours;
- ``df.attrs``: ``venue``, ``symbol`` (or ``symbols``), ``interval`` where it applies, ``source``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mdkit.data.symbols import pairs

__all__ = [
    "new_frame",
    "TIMESTAMP",
    "LOCAL_TIMESTAMP",
    "TICKER_OPTIONAL",
    "BOOK_SIDES",
    "TRADE_SIDES",
    "KLINE_COLUMNS",
    "TRADE_COLUMNS",
    "TRADE_SIDE_DTYPE",
    "TRADE_ID_DTYPE",
    "BOOK_SIDE_DTYPE",
    "string_dtype",
    "strings",
    "DEPTH_COLUMNS",
    "TICKER_COLUMNS",
    "BALANCE_COLUMNS",
    "to_utc",
    "side_categorical",
    "klines_frame",
    "trades_frame",
    "depth_frame",
    "tickers_frame",
    "prices_frame",
    "balances_frame",
    "records_frame",
    "account_frame",
]

TIMESTAMP = "timestamp"
LOCAL_TIMESTAMP = "local_timestamp"
TRADE_SIDES = ("buy", "sell")
BOOK_SIDES = ("bid", "ask")
KLINE_COLUMNS = ("open", "high", "low", "close", "volume")
TRADE_COLUMNS = ("symbol", "id", "side", "price", "amount")
DEPTH_COLUMNS = ("side", "level", "price", "amount")
TICKER_COLUMNS = ("symbol", "last", "bid", "ask", "high", "low", "volume", "change")
TICKER_OPTIONAL = ("open", "quote_volume", "bid_amount", "ask_amount")
BALANCE_COLUMNS = ("coin", "free", "locked", "btc_value")

#: The one dtype of trade sides (and of account sides) on every path.
TRADE_SIDE_DTYPE = pd.CategoricalDtype(pd.Index(list(TRADE_SIDES), dtype=object).astype(str))
#: Trade ids: nullable Int64 on every path (some venues' streams send no trade id).
TRADE_ID_DTYPE = pd.Int64Dtype()
#: The one dtype of book sides on every path.
BOOK_SIDE_DTYPE = pd.CategoricalDtype(pd.Index(list(BOOK_SIDES), dtype=object).astype(str))
_TRADE_SIDE_DTYPE = TRADE_SIDE_DTYPE
_BOOK_SIDE_DTYPE = BOOK_SIDE_DTYPE
_UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def to_utc(values: Any, unit: str, *, name: str | None = TIMESTAMP) -> pd.DatetimeIndex:
    """Convert epoch numbers to a tz-aware UTC ``datetime64[ns]`` index.

    Parameters
    ----------
    values : array-like of int or float
        Epoch times; NaN becomes NaT.
    unit : {"s", "ms", "us", "ns"}
        What the numbers count.
    name : str or None
        Name of the returned index.

    Returns
    -------
    pandas.DatetimeIndex
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        nat = np.isnan(arr)
        clean = np.where(nat, 0.0, arr)
        # Whole units and the fraction separately: 1.6e12 ms × 1e6 exceeds float64's
        # 53-bit mantissa, which would shift times by tens of nanoseconds.
        whole = np.floor(clean)
        frac_ns = np.rint((clean - whole) * _UNIT_NS[unit]).astype("int64")
        ns = whole.astype("int64") * _UNIT_NS[unit] + frac_ns
        out = ns.view("datetime64[ns]")
        if nat.any():
            out = out.copy()
            out[nat] = np.datetime64("NaT")
    else:
        out = (arr.astype("int64", copy=False) * _UNIT_NS[unit]).view("datetime64[ns]")
    return pd.DatetimeIndex(out, name=name).tz_localize("UTC")


def string_dtype() -> Any:
    """pandas' default string dtype: ``str`` on pandas 3, ``object`` on pandas 2.2.

    Asked of pandas at each call, so it follows ``pd.options.future.infer_string``.

    Returns
    -------
    pandas.StringDtype or numpy.dtype
    """
    return pd.Series([""], dtype=str).dtype


def strings(values: Any) -> Any:
    """Return ``values`` as an array of :func:`string_dtype` (missing values kept missing).

    Parameters
    ----------
    values : array-like of str or None, or pandas.Categorical
        The strings; a categorical is converted through its categories.

    Returns
    -------
    numpy.ndarray (object) or pandas.api.extensions.ExtensionArray
    """
    dtype = string_dtype()
    plain = not isinstance(dtype, pd.StringDtype)  # pandas 2.2: object
    if isinstance(values, pd.Categorical | pd.Series | pd.Index) and isinstance(
        values.dtype, pd.CategoricalDtype
    ):
        out = pd.Series(values, copy=False).astype(dtype).array
        return np.asarray(out, dtype=object) if plain else out
    arr = np.asarray(values, dtype=object)
    if plain:
        return arr
    return pd.array(arr, dtype=dtype)


def side_categorical(values: Any, *, book: bool = False) -> pd.Categorical:
    """Return sides as a categorical of ``buy``/``sell`` (or ``bid``/``ask`` for books).

    Parameters
    ----------
    values : array-like of str
        Lower-case sides already mapped to the contract's spellings.
    book : bool
        Book sides instead of trade sides.

    Returns
    -------
    pandas.Categorical
    """
    return pd.Categorical(values, dtype=_BOOK_SIDE_DTYPE if book else _TRADE_SIDE_DTYPE)


def key_labels(attrs: Mapping[str, Any], n: int, names: Sequence[str]) -> dict[str, Any]:
    """``venue`` (and ``symbol``, ``interval``) columns from the frame's attrs, as strings:
    REST frames carry them like capture frames do, in the same order, so both concat."""
    return {name: strings([str(attrs[name])] * n) for name in names if attrs.get(name)}


def float_values(values: Any) -> np.ndarray:
    return np.asarray(values, dtype="float64")


def new_frame(
    columns: dict[str, Any], index: pd.Index | None, attrs: Mapping[str, Any]
) -> pd.DataFrame:
    """A DataFrame of ``columns`` (not copied) on ``index``, with ``attrs`` set, and
    ``pair`` (venue-neutral ``BASE/QUOTE``, :func:`mdkit.data.symbols.pair_of`) after
    ``symbol`` (or first, after ``venue``, where ``symbol`` is the index)."""
    columns = _with_pair(columns, index)
    df = pd.DataFrame(columns, index=index, copy=False)
    df.attrs.update(attrs)
    return df


def _with_pair(columns: dict[str, Any], index: pd.Index | None) -> dict[str, Any]:
    if "pair" in columns:
        return columns
    if "symbol" in columns:
        after = "symbol"
        symbols = columns["symbol"]
    elif index is not None and index.name == "symbol":
        after = "venue" if "venue" in columns else ""
        symbols = index
    else:
        return columns
    pair = pairs(symbols, strings)
    if not after:
        return {"pair": pair, **columns}
    out: dict[str, Any] = {}
    for name, values in columns.items():
        out[name] = values
        if name == after:
            out["pair"] = pair
    return out


def klines_frame(
    open_time_s: Any,
    ohlcv: np.ndarray,
    *,
    interval_seconds: int,
    now_s: float,
    quote_volume: Any = None,
    attrs: Mapping[str, Any],
) -> pd.DataFrame:
    """Build a klines frame from bar open times and an ``(n, 5)`` OHLCV array.

    Rows are sorted by open time and de-duplicated (the last copy of a bar wins:
    venues resend the forming bar).

    Parameters
    ----------
    open_time_s : array-like
        Bar open times in epoch seconds.
    ohlcv : numpy.ndarray
        float64 array of shape (n, 5): open, high, low, close, volume.
    interval_seconds : int
        Bar length, to tell closed bars from the still-forming one.
    now_s : float
        The time (epoch seconds) at which the answer was received.
    quote_volume : array-like, optional
        Quote-currency volume per bar, where the venue sends it.
    attrs : mapping
        ``venue``, ``symbol``, ``interval``, ``source``.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (bar open, UTC); columns ``venue symbol interval`` (str,
        from ``attrs``, where given), ``open high low close volume`` (float64),
        ``quote_volume`` (float64, if sent), ``closed`` (bool: False for the
        still-forming last bar).
    """
    times = np.asarray(open_time_s, dtype="int64")
    values = np.asarray(ohlcv, dtype="float64").reshape(-1, 5)
    qv = None if quote_volume is None else float_values(quote_volume)
    if len(times) > 1 and not bool(np.all(times[1:] > times[:-1])):
        # Order is not confirmed on the wire (NOTES.md): sort, keep the last copy of a bar.
        order = np.argsort(times, kind="stable")
        times, values = times[order], values[order]
        qv = None if qv is None else qv[order]
        keep = np.ones(len(times), dtype=bool)
        keep[:-1] = times[1:] != times[:-1]
        times, values = times[keep], values[keep]
        qv = None if qv is None else qv[keep]
    columns = key_labels(attrs, len(times), ("venue", "symbol", "interval"))
    columns.update({name: values[:, i] for i, name in enumerate(KLINE_COLUMNS)})
    if qv is not None:
        columns["quote_volume"] = qv
    columns["closed"] = (times + interval_seconds) <= now_s
    return new_frame(columns, to_utc(times, "s"), attrs)


def trades_frame(
    time_ms: Any,
    symbol: str | Sequence[str],
    trade_id: Any,
    side: Any,
    price: Any,
    amount: Any,
    *,
    local_time_ns: Any = None,
    attrs: Mapping[str, Any],
) -> pd.DataFrame:
    """Build a trades frame, oldest first.

    Parameters
    ----------
    time_ms : array-like
        Trade times in epoch milliseconds.
    symbol : str or sequence of str
        One symbol for every row, or one per row.
    trade_id, side, price, amount : array-like
        Venue trade ids, taker sides (``buy``/``sell``), prices and base amounts.
    local_time_ns : array-like, optional
        Receive times in epoch nanoseconds (streams).
    attrs : mapping
        Frame metadata.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC); columns ``venue`` (str, from ``attrs``), ``symbol``
        (str), ``id`` (Int64), ``side`` (category buy/sell), ``price``, ``amount``
        (float64), and ``local_timestamp`` (UTC) for streams.
    """
    times = np.asarray(time_ms, dtype="int64")
    ids = np.asarray(trade_id, dtype="int64")
    order = np.lexsort((ids, times))
    n = len(times)
    symbols = [symbol] * n if isinstance(symbol, str) else list(symbol)
    columns = key_labels(attrs, n, ("venue",))
    columns.update(
        {
            "symbol": strings(np.asarray(symbols, dtype=object)[order] if n else []),
            "id": pd.array(ids[order], dtype=TRADE_ID_DTYPE),
            "side": side_categorical(np.asarray(side, dtype=object)[order]),
            "price": float_values(price)[order],
            "amount": float_values(amount)[order],
        }
    )
    if local_time_ns is not None:
        columns[LOCAL_TIMESTAMP] = to_utc(np.asarray(local_time_ns)[order], "ns", name=None)
    return new_frame(columns, to_utc(times[order], "ms"), attrs)


def depth_frame(bids: np.ndarray, asks: np.ndarray, *, attrs: Mapping[str, Any]) -> pd.DataFrame:
    """Build a one-snapshot depth table from ``(n, 2)`` price/amount arrays.

    Parameters
    ----------
    bids, asks : numpy.ndarray
        float64 arrays of shape (n, 2), price and amount, in any order.
    attrs : mapping
        Frame metadata (``timestamp`` of the snapshot goes here).

    Returns
    -------
    pandas.DataFrame
        Columns ``venue symbol`` (str, from ``attrs``, where given), ``side``
        (category bid/ask), ``level`` (int64, 0 = best), ``price``, ``amount``
        (float64); bids high→low first, then asks low→high.
    """
    b = np.asarray(bids, dtype="float64").reshape(-1, 2)
    a = np.asarray(asks, dtype="float64").reshape(-1, 2)
    b = b[np.argsort(-b[:, 0], kind="stable")]
    a = a[np.argsort(a[:, 0], kind="stable")]
    columns = key_labels(attrs, len(b) + len(a), ("venue", "symbol"))
    columns |= {
        "side": side_categorical(["bid"] * len(b) + ["ask"] * len(a), book=True),
        "level": np.concatenate([np.arange(len(b)), np.arange(len(a))]).astype("int64"),
        "price": np.concatenate([b[:, 0], a[:, 0]]),
        "amount": np.concatenate([b[:, 1], a[:, 1]]),
    }
    return new_frame(columns, None, attrs)


def tickers_frame(
    rows: Sequence[Mapping[str, Any]], *, time_ms: Any, attrs: Mapping[str, Any]
) -> pd.DataFrame:
    """Build a ticker table, one row per market, indexed by symbol.

    Parameters
    ----------
    rows : sequence of mapping
        Each maps contract names (``symbol last bid ask high low volume change``
        and optionally ``open quote_volume bid_amount ask_amount``) to values;
        values may be numeric strings, missing keys become NaN.
    time_ms : int, sequence of int, or None
        Server time of the tickers in epoch ms (one for all, or one per row).
    attrs : mapping
        Frame metadata.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (str); columns ``venue`` (str, from ``attrs``), ``timestamp``
        (UTC), ``last bid ask high low volume change`` (float64, change is the 24 h
        change as a fraction) and the optional columns the venue sent.
    """
    symbols = [str(r["symbol"]) for r in rows]
    columns: dict[str, Any] = key_labels(attrs, len(rows), ("venue",))
    if time_ms is None:
        stamps = np.full(len(rows), np.nan)
    elif np.ndim(time_ms) == 0:
        stamps = np.full(len(rows), float(time_ms))
    else:
        stamps = float_values(time_ms)
    columns[TIMESTAMP] = to_utc(stamps, "ms", name=None)
    for name in TICKER_COLUMNS[1:] + TICKER_OPTIONAL:
        if name in TICKER_COLUMNS or any(name in r for r in rows):
            columns[name] = float_values([number_or_nan(r.get(name)) for r in rows])
    return new_frame(columns, symbol_index(symbols), attrs)


def symbol_index(symbols: Sequence[str]) -> pd.Index:
    index: pd.Index = pd.Index(strings(list(symbols)), name="symbol")
    return index


def number_or_nan(value: Any) -> float:
    if value is None or value == "":
        return float("nan")
    return float(value)


def prices_frame(prices: Mapping[str, Any], *, attrs: Mapping[str, Any]) -> pd.DataFrame:
    """Build a last-price table from ``{symbol: price}``.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (str); column ``price`` (float64).
    """
    index = symbol_index(list(prices))
    return new_frame(
        {"price": float_values([number_or_nan(v) for v in prices.values()])}, index, attrs
    )


def balances_frame(rows: Sequence[Mapping[str, Any]], *, attrs: Mapping[str, Any]) -> pd.DataFrame:
    """Build an account balance table.

    Parameters
    ----------
    rows : sequence of mapping
        Each with ``coin free locked btc_value``.

    Returns
    -------
    pandas.DataFrame
        Columns ``coin`` (str), ``free locked btc_value`` (float64).
    """
    columns: dict[str, Any] = {"coin": strings([str(r["coin"]).lower() for r in rows])}
    for name in BALANCE_COLUMNS[1:]:
        columns[name] = float_values([number_or_nan(r.get(name)) for r in rows])
    return new_frame(columns, None, attrs)


def records_frame(
    rows: Sequence[Mapping[str, Any]],
    *,
    floats: Sequence[str] = (),
    ints: Sequence[str] = (),
    times_ms: Sequence[str] = (),
    categories: Mapping[str, Sequence[str]] | None = None,
    index: str | None = None,
    attrs: Mapping[str, Any],
) -> pd.DataFrame:
    """Build a typed frame from venue records whose keys are already snake_case.

    Parameters
    ----------
    rows : sequence of mapping
        The records.
    floats, ints, times_ms : sequence of str
        Columns to make float64, int64 (nullable ``Int64`` if any is missing) and UTC
        datetimes from epoch ms.
    categories : mapping, optional
        Column → allowed values, made categorical.
    index : str, optional
        Column to move to the index.
    attrs : mapping
        Frame metadata.

    Returns
    -------
    pandas.DataFrame
        Columns in the order first seen; other columns kept as the venue sent them.
    """
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    columns: dict[str, Any] = {}
    cats = categories or {}
    for name in names:
        values: list[Any] = [r.get(name) for r in rows]
        if name in floats:
            columns[name] = float_values([number_or_nan(v) for v in values])
        elif name in ints:
            if any(v is None or v == "" for v in values):
                columns[name] = pd.array(
                    [None if v is None or v == "" else int(v) for v in values], dtype="Int64"
                )
            else:
                columns[name] = np.asarray([int(v) for v in values], dtype="int64")
        elif name in times_ms:
            columns[name] = to_utc(
                float_values([number_or_nan(v) for v in values]), "ms", name=None
            )
        elif name in cats:
            columns[name] = pd.Categorical(values, categories=list(cats[name]))
        else:
            columns[name] = values
    df = new_frame(columns, None, attrs)
    if index is not None and index in df.columns:
        df = df.set_index(index)
        df.attrs.update(attrs)
    return df


def account_frame(
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str] = (),
    floats: Sequence[str] = (),
    ints: Sequence[str] = (),
    times_ms: Sequence[str] = (),
    sides: Sequence[str] = (),
    codes: Mapping[str, Mapping[int, str]] | None = None,
    sort_by: Sequence[str] = (),
    time_index: str | None = None,
    attrs: Mapping[str, Any],
) -> pd.DataFrame:
    """Build an account table (orders, fills) from records with snake_case keys.

    Like :func:`records_frame`, plus: ``columns`` that always exist (an empty
    answer still has its schema), trade sides as a ``buy``/``sell`` category, and
    for each coded column ``c`` a readable ``c_name`` category right after it.

    Parameters
    ----------
    rows : sequence of mapping
        The records; sides already lower-case ``buy``/``sell``.
    columns : sequence of str
        Columns created (empty, typed) even when no row has them.
    floats, ints, times_ms : sequence of str
        Columns made float64, int64 (``Int64`` when a value is missing) and UTC
        datetimes from epoch ms.
    sides : sequence of str
        Columns made a ``buy``/``sell`` category.
    codes : mapping, optional
        Column → ``{code: name}``; adds ``<column>_name`` (category of the names).
    sort_by : sequence of str
        Sort rows by these columns (stable).
    time_index : str, optional
        A ``times_ms`` column whose values become the index ``timestamp`` (the column
        stays), like every other time series of the contract.
    attrs : mapping
        Frame metadata.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, from ``time_index``; else a RangeIndex); columns in
        the order first seen (``columns`` first), typed as above.
    """
    names: dict[str, None] = dict.fromkeys(columns)
    for r in rows:
        names.update(dict.fromkeys(r))
    table: dict[str, Any] = {}
    coded = codes or {}
    generated = {f"{name}_name" for name in coded}
    for name in names:
        if name in generated:
            continue
        values: list[Any] = [r.get(name) for r in rows]
        if name in floats:
            table[name] = float_values([number_or_nan(v) for v in values])
        elif name in ints:
            if any(v is None or v == "" for v in values):
                table[name] = pd.array([_optional_int(v) for v in values], dtype="Int64")
            else:
                table[name] = np.asarray([int(v) for v in values], dtype="int64")
        elif name in times_ms:
            stamps = float_values([number_or_nan(v) for v in values])
            # Whole milliseconds stay integers: float ms * 1e6 would blur the last digits.
            exact = stamps if np.isnan(stamps).any() else stamps.astype("int64")
            table[name] = to_utc(exact, "ms", name=None)
        elif name in sides:
            table[name] = side_categorical(np.asarray(values, dtype=object))
        else:
            table[name] = pd.array(values, dtype=object)
        if name in coded:
            labels = coded[name]
            table[f"{name}_name"] = pd.Categorical(
                [_label(labels, v) for v in values],
                categories=list(dict.fromkeys(labels.values())),
            )
    df = new_frame(table, None, attrs)
    keys = [k for k in sort_by if k in df.columns]
    if keys and len(df):
        df = df.sort_values(keys, kind="stable").reset_index(drop=True)
        df.attrs.update(attrs)
    if time_index is not None:
        df.index = pd.DatetimeIndex(df[time_index], name=TIMESTAMP)
    return df


def _label(labels: Mapping[int, str], value: Any) -> str | None:
    return None if value is None or value == "" else labels.get(int(value))


def _optional_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


# -- streams: columnar accumulators and the frames built from them -----------------------
