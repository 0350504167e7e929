"""The recorder: a capture without a time box, flushed into the dataset as it runs.

``record(dir, streams)`` builds the same engine a capture does (same validation),
then every ``flush`` (seconds, or rows held) drains the engine's tables on its
loop thread (:meth:`mdkit.engine.stream.Engine.drain`) and writes the rows as new
parts in a worker thread, so memory stays bounded by one flush window. Every
``rotate`` period the parts this recorder wrote in the period are merged into one
per partition, under the dataset's merge lock (a compaction holding it defers the
rotation). Reconnects are gaps (the engine's); a restart is a gap too: each running
recorder owns a state file (``<dir>/_recorders/<venue>-<subscriptions>-<host>[-n].json``)
holding the time of its last flush, and the next start of the same streams on the same
host takes the first free one and records the downtime from there (after a crash, that
window includes the rows lost with the process). Several recorders may share a dataset,
locally or on an object store. A start also finishes merges a crash interrupted in the
recorder's venues' recent partitions. Ctrl-C and SIGTERM stop it cleanly, everything
received flushed.

Memory: Arrow's default pool in the wheels (mimalloc) keeps pages that the write and
merge threads freed, and a recorder's RSS takes steps that stay (+30 MiB within a
minute at 10x the trade rate, all in mimalloc's arena by ``/proc/<pid>/smaps``, while
Arrow held 0 bytes, after ``release_unused()``). Arrow's C++ default pool is chosen when
pyarrow loads and the Parquet encoder allocates from it (``pyarrow.set_memory_pool``
later does not reach it: measured, the steps stayed), so a long-running recorder's
process should start with ``ARROW_DEFAULT_MEMORY_POOL=system`` (``mdkit record`` sets it
for its own process unless the environment names a pool). With that, the recorder
caps glibc's arenas at two while it runs (``mallopt``; glibc's default comes back after)
and trims after every flush and rotation; without it, it says so in the log.
Measured with ``python bench/bench_store.py recorder`` (the sandbox in another process;
bench/RESULTS.md, "Recorder memory, the recorder alone").
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pandas as pd

from mdkit.data.frames import strings
from mdkit.errors import InvalidArgument
from mdkit.store.fs import Root, fault

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


def _state_name(stream: Any) -> str:
    keys = sorted(s.key for s in stream.subscriptions)
    digest = hashlib.sha1("\n".join(keys).encode()).hexdigest()[:12]
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname())
    return f"{stream.venue.key}-{digest}-{host or 'host'}"


def _release_memory() -> None:
    """Give freed memory back to the system (after a flush or a rotation).

    Arrow's default pool (mimalloc in the wheels) keeps the pages its threads freed,
    and glibc's malloc the top of its heaps: without this, a recorder's RSS climbs by
    a merge's working set at each rotation and stays there. Microseconds each.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


_M_ARENA_MAX = -8  # glibc's malloc.h
_ARENAS = 2
_CAP_LOCK = threading.Lock()
_CAP_USERS = 0


@contextlib.contextmanager
def _arena_cap() -> Iterator[None]:
    """glibc's arenas capped at two while recording, when Arrow allocates from glibc.

    See the module's docstring. Only with ``ARROW_DEFAULT_MEMORY_POOL=system`` (Arrow's
    C++ default pool is chosen when pyarrow loads; the Parquet encoder allocates from
    it): each thread that mallocs may otherwise get an arena of its own and keep there
    what it freed. Otherwise an info line says how to get flat memory. Counted,
    so that recorders running at once in threads give glibc its default back (8 arenas
    per core) only when the last one returns.
    """
    global _CAP_USERS
    libc = _glibc()
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") != "system" or libc is None:
        log.info(
            "for a recorder's memory to stay flat over hours, start its process with "
            "ARROW_DEFAULT_MEMORY_POOL=system (Arrow's default pool keeps freed pages)"
        )
        yield
        return
    with _CAP_LOCK:
        if _CAP_USERS == 0:
            libc.mallopt(_M_ARENA_MAX, _ARENAS)
        _CAP_USERS += 1
    try:
        yield
    finally:
        with _CAP_LOCK:
            _CAP_USERS -= 1
            if _CAP_USERS == 0:
                libc.mallopt(_M_ARENA_MAX, 8 * (os.cpu_count() or 1))


@functools.cache
def _glibc() -> Any:
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # pragma: no cover
        return None


class _StateClaim:
    """This recorder's own state file, one per running recorder.

    The state is named by venue, subscriptions and host; a second recorder of the same
    streams on the same host takes the next free ``-2``, ``-3``... (claimed with a
    local ``fcntl`` lock, so two recorders never share one). A restarted recorder takes
    the first free name: the state its predecessor left.
    """

    def __init__(self, root: Root, stream: Any) -> None:
        import fcntl
        import tempfile

        base = _state_name(stream)
        folder = os.path.join(tempfile.gettempdir(), "mdkit-recorders")
        os.makedirs(folder, exist_ok=True)
        for n in range(1, 1000):
            name = base if n == 1 else f"{base}-{n}"
            key = hashlib.sha1(f"{root.url}\n{name}".encode()).hexdigest()[:20]
            fd = os.open(os.path.join(folder, f"{key}.lock"), os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.fd: int | None = fd
            self.path = root.join(root.path, "_recorders", f"{name}.json")
            return
        raise OSError(f"no free recorder state name for {base}")  # pragma: no cover

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None


class _Recorder:
    def __init__(
        self, root: Root, engine: Any, raw: bool, on_status: Callable[[str], None]
    ) -> None:
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
        self.claims = {s.venue.key: _StateClaim(root, s) for s in engine.streams}
        self.states = {key: claim.path for key, claim in self.claims.items()}

    # -- restarts ------------------------------------------------------------------------
    def downtime_gaps(self, now_ns: int) -> list[dict[str, Any]]:
        gaps = []
        for stream in self.engine.streams:
            state = self.root.read_json(self.states[stream.venue.key])
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
            self.root.write_json(
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
                fault("flush.kind-written")
            except OSError as exc:
                log.error("could not write %s rows (kept for the next flush): %s", kind, exc)
                self.pending = todo[i:]
                return
            self.rows[kind] = self.rows.get(kind, 0) + len(df)
            self.parts += len(paths)
            for path in paths:
                self.period_parts.setdefault(self.root.dirname(path), []).append(path)
        fault("flush.written")
        self.mark(time.time_ns(), clean=False)
        _release_memory()

    def rotate(self) -> None:
        """Merge this period's parts, one per partition (worker thread).

        Under the dataset's merge lock; if a compaction holds it, the parts wait for
        the next rotation (a merged part never replaces parts another merge took).
        """
        from mdkit.store.compact import merge_parts
        from mdkit.store.lock import MergeLock

        lock = MergeLock(self.root)
        if not lock.acquire(timeout=0):
            return
        try:
            periods, self.period_parts = self.period_parts, {}
            for directory, paths in periods.items():
                present = set(self.root.parts(directory))
                alive = [p for p in paths if p in present]
                if len(alive) > 1:
                    try:
                        merge_parts(alive, self.root)
                        self.parts -= len(alive) - 1
                    except OSError as exc:
                        log.warning("rotation merge failed (parts kept): %s", exc)
        finally:
            lock.release()
            _release_memory()

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
        The dataset root (see :func:`mdkit.read_parquet`): a local directory (``~``
        expands; created if missing, its parent must exist) or an object-store URL
        (``s3://bucket/prefix``). Several recorders may write one dataset, from one
        machine or many: each keeps its own state (``_recorders/``).
    streams : list of (venue, symbols, channels[, options])
        As :func:`mdkit.capture` takes several venues; one tuple for one venue.
    flush : str, float or int
        Write what arrived every this long (``"5s"``, seconds) or, as an int, once
        this many rows are held. Memory stays bounded by one flush window; for RSS
        flat over hours, start the process with ``ARROW_DEFAULT_MEMORY_POOL=system``
        (see :mod:`mdkit.store.recorder`).
    rotate : str, float or None
        Merge the parts written in each period into one per partition.
    status_every : str, float or None
        Report a one-line status this often (to ``on_status``; default the log).
    raw : bool
        Also record every raw frame (``kind=raw``; for :func:`mdkit.replay`).
    seconds : float, optional
        Stop after this long (default: run until stopped).
    on_status : callable, optional
        Called with each status line, on mdkit's event-loop thread (keep it short; it
        must not block). Synchronous mdkit calls (``mdkit.capture``...) made from it
        raise :class:`~mdkit.errors.LoopThreadError`: use their async forms
        (``await mdkit.acapture(...)``) from a task, or hand the work to another thread.
    **options
        Capture options (credentials, venue options, ``silence_timeout``, ``backoff``,
        ``open_timeout``).

    Returns
    -------
    dict
        ``rows`` (per kind written, ``raw`` included), ``frames`` (received), ``parts``,
        ``gaps``, ``reconnects``, ``duration`` (s), ``outcome``.

    Raises
    ------
    InvalidArgument, UnknownVenue, UnknownChannel, UnknownSymbol, AuthError
        Before connecting; InvalidArgument also for a path that is a file or whose
        parent is missing (it names the path).
    DatasetError
        Before connecting, for a directory mdkit cannot write to.
    """
    from mdkit.engine import runner
    from mdkit.engine.plan import plan, take_credentials
    from mdkit.engine.stream import Engine
    from mdkit.store.compact import repair
    from mdkit.store.fs import open_root

    secrets = take_credentials(options)  # locals shown in a traceback stay clean
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
    root = open_root(directory, create=True)
    since = (pd.Timestamp.now("UTC") - pd.Timedelta(days=1)).strftime("%Y-%m-%d")
    repair(root, venues=[s.venue.key for s in engine.streams], since=since)
    recorder = _Recorder(root, engine, raw, on_status or (lambda line: log.info("%s", line)))
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: engine.stop("terminated"))
    try:
        with _arena_cap():
            runner.run(
                recorder.run(flush_s, flush_rows, rotate_s, status_s),
                on_interrupt=lambda: engine.stop("interrupted"),
            )
    finally:
        for claim in recorder.claims.values():
            claim.release()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {
        "rows": dict(recorder.rows),
        "frames": engine.stats.messages,
        "parts": recorder.parts,
        "gaps": recorder.gaps,
        "reconnects": engine.stats.reconnects,
        "duration": round(engine.stats.duration, 3),
        "outcome": engine.stats.outcome,
    }
