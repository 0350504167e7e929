"""The signed transport under :class:`mdkit.Account`: signing, rate budgets, clock, paging.

:class:`SignedTransport` signs every attempt afresh (a retry needs a new ``time``),
sends signed parameters in the POST/DELETE form body (never the URL, so no log line
carries them), keeps to the doc's 10 requests per second per user, walks paged
answers to the end, and corrects its clock once when the venue says the request time
is off. The account's public calls (:mod:`mdkit.account`) sit on top of it.
"""

from __future__ import annotations

import importlib
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, cast

from mdkit import config
from mdkit.errors import AuthError, VenueError
from mdkit.marketdata_history import show_progress
from mdkit.venues import DEFAULT_VENUE, get_venue
from mdkit.venues.base import Credentials
from mdkit.venues.rest_api import Request, RestApi, SignedApi

if TYPE_CHECKING:
    from mdkit.engine.rest import Response

__all__ = ["API", "KEY_ENV", "SECRET_ENV", "VENUE", "SignedTransport"]

# The account's logger: the transport's records read as the account's.
log = logging.getLogger("mdkit.account")

# The signed user API is the default venue's by design (DESIGN.md "Public API contract"),
# reached through its descriptor: the REST description names the signed API's module.
#: The venue whose signed user API the account speaks.
VENUE = get_venue(DEFAULT_VENUE).key
#: That venue's REST description (calls, envelope unwrapping, the signed API's module).
API: RestApi = get_venue(VENUE).rest or RestApi(calls={}, unwrap=lambda body: None)
#: The default venue's signed user API (the module its REST description names).
user_api = cast("SignedApi", importlib.import_module(API.signed))
_MARKET_RATE = int(API.calls["tickers"].rate)
_LEGACY_TICKERS = API.calls["tickers"].fallback or API.calls["tickers"]
#: The environment variables holding the key and the secret.
KEY_ENV = config.env_name(VENUE, "api_key")
SECRET_ENV = config.env_name(VENUE, "secret_key")


class SignedTransport:
    """Signed requests for one account: the base of :class:`mdkit.Account`.

    The subclass sets the attributes below in its ``__init__``.

    Attributes
    ----------
    key_id : str
        A short hash of the key: names the account in reprs, logs and rate budgets.
    url : str
        REST base URL.
    page_size : int
        Rows per page when walking paged answers.
    clock_offset_ms : float
        Offset to server time, measured when the venue refuses the request time.
    """

    _credentials: Credentials
    key_id: str
    url: str
    page_size: int
    clock_offset_ms: float

    def _now_ms(self) -> int:
        return int(time.time() * 1000 + self.clock_offset_ms)

    def _send(self, request: Request, *, idempotent: bool, rate_key: str) -> Response:
        from mdkit.engine import rest  # requests loads on first use, not on `import mdkit`

        creds = self._credentials

        def params() -> dict[str, str]:
            if not request.signed:
                return dict(request.params)
            return user_api.signed(
                request.params, creds["api_key"], creds["secret_key"], self._now_ms()
            )

        explain = None
        if request.symbol is not None:
            explain = f"is {request.symbol!r} listed? see mdkit.symbols()"
        return rest.send(
            self.url,
            request.method,
            request.path,
            params,
            rate=user_api.USER_RATE_PER_SECOND if request.signed else _MARKET_RATE,
            rate_key=rate_key,
            idempotent=idempotent,
            parse_error=API.unwrap,
            explain_500=explain,
        )

    def _call(self, request: Request, *, idempotent: bool = True) -> Any:
        """Send a signed request and return the envelope's ``data``; fix the clock once."""
        for attempt in (0, 1):
            try:
                resp = self._send(request, idempotent=idempotent, rate_key=f"user:{self.key_id}")
                return API.unwrap(resp.body)
            except VenueError as exc:
                if not user_api.is_time_error(exc):
                    self._raise_with_hint(exc)
                if attempt == 1:
                    raise VenueError(
                        exc.code,
                        f"{exc.msg}: the venue still rejects the request time after mdkit "
                        f"corrected its clock by {self.clock_offset_ms:+.0f} ms to the "
                        "server's; check this machine's clock (and the venue's)",
                    ) from exc
                # The venue refused a stale `time`: nothing was done, so measuring the
                # offset to server time and resending once is safe, orders included.
                self._sync_clock()
        raise AssertionError("unreachable")

    def _raise_with_hint(self, exc: VenueError) -> NoReturn:
        if exc.code == "HTTP 401":
            raise AuthError(exc.code, f"{exc.msg}; check {KEY_ENV} (or api_key=)") from exc
        if exc.code == "100005":
            raise AuthError(
                exc.code, f"{exc.msg}; check {SECRET_ENV} (or secret_key=) for this key"
            ) from exc
        raise exc

    def _sync_clock(self) -> None:
        """Measure the offset to server time from the tickers' ``date`` (ms)."""
        before = time.time() * 1000
        try:
            resp = self._send(API.calls["tickers"].build(), idempotent=True, rate_key="market")
        except VenueError as exc:
            if exc.code != "HTTP 404":
                raise
            resp = self._send(_LEGACY_TICKERS.build(), idempotent=True, rate_key="market")
        after = time.time() * 1000
        data = API.unwrap(resp.body)
        server = data.get("date") if isinstance(data, dict) else None
        if server is None:
            raise VenueError(
                "clock",
                "the venue refused the request time, and its tickers "
                "carry no 'date' to measure the offset with",
            )
        self.clock_offset_ms = float(server) - (before + after) / 2
        log.info(
            "%r: request time refused; clock offset to the server is %+.0f ms",
            self,
            self.clock_offset_ms,
        )

    def _walk(self, build: Callable[[int], Request], what: str) -> list[dict[str, Any]]:
        """Fetch every page (``page`` from 1, ``pageSize``) and return all items."""
        rows: list[dict[str, Any]] = []
        items, count = user_api.parse_page(self._call(build(1)))
        rows.extend(items)
        pages = math.ceil(count / self.page_size) if count else 1
        bar = None
        if pages > 1:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=pages,
                initial=1,
                desc=what,
                unit="page",
                leave=False,
                disable=not show_progress(),
            )
        page, previous = 1, items
        try:
            while len(items) >= self.page_size and (count is None or len(rows) < count):
                page += 1
                items, count = user_api.parse_page(self._call(build(page)))
                if not items or items == previous:
                    break  # a server that ignores `page` would repeat itself forever
                rows.extend(items)
                previous = items
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        log.debug("%s: %d rows in %d pages", what, len(rows), page)
        return rows
