"""What captures collect: a schema per data kind, the tables, and the frames built from them.

Every stream kind has a schema here (the only place besides :mod:`mdkit.data.frames`
that names columns). Sessions write rows **by column name** (``append(timestamp=...,
price=..., ...)``; a missing or unknown name is a TypeError naming it), with every
time as **epoch nanoseconds** (``timestamp`` = the venue's time, ``local_timestamp``
= receive time).

Market kinds (``trades ticker klines depth quotes``) live in
:class:`~mdkit.data.columns.ColumnBuffer` (no Python object per row). Private
kinds (``orders fills balances positions``) carry free-text ids and are low-rate,
so they live in :class:`~mdkit.data.records.RecordBuffer` (a tuple per row).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mdkit.data.frames import (
    BOOK_SIDE_DTYPE,
    KLINE_COLUMNS,
    LOCAL_TIMESTAMP,
    TICKER_COLUMNS,
    TICKER_OPTIONAL,
    TIMESTAMP,
    TRADE_ID_DTYPE,
    TRADE_SIDE_DTYPE,
    new_frame,
    strings,
    to_utc,
)
from mdkit.data.records import TIME_BOUNDS, RecordBuffer
from mdkit.data.wire import decode_payload

__all__ = [
    "empty_columns",
    "STREAM_SCHEMAS",
    "RAW_STREAM_SCHEMA",
    "MARKET_KINDS",
    "PRIVATE_KINDS",
    "STREAM_KINDS",
    "RecordBuffer",
    "STREAM_BOUNDS",
    "TIME_BOUNDS",
    "Tables",
    "stream_frame",
    "book_frame",
    "raw_frame",
    "decode_payload",
    "gaps_frame",
]

_TRADE_SIDE = TRADE_SIDE_DTYPE
_BOOK_SIDE = BOOK_SIDE_DTYPE
_TIMES = {TIMESTAMP: "int64", LOCAL_TIMESTAMP: "int64"}

#: Schema of each stream kind: column → dtype ("category", numpy dtype, or "str").
#: "category" is how the buffers hold repeated labels (int16 codes); frames turn
#: ``symbol`` and ``interval`` into strings (:func:`mdkit.data.frames.strings`), the
#: open sets of the data contract; sides keep their fixed categories.
STREAM_SCHEMAS: dict[str, dict[str, Any]] = {
    # trade time, receive time, symbol, trade id (-1: none sent), taker side, price, amount
    "trades": {
        **_TIMES,
        "symbol": "category",
        "id": "int64",
        "side": _TRADE_SIDE,
        "price": "float64",
        "amount": "float64",
    },
    # ticker values; NaN where the venue does not send one
    "ticker": {
        **_TIMES,
        "symbol": "category",
        **{name: "float64" for name in TICKER_COLUMNS[1:] + TICKER_OPTIONAL},
    },
    # bar open (ns), receive time, symbol, interval name, OHLCV, quote volume (NaN: not sent)
    "klines": {
        **_TIMES,
        "symbol": "category",
        "interval": "category",
        **{name: "float64" for name in KLINE_COLUMNS},
        "quote_volume": "float64",
    },
    # book updates: is_snapshot rows of one message replace the book; amount 0 deletes
    "depth": {
        **_TIMES,
        "symbol": "category",
        "is_snapshot": "bool",
        "side": _BOOK_SIDE,
        "price": "float64",
        "amount": "float64",
    },
    # best bid/ask (Tardis "quote")
    "quotes": {
        **_TIMES,
        "symbol": "category",
        "bid_price": "float64",
        "bid_amount": "float64",
        "ask_price": "float64",
        "ask_amount": "float64",
    },
    "orders": {
        **_TIMES,
        "symbol": "str",
        "order_id": "str",
        "client_order_id": "str",
        "side": "str",
        "type": "str",
        "status": "str",
        "price": "float64",
        "amount": "float64",
        "filled_amount": "float64",
        "average_price": "float64",
        "fee": "float64",
        "fee_currency": "str",
    },
    "fills": {
        **_TIMES,
        "symbol": "str",
        "trade_id": "str",
        "order_id": "str",
        "side": "str",
        "price": "float64",
        "amount": "float64",
        "fee": "float64",
        "fee_currency": "str",
        "liquidity": "str",
    },
    "balances": {
        **_TIMES,
        "coin": "str",
        "free": "float64",
        "locked": "float64",
        "total": "float64",
    },
    "positions": {
        **_TIMES,
        "symbol": "str",
        "side": "str",
        "amount": "float64",
        "entry_price": "float64",
        "mark_price": "float64",
        "unrealized_pnl": "float64",
        "leverage": "float64",
        "margin_mode": "str",
    },
}
#: raw frames: receive time (ns), connection number, offset and size in the byte store,
#: whether it came as a text frame, whether it could not be understood.
RAW_STREAM_SCHEMA: dict[str, Any] = {
    LOCAL_TIMESTAMP: "int64",
    "connection": "int32",
    "offset": "int64",
    "size": "int32",
    "text": "bool",
    "error": "bool",
}
MARKET_KINDS = ("trades", "ticker", "klines", "depth", "quotes")
PRIVATE_KINDS = ("orders", "fills", "balances", "positions")
STREAM_KINDS = MARKET_KINDS + PRIVATE_KINDS
# Columns every row of a kind has; other all-missing columns are left out of the frame
# (a venue that lacks a field leaves it out, never invents it).
_REQUIRED = {
    "trades": ("symbol", "id", "side", "price", "amount"),
    "ticker": ("symbol", "last"),  # the rest where sent (README "Columns per venue")
    "quotes": ("symbol", "bid_price", "bid_amount", "ask_price", "ask_amount"),
    "orders": ("symbol", "order_id", "side", "status", "price", "amount"),
    "fills": ("symbol", "trade_id", "order_id", "side", "price", "amount"),
    "balances": ("coin", "free", "locked"),
    "positions": ("symbol", "side", "amount"),
}


_FINITE = (-1.7976931348623157e308, 1.7976931348623157e308)
#: Value bounds the market buffers enforce per row (a row outside is refused whole).
STREAM_BOUNDS: dict[str, dict[str, tuple[float, float]]] = {
    "trades": {TIMESTAMP: TIME_BOUNDS, "price": _FINITE, "amount": _FINITE},
    "ticker": {TIMESTAMP: TIME_BOUNDS},
    "klines": {TIMESTAMP: TIME_BOUNDS},
    "depth": {TIMESTAMP: TIME_BOUNDS, "price": _FINITE, "amount": _FINITE},
    "quotes": {TIMESTAMP: TIME_BOUNDS},
}


class Tables:
    """The row buffers of one venue's capture, one per data kind, created on first use.

    ``tables["trades"]`` returns the buffer (sessions keep its ``append``, or a
    ``writer(...)`` of a depth table); rows are written by column name only
    (``append(timestamp=..., price=..., ...)``: a positional row is a TypeError).
    :meth:`kinds` lists the kinds that have rows.
    """

    __slots__ = ("_buffers",)

    def __init__(self) -> None:
        self._buffers: dict[str, Any] = {}

    def __getitem__(self, kind: str) -> Any:
        buffer = self._buffers.get(kind)
        if buffer is None:
            if kind not in STREAM_SCHEMAS:
                raise KeyError(f"no stream kind {kind!r}; kinds: {', '.join(STREAM_SCHEMAS)}")
            schema = STREAM_SCHEMAS[kind]
            if kind in PRIVATE_KINDS:
                buffer = RecordBuffer(schema, by_name=True)
            else:
                from mdkit.data.columns import ColumnBuffer

                buffer = ColumnBuffer(
                    schema,
                    bounds=STREAM_BOUNDS.get(kind),
                    closed=("side",) if kind in ("trades", "depth") else (),  # fixed sides
                    by_name=True,  # a positional row could swap two columns unnoticed
                )
            self._buffers[kind] = buffer
        return buffer

    def kinds(self) -> list[str]:
        """Kinds that hold rows, in vocabulary order."""
        return [k for k in STREAM_KINDS if k in self._buffers and len(self._buffers[k])]

    def counts(self) -> dict[str, int]:
        """Rows held per kind (kinds with a buffer)."""
        return {k: len(b) for k, b in self._buffers.items()}

    @property
    def nbytes(self) -> int:
        """Bytes held by every buffer."""
        return sum(int(b.nbytes) for b in self._buffers.values())

    def drain(self) -> dict[str, dict[str, Any]]:
        """Take every kind's rows (kind → columns, kinds with rows only), leaving the
        buffers empty in place, so sessions that kept a buffer's ``append`` go on
        appending (a recorder drains its tables on every flush)."""
        return {k: b.take() for k, b in self._buffers.items() if len(b)}


def _local(values: Any) -> pd.DatetimeIndex:
    return to_utc(np.asarray(values, dtype="int64"), "ns", name=None)


def _categorical(values: Any) -> pd.Categorical:
    if isinstance(values, pd.Categorical):
        return values.remove_unused_categories()
    return pd.Categorical(values)


def _index(times: Any) -> pd.DatetimeIndex:
    return to_utc(np.asarray(times, dtype="int64"), "ns")


def _trades(columns: Mapping[str, Any], attrs: Mapping[str, Any], **_: Any) -> pd.DataFrame:
    """Trades sorted by time (stable); a trade received twice (same symbol and id) kept once."""
    times = np.asarray(columns[TIMESTAMP], dtype="int64")
    ids = np.asarray(columns["id"], dtype="int64")
    symbol = _categorical(columns["symbol"])
    keep = np.ones(len(ids), dtype=bool)
    has_id = ids >= 0
    if has_id.any():
        key = pd.DataFrame({"s": np.asarray(symbol.codes), "i": ids})
        keep &= ~(key.duplicated(keep="first").to_numpy() & has_id)
    order = np.flatnonzero(keep)
    order = order[np.argsort(times[order], kind="stable")]
    # Nullable Int64 always: some venues send trades without ids, and a dtype that
    # depended on the data would not concat with REST or dataset frames.
    id_values: Any = pd.array(np.where(ids[order] >= 0, ids[order], 0), dtype=TRADE_ID_DTYPE)
    if not bool(has_id[order].all()):
        id_values[~has_id[order]] = pd.NA
    out = {
        "symbol": strings(symbol[order]),
        "id": id_values,
        "side": pd.Categorical(columns["side"], dtype=_TRADE_SIDE)[order],
        "price": np.asarray(columns["price"], dtype="float64")[order],
        "amount": np.asarray(columns["amount"], dtype="float64")[order],
        LOCAL_TIMESTAMP: _local(np.asarray(columns[LOCAL_TIMESTAMP])[order]),
    }
    return new_frame(out, _index(times[order]), attrs)


def _klines(
    columns: Mapping[str, Any], attrs: Mapping[str, Any], *, end_ns: int = 0, **_: Any
) -> pd.DataFrame:
    """The last update of each bar; closed when a later bar came or its interval ended."""
    from mdkit.data.timeparse import parse_interval

    opens = np.asarray(columns[TIMESTAMP], dtype="int64")
    symbol = _categorical(columns["symbol"])
    interval = _categorical(columns["interval"])
    s_codes, i_codes = np.asarray(symbol.codes), np.asarray(interval.codes)
    key = pd.DataFrame({"s": s_codes, "i": i_codes, "t": opens})
    rows = np.flatnonzero(~key.duplicated(keep="last").to_numpy())
    rows = rows[np.lexsort((opens[rows], i_codes[rows], s_codes[rows]))]
    widths_by_name = {str(n): parse_interval(str(n)).seconds * 10**9 for n in interval.categories}
    widths = np.array([widths_by_name[str(v)] for v in interval[rows]], dtype="int64")
    later = np.zeros(len(rows), dtype=bool)
    if len(rows) > 1:
        later[:-1] = (s_codes[rows][1:] == s_codes[rows][:-1]) & (
            i_codes[rows][1:] == i_codes[rows][:-1]
        )
    closed = later | ((opens[rows] + widths) <= end_ns)
    by_time = np.argsort(opens[rows], kind="stable")
    rows, closed = rows[by_time], closed[by_time]
    out: dict[str, Any] = {"symbol": strings(symbol[rows]), "interval": strings(interval[rows])}
    for name in (*KLINE_COLUMNS, "quote_volume"):
        out[name] = np.asarray(columns[name], dtype="float64")[rows]
    if len(rows) and bool(np.isnan(out["quote_volume"]).all()):
        del out["quote_volume"]  # not sent by the venue: left out, never invented
    out["closed"] = closed
    out[LOCAL_TIMESTAMP] = _local(np.asarray(columns[LOCAL_TIMESTAMP])[rows])
    return new_frame(out, _index(opens[rows]), attrs)


def _depth(columns: Mapping[str, Any], attrs: Mapping[str, Any], **_: Any) -> pd.DataFrame:
    """Book updates in receive order (a run of is_snapshot rows is one full book)."""
    out = {
        "symbol": strings(_categorical(columns["symbol"])),
        "is_snapshot": np.asarray(columns["is_snapshot"], dtype=bool),
        "side": pd.Categorical(columns["side"], dtype=_BOOK_SIDE),
        "price": np.asarray(columns["price"], dtype="float64"),
        "amount": np.asarray(columns["amount"], dtype="float64"),
        LOCAL_TIMESTAMP: _local(columns[LOCAL_TIMESTAMP]),
    }
    return new_frame(out, _index(columns[TIMESTAMP]), attrs)


def _generic(kind: str) -> Callable[..., pd.DataFrame]:
    """Frame builder for kinds whose columns are taken as they are (ticker, quotes, private)."""
    schema = STREAM_SCHEMAS[kind]
    required = _REQUIRED.get(kind, ())

    def build(columns: Mapping[str, Any], attrs: Mapping[str, Any], **_: Any) -> pd.DataFrame:
        out: dict[str, Any] = {}
        n = len(columns[TIMESTAMP])
        for name, dtype in schema.items():
            if name in _TIMES:
                continue
            values = columns[name]
            if dtype == "category":
                out[name] = strings(_categorical(values))
            elif dtype == "str":
                present = [v for v in values if v is not None]
                if not present and name not in required and n:
                    continue
                out[name] = strings(values)
            elif dtype == "float64":
                floats = np.asarray(values, dtype="float64")
                if name not in required and n and bool(np.isnan(floats).all()):
                    continue
                out[name] = floats
            else:
                out[name] = np.asarray(values)
        out[LOCAL_TIMESTAMP] = _local(columns[LOCAL_TIMESTAMP])
        return new_frame(out, _index(columns[TIMESTAMP]), attrs)

    build.__doc__ = f"The {kind} frame: schema columns, all-missing optional ones left out."
    return build


_BUILDERS: dict[str, Callable[..., pd.DataFrame]] = {
    "trades": _trades,
    "klines": _klines,
    "depth": _depth,
    **{kind: _generic(kind) for kind in ("ticker", "quotes", *PRIVATE_KINDS)},
}


def stream_frame(
    kind: str, columns: Mapping[str, Any], *, attrs: Mapping[str, Any], end_ns: int = 0
) -> pd.DataFrame:
    """Build the DataFrame of one stream kind from its buffer's columns.

    Parameters
    ----------
    kind : str
        One of :data:`STREAM_KINDS`.
    columns : mapping
        The buffer's columns (``columns()``), schema order.
    attrs : mapping
        Frame metadata.
    end_ns : int
        End of the capture (epoch ns): klines whose interval ended by then are closed.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, the venue's time; bar open for klines), then:

        - trades: ``symbol`` (str), ``id`` (nullable ``Int64``: missing where the
          venue sends trades without ids), ``side`` (category buy/sell), ``price``, ``amount``;
          sorted by time, a trade received twice kept once;
        - ticker: ``symbol last bid ask high low volume change`` (+ ``open quote_volume
          bid_amount ask_amount`` where sent), float64;
        - klines: ``symbol interval`` (str), ``open high low close volume``
          (+ ``quote_volume``) float64, ``closed`` (bool), the last update of each bar;
        - depth: ``symbol is_snapshot side price amount`` in receive order;
        - quotes: ``symbol bid_price bid_amount ask_price ask_amount``;
        - orders, fills, balances, positions: the columns of :data:`STREAM_SCHEMAS`
          (strings as :func:`~mdkit.data.frames.string_dtype`), all-missing optional
          ones left out;

        and ``local_timestamp`` (UTC receive time) last; ``pair`` (str, ``BASE/QUOTE``)
        follows ``symbol`` in every kind (:func:`mdkit.data.frames.new_frame`).
    """
    return _BUILDERS[kind](columns, attrs, end_ns=end_ns)


def empty_columns(kind: str) -> dict[str, Any]:
    """Zero-row columns of a kind (for a kind a capture subscribed to but got no rows of)."""
    out: dict[str, Any] = {}
    for name, dtype in STREAM_SCHEMAS[kind].items():
        if dtype in ("category", "str") or isinstance(dtype, pd.CategoricalDtype):
            out[name] = np.array([], dtype=object)
        else:
            out[name] = np.array([], dtype=dtype)
    return out


def book_frame(
    time_ns: Any,
    local_time_ns: Any,
    symbols: Any,
    tops: np.ndarray,
    *,
    attrs: Mapping[str, Any],
    venues: Any = None,
) -> pd.DataFrame:
    """Build a top-N book over time (Tardis ``book_snapshot_N`` columns).

    Parameters
    ----------
    time_ns, local_time_ns : array-like
        Server time (ns) and receive time (ns) of the message after which each row holds.
    symbols : array-like of str
        Symbol of each row.
    tops : numpy.ndarray
        float64, shape (rows, 4, levels): bid prices, bid amounts, ask prices, ask
        amounts; NaN where a side has fewer levels.
    attrs : mapping
        Frame metadata.
    venues : array-like of str, optional
        Venue of each row (a ``venue`` column first).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC); ``venue`` (str, when given), ``symbol`` (str),
        ``local_timestamp`` (UTC), then
        per level i: ``asks[i].price asks[i].amount bids[i].price bids[i].amount``
        (float64; asks low→high, bids high→low).
    """
    levels = tops.shape[2] if tops.ndim == 3 else 0
    out: dict[str, Any] = {} if venues is None else {"venue": strings(venues)}
    out |= {
        "symbol": strings(np.asarray(symbols, dtype=object)),
        LOCAL_TIMESTAMP: _local(local_time_ns),
    }
    for i in range(levels):
        out[f"asks[{i}].price"] = tops[:, 2, i]
        out[f"asks[{i}].amount"] = tops[:, 3, i]
        out[f"bids[{i}].price"] = tops[:, 0, i]
        out[f"bids[{i}].amount"] = tops[:, 1, i]
    return new_frame(out, _index(time_ns), attrs)


def raw_frame(
    columns: Mapping[str, Any], payloads: Sequence[bytes], *, attrs: Mapping[str, Any]
) -> pd.DataFrame:
    """Build the raw-frames table (``Capture.raw``).

    Returns
    -------
    pandas.DataFrame
        Index ``local_timestamp`` (UTC receive time); ``connection`` (int32, 1 = first),
        ``text`` (bool, a text frame), ``error`` (bool, could not be understood),
        ``size`` (int32, bytes on the wire), ``payload`` (bytes exactly as received;
        binary frames are still gzip-compressed where the venue compresses),
        ``decoded`` (str: the payload inflated where compressed and read as UTF-8;
        see :func:`decode_payload`).
    """
    data = list(payloads)
    out = {
        "connection": np.asarray(columns["connection"], dtype="int32"),
        "text": np.asarray(columns["text"], dtype=bool),
        "error": np.asarray(columns["error"], dtype=bool),
        "size": np.asarray(columns["size"], dtype="int32"),
        "payload": pd.array(data, dtype=object),
        "decoded": strings([decode_payload(p) for p in data]),
    }
    index = to_utc(np.asarray(columns[LOCAL_TIMESTAMP], dtype="int64"), "ns", name=LOCAL_TIMESTAMP)
    return new_frame(out, index, attrs)


def gaps_frame(rows: Sequence[Mapping[str, Any]], *, attrs: Mapping[str, Any]) -> pd.DataFrame:
    """Build the gaps table of a capture (disconnects, silences, resyncs, sequence gaps).

    Parameters
    ----------
    rows : sequence of mapping
        Each with ``start_ns`` (last frame before the gap, or when it was noticed),
        ``end_ns`` (first data after it, or the end of the capture), ``venue``,
        ``connection`` (the connection it happened on), ``channels`` (the
        subscriptions it hit; empty for a whole connection), ``reason``.

    Returns
    -------
    pandas.DataFrame
        Columns ``start``, ``end`` (UTC), ``duration`` (timedelta), ``venue``
        (str), ``connection`` (int64), ``channels`` (str, comma-separated; "" = every
        channel of the connection), ``reason`` (str).
    """

    def times(key: str) -> pd.DatetimeIndex:
        values = [r.get(key) for r in rows]
        ns = np.array([0 if v is None else int(v) for v in values], dtype="int64")
        out = ns.view("datetime64[ns]").copy()
        out[[v is None for v in values]] = np.datetime64("NaT")
        return pd.DatetimeIndex(out).tz_localize("UTC")

    starts, ends = times("start_ns"), times("end_ns")
    out = {
        "start": starts,
        "end": ends,
        "duration": ends - starts,
        "venue": strings([str(r.get("venue", "")) for r in rows]),
        "connection": np.asarray([int(r.get("connection", 0)) for r in rows], dtype="int64"),
        "channels": strings([str(r.get("channels", "")) for r in rows]),
        "reason": strings([str(r["reason"]) for r in rows]),
    }
    return new_frame(out, None, attrs)
