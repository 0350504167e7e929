"""A small threaded HTTP server for the sandbox venues: routes, rate limits, faults.

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

__all__ = ["Fault", "HttpRequest", "Reply", "HttpServer", "FAULT_KINDS"]

log = logging.getLogger("mdkit.sandbox.http")

#: Faults a test can inject: ``http_429`` (text body, Retry-After), ``http_503``,
#: ``http_500``, ``malformed`` (200 with a broken JSON body), ``slow`` (answer after
#: ``delay`` seconds), ``drop`` (close the connection without an answer).
FAULT_KINDS = ("http_429", "http_503", "http_500", "malformed", "slow", "drop")


@dataclass
class HttpRequest:
    """What a route handler sees: method, path, merged query/form params, client address."""

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
    path: str | None = None
    delay: float = 0.0
    retry_after: float | None = 0.05


Handler = Callable[[HttpRequest], Reply]


class HttpServer:
    """Threaded HTTP server with a route table, a per-group rate limit and a fault queue.

    Parameters
    ----------
    host : str
        Address to bind (loopback by default).
    port : int
        0 picks a free port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[tuple[str, str], tuple[Handler, str | None]] = {}
        self.limits: dict[str, tuple[int, float]] = {}
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.requests_served = 0
        #: Requests answered 429 by the rate limit (not by injected faults).
        self.rate_limited = 0
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
        """``http://host:port`` of the running server."""
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{port}"

    def route(self, method: str, path: str, handler: Handler, *, limit: str | None = None) -> None:
        """Serve ``method path`` with ``handler``, counting it against rate group ``limit``."""
        self.routes[(method.upper(), path)] = (handler, limit)

    def set_limit(self, group: str, rate: int, period: float = 1.0) -> None:
        """Allow ``rate`` requests per ``period`` seconds per client key in ``group``."""
        self.limits[group] = (rate, period)

    def inject(
        self,
        kind: str,
        *,
        times: int = 1,
        path: str | None = None,
        delay: float = 1.0,
        retry_after: float | None = 0.05,
    ) -> None:
        """Queue ``times`` faults of ``kind`` for the next requests (to ``path`` if given).

        Raises
        ------
        ValueError
            For a kind outside :data:`FAULT_KINDS`.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(kind, path, delay, retry_after))

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="mdkit-sandbox-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- internals -------------------------------------------------------------
    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path is None or fault.path == path:
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
        request = HttpRequest(
            h.command, parts.path, dict(pairs), h.client_address[0], dict(h.headers.items()), pairs
        )
        with self._lock:
            self.requests_served += 1
        fault = self._take_fault(parts.path)
        if fault is not None and fault.kind == "drop":
            h.close_connection = True
            h.connection.close()
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
            fault = None
        reply = self._answer(request, fault)
        payload = reply.body.encode() if isinstance(reply.body, str) else reply.body
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        h.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(payload)

    def _answer(self, request: HttpRequest, fault: Fault | None) -> Reply:
        if fault is not None:
            return _fault_reply(fault)
        entry = self.routes.get((request.method, request.path))
        if entry is None:
            known = any(path == request.path for _, path in self.routes)
            status = 405 if known else 404
            return Reply(
                status, "Method Not Allowed" if known else "Not Found", content_type="text/plain"
            )
        handler, group = entry
        if group is not None and self.over_limit(group, request.client):
            with self._lock:
                self.rate_limited += 1
            return Reply(429, "Too Many Requests", {"Retry-After": "1"}, "text/plain")
        try:
            return handler(request)
        except Exception:  # noqa: BLE001 - a sandbox bug must answer 500, not hang
            log.exception("sandbox handler failed for %s %s", request.method, request.path)
            return Reply(500, "Internal Server Error", content_type="text/plain")


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
