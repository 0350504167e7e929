"""Richamster WebSocket server, served from the synthetic market.

Written from ``richamster-ws.txt`` and NOTES.md, independently of the client (it
imports no ``mdkit.venues``/``engine``/``capture`` code):

- one path, ``/ws/public/v1/stream/`` (``ws://host:port/richamster/ws/public/v1/stream/``);
- a client message ``{"channel": ..., "pair": ...}`` subscribes; every message is
  answered by one ``{"type":"success"|"error","message":...}`` (doc "Responses"): the
  success text is the doc's, ``Subscription channel is invalid.`` is the doc's, the
  other error texts are the sandbox's (the doc shows no others);
- ``ticker`` (``pair last first high low volume``, every ``1/rate`` s), ``order_book``
  (one frame per level ``pair unit_price sum side volume``: with ``book_burst`` (the
  default) every level of the top ``book_levels`` per side right after the subscribe's
  ack, then the changed ones each second, volume 0 for a level that went; the doc
  says only "you'll receive updates", so ``book_burst=False`` sends the changes only),
  ``trading`` (one frame per trade, ``created_at``/``closed_at`` as unix-second strings,
  ``side`` ``buying``/``selling``), ``user_orders`` (the
  token's account: a frame whenever one of its orders on the pair changes, ``pk`` its
  id, ``closed_at`` null while open);
- data frames carry no channel name (NOTES.md); numbers are JSON numbers written
  with the pair's decimals;
- ``user_orders`` needs a ``token`` the sandbox issued (:data:`DEMO_TOKEN` is
  ``MDKIT_RICHAMSTER_TOKEN``); orders are placed with :meth:`RichamsterServer.place_order`
  on the shared matching engine (:mod:`mdkit.sandbox.exchange`).

Faults: the shared ones (``drop close kick malformed silence gap``); no venue kind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from mdkit.sandbox.exchange import Exchange, Order, UserAccount
from mdkit.sandbox.market import Market
from mdkit.sandbox.wire import Raw, dumps, plain, trimmed
from mdkit.sandbox.wshost import Conn, VenueServer

__all__ = ["RichamsterServer", "PATH", "CHANNELS", "DEMO_TOKEN", "DEMO_BALANCES"]

PATH = "/ws/public/v1/stream/"
#: doc "Channels".
CHANNELS = ("ticker", "order_book", "trading", "user_orders")
#: A clearly fake token of the sandbox's demo account.
DEMO_TOKEN = "sandbox-richamster-demo-token-not-real"
DEMO_BALANCES = {"uah": "1000000", "krb": "100000", "btc": "2", "eth": "20", "usdt": "50000"}
CHANNEL_INVALID = "Subscription channel is invalid."  # doc
PAIR_INVALID = "Currency pair is invalid."
TOKEN_MISSING = "Authorization token is required."
TOKEN_INVALID = "Authorization token is invalid."
MESSAGE_INVALID = "Message is not valid JSON."


@dataclass(eq=False)
class _Sub:
    channel: str
    pair: str
    last_ms: int = 0
    next_push: float = 0.0
    book: dict[tuple[str, int], int] = field(default_factory=dict)
    user: UserAccount | None = None
    seen: dict[int, tuple[int, Decimal]] = field(default_factory=dict)


class RichamsterServer(VenueServer):
    """The Richamster sandbox server.

    Parameters
    ----------
    market : Market
        The shared synthetic market; the server serves ``market.venue("richamster")``
        (``KRB/UAH``, ``BTC/UAH``... with Richamster's own spread, depth and lag).
    rate : float
        Push speed multiplier: tickers and book diffs every ``1/rate`` s, trades and
        orders checked every ``0.1/rate`` s.
    book_levels : int
        Levels per side in ``order_book``.
    book_burst : bool
        Send the whole top ``book_levels`` right after an ``order_book`` subscribe (the
        venue's book as a burst of level frames); False: changes only (the doc's
        minimum: "you'll receive updates").

    Attributes
    ----------
    view : Market
        The market with Richamster's pairs.
    exchange : Exchange
        Accounts and matching; the demo account's token is :data:`DEMO_TOKEN`.
    received : list
        Client messages received (decoded), for tests.
    """

    key = "richamster"
    paths = (PATH,)
    ws_env = {"WS_URL": PATH, "PRIVATE_WS_URL": PATH}
    credentials = {"TOKEN": DEMO_TOKEN}

    def __init__(
        self, market: Market, *, rate: float = 1.0, book_levels: int = 20, book_burst: bool = True
    ) -> None:
        if not rate > 0 or not (isinstance(book_levels, int) and book_levels > 0):
            raise ValueError("rate must be > 0 and book_levels an int > 0")
        super().__init__(market)
        self.rate = float(rate)
        self.book_levels = book_levels
        self.book_burst = bool(book_burst)
        self.view = market.venue(self.key)
        self.exchange = Exchange(self.view)
        self.tokens: dict[str, UserAccount] = {}
        self.received: list[Any] = []
        self.demo = self.create_account(DEMO_BALANCES, token=DEMO_TOKEN)

    # -- accounts -------------------------------------------------------------------------
    def create_account(self, balances: dict[str, str], *, token: str | None = None) -> UserAccount:
        """Open an account with ``balances``; its token is ``token`` (or a fresh one)."""
        user = self.exchange.create(balances)
        self.tokens[token or "sandbox-token-" + user.api_key] = user
        return user

    def place_order(
        self,
        pair: str,
        side: str,
        volume: Any,
        price: Any,
        *,
        token: str = DEMO_TOKEN,
    ) -> Order:
        """Place a limit order for the token's account; it fills what crosses the book.

        ``side`` is ``buy``/``sell`` (or ``buying``/``selling``). Thread-safe; the
        ``user_orders`` subscribers of that pair get a frame within ``0.1/rate`` s.

        Raises
        ------
        SandboxError
            Bad pair, side, volume or price; balance not enough.
        """
        side = {"buying": "BUY", "selling": "SELL"}.get(side.lower(), side.upper())
        return self.exchange.place(self.tokens[token], pair, side, 1, volume, price)

    def cancel_order(self, pair: str, pk: int, *, token: str = DEMO_TOKEN) -> Order:
        """Cancel one open order of the token's account."""
        return self.exchange.cancel(self.tokens[token], pair, pk)

    def malformed(self) -> str:
        """A book frame cut short."""
        return '{"pair":"KRB/UAH","unit_price":1.2'

    # -- connection -----------------------------------------------------------------------
    async def serve(self, conn: Conn) -> None:
        """One client: answer each subscribe, push what it subscribed to."""
        subs: dict[tuple[str, str], _Sub] = {}
        conn.state["richamster"] = subs
        conn.spawn(self._pusher(conn, subs))
        async for message in conn:
            self._on_message(conn, subs, message)

    def _ack(self, conn: Conn, kind: str, message: str) -> None:
        conn.send(orjson.dumps({"type": kind, "message": message}).decode())

    def _on_message(self, conn: Conn, subs: dict[tuple[str, str], _Sub], raw: str | bytes) -> None:
        try:
            msg = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self._ack(conn, "error", MESSAGE_INVALID)
            return
        self.received.append(msg)
        if not isinstance(msg, dict):
            self._ack(conn, "error", MESSAGE_INVALID)
            return
        channel, pair = msg.get("channel"), msg.get("pair")
        if channel not in CHANNELS:
            self._ack(conn, "error", CHANNEL_INVALID)
            return
        if not isinstance(pair, str) or pair not in self.view.instruments:
            self._ack(conn, "error", PAIR_INVALID)
            return
        sub = _Sub(channel, pair, last_ms=int(self.view.now() * 1000))
        if channel == "user_orders":
            token = msg.get("token")
            if not token:
                self._ack(conn, "error", TOKEN_MISSING)
                return
            user = self.tokens.get(str(token))
            if user is None:
                self._ack(conn, "error", TOKEN_INVALID)
                return
            sub.user = user
            sub.seen = self._order_states(user, pair)
        self._ack(
            conn,
            "success",
            f'You are connected to channel "{channel}" and currency pair "{pair}"',
        )
        if (channel, pair) not in subs:
            subs[(channel, pair)] = sub
            if channel == "order_book":
                # The burst (if any) now; the changes on the push cadence after it.
                sub.next_push = asyncio.get_running_loop().time() + 1.0 / self.rate
                self._push_book(conn, sub, send=self.book_burst)

    # -- pushes ---------------------------------------------------------------------------
    async def _pusher(self, conn: Conn, subs: dict[tuple[str, str], _Sub]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1 / self.rate)
            now = loop.time()
            for sub in list(subs.values()):
                if sub.channel == "trading":
                    self._push_trades(conn, sub)
                elif sub.channel == "user_orders":
                    self._push_orders(conn, sub)
                elif now >= sub.next_push:
                    sub.next_push = now + 1.0 / self.rate
                    if sub.channel == "ticker":
                        self._push_ticker(conn, sub)
                    else:
                        self._push_book(conn, sub)

    def _decimals(self, pair: str) -> tuple[int, int]:
        inst = self.view.instrument(pair)
        return inst.price_precision, inst.amount_precision

    def _push_ticker(self, conn: Conn, sub: _Sub) -> None:
        t = self.view.ticker(sub.pair)
        pp, ap = self._decimals(sub.pair)
        frame = {
            "pair": sub.pair,
            "last": plain(t["last"], pp),
            "first": plain(t["open"], pp),
            "high": plain(t["high"], pp),
            "low": plain(t["low"], pp),
            "volume": plain(t["volume"], ap),
        }
        conn.send(dumps(frame), push=True)

    def _push_trades(self, conn: Conn, sub: _Sub) -> None:
        now_ms = int(self.view.now() * 1000)
        tr = self.view.trades(sub.pair, sub.last_ms, now_ms)
        sub.last_ms = max(sub.last_ms, now_ms)
        pp, ap = self._decimals(sub.pair)
        ticks, lots = tr.price_ticks.tolist(), tr.amount_lots.tolist()
        for i in range(len(tr)):
            closed = int(tr.time_ms[i]) // 1000
            frame = {
                # The order that closed was placed some seconds before it traded.
                "created_at": str(closed - int(tr.id[i]) % 30),
                "closed_at": str(closed),
                "side": "buying" if tr.is_buy[i] else "selling",
                "volume": Raw(trimmed(lots[i], ap)),
                "unit_price": Raw(trimmed(ticks[i], pp)),
                "sum": Raw(trimmed(ticks[i] * lots[i], pp + ap)),
                "pair": sub.pair,
            }
            conn.send(dumps(frame), push=True)

    def _push_book(self, conn: Conn, sub: _Sub, *, send: bool = True) -> None:
        book = self.view.book(sub.pair)
        pp, ap = self._decimals(sub.pair)
        levels: dict[tuple[str, int], int] = {}
        n = self.book_levels
        for side, ticks, lots in (
            ("buying", book.bid_ticks, book.bid_lots),
            ("selling", book.ask_ticks, book.ask_lots),
        ):
            for price, amount in zip(ticks[:n].tolist(), lots[:n].tolist(), strict=True):
                levels[(side, price)] = amount

        # One level per frame, ordered so that the book a client rebuilds frame by frame
        # is never crossed and never one-sided while the venue's is not: (1) new levels
        # that do not cross the old book, (2) old levels that the new book crosses (a
        # price jumped past them), (3) the other new levels, (4) the other removals.
        def best(book: dict[tuple[str, int], int], side: str) -> int | None:
            prices = [p for (s, p) in book if s == side]
            return (max if side == "buying" else min)(prices) if prices else None

        def crosses(level: tuple[str, int], bid: int | None, ask: int | None) -> bool:
            side, price = level
            if side == "buying":
                return ask is not None and price >= ask
            return bid is not None and price <= bid

        old_bid, old_ask = best(sub.book, "buying"), best(sub.book, "selling")
        new_bid, new_ask = best(levels, "buying"), best(levels, "selling")
        adds = [(k, v) for k, v in levels.items() if sub.book.get(k) != v]
        gone = [(k, 0) for k in sub.book if k not in levels]
        changed = [a for a in adds if not crosses(a[0], old_bid, old_ask)]
        changed += [g for g in gone if crosses(g[0], new_bid, new_ask)]
        changed += [a for a in adds if crosses(a[0], old_bid, old_ask)]
        changed += [g for g in gone if not crosses(g[0], new_bid, new_ask)]
        sub.book = levels
        if not send:  # no burst: the book is known, only later changes go out
            return
        for (side, price), amount in changed:
            frame = {
                "pair": sub.pair,
                "unit_price": Raw(trimmed(price, pp)),
                "sum": Raw(trimmed(price * amount, pp + ap)),
                "side": side,
                "volume": Raw(trimmed(amount, ap)),
            }
            conn.send(dumps(frame), push=True)

    def _order_states(self, user: UserAccount, pair: str) -> dict[int, tuple[int, Decimal]]:
        with self.exchange.lock:
            return {o.id: (o.status, o.deal_volume) for o in user.orders if o.symbol == pair}

    def _push_orders(self, conn: Conn, sub: _Sub) -> None:
        assert sub.user is not None
        self.exchange.advance()
        pp, ap = self._decimals(sub.pair)
        with self.exchange.lock:
            orders = [o for o in sub.user.orders if o.symbol == sub.pair]
            for order in orders:
                state = (order.status, order.deal_volume)
                if sub.seen.get(order.id) == state:
                    continue
                sub.seen[order.id] = state
                price = order.price or Decimal(0)  # limit orders only (place_order)
                frame = {
                    "created_at": str(order.created_ms // 1000),
                    "closed_at": None
                    if order.status in (0, 1, 3)
                    else str(order.updated_ms // 1000),
                    "side": "buying" if order.side == "BUY" else "selling",
                    "volume": Raw(f"{order.volume:.{ap}f}"),
                    "unit_price": Raw(f"{price:.{pp}f}"),
                    "sum": Raw(f"{price * order.volume:.{pp + ap}f}"),
                    "pair": sub.pair,
                    "pk": order.id,
                }
                conn.send(dumps(frame))
