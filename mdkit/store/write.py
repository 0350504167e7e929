"""Adding frames to a dataset: split by partition, one new part per partition."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument
from mdkit.store.fs import Root, open_root
from mdkit.store.layout import (
    KINDS,
    SYMBOL_KINDS,
    frame_to_table,
    partition_path,
    time_column,
    write_part,
)

__all__ = ["write_frame", "write_capture", "replay_attrs"]


def _days(times: Any) -> np.ndarray[Any, Any]:
    ns = pd.DatetimeIndex(times).as_unit("ns").tz_convert("UTC").asi8
    return np.asarray(ns // 86_400_000_000_000, dtype="int64")


def write_frame(
    root: str | os.PathLike[str] | Root,
    kind: str,
    df: pd.DataFrame,
    *,
    attrs: Mapping[str, Any] | None = None,
    venue: str | None = None,
) -> list[str]:
    """Add one kind's frame to the dataset at ``root``: one new part per partition.

    Parameters
    ----------
    root : str, path or Root
        The dataset: a local directory (created if needed; its parent must exist) or
        an object-store URL (``s3://bucket/prefix``).
    kind : str
        One of :data:`~mdkit.store.layout.KINDS`.
    df : pandas.DataFrame
        A frame of that kind as a capture returns it (with its ``venue`` column).
    attrs : mapping, optional
        Kept in each part's metadata (default ``df.attrs``).
    venue : str, optional
        The venue of every row, for frames without a ``venue`` column.

    Returns
    -------
    list of str
        The parts written (none for an empty frame).
    """
    if kind not in KINDS:
        raise InvalidArgument(f"no dataset kind {kind!r}; kinds: {', '.join(KINDS)}")
    if not len(df):
        return []
    if not isinstance(root, Root):
        root = open_root(root, create=True)
    meta: dict[str, Any] = {str(k): v for k, v in (df.attrs if attrs is None else attrs).items()}
    if "venue" not in df.columns and venue is None:
        raise InvalidArgument(f"the {kind} frame has no venue column; pass venue=")
    times = df[time_column(kind)] if kind == "gaps" else df.index
    days = _days(times)
    if kind != "gaps" and "local_timestamp" in df.columns and bool(pd.isna(times).any()):
        # Rows without venue time (timestamp NaT) belong to the day they were received.
        days = np.where(pd.isna(times), _days(df["local_timestamp"]), days)
    by_symbol = kind in SYMBOL_KINDS
    v_codes, v_names = (
        _codes(df["venue"]) if "venue" in df.columns else (np.zeros(len(df), "int64"), [venue])
    )
    s_codes, s_names = _codes(df["symbol"]) if by_symbol else (np.zeros(len(df), "int64"), [""])
    first_day = int(days.min())
    span = int(days.max()) - first_day + 1
    key = (v_codes * len(s_names) + s_codes) * span + (days - first_day)
    # few partitions: a 16-bit key sorts by radix (linear) instead of by comparison
    small = key.astype("int16") if int(key.max()) < 2**15 else key
    order = np.argsort(small, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    table = frame_to_table(kind, df, meta)  # converted once, sliced per partition
    jobs = []
    for rows in np.split(order, bounds):
        k = int(key[rows[0]])
        day, vs = first_day + k % span, k // span
        v, s = v_names[vs // len(s_names)], s_names[vs % len(s_names)]
        date = str(np.datetime64(day, "D"))
        contiguous = len(rows) == int(rows[-1]) - int(rows[0]) + 1 and bool(
            (np.diff(rows) == 1).all()
        )
        part = table.slice(int(rows[0]), len(rows)) if contiguous else table.take(rows)
        directory = partition_path(root.path, kind, str(v), str(s) if by_symbol else None, date)
        jobs.append((directory, part))
    if len(jobs) == 1:
        return [write_part(root, *jobs[0])]
    # pyarrow encodes and compresses without the GIL: partitions are written in parallel.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda job: write_part(root, *job), jobs))


def _codes(values: Any) -> tuple[np.ndarray[Any, Any], list[str]]:
    """Integer codes and names of a column (categories used as they are)."""
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        cat = values.array
        return np.asarray(cat.codes, dtype="int64"), [str(c) for c in cat.categories]
    codes, names = pd.factorize(np.asarray(values, dtype=object))
    return np.asarray(codes, dtype="int64"), [str(n) for n in names]


def write_capture(
    cap: Any, root: str | os.PathLike[str] | Root, *, levels: int | None = 10, raw: bool = False
) -> list[str]:
    """Add everything a capture holds to the dataset at ``root`` (see ``Capture.to_parquet``;
    a local path, ``~`` expanded, or an object-store URL)."""
    if not isinstance(root, Root):
        root = open_root(root, create=True)
    written: list[str] = []
    for kind in cap.frames():
        written += write_frame(root, kind, cap.frame(kind))
    if levels is not None and "depth" in cap.frames():
        written += write_frame(root, "book", cap.book(levels))
    if raw:
        raw_frame = cap.raw
        attrs = {**raw_frame.attrs, **replay_attrs(cap._engine, cap._engine.stats.ended_ns)}
        written += write_frame(root, "raw", raw_frame, attrs=attrs)
    written += write_frame(root, "gaps", cap.gaps)
    return written


def _jsonable(value: Any) -> bool:
    """Whether a subscription option survives JSON (venues keep e.g. Bitget's wire arg)."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def replay_attrs(engine: Any, ended_ns: int) -> dict[str, Any]:
    """What a replay needs besides the frames, kept in the raw parts' metadata: every
    subscription (JSON), the slot each connection number served (JSON) and the time
    the capture or flush ended (epoch ns)."""
    subs = [
        {
            "venue": stream.venue.key,
            "kind": sub.kind,
            "symbol": sub.symbol,
            "channel": sub.channel,
            "endpoint": sub.endpoint,
            "interval": sub.interval.name if sub.interval else None,
            "options": {k: v for k, v in sub.options.items() if _jsonable(v)},
        }
        for stream in engine.streams
        for sub in stream.subscriptions
    ]
    # Which slot each connection served: replay tells a reconnect (same slot) from
    # a venue's other connection (another endpoint or shard) with it.
    slots = {str(n): s for n, s in getattr(engine, "connection_slots", {}).items()}
    return {
        "subscriptions": json.dumps(subs),
        "connections": json.dumps(slots),
        "ended_ns": int(ended_ns),
    }
