"""Crypto.com Exchange v1 user API, served by the sandbox: accounts, signatures, matching.

Written from ``cryptocom-v1-rest-ws.md`` ("Request Signing", "Response Status
Code", "User API") and NOTES.md, independently of the client: it imports no
``mdkit.venues``, ``mdkit.engine.rest`` or ``mdkit.account`` code and checks signatures
with its own implementation, so a client mistake (unsorted names, signed empty
values, URL-encoded values) is refused instead of mirrored.

Checks, in order, for every user endpoint:

1. ``api_key`` present (else ``100004``) and known (else **HTTP 401**, text body);
2. at most 10 requests per second per user (else **HTTP 429**, text body);
3. ``time`` an integer (else ``100004``); ``sign`` right (else
   ``{"code":"100005","msg":"request sign illegal","data":null}``);
4. ``time`` within :data:`TIME_WINDOW_MS` of server time, else ``100010 request
   time expired`` (the doc names no code for this; the sandbox chose it).

Other codes the sandbox chose: ``100004`` bad or missing parameter (the message
says which), ``110001`` balance not enough, ``110002`` order not found,
``110003`` order already finished (filled or canceled).

Accounts, balances and matching live in :mod:`mdkit.sandbox.exchange`.

Wire quirks as the live API (NOTES.md): ``code`` a string, numeric strings with 8
decimals, ``fee`` a bare ``0E-8`` when zero, ``deal_price`` a bare 16-decimal
number, side ``BUY``/``SELL`` (``Buy``/``Sell`` in fills' ``type``), lists keyed
``resultList`` (openOrders, myTrades) and ``orderList`` (allOrders).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from mdkit.sandbox.cryptocom import error, ok
from mdkit.sandbox.exchange import (
    DEFAULT_PAGE_SIZE,
    DEMO_API_KEY,
    DEMO_BALANCES,
    DEMO_SECRET_KEY,
    FEE_RATE,
    MAX_PAGE_SIZE,
    OPEN_STATUSES,
    ORDER_NOT_FOUND,
    PARAM_ILLEGAL,
    SIGN_ILLEGAL,
    STATUS_MSG,
    TIME_EXPIRED,
    TIME_WINDOW_MS,
    USER_RATE,
    ZERO,
    Exchange,
    Fill,
    Order,
    SandboxError,
    UserAccount,
    expected_sign,
)
from mdkit.sandbox.http import HttpRequest, HttpVenue, Reply
from mdkit.sandbox.market import Market
from mdkit.sandbox.wire import Raw

__all__ = [
    "CryptocomAccounts",
    "DEMO_API_KEY",
    "DEMO_SECRET_KEY",
    "DEMO_BALANCES",
]


# -- wire forms ----------------------------------------------------------------------
def _s8(value: Decimal) -> str:
    return f"{value:.8f}"


def _bare(value: Decimal, decimals: int) -> Raw:
    # BigDecimal zero printed as 0E-8 / 0E-16 by the live API (NOTES.md).
    return Raw(f"0E-{decimals}") if value == 0 else Raw(f"{value:.{decimals}f}")


def _order_item(order: Order, base: str, quote: str) -> dict[str, Any]:
    side = order.side
    avg = order.deal_funds / order.deal_volume if order.deal_volume else ZERO
    market_buy = order.type == 2 and side == "BUY"
    total = order.volume if market_buy else order.volume * (order.price or avg)
    remain = (
        ZERO
        if market_buy or order.status not in OPEN_STATUSES
        else order.volume - order.deal_volume
    )
    return {
        "side": side,
        "total_price": _s8(total),
        "fee": _bare(order.fee, 8),
        "created_at": order.created_ms,
        "deal_price": _bare(order.deal_funds, 16),
        "avg_price": _s8(avg),
        "countCoin": quote.upper(),
        "source": 3,
        "type": order.type,
        "side_msg": side,
        "volume": _s8(order.volume),
        "updated_at": order.updated_ms,
        "price": _s8(order.price or ZERO),
        "source_msg": "API",
        "status_msg": STATUS_MSG[order.status],
        "deal_volume": _s8(order.deal_volume),
        "fee_coin": (base if side == "BUY" else quote).upper(),
        "id": order.id,
        "remain_volume": _s8(remain),
        "baseCoin": base.upper(),
        "status": order.status,
    }


def _fill_item(fill: Fill, *, my_trades: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "volume": _s8(fill.volume),
        "feeCoin": fill.fee_coin.upper(),
        "price": _s8(fill.price),
        "fee": _s8(fill.fee),
        "ctime": fill.ctime_ms,
        "deal_price": _s8(fill.price * fill.volume),
        "id": fill.id,
        "type": fill.side.title(),  # NOTES.md: "Sell" in myTrades' type
    }
    if my_trades:
        item["side"] = fill.side
        prefix = "bid" if fill.side == "BUY" else "ask"
        item[f"{prefix}_id"] = fill.order_id
        item[f"{prefix}_user_id"] = fill.user_id
    return item


def _page(items: list[dict[str, Any]], params: Mapping[str, str]) -> tuple[list[Any], int]:
    try:
        page = int(params.get("page") or 1)
        size = int(params.get("pageSize") or DEFAULT_PAGE_SIZE)
    except ValueError:
        raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: page/pageSize") from None
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: page/pageSize")
    return items[(page - 1) * size : page * size], len(items)


def _date_ms(params: Mapping[str, str], name: str, offset_hours: float = 0.0) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise SandboxError(
            PARAM_ILLEGAL, f"request parameter illegal: {name} must be yyyy-MM-dd HH:mm:ss"
        ) from None
    return int((when.timestamp() - offset_hours * 3600) * 1000)


def _in_range(ms: int, lo: int | None, hi: int | None) -> bool:
    # Dates are accurate to seconds and inclusive: hi covers its whole second.
    return (lo is None or ms >= lo) and (hi is None or ms < hi + 1000)


UserHandler = Callable[[HttpRequest, UserAccount], Reply]


class CryptocomAccounts:
    """The user API routes on the sandbox's Crypto.com HTTP server.

    Parameters
    ----------
    market : Market
        The shared synthetic market.
    server : HttpVenue
        Where the eight endpoints (and ``POST /v1/orders/cancel``) are registered.
    fee_rate : Decimal
        Fee rate of every execution.

    Attributes
    ----------
    exchange : Exchange
        Accounts and matching engine.
    clock : callable
        Server time in epoch seconds for the ``time`` check (the market's clock by
        default; a test may set a skewed one).
    time_window_ms : int
        Largest accepted distance between ``time`` and server time.
    """

    def __init__(self, market: Market, server: HttpVenue, *, fee_rate: Decimal = FEE_RATE):
        self.market = market
        self.server = server
        self.exchange = Exchange(market, fee_rate)
        self.clock: Callable[[], float] = market.now
        self.time_window_ms = TIME_WINDOW_MS
        #: Hours east of UTC in which ``startDate``/``endDate`` are read (the doc does
        #: not say which timezone; 0 = UTC, 8 = a server on Beijing time).
        self.date_offset_hours = 0.0
        #: Cancel routes served: ``doc`` (``DELETE /v1/order``, the default: the doc's),
        #: ``live`` (``POST /v1/orders/cancel``, what the live API's clients used); a route
        #: left out answers 404, as a server without it.
        self.cancel_paths: set[str] = {"doc"}
        server.set_limit("user", USER_RATE)
        routes: tuple[tuple[str, str, UserHandler], ...] = (
            ("POST", "/v1/account", self.account),
            ("POST", "/v1/order", self.create_order),
            ("POST", "/v1/showOrder", self.show_order),
            ("DELETE", "/v1/order", self._cancel_route("doc")),
            ("POST", "/v1/orders/cancel", self._cancel_route("live")),
            ("POST", "/v1/cancelAllOrders", self.cancel_all),
            ("POST", "/v1/openOrders", self.open_orders),
            ("POST", "/v1/allOrders", self.all_orders),
            ("POST", "/v1/myTrades", self.my_trades),
        )
        for method, path, handler in routes:
            server.route(method, path, self._signed(handler))

    def create(
        self,
        balances: Mapping[str, Any] | None = None,
        *,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> tuple[str, str]:
        """Open an account with free ``balances``; return its ``(api_key, secret)``."""
        user = self.exchange.create(balances, api_key=api_key, secret=secret)
        return user.api_key, user.secret

    def balances(self, api_key: str) -> dict[str, tuple[Decimal, Decimal]]:
        """``{coin: (free, locked)}`` of an account, straight from the ledger."""
        user = self.exchange.users[api_key]
        with self.exchange.lock:
            return {c: (user.free[c], user.locked.get(c, ZERO)) for c in user.free}

    # -- authentication -----------------------------------------------------------
    def _signed(self, handler: UserHandler) -> Callable[[HttpRequest], Reply]:
        def serve(request: HttpRequest) -> Reply:
            params = request.params
            key = params.get("api_key", "")
            if not key:
                return error(PARAM_ILLEGAL, "request parameter illegal: api_key")
            user = self.exchange.users.get(key)
            if user is None:
                # doc "Response Status Code": 401 Unauthorized – Invalid API Key.
                return Reply(401, "Unauthorized: invalid API key", content_type="text/plain")
            if self.server.over_limit("user", str(user.user_id)):
                return Reply(429, "Too Many Requests", {"Retry-After": "1"}, "text/plain")
            try:
                sent = int(params.get("time", ""))
            except ValueError:
                return error(PARAM_ILLEGAL, "request parameter illegal: time")
            if not hmac.compare_digest(
                params.get("sign", "").lower(), expected_sign(params, user.secret)
            ):
                return error(*SIGN_ILLEGAL)
            if abs(sent - self.clock() * 1000) > self.time_window_ms:
                return error(*TIME_EXPIRED)
            self.exchange.advance()
            try:
                return handler(request, user)
            except SandboxError as exc:
                return error(exc.code, exc.msg)

        return serve

    # -- endpoints ----------------------------------------------------------------
    def _symbol(self, params: Mapping[str, str]) -> str:
        symbol = params.get("symbol", "")
        if symbol not in self.market.instruments:
            raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: symbol {symbol!r}")
        return symbol

    def _order(self, user: UserAccount, params: Mapping[str, str]) -> Order:
        symbol = self._symbol(params)
        try:
            order_id = int(params.get("order_id", ""))
        except ValueError:
            raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: order_id") from None
        for order in user.orders:
            if order.id == order_id and order.symbol == symbol:
                return order
        raise SandboxError(*ORDER_NOT_FOUND)

    def _coins(self, symbol: str) -> tuple[str, str]:
        inst = self.market.instrument(symbol)
        return inst.base, inst.quote

    def account(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/account``: ``{total_asset, coin_list: [{normal locked btcValuatin coin}]}``.

        ``normal`` is the free balance; ``btcValuatin`` (sic, the doc's spelling) its BTC value.
        """
        with self.exchange.lock:
            rows = []
            total = ZERO
            for coin in sorted(user.free):
                free, locked = user.free[coin], user.locked.get(coin, ZERO)
                value = (free + locked) * self.exchange.btc_value(coin)
                total += value
                rows.append(
                    {
                        "normal": Raw(_s8(free)),
                        "locked": Raw(_s8(locked)),
                        "btcValuatin": Raw(_s8(value)),
                        "coin": coin,
                    }
                )
        return ok({"total_asset": Raw(_s8(total)), "coin_list": rows})

    def create_order(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/order``: ``{"order_id": n}``."""
        p = request.params
        try:
            order_type = int(p.get("type", ""))
        except ValueError:
            raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: type") from None
        order = self.exchange.place(
            user,
            self._symbol(p),
            p.get("side", ""),
            order_type,
            p.get("volume", ""),
            p.get("price"),
        )
        return ok({"order_id": order.id})

    def show_order(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/showOrder``: ``{order_info: {..., tradeList}, trade_list}``."""
        with self.exchange.lock:
            order = self._order(user, request.params)
            base, quote = self._coins(order.symbol)
            fills = [_fill_item(f, my_trades=False) for f in order.fills]
            info = _order_item(order, base, quote)
        info["tradeList"] = fills
        return ok({"trade_list": fills, "order_info": info})

    def _cancel_route(self, name: str) -> UserHandler:
        def handler(request: HttpRequest, user: UserAccount) -> Reply:
            if name not in self.cancel_paths:
                return Reply(404, "Not Found", content_type="text/plain")
            return self.cancel_order(request, user)

        return handler

    def cancel_order(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``DELETE /v1/order`` (doc) and ``POST /v1/orders/cancel`` (live API): data null."""
        order = self._order(user, request.params)
        self.exchange.cancel(user, order.symbol, order.id)
        return ok(None)

    def cancel_all(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/cancelAllOrders``: data null."""
        self.exchange.cancel_all(user, self._symbol(request.params))
        return ok(None)

    def _orders(self, user: UserAccount, symbol: str, keep: Callable[[Order], bool]) -> list[Any]:
        base, quote = self._coins(symbol)
        with self.exchange.lock:
            chosen = [o for o in user.orders if o.symbol == symbol and keep(o)]
            chosen.sort(key=lambda o: (o.created_ms, o.id), reverse=True)  # newest first
            return [_order_item(o, base, quote) for o in chosen]

    def open_orders(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/openOrders``: ``{count, resultList}``, paged."""
        symbol = self._symbol(request.params)
        items, count = _page(
            self._orders(user, symbol, lambda o: o.status in OPEN_STATUSES), request.params
        )
        return ok({"count": count, "resultList": items})

    def all_orders(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/allOrders``: ``{count, orderList}``, paged, ``startDate``/``endDate``."""
        p = request.params
        symbol = self._symbol(p)
        off = self.date_offset_hours
        lo, hi = _date_ms(p, "startDate", off), _date_ms(p, "endDate", off)
        rows = self._orders(user, symbol, lambda o: _in_range(o.created_ms, lo, hi))
        items, count = _page(rows, p)
        return ok({"count": count, "orderList": items})

    def my_trades(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/myTrades``: ``{count, resultList}``, paged; ``sort=1`` oldest first."""
        p = request.params
        symbol = self._symbol(p)
        off = self.date_offset_hours
        lo, hi = _date_ms(p, "startDate", off), _date_ms(p, "endDate", off)
        with self.exchange.lock:
            fills = [
                f
                for o in user.orders
                if o.symbol == symbol
                for f in o.fills
                if _in_range(f.ctime_ms, lo, hi)
            ]
        fills.sort(key=lambda f: (f.ctime_ms, f.id), reverse=p.get("sort") != "1")
        items, count = _page([_fill_item(f, my_trades=True) for f in fills], p)
        return ok({"count": count, "resultList": items})
