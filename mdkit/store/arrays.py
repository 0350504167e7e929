"""Arrays for the read path: Arrow columns as numpy arrays, gathers into Arrow's pool,
text columns as pandas strings, and the read's two worker threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from mdkit.data.frames import string_dtype, strings

__all__ = [
    "categorical",
    "codes_and_names",
    "concat",
    "empty",
    "flat",
    "gather",
    "nanoseconds",
    "plain_number",
    "pool",
    "repeated",
    "run_all",
    "take_many",
    "text_column",
    "utc",
    "utc_index",
    "writable",
]


def utc(array: Any) -> pd.DatetimeIndex:
    ns = np.asarray(array.cast("int64").fill_null(np.iinfo("int64").min), dtype="int64")
    return pd.DatetimeIndex(ns.view("datetime64[ns]")).tz_localize("UTC")


def nanoseconds(array: Any) -> np.ndarray[Any, Any]:
    """A timestamp column as int64 nanoseconds (null: NaT's value), one copy at most."""
    import pyarrow as pa

    ints = array.cast(pa.int64())
    if ints.null_count:
        ints = ints.fill_null(np.iinfo("int64").min)
    return flat(ints)


def flat(array: Any) -> np.ndarray[Any, Any]:
    """A null-free numeric Arrow column as one numpy array (no copy for one chunk: then
    read-only)."""
    if hasattr(array, "chunks"):
        if array.num_chunks == 1:
            array = array.chunk(0)
        elif array.num_chunks > 1:
            return concat([c.to_numpy() for c in array.chunks])
    return np.asarray(array.to_numpy())


def empty(n: int, dtype: Any) -> np.ndarray[Any, Any]:
    """A writable, uninitialised array in Arrow's memory pool.

    A read makes several arrays of millions of rows: numpy takes each from fresh pages
    (thousands of page faults per read), Arrow's pool reuses the pages of the last read.
    """
    import pyarrow as pa

    kind = np.dtype(dtype)
    return np.frombuffer(pa.allocate_buffer(max(1, n * kind.itemsize)), dtype=kind, count=n)


def concat(arrays: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    out = empty(sum(len(a) for a in arrays), arrays[0].dtype)
    return np.concatenate(arrays, out=out)


def gather(values: np.ndarray[Any, Any], order: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values[order]`` (a valid order: ``clip`` only skips numpy's buffered check),
    written into Arrow's pool."""
    return np.take(values, order, out=empty(len(order), values.dtype), mode="clip")


def writable(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``values``, copied if read-only (a frame's columns take assignments)."""
    if values.flags.writeable:
        return values
    out = empty(len(values), values.dtype)
    out[...] = values
    return out


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ThreadPoolExecutor:
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


def run_all(tasks: Sequence[Callable[[], Any]], rows: int) -> list[Any]:
    """Results of ``tasks``, in the pool when the columns are large enough to gain."""
    if len(tasks) < 2 or rows < 100_000:
        return [task() for task in tasks]
    return list(pool().map(lambda task: task(), tasks))


def take_many(
    arrays: Sequence[np.ndarray[Any, Any]], order: np.ndarray[Any, Any]
) -> list[np.ndarray[Any, Any]]:
    """Numpy arrays put in ``order`` (numpy's gather; two at a time when large). The
    results are writable: pandas takes them without a copy."""
    return run_all([partial(gather, a, order) for a in arrays], len(order))


def plain_number(array: Any) -> bool:
    import pyarrow as pa

    kind = array.type
    return bool(array.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)))


_UTC = pd.DatetimeTZDtype("ns", "UTC")


def utc_index(ns: np.ndarray[Any, Any]) -> pd.DatetimeIndex:
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


def categorical(
    array: Any, categories: Sequence[str] | None = None, *, objects: bool = False
) -> Any:
    """A string or dictionary column as a pandas Categorical, built from codes.

    Categories: ``categories`` (fixed, e.g. the sides), else the sorted values
    (object-dtype categories where the live frames have them, ``objects``).
    """
    codes, names = codes_and_names(array)
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


def codes_and_names(array: Any) -> tuple[np.ndarray[Any, Any], list[Any]]:
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
    return (concat(codes) if codes else np.empty(0, "int32")), names


def text_column(
    column: Any, gather: Any, coded: tuple[np.ndarray[Any, Any], list[Any]] | None = None
) -> Any:
    """A string or dictionary Arrow column as the live frames' strings, its rows put in
    order by ``gather`` on the codes (strings are made once, for the rows in order);
    ``coded``: the column's ``codes_and_names`` if already made (``column`` may then be None)."""
    import pyarrow as pa

    codes, names = codes_and_names(column) if coded is None else coded
    dtype = string_dtype()
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        if len(names) == 1 and names[0] is not None and not has_null(column, codes, names):
            # one value (one venue, one symbol): the same block of it over and over, no
            # gather (Arrow arrays are immutable: the chunks share one buffer)
            return pd.array(repeated(str(names[0]), len(codes)), dtype=dtype)
        picked = gather(codes)
        values = same_width_strings(names, picked, has_null(column, codes, names))
        if values is None:
            values = pa.array([*names, None], type=pa.large_string()).take(pa.array(picked))
        return pd.array(values, dtype=dtype)
    return strings(np.asarray([*names, None], dtype=object)[gather(codes)])


def same_width_strings(names: list[Any], picked: np.ndarray[Any, Any], nulls: bool) -> Any:
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
    data = np.take(table, picked, out=empty(n, kind), mode="clip")
    offsets = empty(n + 1, np.int64)
    np.multiply(np.arange(n + 1, dtype=np.int64), width, out=offsets)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def has_null(column: Any, codes: np.ndarray[Any, Any], names: list[Any]) -> bool:
    if column is not None:
        return bool(column.null_count)
    return bool((codes == len(names)).any())


def string_dtype_is_arrow() -> bool:
    dtype = string_dtype()
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


_BLOCK = 1 << 16


def repeated(text: str, n: int) -> Any:
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
