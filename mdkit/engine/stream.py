"""The capture engine: connections, pacing, reconnects and events, for every venue.

A capture is one or more :class:`Stream` values (a venue, its planned
subscriptions, URLs and credentials). The engine:

- shards each venue's subscriptions over as many connections as its limits require
  (and public vs private endpoints), :func:`shard`;
- opens each connection (:mod:`mdkit.engine.transport`, picows), builds the venue's
  :class:`~mdkit.venues.base.Session` for it, sends its login, waits for
  :class:`~mdkit.venues.base.Ready`, then subscribes; every send goes through a
  per-connection pacer at the venue's message rate (keepalives first);
- hands every received frame to the session (rows go straight into the capture's
  tables), keeps it in the raw store with a strictly increasing receive time, and
  acts on the session's events (resubscribe, gaps, errors, rate limits, replies);
- watches for silence, calls each session's ``timer`` for keepalives;
- reconnects after any close with capped, jittered exponential backoff that resets
  only after a connection stayed healthy for :data:`HEALTHY_SECONDS` (a server that
  closes at once cannot cause a storm), logs in afresh (a new timestamp) and
  subscribes again; every interruption is a gap, always closed (by the next data or
  by the end of the capture). Rows received before a reconnect are never discarded.

It stops at the time box, after ``max_messages`` data messages, on :meth:`Engine.stop`,
or on a fatal server error (the error is raised with ``.capture`` holding the data).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mdkit.data.tables import Tables
from mdkit.engine.raw import DEFAULT_RAW_LIMIT, RawStore
from mdkit.errors import (
    AuthError,
    InvalidArgument,
    MdkitError,
    NetworkError,
    ProtocolError,
    VenueError,
)
from mdkit.venues.base import (
    Counters,
    Credentials,
    Event,
    Gap,
    RateLimits,
    Ready,
    Reconnect,
    Recovered,
    Reply,
    Resubscribe,
    Send,
    ServerError,
    Session,
    SessionSetup,
    Subscription,
    Venue,
)

__all__ = [
    "DEFAULT_RAW_LIMIT",
    "HEALTHY_SECONDS",
    "Engine",
    "Stream",
    "StreamStats",
    "check_options",
    "shard",
]

log = logging.getLogger("mdkit.engine.stream")
_time_ns = time.time_ns

#: A connection that lived this long resets the reconnect backoff.
HEALTHY_SECONDS = 10.0
#: Consecutive failed connection attempts, with no connection ever made, before giving up.
MAX_CONNECT_FAILURES = 5
#: Share of a venue's message rate the pacer uses (the venue counts arrivals, we departures).
PACE_MARGIN = 0.8
#: Seconds a login may take before the connection is redone.
LOGIN_TIMEOUT = 10.0
_TICK = 0.25


@dataclass(frozen=True)
class Stream:
    """One venue's part of a capture, validated.

    Attributes
    ----------
    venue : Venue
    subscriptions : tuple of Subscription
    urls : mapping of str to str
        Endpoint name → URL.
    credentials : Credentials
    headers : mapping of str to str
        Extra handshake headers per connection (built by the caller from credentials
        where the venue authenticates in the handshake).
    """

    venue: Venue
    subscriptions: tuple[Subscription, ...]
    urls: Mapping[str, str]
    credentials: Credentials = field(default_factory=Credentials)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass
class StreamStats:
    """Counters of one capture (see ``Capture.stats``)."""

    messages: int = 0
    bytes: int = 0
    parse_errors: int = 0
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    resyncs: int = 0
    server_errors: list[str] = field(default_factory=list)
    rate_limits: dict[str, Any] = field(default_factory=dict)
    gaps: list[dict[str, Any]] = field(default_factory=list)
    started_ns: int = 0
    ended_ns: int = 0
    outcome: str = "not started"
    interrupted: bool = False
    worst_reconnect_rate: float = 0.0

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        end = self.ended_ns or time.time_ns()
        return max(0.0, (end - self.started_ns) / 1e9) if self.started_ns else 0.0


def shard(stream: Stream) -> list[tuple[str, tuple[Subscription, ...]]]:
    """Split a venue's subscriptions into connections: (endpoint, subscriptions) each.

    Subscriptions go by endpoint, then in chunks of the venue's
    ``subscriptions_per_connection``.

    Raises
    ------
    InvalidArgument
        If the connections needed exceed the venue's ``connections`` limit.
    """
    limits = stream.venue.limits
    size = limits.subscriptions_per_connection or max(1, len(stream.subscriptions))
    by_endpoint: dict[str, list[Subscription]] = {}
    for sub in stream.subscriptions:
        by_endpoint.setdefault(sub.endpoint, []).append(sub)
    out: list[tuple[str, tuple[Subscription, ...]]] = []
    if not stream.subscriptions:
        return [("public", ())]  # a request/response connection
    for endpoint, subs in by_endpoint.items():
        for i in range(0, len(subs), size):
            out.append((endpoint, tuple(subs[i : i + size])))
    if limits.connections is not None and len(out) > limits.connections:
        raise InvalidArgument(
            f"{stream.venue.key}: {len(stream.subscriptions)} subscriptions need {len(out)} "
            f"connections ({size} per connection), past the venue's limit of "
            f"{limits.connections}; capture fewer symbols or channels"
        )
    return out


def check_options(
    *,
    seconds: Any,
    max_messages: Any,
    silence_timeout: Any = None,
    backoff: Any = (0.2, 5.0),
    raw_limit: Any = DEFAULT_RAW_LIMIT,
    open_timeout: Any = 10.0,
) -> dict[str, Any]:
    """Check every engine option before connecting; return them normalised.

    Raises
    ------
    InvalidArgument
        Naming the option and what is valid.
    """

    def number(name: str, value: Any, *, low: float, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"{name} must be a number of seconds, not {value!r}")
        if not (low < float(value) <= high) or math.isnan(value):
            raise InvalidArgument(
                f"{name} must be a finite number above {low:g}"
                + (f" and at most {high:g}" if high < math.inf else "")
                + f", not {value!r}"
            )
        return float(value)

    if max_messages is not None and (
        isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
    ):
        raise InvalidArgument(f"max_messages must be a positive integer, not {max_messages!r}")
    if seconds is None:
        if max_messages is None:
            raise InvalidArgument(
                "seconds=None needs max_messages (a capture must end); give one or both"
            )
        box = None
    else:
        box = number("seconds", seconds, low=0.0, high=365 * 86400)
    silence = (
        None if silence_timeout is None else number("silence_timeout", silence_timeout, low=0.0)
    )
    if (
        not isinstance(backoff, tuple | list)
        or len(backoff) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in backoff)
    ):
        raise InvalidArgument(
            f"backoff must be (first, largest) reconnect delays in seconds, not {backoff!r}"
        )
    first = number("backoff[0]", backoff[0], low=0.005, high=600)
    cap = number("backoff[1]", backoff[1], low=0.005, high=3600)
    if cap < first:
        raise InvalidArgument(f"backoff: the largest delay {cap:g} is below the first {first:g}")
    if raw_limit is not None and (
        isinstance(raw_limit, bool) or not isinstance(raw_limit, int) or raw_limit < 0
    ):
        raise InvalidArgument(
            f"raw_limit must be a number of bytes (int >= 0) or None, not {raw_limit!r}"
        )
    return {
        "seconds": box,
        "max_messages": max_messages,
        "silence_timeout": silence,
        "backoff": (first, cap),
        "raw_limit": raw_limit,
        "open_timeout": number("open_timeout", open_timeout, low=0.0, high=600),
    }


class _Link:
    """One connection slot of a capture: connects, runs a session, reconnects."""

    def __init__(
        self,
        engine: Engine,
        stream: Stream,
        part: _VenuePart,
        endpoint: str,
        subscriptions: tuple[Subscription, ...],
    ) -> None:
        self.engine = engine
        self.stream = stream
        self.part = part
        self.counters = part.counters
        self.endpoint = endpoint
        self.url = stream.urls[endpoint]
        self.subscriptions = subscriptions
        self.number = 0  # connection number of the current attempt
        self.connection: Any = None
        self.session: Session | None = None
        self.ready = asyncio.Event()
        self.closed_reason: str | None = None
        self.last_ns = 0
        self.opened_ns = 0
        self.opened = 0.0
        self.next_timer = 0.0
        self.login_deadline: float | None = None
        self.gap: dict[str, Any] | None = None
        self.resync_gaps: dict[Subscription, dict[str, Any]] = {}
        self.requests: dict[str, asyncio.Future[Reply]] = {}
        rate = stream.venue.limits.messages_per_second
        self.interval = 1.0 / (rate * PACE_MARGIN) if rate else 0.0
        self.outbox: deque[str | bytes] = deque()
        self.next_send = 0.0
        self.pump_handle: asyncio.TimerHandle | None = None
        self.ever_connected = False
        self.early: list[tuple[bytes, bool]] = []
        self.task: asyncio.Task[None] | None = None

    # -- receiving (hot path) -------------------------------------------------------------
    def on_message(self, payload: bytes, text: bool) -> None:
        session = self.session
        if session is None:
            # A server that speaks first (iTick's greeting and auth) can deliver frames
            # with the handshake answer, before connect() returns and the session
            # exists: keep them for the session instead of losing them.
            self.early.append((payload, text))
            return
        engine = self.engine
        now = _time_ns()
        if now <= engine.last_ns:
            now = engine.last_ns + 1  # strictly increasing: one receive time per frame
        engine.last_ns = self.last_ns = now
        stats = engine.stats
        stats.messages += 1
        stats.bytes += len(payload)
        row = engine.raw_add(payload, now, self.number, text)
        counters = self.counters
        before = counters.data_messages
        try:
            events = session.receive(payload, now)
        except ProtocolError as exc:
            engine.parse_error(self, row, payload, exc)
            return
        if counters.data_messages != before:
            if self.gap is not None:
                self.gap["end_ns"] = now
                self.gap = None
            total = engine.data_total + counters.data_messages - before
            engine.data_total = total
            if total >= engine.limit:
                engine.stop("max_messages")
        if events:
            self.act(events, now)

    def act(self, events: Sequence[Event], now_ns: int) -> None:
        """Carry out a session's events."""
        engine = self.engine
        for event in events:
            if type(event) is Send:
                self.send(event.message, event.urgent)
            elif type(event) is Ready:
                self.login_deadline = None
                if not self.ready.is_set():
                    self.ready.set()
                    if self.subscriptions and self.session is not None:
                        self.act(self.session.subscribe(self.subscriptions), now_ns)
            elif type(event) is Resubscribe:
                engine.stats.resyncs += 1
                for sub in event.subscriptions:
                    if sub not in self.resync_gaps:
                        gap = engine.open_gap(self, now_ns, event.reason, (sub,))
                        self.resync_gaps[sub] = gap
                log.info(
                    "%s: resubscribing %d channel(s): %s",
                    self.stream.venue.key,
                    len(event.subscriptions),
                    event.reason,
                )
                if self.session is not None:
                    self.act(self.session.resubscribe(event.subscriptions), now_ns)
            elif type(event) is Recovered:
                for sub in event.subscriptions:
                    if sub in self.resync_gaps:
                        self.resync_gaps.pop(sub)["end_ns"] = now_ns
            elif type(event) is Gap:
                gap = engine.open_gap(self, event.start_ns, event.reason, event.subscriptions)
                gap["end_ns"] = event.end_ns
            elif type(event) is ServerError:
                engine.server_error(self, event)
            elif type(event) is RateLimits:
                engine.stats.rate_limits = {
                    str(f.get("name", i)): dict(f) for i, f in enumerate(event.figures)
                }
                if event.pace:
                    self.interval = max(self.interval, 1.0 / event.pace)
            elif type(event) is Reply:
                future = self.requests.pop(event.request_id, None)
                if future is not None and not future.done():
                    future.set_result(event)
            elif type(event) is Reconnect:
                self.drop(event.reason, abort=False)

    # -- sending --------------------------------------------------------------------------
    def send(self, message: str | bytes, urgent: bool = False) -> None:
        """Queue one message; the pacer sends it at the venue's rate."""
        if urgent:
            self.outbox.appendleft(message)
        else:
            self.outbox.append(message)
        if self.pump_handle is None:
            self.pump()

    def pump(self) -> None:
        self.pump_handle = None
        connection = self.connection
        if connection is None:
            return
        outbox = self.outbox
        now = time.monotonic()
        while outbox:
            if self.interval and now < self.next_send:
                self.pump_handle = self.engine.loop.call_later(self.next_send - now, self.pump)
                return
            connection.send(outbox.popleft())
            if self.interval:
                self.next_send = max(now, self.next_send) + self.interval

    # -- lifecycle ------------------------------------------------------------------------
    def drop(self, reason: str, *, abort: bool = True) -> None:
        if self.connection is None:
            return
        if abort:
            self.connection.abort(reason)
        else:
            self.connection.close(reason)

    def on_closed(self, reason: str) -> None:
        self.closed_reason = reason

    async def run(self) -> None:
        """Connect, run the session, reconnect, until the engine stops."""
        from mdkit.engine import transport

        engine = self.engine
        venue = self.stream.venue
        attempt = 0
        failures = 0
        while not engine.stopping:
            listener = transport.Listener(self.on_message, self.on_closed)
            self.closed_reason = None
            self.early = []
            try:
                connection = await transport.connect(
                    self.url,
                    listener,
                    headers=self.stream.headers,
                    timeout=engine.open_timeout,
                )
            except AuthError as exc:  # credentials refused at the handshake: no retry
                engine.fail(exc)
                return
            except NetworkError as exc:
                failures += 1
                engine.stats.connect_failures += 1
                engine.last_error = str(exc)
                log.info("%s: %s", venue.key, exc)
                if not self.ever_connected and failures >= MAX_CONNECT_FAILURES:
                    return
                await self.sleep_backoff(failures)
                continue
            failures = 0
            if engine.stopping:
                connection.close("stopped")
                return
            self.ever_connected = True
            engine.stats.connections += 1
            if engine.stats.connections > len(engine.links):
                engine.stats.reconnects += 1
                engine.note_reconnect()
            self.number = engine.stats.connections
            engine.connection_venues[self.number] = venue.key
            self.opened = time.monotonic()
            self.connection = connection
            self.ready.clear()
            self.outbox.clear()
            self.next_send = 0.0
            session = venue.session(
                SessionSetup(
                    venue=venue,
                    endpoint=self.endpoint,
                    subscriptions=self.subscriptions,
                    tables=self.part.tables,
                    counters=self.part.counters,
                    credentials=self.stream.credentials,
                    connection=self.number,
                )
            )
            self.session = session
            self.next_timer = self.opened + session.timer_interval
            self.login_deadline = self.opened + LOGIN_TIMEOUT
            self.last_ns = self.opened_ns = time.time_ns()
            try:
                self.act(session.open(self.last_ns), self.last_ns)
            except MdkitError as exc:  # e.g. credentials missing for a login
                engine.fail(exc)
                connection.close("stopped")
                return
            early, self.early = self.early, []
            for payload, text in early:  # frames that came with the handshake answer
                self.on_message(payload, text)
            await connection.wait_closed()
            lived = time.monotonic() - self.opened
            self.connection = None
            reason = self.closed_reason or "closed"
            if not engine.stopping:
                # The session may know that a reconnect cannot help (kicked by another
                # connection with the same token): its fatal ServerError stops the engine.
                ended = session.closed(reason, listener.close_code, time.time_ns())
                if ended:
                    self.act(ended, time.time_ns())
            self.session = None
            if self.pump_handle is not None:
                self.pump_handle.cancel()
                self.pump_handle = None
            for future in self.requests.values():
                if not future.done():
                    future.set_exception(
                        NetworkError(f"{venue.key}: connection closed before the reply")
                    )
            self.requests.clear()
            if engine.stopping:
                return
            self.gap = engine.open_gap(self, self.last_ns, reason, ())
            for gap in self.resync_gaps.values():
                gap["end_ns"] = self.last_ns
            self.resync_gaps.clear()
            log.info("%s: connection %d ended (%s); reconnecting", venue.key, self.number, reason)
            attempt = 0 if lived >= HEALTHY_SECONDS else attempt + 1
            await self.sleep_backoff(max(1, attempt))

    async def sleep_backoff(self, attempt: int) -> None:
        first, cap = self.engine.backoff
        delay = min(cap, first * 2 ** max(0, attempt - 1))
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def tick(self, now: float) -> None:
        """Silence watchdog, login deadline and the session's timer (every ``_TICK`` s)."""
        session = self.session
        if session is None or self.connection is None:
            return
        idle = (time.time_ns() - self.last_ns) / 1e9
        if idle > self.engine.silence_for(self.stream.venue, session):
            reason = (
                f"silence: nothing received {idle:.1f} s after connecting"
                if self.last_ns == self.opened_ns
                else f"silence: no frame for {idle:.1f} s"
            )
            log.info("%s: %s; dropping connection %d", self.stream.venue.key, reason, self.number)
            self.drop(reason)
            return
        if self.login_deadline is not None and now > self.login_deadline:
            self.drop(f"login not answered within {LOGIN_TIMEOUT:g} s")
            return
        if now >= self.next_timer:
            self.next_timer = now + session.timer_interval
            events = session.timer(time.time_ns())
            if events:
                self.act(events, time.time_ns())


@dataclass
class _VenuePart:
    """The tables and counters shared by every connection of one venue."""

    stream: Stream
    tables: Tables = field(default_factory=Tables)
    counters: Counters = field(default_factory=Counters)


class Engine:
    """Runs one capture: see the module docstring.

    Parameters
    ----------
    streams : sequence of Stream
        One per venue.
    seconds, max_messages, silence_timeout, backoff, raw_limit, open_timeout
        As :func:`check_options` returns them.
    """

    def __init__(
        self,
        streams: Sequence[Stream],
        *,
        seconds: float | None,
        max_messages: int | None = None,
        silence_timeout: float | None = None,
        raw_limit: int | None = DEFAULT_RAW_LIMIT,
        backoff: tuple[float, float] = (0.2, 5.0),
        open_timeout: float = 10.0,
    ) -> None:
        self.streams = tuple(streams)
        self.seconds = seconds
        self.max_messages = max_messages
        self.limit = max_messages if max_messages is not None else 1 << 62
        self.silence_timeout = silence_timeout
        self.backoff = backoff
        self.open_timeout = open_timeout
        self.raw = RawStore(raw_limit)
        self.raw_add = self.raw.add
        self.stats = StreamStats()
        self.parts = {s.venue.key: _VenuePart(s) for s in self.streams}
        self.links: list[_Link] = []
        for stream in self.streams:
            for endpoint, subs in shard(stream):
                self.links.append(_Link(self, stream, self.parts[stream.venue.key], endpoint, subs))
        self.data_total = 0
        #: No subscriptions at all: a request/response engine (mdkit.request, history).
        self._requests_only = not any(s.subscriptions for s in self.streams)
        self.connection_venues: dict[int, str] = {}
        self.last_ns = 0
        self.last_error: str | None = None
        self.stopping = False
        self.stop_reason: str | None = None
        self.error: MdkitError | None = None
        self._reconnect_times: deque[float] = deque()
        self._seen_errors: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Event | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    # -- control ------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the capture to end soon, keeping what it has (safe from any thread)."""
        loop = self._loop
        if loop is None:
            self.stopping, self.stop_reason = True, reason
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._stop(reason)
        else:
            loop.call_soon_threadsafe(self._stop, reason)

    def _stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping, self.stop_reason = True, reason
        for link in self.links:
            if link.connection is not None:
                link.drop("stopped", abort=False)
            elif link.task is not None:
                link.task.cancel()  # sleeping in backoff or still connecting
        if self._done is not None:
            self._done.set()

    def fail(self, error: MdkitError) -> None:
        """End the capture with a fatal error (raised by :meth:`run`, data kept)."""
        if self.error is None:
            self.error = error
        self._stop("error")

    async def run(self) -> None:
        """Capture until the time box, ``max_messages``, :meth:`stop` or a fatal error.

        Raises
        ------
        NetworkError
            If no connection could ever be made.
        MdkitError
            A fatal server error (``AuthError`` for a refused login...).
        """
        self._loop = asyncio.get_running_loop()
        self._done = asyncio.Event()
        self.stats.started_ns = time.time_ns()
        deadline = None
        if self.seconds is not None:
            deadline = self._loop.call_later(self.seconds, self._stop, "completed")
        if self.stopping:
            self._done.set()
        tasks = []
        for link in self.links:
            link.task = asyncio.ensure_future(link.run())
            tasks.append(link.task)
        ticker = asyncio.ensure_future(self._ticker())
        waiter = asyncio.ensure_future(self._done.wait())
        try:
            everything: asyncio.Future[Any] = asyncio.gather(*tasks, return_exceptions=True)
            pending: list[asyncio.Future[Any]] = [waiter, everything]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if not self.stopping:
                self._stop("no connection")
            await asyncio.wait_for(asyncio.shield(everything), timeout=5.0)
        except asyncio.CancelledError:
            self._stop("interrupted")
            raise
        except TimeoutError:
            log.warning("connections did not close within 5 s of the end")
        finally:
            if deadline is not None:
                deadline.cancel()
            ticker.cancel()
            waiter.cancel()
            for task in tasks:
                task.cancel()
            self.stats.ended_ns = time.time_ns()
            self._finish()
        if self.error is not None:
            raise self.error
        if self.stats.connections == 0:
            raise NetworkError(self.last_error or "could not connect")

    def _finish(self) -> None:
        stats = self.stats
        for gap in stats.gaps:
            if gap["end_ns"] is None:
                gap["end_ns"] = stats.ended_ns
        stats.interrupted = self.stop_reason == "interrupted"
        if stats.interrupted:
            stats.outcome = "interrupted"
        elif self.error is not None:
            stats.outcome = f"error: {type(self.error).__name__}"
        elif self.data_total == 0 and stats.connections and self._requests_only:
            stats.outcome = "completed"  # a request/response engine: no data expected
        elif self.data_total == 0 and stats.connections:
            stats.outcome = "no data"
            log.warning(
                "connected %d time(s) but received no data in %.1f s (%d frames, %d server errors)",
                stats.connections,
                stats.duration,
                stats.messages,
                len(stats.server_errors),
            )
        else:
            stats.outcome = self.stop_reason or "completed"

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(_TICK)
            now = time.monotonic()
            for link in self.links:
                link.tick(now)

    def drain(self) -> tuple[dict[str, dict[str, dict[str, Any]]], RawStore, list[dict[str, Any]]]:
        """Take what arrived so far, leaving the capture running with empty tables.

        For a long-running recorder (memory stays bounded). Call it on the engine's
        loop thread (between two frames): rows are never split or lost.

        Returns
        -------
        tuple
            ``{venue: {kind: columns}}`` (see :meth:`Tables.drain`), the raw store
            of the frames received since the last drain (a fresh one takes its
            place), and the gaps closed since then (open gaps stay until closed).
        """
        rows = {key: part.tables.drain() for key, part in self.parts.items()}
        raw, self.raw = self.raw, RawStore(self.raw.limit)
        self.raw_add = self.raw.add
        gaps = self.stats.gaps
        self.stats.gaps = [g for g in gaps if g["end_ns"] is None]
        return rows, raw, [g for g in gaps if g["end_ns"] is not None]

    # -- bookkeeping called by links ----------------------------------------------------
    def silence_for(self, venue: Venue, session: Session | None = None) -> float:
        if self.silence_timeout:
            return self.silence_timeout
        return max(venue.silence_timeout, session.silence_floor if session else 0.0)

    def open_gap(
        self, link: _Link, start_ns: int, reason: str, subscriptions: Sequence[Subscription]
    ) -> dict[str, Any]:
        gap: dict[str, Any] = {
            "start_ns": start_ns or time.time_ns(),
            "end_ns": None,
            "venue": link.stream.venue.key,
            "connection": link.number,
            "channels": ",".join(s.key for s in subscriptions),
            "reason": reason,
        }
        self.stats.gaps.append(gap)
        return gap

    def note_reconnect(self) -> None:
        now = time.monotonic()
        times = self._reconnect_times
        times.append(now)
        while times and now - times[0] > 10.0:
            times.popleft()
        rate = len(times) / 10.0
        self.stats.worst_reconnect_rate = max(self.stats.worst_reconnect_rate, rate)

    def parse_error(self, link: _Link, row: int, payload: bytes, exc: ProtocolError) -> None:
        self.stats.parse_errors += 1
        self.raw.mark_error(row, payload)
        text = str(exc)
        if text[:60] not in self._seen_errors:
            self._seen_errors.add(text[:60])
            log.warning("%s: frame not understood, kept in .raw: %s", link.stream.venue.key, text)

    def server_error(self, link: _Link, event: ServerError) -> None:
        key = link.stream.venue.key
        text = f"{key}: {event.message}" + (f" (code {event.code})" if event.code else "")
        self.stats.server_errors.append(text)
        log.warning("%s: server error: %s", key, event.message)
        if event.fatal:
            if issubclass(event.error, VenueError):
                self.fail(event.error(event.code or key, event.message))
            else:
                self.fail(event.error(text))

    # -- request/response ---------------------------------------------------------------
    async def call(self, method: str, params: Mapping[str, Any], *, timeout: float = 15.0) -> Reply:
        """Send one request over the first connection (once ready) and await its reply.

        Raises
        ------
        NetworkError
            If no reply comes within ``timeout`` seconds or the connection ends first.
        """
        link = self.links[0]
        try:
            async with asyncio.timeout(timeout + self.open_timeout):
                while link.session is None or not link.ready.is_set():
                    if self.stopping:
                        raise NetworkError(self.last_error or "the connection ended")
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise NetworkError(
                f"{link.stream.venue.key}: no ready connection within "
                f"{timeout + self.open_timeout:g} s"
                + (f" (last error: {self.last_error})" if self.last_error else "")
            ) from None
        request_id = f"{int(time.time() * 1000) % 10**9}{random.randrange(10**6):06d}"
        future: asyncio.Future[Reply] = self.loop.create_future()
        link.requests[request_id] = future
        assert link.session is not None
        link.act(link.session.request(method, params, request_id), time.time_ns())
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            link.requests.pop(request_id, None)
            raise NetworkError(
                f"{link.stream.venue.key}: no reply to {method!r} within {timeout:g} s"
            ) from None
