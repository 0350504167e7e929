"""The dataset layout: partitions, part names, Arrow schemas and atomic part writes.

A dataset is a directory (or object-store prefix) of Hive-partitioned Parquet parts::

    <root>/kind=trades/venue=cryptocom/symbol=btcusdt/date=2026-12-01/<part>.parquet
    <root>/kind=gaps/venue=cryptocom/date=2026-12-01/<part>.parquet

Market kinds (``trades ticker klines depth quotes book``) are partitioned by venue,
symbol and UTC day; the others (private kinds, ``raw``, ``gaps``) by venue and day.
``venue`` and ``symbol`` live in the path only (as every Hive writer does), so
DuckDB, Polars, Spark and pyarrow.dataset read them as partition columns.

Parts are only ever added: each is written under a hidden temporary name in its
partition directory (``.`` prefix: every reader skips it), flushed to disk, then
linked to a unique final name (host, pid, a random id), which fails rather than
replace an existing file. A failed write removes its temporary file; one a killed
writer left is removed by the next compaction. On an object store a part is one PUT.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from mdkit.data.tables import MARKET_KINDS, STREAM_KINDS
from mdkit.errors import InvalidArgument

__all__ = [
    "ATTRS_KEY",
    "KINDS",
    "MERGED_SUFFIX",
    "ROW_GROUP_ROWS",
    "SYMBOL_KINDS",
    "arrow_schema",
    "check_path",
    "encode_value",
    "frame_to_table",
    "part_name",
    "partition_path",
    "time_column",
    "write_part",
]

#: Every kind a dataset holds.
KINDS = (*STREAM_KINDS, "book", "raw", "gaps")
#: Kinds partitioned by symbol as well.
SYMBOL_KINDS = (*MARKET_KINDS, "book")
#: File metadata key holding the frame's attrs (JSON).
ATTRS_KEY = b"mdkit.attrs"
#: Rows per row group: large enough for scans (a few MB compressed), small enough
#: for row-group pruning on time within a day's part.
ROW_GROUP_ROWS = 1 << 20
#: LZ4 (Parquet LZ4_RAW): the fastest codec to write and to read (zstd: ~30 % smaller
#: parts, writes ~1.4x and scans ~1.5-2.5x slower on the bench; see bench/RESULTS.md).
#: Integer and time columns are delta-encoded instead, uncompressed (see _write_table).
COMPRESSION = "lz4"
_HOST = socket.gethostname().split(".")[0] or "host"
#: This host as part names carry it.
SAFE_HOST = "".join(c if c.isalnum() or c in "-_" else "_" for c in _HOST)


def time_column(kind: str) -> str:
    """The time column a kind is partitioned and filtered by."""
    return {"raw": "local_timestamp", "gaps": "start"}.get(kind, "timestamp")


def encode_value(value: str) -> str:
    """A partition value as a path segment (URI-escaped past ``[A-Za-z0-9._-]``)."""
    return quote(value, safe="") if value else "_"


def partition_path(root: str, kind: str, venue: str, symbol: str | None, date: str) -> str:
    """Directory of one partition."""
    parts = [root, f"kind={kind}", f"venue={encode_value(venue)}"]
    if symbol is not None:
        parts.append(f"symbol={encode_value(symbol)}")
    parts.append(f"date={date}")
    return "/".join([parts[0].rstrip("/"), *parts[1:]])  # local and object-store paths


#: Suffix of a merged part's name: its metadata lists the parts it replaced.
MERGED_SUFFIX = ".m.parquet"


def part_name(*, merged: bool = False) -> str:
    """A new part's file name: UTC time (to the microsecond: a partition's parts sort in
    write order), host, pid and a random id (never reused); a merged part's ends in
    :data:`MERGED_SUFFIX`."""
    now = time.time_ns()
    seconds = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now // 10**9))
    stamp = f"{seconds}.{now // 1000 % 10**6:06d}"
    safe_host = SAFE_HOST
    suffix = MERGED_SUFFIX if merged else ".parquet"
    return f"{stamp}-{safe_host}-{os.getpid()}-{uuid.uuid4().hex[:12]}{suffix}"


def _arrow_type(dtype: Any) -> Any:
    import pyarrow as pa

    if isinstance(dtype, pd.CategoricalDtype) or dtype == "category":
        return pa.dictionary(pa.int32(), pa.string())
    if isinstance(dtype, pd.DatetimeTZDtype):
        return pa.timestamp("ns", tz="UTC")
    if isinstance(dtype, pd.StringDtype) or dtype == "str":
        return pa.string()
    text = str(dtype)
    if text.startswith("timedelta"):
        return pa.duration("ns")
    return {
        "float64": pa.float64(),
        "int64": pa.int64(),
        "Int64": pa.int64(),
        "int32": pa.int32(),
        "bool": pa.bool_(),
    }.get(text, pa.string())


def arrow_schema(kind: str, df: pd.DataFrame | None = None) -> Any:
    """The Arrow schema of a kind's parts (the data contract, partition columns left out).

    ``book`` parts take their columns from the frame (the level count varies).
    """
    import pyarrow as pa

    if kind == "book":
        assert df is not None
        fields = [pa.field("timestamp", pa.timestamp("ns", tz="UTC"))]
        fields += [
            pa.field(str(c), _arrow_type(df[c].dtype)) for c in df.columns if c not in _PARTS
        ]
        return pa.schema(fields)
    return _kind_schema(kind)


@functools.cache
def _kind_schema(kind: str) -> Any:
    """Every kind's schema but book's (made once: an empty live frame takes ~1 ms)."""
    import pyarrow as pa

    from mdkit.data import tables as t

    if kind == "raw":
        return pa.schema(
            [
                ("local_timestamp", pa.timestamp("ns", tz="UTC")),
                ("connection", pa.int32()),
                ("text", pa.bool_()),
                ("error", pa.bool_()),
                ("size", pa.int32()),
                ("payload", pa.binary()),
            ]
        )
    if kind == "gaps":
        return pa.schema(
            [
                ("start", pa.timestamp("ns", tz="UTC")),
                ("end", pa.timestamp("ns", tz="UTC")),
                ("duration", pa.duration("ns")),
                ("connection", pa.int64()),
                ("channels", pa.string()),
                ("reason", pa.string()),
            ]
        )
    empty = t.stream_frame(kind, t.empty_columns(kind), attrs={})
    fields = [pa.field("timestamp", pa.timestamp("ns", tz="UTC"))]
    for name in empty.columns:
        if kind in SYMBOL_KINDS and name == "symbol":
            continue
        dtype = empty[name].dtype
        fields.append(pa.field(str(name), _arrow_type(dtype)))
    return pa.schema(fields)


_PARTS = ("venue", "symbol")


def frame_to_table(kind: str, df: pd.DataFrame, attrs: Mapping[str, Any]) -> Any:
    """One kind's frame (without its partition columns) as an Arrow table of the kind's
    schema; columns the frame left out (optional, all-missing) are written as nulls."""
    import pyarrow as pa

    schema = arrow_schema(kind, df)
    columns = []
    for field in schema:
        name = field.name
        if name == time_column(kind) and kind != "gaps":
            values: Any = df.index
        elif name in df.columns:
            values = df[name]
        else:
            columns.append(pa.nulls(len(df), type=field.type))
            continue
        if kind == "raw" and name == "payload":
            array = pa.array(list(values), type=pa.binary())
        elif pa.types.is_dictionary(field.type):
            cat = values.array if isinstance(values.dtype, pd.CategoricalDtype) else None
            if cat is None:
                cat = pd.Categorical(np.asarray(values.astype(object), dtype=object))
            codes = np.asarray(cat.codes, dtype="int32")
            array = pa.DictionaryArray.from_arrays(
                pa.array(codes, mask=codes < 0),
                pa.array([str(c) for c in cat.categories], type=pa.string()),
            )
        elif pa.types.is_timestamp(field.type):
            ns = pd.DatetimeIndex(values).as_unit("ns").tz_convert("UTC")
            array = pa.array(ns.asi8, type=pa.int64(), mask=np.asarray(ns.isna()))
            array = array.cast(field.type)
        elif pa.types.is_duration(field.type):
            td = pd.TimedeltaIndex(values).as_unit("ns")
            array = pa.array(td.asi8, type=pa.int64(), mask=np.asarray(td.isna())).cast(field.type)
        else:
            array = pa.array(values, type=field.type, from_pandas=True)
        columns.append(array)
    meta = {ATTRS_KEY: json.dumps(_plain_attrs(attrs), default=str).encode()}
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(meta))


def _plain_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        elif isinstance(value, list | tuple) and all(
            isinstance(v, str | int | float) for v in value
        ):
            out[key] = list(value)
    return out


def write_part(root: Any, directory: str, table: Any, *, merged: bool = False) -> str:
    """Write one part into ``directory`` atomically under a new unique name; return its path.

    ``root`` is the dataset's :class:`~mdkit.store.fs.Root` (a plain path: local).
    Locally the part is written under a hidden temporary name, flushed to disk and
    hard-linked to its final name (a link never replaces a file); on an object store
    one PUT makes it appear whole. ``merged`` names a merged part (``.m.parquet``).

    Raises
    ------
    OSError
        If the write fails (no temporary or partial file is left behind).
    """
    import pyarrow.parquet as pq

    from mdkit.store.fs import Root, fault

    if not isinstance(root, Root):
        root = Root(os.fspath(root))
    name = part_name(merged=merged)
    if not root.local:
        final = root.join(directory, name)
        with root.fs.open(final, "wb") as sink:
            _write_table(pq, table, sink)
            fault("part.written")
        fault("part.published")
        return str(final)
    os.makedirs(directory, exist_ok=True)
    final = os.path.join(directory, name)
    temp = os.path.join(directory, f".{name}.tmp")
    try:
        with open(temp, "wb") as sink:
            _write_table(pq, table, sink)
            sink.flush()
            os.fsync(sink.fileno())
        fault("part.written")
        _publish(temp, final)
        fault("part.published")
    except BaseException:
        _remove(temp)
        raise
    _remove(temp)
    return final


def _write_table(pq: Any, table: Any, sink: Any) -> None:
    import pyarrow as pa

    # Dictionary pages only for text: for times, ids and prices they are built, found too
    # big and dropped (a third of the write, and larger files).
    text = [
        f.name
        for f in table.schema
        if pa.types.is_dictionary(f.type)
        or pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
    ]
    # Times and ids: deltas, bit-packed (Parquet's DELTA_BINARY_PACKED), no codec on top.
    # On 2M trades: parts 41 % smaller than LZ4 alone and scanned ~1.5x faster (LZ4 is
    # then most of a scan); as fast to write. Numbers and the rest: LZ4.
    delta = [
        f.name
        for f in table.schema
        if pa.types.is_timestamp(f.type)
        or (pa.types.is_integer(f.type) and f.type.bit_width in (32, 64))
    ]
    pq.write_table(
        table,
        sink,
        compression={f.name: "none" if f.name in delta else COMPRESSION for f in table.schema},
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
        use_dictionary=text,
        column_encoding=dict.fromkeys(delta, "DELTA_BINARY_PACKED"),
    )


def _publish(temp: str, final: str) -> None:
    # link() refuses an existing name (rename would replace it): never overwrite.
    # Filesystems without hard links fall back to rename (the name is unique anyway).
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        if os.path.exists(final):
            raise FileExistsError(final) from None
        os.rename(temp, final)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def check_path(value: Any, name: str) -> str:
    """A non-empty path string (str or os.PathLike), else InvalidArgument."""
    if not isinstance(value, str | os.PathLike):
        raise InvalidArgument(f"{name} must be a path (str or pathlib.Path), not {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise InvalidArgument(f"{name} must be a non-empty path, not {value!r}")
    return path
