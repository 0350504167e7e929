"""Dataset rows back to the live frames: dtypes, row order, de-duplication.

Arrow tables read from a dataset become the frames a live capture gives
(``Capture.frame``): the same columns, dtypes, index and row order.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
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


def _utc(array: Any) -> pd.DatetimeIndex:
    ns = np.asarray(array.cast("int64").fill_null(np.iinfo("int64").min), dtype="int64")
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def _ns(array: Any) -> np.ndarray[Any, Any]:
    """A timestamp column as int64 nanoseconds (null: NaT's value), one copy at most."""
    import pyarrow as pa

    ints = array.cast(pa.int64())
    if ints.null_count:
        ints = ints.fill_null(np.iinfo("int64").min)
    return _numpy(ints)


def _numpy(array: Any) -> np.ndarray[Any, Any]:
    """A null-free numeric Arrow column as one numpy array (no copy for one chunk: then
    read-only)."""
    if hasattr(array, "chunks"):
        if array.num_chunks == 1:
            array = array.chunk(0)
        elif array.num_chunks > 1:
            return _concat([c.to_numpy() for c in array.chunks])
    return np.asarray(array.to_numpy())


def _empty(n: int, dtype: Any) -> np.ndarray[Any, Any]:
    """A writable, uninitialised array in Arrow's memory pool.

    A read makes several arrays of millions of rows: numpy takes each from fresh pages
    (thousands of page faults per read), Arrow's pool reuses the pages of the last read.
    """
    import pyarrow as pa

    kind = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(max(1, n * kind.itemsize)), dtype=kind, count=n)


def _concat(arrays: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    out = _empty(sum(len(a) for a in arrays), arrays[0].dtype)
    return np.concatenate(arrays, out=out)


def _gather(values: np.ndarray[Any, Any], order: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values[order]`` (a valid order: ``clip`` only skips numpy's buffered check),
    written into Arrow's pool."""
    return np.take(values, order, out=_empty(len(order), values.dtype), mode="clip")


def _writable(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values``, copied if read-only (a frame's columns take assignments)."""
    if values.flags.writeable:
        return values
    out = _empty(len(values), values.dtype)
    out[...] = values
    return out


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Two worker threads kept for the reads' column work (numpy's gathers and Arrow's
    kernels release the GIL); made once, not per read (again in a forked child, which
    has none of its parent's threads). A task never waits on another."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mdkit-read")
        return _POOL


def _forget_pool() -> None:
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _run_all(tasks: Sequence[Callable[[], Any]], rows: int) -> list[Any]:
    """Results of ``tasks``, in the pool when the columns are large enough to gain."""
    if len(tasks) < 2 or rows < 100_000:
        return [task() for task in tasks]
    return list(_pool().map(lambda task: task(), tasks))


def _take_many(
    arrays: Sequence[np.ndarray[Any, Any]], order: np.ndarray[Any, Any]
) -> list[np.ndarray[Any, Any]]:
    """Numpy arrays put in ``order`` (numpy's gather; two at a time when large). The
    results are writable: pandas takes them without a copy."""
    return _run_all([partial(_gather, a, order) for a in arrays], len(order))


def _plain_number(array: Any) -> bool:
    import pyarrow as pa

    kind = array.type
    return bool(array.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)))


_UTC = pd.DatetimeTZDtype("ns", "UTC")


def _utc_index(ns: np.ndarray[Any, Any]) -> pd.DatetimeIndex:
    """Nanoseconds (NaT's value for missing) as a UTC DatetimeIndex, without a copy.

    pandas' public constructors localize naive values, which copies them even for UTC;
    ``DatetimeArray._simple_new`` wraps them as they are (the public path otherwise).
    """
    values = ns.view("M8[ns]")
    simple_new = getattr(pd.arrays.DatetimeArray, "_simple_new", None)
    if simple_new is not None and values.flags.writeable:
        try:
            return pd.DatetimeIndex(simple_new(values, dtype=_UTC), copy=False)
        except (TypeError, ValueError):  # pragma: no cover - another pandas
            pass
    return pd.DatetimeIndex(values, dtype=_UTC, copy=False)


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
    small = "int8" if len(categories) < 127 else "int64"  # pandas' own code width
    remap = np.array([position.get(n, -1) for n in names] + [-1], dtype=small)
    index = pd.Index(list(categories), dtype=object if objects else None)
    if list(names) == list(categories[: len(names)]) and not (codes == len(names)).any():
        mapped = codes.astype(small)  # the codes are the categories' own: no lookup
    else:
        mapped = np.take(remap, codes)
    # the codes are valid by construction (-1 or a position): no validation pass
    return pd.Categorical.from_codes(mapped, categories=index, validate=False)


def _dict(array: Any) -> tuple[np.ndarray[Any, Any], list[Any]]:
    """Codes (-1 → index of None, the last) and names of a string or dictionary column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array.cast("string"))
    array = array.unify_dictionaries() if hasattr(array, "unify_dictionaries") else array
    chunks = array.chunks if hasattr(array, "chunks") else [array]
    names = chunks[0].dictionary.cast("string").to_pylist() if chunks else []
    codes = []
    for chunk in chunks:
        indices = chunk.indices
        if indices.null_count:
            indices = indices.fill_null(len(names))
        codes.append(indices.to_numpy())
    if len(codes) == 1:
        return codes[0], names
    return (_concat(codes) if codes else np.empty(0, "int32")), names


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


def _order(
    keys: list[np.ndarray[Any, Any]],
    prepare: Callable[[], None] | None = None,
    cuts: Sequence[int] = (),
) -> tuple[np.ndarray[Any, Any] | None, list[np.ndarray[Any, Any]]]:
    """The row order ``np.lexsort(keys)`` gives (last key first), None if already in it;
    and the keys in that order (gathered once, reused by the caller).

    Parts are written (and compacted) in that order, so a read is a few sorted runs:
    a stable sort on the first key merges them, and the other keys are checked only
    where the first ties; a full lexsort only when that check fails. ``prepare`` runs
    while the sort does (in the pool); ``cuts``: row positions where the parts' days
    change, where the sort may be split in two.
    """
    if not keys or len(keys[0]) < 2 or _in_order(keys):
        if prepare is not None:
            prepare()
        return None, keys
    if prepare is None or len(keys[-1]) < 100_000:
        order = np.argsort(keys[-1], kind="stable")
        if prepare is not None:
            prepare()
    else:  # numpy's sort releases the GIL: ``prepare`` runs meanwhile
        order = _argsort_around(keys[-1], prepare, cuts)
    ordered = _take_many(keys, order)
    if len(keys) == 1 or _ties_in_order(ordered):
        return order, ordered
    order = np.lexsort(keys)
    return order, [k[order] for k in keys]


_DAY_NS = 86_400_000_000_000


def _argsort_around(
    key: np.ndarray[Any, Any], prepare: Callable[[], None], cuts: Sequence[int]
) -> np.ndarray[Any, Any]:
    """``np.argsort(key, kind="stable")`` in the pool while ``prepare`` runs here; in two
    halves at once when a cut near the middle parts the days (every row before it sorts
    before every row after it: checked, else one sort of the whole)."""
    n = len(key)
    split = 0
    for cut in cuts:
        if n // 8 < cut < n - n // 8 and key[cut - 1] // _DAY_NS < key[cut] // _DAY_NS:
            if not split or abs(cut - n // 2) < abs(split - n // 2):
                split = cut
    if not split:
        job = _pool().submit(np.argsort, key, kind="stable")
        prepare()
        return np.asarray(job.result())
    first = _pool().submit(np.argsort, key[:split], kind="stable")
    second = _pool().submit(np.argsort, key[split:], kind="stable")
    prepare()
    head, tail = first.result(), second.result()
    if key[head[-1]] <= key[split + tail[0]]:  # stable: ties keep the parts' order
        tail += split
        return np.concatenate((head, tail))
    return np.argsort(key, kind="stable")  # a late row: the days do not part


def _in_order(keys: list[np.ndarray[Any, Any]]) -> bool:
    tie: Any = None
    for key in reversed(keys):
        after, before = key[1:], key[:-1]
        back = after < before
        if (back if tie is None else back & tie).any():
            return False
        same = after == before
        tie = same if tie is None else tie & same
        if not tie.any():
            return True
    return True


def _ties_in_order(keys: list[np.ndarray[Any, Any]]) -> bool:
    """``_in_order`` for keys whose last is sorted: only its ties are compared."""
    last = keys[-1]
    at = np.flatnonzero(last[1:] == last[:-1])
    for key in reversed(keys[:-1]):
        if not len(at):
            return True
        after, before = key[at + 1], key[at]
        if bool((after < before).any()):
            return False
        at = at[after == before]
    return True


def _text(
    column: Any, gather: Any, coded: tuple[np.ndarray[Any, Any], list[Any]] | None = None
) -> Any:
    """A string or dictionary Arrow column as the live frames' strings, its rows put in
    order by ``gather`` on the codes (strings are made once, for the rows in order);
    ``coded``: the column's ``_dict`` if already made (``column`` may then be None)."""
    import pyarrow as pa

    codes, names = _dict(column) if coded is None else coded
    dtype = string_dtype()
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        if len(names) == 1 and names[0] is not None and not _has_null(column, codes, names):
            # one value (one venue, one symbol): the same block of it over and over, no
            # gather (Arrow arrays are immutable: the chunks share one buffer)
            return pd.array(_repeated(str(names[0]), len(codes)), dtype=dtype)
        picked = gather(codes)
        values = _same_width(names, picked, _has_null(column, codes, names))
        if values is None:
            values = pa.array([*names, None], type=pa.large_string()).take(pa.array(picked))
        return pd.array(values, dtype=dtype)
    return strings(np.asarray([*names, None], dtype=object)[gather(codes)])


def _same_width(names: list[Any], picked: np.ndarray[Any, Any], nulls: bool) -> Any:
    """Strings of one byte length (symbols, pairs) built by numpy: a gather of fixed-size
    items and evenly spaced offsets, twice as fast as Arrow's take. None otherwise."""
    import pyarrow as pa

    raw = [n.encode() for n in names if n is not None]
    if nulls or not raw or len(raw) != len(names) or len({len(r) for r in raw}) != 1:
        return None
    width, n = len(raw[0]), len(picked)
    if not width:
        return None
    kind = np.dtype(f"u{width}") if width in (1, 2, 4, 8) else np.dtype(f"S{width}")
    table = np.frombuffer(b"".join(raw), dtype=kind)
    data = np.take(table, picked, out=_empty(n, kind), mode="clip")
    offsets = _empty(n + 1, np.int64)
    np.multiply(np.arange(n + 1, dtype=np.int64), width, out=offsets)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def _has_null(column: Any, codes: np.ndarray[Any, Any], names: list[Any]) -> bool:
    if column is not None:
        return bool(column.null_count)
    return bool((codes == len(names)).any())


def string_dtype_is_arrow() -> bool:
    dtype = string_dtype()
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


_BLOCK = 1 << 16


def _repeated(text: str, n: int) -> Any:
    """A chunked large-string Arrow array of ``n`` times ``text``."""
    import pyarrow as pa

    raw = text.encode()
    size = min(n, _BLOCK)
    offsets = np.arange(size + 1, dtype="int64") * len(raw)
    block = pa.LargeStringArray.from_buffers(size, pa.py_buffer(offsets), pa.py_buffer(raw * size))
    chunks = [block] * (n // size if size else 0)
    if size and n % size:
        chunks.append(block.slice(0, n % size))
    return pa.chunked_array(chunks, type=pa.large_string())


def _arrow_strings(column: Any) -> Any:
    """A string or dictionary Arrow column as the live frames' string array (fast path:
    Arrow-backed strings straight from Arrow)."""
    import pyarrow as pa

    dtype = string_dtype()
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pd.array(column.cast(pa.large_string()), dtype=dtype)
    return strings(_strings(column))


def _unique_runs(group: np.ndarray[Any, Any], ids: np.ndarray[Any, Any]) -> bool:
    """Whether no (group, id) pair repeats, shown without hashing when it can be.

    The rows are cut into runs of one group with strictly increasing ids (a group's
    trades in time order usually are one run); no pair repeats when the runs of each
    group cover disjoint id ranges. False (hash instead) when that does not show
    it: overlapping runs (there may be duplicates) or too many runs to be worth it.
    """
    n = len(ids)
    if n < 2:
        return True
    cut = np.flatnonzero((group[1:] != group[:-1]) | (ids[1:] <= ids[:-1])) + 1
    if len(cut) > max(64, n // 256):
        return False
    first = np.concatenate(([0], cut))
    last = np.concatenate((cut, [n])) - 1
    by = np.lexsort((ids[first], group[first]))
    g, lo, hi = group[first][by], ids[first][by], ids[last][by]
    # sorted by (group, first id): disjoint when each run starts past the previous end
    return not bool(((g[1:] == g[:-1]) & (lo[1:] <= hi[:-1])).any())


def _dedupe_trades(df: pd.DataFrame, group: np.ndarray[Any, Any]) -> pd.DataFrame:
    """Keep the first of the trades with the same venue and symbol (``group`` codes) and id."""
    ids = df["id"].array
    has = ~np.asarray(ids.isna(), dtype=bool)
    if not has.any():
        return df
    # One int64 key per (group, id): hashing one column is several times faster.
    values = np.asarray(ids.to_numpy(dtype="int64", na_value=0))
    groups = int(group.max(initial=0)) + 1
    if groups == 1:
        key = values
    elif int(np.abs(values).max(initial=0)) < (2**62) // groups:
        key = values * groups + group  # fits: no factorize pass
    else:
        id_codes, uniques = pd.factorize(values)
        key = group.astype("int64") * max(1, len(uniques)) + id_codes
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
