"""Signed account calls on the Crypto.com v1 user API: balances, orders, fills, trading.

:class:`Account` validates arguments before any request, signs every attempt
afresh (a retry needs a new ``time``), sends signed parameters in the POST/DELETE
form body (never the URL, so no log line carries them), keeps to the doc's 10
requests per second per user, walks paged answers to the end, and corrects its
clock once when the venue says the request time is off (the transport is
:class:`mdkit.account_transport.SignedTransport`, the base of :class:`Account`).

Secrets never leave these two modules: the key and the secret are held in an object
whose ``repr`` is redacted, the account's ``repr`` shows only a short hash of the
key, errors and logs name the environment variables, never their values, and an
:class:`Account` refuses to be pickled.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
from collections.abc import Callable
from typing import Any, NoReturn, cast

import pandas as pd

from mdkit import config
from mdkit.account_detail import OrderDetail
from mdkit.account_transport import API, KEY_ENV, SECRET_ENV, VENUE, SignedTransport
from mdkit.data.timeparse import parse_range
from mdkit.errors import AuthError, InvalidArgument, NetworkError, TradingDisabled, VenueError
from mdkit.venues.base import Credentials
from mdkit.venues.rest_api import SignedApi

#: The default venue's signed user API (the module its REST description names).
user_api = cast("SignedApi", importlib.import_module(API.signed))

__all__ = ["Account", "OrderDetail"]

log = logging.getLogger("mdkit.account")

_SIDES = ("buy", "sell")
_TYPES = {"limit": 1, "market": 2}


def _credential(name: str, given: str | None) -> str:
    """The credential from the argument or the environment; blank (spaces, a tab) is missing.

    A function of its own: once it returns, no frame of ``Account.__init__`` holds the
    value (a traceback rendered with locals shows none).
    """
    value = config.credential(VENUE, name, given) or ""
    return value if value.strip() else ""


class Account(SignedTransport):
    """A Crypto.com v1 account, reached through its signed user API.

    Parameters
    ----------
    api_key, secret_key : str, optional
        Credentials; default ``MDKIT_CRYPTOCOM_API_KEY`` and ``MDKIT_CRYPTOCOM_SECRET_KEY``.
    trading : bool
        Allow order-changing calls (:meth:`place_order`, :meth:`cancel_order`,
        :meth:`cancel_all`); without it they raise :class:`TradingDisabled`.
    url : str, optional
        REST base URL; default ``MDKIT_CRYPTOCOM_REST_URL``, else the doc's.
    cancel_endpoint : {"doc", "live"}
        ``doc``: ``DELETE /v1/order`` as documented; ``live``: ``POST
        /v1/orders/cancel``, which the live API's clients used (NOTES.md).
    page_size : int
        Rows per page when walking paged answers.

    Raises
    ------
    AuthError
        If the key or the secret is missing (the message names the variables).
    InvalidArgument
        For an unknown ``cancel_endpoint`` or a bad ``page_size``.

    Examples
    --------
    >>> with mdkit.sandbox.Sandbox():                       # doctest: +SKIP
    ...     acct = mdkit.Account(trading=True)
    ...     oid = acct.place_order("btcusdt", "buy", 0.01, price=60000)
    ...     acct.open_orders("btcusdt")
    """

    def __init__(
        self,
        api_key: str | None = None,
        secret_key: str | None = None,
        *,
        trading: bool = False,
        url: str | None = None,
        cancel_endpoint: str = "doc",
        page_size: int = user_api.PAGE_SIZE,
    ) -> None:
        # Only the Credentials wrapper holds the values from here on: a traceback
        # rendered with its locals shows <Credentials api_key, secret_key>, not them.
        creds = Credentials(
            {
                name: _credential(name, given)
                for name, given in (("api_key", api_key), ("secret_key", secret_key))
            }
        )
        del api_key, secret_key
        missing = [
            f"{what} (argument {arg}= or {env})"
            for what, arg, env in (
                ("API key", "api_key", KEY_ENV),
                ("secret key", "secret_key", SECRET_ENV),
            )
            if arg not in creds
        ]
        if missing:
            raise AuthError("credentials", "missing " + " and ".join(missing))
        if not isinstance(cancel_endpoint, str) or cancel_endpoint not in user_api.CANCEL_ENDPOINTS:
            raise InvalidArgument(
                f"cancel_endpoint must be one of {', '.join(user_api.CANCEL_ENDPOINTS)}, "
                f"not {cancel_endpoint!r}"
            )
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise InvalidArgument(f"page_size must be a positive integer, not {page_size!r}")
        if not isinstance(trading, bool):
            # trading="no" would be truthy: a switch that places orders must be a bool.
            raise InvalidArgument(f"trading must be True or False, not {trading!r}")
        self._credentials = creds
        #: A short hash of the key: names the account in reprs, logs and rate budgets.
        self.key_id = hashlib.sha256(creds["api_key"].encode()).hexdigest()[:10]
        self.trading = bool(trading)
        self.url = config.rest_url(VENUE, url)
        self.cancel_endpoint = cancel_endpoint
        self.page_size = page_size
        self.clock_offset_ms = 0.0

    def __repr__(self) -> str:
        # getattr: a traceback shows the repr of an Account whose __init__ raised.
        key_id = getattr(self, "key_id", None)
        if key_id is None:
            return "<Account cryptocom (not set up)>"
        mode = "trading" if getattr(self, "trading", False) else "read-only"
        return f"<Account cryptocom key#{key_id} {mode} {getattr(self, 'url', '?')}>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("an Account holds credentials and is not picklable; pickle its frames")

    # -- validation -----------------------------------------------------------------
    def _symbol(self, symbol: str) -> str:
        from mdkit.marketdata import resolve_symbol

        return resolve_symbol(symbol, self.url)

    def _require_trading(self, what: str) -> None:
        if not self.trading:
            raise TradingDisabled(
                f"{what} changes orders; open the account with Account(trading=True) to allow it"
            )

    @staticmethod
    def _order_id(order_id: Any) -> int:
        bad = InvalidArgument(f"order_id must be a positive integer, not {order_id!r}")
        if isinstance(order_id, bool):
            raise bad
        try:
            value = int(order_id)
        except (TypeError, ValueError, OverflowError):  # inf is an OverflowError
            raise bad from None
        if value < 1 or (isinstance(order_id, float) and value != order_id):
            raise bad
        return value

    # -- reading --------------------------------------------------------------------
    def balances(self) -> pd.DataFrame:
        """Every coin's balance.

        Returns
        -------
        pandas.DataFrame
            Columns ``coin`` (str), ``free locked btc_value`` (float64);
            ``attrs["total_btc"]``: the venue's estimate of the whole account in BTC.

        Raises
        ------
        AuthError
            Unknown key (HTTP 401) or rejected signature (``100005``).
        NetworkError, RateLimitError, VenueError

        Examples
        --------
        >>> acct.balances().set_index("coin").free["usdt"]      # doctest: +SKIP
        """
        return user_api.parse_balances(self._call(user_api.build_account()))

    def open_orders(self, symbol: str) -> pd.DataFrame:
        """Every open order of one market (all pages).

        Parameters
        ----------
        symbol : str
            ``"btcusdt"``, ``"BTC/USDT"``...

        Returns
        -------
        pandas.DataFrame
            One row per order, oldest first, columns as :meth:`all_orders`.

        Raises
        ------
        UnknownSymbol
            With close matches, before any signed request.

        Examples
        --------
        >>> acct.open_orders("btcusdt")[["id", "side", "price", "remain_volume"]]  # doctest: +SKIP
        """
        sym = self._symbol(symbol)
        rows = self._walk(
            lambda page: user_api.build_open_orders(sym, page, self.page_size), "open orders"
        )
        return user_api.parse_orders(rows, sym, source="rest:/v1/openOrders")

    def all_orders(self, symbol: str, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Every order of one market — open, filled and canceled — over all pages.

        Parameters
        ----------
        symbol : str
            ``"btcusdt"``...
        start, end : datetime, Timestamp, str or number, optional
            Bounds on the creation time (inclusive, to the second, UTC): anything
            :func:`mdkit.data.timeparse.parse_range` reads (``"2 days ago"``, ISO, epoch).

        Returns
        -------
        pandas.DataFrame
            One row per order, oldest first: ``id source type status`` (int64),
            ``type_name`` (category limit/market), ``status_name`` (category INIT NEW
            FILLED PART_FILLED CANCELED PENDING_CANCEL EXPIRED), ``side`` (category
            buy/sell), ``price volume deal_volume remain_volume avg_price deal_price
            total_price fee`` (float64; ``deal_price`` is the filled quote total),
            ``fee_coin base_coin count_coin`` (str), ``created_at updated_at`` (UTC),
            and the venue's text fields (``status_msg side_msg source_msg``).

        Raises
        ------
        InvalidArgument, UnknownSymbol
            Before any signed request.

        Examples
        --------
        >>> df = acct.all_orders("btcusdt", start="1 day ago")    # doctest: +SKIP
        >>> df.status_name.value_counts()                         # doctest: +SKIP
        """
        lo, hi = parse_range(start, end)
        sym = self._symbol(symbol)
        rows = self._walk(
            lambda page: user_api.build_all_orders(sym, page, self.page_size, lo, hi), "orders"
        )
        orders = user_api.parse_orders(rows, sym, source="rest:/v1/allOrders")
        return user_api.clip_range(orders, "created_at", lo, hi)

    def my_trades(self, symbol: str, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Every fill of the account's orders in one market, over all pages.

        Parameters
        ----------
        symbol : str
            ``"btcusdt"``...
        start, end : optional
            Bounds on the fill time, as in :meth:`all_orders`.

        Returns
        -------
        pandas.DataFrame
            One row per fill, oldest first: ``id`` (int64), ``ctime`` (UTC), ``side``
            and ``type`` (category buy/sell, the account's side), ``price volume
            deal_price fee`` (float64), ``fee_coin`` (str), and ``bid_id bid_user_id``
            or ``ask_id ask_user_id`` (``Int64``, the order on the account's side).

        Examples
        --------
        >>> t = acct.my_trades("btcusdt"); (t.price * t.volume).sum()   # doctest: +SKIP
        """
        lo, hi = parse_range(start, end)
        sym = self._symbol(symbol)
        rows = self._walk(
            lambda page: user_api.build_my_trades(sym, page, self.page_size, lo, hi), "trades"
        )
        fills = user_api.parse_fills(rows, sym, source="rest:/v1/myTrades")
        return user_api.clip_range(fills, "ctime", lo, hi)

    def order(self, symbol: str, order_id: int) -> OrderDetail:
        """One order and its fills.

        Parameters
        ----------
        symbol : str
            The order's market.
        order_id : int
            As :meth:`place_order` returned it.

        Returns
        -------
        OrderDetail
            ``.order``: a one-row frame with :meth:`all_orders`'s columns;
            ``.trades``: its fills with :meth:`my_trades`'s columns; ``.status``.

        Examples
        --------
        >>> acct.order("btcusdt", oid).status                  # doctest: +SKIP
        'PART_FILLED'
        """
        oid = self._order_id(order_id)
        sym = self._symbol(symbol)
        order, fills = user_api.parse_order_detail(
            self._call(user_api.build_show_order(sym, oid)), sym
        )
        return OrderDetail(order, fills)

    # -- trading --------------------------------------------------------------------
    def place_order(
        self,
        symbol: str,
        side: str,
        amount: float | str,
        price: float | str | None = None,
        type: str = "limit",  # noqa: A002 - the public contract's name
    ) -> int:
        """Place an order and return its id.

        Parameters
        ----------
        symbol : str
            ``"btcusdt"``...
        side : {"buy", "sell"}
        amount : float or str
            Base amount for limit orders and market sells. For a **market buy** it
            is the quote total to spend, as the venue defines ``volume`` (doc
            "Create an order").
        price : float or str, optional
            Required for limit orders, refused for market orders.
        type : {"limit", "market"}

        Returns
        -------
        int
            The venue's order id.

        Raises
        ------
        TradingDisabled
            Unless the account was opened with ``trading=True``, before anything else.
        InvalidArgument, UnknownSymbol
            Bad side, type, amount or price, before any request.
        VenueError
            The venue refused the order (e.g. balance not enough).

        Examples
        --------
        >>> acct.place_order("btcusdt", "buy", 0.01, price=60000)   # doctest: +SKIP
        8001
        """
        self._require_trading("place_order")
        side_l = side.strip().lower() if isinstance(side, str) else None
        if side_l not in _SIDES:
            raise InvalidArgument(f"side must be one of {', '.join(_SIDES)}, not {side!r}")
        type_l = type.strip().lower() if isinstance(type, str) else None
        if type_l not in _TYPES:
            raise InvalidArgument(f"type must be one of {', '.join(_TYPES)}, not {type!r}")
        volume = user_api.format_amount(amount, "amount")
        if type_l == "limit":
            if price is None:
                raise InvalidArgument("price is required for a limit order")
            price_text: str | None = user_api.format_amount(price, "price")
        elif price is not None:
            raise InvalidArgument("a market order takes no price; use type='limit'")
        else:
            price_text = None
        sym = self._symbol(symbol)
        request = user_api.build_create_order(
            sym, side_l, volume, order_type=_TYPES[type_l], price=price_text
        )
        log.info("%r: place %s %s %s %s at %s", self, type_l, side_l, volume, sym, price_text)
        try:
            data = self._call(request, idempotent=False)
        except NetworkError as exc:
            if not exc.reached:
                raise
            error = NetworkError(
                f"{exc}. The order may have been placed: check with "
                f"Account.open_orders({sym!r}) (or Account.all_orders({sym!r}, "
                "start='10 minutes ago')) before placing it again"
            )
        else:
            order_id = user_api.parse_order_id(data)
            log.info("%r: order %d placed", self, order_id)
            return order_id
        error.reached = True
        raise error

    def cancel_order(self, symbol: str, order_id: int) -> None:
        """Cancel one order (through the endpoint chosen by ``cancel_endpoint``).

        Parameters
        ----------
        symbol : str
            The order's market.
        order_id : int
            The order id.

        Raises
        ------
        TradingDisabled
            Unless ``trading=True``, before any request.
        VenueError
            Unknown or already finished order.

        Examples
        --------
        >>> acct.cancel_order("btcusdt", oid)                  # doctest: +SKIP
        """
        self._require_trading("cancel_order")
        oid = self._order_id(order_id)
        sym = self._symbol(symbol)
        log.info("%r: cancel order %d on %s", self, oid, sym)
        self._unsure(
            lambda: self._cancel(sym, oid),
            f"The cancel may have taken effect: check with Account.order({sym!r}, {oid})",
        )

    def _cancel(self, symbol: str, order_id: int) -> None:
        """Cancel through ``cancel_endpoint``; on 404/405 through the other one (kept after)."""
        try:
            self._call(
                user_api.build_cancel_order(symbol, order_id, self.cancel_endpoint),
                idempotent=False,
            )
        except VenueError as exc:
            other = user_api.cancel_fallback(exc.code, self.cancel_endpoint)
            if other is None:
                raise
            log.info(
                "%r: cancel endpoint %s answered %s; using %s",
                self,
                self.cancel_endpoint,
                exc.code,
                other,
            )
            self._call(user_api.build_cancel_order(symbol, order_id, other), idempotent=False)
            self.cancel_endpoint = other

    def cancel_all(self, symbol: str) -> None:
        """Cancel every open order of one market.

        Raises
        ------
        TradingDisabled
            Unless ``trading=True``, before any request.

        Examples
        --------
        >>> acct.cancel_all("btcusdt")                         # doctest: +SKIP
        """
        self._require_trading("cancel_all")
        sym = self._symbol(symbol)
        log.info("%r: cancel all orders on %s", self, sym)
        self._unsure(
            lambda: self._call(user_api.build_cancel_all(sym), idempotent=False),
            f"Some orders may have been canceled: check with Account.open_orders({sym!r})",
        )

    @staticmethod
    def _unsure(call: Callable[[], Any], check: str) -> None:
        """Run an order-changing call; a NetworkError after sending says how to check."""
        try:
            call()
            return
        except NetworkError as exc:
            if not exc.reached:
                raise
            error = NetworkError(f"{exc}. {check}")
        error.reached = True
        raise error
