"""The sandbox's Bitget v2 public REST: symbol lists; spot candles, fills, orderbook, tickers.

Answers come from the same market view as the Bitget WebSocket server (its bars,
tape and book), in Bitget's shapes (docs api-doc/spot/market/*): the envelope
``{"code":"00000","msg":"success","requestTime":ms,"data":...}``, numbers as exact
decimal strings, bars oldest first, trades newest first. Each market endpoint has
the doc's per-IP rate (20 or 10 requests a second); over it the host answers 429.

Symbol lists: ``/api/v2/spot/public/symbols`` (the market's instruments and
``extra_symbols`` more, each fed by one of the market's USDT instruments) and
``/api/v2/mix/market/contracts?productType=`` (perpetuals: ``symbolType`` "perpetual"
and ``supportMarginCoins``, fields every live contract row carries beyond NOTES.md's
list; clients such as cryptofeed tell contracts from spot symbols by ``symbolType``).

Sandbox choices where the doc is silent: ``startTime`` is inclusive and ``endTime``
exclusive; merged book steps (``step1``-``step5``) answer the unmerged book; the
recent ``candles`` endpoint keeps every bar (no retention window).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from mdkit.sandbox.http import HttpRequest, HttpVenue, Reply

if TYPE_CHECKING:
    from mdkit.sandbox.bitget import BitgetServer

__all__ = ["GRANULARITY_SECONDS", "RATES", "routes", "set_limits"]

#: Bitget spot ``granularity`` → bar seconds (the month as 30 days in the sandbox).
GRANULARITY_SECONDS = {
    "1min": 60,
    "3min": 180,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "1h": 3600,
    "4h": 14400,
    "6h": 21600,
    "12h": 43200,
    "1day": 86400,
    "3day": 259200,
    "1week": 604800,
    "1M": 2592000,
}
#: Requests per second per IP (doc "Frequency limit").
RATES = {
    "/api/v2/spot/market/candles": 20,
    "/api/v2/spot/market/history-candles": 20,
    "/api/v2/spot/market/fills": 10,
    "/api/v2/spot/market/fills-history": 10,
    "/api/v2/spot/market/orderbook": 20,
    "/api/v2/spot/market/tickers": 20,
}
_WEEK_MS = 7 * 86_400_000


class _Bad(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


def _ok(data: Any) -> Reply:
    body = {"code": "00000", "msg": "success", "requestTime": int(time.time() * 1000)}
    return Reply(200, orjson.dumps(body | {"data": data}))


def _int(params: dict[str, str], name: str, default: int | None, lo: int, hi: int) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.strip().lstrip("-").isdigit() or not lo <= int(text) <= hi:
        raise _Bad("40019", f"Parameter {name} error")
    return int(text)


def _guard(handler: Callable[[HttpRequest], Reply]) -> Callable[[HttpRequest], Reply]:
    def answer(request: HttpRequest) -> Reply:
        try:
            return handler(request)
        except _Bad as bad:
            body = orjson.dumps({"code": bad.code, "msg": bad.msg, "data": None})
            return Reply(400, body)

    return answer


class _Routes:
    """The handlers, bound to one Bitget server (its view and symbol maps)."""

    def __init__(self, server: BitgetServer) -> None:
        self.s = server

    def _source(self, request: HttpRequest) -> tuple[str, str]:
        symbol = request.params.get("symbol", "")
        if not symbol:
            raise _Bad("40019", "Parameter symbol cannot be empty")
        source = self.s.spot.get(symbol)
        if source is None:
            raise _Bad("40034", "Parameter does not exist")
        return symbol, source

    def _bars(self, source: str, width: int, start_s: int, end_s: int) -> list[list[str]]:
        rows = self.s.view.klines(self.s._vs[source], width, start_s, end_s)
        return [self.s._bar(source, r) for r in rows if r[1] == r[1]]

    def _granularity(self, request: HttpRequest) -> int:
        token = request.params.get("granularity", "")
        if token not in GRANULARITY_SECONDS:
            raise _Bad("40019", "Parameter granularity error")
        return GRANULARITY_SECONDS[token]

    def spot_symbols(self, request: HttpRequest) -> Reply:
        """``/api/v2/spot/public/symbols``: the market's instruments and the extra symbols."""
        wanted = request.params.get("symbol")
        items = []
        for name, source in self.s.spot.items():
            if wanted and name != wanted:
                continue
            inst = self.s._inst(source)
            items.append({"symbol": name, "baseCoin": name[: -len(inst.quote)],
                          "quoteCoin": inst.quote.upper(), "minTradeAmount": "0",
                          "maxTradeAmount": "10000000000", "takerFeeRate": "0.001",
                          "makerFeeRate": "0.001", "pricePrecision": str(inst.price_precision),
                          "quantityPrecision": str(inst.amount_precision),
                          "quotePrecision": str(inst.price_precision), "minTradeUSDT": "1",
                          "status": "online"})  # fmt: skip
        if wanted and not items:
            return Reply(400, b'{"code":"40034","msg":"Parameter does not exist","data":null}')
        return _ok(items)

    def contracts(self, request: HttpRequest) -> Reply:
        """``/api/v2/mix/market/contracts?productType=``: the perpetuals of a product type."""
        product = request.params.get("productType", "").upper()
        if product not in self.s.futures:
            return Reply(400, b'{"code":"40019","msg":"Parameter productType cannot be empty"}')
        items = []
        for name, source in self.s.futures[product].items():
            inst = self.s._inst(source)
            items.append({"symbol": name, "baseCoin": inst.base.upper(), "quoteCoin": "USDT",
                          "minTradeNum": "0.001", "sizeMultiplier": "0.001",
                          "pricePlace": str(inst.price_precision),
                          "volumePlace": str(inst.amount_precision), "priceEndStep": "1",
                          "minTradeUSDT": "5", "maxLever": "125",
                          "symbolStatus": "normal", "symbolType": "perpetual",
                          "supportMarginCoins": ["USDT"]})  # fmt: skip
        return _ok(items)

    def candles(self, request: HttpRequest) -> Reply:
        _, source = self._source(request)
        width = self._granularity(request)
        limit = _int(request.params, "limit", 100, 1, 1000) or 100
        now_s = int(self.s.view.now())
        next_open_ms = (now_s // width + 1) * width * 1000  # after the forming bar
        end_ms = _int(request.params, "endTime", next_open_ms, 0, 2**62) or 0
        start_ms = _int(request.params, "startTime", None, 0, 2**62)
        lo_ms = end_ms - limit * width * 1000 if start_ms is None else start_ms
        lo_s = -(-lo_ms // 1000)
        lo_s += -lo_s % width  # bars opening at or after startTime
        bars = self._bars(source, width, max(lo_s, 0), -(-end_ms // 1000))
        bars = [b for b in bars if lo_ms <= int(b[0]) < end_ms]
        return _ok(bars[-limit:])

    def history_candles(self, request: HttpRequest) -> Reply:
        _, source = self._source(request)
        width = self._granularity(request)
        end_ms = _int(request.params, "endTime", None, 0, 2**62)
        if end_ms is None:
            raise _Bad("40019", "Parameter endTime cannot be empty")
        limit = _int(request.params, "limit", 100, 1, 200) or 100
        start_s = max(0, end_ms // 1000 - (limit + 1) * width)
        bars = [
            b for b in self._bars(source, width, start_s, -(-end_ms // 1000)) if int(b[0]) < end_ms
        ]
        return _ok(bars[-limit:])

    def _fills(self, symbol: str, source: str, start_ms: int, end_ms: int, limit: int) -> list[Any]:
        """The latest ``limit`` trades in ``[start_ms, end_ms)``, newest first."""
        found: list[dict[str, str]] = []
        window = 60_000
        hi = end_ms
        while hi > start_ms and len(found) < limit:
            lo = max(start_ms, hi - window)
            found += self.s._trades(source, lo, hi)  # newest first
            hi, window = lo, min(window * 4, 3_600_000)
        return [{"symbol": symbol, **t} for t in found[:limit]]

    def fills(self, request: HttpRequest) -> Reply:
        symbol, source = self._source(request)
        limit = _int(request.params, "limit", 100, 1, 500) or 100
        now_ms = int(self.s.view.now() * 1000) + 1
        return _ok(self._fills(symbol, source, now_ms - _WEEK_MS, now_ms, limit))

    def fills_history(self, request: HttpRequest) -> Reply:
        symbol, source = self._source(request)
        limit = _int(request.params, "limit", 500, 1, 1000) or 500
        now_ms = int(self.s.view.now() * 1000) + 1
        end_ms = _int(request.params, "endTime", None, 0, 2**62)
        start_ms = _int(request.params, "startTime", None, 0, 2**62)
        end_ms = min(end_ms + 1 if end_ms is not None else now_ms, now_ms)  # endTime inclusive
        if start_ms is None:
            start_ms = end_ms - _WEEK_MS
        if end_ms - start_ms > _WEEK_MS + 1:
            raise _Bad("40019", "startTime and endTime should be within 7days")
        items = self._fills(symbol, source, start_ms, end_ms, limit)
        below = request.params.get("idLessThan")
        if below and below.isdigit():
            items = [t for t in items if int(t["tradeId"]) < int(below)]
        return _ok(items)

    def orderbook(self, request: HttpRequest) -> Reply:
        _, source = self._source(request)
        step = request.params.get("type", "step0")
        if step not in {f"step{i}" for i in range(6)}:
            raise _Bad("40019", "Parameter type error")
        limit = _int(request.params, "limit", 150, 1, 150) or 150
        now = self.s.view.now()
        bids, asks = self.s._book(source, int(now))
        return _ok({"asks": asks[:limit], "bids": bids[:limit], "ts": str(int(now * 1000))})

    def tickers(self, request: HttpRequest) -> Reply:
        wanted = request.params.get("symbol")
        names = [wanted] if wanted else sorted(self.s._vs.values())
        items = []
        for name in names:
            source = self.s.spot.get(name)
            if source is None:
                raise _Bad("40034", "Parameter does not exist")
            items.append(self._ticker(name, source))
        return _ok(items)

    def _ticker(self, symbol: str, source: str) -> dict[str, str]:
        s = self.s
        stats = s.view.ticker(s._vs[source])
        inst = s._inst(source)
        pp, ap = inst.price_precision, inst.amount_precision
        quote = s._num(stats["quote_volume"], 6)
        return {"symbol": symbol, "high24h": s._num(stats["high"], pp),
                "open": s._num(stats["open"], pp), "lastPr": s._num(stats["last"], pp),
                "low24h": s._num(stats["low"], pp), "quoteVolume": quote,
                "baseVolume": s._num(stats["volume"], ap), "usdtVolume": quote,
                "bidPr": s._num(stats["bid"], pp), "askPr": s._num(stats["ask"], pp),
                "bidSz": s._num(stats["bid_amount"], ap), "askSz": s._num(stats["ask_amount"], ap),
                "openUtc": s._num(stats["open"], pp), "ts": str(int(stats["time_ms"])),
                "changeUtc24h": s._num(stats["change"], 5),
                "change24h": s._num(stats["change"], 5)}  # fmt: skip


def routes(server: BitgetServer) -> dict[tuple[str, str], Any]:
    """``(GET, path) -> handler`` for the symbol lists, ``-> (handler, rate group)`` for the
    market endpoints."""
    r = _Routes(server)
    handlers = {
        "/api/v2/spot/market/candles": r.candles,
        "/api/v2/spot/market/history-candles": r.history_candles,
        "/api/v2/spot/market/fills": r.fills,
        "/api/v2/spot/market/fills-history": r.fills_history,
        "/api/v2/spot/market/orderbook": r.orderbook,
        "/api/v2/spot/market/tickers": r.tickers,
    }
    return {
        ("GET", "/api/v2/spot/public/symbols"): r.spot_symbols,
        ("GET", "/api/v2/mix/market/contracts"): r.contracts,
        **{("GET", path): (_guard(h), path) for path, h in handlers.items()},
    }


def set_limits(http: HttpVenue) -> None:
    """Give every market endpoint its documented per-IP rate."""
    for path, rate in RATES.items():
        http.set_limit(path, rate)
