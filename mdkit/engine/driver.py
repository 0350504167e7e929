"""The driver of one connection slot: connects, feeds the core, reconnects (live I/O).

The picows transport (:mod:`mdkit.engine.transport`) hands every complete frame to
:meth:`Driver.on_message`, which stamps its receive time and keeps it; once the
event loop has delivered the whole read (a ``call_soon`` callback, so before the
next read), :meth:`Driver.flush` passes the frames of that read to
:meth:`Core.receive_many <mdkit.engine.core.Core.receive_many>` in arrival order
and carries out the actions it returns. A close, and the end of the capture,
flush first: no frame is ever left behind or handled out of order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mdkit.engine.core import (
    Action,
    Answer,
    Drop,
    Fail,
    Finish,
    Later,
    Link,
    LoggedIn,
    Pace,
    Transmit,
)
from mdkit.errors import AuthError, NetworkError
from mdkit.venues.base import Reply

if TYPE_CHECKING:
    from mdkit.engine.stream import Engine

__all__ = ["HEALTHY_SECONDS", "LOGIN_TIMEOUT", "MAX_CONNECT_FAILURES", "PACE_MARGIN", "Driver"]

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


class Driver:
    """One connection slot of a live capture: connects, feeds the core, reconnects."""

    def __init__(self, engine: Engine, link: Link) -> None:
        self.engine = engine
        self.core = engine.core
        self._receive, self.link = engine.core.receive_many, link  # bound once (hot path)
        self.stream = link.stream
        self.url = link.stream.urls[link.endpoint]
        self.connection: Any = None
        self.ready = asyncio.Event()
        self.closed_reason: str | None = None
        self.opened_ns = 0
        self.opened = 0.0
        self.next_timer = 0.0
        self.login_deadline: float | None = None
        self.requests: dict[str, asyncio.Future[Reply]] = {}
        rate = link.stream.venue.limits.messages_per_second
        self.interval = 1.0 / (rate * PACE_MARGIN) if rate else 0.0
        self.outbox: deque[str | bytes] = deque()
        self.next_send = 0.0
        self.pump_handle: asyncio.TimerHandle | None = None
        self.ever_connected = False
        self.early: list[tuple[bytes, bool]] = []
        #: The frames of the read being delivered, their receive times and kind (text or
        #: binary; a change of kind flushes); ``flush`` runs once the read is delivered.
        self._payloads: list[bytes] = []
        self._times: list[int] = []
        self._text = True
        self._due = False
        self.task: asyncio.Task[None] | None = None

    # -- receiving (hot path) -------------------------------------------------------------
    def on_message(self, payload: bytes, text: bool) -> None:
        link = self.link
        if link.session is None:
            # A server that speaks first (iTick) can send frames with the handshake
            # answer, before connect() makes the session: kept for the session.
            self.early.append((payload, text))
            return
        payloads = self._payloads
        if payloads and text is not self._text:
            self.flush()
            payloads = self._payloads
        if not payloads:
            self._text = text
            if not self._due:
                self._due = True
                self.engine.loop.call_soon(self._flush_due)
        payloads.append(payload)
        self._times.append(_time_ns())

    def _flush_due(self) -> None:
        self._due = False
        self.flush()

    def flush(self) -> None:
        """Hand the frames kept so far to the core, in arrival order."""
        payloads = self._payloads
        if payloads:
            times = self._times
            self._payloads, self._times = [], []
            actions = self._receive(self.link, payloads, times, self._text)
            if actions:
                self.carry(actions)

    def carry(self, actions: Sequence[Action]) -> None:
        """Carry out the core's actions."""
        engine = self.engine
        for action in actions:
            if type(action) is Transmit:
                self.send(action.message, action.urgent)
            elif type(action) is LoggedIn:
                self.login_deadline = None
                self.ready.set()
            elif type(action) is Later:
                engine.loop.call_later(action.delay, self.resubscribe, action, self.link.number)
            elif type(action) is Drop:
                self.drop(action.reason, abort=action.abort)
            elif type(action) is Fail:
                engine.fail(action.error)
            elif type(action) is Answer:
                future = self.requests.pop(action.reply.request_id, None)
                if future is not None and not future.done():
                    future.set_result(action.reply)
            elif type(action) is Finish:
                engine.stop(action.reason)
            elif type(action) is Pace:
                self.interval = max(self.interval, action.interval)

    def resubscribe(self, later: Later, number: int) -> None:
        if self.connection is None or self.link.number != number or self.engine.stopping:
            return
        actions = self.core.resubscribe(self.link, later.subscriptions, _time_ns())
        if actions:
            self.carry(actions)

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
        self.flush()  # what came before the close is handled before it
        self.closed_reason = reason

    async def open(self, listener: Any) -> Any:
        """Open one connection; a handshake cut short by the end of the capture says so."""
        from mdkit.engine import transport

        started = time.monotonic()
        try:
            return await transport.connect(
                self.url, listener, headers=self.stream.headers, timeout=self.engine.open_timeout
            )
        except asyncio.CancelledError:
            host = urlsplit(self.url).netloc or self.url
            self.engine.last_error = (
                f"could not connect to {host}: the WebSocket handshake was not answered "
                f"within {time.monotonic() - started:.1f} s (the capture ended first)"
            )
            raise

    async def run(self) -> None:
        """Connect, run the session, reconnect, until the engine stops."""
        from mdkit.engine import transport

        engine = self.engine
        core = self.core
        link = self.link
        venue = self.stream.venue
        attempt = 0
        failures = 0
        while not engine.stopping:
            listener = transport.Listener(self.on_message, self.on_closed)
            self.closed_reason = None
            self.early = []
            try:
                connection = await self.open(listener)
            except AuthError as exc:  # credentials refused at the handshake: no retry
                engine.fail(exc)
                return
            except NetworkError as exc:
                failures += 1
                engine.stats.connect_failures += 1
                engine.last_error = core.redact(link, str(exc))
                log.info("%s: %s", venue.key, engine.last_error)
                if not self.ever_connected and failures >= MAX_CONNECT_FAILURES:
                    return
                await self.sleep_backoff(failures)
                continue
            failures = 0
            if engine.stopping:
                connection.close("stopped")
                return
            self.ever_connected = True
            if engine.stats.connections >= len(engine.links):
                engine.stats.reconnects += 1
                engine.note_reconnect()
            self.opened = time.monotonic()
            self.connection = connection
            self.ready.clear()
            self.outbox.clear()
            self.next_send = 0.0
            self.login_deadline = self.opened + LOGIN_TIMEOUT
            self.opened_ns = _time_ns()
            actions = core.connect(link, self.opened_ns)
            link.last_ns = self.opened_ns
            self.next_timer = self.opened + (link.session.timer_interval if link.session else 5.0)
            self.carry(actions)
            if engine.error is not None:
                connection.close("stopped")
                return
            early, self.early = self.early, []
            for payload, text in early:  # frames that came with the handshake answer
                self.on_message(payload, text)
            self.flush()
            await connection.wait_closed()
            self.flush()  # before the core hears of the close
            lived = time.monotonic() - self.opened
            self.connection = None
            reason = self.closed_reason or "closed"
            self.carry(
                core.closed(link, reason, listener.close_code, _time_ns(), stopping=engine.stopping)
            )
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
            log.info(
                "%s: connection %d ended (%s); reconnecting",
                venue.key,
                link.number,
                core.redact(link, reason),
            )
            attempt = 0 if lived >= HEALTHY_SECONDS else attempt + 1
            await self.sleep_backoff(max(1, attempt))

    async def sleep_backoff(self, attempt: int) -> None:
        first, cap = self.engine.backoff
        delay = min(cap, first * 2 ** max(0, attempt - 1))
        await asyncio.sleep(delay * random.uniform(0.5, 1.0))

    def tick(self, now: float) -> None:
        """Silence watchdog, login deadline and the session's timer (every ``_TICK`` s)."""
        link = self.link
        session = link.session
        if session is None or self.connection is None:
            return
        idle = (_time_ns() - link.last_ns) / 1e9
        if idle > self.engine.silence_for(self.stream.venue, session):
            reason = (
                f"silence: nothing received {idle:.1f} s after connecting"
                if link.last_ns == self.opened_ns
                else f"silence: no frame for {idle:.1f} s"
            )
            log.info("%s: %s; dropping connection %d", self.stream.venue.key, reason, link.number)
            self.drop(reason)
            return
        if self.login_deadline is not None and now > self.login_deadline:
            self.drop(f"login not answered within {LOGIN_TIMEOUT:g} s")
            return
        if now >= self.next_timer:
            self.next_timer = now + session.timer_interval
            actions = self.core.timer(link, _time_ns())
            if actions:
                self.carry(actions)
