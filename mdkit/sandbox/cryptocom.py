"""Crypto.com Exchange v1 REST market API, served from the synthetic market.

Written from ``cryptocom-v1-rest-ws.md`` and NOTES.md, independently of the
client. It speaks the doc's wire format with the live API's quirks: ``code`` as a
string, 16-decimal numeric strings in tickers, numbers with trailing zeros in
trades, kline times in seconds, ``/v1/ticker`` without a symbol as the
all-markets form, ``tick.time: null`` in depth, HTTP 500 for an unknown symbol,
HTTP 429 with a text body beyond 10 requests per second per IP.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mdkit.sandbox.http import HttpRequest, HttpVenue, Reply
from mdkit.sandbox.market import Market
from mdkit.sandbox.wire import Raw, fixed_str, plain, trimmed
from mdkit.sandbox.wire import dumps as wire_dumps

__all__ = ["CryptocomRest", "PERIODS", "ok", "error"]

#: doc "Get k-line data": period in minutes.
PERIODS = (1, 5, 15, 30, 60, 1440, 10080, 43200)
#: How many bars ``/v1/klines`` returns (the latest ones).
KLINE_PAGE = 300
TRADES_PAGE = 200
#: depth ``type``: step0 unaggregated, step1/step2 merge 10 and 100 ticks.
DEPTH_MERGE = {"step0": 1, "step1": 10, "step2": 100}


def ok(data: Any) -> Reply:
    """The success envelope (``code`` is the string ``"0"`` on the live API)."""
    return Reply(200, wire_dumps({"code": "0", "msg": "suc", "data": data}))


def error(code: str, msg: str, status: int = 200) -> Reply:
    """The error envelope, e.g. ``100004 request parameter illegal``."""
    return Reply(status, wire_dumps({"code": code, "msg": msg, "data": None}))


PARAM_ILLEGAL = ("100004", "request parameter illegal")


class CryptocomRest:
    """The REST side of the Crypto.com v1 sandbox.

    Parameters
    ----------
    market : Market
        The shared synthetic market.
    server : HttpVenue
        Where to register the routes.
    kline_order : {"asc", "desc"}
        Order of ``/v1/klines`` rows (not confirmed on the live API: clients must sort).
    uppercase_coins : bool
        ``/v1/symbols`` coins in upper case as the live API sent them (``"BTC"``);
        the doc shows lower case.
    """

    def __init__(
        self,
        market: Market,
        server: HttpVenue,
        *,
        kline_order: str = "asc",
        uppercase_coins: bool = True,
    ) -> None:
        self.market = market
        self.server = server
        self.kline_order = kline_order
        self.uppercase_coins = uppercase_coins
        server.set_limit("market", 10)
        for path, handler in (
            ("/v1/symbols", self.symbols),
            ("/v1/tickers", self.tickers),
            ("/v1/ticker", self.ticker),
            ("/v1/klines", self.klines),
            ("/v1/trades", self.trades),
            ("/v1/ticker/price", self.prices),
            ("/v1/depth", self.depth),
        ):
            server.route("GET", path, handler, limit="market")

    def _symbol(self, request: HttpRequest) -> tuple[str | None, Reply | None]:
        symbol = request.params.get("symbol", "")
        if not symbol:
            return None, error(*PARAM_ILLEGAL)
        if symbol not in self.market.instruments:
            # NOTES.md: the live API answered HTTP 500 for an unknown symbol.
            return None, Reply(500, "Internal Server Error", content_type="text/plain")
        return symbol, None

    def symbols(self, request: HttpRequest) -> Reply:
        """``GET /v1/symbols``."""
        case = str.upper if self.uppercase_coins else str.lower
        return ok(
            [
                {
                    "symbol": i.symbol,
                    "count_coin": case(i.quote),
                    "amount_precision": i.amount_precision,
                    "base_coin": case(i.base),
                    "price_precision": i.price_precision,
                }
                for i in self.market.instruments.values()
            ]
        )

    def _ticker_fields(
        self, symbol: str, stats: dict[str, float], *, listing: bool
    ) -> dict[str, Any]:
        pp = self.market.instrument(symbol).price_precision
        # Mixed types as on the wire: 16-decimal strings, plain strings, and (in the
        # all-markets listing) numbers for the touch; the single ticker sends strings.
        touch = plain if listing else fixed_str
        fields: dict[str, Any] = {
            "high": fixed_str(stats["high"], pp),
            "vol": fixed_str(stats["volume"], 8),
            "last": fixed_str(stats["last"], 16),
            "low": fixed_str(stats["low"], pp),
            "buy": touch(stats["bid"], pp),
            "sell": touch(stats["ask"], pp),
        }
        if listing:
            return {
                "symbol": symbol,
                **fields,
                "change": fixed_str(stats["change"], 10),
                "rose": fixed_str(stats["change"], 10),
            }
        return {**fields, "rose": fixed_str(stats["change"], 10), "time": int(stats["time_ms"])}

    def tickers(self, request: HttpRequest) -> Reply:
        """``GET /v1/tickers`` (and ``/v1/ticker`` without a symbol)."""
        now = self.market.now()
        items = [
            self._ticker_fields(s, self.market.ticker(s, now), listing=True)
            for s in self.market.instruments
        ]
        return ok({"date": int(now * 1000), "ticker": items})

    def ticker(self, request: HttpRequest) -> Reply:
        """``GET /v1/ticker?symbol=``; without a symbol, the all-markets answer (NOTES.md)."""
        if "symbol" not in request.params:
            return self.tickers(request)
        symbol, fail = self._symbol(request)
        if fail is not None or symbol is None:
            return fail or error(*PARAM_ILLEGAL)
        return ok(self._ticker_fields(symbol, self.market.ticker(symbol), listing=False))

    def klines(self, request: HttpRequest) -> Reply:
        """``GET /v1/klines?symbol=&period=`` — the latest bars, times in seconds."""
        symbol, fail = self._symbol(request)
        if fail is not None or symbol is None:
            return fail or error(*PARAM_ILLEGAL)
        try:
            period = int(request.params.get("period", ""))
        except ValueError:
            return error(*PARAM_ILLEGAL)
        if period not in PERIODS:
            return error(*PARAM_ILLEGAL)
        width = period * 60
        now = int(self.market.now())
        current = now - now % width
        bars = self.market.klines(symbol, width, current - (KLINE_PAGE - 1) * width, now + 1)
        pp = self.market.instrument(symbol).price_precision
        rows = [
            [
                int(b[0]),
                plain(b[1], pp),
                plain(b[2], pp),
                plain(b[3], pp),
                plain(b[4], pp),
                plain(b[5], 8),
            ]
            for b in bars
            if not math.isnan(b[1])
        ]
        if self.kline_order == "desc":
            rows.reverse()
        return ok(rows)

    def trades(self, request: HttpRequest) -> Reply:
        """``GET /v1/trades?symbol=`` — the last 200 trades, newest first, ms times."""
        symbol, fail = self._symbol(request)
        if fail is not None or symbol is None:
            return fail or error(*PARAM_ILLEGAL)
        now_ms = int(self.market.now() * 1000)
        span = 60_000
        while True:
            tr = self.market.trades(symbol, now_ms - span, now_ms + 1)
            if len(tr) >= TRADES_PAGE or span > 86_400_000:
                break
            span *= 4
        take = np.arange(len(tr) - 1, max(len(tr) - TRADES_PAGE, 0) - 1, -1)
        # Exact decimals from the integer ticks/lots, padded to the live API's 16
        # places (issue 10: never a binary float's expansion).
        price = self.market.fmt_price
        amount = self.market.fmt_amount
        return ok(
            [
                {
                    "amount": Raw(amount(symbol, int(tr.amount_lots[i]), 16)),
                    "price": Raw(price(symbol, int(tr.price_ticks[i]), 16)),
                    "ctime": int(tr.time_ms[i]),
                    "id": int(tr.id[i]),
                    "type": "buy" if tr.is_buy[i] else "sell",
                }
                for i in take
            ]
        )

    def prices(self, request: HttpRequest) -> Reply:
        """``GET /v1/ticker/price`` — ``{symbol: last}``."""
        now = self.market.now()
        out: dict[str, Any] = {}
        for symbol, inst in self.market.instruments.items():
            tr = self.market.trades(symbol, int(now * 1000) - 600_000, int(now * 1000) + 1)
            last = float(tr.price[-1]) if len(tr) else self.market.ticker(symbol, now)["last"]
            out[symbol] = plain(last, inst.price_precision)
        return ok(out)

    def depth(self, request: HttpRequest) -> Reply:
        """``GET /v1/depth?symbol=&type=step0|1|2`` — ``bids`` on REST, ``time`` null."""
        symbol, fail = self._symbol(request)
        if fail is not None or symbol is None:
            return fail or error(*PARAM_ILLEGAL)
        merge = DEPTH_MERGE.get(request.params.get("type", ""))
        if merge is None:
            return error(*PARAM_ILLEGAL)
        inst = self.market.instrument(symbol)
        book = self.market.book(symbol)
        bids = merge_ticks(book.bid_ticks, book.bid_lots, merge, down=True)
        asks = merge_ticks(book.ask_ticks, book.ask_lots, merge, down=False)
        pp, ap = inst.price_precision, inst.amount_precision
        return ok(
            {
                "tick": {
                    "asks": [[Raw(trimmed(p, pp)), Raw(trimmed(a, ap))] for p, a in asks],
                    "bids": [[Raw(trimmed(p, pp)), Raw(trimmed(a, ap))] for p, a in bids],
                    "time": None,
                }
            }
        )


def merge_ticks(
    ticks: np.ndarray, lots: np.ndarray, merge: int, *, down: bool
) -> list[tuple[int, int]]:
    """Merge levels into buckets of ``merge`` ticks (bids round down, asks up).

    Integer arithmetic on the tick grid, so bucket edges are exact; returns
    ``(ticks, lots)`` pairs best first.
    """
    keys = ticks // merge * merge if down else -(-ticks // merge) * merge
    merged: dict[int, int] = {}
    for k, q in zip(keys.tolist(), lots.tolist(), strict=True):
        merged[k] = merged.get(k, 0) + q
    return sorted(merged.items(), reverse=down)
