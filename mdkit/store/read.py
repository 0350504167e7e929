"""Reading a dataset back: partition pruning, predicate pushdown, the live frames' dtypes."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote

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
    strings,
)
from mdkit.errors import InvalidArgument
from mdkit.store.layout import ATTRS_KEY, KINDS, SYMBOL_KINDS, arrow_schema, time_column

__all__ = ["read_parquet", "find_parts"]

_NS_PER_DAY = 86_400_000_000_000
REPLAY_KEYS = ("subscriptions", "ended_ns")


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(v, str) for v in items):
        raise InvalidArgument(f"{what} must be a string or a list of strings, not {value!r}")
    return [v.lower() for v in items]


def _dirs(path: str, key: str) -> list[tuple[str, str]]:
    """(value, path) of the ``key=value`` subdirectories of ``path``."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return []
    prefix = f"{key}="
    return sorted(
        (unquote(e.name[len(prefix) :]), e.path)
        for e in entries
        if e.is_dir() and e.name.startswith(prefix)
    )


def find_parts(
    root: str | os.PathLike[str],
    kind: str,
    *,
    venue: Any = None,
    symbols: Any = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> list[str]:
    """The part files a read of these partitions opens (pruned by path, nothing opened).

    Returns
    -------
    list of str
        Paths, in partition then name (write-time) order.
    """
    venues = _names(venue, "venue")
    wanted = _names(symbols, "symbols")
    first = None if start is None else start.strftime("%Y-%m-%d")
    last = None if end is None else (end - pd.Timedelta(1, "ns")).strftime("%Y-%m-%d")
    files = []
    for v, vpath in _dirs(os.path.join(os.fspath(root), f"kind={kind}"), "venue"):
        if venues is not None and v.lower() not in venues:
            continue
        leaves = [vpath]
        if kind in SYMBOL_KINDS:
            leaves = [p for s, p in _dirs(vpath, "symbol") if wanted is None or s.lower() in wanted]
        for leaf in leaves:
            for date, dpath in _dirs(leaf, "date"):
                if (first is not None and date < first) or (last is not None and date > last):
                    continue
                files += sorted(
                    e.path
                    for e in os.scandir(dpath)
                    if e.is_file() and e.name.endswith(".parquet") and e.name[0] not in "._"
                )
    return files


def read_parquet(
    directory: str | os.PathLike[str],
    kind: str,
    venue: str | Sequence[str] | None = None,
    symbols: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read one kind from a dataset written by ``Capture.to_parquet`` or ``mdkit.record``.

    Only the partitions that match ``venue``, ``symbols`` and the days of
    ``[start, end)`` are opened; the time range is pushed down to the row groups.

    Parameters
    ----------
    directory : str or path
        The dataset root (the folder holding ``kind=...`` directories).
    kind : str
        ``trades ticker klines depth quotes orders fills balances positions book raw gaps``.
    venue : str or list of str, optional
        Venue key(s); default every venue.
    symbols : str or list of str, optional
        Symbols as stored (case-insensitive); default every symbol.
    start, end : str, datetime or Timestamp, optional
        Time range ``[start, end)`` on the kind's time (the index; ``start`` for gaps);
        anything ``mdkit`` accepts as a time (``"2026-12-01"``, ``"3 days ago"``).
    columns : list of str, optional
        Data columns to read (the index, ``venue`` and ``symbol`` always come).

    Returns
    -------
    pandas.DataFrame
        The same columns, dtypes and index as the live capture's frame of that kind
        (see ``Capture.frame``): index ``timestamp`` (UTC; ``local_timestamp`` for raw,
        a range for gaps), ``venue`` (str) first. Trades received twice (same
        venue, symbol and id) are kept once, klines keep the last update of each bar.
        ``attrs`` are the parts' attrs (merged when the parts differ).

    Raises
    ------
    InvalidArgument
        For an unknown kind, a missing directory or a bad argument.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    from mdkit.data.timeparse import parse_time

    if kind not in KINDS:
        raise InvalidArgument(f"no dataset kind {kind!r}; kinds: {', '.join(KINDS)}")
    root = os.fspath(directory)
    if not os.path.isdir(root):
        raise InvalidArgument(f"no dataset at {root!r} (not a directory)")
    lo = None if start is None else parse_time(start)
    hi = None if end is None else parse_time(end)
    files = find_parts(root, kind, venue=venue, symbols=symbols, start=lo, end=hi)
    if not files:
        return _empty(kind)
    part_fields = [pa.field("venue", pa.string())]
    if kind in SYMBOL_KINDS:
        part_fields.append(pa.field("symbol", pa.string()))
    part_fields.append(pa.field("date", pa.string()))
    partitioning = ds.partitioning(pa.schema(part_fields), flavor="hive")
    if kind == "book":  # level count varies by part
        schema = pa.unify_schemas([ds.dataset(f).schema for f in files])
    else:
        schema = arrow_schema(kind)
    schema = pa.unify_schemas([schema, pa.schema(part_fields)])
    dataset = ds.dataset(
        files,
        schema=schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=os.path.join(root, f"kind={kind}"),
    )
    when = time_column(kind)
    condition = None
    if lo is not None:
        condition = ds.field(when) >= pa.scalar(lo.value, pa.timestamp("ns", tz="UTC"))
    if hi is not None:
        upper = ds.field(when) < pa.scalar(hi.value, pa.timestamp("ns", tz="UTC"))
        condition = upper if condition is None else condition & upper
    names = [str(f.name) for f in schema if f.name != "date"]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise InvalidArgument(f"no column(s) {unknown} in {kind}; columns: {names}")
        # dedupe keys come along, and go after (see _dedupe_trades, _last_bar)
        keep = {when, "venue", "symbol", "local_timestamp", "id", "interval", *columns}
        names = [n for n in names if n in keep]
    table = dataset.to_table(columns=names, filter=condition)
    attrs = _attrs(dataset)
    df = _frame(kind, table.replace_schema_metadata(None), attrs, columns)
    if columns is not None:
        wanted = {"venue", "symbol", "local_timestamp", *columns}
        df = df[[c for c in df.columns if c in wanted]]
    return df


def _attrs(dataset: Any) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for fragment in dataset.get_fragments():
        meta = fragment.physical_schema.metadata or {}
        if ATTRS_KEY in meta:
            value = json.loads(meta[ATTRS_KEY])
            for key in REPLAY_KEYS:  # replay's own metadata, not the frame's attrs
                value.pop(key, None)
            if value not in found:
                found.append(value)
    if len(found) <= 1:
        return found[0] if found else {}
    merged: dict[str, Any] = {}
    for key in {k for a in found for k in a}:
        values = [a.get(key) for a in found]
        if all(isinstance(v, list) for v in values):
            merged[key] = list(dict.fromkeys(x for v in values if isinstance(v, list) for x in v))
        elif key == "interrupted":
            merged[key] = any(bool(v) for v in values)
        elif all(v == values[0] for v in values):
            merged[key] = values[0]
    venues = merged.get("venues")
    if isinstance(venues, list) and venues:
        merged["venue"] = venues[0] if len(venues) == 1 else "+".join(venues)
    return merged


def _empty(kind: str) -> pd.DataFrame:
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


def _utc(array: Any) -> pd.DatetimeIndex:
    ns = np.asarray(array.cast("int64").fill_null(np.iinfo("int64").min), dtype="int64")
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def _strings(array: Any) -> np.ndarray[Any, Any]:
    codes, names = _dict(array)
    out = np.asarray(names + [None], dtype=object)
    return np.asarray(out[codes], dtype=object)


def _cat(array: Any, categories: Sequence[str] | None = None, *, objects: bool = False) -> Any:
    """A string or dictionary column as a pandas Categorical, built from codes.

    Categories: ``categories`` (fixed, e.g. the sides), else the sorted values
    (object-dtype categories where the live frames have them, ``objects``).
    """
    codes, names = _dict(array)
    if categories is None:
        categories = sorted(n for n in names if n is not None)
    position = {c: i for i, c in enumerate(categories)}
    remap = np.array([position.get(n, -1) for n in names] + [-1], dtype="int64")
    index = pd.Index(list(categories), dtype=object if objects else None)
    return pd.Categorical.from_codes(remap[codes], categories=index)


def _dict(array: Any) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """Codes (-1 → index of None, the last) and names of a string or dictionary column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast("string"))
    array = array.unify_dictionaries() if hasattr(array, "unify_dictionaries") else array
    chunks = array.chunks if hasattr(array, "chunks") else [array]
    names = chunks[0].dictionary.cast("string").to_pylist() if chunks else []
    codes = [np.asarray(c.indices.fill_null(len(names)), dtype="int64") for c in chunks]
    return (np.concatenate(codes) if codes else np.empty(0, "int64")), names


def _frame(
    kind: str, table: Any, attrs: dict[str, Any], columns: Sequence[str] | None
) -> pd.DataFrame:
    if kind == "gaps":
        return _gaps(table, attrs)
    if kind == "raw":
        return _raw(table, attrs)
    venue = _cat(table["venue"])
    when = _utc(table["timestamp"])
    local = _utc(table["local_timestamp"]).asi8 if "local_timestamp" in table.column_names else None
    symbol = np.asarray(_cat(table["symbol"]).codes) if "symbol" in table.column_names else None
    # Row order of the live frames: see Capture.frame.
    if kind == "trades":
        keys: list[Any] = [local, when.asi8]
    elif kind == "klines":
        keys = [local, np.asarray(_cat(table["interval"]).codes), symbol, when.asi8]
    elif kind in ("depth", "book"):
        keys = [local, np.asarray(venue.codes)]
    else:
        keys = [local]
    order = np.lexsort([k for k in keys if k is not None]) if len(when) else np.arange(0)
    if len(order) and not bool((order[1:] > order[:-1]).all()):
        table = table.take(pa_indices(order))
    else:
        order = np.arange(len(order))
    out: dict[str, Any] = {"venue": strings(venue[order])}
    schema = t.STREAM_SCHEMAS.get(kind, {})
    required = t._REQUIRED.get(kind, ())  # the live frames' rule for optional columns
    names = [n for n in table.column_names if n not in ("venue", "symbol", "date")]
    if "symbol" in table.column_names:
        names.insert(0, "symbol")
    for name in names:
        if name == "local_timestamp":
            out[name] = pd.DatetimeIndex(np.asarray(local)[order].view("datetime64[ns]"))
            out[name] = out[name].tz_localize("UTC")
            continue
        if name == "timestamp":
            continue
        column = table[name]
        dtype = schema.get(name)
        if name == "side":
            sides = TRADE_SIDES if kind == "trades" else BOOK_SIDES
            if dtype == "str":
                out[name] = strings(_strings(column))
            else:
                side_dtype = TRADE_SIDE_DTYPE if kind == "trades" else BOOK_SIDE_DTYPE
                codes = _cat(column, list(sides)).codes
                out[name] = pd.Categorical.from_codes(codes, dtype=side_dtype)
        elif name in ("symbol", "interval", "pair") and dtype != "str":
            # Open sets are strings in the contract (mdkit.data.frames), as in live frames.
            out[name] = strings(_cat(column))
        elif dtype == "str":
            if column.null_count == len(column) and name not in required and len(column):
                if columns is None or name not in columns:
                    continue
            out[name] = strings(_strings(column))
        elif name == "id" and kind == "trades":
            # Always nullable Int64 (mdkit.data.frames.TRADE_ID_DTYPE), as live frames.
            out[name] = pd.array(column.to_pylist(), dtype=TRADE_ID_DTYPE)
        else:
            values = column.to_numpy(zero_copy_only=False)
            optional = name not in required and kind not in ("trades", "depth", "book")
            if (
                optional
                and values.dtype.kind == "f"
                and len(values)
                and bool(np.isnan(values).all())
                and (columns is None or name not in columns)
                and name in schema
            ):
                continue
            out[name] = values
    index = pd.DatetimeIndex(when.asi8[order].view("datetime64[ns]"), name="timestamp")
    df = new_frame(out, index.tz_localize("UTC"), {})  # ``pair`` too, for older datasets
    if kind == "trades":
        df = _dedupe_trades(df)
    elif kind == "klines":
        df = _last_bar(df)
    df.attrs.update(attrs)
    return df


def pa_indices(order: np.ndarray[Any, Any]) -> Any:
    import pyarrow as pa

    return pa.array(order, type=pa.int64())


def _dedupe_trades(df: pd.DataFrame) -> pd.DataFrame:
    ids = df["id"]
    has = ids.notna().to_numpy()
    if not has.any():
        return df
    # One int64 key per (venue, symbol, id): hashing one column is several times faster.
    id_codes, uniques = pd.factorize(ids.to_numpy(dtype="int64", na_value=-1))
    venue_codes, _ = pd.factorize(df["venue"])
    symbol_codes, symbol_names = pd.factorize(df["symbol"])
    group = np.asarray(venue_codes, dtype="int64") * (len(symbol_names) + 1) + np.asarray(
        symbol_codes, dtype="int64"
    )
    key = group * len(uniques) + id_codes
    dup = pd.Series(key).duplicated(keep="first").to_numpy() & has
    return df[~dup] if dup.any() else df


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
