"""The live capture engine: a thin picows driver around the ingestion core.

A capture is one or more :class:`~mdkit.engine.plan.Stream` values (a venue, its
planned subscriptions, URLs and credentials). Everything about frames (rows,
gaps, stats, containment, resync budgets, redaction) happens in
:mod:`mdkit.engine.core`; this module only does the I/O around it:

- shards each venue's subscriptions over connections (:func:`~mdkit.engine.plan.shard`),
  one :class:`~mdkit.engine.driver.Driver` per connection slot;
- opens each connection (:mod:`mdkit.engine.transport`), asks the core for the
  session's login, and sends every :class:`~mdkit.engine.core.Transmit` through a
  per-connection pacer at the venue's message rate (keepalives first);
- reads the receive time of every frame and hands the frames of each read to
  :meth:`Core.receive_many <mdkit.engine.core.Core.receive_many>`, then carries out
  the actions it returns (send, resubscribe later, drop, fail, reply, finish);
- watches for silence and the login deadline, calls the session's timer;
- reconnects after any close with capped, jittered exponential backoff that resets
  only after a connection stayed healthy for :data:`HEALTHY_SECONDS`.

It stops at the time box, after ``max_messages`` data messages, on :meth:`Engine.stop`,
or on a fatal server error (the error is raised with ``.capture`` holding the data).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from mdkit.data.wire import DEFAULT_MAX_FRAME
from mdkit.engine.core import (
    Core,
    StreamStats,
    VenuePart,
)
from mdkit.engine.driver import HEALTHY_SECONDS, Driver
from mdkit.engine.plan import Plan, Stream, check_options, shard
from mdkit.engine.raw import DEFAULT_RAW_LIMIT, RawStore
from mdkit.errors import MdkitError, NetworkError
from mdkit.venues.base import Reply, Session, Venue

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

_TICK = 0.25


class Engine:
    """Runs one live capture: see the module docstring.

    Parameters
    ----------
    streams : sequence of Stream
        One per venue.
    seconds, max_messages, silence_timeout, backoff, raw_limit, open_timeout, max_frame
        As :func:`~mdkit.engine.plan.check_options` returns them.

    Attributes
    ----------
    core : Core
        The ingestion core: tables, raw store, stats, gaps.
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
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.core = Core(
            streams, raw_limit=raw_limit, max_messages=max_messages, max_frame=max_frame
        )
        self.streams = self.core.streams
        self.seconds = seconds
        self.max_messages = max_messages
        self.silence_timeout = silence_timeout
        self.backoff = backoff
        self.open_timeout = open_timeout
        self.links: list[Driver] = []
        for stream in self.streams:
            for endpoint, subs in shard(stream):
                link = self.core.link(stream.venue.key, endpoint, subs)
                self.links.append(Driver(self, link))
        #: No subscriptions at all: a request/response engine (mdkit.request, history).
        self._requests_only = not any(s.subscriptions for s in self.streams)
        self.last_error: str | None = None
        self.stopping = False
        self.stop_reason: str | None = None
        self._reconnect_times: deque[float] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done = asyncio.Event()

    @classmethod
    def from_plan(cls, plan: Plan) -> Engine:
        """The engine of a validated request (:func:`mdkit.engine.plan.plan`)."""
        return cls(plan.streams, **plan.options)

    # -- what the core holds ------------------------------------------------------------
    @property
    def stats(self) -> StreamStats:
        """The capture's counters."""
        return self.core.stats

    @property
    def parts(self) -> dict[str, VenuePart]:
        """Venue key → its tables and counters."""
        return self.core.parts

    @property
    def raw(self) -> RawStore:
        """The raw frames received since the last :meth:`drain`."""
        return self.core.raw

    @property
    def connection_venues(self) -> dict[int, str]:
        """Connection number → venue key."""
        return self.core.connection_venues

    @property
    def connection_slots(self) -> dict[int, int]:
        """Connection number → its slot among the venue's connections (for replay)."""
        return self.core.connection_slots

    @property
    def data_total(self) -> int:
        """Data messages received."""
        return self.core.data_total

    @property
    def error(self) -> MdkitError | None:
        """The fatal error that ended the capture, if any."""
        return self.core.error

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
        self._done.set()

    def fail(self, error: MdkitError) -> None:
        """End the capture with a fatal error (raised by :meth:`run`, data kept)."""
        self.core.fail(error)
        self._stop("error")

    async def run(self) -> None:
        """Capture until the time box, ``max_messages``, :meth:`stop` or a fatal error.

        Raises
        ------
        NetworkError
            If no connection could ever be made (naming the cause).
        MdkitError
            A fatal server error (``AuthError`` for a refused login...).
        """
        self._loop = asyncio.get_running_loop()
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
            self._finish()
        if self.error is not None:
            raise self.error
        if self.stats.connections == 0:
            raise NetworkError(self.last_error or "could not connect")

    def _finish(self) -> None:
        for link in self.links:
            link.flush()  # a read still waiting to be handled
        stats = self.stats
        self.core.finish(time.time_ns())
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
            place), and the gaps closed since then as dicts (open gaps stay).
        """
        rows, raw, gaps = self.core.drain()
        return rows, raw, [g.as_dict() for g in gaps]

    # -- bookkeeping --------------------------------------------------------------------
    def silence_for(self, venue: Venue, session: Session | None = None) -> float:
        if self.silence_timeout:
            return self.silence_timeout
        return max(venue.silence_timeout, session.silence_floor if session else 0.0)

    def note_reconnect(self) -> None:
        now = time.monotonic()
        times = self._reconnect_times
        times.append(now)
        while times and now - times[0] > 10.0:
            times.popleft()
        rate = len(times) / 10.0
        self.stats.worst_reconnect_rate = max(self.stats.worst_reconnect_rate, rate)

    # -- request/response ---------------------------------------------------------------
    async def ready(self, timeout: float) -> Driver:
        """Wait (no polling) until the first connection is logged in; return it.

        Raises
        ------
        NetworkError
            If the capture ends first or ``timeout`` seconds pass, with the last
            connection error.
        """
        link = self.links[0]
        if not link.ready.is_set():
            waiters = [
                asyncio.ensure_future(link.ready.wait()),
                asyncio.ensure_future(self._done.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if link.ready.is_set() and link.link.session is not None and not self.stopping:
            return link
        last = f" (last error: {self.last_error})" if self.last_error else ""
        if self.stopping:
            raise NetworkError(f"{link.stream.venue.key}: the connection ended{last}")
        raise NetworkError(
            f"{link.stream.venue.key}: no ready connection within {timeout:g} s{last}"
        )

    async def call(self, method: str, params: Mapping[str, Any], *, timeout: float = 15.0) -> Reply:
        """Send one request over the first connection (once ready) and await its reply.

        Raises
        ------
        NetworkError
            If no reply comes within ``timeout`` seconds or the connection ends first.
        """
        link = await self.ready(timeout + self.open_timeout)
        request_id = f"{int(time.time() * 1000) % 10**9}{random.randrange(10**6):06d}"
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        link.requests[request_id] = future
        link.carry(self.core.request(link.link, method, params, request_id, _time_ns()))
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            link.requests.pop(request_id, None)
            raise NetworkError(
                f"{link.stream.venue.key}: no reply to {method!r} within {timeout:g} s"
            ) from None
