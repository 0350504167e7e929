"""The capture engine: one asyncio loop of connect, subscribe, receive, for every venue.

A venue plugs in with a :class:`~mdkit.venues.spec.StreamSpec` (pure functions and
data); this module does the I/O around it:

- connect (``wss://`` with TLS or plain ``ws://``), optional auth messages, subscribe;
- receive frames, stamp each with a strictly increasing receive time (epoch ns),
  keep it in the raw store, hand it to the venue router (which appends rows into
  columnar buffers), answer server pings, send client pings where the venue needs them;
- stop at the time box (``seconds``), after ``max_messages`` data messages, or on
  :meth:`Engine.stop` (interrupt);
- a silence watchdog: no frame for ``silence_timeout`` seconds (including "nothing
  ever arrived" after connecting) drops the connection;
- reconnect after any close (clean ones too) with capped, jittered exponential
  backoff, and subscribe again; every interruption is recorded as a gap (start =
  last frame before it, end = first data frame after it) and counted in the stats.
  Rows received before a reconnect are never discarded.

Frames that cannot be understood are counted (``parse_errors``), kept in the raw
store flagged ``error``, logged once per kind, and the capture goes on.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
import time
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mdkit import config
from mdkit.columns import ColumnBuffer
from mdkit.errors import NetworkError, ProtocolError, UnknownVenue
from mdkit.frames import RAW_STREAM_SCHEMA, StreamTables
from mdkit.venues.spec import (
    ACK,
    DATA,
    ERROR,
    PING,
    PONG,
    UNROUTED,
    StreamSpec,
    Subscription,
)

__all__ = [
    "DEFAULT_RAW_LIMIT",
    "STREAM_MODULES",
    "Engine",
    "RawStore",
    "StreamStats",
    "stream_spec",
]

log = logging.getLogger("mdkit.stream")

#: Venue key → the module that defines its ``STREAM`` spec (imported on first use).
STREAM_MODULES: dict[str, str] = {"cryptocom": "mdkit.venues.cryptocom_ws"}
CREDENTIAL_NAMES = ("api_key", "secret_key", "passphrase", "token")
#: Consecutive failed connection attempts, with no connection ever made, before giving up.
MAX_CONNECT_FAILURES = 5


def stream_spec(venue: str) -> StreamSpec:
    """Return a venue's stream spec.

    Raises
    ------
    UnknownVenue
        If mdkit does not know the venue or has no streams for it; names the valid ones.
    """
    key = venue.strip().lower() if isinstance(venue, str) else venue
    if key not in STREAM_MODULES:
        raise UnknownVenue(f"no streams for venue {venue!r}; valid: {', '.join(STREAM_MODULES)}")
    spec: StreamSpec = importlib.import_module(STREAM_MODULES[key]).STREAM
    return spec


@dataclass
class StreamStats:
    """Counters of one capture (see ``Capture.stats``)."""

    messages: int = 0
    bytes: int = 0
    data_messages: int = 0
    per_channel: dict[str, int] = field(default_factory=dict)
    acks: int = 0
    pings: int = 0
    pongs: int = 0
    server_errors: list[str] = field(default_factory=list)
    unrouted: int = 0
    other: int = 0
    parse_errors: int = 0
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    gaps: list[dict[str, Any]] = field(default_factory=list)
    started_ns: int = 0
    ended_ns: int = 0
    outcome: str = "not started"
    interrupted: bool = False
    first_data_ns: int | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        end = self.ended_ns or time.time_ns()
        return max(0.0, (end - self.started_ns) / 1e9) if self.started_ns else 0.0

    def as_dict(self) -> dict[str, Any]:
        """A plain dict of every counter (``duration`` and ``rate`` included)."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("gaps", "first_data_ns")}
        out["per_channel"] = dict(self.per_channel)
        out["server_errors"] = list(self.server_errors)
        out["gaps"] = len(self.gaps)
        out["duration"] = round(self.duration, 3)
        out["rate"] = round(self.data_messages / self.duration, 1) if self.duration else 0.0
        return out


#: Default ``raw_limit``: bytes of raw payload a capture keeps (256 MiB).
DEFAULT_RAW_LIMIT = 256 * 2**20
_DELTA_MAX = 2**32 - 1


class RawStore:
    """Every received frame, compactly: one byte buffer plus a row per frame.

    Payloads are kept exactly as received (gzip frames stay compressed). With
    ``limit_bytes`` set, payloads beyond the limit are not kept and counted in
    ``dropped``; frames that could not be understood are always kept.

    Memory: a frame whose payload is kept costs its payload plus a 26-byte row.
    A frame whose payload is dropped keeps only its receive time, as a 4-byte
    delta from the previous dropped frame (an escape table holds the rare delta
    of 4.3 s or more), and its connection and text flag as change points, so a
    capture with ``raw_limit=0`` holds ~4 B per frame here. :meth:`columns`
    rebuilds one row per frame, in receive order, either way (dropped payloads
    empty, size 0).
    """

    def __init__(self, limit_bytes: int | None = None) -> None:
        self.data = bytearray()
        self.rows = ColumnBuffer(RAW_STREAM_SCHEMA)
        self.errors: list[int] = []
        self.limit = limit_bytes
        self.dropped = 0
        #: Receive-time deltas (ns) of the dropped frames, uint32.
        self._deltas = array("I")
        #: Dropped index → absolute receive time, where the delta did not fit.
        self._bases: dict[int, int] = {}
        #: (dropped index, connection, text) wherever connection or text changes.
        self._changes: list[tuple[int, int, bool]] = []
        self._drop_ns = 0
        self._drop_key: tuple[int, bool] | None = None
        self._kept = 0
        self._last: tuple[int, int, bool] | None = None
        self._append = self.rows.append
        self._add_delta = self._deltas.append

    def add(self, frame: bytes | str, local_ns: int, connection: int) -> int:
        """Keep one frame; return its kept row number, or -1 if its payload was dropped."""
        if isinstance(frame, str):
            text, payload = True, frame.encode()
        else:
            text, payload = False, frame
        data = self.data
        offset = len(data)
        limit = self.limit
        if limit is None or offset + len(payload) <= limit:
            data += payload
            row = self._kept
            self._append(local_ns, connection, offset, len(payload), text, False)
            self._kept = row + 1
            return row
        index = self.dropped
        self.dropped = index + 1
        delta = local_ns - self._drop_ns
        if index == 0 or delta > _DELTA_MAX:
            self._bases[index] = local_ns
            delta = 0
        self._add_delta(delta)
        self._drop_ns = local_ns
        if self._drop_key != (connection, text):
            self._drop_key = (connection, text)
            self._changes.append((index, connection, text))
        self._last = (local_ns, connection, text)
        return -1

    def mark_error(self, row: int, frame: bytes | str) -> None:
        """Flag a frame as not understood (``row`` from :meth:`add`); keep its payload
        even past the limit."""
        if row >= 0:
            self.errors.append(row)
            return
        if self._last is None:  # pragma: no cover - add() always precedes
            return
        local_ns, connection, text = self._last
        # Undo the dropped entry add() just made, then keep the frame in full.
        index = self.dropped - 1
        self.dropped = index
        self._deltas.pop()
        self._bases.pop(index, None)
        if self._changes and self._changes[-1][0] == index:
            self._changes.pop()
            self._drop_key = self._changes[-1][1:] if self._changes else None
        self._drop_ns = self._dropped_time(index - 1) if index else 0
        payload = frame.encode() if isinstance(frame, str) else frame
        row = self._kept
        self._append(local_ns, connection, len(self.data), len(payload), text, False)
        self.data += payload
        self._kept = row + 1
        self.errors.append(row)
        self._last = None

    def _dropped_time(self, index: int) -> int:
        """Receive time of one dropped frame (slow; used only after an undo)."""
        return int(self._dropped_times()[index])

    def _dropped_times(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        deltas = np.frombuffer(self._deltas, dtype=np.uint32).astype(np.int64)
        out = np.empty(len(deltas), dtype=np.int64)
        starts = sorted(self._bases)
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(deltas)
            segment = deltas[start:end].copy()
            segment[0] = self._bases[start]
            out[start:end] = np.cumsum(segment)
        return out

    def __len__(self) -> int:
        return self._kept + self.dropped

    @property
    def nbytes(self) -> int:
        """Bytes held (payloads + rows)."""
        return (
            len(self.data)
            + self.rows.nbytes
            + self._deltas.buffer_info()[1] * self._deltas.itemsize
        )

    def columns(self) -> tuple[dict[str, Any], list[bytes]]:
        """Row columns (with the ``error`` flags set) and the payloads, in receive order."""
        kept = self.rows.columns()
        error = np.zeros(self._kept, dtype=bool)
        error[self.errors] = True
        view = bytes(self.data)
        offsets = np.asarray(kept["offset"]).tolist()
        sizes = np.asarray(kept["size"]).tolist()
        payloads = [view[o : o + s] for o, s in zip(offsets, sizes, strict=True)]
        cols: dict[str, Any] = {
            "local_timestamp": np.asarray(kept["local_timestamp"]),
            "connection": np.asarray(kept["connection"]),
            "offset": np.asarray(kept["offset"]),
            "size": np.asarray(kept["size"]),
            "text": np.asarray(kept["text"]),
            "error": error,
        }
        if not self.dropped:
            return cols, payloads
        n = self.dropped
        where = np.array([c[0] for c in self._changes], dtype=np.int64)
        pick = np.searchsorted(where, np.arange(n), side="right") - 1
        dropped = {
            "local_timestamp": self._dropped_times(),
            "connection": np.array([c[1] for c in self._changes], dtype=np.int32)[pick],
            "offset": np.zeros(n, dtype=np.int64),
            "size": np.zeros(n, dtype=np.int32),
            "text": np.array([c[2] for c in self._changes], dtype=bool)[pick],
            "error": np.zeros(n, dtype=bool),
        }
        order = np.argsort(
            np.concatenate([cols["local_timestamp"], dropped["local_timestamp"]]), kind="stable"
        )
        merged = {k: np.concatenate([cols[k], dropped[k]])[order] for k in cols}
        payloads += [b""] * n
        return merged, [payloads[i] for i in order.tolist()]


class Engine:
    """Runs one capture: see the module docstring.

    Parameters
    ----------
    spec : StreamSpec
        The venue's stream protocol.
    url : str
        WebSocket URL (``wss://`` or ``ws://``).
    subscriptions : sequence of Subscription
        From ``spec.plan``.
    seconds : float or None
        Time box; None runs until ``max_messages`` or :meth:`stop`.
    max_messages : int or None
        Stop after this many data messages.
    credentials : mapping
        For ``spec.auth``; never logged.
    silence_timeout : float, optional
        Seconds without a frame before reconnecting; the venue's default otherwise.
    raw_limit : int or None, default 256 MiB
        Bytes of raw payload to keep (None: all). Past it, payloads are counted
        (``stats["raw_dropped"]``) rather than kept, so a long capture's memory stays
        bounded by its rows; frames that could not be understood are always kept.
    backoff : (float, float)
        First and largest reconnect delay in seconds (jittered).
    open_timeout : float
        Seconds allowed for the TCP/TLS/WebSocket handshake.
    """

    def __init__(
        self,
        spec: StreamSpec,
        url: str,
        subscriptions: Sequence[Subscription],
        *,
        seconds: float | None,
        max_messages: int | None = None,
        credentials: Mapping[str, str] | None = None,
        silence_timeout: float | None = None,
        raw_limit: int | None = DEFAULT_RAW_LIMIT,
        backoff: tuple[float, float] = (0.2, 5.0),
        open_timeout: float = 10.0,
    ) -> None:
        self.spec = spec
        self.url = url
        self.subscriptions = tuple(subscriptions)
        self.seconds = seconds
        self.max_messages = max_messages
        self._credentials = dict(credentials or {})
        self.silence_timeout = silence_timeout or spec.silence_timeout
        self.backoff = backoff
        self.open_timeout = open_timeout
        self.tables = StreamTables()
        self.raw = RawStore(raw_limit)
        self.stats = StreamStats()
        self.stats.per_channel = {s.key: 0 for s in self.subscriptions}
        self.router = spec.router(self.subscriptions, self.tables)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._stop_reason: str | None = None
        self._abort_reason: str | None = None
        self._last_ns = 0
        self._open_gap: dict[str, Any] | None = None
        self._last_error: str | None = None

    # -- control ------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the capture to end soon, keeping what it has (safe from any thread)."""
        if self._loop is None:
            self._stopping, self._stop_reason = True, reason
            return
        self._loop.call_soon_threadsafe(self._stop, reason)

    def _stop(self, reason: str) -> None:
        if self._stopping:
            return
        self._stopping, self._stop_reason = True, reason
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def run(self) -> None:
        """Capture until the time box, ``max_messages`` or :meth:`stop`.

        Raises
        ------
        NetworkError
            If no connection could ever be made.
        """
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self.stats.started_ns = time.time_ns()
        deadline = None
        if self.seconds is not None:
            deadline = self._loop.call_later(self.seconds, self._stop, "completed")
        try:
            if not self._stopping:
                await self._sessions()
        except asyncio.CancelledError:
            if not self._stopping or self._task is None:
                raise
            self._task.uncancel()
        finally:
            if deadline is not None:
                deadline.cancel()
            self.stats.ended_ns = time.time_ns()
            self._finish()
        if self.stats.connections == 0:
            raise NetworkError(
                f"{self.spec.venue}: could not connect to {self.url}: {self._last_error}"
            )

    def _finish(self) -> None:
        stats = self.stats
        stats.interrupted = self._stop_reason == "interrupted"
        if stats.interrupted:
            stats.outcome = "interrupted"
        elif stats.data_messages == 0 and stats.connections:
            stats.outcome = "no data"
            log.warning(
                "%s: connected %d time(s) but received no data in %.1f s (%d frames, "
                "%d server errors)",
                self.spec.venue,
                stats.connections,
                stats.duration,
                stats.messages,
                len(stats.server_errors),
            )
        else:
            stats.outcome = self._stop_reason or "completed"

    # -- connections --------------------------------------------------------------------
    async def _sessions(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

        headers, auth_messages = self.spec.auth(self._credentials)
        failures = 0
        while not self._stopping:
            try:
                ws = await connect(
                    self.url,
                    additional_headers=headers or None,
                    open_timeout=self.open_timeout,
                    ping_interval=None,  # keepalive is the venue's (spec), not RFC pings
                    close_timeout=1.0,
                    max_size=2**24,
                    user_agent_header="mdkit",
                )
            except InvalidURI as exc:
                self._last_error = str(exc)
                return
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                failures += 1
                self.stats.connect_failures += 1
                self._last_error = f"{type(exc).__name__}: {exc}"
                log.info("%s: connect failed (%s)", self.spec.venue, self._last_error)
                if self.stats.connections == 0 and failures >= MAX_CONNECT_FAILURES:
                    return
                await self._sleep_backoff(failures)
                continue
            self.stats.connections += 1
            if self.stats.connections > 1:
                self.stats.reconnects += 1
            connection = self.stats.connections
            got_data = self.stats.data_messages
            reason = "closed"
            try:
                await self._session(ws, connection, auth_messages)
            except ConnectionClosed as exc:
                reason = self._abort_reason or _close_reason(exc)
            except OSError as exc:
                reason = self._abort_reason or f"{type(exc).__name__}: {exc}"
            finally:
                self._abort_reason = None
                if self._stopping:
                    await ws.close()
            if self._stopping:
                return
            await ws.close()
            self._open_gap = {
                "start_ns": self._last_ns or time.time_ns(),
                "end_ns": None,
                "connection": connection,
                "reason": reason,
            }
            self.stats.gaps.append(self._open_gap)
            log.info(
                "%s: connection %d ended (%s); reconnecting", self.spec.venue, connection, reason
            )
            failures = 0 if self.stats.data_messages > got_data else failures + 1
            await self._sleep_backoff(failures)

    async def _sleep_backoff(self, attempt: int) -> None:
        first, cap = self.backoff
        delay = min(cap, first * 2 ** max(0, attempt - 1))
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    async def _session(self, ws: Any, connection: int, auth_messages: list[str]) -> None:
        for message in auth_messages:
            await ws.send(message)
        for message in self.spec.subscribe(self.subscriptions):
            await ws.send(message)
        watchdog = asyncio.get_running_loop().create_task(self._watch(ws))
        stats = self.stats
        per_channel = stats.per_channel
        handle = self.router.handle
        keep = self.raw.add
        recv = ws.recv
        time_ns = time.time_ns
        limit = self.max_messages if self.max_messages is not None else 1 << 62
        # First data frame of the capture, or the first after a reconnect: close the gap.
        pending = self._open_gap is not None or stats.first_data_ns is None
        last_ns = self._last_ns
        seen_kinds: set[str] = set()
        try:
            while True:
                frame = await recv()
                now = time_ns()
                if now <= last_ns:
                    now = last_ns + 1  # strictly increasing: one receive time per frame
                last_ns = now
                stats.messages += 1  # the watchdog reads it: frames are arriving
                stats.bytes += len(frame)
                row = keep(frame, now, connection)
                try:
                    kind, key, extra = handle(frame, now)
                except ProtocolError as exc:
                    stats.parse_errors += 1
                    self.raw.mark_error(row, frame)
                    text = str(exc)
                    if text[:60] not in seen_kinds:
                        seen_kinds.add(text[:60])
                        log.warning(
                            "%s: frame not understood, kept in .raw: %s", self.spec.venue, text
                        )
                    continue
                if kind == DATA:
                    count = stats.data_messages + 1
                    stats.data_messages = count
                    name = key or "?"
                    per_channel[name] = per_channel.get(name, 0) + 1
                    if pending:
                        pending = False
                        if self._open_gap is not None:
                            self._open_gap["end_ns"] = now
                            self._open_gap = None
                        if stats.first_data_ns is None:
                            stats.first_data_ns = now
                    if count >= limit:
                        self._stop("max_messages")
                        return
                elif kind == PING:
                    stats.pings += 1
                    if extra is not None:
                        await ws.send(extra)
                elif kind == ACK:
                    stats.acks += 1
                elif kind == PONG:
                    stats.pongs += 1
                elif kind == ERROR:
                    stats.server_errors.append(str(extra))
                    log.warning("%s: server error: %s", self.spec.venue, extra)
                elif kind == UNROUTED:
                    stats.unrouted += 1
                else:
                    stats.other += 1
        finally:
            self._last_ns = last_ns
            watchdog.cancel()

    async def _watch(self, ws: Any) -> None:
        """Silence watchdog and client keepalive for one connection."""
        # Frames are noticed by the message counter rather than a per-frame clock read
        # (that would cost every frame); a silence is so detected within one period
        # (<= 0.25 s) of ``silence_timeout``.
        silence = self.silence_timeout
        period = min(0.25, silence / 4)
        ping_every = self.spec.ping_interval
        seen = self.stats.messages
        last_rx = time.monotonic()
        next_ping = last_rx + ping_every if ping_every else None
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            if self.stats.messages != seen:
                seen = self.stats.messages
                last_rx = now
            idle = now - last_rx
            if idle > silence:
                self._abort_reason = (
                    f"silence: no frame for {idle:.1f} s"
                    if self.stats.messages
                    else f"silence: nothing received {idle:.1f} s after connecting"
                )
                log.info("%s: %s; dropping the connection", self.spec.venue, self._abort_reason)
                ws.transport.abort()
                return
            if next_ping is not None and ping_every and now >= next_ping:
                message = self.spec.client_ping(time.time())
                if message is not None:
                    await ws.send(message)
                next_ping = now + ping_every


def _close_reason(exc: Any) -> str:
    rcvd = getattr(exc, "rcvd", None)
    if rcvd is None:
        return "connection lost (no close frame)"
    text = f"closed by server (code {rcvd.code}"
    return text + (f", {rcvd.reason!r})" if rcvd.reason else ")")


def resolve_credentials(venue: str, given: Mapping[str, Any]) -> dict[str, str]:
    """Credentials from arguments, else ``MDKIT_<VENUE>_<NAME>``; only those that are set."""
    out: dict[str, str] = {}
    for name in CREDENTIAL_NAMES:
        value = config.credential(venue, name, given.get(name))
        if value:
            out[name] = value
    return out
