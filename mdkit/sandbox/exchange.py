"""The sandbox exchange: accounts, balances and an order matching engine on the market.

No HTTP here: :mod:`mdkit.sandbox.cryptocom_account` serves it as the Crypto.com v1
user API. Written independently of the client (no ``mdkit.venues``, ``mdkit.engine.rest``
or ``mdkit.account`` imports), with its own signature check.

Matching: a limit order that crosses the synthetic book fills at once, walking
the book's levels (taker); its rest waits and fills at its own price as the
market's trades go through that price (maker), checked on every user request.
Market orders fill at once against the book (market buy: ``volume`` is the quote
total, per the doc). The synthetic book is not depleted by account orders.
Fees: :data:`FEE_RATE` of what is received (base for buys, quote for sells),
rounded to 8 decimals.
Balances are :class:`~decimal.Decimal`; ``locked`` is always the sum of what the
open orders reserve.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from mdkit.sandbox.market import Market

__all__ = [
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
    "to_decimal",
    "decimals_of",
    "OPEN_STATUSES",
    "STATUS_MSG",
    "ZERO",
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

OPEN_STATUSES = (0, 1, 3)
STATUS_MSG = {
    0: "Init",
    1: "Unsettled",
    2: "Completely Filled",
    3: "Partially Filled",
    4: "Canceled",
    5: "Pending Cancel",
    6: "Expired",
}
ZERO = Decimal(0)
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
    deal_volume: Decimal = ZERO
    deal_funds: Decimal = ZERO
    fee: Decimal = ZERO
    reserved: Decimal = ZERO
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


def to_decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: {what}") from None
    if not number.is_finite() or number <= 0:
        raise SandboxError(PARAM_ILLEGAL, f"request parameter illegal: {what} must be > 0")
    return number


def decimals_of(value: Decimal) -> int:
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
                user.locked[coin.lower()] = ZERO
            self.users[user.api_key] = user
            return user

    def _now_ms(self) -> int:
        return int(self.market.now() * 1000)

    def _move(self, user: UserAccount, coin: str, free: Decimal, locked: Decimal) -> None:
        user.free[coin] = user.free.get(coin, ZERO) + free
        user.locked[coin] = user.locked.get(coin, ZERO) + locked

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
        vol = to_decimal(volume, "volume")
        market_buy = order_type == 2 and side == "BUY"
        if not market_buy and decimals_of(vol) > inst.amount_precision:
            raise SandboxError(
                PARAM_ILLEGAL,
                f"request parameter illegal: volume has more than {inst.amount_precision} decimals",
            )
        limit: Decimal | None = None
        if order_type == 1:
            if price is None or price == "":
                raise SandboxError(PARAM_ILLEGAL, "request parameter illegal: price required")
            limit = to_decimal(price, "price")
            if decimals_of(limit) > inst.price_precision:
                raise SandboxError(
                    PARAM_ILLEGAL,
                    "request parameter illegal: price has more than "
                    f"{inst.price_precision} decimals",
                )
        # What the order reserves: quote for buys (price × volume, or the market
        # buy's quote total), base for sells.
        if side == "BUY":
            coin, need = inst.quote, vol if market_buy else vol * (limit or ZERO)
        else:
            coin, need = inst.base, vol
        with self.lock:
            if user.free.get(coin, ZERO) < need:
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
            self._move(user, inst.base, volume - fee, ZERO)
            order.reserved -= held
        else:
            fee, fee_coin = (funds * self.fee_rate).quantize(_FEE_STEP), inst.quote
            self._move(user, inst.base, ZERO, -volume)
            self._move(user, inst.quote, funds - fee, ZERO)
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
        order.reserved = ZERO
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
                    if (
                        order.status in OPEN_STATUSES
                        and order.price is not None
                        and now > order.checked_ms
                    ):
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
                    if order.status not in OPEN_STATUSES:
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
                if order.symbol == symbol and order.status in OPEN_STATUSES:
                    self._finish(user, order, 4, now)
                    done += 1
            return done

    def btc_value(self, coin: str) -> Decimal:
        """Value of one unit of ``coin`` in BTC, from the synthetic market's mid prices."""
        t = self.market.now()
        # By (base, quote), whatever the venue's spelling (btcusdt, BTCUSDT, BTC/UAH).
        names = {(i.base, i.quote): n for n, i in self.market.instruments.items()}
        if coin == "btc":
            return Decimal(1)
        if (coin, "btc") in names:
            return Decimal(f"{float(self.market.mid(names[coin, 'btc'], t)[0]):.10f}")
        if ("btc", "usdt") not in names:
            return ZERO
        btc_usdt = float(self.market.mid(names["btc", "usdt"], t)[0])
        if coin == "usdt":
            return Decimal(f"{1 / btc_usdt:.10f}")
        if (coin, "usdt") in names:
            return Decimal(f"{float(self.market.mid(names[coin, 'usdt'], t)[0]) / btc_usdt:.10f}")
        return ZERO
