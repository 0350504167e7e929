"""The ingestion core: one frame in; rows, gaps, stats and actions out (sans-I/O).

Every WebSocket frame mdkit ingests goes through :meth:`Core.receive`, whoever
delivers it: the live connection (:mod:`mdkit.engine.stream`, a thin picows
driver), replay of recorded frames (:mod:`mdkit.store.replay`), request/response
calls and paged history. So replay equals live by construction.

Follow a frame from socket to row here:

1. the driver reads the receive time of each frame and, once the event loop has
   delivered the read, calls ``core.receive_many(link, payloads, times, text)`` with its
   frames (``link`` is one connection slot, :class:`Link`); a run of plain data pushes
   is read by the session in one call, anything else frame by frame through
   ``core.receive(link, payload, text, now_ns)`` — the same rows, raw frames and
   stats either way (replay feeds runs of recorded frames the same way);
2. the core makes the receive time strictly increasing, counts the frame, keeps it
   in the raw store (:class:`~mdkit.engine.raw.RawStore`), and hands it to the
   venue's session (:mod:`mdkit.venues`), which appends rows to the venue's tables;
3. anything the session raises makes the frame a **parse error** (kept in raw,
   counted per kind with the first text): no frame can break a connection;
4. data closes the connection's pending gap; the session's events become gap
   records (:class:`GapRecord`), stats, and **actions** for the driver:
   :class:`Transmit`, :class:`LoggedIn`, :class:`Later` (resubscribe after a delay),
   :class:`Drop`, :class:`Fail`, :class:`Answer`, :class:`Finish`, :class:`Pace`.

Resyncs are budgeted per channel (capped, jittered backoff) and per link within
the venue's ``subscribe_requests_per_hour``, counted across reconnects. Every
server text the core stores or logs has the session's credential values (and
the signatures its login sent) replaced by ``***``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from mdkit.data.wire import DEFAULT_MAX_FRAME
from mdkit.engine.link import Link, VenuePart
from mdkit.engine.plan import Stream
from mdkit.engine.raw import DEFAULT_RAW_LIMIT, RawStore
from mdkit.engine.records import (
    NO_ACTIONS,
    Action,
    Answer,
    Drop,
    ErrorCount,
    Fail,
    Finish,
    GapRecord,
    Later,
    LoggedIn,
    Pace,
    StreamStats,
    Transmit,
)
from mdkit.engine.signatures import learn_signatures
from mdkit.errors import MdkitError, ProtocolError, VenueError
from mdkit.venues.base import (
    NOTHING,
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
    SessionSetup,
    Subscription,
)

__all__ = [
    "Action",
    "Answer",
    "Core",
    "Drop",
    "ErrorCount",
    "Fail",
    "Finish",
    "GapRecord",
    "Later",
    "Link",
    "LoggedIn",
    "NO_ACTIONS",
    "Pace",
    "StreamStats",
    "Transmit",
    "VenuePart",
]

log = logging.getLogger("mdkit.engine")

#: First resync backoff (s) of a channel that broke again; it doubles per retry.
RESYNC_FIRST = 0.5
#: Largest resync backoff (s).
RESYNC_CAP = 30.0
#: A channel that has not needed a resync for this long (s) resyncs at once again.
RESYNC_RESET = 60.0
_HOUR_NS = 3600 * 10**9
_REDACTED = "***"
_int_lt = int.__lt__


# -- the core ----------------------------------------------------------------------------
class Core:
    """Turns received frames into rows, gaps, stats and actions (see the module docstring).

    Parameters
    ----------
    streams : sequence of Stream
        One per venue.
    raw_limit : int or None
        Bytes of raw payload kept (None: all).
    max_messages : int or None
        Data messages after which :meth:`receive` returns :class:`Finish`.
    max_frame : int
        Bytes one frame may inflate to (larger: a parse error).
    jitter : callable
        ``jitter() -> float`` in [0, 1) for the resync backoff (``random.random``).
    """

    def __init__(
        self,
        streams: Sequence[Stream],
        *,
        raw_limit: int | None = DEFAULT_RAW_LIMIT,
        max_messages: int | None = None,
        max_frame: int = DEFAULT_MAX_FRAME,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.streams = tuple(streams)
        self.parts = {s.venue.key: VenuePart(s) for s in self.streams}
        self.raw = RawStore(raw_limit)
        self.raw_add = self.raw.add
        self.stats = StreamStats()
        self.limit = max_messages if max_messages is not None else 1 << 62
        self.max_frame = max_frame
        self.jitter = jitter
        self.data_total = 0
        self.last_ns = 0
        self.connection_venues: dict[int, str] = {}
        #: Connection number -> the slot (:attr:`Link.slot`) it served.
        self.connection_slots: dict[int, int] = {}
        self._slots: dict[str, int] = {}
        self.error: MdkitError | None = None
        self._seen: set[str] = set()

    # -- connections ---------------------------------------------------------------------
    def link(self, venue: str, endpoint: str, subscriptions: tuple[Subscription, ...]) -> Link:
        """A new connection slot of ``venue`` holding these subscriptions."""
        slot = self._slots.get(venue, 0)
        self._slots[venue] = slot + 1
        return Link(self.parts[venue], endpoint, subscriptions, slot)

    def connect(self, link: Link, now_ns: int, number: int | None = None) -> Sequence[Action]:
        """A new connection on ``link``: number it, build its session, return its login.

        ``number`` is the recorded connection number (replay); live numbers count up.
        A session that cannot log in (credentials missing) returns :class:`Fail`.
        """
        stats = self.stats
        stats.connections += 1
        link.number = stats.connections if number is None else number
        self.connection_venues[link.number] = link.stream.venue.key
        self.connection_slots[link.number] = link.slot
        venue = link.stream.venue
        link.session = venue.session(
            SessionSetup(
                venue=venue,
                endpoint=link.endpoint,
                subscriptions=link.subscriptions,
                tables=link.part.tables,
                counters=link.counters,
                credentials=link.stream.credentials,
                connection=link.number,
                max_frame=self.max_frame,
            )
        )
        link.logged_in = False
        link.pending.clear()
        link.last_ns = now_ns
        try:
            events = link.session.open(now_ns)
        except MdkitError as exc:  # e.g. credentials missing for a login
            return [self._fail(exc)]
        learn_signatures(link, events)
        return self._act(link, events, now_ns)

    def closed(
        self, link: Link, reason: str, code: int | None, now_ns: int, *, stopping: bool
    ) -> Sequence[Action]:
        """The connection of ``link`` ended: its session's last word, and a gap.

        ``stopping``: the capture is ending (no gap, no reconnect).
        """
        session = link.session
        actions: Sequence[Action] = NO_ACTIONS
        reason = self.redact(link, reason)
        if session is not None and not stopping:
            # The session may know that a reconnect cannot help (kicked by another
            # connection with the same token): its fatal ServerError ends the capture.
            try:
                events = session.closed(reason, code, now_ns)
            except Exception as exc:  # noqa: BLE001 - a session bug must not stop the capture
                events = NOTHING
                log.warning("%s: session.closed failed: %r", link.stream.venue.key, exc)
            actions = self._act(link, events, now_ns) if events else NO_ACTIONS
        link.session = None
        link.pending.clear()
        if stopping:
            return actions
        if link.gap is None:
            link.gap = self.open_gap(link, link.last_ns, reason, ())
        else:  # lost again before any data came back: the same interruption goes on
            self.stats.reconnects_in_gap += 1
        for gap in link.resync_gaps.values():
            gap.end_ns = link.last_ns
        link.resync_gaps.clear()
        return actions

    # -- frames (hot path) ---------------------------------------------------------------
    def receive(self, link: Link, payload: bytes, text: bool, now_ns: int) -> Sequence[Action]:
        """One received frame of ``link``'s connection (receive time ``now_ns``)."""
        if now_ns <= self.last_ns:
            now_ns = self.last_ns + 1  # strictly increasing: one receive time per frame
        self.last_ns = link.last_ns = now_ns
        stats = self.stats
        stats.messages += 1
        stats.bytes += len(payload)
        row = self.raw_add(payload, now_ns, link.number, text)
        counters = link.counters
        before = counters.data_messages
        try:
            events = link.session.receive(payload, now_ns)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - containment: see the module docstring
            self.parse_error(link, row, payload, exc)
            return NO_ACTIONS
        if counters.data_messages != before:
            gap = link.gap
            if gap is not None:
                gap.end_ns = now_ns
                link.gap = None
            total = self.data_total + counters.data_messages - before
            self.data_total = total
            if total >= self.limit:
                return [Finish("max_messages"), *self._act(link, events, now_ns)]
        if events:
            return self._act(link, events, now_ns)
        return NO_ACTIONS

    def receive_many(
        self, link: Link, payloads: list[bytes], times: list[int], text: bool
    ) -> Sequence[Action]:
        """The frames of one read of ``link``'s connection, in arrival order (receive
        times ``times``): the same rows, raw frames, stats and actions as
        :meth:`receive` on each in turn.

        The session reads runs of plain data pushes in one call (:meth:`Session.receive_many
        <mdkit.venues.base.Session.receive_many>`); those frames are counted and kept in
        raw together, every other frame goes through :meth:`receive`.
        """
        n = len(payloads)
        session = link.session
        runs = (
            n > 1  # a lone frame costs less through receive()
            and session is not None
            and times[0] > self.last_ns
            and self.data_total + n < self.limit  # the limit is checked frame by frame
            and all(map(_int_lt, times, islice(times, 1, None)))  # strictly increasing
        )
        out: list[Action] = []
        receive = self.receive
        i = 0
        while i < n:
            if runs and n - i > 1:
                done = self._run(link, payloads, times, i, text)
                if done:
                    i += done
                    continue
            actions = receive(link, payloads[i], text, times[i])
            if actions:
                out += actions
            i += 1
        return out

    def _run(
        self, link: Link, payloads: list[bytes], times: list[int], start: int, text: bool
    ) -> int:
        """Let the session read a run of data pushes from ``start``; count and keep them."""
        counters = link.counters
        before = counters.data_messages
        try:
            done = link.session.receive_many(payloads, times, start)  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - a session bug: the frames go one by one
            log.exception("%s: receive_many failed; frames read one by one", link.stream.venue.key)
            return 0
        if done:
            end = start + done
            head = payloads if start == 0 and end == len(payloads) else payloads[start:end]
            self.last_ns = link.last_ns = times[end - 1]
            size = sum(map(len, head))
            stats = self.stats
            stats.messages += done
            stats.bytes += size
            self.raw.add_many(head, times[start:end], size, link.number, text)
            gap = link.gap
            if gap is not None:
                gap.end_ns = times[start]
                link.gap = None
            self.data_total += counters.data_messages - before
        return done

    def timer(self, link: Link, now_ns: int) -> Sequence[Action]:
        """The session's keepalives and anything else due."""
        if link.session is None:
            return NO_ACTIONS
        events = link.session.timer(now_ns)
        return self._act(link, events, now_ns) if events else NO_ACTIONS

    def request(
        self, link: Link, method: str, params: Mapping[str, Any], request_id: str, now_ns: int
    ) -> Sequence[Action]:
        """Messages of one request/response call on ``link`` (answered by :class:`Answer`)."""
        if link.session is None:
            return NO_ACTIONS
        return self._act(link, link.session.request(method, params, request_id), now_ns)

    def resubscribe(
        self, link: Link, subscriptions: Sequence[Subscription], now_ns: int
    ) -> Sequence[Action]:
        """Resubscribe now (after a :class:`Later`), if the connection is the same."""
        subs = tuple(s for s in subscriptions if s in link.pending)
        link.pending.difference_update(subs)
        if link.session is None or not subs:
            return NO_ACTIONS
        return self._subscribe(link, link.session.resubscribe(subs), now_ns)

    # -- events --------------------------------------------------------------------------
    def _act(self, link: Link, events: Iterable[Event], now_ns: int) -> list[Action]:
        out: list[Action] = []
        for event in events:
            kind = type(event)
            if kind is Send:
                out.append(Transmit(event.message, event.urgent))  # type: ignore[attr-defined]
            elif kind is Ready:
                if not link.logged_in and link.session is not None:
                    link.logged_in = True
                    out.append(LoggedIn())
                    if link.subscriptions:
                        sends = link.session.subscribe(link.subscriptions)
                        out += self._subscribe(link, sends, now_ns)
            elif kind is Resubscribe:
                out += self._resync(link, event, now_ns)  # type: ignore[arg-type]
            elif kind is Recovered:
                for sub in event.subscriptions:  # type: ignore[attr-defined]
                    gap = link.resync_gaps.pop(sub, None)
                    if gap is not None:
                        gap.end_ns = now_ns
            elif kind is Gap:
                gap = self.open_gap(link, event.start_ns, event.reason, event.subscriptions)  # type: ignore[attr-defined]
                gap.end_ns = event.end_ns  # type: ignore[attr-defined]
            elif kind is ServerError:
                action = self.server_error(link, event)  # type: ignore[arg-type]
                if action is not None:
                    out.append(action)
            elif kind is RateLimits:
                self.stats.rate_limits = {
                    str(f.get("name", i)): dict(f)
                    for i, f in enumerate(event.figures)  # type: ignore[attr-defined]
                }
                if event.pace:  # type: ignore[attr-defined]
                    out.append(Pace(1.0 / event.pace))  # type: ignore[attr-defined]
            elif kind is Reply:
                error = event.error  # type: ignore[attr-defined]
                if error is not None:  # the venue's text, quoted in an exception: redacted
                    error.args = tuple(
                        self.redact(link, a) if isinstance(a, str) else a for a in error.args
                    )
                out.append(Answer(event))  # type: ignore[arg-type]
            elif kind is Reconnect:
                out.append(Drop(self.redact(link, event.reason)))  # type: ignore[attr-defined]
        return out

    def _subscribe(self, link: Link, events: Sequence[Event], now_ns: int) -> list[Action]:
        """Subscribe sends, counted in the link's hourly budget."""
        budget = link.budget
        for event in events:
            if type(event) is Send:
                budget.append(now_ns)
        return self._act(link, events, now_ns)

    def _resync(self, link: Link, event: Resubscribe, now_ns: int) -> list[Action]:
        subs = tuple(s for s in event.subscriptions if s not in link.pending)
        if not subs:
            return []
        self.stats.resyncs += 1
        reason = self.redact(link, event.reason)
        opened = False
        for sub in subs:
            if sub not in link.resync_gaps:
                link.resync_gaps[sub] = self.open_gap(link, now_ns, reason, (sub,))
                opened = True
        if not opened:
            self.stats.resyncs_in_gap += 1
        delay = self.resync_delay(link, subs, now_ns)
        log.info(
            "%s: resubscribing %d channel(s) in %.1f s: %s",
            link.stream.venue.key,
            len(subs),
            delay,
            reason,
        )
        if delay <= 0 and link.session is not None:
            return self._subscribe(link, link.session.resubscribe(subs), now_ns)
        self.stats.resyncs_deferred += 1
        link.pending.update(subs)
        return [Later(delay, subs)]

    def resync_delay(self, link: Link, subs: Sequence[Subscription], now_ns: int) -> float:
        """Seconds to wait before resubscribing ``subs``: per-channel backoff (capped,
        jittered; at once after a quiet spell), and never past the link's hourly
        subscribe budget (the venue's ``subscribe_requests_per_hour``)."""
        attempt = 0
        for sub in subs:
            count, last = link.attempts.get(sub, (0, 0))
            count = count + 1 if now_ns - last < RESYNC_RESET * 1e9 else 0
            link.attempts[sub] = (count, now_ns)
            attempt = max(attempt, count)
        delay = 0.0
        if attempt:
            delay = min(RESYNC_CAP, RESYNC_FIRST * 2 ** (attempt - 1)) * (0.5 + 0.5 * self.jitter())
        allowed = link.stream.venue.limits.subscribe_requests_per_hour
        budget = link.budget
        while budget and now_ns - budget[0] >= _HOUR_NS:
            budget.popleft()
        if allowed is not None and len(budget) >= allowed:
            # Wait until the oldest request in the hour leaves the window.
            delay = max(delay, (budget[len(budget) - allowed] + _HOUR_NS - now_ns) / 1e9)
        return delay

    # -- bookkeeping ---------------------------------------------------------------------
    def open_gap(
        self, link: Link, start_ns: int, reason: str, subscriptions: Sequence[Subscription]
    ) -> GapRecord:
        """Record an open gap of ``link``'s current connection."""
        gap = GapRecord(
            start_ns=start_ns or time.time_ns(),
            end_ns=None,
            venue=link.stream.venue.key,
            connection=link.number,
            channels=",".join(s.key for s in subscriptions),
            reason=reason,
        )
        self.stats.gaps.append(gap)
        return gap

    def parse_error(self, link: Link, row: int, payload: bytes, exc: BaseException) -> None:
        """Count a frame that could not be understood, keep it in raw, log each kind once."""
        stats = self.stats
        stats.parse_errors += 1
        self.raw.mark_error(row, payload)
        kind = "protocol" if isinstance(exc, ProtocolError) else type(exc).__name__
        seen = stats.parse_error_kinds.get(kind)
        if seen is not None:
            seen.count += 1
            return
        text = self.redact(link, str(exc) or repr(exc))[:500]
        stats.parse_error_kinds[kind] = ErrorCount(1, text)
        log.warning(
            "%s: frame not understood (%s), kept in .raw: %s", link.stream.venue.key, kind, text
        )

    def server_error(self, link: Link, event: ServerError) -> Action | None:
        """Record a server error (redacted); a fatal one returns :class:`Fail`."""
        key = link.stream.venue.key
        message = self.redact(link, event.message)
        text = f"{key}: {message}" + (f" (code {event.code})" if event.code else "")
        self.stats.server_errors.append(text)
        if text not in self._seen:
            self._seen.add(text)
            log.warning("%s: server error: %s", key, message)
        if not event.fatal:
            return None
        if issubclass(event.error, VenueError):
            return self._fail(event.error(event.code or key, message))
        return self._fail(event.error(text))

    def _fail(self, error: MdkitError) -> Fail:
        self.fail(error)
        return Fail(error)

    def fail(self, error: MdkitError) -> None:
        """Record a fatal error (the first one wins)."""
        if self.error is None:
            self.error = error
            self.stats.error = f"{type(error).__name__}: {error}"

    def redact(self, link: Link, text: str) -> str:
        """``text`` with the link's credential values (and login signatures) replaced."""
        for secret in link.secrets.secrets():
            if secret in text:
                text = text.replace(secret, _REDACTED)
        return text

    def finish(self, ended_ns: int) -> None:
        """Close every open gap at the end of the capture."""
        self.stats.ended_ns = ended_ns
        for gap in self.stats.gaps:
            if gap.end_ns is None:
                gap.end_ns = ended_ns

    def drain(self) -> tuple[dict[str, dict[str, dict[str, Any]]], RawStore, list[GapRecord]]:
        """Take what arrived so far, leaving the capture running with empty tables.

        Returns
        -------
        tuple
            ``{venue: {kind: columns}}``, the raw store of the frames received since
            the last drain (a fresh one takes its place: every later frame goes into
            it), and the gaps closed since then (open gaps stay until closed).
        """
        rows = {key: part.tables.drain() for key, part in self.parts.items()}
        raw, self.raw = self.raw, RawStore(self.raw.limit)
        self.raw_add = self.raw.add
        gaps = self.stats.gaps
        self.stats.gaps = [g for g in gaps if g.end_ns is None]
        return rows, raw, [g for g in gaps if g.end_ns is not None]
