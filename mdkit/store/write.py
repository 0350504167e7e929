"""Adding frames to a dataset: split by partition, one new part per partition."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument
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
    root: str | os.PathLike[str],
    kind: str,
    df: pd.DataFrame,
    *,
    attrs: Mapping[str, Any] | None = None,
    venue: str | None = None,
) -> list[str]:
    """Add one kind's frame to the dataset at ``root``: one new part per partition.

    Parameters
    ----------
    root : str or path
        The dataset directory (created if needed).
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
    root = os.fspath(root)
    meta: dict[str, Any] = {str(k): v for k, v in (df.attrs if attrs is None else attrs).items()}
    if "venue" in df.columns:
        venues = np.asarray(df["venue"].astype(str), dtype=object)
    elif venue is not None:
        venues = np.full(len(df), venue, dtype=object)
    else:
        raise InvalidArgument(f"the {kind} frame has no venue column; pass venue=")
    times = df[time_column(kind)] if kind == "gaps" else df.index
    days = _days(times)
    by_symbol = kind in SYMBOL_KINDS
    symbols = (
        np.asarray(df["symbol"].astype(str), dtype=object)
        if by_symbol
        else np.full(len(df), "", dtype=object)
    )
    keys = pd.MultiIndex.from_arrays([venues, symbols, days])
    codes, uniques = pd.factorize(keys)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    written = []
    for rows in np.split(order, bounds):
        v, s, day = uniques[codes[rows[0]]]
        date = str(np.datetime64(int(day), "D"))
        part = df.iloc[rows]
        table = frame_to_table(kind, part, meta)
        directory = partition_path(root, kind, str(v), str(s) if by_symbol else None, date)
        written.append(write_part(directory, table))
    return written


def write_capture(
    cap: Any, root: str | os.PathLike[str], *, levels: int | None = 10, raw: bool = False
) -> list[str]:
    """Add everything a capture holds to the dataset at ``root`` (see ``Capture.to_parquet``)."""
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


def replay_attrs(engine: Any, ended_ns: int) -> dict[str, Any]:
    """What a replay needs besides the frames, kept in the raw parts' metadata: every
    subscription (JSON) and the time the capture or flush ended (epoch ns)."""
    subs = [
        {
            "venue": stream.venue.key,
            "kind": sub.kind,
            "symbol": sub.symbol,
            "channel": sub.channel,
            "endpoint": sub.endpoint,
            "interval": sub.interval.name if sub.interval else None,
            "options": {k: v for k, v in sub.options.items() if isinstance(v, str | int | float)},
        }
        for stream in engine.streams
        for sub in stream.subscriptions
    ]
    return {"subscriptions": json.dumps(subs), "ended_ns": int(ended_ns)}
