"""The recorder: a capture without a time box, flushed into the dataset as it runs.

``record(dir, streams)`` builds the same engine a capture does (same validation),
then every ``flush`` (seconds, or rows held) drains the engine's tables on its
loop thread (:meth:`mdkit.engine.stream.Engine.drain`) and writes the rows as new
parts in a worker thread, so memory stays bounded by one flush window. Every
``rotate`` period the parts this recorder wrote in the period are merged into one
per partition. Reconnects are gaps (the engine's); a restart is a gap too: a state
file per venue and subscription set (``<dir>/_recorders/``) holds the time of the
last flush, and the next start records the downtime from there (after a crash,
that window includes the rows lost with the process). Ctrl-C and SIGTERM stop it
cleanly, everything received flushed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from mdkit.data.frames import strings
from mdkit.errors import InvalidArgument

__all__ = ["record", "parse_every"]

log = logging.getLogger("mdkit.store.recorder")
_YEAR = 365 * 86400
_TICK = 0.2


def parse_every(value: Any, what: str, *, rows: bool = False) -> tuple[float | None, int | None]:
    """``"5s"``/``"1h"``/seconds → (seconds, None); an int with ``rows`` → (None, rows)."""
    if value is None:
        return None, None
    if rows and isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise InvalidArgument(f"{what} in rows must be a positive integer, not {value!r}")
        return None, value
    try:
        seconds = (
            float(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else pd.Timedelta(str(value)).total_seconds()
        )
    except (ValueError, TypeError):
        seconds = float("nan")
    if not seconds > 0 or seconds == float("inf"):
        hint = " or a row count (int)" if rows else ""
        raise InvalidArgument(
            f'{what} must be a duration like "5s", "10min", "1h"{hint}; not {value!r}'
        )
    return seconds, None


def _state_path(root: str, stream: Any) -> str:
    keys = sorted(s.key for s in stream.subscriptions)
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:12]
    return os.path.join(root, "_recorders", f"{stream.venue.key}-{digest}.json")


def _write_state(path: str, state: dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"
    with open(temp, "w") as sink:
        json.dump(state, sink)
    os.replace(temp, path)  # the state file is bookkeeping, replaced whole


class _Recorder:
    def __init__(self, root: str, engine: Any, raw: bool, on_status: Callable[[str], None]) -> None:
        self.root = root
        self.engine = engine
        self.raw = raw
        self.on_status = on_status
        self.rows: dict[str, int] = {}
        self.parts = 0
        self.gaps = 0
        self.pending: list[tuple[str, pd.DataFrame, dict[str, Any]]] = []
        self.period_parts: dict[str, list[str]] = {}
        self.started = time.time()
        self.states = {s.venue.key: _state_path(root, s) for s in engine.streams}

    # -- restarts ------------------------------------------------------------------------
    def downtime_gaps(self, now_ns: int) -> list[dict[str, Any]]:
        gaps = []
        for stream in self.engine.streams:
            path = self.states[stream.venue.key]
            try:
                with open(path) as source:
                    state = json.load(source)
            except (FileNotFoundError, ValueError):
                state = None
            if state and int(state.get("last_ns", 0)) < now_ns:
                reason = (
                    "recorder stopped (restart)"
                    if state.get("clean")
                    else "recorder down (crash or kill; rows after the last flush lost)"
                )
                gaps.append(
                    {
                        "start_ns": int(state["last_ns"]),
                        "end_ns": now_ns,
                        "venue": stream.venue.key,
                        "connection": 0,
                        "channels": ",".join(s.key for s in stream.subscriptions),
                        "reason": reason,
                    }
                )
            self.mark(now_ns, clean=False)
        return gaps

    def mark(self, now_ns: int, *, clean: bool) -> None:
        for key, path in self.states.items():
            _write_state(
                path,
                {
                    "venue": key,
                    "last_ns": now_ns,
                    "clean": clean,
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                },
            )

    # -- flushing ------------------------------------------------------------------------
    def collect(self, extra_gaps: Sequence[dict[str, Any]] = ()) -> list[Any]:
        """Drain the engine (on its loop thread) into frames to write."""
        from mdkit.data import tables as t
        from mdkit.store.write import replay_attrs

        now = time.time_ns()
        rows, raw_store, gaps = self.engine.drain()
        attrs = {
            "venue": "+".join(self.engine.parts),
            "venues": list(self.engine.parts),
            "symbols": list(
                dict.fromkeys(
                    s.symbol for st in self.engine.streams for s in st.subscriptions if s.symbol
                )
            ),
            "source": "ws",
            "interrupted": False,
        }
        out: list[Any] = []
        for venue, kinds in rows.items():
            for kind, columns in kinds.items():
                df = t.stream_frame(kind, columns, attrs=attrs, end_ns=now)
                df.insert(0, "venue", pd.Series(strings([venue] * len(df)), index=df.index))
                out.append((kind, df, attrs))
        if self.raw and len(raw_store):
            cols, payloads = raw_store.columns()
            df = t.raw_frame(cols, payloads, attrs=attrs)
            names = self.engine.connection_venues
            labels = strings([names.get(int(c), "") for c in cols["connection"]])
            df.insert(0, "venue", pd.Series(labels, index=df.index))
            out.append(("raw", df, {**attrs, **replay_attrs(self.engine, now)}))
        all_gaps = [*extra_gaps, *gaps]
        if all_gaps:
            out.append(("gaps", t.gaps_frame(all_gaps, attrs=attrs), attrs))
            self.gaps += len(all_gaps)
        return out

    def write(self, frames: list[Any]) -> None:
        """Write drained frames (worker thread); keep them for the next flush on failure."""
        from mdkit.store.write import write_frame

        todo = self.pending + frames
        self.pending = []
        for i, (kind, df, attrs) in enumerate(todo):
            try:
                paths = write_frame(self.root, kind, df, attrs=attrs)
            except OSError as exc:
                log.error("could not write %s rows (kept for the next flush): %s", kind, exc)
                self.pending = todo[i:]
                return
            self.rows[kind] = self.rows.get(kind, 0) + len(df)
            self.parts += len(paths)
            for path in paths:
                self.period_parts.setdefault(os.path.dirname(path), []).append(path)
        self.mark(time.time_ns(), clean=False)

    def rotate(self) -> None:
        """Merge this period's parts, one per partition (worker thread)."""
        from mdkit.store.compact import merge_parts

        periods, self.period_parts = self.period_parts, {}
        for paths in periods.values():
            alive = [p for p in paths if os.path.exists(p)]
            if len(alive) > 1:
                try:
                    merge_parts(alive)
                    self.parts -= len(alive) - 1
                except OSError as exc:
                    log.warning("rotation merge failed (parts kept): %s", exc)

    def held_rows(self) -> int:
        return sum(sum(p.tables.counts().values()) for p in self.engine.parts.values())

    def status(self) -> str:
        s = self.engine.stats
        elapsed = max(1e-9, time.time() - self.started)
        total = sum(self.rows.values())
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(self.rows.items())) or "no rows yet"
        held = sum(p.tables.nbytes for p in self.engine.parts.values()) + self.engine.raw.nbytes
        return (
            f"record {time.strftime('%H:%M:%S', time.gmtime(elapsed))} | {kinds} | "
            f"{total / elapsed:,.0f} rows/s | gaps {self.gaps + len(s.gaps)} | "
            f"reconnects {s.reconnects} | parts {self.parts} | held {held / 2**20:.1f} MiB"
        )

    async def run(
        self,
        flush_s: float | None,
        flush_rows: int | None,
        rotate_s: float | None,
        status_s: float | None,
    ) -> None:
        engine = self.engine
        task = asyncio.ensure_future(engine.run())
        first = self.downtime_gaps(time.time_ns())
        last_flush = last_status = last_rotate = time.monotonic()
        if first:
            await asyncio.to_thread(self.write, self.collect(first))
        try:
            while not task.done():
                await asyncio.wait([task], timeout=_TICK)
                now = time.monotonic()
                due = (flush_s is not None and now - last_flush >= flush_s) or (
                    flush_rows is not None and self.held_rows() >= flush_rows
                )
                if due and not task.done():
                    last_flush = now
                    await asyncio.to_thread(self.write, self.collect())
                if rotate_s is not None and now - last_rotate >= rotate_s:
                    last_rotate = now
                    await asyncio.to_thread(self.rotate)
                if status_s is not None and now - last_status >= status_s:
                    last_status = now
                    self.on_status(self.status())
        finally:
            if not task.done():
                engine.stop("stopped")
                await asyncio.wait([task], timeout=10)
            await asyncio.to_thread(self.write, self.collect())
            self.mark(time.time_ns(), clean=not self.pending)
            if self.pending:
                log.error("%d frame(s) could not be written", len(self.pending))
        task.result()


def record(
    directory: str | os.PathLike[str],
    streams: Sequence[tuple[Any, ...]] | tuple[Any, ...],
    *,
    flush: str | float | int = "5s",
    rotate: str | float | None = "1h",
    status_every: str | float | None = "60s",
    raw: bool = False,
    seconds: float | None = None,
    on_status: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Record streams into the dataset at ``directory`` until stopped (Ctrl-C, SIGTERM).

    Parameters
    ----------
    directory : str or path
        The dataset root (see :func:`mdkit.read_parquet`).
    streams : list of (venue, symbols, channels[, options])
        As :func:`mdkit.capture` takes several venues; one tuple for one venue.
    flush : str, float or int
        Write what arrived every this long (``"5s"``, seconds) or, as an int, once
        this many rows are held. Memory stays bounded by one flush window.
    rotate : str, float or None
        Merge the parts written in each period into one per partition.
    status_every : str, float or None
        Report a one-line status this often (to ``on_status``; default the log).
    raw : bool
        Also record every raw frame (``kind=raw``; for :func:`mdkit.replay`).
    seconds : float, optional
        Stop after this long (default: run until stopped).
    on_status : callable, optional
        Called with each status line.
    **options
        Capture options (credentials, venue options, ``silence_timeout``, ``backoff``,
        ``open_timeout``).

    Returns
    -------
    dict
        ``rows`` (per kind written), ``parts``, ``gaps``, ``reconnects``,
        ``duration`` (s), ``outcome``.

    Raises
    ------
    InvalidArgument, UnknownVenue, UnknownChannel, UnknownSymbol, AuthError
        Before connecting.
    """
    from mdkit.engine import runner
    from mdkit.engine.plan import plan, take_credentials
    from mdkit.engine.stream import Engine
    from mdkit.store.layout import check_path

    secrets = take_credentials(options)  # locals shown in a traceback stay clean
    root = check_path(directory, "directory")
    if not isinstance(streams, list | tuple) or not streams:
        raise InvalidArgument(
            "streams must be (venue, symbols, channels[, options]) or a list of them, "
            f"not {streams!r}"
        )
    if not isinstance(raw, bool):
        raise InvalidArgument(f"raw must be True or False, not {raw!r}")
    if on_status is not None and not callable(on_status):
        raise InvalidArgument(f"on_status must be a callable or None, not {on_status!r}")
    flush_s, flush_rows = parse_every(flush, "flush", rows=True)
    rotate_s, _ = parse_every(rotate, "rotate")
    status_s, _ = parse_every(status_every, "status_every")
    if "raw_limit" in options:
        raise InvalidArgument("record() keeps raw frames with raw=True (no raw_limit)")
    items = [streams] if isinstance(streams, tuple) and isinstance(streams[0], str) else streams
    checked = plan(
        list(items),
        None,
        None,
        _YEAR if seconds is None else seconds,
        None,
        None,
        None,
        {**options, "raw_limit": None if raw else 0},
        secrets,
    )
    engine = Engine.from_plan(checked)
    os.makedirs(root, exist_ok=True)
    recorder = _Recorder(root, engine, raw, on_status or (lambda line: log.info("%s", line)))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: engine.stop("terminated"))
    try:
        runner.run(
            recorder.run(flush_s, flush_rows, rotate_s, status_s),
            on_interrupt=lambda: engine.stop("interrupted"),
        )
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {
        "rows": dict(recorder.rows),
        "parts": recorder.parts,
        "gaps": recorder.gaps,
        "reconnects": engine.stats.reconnects,
        "duration": round(engine.stats.duration, 3),
        "outcome": engine.stats.outcome,
    }
