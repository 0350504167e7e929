"""Replay: recorded raw frames run back through the ingestion core.

No socket, no clock: every frame goes through :meth:`Core.receive
<mdkit.engine.core.Core.receive>`, the code a live capture runs, on a session of its
recorded connection with its recorded receive time. The result therefore equals
the live capture's (same rows, gaps, server errors, fatal error). The
subscriptions come from the raw parts' metadata (written by
``Capture.to_parquet(raw=True)`` and ``mdkit.record(raw=True)``).

Each recorded connection is replayed on the slot it served live (the venue's
subscriptions sharded as live, by endpoint and per-connection limit; the raw
parts' ``connections`` metadata maps connection numbers to slots): a venue's other
connections run beside it, and only a new connection on the same slot is a
reconnect (a gap "reconnect (replayed)" from the slot's last frame to the next
data). Recordings without that metadata replay every connection of a venue on one
slot. The recorded ``gaps`` kind holds the recorder's own view.
:func:`mdkit.replay` wraps the result into a Capture.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mdkit.engine.core import Core
from mdkit.errors import InvalidArgument

__all__ = ["replay_frames"]


def _sources(source: str, venue: Any, start: Any, end: Any) -> tuple[pd.DataFrame, list[Any]]:
    """The raw frames (sorted by receive time) and the raw parts' metadata."""
    import pyarrow.parquet as pq

    from mdkit.data.timeparse import parse_time
    from mdkit.store.fs import is_dataset
    from mdkit.store.read import find_parts, parts_metadata, read_parquet

    if os.path.isfile(source):
        files = [source]
        frame = _read_file(source)
        if venue is not None:
            frame = frame[frame["venue"].astype(str).str.lower() == str(venue).lower()]
        if start is not None:
            frame = frame[frame.index >= parse_time(start)]
        if end is not None:
            frame = frame[frame.index < parse_time(end)]
    elif is_dataset(source):  # a local directory or an object-store URL
        lo = None if start is None else parse_time(start)
        hi = None if end is None else parse_time(end)
        files = find_parts(source, "raw", venue=venue, start=lo, end=hi)
        if not files:
            raise InvalidArgument(
                f"no raw frames in {source!r}"
                + (f" for venue {venue!r}" if venue else "")
                + "; record with raw=True (mdkit record --raw) to replay"
            )
        frame = read_parquet(source, "raw", venue=venue, start=start, end=end)
        return frame, parts_metadata(source, files)
    else:
        raise InvalidArgument(f"replay source {source!r} is neither a dataset nor a Parquet file")
    metas = [pq.read_schema(f).metadata or {} for f in files]
    return frame, metas


def _read_file(path: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    from mdkit.store.layout import ATTRS_KEY

    table = pq.read_table(path)
    names = table.column_names
    if "payload" not in names or "local_timestamp" not in names:
        raise InvalidArgument(f"{path!r} is not a raw-frames file (no payload column)")
    meta = table.schema.metadata or {}
    attrs = json.loads(meta.get(ATTRS_KEY, b"{}"))
    local = table["local_timestamp"].cast("int64").to_numpy()
    if "venue" in names:
        venues = np.asarray(table["venue"].cast("string").to_pylist(), dtype=object)
    else:  # a part of a dataset: the venue is in its path
        part = [p for p in path.split(os.sep) if p.startswith("venue=")]
        venues = np.full(len(local), part[-1][6:] if part else attrs.get("venue", ""))
    frame = pd.DataFrame(
        {
            "venue": venues,
            "connection": table["connection"].to_numpy(),
            "text": table["text"].to_numpy(zero_copy_only=False),
            "payload": table["payload"].to_pylist(),
        },
        index=pd.DatetimeIndex(local.view("datetime64[ns]")).tz_localize("UTC"),
    )
    return frame.sort_index(kind="stable")


def _subscriptions(metas: Sequence[Any], streams: Any) -> dict[str, list[Any]]:
    from mdkit.data.timeparse import parse_interval
    from mdkit.venues import get_venue
    from mdkit.venues.base import Subscription

    out: dict[str, list[Any]] = {}
    if streams is not None:
        for item in streams:
            venue = get_venue(item[0])
            opts = dict(item[3]) if len(item) > 3 else {}
            out[venue.key] = list(venue.plan(list(item[1]), list(item[2]), opts))
        return out
    seen: set[tuple[str, str]] = set()
    for meta in metas:
        attrs = json.loads(meta.get(b"mdkit.attrs", b"{}"))
        for sub in json.loads(attrs.get("subscriptions", "[]")):
            if (sub["venue"], sub["channel"]) in seen:
                continue
            seen.add((sub["venue"], sub["channel"]))
            out.setdefault(sub["venue"], []).append(
                Subscription(
                    kind=sub["kind"],
                    symbol=sub["symbol"],
                    channel=sub["channel"],
                    endpoint=sub["endpoint"],
                    interval=parse_interval(sub["interval"]) if sub["interval"] else None,
                    options=sub.get("options") or {},
                )
            )
    return out


def replay_frames(
    source: str | os.PathLike[str],
    *,
    venue: str | None = None,
    start: Any = None,
    end: Any = None,
    streams: Sequence[tuple[Any, ...]] | None = None,
) -> Core:
    """Run recorded raw frames back through the ingestion core (what :func:`mdkit.replay`
    wraps into a Capture).

    Parameters
    ----------
    source : str or path
        A dataset written with raw frames (``cap.to_parquet(dir, raw=True)``,
        ``mdkit.record(dir, ..., raw=True)``), or one raw Parquet file (a part of
        such a dataset, or ``cap.raw.to_parquet(file)``).
    venue : str, optional
        Replay only this venue's frames.
    start, end : time-like, optional
        Receive-time range ``[start, end)``.
    streams : list of (venue, symbols, channels[, options]), optional
        The subscriptions, when the source does not carry them (a plain
        ``cap.raw`` file); as :func:`mdkit.capture` takes them.

    Returns
    -------
    Core
        The ingestion core after every frame: its tables equal the live capture's;
        ``stats.outcome`` is ``"replayed"``.

    Raises
    ------
    InvalidArgument
        If the source holds no raw frames, or the subscriptions are unknown.
    """
    from mdkit.engine.core import Fail, Link
    from mdkit.engine.plan import Stream, shard
    from mdkit.store.layout import check_path
    from mdkit.venues import get_venue
    from mdkit.venues.base import Credentials

    frames, metas = _sources(check_path(source, "source"), venue, start, end)
    plans = _subscriptions(metas, streams)
    keys = list(dict.fromkeys(frames["venue"].astype(str))) or list(plans)
    missing = [k for k in keys if k not in plans]
    if missing:
        raise InvalidArgument(
            f"the subscriptions of {', '.join(missing)} are not in the source's metadata; "
            "pass streams=[(venue, symbols, channels), ...]"
        )
    stream_list = []
    for k in keys:
        descriptor = get_venue(k)
        replayed = {name: "replay:" for name in descriptor.endpoints}  # no socket is opened
        # The sessions build their login and subscribe requests, which are never sent:
        # placeholders stand in for the credentials (private channels replay too).
        stand_ins = Credentials({name: f"<replay: no {name}>" for name in descriptor.credentials})
        stream_list.append(Stream(descriptor, tuple(plans[k]), replayed, stand_ins))
    core = Core(stream_list, raw_limit=None)
    stats = core.stats
    local = pd.DatetimeIndex(frames.index).asi8
    stats.started_ns = int(local[0]) if len(local) else 0
    ends = [json.loads(m.get(b"mdkit.attrs", b"{}")).get("ended_ns") for m in metas]
    recorded_end = max((int(e) for e in ends if e), default=0)
    ended_ns = max(recorded_end, int(local[-1]) if len(local) else 0)
    slot_of: dict[int, int] = {}
    for meta in metas:
        recorded = json.loads(meta.get(b"mdkit.attrs", b"{}")).get("connections")
        slot_of.update({int(n): int(s) for n, s in json.loads(recorded or "{}").items()})
    shards = {stream.venue.key: shard(stream) for stream in stream_list}
    links: dict[tuple[str, int], Link] = {}
    last: dict[tuple[str, int], Link] = {}  # (venue, slot) -> its latest connection
    # Runs of frames of one connection and kind go to the core together, as a live read
    # does (Core.receive_many): the same rows either way.
    run: list[bytes] = []
    run_times: list[int] = []
    run_link: Link | None = None
    run_text = True

    def flush() -> bool:
        """Hand the run to the core; True if a fatal server error ended the capture here."""
        if run_link is None or not run:
            return False
        actions = core.receive_many(run_link, run[:], run_times[:], run_text)
        run.clear()
        run_times.clear()
        return core.error is not None and any(type(a) is Fail for a in actions)

    for key_venue, number, text, payload, now in zip(
        frames["venue"].astype(str).tolist(),
        frames["connection"].tolist(),
        frames["text"].tolist(),
        frames["payload"].tolist(),
        local.tolist(),
        strict=True,
    ):
        link = links.get((key_venue, number))
        if (link is None or link is not run_link or text is not run_text) and flush():
            break  # a fatal server error ended the live capture here too
        if link is None:
            # A new recorded connection: the previous one of its slot ended just before.
            slot = slot_of.get(number, -1)
            if not 0 <= slot < len(shards[key_venue]):
                slot = -1  # an older recording: one slot, all of the venue's subscriptions
            previous = last.get((key_venue, slot))
            if previous is not None:
                stats.reconnects += 1
                core.closed(
                    previous, "reconnect (replayed)", None, previous.last_ns, stopping=False
                )
            if slot < 0:
                subs = core.parts[key_venue].stream.subscriptions
                endpoint = subs[0].endpoint if subs else "public"
            else:
                endpoint, subs = shards[key_venue][slot]
            link = core.link(key_venue, endpoint, subs)
            if previous is not None:
                link.gap, previous.gap = previous.gap, None
                link.attempts, link.budget = previous.attempts, previous.budget
            links[(key_venue, number)] = last[(key_venue, slot)] = link
            # What the session asks at connect (login, subscribe) is not sent: no socket.
            core.connect(link, now, number=number)
        run_link, run_text = link, text
        run.append(payload)
        run_times.append(now)
    else:
        flush()
    core.finish(ended_ns)
    stats.outcome = "replayed"
    return core
