"""Crypto.com Exchange v1 user API, served by the sandbox: accounts, signatures, matching.

Written from ``cryptocom-v1-rest-ws.md`` ("Request Signing", "Response Status
Code", "User API") and NOTES.md, independently of the client: it imports no
``mdkit.venues``, ``mdkit.rest`` or ``mdkit.account`` code and checks signatures
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

Matching: a limit order that crosses the synthetic book fills at once, walking
the book's levels (taker); its rest waits and fills at its own price as the
market's trades go through that price (maker), checked on every user request.
Market orders fill at once against the book (market buy: ``volume`` is the quote
total, per the doc). The synthetic book is not depleted by account orders.
Fees: :data:`FEE_RATE` of what is received (base for buys, quote for sells),
rounded to 8 decimals.
Balances are :class:`~decimal.Decimal`; ``locked`` is always the sum of what the
open orders reserve.

Wire quirks as the live API (NOTES.md): ``code`` a string, numeric strings with 8
decimals, ``fee`` a bare ``0E-8`` when zero, ``deal_price`` a bare 16-decimal
number, side ``BUY``/``SELL`` (``Buy``/``Sell`` in fills' ``type``), lists keyed
``resultList`` (openOrders, myTrades) and ``orderList`` (allOrders).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from mdkit.sandbox.cryptocom import error, ok
from mdkit.sandbox.http import HttpRequest, HttpServer, Reply
from mdkit.sandbox.market import Market
from mdkit.sandbox.wire import Raw

__all__ = [
    "CryptocomAccounts",
    "Exchange",
    "SandboxError",
    "UserAccount",
    "Order",
    "Fill",
    "DEMO_API_KEY",
    "DEMO_SECRET_KEY",
    "DEMO_BALANCES",
    "FEE_RATE",
    "TIME_WINDOW_MS",
    "USER_RATE",
    "expected_sign",
]

#: A fixed, clearly fake key pair for the sandbox's demo account.
DEMO_API_KEY = "sandbox-demo-api-key-not-a-real-key"
DEMO_SECRET_KEY = "sandbox-demo-secret-not-a-real-secret"
DEMO_BALANCES: dict[str, str] = {"usdt": "100000", "btc": "2", "eth": "20", "cro": "50000"}
FEE_RATE = Decimal("0.001")
#: How far ``time`` may be from server time.
TIME_WINDOW_MS = 5_000
#: doc "Response Status Code": user APIs, 10 requests per second per ``user_id``.
USER_RATE = 10
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000

PARAM_ILLEGAL = "100004"
SIGN_ILLEGAL = ("100005", "request sign illegal")
TIME_EXPIRED = ("100010", "request time expired")
BALANCE_LOW = ("110001", "balance not enough")
ORDER_NOT_FOUND = ("110002", "order not found")
ORDER_FINISHED = ("110003", "order already finished")

_OPEN = (0, 1, 3)
_STATUS_MSG = {
    0: "Init",
    1: "Unsettled",
    2: "Completely Filled",
    3: "Partially Filled",
    4: "Canceled",
    5: "Pending Cancel",
    6: "Expired",
}
_ZERO = Decimal(0)
#: Fees are rounded to 8 decimals, the precision the wire shows them with.
_FEE_STEP = Decimal("1E-8")


class SandboxError(Exception):
    """An error answer: the venue's code and message."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"[{code}] {msg}")
        self.code = code
        self.msg = msg


def expected_sign(params: Mapping[str, str], secret: str) -> str:
    """The doc's signature: sorted ``name+value`` of non-empty values, then the secret, SHA-256."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    return hashlib.sha256((text + secret).encode("utf-8")).hexdigest()


@dataclass
class Fill:
    """One execution of an account's order."""

    id: int
    order_id: int
    user_id: int
    symbol: str
    side: str
    price: Decimal
    volume: Decimal
    fee: Decimal
    fee_coin: str
    ctime_ms: int


@dataclass
class Order:
    """An account's order; ``reserved`` is what it still holds locked."""

    id: int
    user_id: int
    symbol: str
    side: str
    type: int
    volume: Decimal
    price: Decimal | None
    created_ms: int
    updated_ms: int
    checked_ms: int
    status: int = 1
    deal_volume: Decimal = _ZERO
    deal_funds: Decimal = _ZERO
    fee: Decimal = _ZERO
    reserved: Decimal = _ZERO
    fills: list[Fill] = field(default_factory=list)


@dataclass
class UserAccount:
    """A sandbox user: key pair, balances (free, locked per coin), orders."""

    user_id: int
    api_key: str
    secret: str = field(repr=False)
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    orders: list[Order] = field(default_factory=list)


def _dec(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: {what}") from None
    if not number.is_finite() or number <= 0:
        raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: {what} must be > 0")
    return number


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


class Exchange:
    """The accounts and the matching engine, without HTTP (tests drive it directly).

    Parameters
    ----------
    market : Market
        The synthetic market whose book and trades orders meet.
    fee_rate : Decimal
        Fee on what an execution gives the account (taker and maker alike).
    """

    def __init__(self, market: Market, fee_rate: Decimal = FEE_RATE) -> None:
        self.market = market
        self.fee_rate = fee_rate
        self.users: dict[str, UserAccount] = {}
        self.lock = threading.RLock()
        self._next_user = 10100
        self._next_order = 8000
        self._next_fill = 6000

    # -- accounts -----------------------------------------------------------------
    def create(
        self,
        balances: Mapping[str, Any] | None = None,
        *,
        api_key: str | None = None,
        secret: str | None = None,
    ) -> UserAccount:
        """Open an account with free ``balances`` ({coin: amount}) and a key pair."""
        with self.lock:
            self._next_user += 1
            user = UserAccount(
                self._next_user,
                api_key or "sandbox-key-" + secrets.token_hex(12),
                secret or "sandbox-secret-" + secrets.token_hex(16),
            )
            for coin, amount in (balances or {}).items():
                user.free[coin.lower()] = Decimal(str(amount))
                user.locked[coin.lower()] = _ZERO
            self.users[user.api_key] = user
            return user

    def _now_ms(self) -> int:
        return int(self.market.now() * 1000)

    def _move(self, user: UserAccount, coin: str, free: Decimal, locked: Decimal) -> None:
        user.free[coin] = user.free.get(coin, _ZERO) + free
        user.locked[coin] = user.locked.get(coin, _ZERO) + locked

    # -- orders -------------------------------------------------------------------
    def place(
        self,
        user: UserAccount,
        symbol: str,
        side: str,
        order_type: int,
        volume: Any,
        price: Any = None,
    ) -> Order:
        """Create an order, reserve its funds and match what crosses the book now.

        Raises
        ------
        SandboxError
            ``100004`` bad parameter, ``110001`` balance not enough.
        """
        if symbol not in self.market.instruments:
            raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: symbol {symbol!r}")
        side = side.upper()
        if side not in ("BUY", "SELL"):
            raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: side must be BUY/SELL")
        if order_type not in (1, 2):
            raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: type must be 1 or 2")
        inst = self.market.instrument(symbol)
        vol = _dec(volume, "volume")
        market_buy = order_type == 2 and side == "BUY"
        if not market_buy and _decimals(vol) > inst.amount_precision:
            raise SandboxError(
                PARAM_ILLEGAL,
                f"request parameter illegal: volume has more than {inst.amount_precision} decimals",
            )
        limit: Decimal | None = None
        if order_type == 1:
            if price is None or price == "":
                raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: price required")
            limit = _dec(price, "price")
            if _decimals(limit) > inst.price_precision:
                raise SandboxError(
                    PARAM_ILLEGAL,
                    "request parameter illegal: price has more than "
                    f"{inst.price_precision} decimals",
                )
        # What the order reserves: quote for buys (price × volume, or the market
        # buy's quote total), base for sells.
        if side == "BUY":
            coin, need = inst.quote, vol if market_buy else vol * (limit or _ZERO)
        else:
            coin, need = inst.base, vol
        with self.lock:
            if user.free.get(coin, _ZERO) < need:
                raise SandboxError(*BALANCE_LOW)
            now = self._now_ms()
            self._next_order += 1
            order = Order(
                self._next_order,
                user.user_id,
                symbol,
                side,
                order_type,
                vol,
                limit,
                now,
                now,
                now,
                reserved=need,
            )
            self._move(user, coin, -need, need)
            user.orders.append(order)
            self._take_book(user, order, now)
            return order

    def _take_book(self, user: UserAccount, order: Order, now: int) -> None:
        inst = self.market.instrument(order.symbol)
        book = self.market.book(order.symbol, now / 1000)
        levels = book.asks if order.side == "BUY" else book.bids
        step = Decimal(1).scaleb(-inst.amount_precision)
        for raw_price, raw_amount in levels:
            price = Decimal(f"{raw_price:.{inst.price_precision}f}")
            amount = Decimal(f"{raw_amount:.{inst.amount_precision}f}")
            if order.price is not None and (
                price > order.price if order.side == "BUY" else price < order.price
            ):
                break
            if order.type == 2 and order.side == "BUY":
                left = order.reserved
                take = min(amount, (left / price).quantize(step, rounding=ROUND_DOWN))
            else:
                take = min(amount, order.volume - order.deal_volume)
            if take <= 0:
                break
            self._execute(user, order, price, take, now)
            if order.status == 2:
                return
        if order.type == 2:
            # A market order never rests: what the book could not fill is given back.
            self._finish(user, order, 2 if order.deal_volume > 0 else 4, now)
        elif order.deal_volume > 0:
            order.status = 3

    def _execute(
        self, user: UserAccount, order: Order, price: Decimal, volume: Decimal, now: int
    ) -> None:
        inst = self.market.instrument(order.symbol)
        funds = price * volume
        if order.side == "BUY":
            fee, fee_coin = (volume * self.fee_rate).quantize(_FEE_STEP), inst.base
            # A limit buy reserved price × volume; a fill below its price gives the
            # difference back at once, so locked stays price × remaining volume.
            held = funds if order.price is None else order.price * volume
            self._move(user, inst.quote, held - funds, -held)
            self._move(user, inst.base, volume - fee, _ZERO)
            order.reserved -= held
        else:
            fee, fee_coin = (funds * self.fee_rate).quantize(_FEE_STEP), inst.quote
            self._move(user, inst.base, _ZERO, -volume)
            self._move(user, inst.quote, funds - fee, _ZERO)
            order.reserved -= volume
        order.deal_volume += volume
        order.deal_funds += funds
        order.fee += fee
        order.updated_ms = now
        self._next_fill += 1
        order.fills.append(
            Fill(
                self._next_fill,
                order.id,
                user.user_id,
                order.symbol,
                order.side,
                price,
                volume,
                fee,
                fee_coin,
                now,
            )
        )
        if order.type == 1 and order.deal_volume >= order.volume:
            self._finish(user, order, 2, now)
        else:
            order.status = 3

    def _finish(self, user: UserAccount, order: Order, status: int, now: int) -> None:
        inst = self.market.instrument(order.symbol)
        coin = inst.quote if order.side == "BUY" else inst.base
        self._move(user, coin, order.reserved, -order.reserved)
        order.reserved = _ZERO
        order.status = status
        order.updated_ms = now

    def advance(self, now_ms: int | None = None) -> None:
        """Fill resting orders from the market trades printed since they were last checked.

        A buy fills from trades at or below its price, a sell from trades at or
        above, at the order's own price, at most each trade's amount.
        """
        with self.lock:
            now = self._now_ms() if now_ms is None else now_ms
            for user in self.users.values():
                for order in user.orders:
                    if order.status in _OPEN and order.price is not None and now > order.checked_ms:
                        self._match_trades(user, order, now)

    def _match_trades(self, user: UserAccount, order: Order, now: int) -> None:
        inst = self.market.instrument(order.symbol)
        trades = self.market.trades(order.symbol, order.checked_ms + 1, now + 1)
        order.checked_ms = now
        assert order.price is not None
        limit = float(order.price)
        for i in range(len(trades)):
            price = float(trades.price[i])
            if price > limit if order.side == "BUY" else price < limit:
                continue
            amount = Decimal(f"{float(trades.amount[i]):.{inst.amount_precision}f}")
            take = min(amount, order.volume - order.deal_volume)
            self._execute(user, order, order.price, take, int(trades.time_ms[i]))
            if order.status == 2:
                return

    def cancel(self, user: UserAccount, symbol: str, order_id: int) -> Order:
        """Cancel one open order and release what it reserves.

        Raises
        ------
        SandboxError
            ``110002`` unknown order, ``110003`` already filled or canceled.
        """
        with self.lock:
            for order in user.orders:
                if order.id == order_id and order.symbol == symbol:
                    if order.status not in _OPEN:
                        raise SandboxError(*ORDER_FINISHED)
                    self._finish(user, order, 4, self._now_ms())
                    return order
            raise SandboxError(*ORDER_NOT_FOUND)

    def cancel_all(self, user: UserAccount, symbol: str) -> int:
        """Cancel every open order of ``symbol``; return how many."""
        with self.lock:
            now = self._now_ms()
            done = 0
            for order in user.orders:
                if order.symbol == symbol and order.status in _OPEN:
                    self._finish(user, order, 4, now)
                    done += 1
            return done

    def btc_value(self, coin: str) -> Decimal:
        """Value of one unit of ``coin`` in BTC, from the synthetic market's mid prices."""
        t = self.market.now()
        names = self.market.instruments
        if coin == "btc":
            return Decimal(1)
        if coin + "btc" in names:
            return Decimal(f"{float(self.market.mid(coin + 'btc', t)[0]):.10f}")
        btc_usdt = float(self.market.mid("btcusdt", t)[0])
        if coin == "usdt":
            return Decimal(f"{1 / btc_usdt:.10f}")
        if coin + "usdt" in names:
            return Decimal(f"{float(self.market.mid(coin + 'usdt', t)[0]) / btc_usdt:.10f}")
        return _ZERO


# -- wire forms ----------------------------------------------------------------------
def _s8(value: Decimal) -> str:
    return f"{value:.8f}"


def _bare(value: Decimal, decimals: int) -> Raw:
    # BigDecimal zero printed as 0E-8 / 0E-16 by the live API (NOTES.md).
    return Raw(f"0E-{decimals}") if value == 0 else Raw(f"{value:.{decimals}f}")


def _order_item(order: Order, base: str, quote: str) -> dict[str, Any]:
    side = order.side
    avg = order.deal_funds / order.deal_volume if order.deal_volume else _ZERO
    market_buy = order.type == 2 and side == "BUY"
    total = order.volume if market_buy else order.volume * (order.price or avg)
    remain = _ZERO if market_buy or order.status not in _OPEN else order.volume - order.deal_volume
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
        "price": _s8(order.price or _ZERO),
        "source_msg": "API",
        "status_msg": _STATUS_MSG[order.status],
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


def _date_ms(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        when = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise SandboxError(
            PARAM_ILLEGAL, f"request parameter illegal: {name} must be yyyy-MM-dd HH:mm:ss"
        ) from None
    return int(when.timestamp() * 1000)


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
    server : HttpServer
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

    def __init__(self, market: Market, server: HttpServer, *, fee_rate: Decimal = FEE_RATE):
        self.market = market
        self.server = server
        self.exchange = Exchange(market, fee_rate)
        self.clock: Callable[[], float] = market.now
        self.time_window_ms = TIME_WINDOW_MS
        server.set_limit("user", USER_RATE)
        routes: tuple[tuple[str, str, UserHandler], ...] = (
            ("POST", "/v1/account", self.account),
            ("POST", "/v1/order", self.create_order),
            ("POST", "/v1/showOrder", self.show_order),
            ("DELETE", "/v1/order", self.cancel_order),
            ("POST", "/v1/orders/cancel", self.cancel_order),
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
            return {c: (user.free[c], user.locked.get(c, _ZERO)) for c in user.free}

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
            total = _ZERO
            for coin in sorted(user.free):
                free, locked = user.free[coin], user.locked.get(coin, _ZERO)
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
            self._orders(user, symbol, lambda o: o.status in _OPEN), request.params
        )
        return ok({"count": count, "resultList": items})

    def all_orders(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/allOrders``: ``{count, orderList}``, paged, ``startDate``/``endDate``."""
        p = request.params
        symbol = self._symbol(p)
        lo, hi = _date_ms(p, "startDate"), _date_ms(p, "endDate")
        rows = self._orders(user, symbol, lambda o: _in_range(o.created_ms, lo, hi))
        items, count = _page(rows, p)
        return ok({"count": count, "orderList": items})

    def my_trades(self, request: HttpRequest, user: UserAccount) -> Reply:
        """``POST /v1/myTrades``: ``{count, resultList}``, paged; ``sort=1`` oldest first."""
        p = request.params
        symbol = self._symbol(p)
        lo, hi = _date_ms(p, "startDate"), _date_ms(p, "endDate")
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
