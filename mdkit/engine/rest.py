"""REST engine: one ``requests`` session per process, timeouts, retries, rate limits.

Every failure leaves this module as an :mod:`mdkit.errors` exception, raised
``from`` the lower-level one; no raw ``requests`` exception reaches the user, and
:func:`parse` turns any exception of a venue parser into a :class:`ProtocolError`
naming the endpoint.

Bounds: a call has one overall deadline (``RetryPolicy.deadline``, retries and a
body trickled byte by byte included) and a body cap (``RetryPolicy.max_body``,
counted after decompression: the body is read raw and inflated here with a cap, so
a gzip bomb stops at the cap).

Retries: connection errors, timeouts, HTTP 429 and 5xx are retried with capped,
jittered exponential backoff ("full jitter"), honouring ``Retry-After``. A request
that changes state (``idempotent=False``) is retried only when it cannot have
reached the venue (connection refused, connect timeout) or was refused before
processing (429, 503). HTTP 500 is not retried: the venue answers 500 for an
unknown symbol (NOTES.md), which no retry cures.
"""

from __future__ import annotations

import http.client
import logging
import math
import os
import random
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3

from mdkit.errors import (
    AuthError,
    InvalidArgument,
    MdkitError,
    NetworkError,
    ProtocolError,
    RateLimitError,
    VenueError,
)

__all__ = [
    "RetryPolicy",
    "RateLimiter",
    "Response",
    "check_base_url",
    "parse",
    "policy_from_env",
    "send",
    "session",
]

log = logging.getLogger("mdkit.engine.rest")
T = TypeVar("T")

_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_STATUS_TEXT = {
    400: "bad request: invalid request format",
    401: "unauthorized: invalid API key",
    403: "forbidden: no access to this resource",
    404: "not found: the venue has no such endpoint",
    429: "too many requests",
    499: "request rejected by the venue's input validation",
    500: "internal server error",
    502: "bad gateway",
    503: "server busy, retry later",
    504: "gateway timeout",
}


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait and how often to retry.

    Attributes
    ----------
    retries : int
        Retries after the first attempt.
    backoff : float
        First backoff in seconds; doubles each retry, with full jitter.
    backoff_cap : float
        Longest single wait in seconds (also caps ``Retry-After``).
    connect_timeout, read_timeout : float
        ``requests`` timeouts in seconds (per connect, per socket read).
    deadline : float
        Seconds one call may take in all: every attempt, pause and body read.
    max_body : int
        Largest body accepted, in bytes after decompression.
    """

    retries: int = 4
    backoff: float = 0.25
    backoff_cap: float = 8.0
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 60.0
    max_body: int = 64 * 1024 * 1024

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None and math.isfinite(retry_after):
            return min(max(retry_after, 0.0), self.backoff_cap)
        return random.uniform(0.0, min(self.backoff_cap, self.backoff * 2**attempt))


def policy_from_env() -> RetryPolicy:
    """Return the default policy, adjusted by ``MDKIT_TIMEOUT`` and ``MDKIT_RETRIES``.

    ``MDKIT_TIMEOUT`` sets the connect and read timeouts and the overall deadline
    of a call.

    Raises
    ------
    InvalidArgument
        If ``MDKIT_TIMEOUT`` is not a number of seconds in (0, 600], or
        ``MDKIT_RETRIES`` not a whole number from 0 to 20.
    """
    policy = RetryPolicy()
    timeout = os.environ.get("MDKIT_TIMEOUT", "").strip()
    retries = os.environ.get("MDKIT_RETRIES", "").strip()
    if timeout:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = math.nan
        if not 0 < seconds <= 600:  # NaN fails too
            raise InvalidArgument(
                f"MDKIT_TIMEOUT must be a number of seconds above 0 and at most 600, "
                f"not {timeout!r}"
            )
        policy = replace(policy, connect_timeout=seconds, read_timeout=seconds, deadline=seconds)
    if retries:
        if not retries.isdigit() or not 0 <= int(retries) <= 20:
            raise InvalidArgument(
                f"MDKIT_RETRIES must be a whole number from 0 to 20, not {retries!r}"
            )
        policy = replace(policy, retries=int(retries))
    return policy


class RateLimiter:
    """At most ``rate`` calls in any ``period`` seconds; :meth:`acquire` blocks until allowed.

    A sliding window rather than a token bucket: the venue counts requests per
    second, so a burst of ``rate`` followed by a pause matches what it accepts.
    The default window is 10% longer than the venue's second: the venue counts
    arrivals, we count departures, and network jitter must not push two bursts
    into one of its windows.
    """

    def __init__(self, rate: int, period: float = 1.1) -> None:
        self.rate = rate
        self.period = period
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a free slot; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.period:
                    self._sent.popleft()
                if len(self._sent) < self.rate:
                    self._sent.append(now)
                    return waited
                pause = self.period - (now - self._sent[0]) + 0.001
            time.sleep(pause)
            waited += pause


_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()
_session: requests.Session | None = None
_session_pid = 0
_session_lock = threading.Lock()


def session() -> requests.Session:
    """Return the process's shared session (a new one after a fork)."""
    global _session, _session_pid
    with _session_lock:
        if _session is None or _session_pid != os.getpid():
            _session = requests.Session()
            _session.headers["User-Agent"] = "mdkit"
            _session_pid = os.getpid()
        return _session


def _limiter(key: tuple[str, str], rate: int) -> RateLimiter:
    with _limiters_lock:
        limiter = _limiters.get(key)
        if limiter is None or limiter.rate != rate:
            limiter = _limiters[key] = RateLimiter(rate)
        return limiter


@dataclass(frozen=True)
class Response:
    """A successful answer: its body and the local receive time (epoch seconds)."""

    body: bytes
    received: float
    status: int


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` in seconds (a number or an HTTP date); None if absent or garbage."""
    value = str(headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def check_base_url(base_url: object) -> str:
    """Return ``base_url`` if it is an http(s) URL with a host, else raise InvalidArgument.

    Raises
    ------
    InvalidArgument
        For a URL that cannot be parsed (``http://[::1``), has no host, or a bad port.
    """
    text = base_url if isinstance(base_url, str) else ""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise InvalidArgument(f"url {base_url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(f"url must be http://host[:port] or https://host, not {base_url!r}")
    return text


def parse(what: str, parser: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a venue parser; any failure but an mdkit error becomes a :class:`ProtocolError`.

    Parameters
    ----------
    what : str
        The call, named in the error (``bitget GET /api/v2/spot/market/candles``).
    parser : callable
        The sans-I/O parser; its ``ProtocolError`` (naming the field) passes through.

    Raises
    ------
    ProtocolError
        Naming ``what`` and, for a missing key, the field.
    """
    try:
        return parser(*args, **kwargs)
    except MdkitError:
        raise
    except KeyError as exc:
        raise ProtocolError(f"{what}: answer lacks field {exc.args[0]!r}") from None
    except Exception as exc:  # noqa: BLE001 - the one place parser failures become ours
        raise ProtocolError(
            f"{what}: answer cannot be read ({type(exc).__name__}: {_short(exc)})"
        ) from None


def _http_error(
    status: int, body: bytes, parse_error: Callable[[bytes], None] | None, what: str
) -> VenueError:
    # The venue's own envelope, when the body has one, says more than the status.
    if parse_error is not None:
        try:
            parse_error(body)
        except VenueError as exc:
            if status == 401 and not isinstance(exc, AuthError):
                return AuthError(exc.code, exc.msg)
            return exc
        except Exception:  # noqa: BLE001 - a non-JSON error body is expected here
            pass
    text = _STATUS_TEXT.get(status, "unexpected status")
    cls = AuthError if status in (401, 403) else VenueError
    return cls(f"HTTP {status}", f"{text} ({what})")


def send(
    base_url: str,
    method: str,
    path: str,
    params: Mapping[str, str] | Callable[[], Mapping[str, str]],
    *,
    rate: int | None = None,
    rate_key: str = "market",
    idempotent: bool = True,
    policy: RetryPolicy | None = None,
    parse_error: Callable[[bytes], None] | None = None,
    explain_500: str | None = None,
) -> Response:
    """Send one request with retries and rate limiting, and return the body.

    Parameters
    ----------
    base_url : str
        ``https://host`` or ``http://host:port`` (sandbox, proxies).
    method : str
        ``GET``, ``POST`` or ``DELETE``; POST and DELETE send a form body.
    path : str
        Endpoint path, ``/v1/klines``.
    params : mapping or callable
        Query or form parameters; a callable is called before every attempt
        (signed requests need a fresh ``time`` and ``sign`` each time).
    rate : int, optional
        Requests per second allowed for ``(host, rate_key)``; no limit if None.
    rate_key : str
        Which budget the request counts against (``market``, or a user key id).
    idempotent : bool
        False for order-changing requests: see the module docstring.
    policy : RetryPolicy, optional
        Defaults to :func:`policy_from_env`.
    parse_error : callable, optional
        Raises the venue's :class:`VenueError` from an error body, if it has one.
    explain_500 : str, optional
        What an HTTP 500 most likely means for this request.

    Returns
    -------
    Response

    Raises
    ------
    NetworkError
        Connection refused, reset or timed out after every retry.
    RateLimitError
        Still HTTP 429 after every retry.
    VenueError, AuthError
        Any other HTTP error status.
    """
    pol = policy or policy_from_env()
    base = check_base_url(base_url)
    url = base.rstrip("/") + path
    host = urlsplit(base).netloc
    limiter = _limiter((host, rate_key), rate) if rate else None
    what = f"{method} {path}"
    deadline = time.monotonic() + pol.deadline
    last: MdkitError | None = None
    for attempt in range(pol.retries + 1):
        if limiter is not None:
            limiter.acquire()
        retry_after: float | None = None
        # The attempt runs in its own frame and hands back the answer or a text:
        # no requests exception (its .request holds the signed body) is ever chained
        # to ours, and no local here holds the signed parameters.
        got, failure, unsent = _attempt(method, url, params, pol, deadline)
        if got is None:
            last = NetworkError(f"{what} to {host}: {failure}")
            if failure.startswith(_UNREADABLE):
                raise ProtocolError(f"{what} from {host}: {failure[len(_UNREADABLE) :]}")
            if not idempotent and not unsent:
                # A read timeout or a reset after sending may have reached the venue:
                # never resend an order-changing request then.
                last.reached = True
                raise last
            if unsent is None:  # not a connection problem: retrying will not help
                raise last
        else:
            status, body, headers, received = got
            if status < 400:
                return Response(body, received, status)
            if status == 429:
                last = RateLimitError(
                    f"{what}: HTTP 429 too many requests from {host} after {attempt + 1} attempts"
                )
                retry_after = _retry_after(headers)
            elif status == 500 and explain_500:
                raise VenueError("HTTP 500", f"internal server error ({what}): {explain_500}")
            elif status in _RETRY_STATUS and (idempotent or status == 503):
                last = _http_error(status, body, parse_error, what)
                retry_after = _retry_after(headers)
            else:
                raise _http_error(status, body, parse_error, what)
        if attempt < pol.retries:
            pause = pol.delay(attempt, retry_after)
            if time.monotonic() + pause >= deadline:
                log.debug("%s: %s; no retry: the %.1fs deadline is spent", what, last, pol.deadline)
                break
            log.debug("%s: %s; retry %d in %.2fs", what, last, attempt + 1, pause)
            time.sleep(pause)
    if last is None:  # retries < 0 cannot happen (policy_from_env checks), but be clear
        raise NetworkError(f"{what} to {host}: no attempt was made")
    raise last


#: Marks an attempt whose answer arrived but cannot be read (over the cap, bad gzip).
_UNREADABLE = "unreadable: "
_Answer = tuple[int, bytes, Mapping[str, str], float]


def _attempt(
    method: str,
    url: str,
    params: Mapping[str, str] | Callable[[], Mapping[str, str]],
    pol: RetryPolicy,
    deadline: float,
) -> tuple[_Answer | None, str, bool | None]:
    """One HTTP attempt: ((status, body, headers, received), "", False), or (None, why, unsent).

    ``unsent`` is True when the request cannot have reached the venue (connection
    refused, connect timeout), False when it may have, None for a failure that is
    not a connection problem (a bad URL, a body over the cap).
    """
    values = dict(params() if callable(params) else params)
    left = deadline - time.monotonic()
    if left <= 0:
        return None, f"no answer within the {pol.deadline:g}s deadline", False
    timeout = (min(pol.connect_timeout, left), min(pol.read_timeout, left))
    # Only encodings inflated here, with the cap (no brotli/zstd bombs either).
    headers = {"Accept-Encoding": "gzip, deflate"}
    try:
        if method == "GET":
            resp = session().get(url, params=values, timeout=timeout, stream=True, headers=headers)
        else:
            resp = session().request(
                method, url, data=values, timeout=timeout, stream=True, headers=headers
            )
        with resp:
            body = _read_body(resp, deadline, pol)
        return (resp.status_code, body, resp.headers, time.time()), "", False
    except _BodyError as exc:
        if exc.unsent is None:
            return None, _UNREADABLE + str(exc), None
        return None, str(exc), exc.unsent
    except (requests.ConnectionError, requests.Timeout) as exc:
        unsent = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError)
            and not isinstance(exc, requests.ReadTimeout)
            and "refused" in str(exc).lower()
        )
        return None, f"{type(exc).__name__}: {_short(exc)}", unsent
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {_short(exc)}", None
    except (OSError, ValueError) as exc:  # a socket error while streaming the body
        return None, f"{type(exc).__name__}: {_short(exc)}", False


class _BodyError(Exception):
    def __init__(self, text: str, unsent: bool | None) -> None:
        super().__init__(text)
        self.unsent = unsent


def _read_body(resp: requests.Response, deadline: float, pol: RetryPolicy) -> bytes:
    """The body, read raw with the deadline and inflated here with the cap.

    A read waits at most the time left before the deadline (the socket's timeout is
    lowered before each read), so a body trickled at one byte a second ends at the
    deadline, not after ``read_timeout`` per byte.
    """
    raw: Any = resp.raw
    sock = _socket_of(raw)
    encoding = str(resp.headers.get("Content-Encoding") or "").strip().lower()
    inflate: Any = None
    if encoding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        inflate = zlib.decompressobj()
    elif encoding not in ("", "identity"):
        raise _BodyError(f"unsupported Content-Encoding {encoding!r}", None)
    cap = pol.max_body
    out = bytearray()
    read1 = getattr(raw, "read1", None)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _BodyError(
                f"ReadTimeout: no complete answer within the {pol.deadline:g}s deadline "
                f"({len(out):,} bytes read)",
                False,
            )
        if sock is not None:
            sock.settimeout(min(pol.read_timeout, left))
        try:
            if read1 is not None:
                chunk = read1(65536, decode_content=False)
            else:  # urllib3 < 2.3: the http.client response under it
                chunk = raw._fp.read1(65536)
        except (TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise _BodyError(
                    f"ReadTimeout: no complete answer within the {pol.deadline:g}s deadline "
                    f"({len(out):,} bytes read)",
                    False,
                ) from None
            raise _BodyError(f"ReadTimeout: {_short(exc) or 'read timed out'}", False) from None
        except (OSError, urllib3.exceptions.HTTPError, http.client.HTTPException) as exc:
            # The connection broke mid-body (reset, fewer bytes than Content-Length).
            raise _BodyError(f"{type(exc).__name__}: {_short(exc)}", False) from None
        if not chunk:
            break
        if inflate is None:
            out += chunk
        else:
            try:
                # At most what still fits under the cap, plus one byte to see the excess
                # (input left unconsumed means the cap was passed). A gzip body may hold
                # several members: each one's leftover input starts the next.
                while chunk and len(out) <= cap:
                    out += inflate.decompress(chunk, cap - len(out) + 1)
                    chunk = b""
                    if inflate.eof and inflate.unused_data:
                        chunk = inflate.unused_data
                        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            except zlib.error as exc:
                raise _BodyError(f"answer is not valid {encoding}: {exc}", None) from None
        if len(out) > cap:
            raise _BodyError(f"answer larger than the {cap:,}-byte cap (after decompression)", None)
    if inflate is not None:
        out += inflate.flush(cap - len(out) + 1)
        if len(out) > cap:
            raise _BodyError(f"answer larger than the {cap:,}-byte cap (after decompression)", None)
    return bytes(out)


def _socket_of(raw: Any) -> Any:
    conn = getattr(raw, "_connection", None) or getattr(raw, "connection", None)
    return getattr(conn, "sock", None)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "…"
