"""The sandbox's one WebSocket host: every venue server is a protocol class attached to it.

``ws://127.0.0.1:<port>/<venue>/<venue path>``: the host accepts a connection, routes
it by the first path segment to the :class:`VenueServer` of that key, and runs the
venue's ``serve(conn)`` on its own event loop (one daemon thread). Unknown venue or
path → HTTP 404 at the handshake. The host owns what every venue needs and no venue
should write again (SANDBOX_HOST.md):

- the thread, the loop, port 0 and a clean stop;
- the connection registry (``server.connections``, ``server.accepted``, how each ended);
- one send queue and one writer task per connection, so ``conn.send`` never blocks
  the venue's pushers; a client whose queue passes ``max_buffer`` bytes is a slow
  consumer and is closed with 1008 (the live servers drop such clients too);
- ``conn.last_received`` for the venues' idle-close rules;
- the shared faults (:data:`SHARED_FAULTS`), injected from any thread.

The connection side (send queue, batched writer, faults) is
:mod:`mdkit.sandbox.wsconn`: 2.7 µs of host-thread CPU per pushed frame, measured.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, ClassVar

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from mdkit.sandbox.http import FAULT_KINDS as HTTP_FAULTS
from mdkit.sandbox.http import Handler, HttpVenue
from mdkit.sandbox.market import Market
from mdkit.sandbox.wsconn import SHARED_FAULTS, Conn

__all__ = ["WsHost", "Conn", "VenueServer", "SHARED_FAULTS", "Route"]

log = logging.getLogger("mdkit.sandbox.wshost")

#: An HTTP route of a venue: a handler, or ``(handler, rate-limit group)``.
Route = Handler | tuple[Handler, str]


class _QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """websockets' server logger without its DEBUG trace.

    At DEBUG websockets logs every handshake header and frame, and those carry the
    clients' credentials (iTick's ``token`` header, login frames): the sandbox runs in
    the user's process, so it keeps them out of the user's logs. Connection events
    at INFO and above still log.
    """

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


class VenueServer:
    """Base of a venue's WebSocket server: the protocol, attached to a :class:`WsHost`.

    A subclass sets ``key`` (URL prefix), ``paths`` (WebSocket paths it serves),
    ``fault_kinds`` (its own faults, beside :data:`SHARED_FAULTS`), ``ws_env`` (env
    name → path, e.g. ``{"WS_URL": "/kline-api/ws"}``) and ``credentials`` (env name →
    demo value), and implements :meth:`serve`.
    """

    key: ClassVar[str] = ""
    paths: ClassVar[tuple[str, ...]] = ()
    fault_kinds: ClassVar[tuple[str, ...]] = ()
    ws_env: ClassVar[dict[str, str]] = {}
    credentials: ClassVar[dict[str, str]] = {}

    def __init__(self, market: Market, **options: Any) -> None:
        if options:
            raise TypeError(
                f"{type(self).__name__} takes no option {', '.join(map(repr, options))}"
            )
        self.market = market
        self.host: WsHost | None = None
        #: The venue's HTTP routes on the sandbox's HTTP host (set by :meth:`bind_http`).
        self.http: HttpVenue | None = None
        #: Live connections.
        self.connections: list[Conn] = []
        #: Connections accepted so far.
        self.accepted = 0
        #: How connections ended: "client closed", "slow consumer", "dropped", ...
        self.ended: list[str] = []
        self._pending: list[tuple[str, float, int]] = []

    # -- what a venue implements ------------------------------------------------------------
    async def serve(self, conn: Conn) -> None:
        """The per-connection protocol; return or raise to end the connection."""
        raise NotImplementedError

    def malformed(self) -> str | bytes:
        """This venue's broken frame for the ``malformed`` fault."""
        return '{"broken": '

    def on_fault(self, conn: Conn, kind: str, *, seconds: float, count: int) -> None:
        """Apply one of the venue's own ``fault_kinds`` to ``conn``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement fault {kind!r}")

    def process_request(self, path: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """Optional handshake check: ``(HTTP status, body)`` to refuse, None to accept."""
        return None

    def handles(self, path: str) -> bool:
        """Whether this server serves WebSocket ``path`` (default: one of ``paths``)."""
        return path in self.paths

    def routes(self) -> dict[tuple[str, str], Route]:
        """HTTP routes ``(METHOD, venue path) -> handler or (handler, rate group)``."""
        return {}

    def bind_http(self, http: HttpVenue) -> None:
        """Register :meth:`routes` on ``http`` (an :class:`~mdkit.sandbox.http.HttpVenue`)."""
        self.http = http
        for (method, path), route in self.routes().items():
            handler, group = route if isinstance(route, tuple) else (route, None)
            http.route(method, path, handler, limit=group)

    # -- provided -------------------------------------------------------------------------
    @property
    def kinds(self) -> tuple[str, ...]:
        """Every fault kind :meth:`inject` takes for this venue."""
        http = HTTP_FAULTS if self.http is not None else ()
        return SHARED_FAULTS + tuple(self.fault_kinds) + http

    def url(self, path: str = "") -> str:
        """``ws://host:port/<key><path>`` (the first of ``paths`` by default)."""
        if self.host is None:
            raise RuntimeError(f"{type(self).__name__} is not attached to a WsHost")
        return f"{self.host.url}/{self.key}{path or self.paths[0]}"

    @property
    def rest_url(self) -> str:
        """``http://host:port/<key>``: the venue's REST base on the sandbox's HTTP host."""
        if self.http is None:
            raise RuntimeError(f"{self.key} has no HTTP routes in this sandbox")
        return self.http.url

    @property
    def requests_served(self) -> int:
        """HTTP requests that reached this venue."""
        return 0 if self.http is None else self.http.requests_served

    @property
    def rate_limited(self) -> int:
        """HTTP requests this venue's rate limits refused."""
        return 0 if self.http is None else self.http.rate_limited

    def env(self) -> dict[str, str]:
        """``<NAME>: value`` (without ``MDKIT_<VENUE>_``) pointing a client at this server."""
        out = {name: self.url(path) for name, path in self.ws_env.items()}
        if self.http is not None and self.http.paths:
            out["REST_URL"] = self.rest_url
        return out | dict(self.credentials)

    def inject(
        self,
        kind: str,
        *,
        seconds: float = 2.0,
        count: int = 1,
        times: int | None = None,
        path: str | None = None,
        delay: float | None = None,
        retry_after: float | None = 0.05,
    ) -> None:
        """Inject a fault; thread-safe (SANDBOX_HOST.md "Shared fault kinds").

        WebSocket kinds hit every open connection of this venue, one that neither side
        has begun to close (or the next one if none is open); ``http_*`` kinds are
        queued on the HTTP host for this venue's next ``times`` (or ``count``)
        requests, to ``path`` if given.

        Parameters
        ----------
        kind : str
            One of :attr:`kinds`.
        seconds : float
            Length of a ``silence`` (and of an ``http_slow`` unless ``delay`` is given).
        count, times : int
            Pushes skipped (``gap``), broken frames (``malformed``), HTTP faults queued.
        path, delay, retry_after
            HTTP faults only: venue path to hit, ``http_slow`` delay, Retry-After header.

        Raises
        ------
        ValueError
            For an unknown kind or a bad count, naming the valid kinds.
        RuntimeError
            For a WebSocket kind while the host is not running.
        """
        if kind not in self.kinds:
            raise ValueError(
                f"unknown fault {kind!r} for {self.key}; valid: {', '.join(self.kinds)}"
            )
        n = count if times is None else times
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"count must be an int >= 0, not {n!r}")
        if kind.startswith("http_") and self.http is not None:
            self.http.inject(
                kind,
                times=n,
                path=path,
                delay=seconds if delay is None else delay,
                retry_after=retry_after,
            )
            return
        if self.host is None or self.host.loop is None:
            raise RuntimeError(f"the {self.key} WebSocket server is not running")
        self.host.loop.call_soon_threadsafe(self._inject, kind, float(seconds), n)

    def clear_faults(self) -> None:
        """Forget faults not applied yet (WebSocket ones waiting for a connection, HTTP ones)."""
        if self.http is not None:
            self.http.clear_faults()
        if self.host is not None and self.host.loop is not None:
            self.host.loop.call_soon_threadsafe(self._pending.clear)

    def _inject(self, kind: str, seconds: float, count: int) -> None:
        live = [c for c in self.connections if c.open]
        if not live:
            self._pending.append((kind, seconds, count))
        for conn in live:
            conn._apply(kind, seconds, count)

    def _opened(self, conn: Conn) -> None:
        self.accepted += 1
        self.connections.append(conn)
        for fault in self._pending:
            conn._apply(*fault)
        self._pending.clear()


class WsHost:
    """One ``websockets`` server on its own daemon thread and loop; venues attach to it.

    Parameters
    ----------
    host : str
        Address to bind (loopback by default).
    port : int
        0 picks a free port.
    max_buffer : int
        Bytes queued for one client beyond which it is cut off as a slow consumer.
    max_size : int
        Largest client message accepted.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_buffer: int = 4 * 2**20,
        max_size: int = 2**20,
    ) -> None:
        self.host = host
        self.port = port
        self.max_buffer = max_buffer
        self.max_size = max_size
        self.servers: dict[str, VenueServer] = {}
        #: Clients cut off as slow consumers, over every venue.
        self.slow_consumers = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._next_id = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<WsHost {self.url} {state} venues={list(self.servers)}>"

    @property
    def url(self) -> str:
        """``ws://host:port``."""
        return f"ws://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the serving thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def thread(self) -> threading.Thread | None:
        """The serving thread (None when stopped)."""
        return self._thread

    def attach(self, server: VenueServer) -> VenueServer:
        """Serve ``server`` under ``/<server.key>`` (returns it)."""
        if not server.key or "/" in server.key:
            raise ValueError(f"{type(server).__name__}.key must be one path segment")
        if server.key in self.servers:
            raise ValueError(f"a server for {server.key!r} is already attached")
        server.host = self
        self.servers[server.key] = server
        return server

    def connections(self) -> Iterator[Conn]:
        """Every live connection, over every venue."""
        for server in self.servers.values():
            yield from server.connections

    def start(self) -> WsHost:
        """Start serving in a daemon thread (returns self once listening)."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(self._main(ready))
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                ready.set()
            finally:
                self.loop = None
                loop.close()

        self._thread = threading.Thread(target=run, name="mdkit-sandbox-ws", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join(5)
            self._thread = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection, stop serving and join the thread."""
        loop, stopped, thread = self.loop, self._stopped, self._thread
        if loop is not None and stopped is not None and thread is not None:
            try:
                loop.call_soon_threadsafe(stopped.set)
            except RuntimeError:  # the loop closed meanwhile
                pass
            thread.join(10)
        self._thread = None

    # -- internals ------------------------------------------------------------------------
    async def _main(self, ready: threading.Event) -> None:
        self._stopped = asyncio.Event()
        server: Server
        async with serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            max_size=self.max_size,
            close_timeout=2,
            logger=_QuietLogger(logging.getLogger("websockets.server"), {}),
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            await self._stopped.wait()
            await self._close_all()

    async def _close_all(self) -> None:
        """Close every connection with 1001; abort those that do not finish in 2 s.

        A client that stopped reading would otherwise hold ``stop()`` (websockets waits
        for the socket to drain before its close timeout starts).
        """
        conns = [c for c in self.connections() if not c.closed]
        for conn in conns:
            conn._queue.clear()
            conn._queued = 0
            conn.end_reason = conn.end_reason or "sandbox stopped"
            conn.spawn(conn._ws.close(1001, "sandbox stopping"))
        if conns:
            await asyncio.wait(
                [asyncio.ensure_future(c._ws.wait_closed()) for c in conns], timeout=2
            )
        for conn in conns:
            conn._ws.transport.abort()  # no-op for those already closed

    def _route(self, target: str) -> tuple[VenueServer, str, str] | None:
        """``/<key>/<path>?<query>`` -> (server, "/<path>", query), or None if nobody serves it."""
        path, _, query = target.partition("?")
        parts = path.split("/", 2)  # "", key, rest
        server = self.servers.get(parts[1]) if len(parts) > 1 else None
        sub = "/" + (parts[2] if len(parts) > 2 else "")
        if server is None or not server.handles(sub):
            return None
        return server, sub, query

    def _process_request(self, ws: ServerConnection, request: Request) -> Response | None:
        found = self._route(request.path)
        if found is None:
            return ws.respond(HTTPStatus.NOT_FOUND, f"no WebSocket endpoint at {request.path}\n")
        server, sub, _ = found
        refused = server.process_request(sub, request.headers)
        if refused is not None:
            status, body = refused
            return ws.respond(HTTPStatus(status), body)
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        found = self._route(ws.request.path)
        if found is None:  # refused at the handshake already
            return
        server, sub, query = found
        self._next_id += 1
        conn = Conn(self, server, ws, self._next_id, sub, query)
        server._opened(conn)
        loop = asyncio.get_running_loop()
        writer = loop.create_task(conn._writer())
        serving = loop.create_task(server.serve(conn))
        # A venue may push without reading: the end of the connection, not only the end
        # of serve(), ends the handler.
        gone = loop.create_task(ws.wait_closed())
        try:
            await asyncio.wait((serving, gone), return_when=asyncio.FIRST_COMPLETED)
            if serving.done() and not gone.done():
                exc = serving.exception()
                if exc is not None and not isinstance(exc, ConnectionClosed):
                    log.error("%r: %s serve() failed", conn, server.key, exc_info=exc)
                    conn.end_reason = conn.end_reason or type(exc).__name__
                    conn.close(1011, "internal error")
                else:
                    conn.close()  # after the frames serve() queued
                await writer
                await ws.wait_closed()
        finally:
            conn.closed = True
            for task in (writer, serving, gone, *conn._tasks):
                task.cancel()
            conn._queue.clear()
            conn._queued = 0
            server.connections.remove(conn)
            if conn.end_reason is None:
                by_client = ws.protocol.close_rcvd_then_sent
                conn.end_reason = "client closed" if by_client else "connection lost"
            server.ended.append(conn.end_reason)
