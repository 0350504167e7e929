"""Reading a dataset back: partition pruning, predicate pushdown, the live frames' dtypes."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

import pandas as pd

from mdkit.errors import DatasetError, InvalidArgument
from mdkit.store.decode import empty_frame, table_frame
from mdkit.store.fs import Root, open_root
from mdkit.store.layout import ATTRS_KEY, KINDS, SYMBOL_KINDS, arrow_schema, time_column

__all__ = ["read_parquet", "find_parts", "check_part", "parts_metadata"]

_NS_PER_DAY = 86_400_000_000_000
REPLAY_KEYS = ("subscriptions", "connections", "ended_ns")


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(v, str) for v in items):
        raise InvalidArgument(f"{what} must be a string or a list of strings, not {value!r}")
    return [v.lower() for v in items]


def _dirs(root: Root, path: str, key: str) -> list[tuple[str, str]]:
    """(value, path) of the ``key=value`` subdirectories of ``path``."""
    prefix = f"{key}="
    return sorted(
        (unquote(name[len(prefix) :]), root.join(path, name))
        for name, is_dir, _ in root.entries(path)
        if is_dir and name.startswith(prefix)
    )


def find_parts(
    root: str | os.PathLike[str] | Root,
    kind: str,
    *,
    venue: Any = None,
    symbols: Any = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> list[str]:
    """The part files a read of these partitions opens (pruned by path, nothing opened
    but merged parts' footers: a part a present merged part replaced is left out).

    Returns
    -------
    list of str
        Paths (the filesystem's own, see :class:`~mdkit.store.fs.Root`), in partition
        then name (write-time) order.
    """
    from mdkit.store.compact import live_parts

    if not isinstance(root, Root):
        root = open_root(root)
    venues = _names(venue, "venue")
    wanted = _names(symbols, "symbols")
    first = None if start is None else start.strftime("%Y-%m-%d")
    last = None if end is None else (end - pd.Timedelta(1, "ns")).strftime("%Y-%m-%d")
    files = []
    for v, vpath in _dirs(root, root.join(root.path, f"kind={kind}"), "venue"):
        if venues is not None and v.lower() not in venues:
            continue
        leaves = [vpath]
        if kind in SYMBOL_KINDS:
            leaves = [
                p for s, p in _dirs(root, vpath, "symbol") if wanted is None or s.lower() in wanted
            ]
        for leaf in leaves:
            for date, dpath in _dirs(root, leaf, "date"):
                if (first is not None and date < first) or (last is not None and date > last):
                    continue
                files += live_parts(root, root.parts(dpath))[0]
    return files


def parts_metadata(directory: str | Root, files: Sequence[str]) -> list[dict[bytes, bytes]]:
    """The schema metadata of parts ``find_parts`` listed (local or object store)."""
    import pyarrow.parquet as pq

    root = directory if isinstance(directory, Root) else open_root(directory)
    return [dict(pq.read_schema(root.open_input(f)).metadata or {}) for f in files]


def check_part(root: Root, path: str, kind: str | None) -> tuple[dict[bytes, bytes], str | None]:
    """A part's schema metadata, and what is wrong with it (None: a good part).

    A part is damaged when its footer does not read (empty, truncated, not Parquet),
    and foreign when it lacks mdkit's metadata or the kind's time column.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(root.open_input(path))
    except FileNotFoundError:
        raise
    except Exception as exc:  # ArrowInvalid, OSError: whatever the bytes are
        return {}, f"not a readable Parquet file ({type(exc).__name__}: {exc})"
    meta = dict(schema.metadata or {})
    if ATTRS_KEY not in meta:
        return meta, "not an mdkit part (no mdkit.attrs metadata)"
    if kind is not None:
        when = time_column(kind)
        index = schema.get_field_index(when)
        if index < 0 or not pa.types.is_timestamp(schema.field(index).type):
            return meta, f"not a {kind} part (no {when} timestamp column)"
    return meta, None


def _checked(
    root: Root, files: list[str], kind: str, on_damaged: str
) -> tuple[list[str], list[dict[bytes, bytes]]]:
    """The good parts and their metadata; damaged ones warned about (or raised)."""

    def one(path: str) -> tuple[str, dict[bytes, bytes], str | None]:
        try:
            return (path, *check_part(root, path, kind))
        except FileNotFoundError:
            return path, {}, "gone"

    if len(files) > 8 and not root.local:  # an object store's latency: footers at once
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(one, files))
    else:  # a local footer reads in ~0.1 ms: fewer than starting threads costs
        results = [one(f) for f in files]
    good, metas = [], []
    for path, meta, problem in results:
        if problem == "gone":
            raise FileNotFoundError(path)
        if problem is None:
            good.append(path)
            metas.append(meta)
            continue
        message = f"damaged part {root.display(path)}: {problem}"
        if on_damaged == "raise":
            raise DatasetError(message)
        from mdkit.store.compact import DamagedPartWarning

        warnings.warn(f"skipped {message}", DamagedPartWarning, stacklevel=4)
    return good, metas


def read_parquet(
    directory: str | os.PathLike[str],
    kind: str,
    venue: str | Sequence[str] | None = None,
    symbols: str | Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    columns: Sequence[str] | None = None,
    *,
    on_damaged: str = "warn",
) -> pd.DataFrame:
    """Read one kind from a dataset written by ``Capture.to_parquet`` or ``mdkit.record``.

    Only the partitions that match ``venue``, ``symbols`` and the days of
    ``[start, end)`` are opened; the time range is pushed down to the row groups.

    Parameters
    ----------
    directory : str or path
        The dataset root (the folder holding ``kind=...`` directories): a local path
        (``~`` expands) or an object-store URL such as ``s3://bucket/prefix``.
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
    on_damaged : {"warn", "raise"}
        A part that is empty, truncated, not Parquet or not mdkit's is skipped with a
        :class:`~mdkit.store.compact.DamagedPartWarning` naming it (``"warn"``), or
        raises :class:`~mdkit.errors.DatasetError` naming it (``"raise"``).

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
        For an unknown kind, a missing directory, ``start`` after ``end`` or a bad
        argument.
    DatasetError
        For a damaged part, with ``on_damaged="raise"``.
    """
    from mdkit.data.timeparse import parse_time

    if kind not in KINDS:
        raise InvalidArgument(f"no dataset kind {kind!r}; kinds: {', '.join(KINDS)}")
    if on_damaged not in ("warn", "raise"):
        raise InvalidArgument(f'on_damaged must be "warn" or "raise", not {on_damaged!r}')
    root = open_root(directory)
    lo = None if start is None else parse_time(start)
    hi = None if end is None else parse_time(end)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgument(f"start {lo} is after end {hi}")
    for attempt in range(5):
        try:
            return _read(root, kind, venue, symbols, lo, hi, columns, on_damaged)
        except FileNotFoundError:
            if attempt == 4:
                raise
            # a merge replaced a part between the listing and the read: list again
    raise AssertionError("unreachable")  # pragma: no cover


def _read(
    root: Root,
    kind: str,
    venue: Any,
    symbols: Any,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    columns: Sequence[str] | None,
    on_damaged: str,
) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.dataset as ds

    files = find_parts(root, kind, venue=venue, symbols=symbols, start=lo, end=hi)
    files, metas = _checked(root, files, kind, on_damaged)
    # Day by day (then partition, then name): the rows come as each day's sorted runs
    # and the days in order, so putting them in time order merges within days only.
    by_day = sorted(range(len(files)), key=lambda i: (_day_of(files[i]), i))
    files, metas = [files[i] for i in by_day], [metas[i] for i in by_day]
    if not files:
        return empty_frame(kind)
    # Dictionary-typed partition columns: one code per row, not one string per row.
    text = pa.dictionary(pa.int32(), pa.string())
    part_fields = [pa.field("venue", text)]
    if kind in SYMBOL_KINDS:
        part_fields.append(pa.field("symbol", text))
    part_fields.append(pa.field("date", text))
    values: dict[str, set[str]] = {f.name: set() for f in part_fields}
    for path in files:
        for segment in path.split("/"):
            key, eq, value = segment.partition("=")
            if eq and key in values:
                values[key].add(unquote(value))
    partitioning = ds.partitioning(
        pa.schema(part_fields),
        flavor="hive",
        dictionaries={k: pa.array(sorted(v), pa.string()) for k, v in values.items()},
    )
    filesystem = root.arrow_filesystem()
    if kind == "book":  # level count varies by part
        schema = pa.unify_schemas(
            [ds.dataset(f, filesystem=filesystem, format="parquet").schema for f in files]
        )
    else:
        schema = arrow_schema(kind)
    schema = pa.unify_schemas([schema, pa.schema(part_fields)])
    dataset = ds.dataset(
        files,
        schema=schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=root.join(root.path, f"kind={kind}"),
        filesystem=filesystem,
    )
    when = time_column(kind)
    condition = None
    if lo is not None:
        condition = ds.field(when) >= pa.scalar(lo.value, pa.timestamp("ns", tz="UTC"))
    if hi is not None:
        upper = ds.field(when) < pa.scalar(hi.value, pa.timestamp("ns", tz="UTC"))
        condition = upper if condition is None else condition & upper
    # ``pair`` is made from the symbol (as live frames make it): not read
    skip = {"date", "pair"} if kind in SYMBOL_KINDS else {"date"}
    names = [str(f.name) for f in schema if f.name not in skip]
    if columns is not None:
        known = [*names, "pair"] if "pair" in skip else names
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise InvalidArgument(f"no column(s) {unknown} in {kind}; columns: {known}")
        # dedupe keys come along, and go after (see _dedupe_trades, _last_bar)
        keep = {when, "venue", "symbol", "local_timestamp", "id", "interval", *columns}
        names = [n for n in names if n in keep]
    try:
        table = dataset.to_table(columns=names, filter=condition)
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        return _read_each(root, files, metas, kind, names, condition, on_damaged, columns)
    attrs = _attrs(metas)
    df = table_frame(
        kind, table.replace_schema_metadata(None), attrs, columns, _deduped(files, metas)
    )
    if columns is not None:
        wanted = {"venue", "symbol", "local_timestamp", *columns}
        df = df[[c for c in df.columns if c in wanted]]
    return df


def _day_of(path: str) -> str:
    """The ``date=`` value of a part's path."""
    head, found, tail = path.rpartition("/date=")
    return tail.split("/", 1)[0] if found else ""


def _deduped(files: Sequence[str], metas: Sequence[dict[bytes, bytes]]) -> bool:
    """Whether every partition read is one compacted part of unique trades."""
    from mdkit.store.compact import DEDUPED_KEY

    folders = [f.rsplit("/", 1)[0] for f in files]
    return len(set(folders)) == len(folders) and all(m.get(DEDUPED_KEY) == b"1" for m in metas)


def _read_each(
    root: Root,
    files: list[str],
    metas: list[dict[bytes, bytes]],
    kind: str,
    names: list[str],
    condition: Any,
    on_damaged: str,
    columns: Sequence[str] | None,
) -> pd.DataFrame:
    """The slow path after a scan failed: read part by part, skip the damaged ones."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    tables, kept = [], []
    base = root.join(root.path, f"kind={kind}")
    for path, meta in zip(files, metas, strict=True):
        try:
            one = ds.dataset(
                [path],
                schema=None,
                format="parquet",
                partitioning="hive",
                partition_base_dir=base,
                filesystem=root.arrow_filesystem(),
            )
            tables.append(one.to_table(filter=condition))
            kept.append(meta)
        except (pa.ArrowInvalid, OSError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            message = f"damaged part {root.display(path)}: {exc}"
            if on_damaged == "raise":
                raise DatasetError(message) from None
            from mdkit.store.compact import DamagedPartWarning

            warnings.warn(f"skipped {message}", DamagedPartWarning, stacklevel=4)
    if not tables:
        return empty_frame(kind)
    table = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
    )
    table = table.select([n for n in names if n in table.column_names])
    for field in ("venue", "symbol"):
        if field in table.column_names:
            table = table.set_column(
                table.schema.get_field_index(field), field, table[field].cast(pa.string())
            )
    df = table_frame(kind, table, _attrs(kept), columns)
    if columns is not None:
        wanted = {"venue", "symbol", "local_timestamp", *columns}
        df = df[[c for c in df.columns if c in wanted]]
    return df


def _attrs(metas: Sequence[dict[bytes, bytes]]) -> dict[str, Any]:
    found: list[dict[str, Any]] = []
    for meta in metas:
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
