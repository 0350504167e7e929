"""REST engine: one ``requests`` session per process, timeouts, retries, rate limits.

Every failure leaves this module as an :mod:`mdkit.errors` exception, raised
``from`` the lower-level one; no raw ``requests`` exception reaches the user.

Retries: connection errors, timeouts, HTTP 429 and 5xx are retried with capped,
jittered exponential backoff ("full jitter"), honouring ``Retry-After``. A request
that changes state (``idempotent=False``) is retried only when it cannot have
reached the venue (connection refused, connect timeout) or was refused before
processing (429, 503). HTTP 500 is not retried: the venue answers 500 for an
unknown symbol (NOTES.md), which no retry cures.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import urlsplit

import requests

from mdkit.errors import (
    AuthError,
    InvalidArgument,
    MdkitError,
    NetworkError,
    RateLimitError,
    VenueError,
)

__all__ = ["RetryPolicy", "RateLimiter", "Response", "policy_from_env", "send", "session"]

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
        ``requests`` timeouts in seconds.
    """

    retries: int = 4
    backoff: float = 0.25
    backoff_cap: float = 8.0
    connect_timeout: float = 5.0
    read_timeout: float = 15.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.backoff_cap)
        return random.uniform(0.0, min(self.backoff_cap, self.backoff * 2**attempt))


def policy_from_env() -> RetryPolicy:
    """Return the default policy, adjusted by ``MDKIT_TIMEOUT`` and ``MDKIT_RETRIES``.

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
        policy = replace(policy, connect_timeout=seconds, read_timeout=seconds)
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


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


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
    url = base_url.rstrip("/") + path
    host = urlsplit(base_url).netloc
    limiter = _limiter((host, rate_key), rate) if rate else None
    what = f"{method} {path}"
    last: MdkitError | None = None
    for attempt in range(pol.retries + 1):
        if limiter is not None:
            limiter.acquire()
        retry_after: float | None = None
        # The attempt runs in its own frame and hands back the response or a text:
        # no requests exception (its .request holds the signed body) is ever chained
        # to ours, and no local here holds the signed parameters.
        resp, failure, unsent = _attempt(method, url, params, pol)
        if resp is None:
            last = NetworkError(f"{what} to {host}: {failure}")
            if not idempotent and not unsent:
                # A read timeout or a reset after sending may have reached the venue:
                # never resend an order-changing request then.
                last.reached = True
                raise last
            if unsent is None:  # not a connection problem: retrying will not help
                raise last
        else:
            received = time.time()
            if resp.status_code < 400:
                return Response(resp.content, received, resp.status_code)
            if resp.status_code == 429:
                last = RateLimitError(
                    f"{what}: HTTP 429 too many requests from {host} after {attempt + 1} attempts"
                )
                retry_after = _retry_after(resp)
            elif resp.status_code == 500 and explain_500:
                raise VenueError("HTTP 500", f"internal server error ({what}): {explain_500}")
            elif resp.status_code in _RETRY_STATUS and (idempotent or resp.status_code == 503):
                last = _http_error(resp.status_code, resp.content, parse_error, what)
                retry_after = _retry_after(resp)
            else:
                raise _http_error(resp.status_code, resp.content, parse_error, what)
        if attempt < pol.retries:
            pause = pol.delay(attempt, retry_after)
            log.debug("%s: %s; retry %d in %.2fs", what, last, attempt + 1, pause)
            time.sleep(pause)
    if last is None:  # retries < 0 cannot happen (policy_from_env checks), but be clear
        raise NetworkError(f"{what} to {host}: no attempt was made")
    raise last


def _attempt(
    method: str,
    url: str,
    params: Mapping[str, str] | Callable[[], Mapping[str, str]],
    pol: RetryPolicy,
) -> tuple[requests.Response | None, str, bool | None]:
    """One HTTP attempt: (response, "", False), or (None, what failed, unsent).

    ``unsent`` is True when the request cannot have reached the venue (connection
    refused, connect timeout), False when it may have, None for a failure that is
    not a connection problem (a bad URL).
    """
    values = dict(params() if callable(params) else params)
    timeout = (pol.connect_timeout, pol.read_timeout)
    try:
        if method == "GET":
            return session().get(url, params=values, timeout=timeout), "", False
        return session().request(method, url, data=values, timeout=timeout), "", False
    except (requests.ConnectionError, requests.Timeout) as exc:
        unsent = isinstance(exc, requests.ConnectTimeout) or (
            isinstance(exc, requests.ConnectionError)
            and not isinstance(exc, requests.ReadTimeout)
            and "refused" in str(exc).lower()
        )
        return None, f"{type(exc).__name__}: {_short(exc)}", unsent
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {_short(exc)}", None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "…"
