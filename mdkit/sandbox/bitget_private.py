"""The Bitget sandbox's private side: login checks; ``orders``, ``fill``, ``account`` pushes.

Part of the Bitget v2 sandbox server (:mod:`mdkit.sandbox.bitget`), written from
``bitget-v2-ws.txt`` independently of the client: a login is checked as the doc's
"Login" says (``30011`` unknown key, ``30012`` wrong passphrase, ``30013`` timestamp
not seconds, ``30014`` more than 30 s off, ``30015`` bad sign), and a logged-in
connection gets its sandbox account's orders, fills and balances from the shared
matching engine (:class:`~mdkit.sandbox.exchange.Exchange`) in Bitget's shapes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from mdkit.sandbox.exchange import UserAccount
from mdkit.sandbox.wshost import Conn

if TYPE_CHECKING:
    from mdkit.sandbox.bitget import BitgetServer, ConnectionState

__all__ = ["ORDER_STATUS", "PRIVATE_CHANNELS", "PrivateChannels"]

#: The private channels (doc "Private channels"; login first).
PRIVATE_CHANNELS = {"orders", "fill", "account"}
#: Matching-engine order status → Bitget's ``status``.
ORDER_STATUS = {
    0: "live",
    1: "live",
    2: "filled",
    3: "partially_filled",
    4: "cancelled",
    6: "cancelled",
}


class PrivateChannels:
    """Login checks and private pushes of one Bitget server (its users and exchange)."""

    def __init__(self, server: BitgetServer) -> None:
        self.s = server

    def check_login(self, arg: dict[str, str]) -> tuple[int, str] | None:
        """The refusal ``(code, msg)`` of a login (doc "Login"), or None to accept it."""
        found = self.s.users.get(arg["apiKey"])
        if found is None:
            return 30011, "Invalid ACCESS_KEY"
        user, passphrase = found
        if not hmac.compare_digest(arg["passphrase"], passphrase):
            return 30012, "Invalid ACCESS_PASSPHRASE"
        stamp = arg["timestamp"]
        if not stamp.isdigit() or len(stamp) != 10:  # seconds (doc "Login")
            return 30013, "Invalid ACCESS_TIMESTAMP"
        if abs(int(stamp) - self.s.market.now()) > 30:
            return 30014, "Request timestamp expired"
        content = f"{stamp}GET/user/verify".encode()
        want = base64.b64encode(hmac.new(user.secret.encode(), content, hashlib.sha256).digest())
        if not hmac.compare_digest(arg["sign"].encode(), want):
            return 30015, "Invalid sign"
        return None

    def balances(self, user: UserAccount) -> list[dict[str, str]]:
        """The ``account`` channel's items: one per coin of the account."""
        stamp = str(int(self.s.view.now() * 1000))
        with self.s.exchange.lock:
            return [{"coin": coin.upper(), "available": str(user.free.get(coin, 0)),
                     "frozen": str(user.locked.get(coin, 0)), "locked": "0",
                     "limitAvailable": "0", "uTime": stamp}
                    for coin in sorted(user.free)]  # fmt: skip

    def push(self, conn: Conn, state: ConnectionState) -> None:
        """Push the logged-in account's changed orders, new fills and then its balances."""
        user = state.user
        assert user is not None
        self.s.exchange.advance()
        orders, fills = [], []
        with self.s.exchange.lock:
            for order in user.orders:
                mark = (ORDER_STATUS[order.status], str(order.deal_volume))
                if state.orders.get(order.id) != mark:
                    state.orders[order.id] = mark
                    orders.append(self._order(order))
                for fill in order.fills:
                    if fill.id not in state.fills:
                        state.fills.add(fill.id)
                        fills.append(self._fill(order, fill))
        subs = {sub.channel: sub for sub in state.subs.values() if sub.channel in PRIVATE_CHANNELS}
        if orders and "orders" in subs:
            conn.send(self.s._envelope(subs["orders"], "snapshot", orders))
        if fills and "fill" in subs:
            conn.send(self.s._envelope(subs["fill"], "snapshot", fills))
        if (orders or fills) and "account" in subs:
            conn.send(self.s._envelope(subs["account"], "snapshot", self.balances(user)))

    def _order(self, order: Any) -> dict[str, Any]:
        avg = order.deal_funds / order.deal_volume if order.deal_volume else 0
        coin = self.s.view.instrument(order.symbol)
        fee_coin = (coin.base if order.side == "BUY" else coin.quote).upper()
        out = {"instId": order.symbol.upper(), "orderId": str(order.id),
               "clientOid": f"sb{order.id}", "size": str(order.volume),
               "orderType": "limit" if order.type == 1 else "market", "force": "gtc",
               "side": order.side.lower(), "accBaseVolume": str(order.deal_volume),
               "priceAvg": f"{avg:.{coin.price_precision}f}", "status": ORDER_STATUS[order.status],
               "feeDetail": [{"feeCoin": fee_coin, "fee": f"-{order.fee}"}],
               "cTime": str(order.created_ms), "uTime": str(order.updated_ms),
               # The doc's example carries these too (order size as placed, no
               # self-trade prevention, placed through the API).
               "newSize": str(order.volume), "stpMode": "none",
               "enterPointSource": "API"}  # fmt: skip
        if order.price is not None:
            out["price"] = str(order.price)
        return out

    def _fill(self, order: Any, fill: Any) -> dict[str, Any]:
        return {"orderId": str(order.id), "tradeId": str(fill.id), "symbol": fill.symbol.upper(),
                "orderType": "limit" if order.type == 1 else "market",
                "side": fill.side.lower(), "priceAvg": str(fill.price), "size": str(fill.volume),
                "amount": str(fill.price * fill.volume),
                "tradeScope": "maker" if fill.ctime_ms > order.created_ms else "taker",
                "feeDetail": [{"feeCoin": fill.fee_coin.upper(), "deduction": "no",
                               "totalDeductionFee": "0", "totalFee": f"-{fill.fee}"}],
                "cTime": str(fill.ctime_ms), "uTime": str(fill.ctime_ms)}  # fmt: skip
