"""Request/response calls to a venue's WebSocket API: :func:`request` and :func:`arequest`.

::

    r = mdkit.request("bittap", "time")
    r.result            # {'serverTime': 1656400526260}
    r.rate_limits       # {'REQUEST_WEIGHT 1 MINUTE': {'limit': 6000, 'count': 1, ...}}

Each call opens one connection to the venue's public endpoint (the same engine as
:func:`mdkit.capture`, with no subscriptions), sends one request, waits for the
reply matched by its id, and closes. The sync form is safe in notebooks: it runs on
mdkit's own loop thread (:mod:`mdkit.engine.runner`).

Rate limits: the venue reports its figures (a limit and the count used in a window)
with each reply. mdkit keeps the last figures per venue and URL, and before each
call waits, if needed, for the window to pass once the count (plus the calls sent
since) would go past :data:`RATE_MARGIN` of the limit: calls slow down before the
venue refuses them, not after.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mdkit import config
from mdkit.errors import InvalidArgument

__all__ = ["Response", "request", "arequest", "RATE_MARGIN"]

#: Share of a reported rate limit the calls may use before waiting for the window.
RATE_MARGIN = 0.8
_JSON = (str, int, float, bool, type(None), list, dict)


@dataclass(frozen=True)
class Response:
    """The answer to one :func:`request`.

    Attributes
    ----------
    venue : str
    method : str
    result : Any
        The venue's result, as decoded JSON (dict, list, str, number or None).
    rate_limits : dict
        Figures the venue reported with the reply, by name (``"REQUEST_WEIGHT 1
        MINUTE"``): ``limit`` (int), ``count`` (int, used in the current window),
        ``window`` (float seconds, None if unknown) and the venue's own keys. Empty
        if the venue reported none.
    elapsed : float
        Seconds from the call to the reply, connecting included.
    """

    venue: str
    method: str
    result: Any
    rate_limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed: float = 0.0


class _Budget:
    """The last rate-limit figures of one (venue, URL) and the calls sent since."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # sync and async callers may share it
        self.figures: dict[str, dict[str, Any]] = {}
        self.observed = 0.0
        self.sent = 0

    def reserve(self) -> float:
        """Count one call; return the seconds to wait before sending it."""
        with self.lock:
            now = time.monotonic()
            delay = 0.0
            for figure in self.figures.values():
                window, limit, count = (
                    figure.get("window"),
                    figure.get("limit"),
                    figure.get("count"),
                )
                if not window or not limit or count is None:
                    continue
                if now - self.observed >= window:
                    # The reported window is over: only the calls sent since count, and
                    # where its next one starts is unknown: a whole window is safe.
                    if self.sent + 1 > RATE_MARGIN * limit:
                        delay = max(delay, window)
                elif count + self.sent + 1 > RATE_MARGIN * limit:
                    delay = max(delay, self.observed + window - now)
            self.sent += 1
            return max(0.0, delay)

    def update(self, figures: Mapping[str, Mapping[str, Any]]) -> None:
        """New figures from a reply."""
        if not figures:
            return
        with self.lock:
            self.figures = {k: dict(v) for k, v in figures.items()}
            self.observed = time.monotonic()
            self.sent = 0


_budgets: dict[tuple[str, str], _Budget] = {}
_budgets_lock = threading.Lock()


def _budget(venue: str, url: str) -> _Budget:
    with _budgets_lock:
        return _budgets.setdefault((venue, url), _Budget())


def _check(venue: Any, method: Any, params: Mapping[str, Any], timeout: Any, url: Any) -> Any:
    """Validate a call before any connection; return (descriptor, url)."""
    from mdkit.venues import get_venue, venue_keys

    descriptor = get_venue(venue)
    if not descriptor.requests:
        having = [k for k in venue_keys() if get_venue(k).requests]
        raise InvalidArgument(
            f"{descriptor.key} has no request/response calls; venues that have them: "
            f"{', '.join(having) or 'none'}"
        )
    if not isinstance(method, str) or method not in descriptor.requests:
        valid = "; ".join(f"{m} ({what})" for m, what in descriptor.requests.items())
        raise InvalidArgument(f"{descriptor.key} has no request {method!r}; valid: {valid}")
    for name, value in params.items():
        if not isinstance(value, _JSON):
            raise InvalidArgument(
                f"parameter {name}={value!r} is not a JSON value (str, number, bool, None, "
                "list or dict)"
            )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise InvalidArgument(f"timeout must be a number of seconds in (0, 600], not {timeout!r}")
    return descriptor, config.endpoint_url(descriptor.key, "public", url)


async def _call(
    descriptor: Any, target: str, method: str, params: dict[str, Any], timeout: float
) -> Response:
    from mdkit.engine.calls import request_connection

    started = time.monotonic()
    budget = _budget(descriptor.key, target)
    delay = budget.reserve()
    if delay:
        await asyncio.sleep(delay)
    async with request_connection(descriptor, target, open_timeout=float(timeout)) as engine:
        try:
            reply = await engine.call(method, params, timeout=float(timeout))
        finally:
            budget.update(engine.stats.rate_limits)
    if reply.error is not None:
        raise reply.error
    return Response(
        descriptor.key,
        method,
        reply.result,
        {k: dict(v) for k, v in engine.stats.rate_limits.items()},
        time.monotonic() - started,
    )


def request(
    venue: str, method: str, *, url: str | None = None, timeout: float = 15.0, **params: Any
) -> Response:
    """Call one request/response method of a venue's WebSocket API and return its answer.

    Safe in notebooks and under a running event loop (runs on mdkit's loop thread).

    Parameters
    ----------
    venue : str
        A venue with request methods (``mdkit.venues.get_venue(v).requests``): ``bittap``.
    method : str
        One of the venue's request methods (BitTap: ``time``, ``ping``).
    url : str, optional
        The venue's public WebSocket URL; default ``MDKIT_<VENUE>_WS_URL``, else the doc's.
    timeout : float
        Seconds to wait for the connection, and then for the reply.
    **params
        The method's parameters (JSON values), sent as the request's ``params``.

    Returns
    -------
    Response
        ``.result`` (the venue's result), ``.rate_limits`` (figures by name: ``limit``
        int, ``count`` int, ``window`` float seconds), ``.elapsed`` (float seconds).

    Raises
    ------
    UnknownVenue, InvalidArgument
        Before connecting: a venue without request methods, an unknown method (naming
        the valid ones), a parameter that is not a JSON value, a bad timeout.
    AuthError, RateLimitError, VenueError
        The venue answered with an error status (401/403, 418/429, other).
    NetworkError
        No connection, or no reply within ``timeout``.

    Examples
    --------
    >>> mdkit.request("bittap", "time").result["serverTime"]  # doctest: +SKIP
    1656400526260
    """
    from mdkit.engine import runner

    descriptor, target = _check(venue, method, params, timeout, url)
    return runner.run(_call(descriptor, target, method, dict(params), float(timeout)))


async def arequest(
    venue: str, method: str, *, url: str | None = None, timeout: float = 15.0, **params: Any
) -> Response:
    """The coroutine form of :func:`request` (same parameters, result and errors).

    Runs on the caller's event loop.
    """
    descriptor, target = _check(venue, method, params, timeout, url)
    return await _call(descriptor, target, method, dict(params), float(timeout))
