"""One synthetic, seeded market that every sandbox venue serves.

Everything is a pure function of ``(seed, venue, symbol, time)``: any past range is
generated on demand, in any slices, and every endpoint tells the same story.

- **Price** (:mod:`mdkit.sandbox.market_model`): per instrument and UTC day, a
  second-resolution log mid with stochastic volatility tied to trade activity
  (intraday seasonality, slow and fast regimes, bursts that start with a jump),
  Student-t shocks, bridged between daily anchors (realistic levels per instrument).
- **Trades** of second ``s``: a Poisson count around the day path's intensity
  (clustered: bursts, regimes), Pareto sizes (tail index 1.4, median = the
  instrument's ``size``), signs pushed by the second's move and a persistent
  order-flow pressure (and copied from the previous print half the time: buys
  follow buys). A buy takes the best ask, a large one walks up the ask levels that
  exist in that second's book (sells mirror it). Ids are ``s * 65536 + j``.
- **Book** at second ``s``: touch around the venue's mid with a spread of one to a
  few ticks, wider in bursts; deeper levels are ticks that *exist* by a hash of
  (price, slow epoch) with a fill probability falling with the distance (gaps),
  on coarser price grids far out; sizes grow away from the touch, then thin.
- **Klines**: up to 60-minute bars aggregate the trade tape exactly (cached per
  hour); longer bars are sampled from the day anchors (approximate volume).
- **Venues**: ``market.venue("bitget")`` is the same market seen from another
  venue: its own symbols (:data:`VENUES`: ``BTCUSDT`` on Bitget/iTick, ``BTC-USDT``
  on BitTap, ``KRB/UAH`` on Richamster, ``btcusdt`` on Crypto.com), its own trades,
  spread, depth and microstructure noise, and a lag of a few seconds behind the
  common efficient price (Bitget leads). Every method takes the venue's symbol.
- **Exact decimals**: trades and books carry integer ticks and lots
  (``price_ticks``, ``amount_lots``, ``bid_ticks``...); :meth:`Market.fmt_price`
  and :meth:`Market.fmt_amount` write them as exact decimal text.

This module imports no client code: the sandbox checks the client, it does not
mirror it.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mdkit.sandbox import market_model as mm
from mdkit.sandbox.market_bars import aggregate, merge, sampled
from mdkit.sandbox.market_book import book_levels, walk_offsets
from mdkit.sandbox.wire import decimal_text

__all__ = [
    "Instrument",
    "INSTRUMENTS",
    "CATALOG",
    "Venue",
    "VENUES",
    "Market",
    "Trades",
    "Book",
]

_PER_SECOND = 65536
#: Ids of pushed trades (:meth:`Market.push_trade`) start here within their second.
_PUSHED = 49152
#: Past minute bars are cached in blocks of this many seconds (6 hours).
_BLOCK = 21600
#: Trades per second of BTC/USDT on Crypto.com by default (and before ``busy_since``).
DEFAULT_RATE = 1.5
#: Every symbol prints at least once in every aligned block of this many seconds
#: (a block the Poisson tape leaves empty gets one print): any 4-second window sees
#: a trade on every venue and symbol, at any hour (thin pairs thin, never silent).
ALIVE = 2
_FIELDS = ("x", "lam", "z", "pressure", "burst")


@dataclass(frozen=True)
class Instrument:
    """A market the sandbox lists (``symbol`` as the venue spells it)."""

    symbol: str
    base: str
    quote: str
    price0: float
    price_precision: int
    amount_precision: int
    #: Median trade size in base units.
    size: float
    #: Trades per second relative to BTC/USDT.
    activity: float = 1.0
    #: Daily volatility of log returns.
    vol: float = 0.03
    #: Mean extra spread in ticks (beyond one).
    spread: float = 1.0
    #: Catalogue key (``btcusdt``), the same on every venue.
    key: str = ""

    @property
    def tick(self) -> float:
        """Smallest price step."""
        return 10.0**-self.price_precision

    @property
    def lot(self) -> float:
        """Smallest amount step."""
        return 10.0**-self.amount_precision


def _inst(sym: str, base: str, quote: str, *args: float) -> Instrument:
    p0, pp, ap, size, act, vol, spread = args
    return Instrument(sym, base, quote, p0, int(pp), int(ap), size, act, vol, spread, sym)


#: Every instrument of the synthetic world, by catalogue key.
CATALOG: dict[str, Instrument] = {
    i.key: i
    for i in (
        _inst("btcusdt", "btc", "usdt", 65000.0, 2, 6, 0.01, 1.0, 0.025, 1.5),
        _inst("ethusdt", "eth", "usdt", 3200.0, 2, 4, 0.15, 0.7, 0.03, 1.0),
        _inst("ethbtc", "eth", "btc", 0.049, 6, 3, 0.3, 0.15, 0.02, 1.0),
        _inst("xrpusdt", "xrp", "usdt", 0.55, 4, 1, 400.0, 0.35, 0.04, 0.3),
        _inst("xrpbtc", "xrp", "btc", 0.0000085, 9, 0, 500.0, 0.05, 0.035, 0.5),
        _inst("crousdt", "cro", "usdt", 0.09, 5, 1, 2000.0, 0.25, 0.04, 0.5),
        _inst("crobtc", "cro", "btc", 0.0000014, 10, 0, 2000.0, 0.05, 0.04, 1.0),
        _inst("ltcusdt", "ltc", "usdt", 72.0, 2, 3, 1.5, 0.3, 0.035, 0.5),
        _inst("solusdt", "sol", "usdt", 150.0, 2, 3, 2.0, 0.5, 0.045, 0.5),
        _inst("krbuah", "krb", "uah", 1.25, 4, 4, 50.0, 0.2, 0.06, 2.0),
        _inst("btcuah", "btc", "uah", 2_700_000.0, 2, 6, 0.002, 0.3, 0.025, 20.0),
        _inst("ethuah", "eth", "uah", 132_000.0, 2, 4, 0.05, 0.2, 0.03, 10.0),
        _inst("usdtuah", "usdt", "uah", 41.5, 2, 2, 300.0, 0.3, 0.004, 0.3),
    )
}


@dataclass(frozen=True)
class Venue:
    """How one venue sees the common market."""

    key: str
    #: Catalogue keys the venue lists.
    listed: tuple[str, ...]
    #: Symbol spelling from (BASE, QUOTE) in upper case.
    style: Callable[[str, str], str]
    #: Seconds behind the common efficient price (lead-lag between venues).
    lag: int
    #: Own microstructure noise on the log mid, basis points.
    noise_bp: float
    spread_mult: float
    depth_mult: float
    activity_mult: float
    #: Seeds the venue's own trades and book.
    salt: int


_USDT = ("btcusdt", "ethusdt", "xrpusdt", "ltcusdt", "solusdt")
#: The venues and their symbol styles (NOTES.md, protocols/samples).
VENUES: dict[str, Venue] = {
    v.key: v
    for v in (
        Venue(
            "cryptocom",
            ("btcusdt", "ethusdt", "ethbtc", "xrpusdt", "xrpbtc", "crousdt", "crobtc", "ltcusdt"),
            lambda b, q: (b + q).lower(),
            1, 0.6, 1.0, 1.0, 1.0, 1,
        ),
        Venue("bitget", (*_USDT, "ethbtc"), lambda b, q: b + q, 0, 0.3, 0.8, 2.0, 2.0, 2),
        Venue("bittap", _USDT, lambda b, q: f"{b}-{q}", 1, 1.0, 1.5, 0.6, 0.6, 3),
        Venue("itick", (*_USDT, "crousdt", "ethbtc"), lambda b, q: b + q, 2, 0.5, 1.0, 1.0, 1.0, 4),
        Venue(
            "richamster",
            ("krbuah", "btcuah", "ethuah", "usdtuah", "btcusdt"),
            lambda b, q: f"{b}/{q}",
            3, 2.0, 2.0, 0.3, 0.3, 5,
        ),
    )
}  # fmt: skip

#: The default (Crypto.com) view's instruments.
INSTRUMENTS: tuple[Instrument, ...] = tuple(CATALOG[k] for k in VENUES["cryptocom"].listed)


@dataclass
class Trades:
    """A block of trades, oldest first (time in ms); prices/amounts also as ticks/lots."""

    time_ms: np.ndarray
    id: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    is_buy: np.ndarray
    price_ticks: np.ndarray
    amount_lots: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def take(self, keep: np.ndarray) -> Trades:
        """The trades selected by a mask or index array."""
        return Trades(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass
class Book:
    """Book at one second: bids high→low, asks low→high, ``(n, 2)`` price/amount.

    ``bid_ticks``/``ask_ticks`` and ``bid_lots``/``ask_lots`` are the same levels as
    integers on the instrument's grid.
    """

    bids: np.ndarray
    asks: np.ndarray
    second: int
    bid_ticks: np.ndarray
    ask_ticks: np.ndarray
    bid_lots: np.ndarray
    ask_lots: np.ndarray


#: Every asset's USD price level and daily volatility: a pair's price is the ratio of
#: its two assets' paths (one price level across pairs: ETH/BTC = ETH/USDT ÷ BTC/USDT).
ASSETS: dict[str, tuple[float, float]] = {
    "btc": (65000.0, 0.025),
    "eth": (3200.0, 0.03),
    "xrp": (0.55, 0.04),
    "cro": (0.09, 0.04),
    "ltc": (72.0, 0.035),
    "sol": (150.0, 0.045),
    "krb": (1.25 / 41.5, 0.06),
    "usdt": (1.0, 0.0005),
    "uah": (1.0 / 41.5, 0.004),
}


class _Shared:
    """Caches every venue view of one market shares (asset and pair day paths)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.asset = functools.lru_cache(maxsize=16)(self._asset)
        self.day = functools.lru_cache(maxsize=24)(self._day)

    def _asset(self, asset: str, day: int) -> mm.DayPath:
        usd, vol = ASSETS[asset]
        # Seeded as the asset's USDT pair was (the same BTC/USDT history as before).
        stream = _sym_id(asset if asset in ("usdt", "uah") else f"{asset}usdt")
        return mm.day_path(self.seed, stream, day, vol, math.log(usd))

    def _day(self, key: str, day: int) -> mm.DayPath:
        inst = CATALOG[key]
        return mm.pair_path(self.asset(inst.base, day), self.asset(inst.quote, day))


def _sym_id(key: str) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(key))


class Market:
    """The synthetic market, seen from one venue (Crypto.com by default).

    Parameters
    ----------
    seed : int
        Same seed, same market, on every machine.
    trades_per_second : float
        Mean trade prints per second of BTC/USDT on Crypto.com; other instruments
        and venues scale it by their activity.
    depth : int
        Book levels per side.
    clock : callable
        Returns the current epoch time in seconds (tests may freeze or shift it).
    venue : str
        Whose view (a key of :data:`VENUES`); see :meth:`venue`.
    busy_since : float, optional
        Epoch second from which ``trades_per_second`` holds; before it the tape runs
        at the default rate (or ``trades_per_second`` if lower). By default the clock
        at construction: a busy sandbox is busy from its start, and its 24 h history
        (tickers, klines) costs what a default one does instead of generating 24 h of
        a busy tape. Pass ``0`` for the rate at every time.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        trades_per_second: float = DEFAULT_RATE,
        depth: int = 150,
        clock: Callable[[], float] = time.time,
        venue: str = "cryptocom",
        busy_since: float | None = None,
        _shared: _Shared | None = None,
    ) -> None:
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; valid: {sorted(VENUES)}")
        self.seed = seed
        self.trades_per_second = trades_per_second
        self.depth = depth
        self.clock = clock
        self.busy_since = int(math.floor(clock() if busy_since is None else busy_since))
        self.profile = VENUES[venue]
        self._shared = _shared or _Shared(seed)
        self.instruments: dict[str, Instrument] = {}
        for k in self.profile.listed:
            inst = CATALOG[k]
            name = self.profile.style(inst.base.upper(), inst.quote.upper())
            self.instruments[name] = replace(inst, symbol=name)
        self._d0 = {s: _fill_scale(i, depth) for s, i in self.instruments.items()}
        self._hour_cache = functools.lru_cache(maxsize=4096)(self._hour_bars)
        self._block_cache = functools.lru_cache(maxsize=1024)(self._block_bars)
        self._views: dict[str, Market] = {venue: self}
        # Controls (push_trade, set_rate): trades pushed by hand, rate changes by symbol.
        self._lock = threading.Lock()
        self._pushed: dict[str, list[tuple[int, int, int, int, bool]]] = {}
        self._rates: dict[str, list[tuple[int, float | None]]] = {}

    def venue(self, name: str) -> Market:
        """The same market seen from venue ``name`` (own symbols, trades, book, lag)."""
        if name not in self._views:
            view = Market(
                self.seed,
                trades_per_second=self.trades_per_second,
                depth=self.depth,
                clock=self.clock,
                venue=name,
                busy_since=self.busy_since,
                _shared=self._shared,
            )
            view._views = self._views
            self._views[name] = view
        return self._views[name]

    def now(self) -> float:
        """Current time, epoch seconds."""
        return self.clock()

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument; ``KeyError`` if this venue does not list it."""
        return self.instruments[symbol]

    # -- exact decimals -------------------------------------------------------------
    def fmt_price(self, symbol: str, ticks: int, decimals: int | None = None) -> str:
        """Exact decimal text of ``ticks`` (``decimals`` ≥ precision pads zeros)."""
        pp = self.instruments[symbol].price_precision
        return decimal_text(int(ticks), pp, pp if decimals is None else decimals)

    def fmt_amount(self, symbol: str, lots: int, decimals: int | None = None) -> str:
        """Exact decimal text of ``lots`` amount steps."""
        ap = self.instruments[symbol].amount_precision
        return decimal_text(int(lots), ap, ap if decimals is None else decimals)

    # -- per-second state -----------------------------------------------------------
    def _fields(
        self, symbol: str, seconds: np.ndarray, fields: tuple[str, ...] = _FIELDS
    ) -> dict[str, np.ndarray]:
        """Day-path ``fields`` at venue-lagged ``seconds`` (int64, any order)."""
        key = self.instruments[symbol].key
        lag = self.profile.lag
        if len(seconds) == 0:
            return {f: np.empty(0) for f in fields}
        lo, hi = int(seconds.min()) // mm.DAY, int(seconds.max()) // mm.DAY
        if lo == hi:
            path = self._shared.day(key, lo)
            idx = np.maximum(seconds - lo * mm.DAY - lag, 0)
            return {f: getattr(path, f)[idx] for f in fields}
        days = seconds // mm.DAY
        out = {f: np.empty(len(seconds)) for f in fields}
        for day in range(lo, hi + 1):
            sel = days == day
            if not sel.any():
                continue
            path = self._shared.day(key, day)
            # The venue lags the common path; in its first `lag` seconds of a UTC
            # day it holds the day's opening (no day is ever needed twice).
            idx = np.maximum(seconds[sel] - day * mm.DAY - lag, 0)
            for f in fields:
                out[f][sel] = getattr(path, f)[idx]
        return out

    def _path(self, symbol: str, seconds: np.ndarray) -> dict[str, np.ndarray]:
        """Day-path fields at venue-lagged ``seconds`` (int64), plus the venue log mid."""
        inst = self.instruments[symbol]
        out = self._fields(symbol, seconds)
        k = mm.key(self.seed, self.profile.salt, _sym_id(inst.key), 10)
        # Own noise: a 4-second moving sum of hashed normals (short-lived mispricing).
        if len(seconds) > 1 and seconds[-1] - seconds[0] == len(seconds) - 1:
            g = np.cumsum(mm.normal(k, np.arange(seconds[0] - 4, seconds[-1] + 1)))
            noise = (g[4:] - g[:-4]) * 0.5
        else:
            noise = sum(mm.normal(k, seconds - j) for j in range(4)) * 0.5
        out["logmid"] = out["x"] + noise * self.profile.noise_bp * 1e-4
        return out

    def _touch(
        self, symbol: str, seconds: np.ndarray, path: dict[str, np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best bid and best ask in ticks (int64) for each second."""
        inst = self.instruments[symbol]
        path = self._path(symbol, seconds) if path is None else path
        mid_ticks = np.exp(path["logmid"]) / inst.tick
        u = mm.uniform(mm.key(self.seed, self.profile.salt, _sym_id(inst.key), 11), seconds)
        # One tick most of the time, a few more now and then, wider in bursts.
        scale = inst.spread * self.profile.spread_mult * (1.0 + 0.8 * path["burst"])
        spread = 1 + np.floor(-np.log(u) * scale).astype(np.int64)
        bid = np.round(mid_ticks - spread / 2.0).astype(np.int64)
        bid = np.maximum(bid, 1)
        return bid, bid + spread

    def mid(self, symbol: str, t: np.ndarray | float) -> np.ndarray:
        """Mid price (between the touch prices) at epoch seconds ``t`` (vectorised)."""
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        bid, ask = self._touch(symbol, np.floor(ts).astype(np.int64))
        return np.asarray((bid + ask) * (0.5 * self.instruments[symbol].tick))

    # -- book -----------------------------------------------------------------------
    def book(self, symbol: str, t: float | None = None) -> Book:
        """The book at epoch second ``floor(t)`` (now by default)."""
        second = int(math.floor(self.now() if t is None else t))
        inst = self.instruments[symbol]
        bid, ask = self._touch(symbol, np.array([second], dtype=np.int64))
        k = mm.key(self.seed, self.profile.salt, _sym_id(inst.key), 20)
        mean_lots = max(1.0, inst.size * self.profile.depth_mult / inst.lot)
        sides = [
            book_levels(
                k,
                int(touch),
                second,
                side,
                self.depth,
                self._d0[symbol],
                mean_lots,
            )
            for side, touch in ((-1, bid[0]), (1, ask[0]))
        ]
        (bt, bl), (at, al) = sides
        pp, ap = inst.price_precision, inst.amount_precision
        bids = np.column_stack([np.round(bt * inst.tick, pp), np.round(bl * inst.lot, ap)])
        asks = np.column_stack([np.round(at * inst.tick, pp), np.round(al * inst.lot, ap)])
        return Book(bids, asks, second, bt, at, bl, al)

    # -- trades ---------------------------------------------------------------------
    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        """Every trade with ``start_ms <= time < end_ms``, oldest first.

        Trades are visible from their own millisecond on: the cap is the current
        millisecond *inclusive*, so consecutive windows ``[a, now_ms + 1)`` and
        ``[now_ms + 1, ...)`` see every trade exactly once.
        """
        end_ms = min(end_ms, int(math.floor(self.now() * 1000)) + 1)
        if end_ms <= start_ms:
            return self._trades_of(symbol, np.empty(0, np.int64))
        seconds = np.arange(start_ms // 1000, (end_ms - 1) // 1000 + 1, dtype=np.int64)
        block = self._trades_of(symbol, seconds)
        if start_ms % 1000 == 0 and end_ms % 1000 == 0:
            return block
        return block.take((block.time_ms >= start_ms) & (block.time_ms < end_ms))

    # -- controls -------------------------------------------------------------------
    def push_trade(
        self, symbol: str, *, side: str = "buy", amount: float | None = None
    ) -> dict[str, Any]:
        """Print one trade on ``symbol`` at the market clock's next millisecond.

        A buy takes the best ask of that second's book, a sell the best bid; an
        ``amount`` larger than the touch walks the book to the level that fills it
        (one print at that level's price, as the tape's own large prints). The
        trade joins the tape for good: :meth:`trades`, bars and tickers include it,
        so every server of this venue sends it at its next tick.

        Parameters
        ----------
        symbol : str
            The venue's spelling (a key of :attr:`instruments`).
        side : {"buy", "sell"}
            Taker side.
        amount : float, optional
            Base amount, rounded to the lot grid (at least one lot); by default the
            instrument's median trade size.

        Returns
        -------
        dict
            ``id`` (int), ``time_ms`` (int, epoch ms), ``price`` and ``amount``
            (floats on the instrument's grid), ``side`` (``"buy"``/``"sell"``).
        """
        inst = self._checked(symbol)
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be one of 'buy', 'sell', not {side!r}")
        size = inst.size if amount is None else amount
        if isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            raise ValueError(f"amount must be a positive number or None, not {amount!r}")
        lots = max(1, round(float(size) / inst.lot))
        buy = side == "buy"
        with self._lock:
            time_ms = int(math.floor(self.now() * 1000)) + 1
            second = time_ms // 1000
            book = self.book(symbol, second)
            ticks, depth = (
                (book.ask_ticks, book.ask_lots) if buy else (book.bid_ticks, book.bid_lots)
            )
            level = min(int(np.searchsorted(np.cumsum(depth), lots)), len(ticks) - 1)
            price_ticks = int(ticks[level])
            tape = self._pushed.setdefault(symbol, [])
            n = sum(1 for t in tape if t[0] // 1000 == second)
            trade_id = second * _PER_SECOND + _PUSHED + n
            tape.append((time_ms, trade_id, price_ticks, lots, buy))
            tape.sort()
        return {
            "id": trade_id,
            "time_ms": time_ms,
            "price": round(price_ticks * inst.tick, inst.price_precision),
            "amount": round(lots * inst.lot, inst.amount_precision),
            "side": side,
        }

    def set_rate(self, symbol: str, trades_per_second: float | None) -> None:
        """Set ``symbol``'s trade intensity from the market clock's next second on.

        ``trades_per_second`` is the mean of a flat Poisson tape (``0`` silences the
        symbol); ``None`` restores the default intensity. The past never changes.
        """
        self._checked(symbol)
        rate = trades_per_second
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 10_000
        ):
            raise ValueError(
                f"trades_per_second must be a number from 0 to 10000 or None, not {rate!r}"
            )
        with self._lock:
            since = int(math.floor(self.now())) + 1
            changes = [c for c in self._rates.get(symbol, []) if c[0] < since]
            self._rates[symbol] = [*changes, (since, None if rate is None else float(rate))]

    def _checked(self, symbol: str) -> Instrument:
        if symbol not in self.instruments:
            raise ValueError(
                f"{self.profile.key} lists no {symbol!r}; valid: {', '.join(self.instruments)}"
            )
        return self.instruments[symbol]

    def _rate(self, seconds: np.ndarray) -> np.ndarray:
        """Mean prints per second of BTC/USDT on Crypto.com at each second."""
        early = min(self.trades_per_second, DEFAULT_RATE)
        return np.where(seconds < self.busy_since, early, self.trades_per_second)

    def _trades_of(self, symbol: str, seconds: np.ndarray, times: bool = True) -> Trades:
        """Every trade of the whole ``seconds`` (sorted int64), pushed ones included.

        With ``times=False`` (bars only) ``time_ms`` is the trade's second in ms: the
        order within a second is the time order either way, so bars do not change.
        """
        pushed: list[tuple[int, int, int, int, bool]] = []
        if len(seconds) and symbol in self._pushed:
            lo, hi = int(seconds[0]) * 1000, int(seconds[-1]) * 1000 + 1000
            with self._lock:
                pushed = [t for t in self._pushed[symbol] if lo <= t[0] < hi]
            if pushed and seconds[-1] - seconds[0] != len(seconds) - 1:  # not contiguous
                inside = np.isin([t[0] // 1000 for t in pushed], seconds)
                pushed = [t for t, keep in zip(pushed, inside.tolist(), strict=True) if keep]
        if not pushed:
            return self._generated(symbol, seconds, times)
        gen = self._generated(symbol, seconds, True)
        inst = self.instruments[symbol]
        t_ms, ids, ticks, lots, buys = (np.array(c) for c in zip(*pushed, strict=True))
        extra = Trades(
            t_ms.astype(np.int64),
            ids.astype(np.int64),
            np.round(ticks * inst.tick, inst.price_precision),
            np.round(lots * inst.lot, inst.amount_precision),
            buys.astype(bool),
            ticks.astype(np.int64),
            lots.astype(np.int64),
        )
        both = Trades(
            *(
                np.concatenate([getattr(gen, f), getattr(extra, f)])
                for f in Trades.__dataclass_fields__
            )
        )
        out = both.take(np.lexsort((both.id, both.time_ms)))
        if not times:
            out.time_ms = out.time_ms // 1000 * 1000
        return out

    def _intensity(self, symbol: str, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected prints in each second, and where :meth:`set_rate` fixed it."""
        inst = self.instruments[symbol]
        default = self._fields(symbol, seconds, ("lam",))["lam"] * (
            self._rate(seconds) * (inst.activity * self.profile.activity_mult)
        )
        lam, fixed = default, np.zeros(len(seconds), dtype=bool)
        for since, flat in self._rates.get(symbol, ()):
            later = seconds >= since
            lam = np.where(later, default if flat is None else flat, lam)
            fixed = np.where(later, flat is not None, fixed)
        return np.asarray(lam), np.asarray(fixed)

    def _counts(self, symbol: str, seconds: np.ndarray) -> np.ndarray:
        """Prints in each of ``seconds`` (sorted int64): Poisson, and alive (:data:`ALIVE`).

        Whole aligned blocks are drawn, so a second's count never depends on the
        range that asked for it.
        """
        if not len(seconds):
            return np.zeros(0, dtype=np.int64)
        sym = _sym_id(self.instruments[symbol].key)
        first, last = int(seconds[0]) // ALIVE * ALIVE, int(seconds[-1]) // ALIVE * ALIVE
        full = np.arange(first, last + ALIVE, dtype=np.int64)
        lam, fixed = self._intensity(symbol, full)
        counts = _poisson(mm.key(self.seed, self.profile.salt, sym, 30), full, lam)
        blocks = (full - first) // ALIVE
        empty = np.bincount(blocks, weights=counts)[blocks] == 0
        u = mm.uniform(mm.key(self.seed, self.profile.salt, sym, 34), full // ALIVE)
        pick = full % ALIVE == (u * ALIVE).astype(np.int64)
        counts[empty & pick & ~fixed] = 1
        if len(full) == len(seconds):
            return counts
        return counts[np.searchsorted(full, seconds)]

    def _generated(self, symbol: str, seconds: np.ndarray, times: bool = True) -> Trades:
        """The model's own trades of the whole ``seconds`` (sorted int64)."""
        inst = self.instruments[symbol]
        sym = _sym_id(inst.key)
        salt = self.profile.salt
        counts = self._counts(symbol, seconds)
        # Only seconds with prints need the rest of the path: thin pairs (and quiet
        # hours) skip most of a day. Dense blocks keep the cheap contiguous noise sum.
        busy = counts > 0
        if len(busy) and busy.mean() > 0.3:
            path = {f: v[busy] for f, v in self._path(symbol, seconds).items()}
        else:
            path = self._path(symbol, seconds[busy])
        seconds, counts = seconds[busy], counts[busy]
        # The flow of second s is what moves the book from s to s + 1: its signs
        # follow the next second's shock (the touch is consumed, then the mid moves).
        shock = self._fields(symbol, seconds + 1, ("z",))["z"]
        sec = np.repeat(seconds, counts)
        starts = np.cumsum(counts) - counts
        j = np.arange(len(sec), dtype=np.int64) - np.repeat(starts, counts)
        ids = sec * _PER_SECOND + j
        u_time, u_size = mm.uniform2(mm.key(self.seed, salt, sym, 31), ids)
        if times:
            # Millisecond stamps: uniform order statistics within each second.
            group = np.repeat(np.arange(len(seconds), dtype=np.float64), counts)
            offset = np.sort(group + u_time) - group
            time_ms = sec * 1000 + (offset * 1000).astype(np.int64)
        else:
            time_ms = sec * 1000
        # Pareto sizes (tail index 1.4) with the instrument's median, on the lot grid.
        q = inst.size * np.minimum(u_size ** (-1 / 1.4) / 2 ** (1 / 1.4), 3000.0)
        # Informed flow: prints are larger in seconds that move the price more.
        z = np.repeat(shock, counts)
        q *= 0.5 + 0.5 * np.minimum(z * z, 9.0)
        lots = np.maximum(1, np.round(q / inst.lot)).astype(np.int64)
        # Signs: pushed by the second's move and the persistent pressure; half the
        # prints repeat the previous sign of the same second (split orders).
        press = np.repeat(path["pressure"], counts)
        big = q > 4 * inst.size
        p_buy = 0.5 + 0.5 * np.tanh(np.where(big, 2.5, 1.5) * z + 0.4 * press)
        u_sign, u_keep = mm.uniform2(mm.key(self.seed, salt, sym, 33), ids)
        fresh = u_sign < p_buy
        keep = (u_keep < 0.5) & (j > 0) & ~big
        src = np.maximum.accumulate(np.where(keep, 0, np.arange(len(ids))))
        is_buy = fresh[src]
        bid, ask = self._touch(symbol, seconds, path)
        walk = np.minimum(8, (q / (3.0 * inst.size)).astype(np.int64))
        bk = mm.key(self.seed, salt, sym, 20)
        ticks = np.where(is_buy, np.repeat(ask, counts), np.repeat(bid, counts))
        w = np.flatnonzero(walk > 0)
        if len(w):
            side = np.where(is_buy[w], 1, -1)
            ticks[w] += side * walk_offsets(bk, ticks[w], sec[w], side, walk[w], self._d0[symbol])
        price = np.round(ticks * inst.tick, inst.price_precision)
        amount = np.round(lots * inst.lot, inst.amount_precision)
        return Trades(time_ms, ids, price, amount, is_buy, ticks, lots)

    # -- klines ---------------------------------------------------------------------
    def _hour_bars(self, symbol: str, hour: int) -> np.ndarray:
        seconds = np.arange(hour * 3600, hour * 3600 + 3600, dtype=np.int64)
        tr = self._trades_of(symbol, seconds, times=False)
        return aggregate(tr.time_ms, tr.price, tr.amount, hour * 3600 * 1000, 60_000, 60)

    def _block_bars(self, symbol: str, block: int) -> np.ndarray:
        start = block * _BLOCK
        tr = self._trades_of(symbol, np.arange(start, start + _BLOCK, dtype=np.int64), times=False)
        return aggregate(tr.time_ms, tr.price, tr.amount, start * 1000, 60_000, _BLOCK // 60)

    def _minute_bars(self, symbol: str, start_s: int, end_s: int) -> np.ndarray:
        """1-minute bars for ``[start_s, end_s)`` (minute aligned), trades up to now only.

        Past 6-hour blocks the range covers are aggregated (and cached) whole, other
        past hours an hour at a time, the current hour on every call.
        """
        now_ms = int(self.now() * 1000)
        out = []
        t = start_s
        while t < end_s:
            block = t // _BLOCK
            # A whole past block at once; a window that starts inside a block (the
            # ticker's trailing 24 h) takes that block's hours it needs.
            whole = t == block * _BLOCK and end_s >= (block + 1) * _BLOCK
            if whole and (block + 1) * _BLOCK * 1000 <= now_ms:
                bars, base, width = self._block_cache(symbol, block), block * _BLOCK, _BLOCK
            else:
                hour = t // 3600
                base, width = hour * 3600, 3600
                if (hour + 1) * 3600 * 1000 <= now_ms:
                    bars = self._hour_cache(symbol, hour)
                else:
                    tr = self.trades(symbol, base * 1000, (base + 3600) * 1000)
                    bars = aggregate(tr.time_ms, tr.price, tr.amount, base * 1000, 60_000, 60)
            hi = min(end_s, base + width)
            out.append(bars[(t - base) // 60 : (hi - base) // 60])
            t = hi
        return np.concatenate(out) if out else np.empty((0, 7))

    def klines(self, symbol: str, interval_s: int, start_s: int, end_s: int) -> np.ndarray:
        """Bars opening in ``[start_s, end_s)``, up to the forming one.

        Returns an ``(n, 8)`` array ``[open_time_s, open, high, low, close, volume,
        quote_volume, count]``; bars with no trades carry the previous close.
        """
        now = self.now()
        start = start_s - start_s % interval_s
        end = min(end_s, int(now // interval_s * interval_s) + interval_s)
        if end <= start:
            return np.empty((0, 8))
        opens = np.arange(start, end, interval_s, dtype=np.int64)
        if interval_s <= 3600:
            minutes = self._minute_bars(symbol, start, int(opens[-1]) + interval_s)
            rows = merge(minutes.reshape(len(opens), interval_s // 60, 7))
        else:
            inst = self.instruments[symbol]
            rate = self._rate(opens) * (inst.activity * self.profile.activity_mult)
            k = mm.key(self.seed, self.profile.salt, _sym_id(inst.key), 40 + interval_s)
            rows = sampled(self, symbol, opens, interval_s, now, rate, k)
        return np.column_stack([opens.astype(np.float64), rows])

    # -- ticker ---------------------------------------------------------------------
    def ticker(self, symbol: str, t: float | None = None) -> dict[str, float]:
        """24 h rolling statistics and the touch at ``t`` (now by default).

        Keys: ``last open high low close volume quote_volume change bid ask
        bid_amount ask_amount time_ms``.
        """
        now = self.now() if t is None else t
        minute = int(now // 60 * 60)
        bars = self._minute_bars(symbol, minute - 86400 + 60, minute + 60)
        traded = bars[:, 6] > 0
        bid, ask = self._touch(symbol, np.array([int(now)], dtype=np.int64))
        book = self.book(symbol, now)
        inst = self.instruments[symbol]
        first_bid = float(np.round(bid[0] * inst.tick, inst.price_precision))
        last_price = float(bars[traded][-1, 3]) if traded.any() else first_bid
        open_price = float(bars[traded][0, 0]) if traded.any() else last_price
        return {
            "last": last_price,
            "open": open_price,
            "high": float(bars[traded, 1].max()) if traded.any() else last_price,
            "low": float(bars[traded, 2].min()) if traded.any() else last_price,
            "close": last_price,
            "volume": float(bars[:, 4].sum()),
            "quote_volume": float(bars[:, 5].sum()),
            "change": (last_price - open_price) / open_price if open_price else 0.0,
            "bid": float(book.bids[0, 0]),
            "ask": float(book.asks[0, 0]),
            "bid_amount": float(book.bids[0, 1]),
            "ask_amount": float(book.asks[0, 1]),
            "time_ms": float(int(now * 1000)),
        }


def _fill_scale(inst: Instrument, depth: int) -> float:
    """Distance scale (ticks) of level fill so ``depth`` levels span ~0.6 % of the price."""
    span = 0.006 * inst.price0 / inst.tick
    lo, hi = 0.5, 10.0 * depth
    if 0.75 * hi * math.log1p(span / hi) < depth:
        return hi
    for _ in range(50):
        mid = math.sqrt(lo * hi)
        if 0.75 * mid * math.log1p(span / mid) < depth:
            lo = mid
        else:
            hi = mid
    return hi


def _poisson(k: np.uint64, seconds: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson counts by inverse CDF on a hashed uniform (normal beyond λ = 40)."""
    u = mm.uniform(k, seconds)
    counts = np.zeros(len(lam), dtype=np.int64)
    small = lam <= 40.0
    if small.any():
        # Inverse CDF, each second leaving the loop once its CDF passes its uniform.
        idx = np.flatnonzero(small)
        ls, us = lam[idx], u[idx]
        p = np.exp(-ls)
        cdf = p.copy()
        for i in range(1, 120):
            more = us > cdf
            if not more.all():
                idx, ls, us, p, cdf = idx[more], ls[more], us[more], p[more], cdf[more]
            if not len(idx):
                break
            counts[idx] += 1
            p = p * ls / i
            cdf += p
    if (~small).any():
        lb = lam[~small]
        g = mm.normal(k ^ np.uint64(0xABCDEF), seconds[~small])
        counts[~small] = np.maximum(0, np.round(lb + np.sqrt(lb) * g)).astype(np.int64)
    return np.minimum(counts, _PUSHED - 1)
