"""One synthetic, seeded market that every sandbox venue serves.

Everything is a pure function of ``(seed, venue, symbol, time)``: any past range is
generated on demand, in any slices, and every endpoint tells the same story.

- **Price** (:mod:`mdkit.sandbox.market_model`): every asset has a USD path, and a
  pair's log price is the difference of its two assets' (one price level across
  pairs: ETH/BTC is ETH/USDT ÷ BTC/USDT up to each venue's noise). Per asset and UTC
  day, a second-resolution log price with stochastic volatility tied to activity
  (intraday seasonality, slow and fast regimes, bursts that start with a jump),
  bridged between daily anchors.
- **Trades** of second ``s``: a Poisson count around the intensity (clustered:
  bursts, regimes), and at least one print in every aligned :data:`ALIVE`-second
  block (every symbol alive at every hour), Pareto sizes (tail index 1.4, median =
  the instrument's ``size``), signs pushed by the second's move and a persistent
  order-flow pressure (buys follow buys). A buy takes the best ask, a large one
  walks up the ask levels that exist in that second's book (sells mirror it). Ids
  are ``s * 65536 + j`` in time order; :meth:`Market.push_trade` adds trades by hand and
  :meth:`Market.set_rate` sets a symbol's intensity (:mod:`.market_controls`).
- **History**: the detailed tape from ``detail_days`` before the market's start;
  before that, back to :data:`GENESIS`, a coarse tape of one print every
  :data:`COARSE` seconds on a path of the same daily anchors (years of bars stay cheap).
- **Book** at second ``s``: touch around the venue's mid with a spread of one to a
  few ticks, wider in bursts; deeper levels are ticks that *exist* by a hash of
  (price, slow epoch) with a fill probability falling with the distance (gaps),
  on coarser price grids far out; sizes grow away from the touch, then thin.
- **Klines** (:mod:`.market_bars`): every interval aggregates the same tape in
  integer ticks and lots (a 1h bar is its sixty 1min bars, a day its hours, weeks
  open on Monday, months on the 1st), and the forming bar closes at the last trade.
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
from dataclasses import replace

import numpy as np

from mdkit.sandbox import market_model as mm
from mdkit.sandbox.market_bars import LOOKBACK, Bars
from mdkit.sandbox.market_book import book_levels, fill_scale, walk_offsets
from mdkit.sandbox.market_catalog import (
    ASSETS,
    CATALOG,
    INSTRUMENTS,
    VENUES,
    Book,
    Instrument,
    Trades,
    Venue,
    sym_id,
)
from mdkit.sandbox.market_controls import PER_SECOND, PUSHED, Controls
from mdkit.sandbox.wire import decimal_text

__all__ = [
    "ASSETS",
    "Instrument",
    "INSTRUMENTS",
    "CATALOG",
    "Venue",
    "VENUES",
    "Market",
    "Trades",
    "Book",
]

#: The market opened on 2020-01-01 00:00 UTC: no trade, no bar before it.
GENESIS = 1_577_836_800
#: Days before the market's start (``busy_since``) that have the detailed tape; older
#: days have the coarse one (one print every COARSE seconds).
DETAIL_DAYS = 2
#: The coarse history prints once every this many seconds, on a price path with a
#: knot as often.
COARSE = LOOKBACK
#: Trades per second of BTC/USDT on Crypto.com by default (and before ``busy_since``).
DEFAULT_RATE = 1.5
#: Every symbol prints at least once in every aligned block of this many seconds
#: (a block the Poisson tape leaves empty gets one print): any 4-second window sees
#: a trade on every venue and symbol, at any hour (thin pairs thin, never silent).
ALIVE = 2
_FIELDS = ("x", "lam", "z", "pressure", "burst")


class _Shared:
    """Caches every venue view of one market shares (asset and pair day paths)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.asset = functools.lru_cache(maxsize=20)(self._asset)
        self.day = functools.lru_cache(maxsize=32)(self._day)

    def _asset(self, asset: str, day: int) -> mm.DayPath:
        usd, vol = ASSETS[asset]
        # Seeded as the asset's USDT pair was (the same BTC/USDT history as before).
        stream = sym_id(asset if asset in ("usdt", "uah") else f"{asset}usdt")
        return mm.day_path(self.seed, stream, day, vol, math.log(usd))

    def _day(self, key: str, day: int) -> mm.DayPath:
        inst = CATALOG[key]
        return mm.pair_path(self.asset(inst.base, day), self.asset(inst.quote, day))

    def deep(self, key: str, days: np.ndarray) -> np.ndarray:
        """A pair's coarse log prices on old ``days``, ``(len(days), DAY // COARSE)``."""
        inst = CATALOG[key]
        out = []
        for asset in (inst.base, inst.quote):
            usd, vol = ASSETS[asset]
            stream = sym_id(asset if asset in ("usdt", "uah") else f"{asset}usdt")
            knots = mm.deep_knots(self.seed, stream, days, vol, math.log(usd), mm.DAY // COARSE)
            out.append(knots)
        return np.asarray(out[0] - out[1])


class Market(Bars, Controls):
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
    detail_days : int
        Whole UTC days before the clock's day at construction with the detailed tape (every
        print, second by second); older days, back to :data:`GENESIS`, have a coarse
        tape of one print every :data:`COARSE` seconds, so years of bars stay cheap. Bars of every
        interval aggregate whichever tape their time has.
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
        detail_days: int = DETAIL_DAYS,
        _shared: _Shared | None = None,
    ) -> None:
        if venue not in VENUES:
            raise ValueError(f"unknown venue {venue!r}; valid: {sorted(VENUES)}")
        self.seed = seed
        self.trades_per_second = trades_per_second
        self.depth = depth
        self.clock = clock
        self.busy_since = int(math.floor(clock() if busy_since is None else busy_since))
        if isinstance(detail_days, bool) or not isinstance(detail_days, int) or detail_days < 0:
            raise ValueError(
                f"detail_days must be a whole number of days >= 0, not {detail_days!r}"
            )
        self.detail_days = detail_days
        #: First second of the detailed tape (a UTC midnight).
        self.detail_from = (int(math.floor(clock())) // mm.DAY - detail_days) * mm.DAY
        self.profile = VENUES[venue]
        self._shared = _shared or _Shared(seed)
        self.instruments: dict[str, Instrument] = {}
        for k in self.profile.listed:
            inst = CATALOG[k]
            name = self.profile.style(inst.base.upper(), inst.quote.upper())
            self.instruments[name] = replace(inst, symbol=name)
        self._d0 = {s: fill_scale(i.price0 / i.tick, depth) for s, i in self.instruments.items()}
        self._hour_cache = functools.lru_cache(maxsize=4096)(self._hour_bars)
        self._block_cache = functools.lru_cache(maxsize=1024)(self._block_bars)
        self._day_cache = functools.lru_cache(maxsize=8192)(self._day_bar)
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
                detail_days=self.detail_days,
                _shared=self._shared,
            )
            view._views = self._views
            view.detail_from = self.detail_from
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
        """Day-path ``fields`` at venue-lagged ``seconds`` (int64, any order).

        The venue lags the common path; in its first ``lag`` seconds of a UTC day it
        holds the day's opening (no day is ever needed twice). Days of the coarse
        history have the coarse path, no activity structure and no shocks.
        """
        key = self.instruments[symbol].key
        lag = self.profile.lag
        out = {f: np.zeros(len(seconds)) for f in fields}
        if len(seconds) == 0:
            return out
        days = seconds // mm.DAY
        deep = seconds < self.detail_from
        if deep.any() and "x" in fields:
            sec = seconds[deep]
            lagged = np.maximum(sec - lag, days[deep] * mm.DAY)
            uniq = np.unique(lagged // mm.DAY)
            minutes = self._shared.deep(key, uniq)
            row = np.searchsorted(uniq, lagged // mm.DAY)
            out["x"][deep] = minutes[row, (lagged % mm.DAY) // COARSE]
        if "lam" in fields:
            out["lam"][deep] = 1.0
        if deep.all():
            return out
        lo, hi = int(days[~deep].min()), int(days.max())
        for day in range(lo, hi + 1):
            sel = days == day
            if day == lo == hi:
                sel = ~deep
            elif not sel.any():
                continue
            path = self._shared.day(key, day)
            idx = np.maximum(seconds[sel] - day * mm.DAY - lag, 0)
            for f in fields:
                out[f][sel] = getattr(path, f)[idx]
        return out

    def _path(self, symbol: str, seconds: np.ndarray) -> dict[str, np.ndarray]:
        """Day-path fields at venue-lagged ``seconds`` (int64), plus the venue log mid."""
        inst = self.instruments[symbol]
        out = self._fields(symbol, seconds)
        k = mm.key(self.seed, self.profile.salt, sym_id(inst.key), 10)
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
        u = mm.uniform(mm.key(self.seed, self.profile.salt, sym_id(inst.key), 11), seconds)
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
        k = mm.key(self.seed, self.profile.salt, sym_id(inst.key), 20)
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
        bids = np.column_stack([inst.prices(bt), inst.amounts(bl)])
        asks = np.column_stack([inst.prices(at), inst.amounts(al)])
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
        if len(seconds):
            lo, hi = int(seconds[0]) * 1000, int(seconds[-1]) * 1000 + 1000
            # Always under the lock, the first push of a symbol too: a push stamps its
            # time when it takes the lock, so a reader that looked before it appended
            # would miss it for good (its window has moved on).
            with self._lock:
                pushed = [t for t in self._pushed.get(symbol, ()) if lo <= t[0] < hi]
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
            inst.prices(ticks),
            inst.amounts(lots),
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
        pushed_flag = np.repeat([False, True], [len(gen), len(extra)])
        out = both.take(np.lexsort((pushed_flag, both.time_ms)))  # natural first at a tie
        # Ids count the trades of their second in time order, pushed ones included, as
        # a venue's ids grow with time. What is visible never changes: a push is stamped
        # after every trade already visible, so only later trades' ids make room for it.
        sec = out.time_ms // 1000
        starts = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
        sizes = np.diff(np.r_[starts, len(sec)])
        out.id = sec * PER_SECOND + (np.arange(len(sec)) - np.repeat(starts, sizes))
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
        sym = sym_id(self.instruments[symbol].key)
        if seconds[0] < self.detail_from:
            deep = seconds < self.detail_from
            out = np.zeros(len(seconds), dtype=np.int64)
            out[deep] = self._deep_second(symbol, seconds[deep] // COARSE) == seconds[deep]
            out[deep] &= seconds[deep] >= GENESIS
            if not deep.all():
                out[~deep] = self._counts(symbol, seconds[~deep])
            return out
        first, last = int(seconds[0]) // ALIVE * ALIVE, int(seconds[-1]) // ALIVE * ALIVE
        full = np.arange(first, last + ALIVE, dtype=np.int64)
        lam, fixed = self._intensity(symbol, full)
        counts = mm.poisson(mm.key(self.seed, self.profile.salt, sym, 30), full, lam, PUSHED - 1)
        blocks = (full - first) // ALIVE
        empty = np.bincount(blocks, weights=counts)[blocks] == 0
        u = mm.uniform(mm.key(self.seed, self.profile.salt, sym, 34), full // ALIVE)
        pick = full % ALIVE == (u * ALIVE).astype(np.int64)
        counts[empty & pick & ~fixed] = 1
        if len(full) == len(seconds):
            return counts
        return counts[np.searchsorted(full, seconds)]

    def _deep_second(self, symbol: str, slots: np.ndarray) -> np.ndarray:
        """The second of each :data:`COARSE` slot's one print in the coarse history."""
        k = mm.key(self.seed, self.profile.salt, sym_id(self.instruments[symbol].key), 35)
        return np.asarray(slots * COARSE + (mm.uniform(k, slots) * COARSE).astype(np.int64))

    def _deep_trades(self, symbol: str, start_s: int, end_s: int, times: bool = True) -> Trades:
        """The coarse history's prints in ``[start_s, end_s)`` (before :attr:`detail_from`)."""
        end_s = min(end_s, self.detail_from)
        first = max(start_s, GENESIS) // COARSE
        slots = np.arange(first, max(first, -(-end_s // COARSE)), dtype=np.int64)
        seconds = self._deep_second(symbol, slots)
        seconds = seconds[(seconds >= start_s) & (seconds < end_s)]
        return self._prints(symbol, seconds, np.ones(len(seconds), dtype=np.int64), None, times)

    def _generated(self, symbol: str, seconds: np.ndarray, times: bool = True) -> Trades:
        """The model's own trades of the whole ``seconds`` (sorted int64)."""
        counts = self._counts(symbol, seconds)
        # Only seconds with prints need the rest of the path: thin pairs (and quiet
        # hours) skip most of a day. Dense blocks keep the cheap contiguous noise sum.
        busy = counts > 0
        path = None
        if len(busy) and busy.mean() > 0.3:
            path = {f: v[busy] for f, v in self._path(symbol, seconds).items()}
        return self._prints(symbol, seconds[busy], counts[busy], path, times)

    def _prints(
        self,
        symbol: str,
        seconds: np.ndarray,
        counts: np.ndarray,
        path: dict[str, np.ndarray] | None,
        times: bool,
    ) -> Trades:
        """The trades of ``seconds`` (sorted, each with ``counts[i] >= 1`` prints)."""
        inst = self.instruments[symbol]
        sym = sym_id(inst.key)
        salt = self.profile.salt
        if path is None:
            path = self._path(symbol, seconds)
        # The flow of second s is what moves the book from s to s + 1: its signs
        # follow the next second's shock (the touch is consumed, then the mid moves).
        shock = self._fields(symbol, seconds + 1, ("z",))["z"]
        sec = np.repeat(seconds, counts)
        starts = np.cumsum(counts) - counts
        j = np.arange(len(sec), dtype=np.int64) - np.repeat(starts, counts)
        ids = sec * PER_SECOND + j
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
        # A coarse print carries about its slot's volume.
        deep = sec < self.detail_from
        scale = np.where(
            deep, COARSE * self._rate(sec) * inst.activity * self.profile.activity_mult, 1.0
        )
        lots = np.maximum(1, np.round(q * scale / inst.lot)).astype(np.int64)
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
        return Trades(time_ms, ids, inst.prices(ticks), inst.amounts(lots), is_buy, ticks, lots)
