"""The sandbox's one HTTP host: every venue under its own prefix, rate limits, faults.

``http://127.0.0.1:<port>/<venue>/<venue path>``: a venue registers its routes on
its :class:`HttpVenue` (``server.venue("cryptocom").route("GET", "/v1/klines", ...)``)
and its handlers see the venue path (``/v1/klines``), the way the live server would.
Rate-limit groups, fault queues and request counters are per venue.

Standard library only (``http.server``): the sandbox must not share code paths
with the client it tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Fault", "HttpRequest", "Reply", "HttpServer", "HttpVenue", "Handler", "FAULT_KINDS"]

log = logging.getLogger("mdkit.sandbox.http")

#: Faults a test can inject: ``http_429`` (text body, Retry-After), ``http_503``,
#: ``http_500``, ``http_malformed`` (200 with a broken JSON body), ``http_slow``
#: (answer after ``delay`` seconds), ``http_drop`` (close the connection without an
#: answer). All start with ``http_`` so that one ``inject`` per venue can route them
#: apart from the WebSocket kinds (``drop``, ``malformed``...).
FAULT_KINDS = ("http_429", "http_503", "http_500", "http_malformed", "http_slow", "http_drop")


@dataclass
class HttpRequest:
    """What a route handler sees: method, venue path, merged query/form params, client address.

    ``path`` is the path below the venue prefix (``/v1/klines``), as the live server sees it.
    """

    method: str
    path: str
    params: dict[str, str]
    client: str
    headers: dict[str, str]
    #: The parameters in the order they were sent (signature checks need the raw pairs).
    pairs: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Reply:
    """A route handler's answer."""

    status: int
    body: str | bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass
class Fault:
    """One injected fault, consumed by the next matching request."""

    kind: str
    prefix: str
    path: str | None = None
    delay: float = 0.0
    retry_after: float | None = 0.05


Handler = Callable[[HttpRequest], Reply]


class HttpServer:
    """Threaded HTTP host: one route table, per-venue prefixes, rate limits and fault queues.

    Parameters
    ----------
    host : str
        Address to bind (loopback by default).
    port : int
        0 picks a free port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        #: ``(METHOD, "/<venue>/<path>") -> (handler, rate group or None)``.
        self.routes: dict[tuple[str, str], tuple[Handler, str | None]] = {}
        self.limits: dict[str, tuple[int, float]] = {}
        self.venues: dict[str, HttpVenue] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.requests_served = 0
        #: Requests answered 429 by a rate limit (not by injected faults).
        self.rate_limited = 0
        #: Per venue key: requests served / rate limited (``""`` for no known venue).
        self.served_by: dict[str, int] = {}
        self.limited_by: dict[str, int] = {}
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; without TCP_NODELAY, Nagle plus
            # the client's delayed ACK stalls every keep-alive answer by ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                log.debug("%s %s", self.address_string(), format % args)  # noqa: UP031

            def _serve(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

        class _Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                # Clients that hang up (timeouts, dropped faults) are routine here.
                log.debug("connection from %s ended abruptly", client_address, exc_info=True)

        self._server = _Server((host, port), _Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the server (no venue prefix)."""
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}"

    def venue(self, key: str) -> HttpVenue:
        """The routes, limits and faults of venue ``key`` (created on first use)."""
        if key not in self.venues:
            if not key or "/" in key:
                raise ValueError(f"a venue key is one path segment, not {key!r}")
            self.venues[key] = HttpVenue(self, key)
        return self.venues[key]

    def route(self, method: str, path: str, handler: Handler, *, limit: str | None = None) -> None:
        """Serve ``method path`` (full path, prefix included) with ``handler``."""
        self.routes[(method.upper(), path)] = (handler, limit)

    def set_limit(self, group: str, rate: int, period: float = 1.0) -> None:
        """Allow ``rate`` requests per ``period`` seconds per client key in ``group``."""
        self.limits[group] = (rate, period)

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        prefix: str = "",
        path: str | None = None,
        delay: float = 1.0,
        retry_after: float | None = 0.05,
    ) -> None:
        """Queue ``times`` faults for the next requests under ``prefix`` (to ``path`` if given).

        Raises
        ------
        ValueError
            For a kind outside :data:`FAULT_KINDS` or a negative ``times``.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        if times < 0:
            raise ValueError(f"times must be >= 0, not {times!r}")
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(kind, prefix, path, delay, retry_after))

    def clear_faults(self, prefix: str = "") -> None:
        """Drop every queued fault (under ``prefix`` if given)."""
        with self._lock:
            keep = [f for f in self._faults if prefix and f.prefix != prefix]
            self._faults = deque(keep)

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mdkit-sandbox-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # -- internals -------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if not path.startswith(fault.prefix + "/") and fault.prefix:
                    continue
                if fault.path is None or fault.prefix + fault.path == path:
                    del self._faults[i]
                    return fault
        return None

    def over_limit(self, group: str, key: str) -> bool:
        """Count one request for ``key`` in ``group``; True if it exceeds the limit."""
        if group not in self.limits:
            return False
        rate, period = self.limits[group]
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault((group, key), deque())
            while window and now - window[0] >= period:
                window.popleft()
            if len(window) >= rate:
                return True
            window.append(now)
            return False

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            body = h.rfile.read(length).decode("utf-8", "replace")
            pairs += parse_qsl(body, keep_blank_values=True)
        key = parts.path.split("/", 2)[1] if parts.path.count("/") >= 1 else ""
        key = key if key in self.venues else ""
        with self._lock:
            self.requests_served += 1
            self.served_by[key] = self.served_by.get(key, 0) + 1
        fault = self._take_fault(parts.path)
        if fault is not None and fault.kind == "http_drop":
            h.close_connection = True
            h.connection.close()
            return
        if fault is not None and fault.kind == "http_slow":
            time.sleep(fault.delay)
            fault = None
        sub_path = parts.path[len(key) + 1 :] if key else parts.path
        request = HttpRequest(
            h.command, sub_path, dict(pairs), h.client_address[0], dict(h.headers.items()), pairs
        )
        reply = self._answer(request, parts.path, key, fault)
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        h.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(payload)

    def _answer(self, request: HttpRequest, path: str, key: str, fault: Fault | None) -> Reply:
        if fault is not None:
            return _fault_reply(fault)
        entry = self.routes.get((request.method, path))
        if entry is None:
            known = any(p == path for _, p in self.routes)
            status = 405 if known else 404
            return Reply(
                status, "Method Not Allowed" if known else "Not Found", content_type="text/plain"
            )
        handler, group = entry
        if group is not None and self.over_limit(group, request.client):
            with self._lock:
                self.rate_limited += 1
                self.limited_by[key] = self.limited_by.get(key, 0) + 1
            return Reply(429, "Too Many Requests", {"Retry-After": "1"}, "text/plain")
        try:
            return handler(request)
        except Exception:  # noqa: BLE001 - a sandbox bug must answer 500, not hang
            log.exception("sandbox handler failed for %s %s", request.method, path)
            return Reply(500, "Internal Server Error", content_type="text/plain")


class HttpVenue:
    """One venue's view of the :class:`HttpServer`: routes, limits and faults under ``/<key>``.

    Paths given here are venue paths (``/v1/klines``); rate-limit groups are the
    venue's own (``"market"`` of one venue is not another's).
    """

    def __init__(self, server: HttpServer, key: str) -> None:
        self.server = server
        self.key = key
        self.prefix = f"/{key}"

    @property
    def url(self) -> str:
        """``http://host:port/<key>``: the venue's REST base URL."""
        return self.server.url + self.prefix

    @property
    def paths(self) -> list[tuple[str, str]]:
        """The ``(METHOD, venue path)`` pairs routed so far."""
        n = len(self.prefix)
        return [(m, p[n:]) for m, p in self.server.routes if p.startswith(self.prefix + "/")]

    @property
    def requests_served(self) -> int:
        """Requests that reached this venue's prefix (faults included)."""
        return self.server.served_by.get(self.key, 0)

    @property
    def rate_limited(self) -> int:
        """Requests this venue's rate limits answered 429."""
        return self.server.limited_by.get(self.key, 0)

    def route(self, method: str, path: str, handler: Handler, *, limit: str | None = None) -> None:
        """Serve ``method /<key><path>`` with ``handler``, counted in rate group ``limit``."""
        if not path.startswith("/"):
            raise ValueError(f"a route path starts with '/', not {path!r}")
        group = None if limit is None else f"{self.key}:{limit}"
        self.server.route(method, self.prefix + path, handler, limit=group)

    def set_limit(self, group: str, rate: int, period: float = 1.0) -> None:
        """Allow ``rate`` requests per ``period`` seconds per client key in ``group``."""
        self.server.set_limit(f"{self.key}:{group}", rate, period)

    def over_limit(self, group: str, key: str) -> bool:
        """Count one request for ``key`` in ``group``; True if it exceeds the limit."""
        return self.server.over_limit(f"{self.key}:{group}", key)

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        path: str | None = None,
        delay: float = 1.0,
        retry_after: float | None = 0.05,
    ) -> None:
        """Queue ``times`` faults for this venue's next requests (to venue ``path`` if given)."""
        self.server.inject(
            kind, times=times, prefix=self.prefix, path=path, delay=delay, retry_after=retry_after
        )

    def clear_faults(self) -> None:
        """Drop this venue's queued faults."""
        self.server.clear_faults(self.prefix)


def _fault_reply(fault: Fault) -> Reply:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    if fault.kind == "http_429":
        # NOTES.md: a 429 may come with a non-JSON body.
        return Reply(429, "Too Many Requests", headers, "text/plain")
    if fault.kind == "http_503":
        return Reply(503, "Service Unavailable", headers, "text/plain")
    if fault.kind == "http_500":
        return Reply(500, "Internal Server Error", content_type="text/plain")
    return Reply(200, '{"code":"0","msg":"suc","data":[[1,')
