"""Dataset rows back to the live frames: dtypes, row order, de-duplication.

Arrow tables read from a dataset become the frames a live capture gives
(``Capture.frame``): the same columns, dtypes, index and row order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from mdkit.data import tables as t
from mdkit.data.frames import (
    BOOK_SIDE_DTYPE,
    BOOK_SIDES,
    TRADE_ID_DTYPE,
    TRADE_SIDE_DTYPE,
    TRADE_SIDES,
    new_frame,
    string_dtype,
    strings,
)
from mdkit.store.arrays import categorical as _cat
from mdkit.store.arrays import codes_and_names as _dict
from mdkit.store.arrays import flat as _numpy
from mdkit.store.arrays import gather as _gather
from mdkit.store.arrays import nanoseconds as _ns
from mdkit.store.arrays import plain_number as _plain_number
from mdkit.store.arrays import repeated as _repeated
from mdkit.store.arrays import run_all as _run_all
from mdkit.store.arrays import string_dtype_is_arrow
from mdkit.store.arrays import text_column as _text
from mdkit.store.arrays import utc as _utc
from mdkit.store.arrays import utc_index as _utc_index
from mdkit.store.arrays import writable as _writable
from mdkit.store.order import dedupe_trades as _dedupe_trades
from mdkit.store.order import row_order as _order
from mdkit.store.order import unique_runs as _unique_runs

__all__ = ["empty_frame", "table_frame"]


def empty_frame(kind: str) -> pd.DataFrame:
    """An empty frame of a kind, with the live columns and dtypes."""
    if kind == "gaps":
        return t.gaps_frame([], attrs={})
    if kind == "raw":
        cols = {k: np.array([], dtype=v) for k, v in t.RAW_STREAM_SCHEMA.items()}
        df = t.raw_frame(cols, [], attrs={})
        df.insert(0, "venue", pd.Series(strings([]), index=df.index))
        return df
    if kind == "book":
        df = t.book_frame([], [], [], np.empty((0, 4, 0)), attrs={})
    else:
        df = t.stream_frame(kind, t.empty_columns(kind), attrs={})
    df.insert(0, "venue", pd.Series(strings([]), index=df.index))
    return df


def table_frame(
    kind: str,
    table: Any,
    attrs: dict[str, Any],
    columns: Sequence[str] | None,
    deduped: bool = False,
) -> pd.DataFrame:
    """A kind's Arrow table (venue and symbol as columns) as the live frame of that kind;
    ``deduped``: the rows are known to hold each trade once (skip that step).

    Returns
    -------
    pandas.DataFrame
        As ``Capture.frame(kind)`` (see :func:`mdkit.read_parquet`).
    """
    if kind == "gaps":
        return _gaps(table, attrs)
    if kind == "raw":
        return _raw(table, attrs)
    if "local_timestamp" in table.column_names:
        when_ns, local_ns = _run_all(
            [partial(_ns, table["timestamp"]), partial(_ns, table["local_timestamp"])],
            table.num_rows,
        )
    else:
        when_ns, local_ns = _ns(table["timestamp"]), None
    names = table.column_names

    def codes_of(name: str) -> Any:
        return np.asarray(_cat(table[name]).codes) if name in names else None

    dedupe = kind == "trades" and not deduped
    dicts: dict[str, tuple[np.ndarray[Any, Any], list[Any]]] = {}

    def dict_of(name: str) -> tuple[np.ndarray[Any, Any], list[Any]]:
        """A text column's codes and names, made once (de-duplication, strings)."""
        if name not in dicts:
            dicts[name] = _dict(table[name])
        return dicts[name]

    # sorted codes where they order rows; the column's own codes where they only group
    venue = codes_of("venue") if kind in ("depth", "book") else None
    symbol = codes_of("symbol") if kind == "klines" else None
    if dedupe and "venue" in names:
        venue = dict_of("venue")[0]
        symbol = dict_of("symbol")[0] if "symbol" in names else None
    # Row order of the live frames: see Capture.frame.
    if kind == "trades":
        keys: list[Any] = [local_ns, when_ns]
    elif kind == "klines":
        keys = [local_ns, codes_of("interval"), symbol, when_ns]
    elif kind in ("depth", "book"):
        keys = [local_ns, venue]
    else:
        keys = [local_ns]
    present = [k for k in keys if k is not None]
    schema = t.STREAM_SCHEMAS.get(kind, {})
    plain = [
        n
        for n in table.column_names
        if n not in ("timestamp", "local_timestamp") and _plain_number(table[n])
    ]
    coded_sides = "side" in names and schema.get("side") != "str" and "side" not in plain
    flat: dict[str, np.ndarray[Any, Any]] = {}

    def prepare() -> None:
        """What needs no row order (one numpy array per column, text codes), made
        while the sort runs in the pool."""
        for name in plain:
            flat[name] = _numpy(table[name])
        if coded_sides:
            sides = TRADE_SIDES if kind == "trades" else BOOK_SIDES
            flat["side"] = np.asarray(_cat(table["side"], list(sides)).codes)
        if "symbol" in names:
            codes, values = dict_of("symbol")
            if len(values) < 127 and codes.dtype != np.int8:  # gathered twice: small codes
                dicts["symbol"] = codes.astype(np.int8), values

    lengths = [len(c) for c in table["timestamp"].chunks]
    sorting, ordered = _order(present, prepare, np.cumsum(lengths[:-1]).tolist())
    order: Any = slice(None) if sorting is None else sorting
    sorted_ns: dict[int, np.ndarray[Any, Any]] = {
        id(k): v for k, v in zip(present, ordered, strict=True)
    }

    def in_order(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """A numpy column in the read's row order (keys already gathered reused)."""
        if sorting is None:
            return values
        hit = sorted_ns.get(id(values))
        return hit if hit is not None else _gather(values, sorting)

    taken: dict[str, Any] = {}

    def col(name: str) -> Any:
        """A column in the read's row order (each column taken once, as needed)."""
        if name not in taken:
            taken[name] = table[name] if sorting is None else _take(table[name], sorting)
        return taken[name]

    required = t._REQUIRED.get(kind, ())

    def _text_of(name: str) -> Any:
        return _text(table[name], in_order, dict_of(name))

    def _other_of(name: str, drop: bool) -> Any:
        return _other(kind, name, col(name), drop)

    # the live frames' rule for optional columns
    # Each output column is one task: the heavy parts (numpy's gathers, Arrow's takes,
    # string buffers) release the GIL, so two run at once.
    tasks: list[tuple[str, Callable[[], Any]]] = [("venue", lambda: _venue(table, in_order))]
    names = [n for n in table.column_names if n not in ("venue", "symbol", "date")]
    if "symbol" in table.column_names:
        # ``pair`` is pair_of(symbol), as live frames make it: from the symbol's codes
        names = ["symbol", "pair", *(n for n in names if n != "pair")]
        dict_of("symbol")
    for name in names:
        if name == "local_timestamp" and local_ns is not None:
            tasks.append((name, lambda: _utc_index(_writable(in_order(local_ns)))))
            continue
        if name == "timestamp":
            continue
        if name == "pair" and "symbol" in table.column_names:
            tasks.append((name, lambda: _text(None, in_order, _pairs(dict_of("symbol")))))
            continue
        dtype = schema.get(name)
        column = table[name]
        optional = name not in required and kind not in ("trades", "depth", "book")
        drop = optional and (columns is None or name not in columns) and name in schema
        if name in plain:
            # numbers without nulls: numpy's gather straight into the frame's array
            tasks.append((name, partial(_number, kind, name, in_order, flat[name], drop)))
        elif name == "side" and coded_sides:
            tasks.append((name, partial(_sides, kind, flat["side"], in_order)))
        elif name in ("symbol", "interval", "pair") or dtype == "str":
            # Open sets are strings in the contract (mdkit.data.frames), as in live frames.
            if dtype == "str" and name != "side":
                if column.null_count == len(column) and name not in required and len(column):
                    if columns is None or name not in columns:
                        continue
            tasks.append((name, partial(_text_of, name)))
        else:
            tasks.append((name, partial(_other_of, name, drop)))
    results = _run_all([task for _, task in tasks], len(when_ns))
    out: dict[str, Any] = {
        name: value for (name, _), value in zip(tasks, results, strict=True) if value is not _SKIP
    }
    index = _utc_index(_writable(in_order(when_ns))).rename("timestamp")
    df = new_frame(out, index, {})  # ``pair`` too, for older datasets
    if dedupe and venue is not None:
        group = np.asarray(venue, dtype="int64")
        if symbol is not None:
            group = group * (int(symbol.max(initial=0)) + 1) + symbol
        id_column = table["id"] if "id" in table.column_names else None
        # the parts' order first: a partition's parts in write order, ids rising
        proven = (
            id_column is not None
            and _plain_number(id_column)
            and _unique_runs(group, _numpy(id_column))
        )
        group = group[order]
        if proven:
            pass
        elif id_column is None or not _plain_number(id_column):
            df = _dedupe_trades(df, group)
        else:
            # each group's trades in time order: their ids usually rise (one run each)
            ids = in_order(_numpy(id_column))
            if int(group.max(initial=0)) > 0:
                small = group.astype("int16") if int(group.max()) < 2**15 else group
                by = np.argsort(small, kind="stable")  # radix sort for 16-bit keys
                proven = _unique_runs(group[by], ids[by])
            else:
                proven = _unique_runs(group, ids)
            if not proven:
                df = _dedupe_trades(df, group)
    elif kind == "klines":
        df = _last_bar(df)
    df.attrs.update(attrs)
    return df


_SKIP = object()  # a column left out (an optional column without a value)


def _number(
    kind: str, name: str, in_order: Callable[[Any], Any], values: Any, drop_empty: bool
) -> Any:
    """A null-free number column (numpy) in the read's row order (trade ids as ``Int64``)."""
    values = _writable(in_order(values))
    if name == "id" and kind == "trades":
        mask = np.zeros(len(values), dtype=bool)
        return pd.arrays.IntegerArray(values.astype("int64", copy=False), mask)
    return _SKIP if drop_empty and _all_nan(values) else values


def _sides(kind: str, codes: np.ndarray[Any, Any], in_order: Callable[[Any], Any]) -> Any:
    """The sides from their codes (of the fixed sides), gathered: no strings made."""
    side_dtype = TRADE_SIDE_DTYPE if kind == "trades" else BOOK_SIDE_DTYPE
    return pd.Categorical.from_codes(in_order(codes), dtype=side_dtype, validate=False)


def _venue(table: Any, in_order: Callable[[Any], Any]) -> Any:
    """The venue column: one venue (the usual read) without making its codes."""
    import pyarrow as pa

    column = table["venue"]
    if pa.types.is_dictionary(column.type) and not column.null_count and column.num_chunks:
        column = column.unify_dictionaries()
        names = column.chunk(0).dictionary
        if len(names) == 1 and string_dtype_is_arrow():
            return pd.array(_repeated(str(names[0]), len(column)), dtype=string_dtype())
    return _text(column, in_order)


def _other(kind: str, name: str, column: Any, drop_empty: bool) -> Any:
    """Any other column, already in row order: nullable trade ids, numbers with nulls..."""
    if name == "id" and kind == "trades":
        # Always nullable Int64 (mdkit.data.frames.TRADE_ID_DTYPE), as live frames.
        ids = column.cast("int64")
        mask = np.asarray(ids.is_null(), dtype=bool)
        values = np.asarray(ids.fill_null(0), dtype="int64")
        return pd.arrays.IntegerArray(values, mask).astype(TRADE_ID_DTYPE)
    values = column if isinstance(column, np.ndarray) else column.to_numpy(zero_copy_only=False)
    return _SKIP if drop_empty and _all_nan(values) else values


def _all_nan(values: np.ndarray[Any, Any]) -> bool:
    return values.dtype.kind == "f" and len(values) > 0 and bool(np.isnan(values).all())


def _pairs(
    coded: tuple[np.ndarray[Any, Any], list[Any]],
) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """The ``pair`` column's codes and names from the symbol's (one parse per symbol)."""
    from mdkit.data.symbols import pair_of

    codes, names = coded
    return codes, [None if n is None else pair_of(str(n)) for n in names]


def _take(column: Any, order: np.ndarray[Any, Any]) -> Any:
    """One column's rows in ``order``: a dictionary column by its codes (no strings
    copied), another as one chunk (a take over many chunks costs several times more)."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        codes, names = _dict(column)
        picked = codes[order]
        indices = pa.array(picked, type=pa.int32(), mask=picked == len(names))
        return pa.DictionaryArray.from_arrays(indices, pa.array(names, type=pa.string()))
    kind = column.type
    if column.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        return pa.array(column.to_numpy()[order])  # numpy's gather, no Arrow kernel
    return column.combine_chunks().take(pa_indices(order))


def pa_indices(order: np.ndarray[Any, Any]) -> Any:
    import pyarrow as pa

    return pa.array(order, type=pa.int64())


def _last_bar(df: pd.DataFrame) -> pd.DataFrame:
    key = pd.DataFrame(
        {
            "v": df["venue"].to_numpy(),
            "s": df["symbol"].to_numpy(),
            "i": df["interval"].to_numpy(),
            "t": pd.DatetimeIndex(df.index).asi8,
            "r": df["local_timestamp"].to_numpy(),
        }
    )
    last = key.sort_values("r", kind="stable").duplicated(["v", "s", "i", "t"], keep="last")
    drop = last.sort_index().to_numpy()
    return df[~drop] if drop.any() else df


def _raw(table: Any, attrs: dict[str, Any]) -> pd.DataFrame:
    local = _utc(table["local_timestamp"]).asi8
    order = np.argsort(local, kind="stable")
    table = table.take(pa_indices(order))
    cols = {
        "local_timestamp": local[order],
        "connection": np.asarray(table["connection"], dtype="int32"),
        "text": np.asarray(table["text"], dtype=bool),
        "error": np.asarray(table["error"], dtype=bool),
        "size": np.asarray(table["size"], dtype="int32"),
    }
    payloads = table["payload"].to_pylist()
    df = t.raw_frame(cols, payloads, attrs=attrs)
    df.insert(0, "venue", pd.Series(strings(_cat(table["venue"])), index=df.index))
    return df


def _gaps(table: Any, attrs: dict[str, Any]) -> pd.DataFrame:
    starts = _utc(table["start"]).asi8
    ends = table["end"].cast("int64").to_pylist()
    order = np.argsort(starts, kind="stable").tolist()
    venues, channels, reasons = (table[n].to_pylist() for n in ("venue", "channels", "reason"))
    connections = table["connection"].to_pylist()
    rows = [
        {
            "start_ns": int(starts[i]),
            "end_ns": ends[i],
            "venue": venues[i],
            "connection": connections[i],
            "channels": channels[i] or "",
            "reason": reasons[i],
        }
        for i in order
    ]
    return t.gaps_frame(rows, attrs=attrs)
