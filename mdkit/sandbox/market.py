"""One synthetic, seeded market that every sandbox venue serves.

Everything is a pure function of ``(seed, symbol, time)``, so any past range can be
generated on demand and every endpoint tells the same story:

- **price path**: ``mid(t) = p0 · exp(Σ_k w_k · noise(t / T_k))``, smooth value noise
  at scales from 20 s to a month, with weights ∝ √T_k (Brownian-like scaling);
- **book** at second ``s``: levels around ``mid(s)`` on the instrument's tick grid;
  level sizes change on their own slow clocks, so consecutive books differ by a
  few levels (what an incremental feed sends);
- **trades** in second ``s``: a hashed count, each print taking the best ask
  (taker buy) or best bid (taker sell) of that second's book, large ones walking
  to the next level; ids are ``s * 16 + j`` (unique, increasing);
- **klines**: up to 60-minute bars aggregate the trade tape (cached per hour);
  longer bars are sampled from the path at one-minute resolution.

This module imports no client code: the sandbox checks the client, it does not
mirror it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Instrument", "INSTRUMENTS", "Market", "Trades", "Book"]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
_MAX_PER_SECOND = 16
#: Noise scales (seconds) of the price path.
_SCALES = (20.0, 120.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)
_DAILY_VOL = 0.025


@dataclass(frozen=True)
class Instrument:
    """A market the sandbox lists."""

    symbol: str
    base: str
    quote: str
    price0: float
    price_precision: int
    amount_precision: int
    #: Typical trade size in base units.
    size: float

    @property
    def tick(self) -> float:
        """Smallest price step."""
        return 10.0**-self.price_precision


INSTRUMENTS: tuple[Instrument, ...] = (
    Instrument("btcusdt", "btc", "usdt", 65000.0, 2, 6, 0.02),
    Instrument("ethusdt", "eth", "usdt", 3200.0, 2, 4, 0.4),
    Instrument("ethbtc", "eth", "btc", 0.049, 6, 3, 0.4),
    Instrument("xrpusdt", "xrp", "usdt", 0.55, 4, 1, 800.0),
    Instrument("xrpbtc", "xrp", "btc", 0.0000085, 9, 0, 800.0),
    Instrument("crousdt", "cro", "usdt", 0.09, 5, 1, 4000.0),
    Instrument("crobtc", "cro", "btc", 0.0000014, 10, 0, 4000.0),
    Instrument("ltcusdt", "ltc", "usdt", 72.0, 2, 3, 3.0),
)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK
        return x ^ (x >> np.uint64(31))


def _key(*parts: int) -> np.uint64:
    acc = np.array([0], dtype=np.uint64)
    for part in parts:
        acc = _mix(acc ^ np.uint64(part & 0xFFFFFFFFFFFFFFFF))
    return np.uint64(acc[0])


def _uniform(key: np.uint64, index: np.ndarray) -> np.ndarray:
    """Deterministic U[0, 1) for each integer in ``index`` under ``key``."""
    with np.errstate(over="ignore"):
        mixed = _mix(index.astype(np.int64).view(np.uint64) * np.uint64(0x2545F4914F6CDD1D) ^ key)
    return (mixed >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


@dataclass
class Trades:
    """A block of trades, oldest first (time in ms)."""

    time_ms: np.ndarray
    id: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    is_buy: np.ndarray

    def __len__(self) -> int:
        return len(self.id)


@dataclass
class Book:
    """Book levels at one second: bids high→low, asks low→high, ``(n, 2)`` price/amount."""

    bids: np.ndarray
    asks: np.ndarray
    second: int


class Market:
    """The synthetic market.

    Parameters
    ----------
    seed : int
        Same seed, same market, on every machine.
    trades_per_second : float
        Mean trade prints per second and symbol.
    depth : int
        Book levels per side.
    clock : callable
        Returns the current epoch time in seconds (tests may freeze or shift it).
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        trades_per_second: float = 1.5,
        depth: int = 150,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.seed = seed
        self.trades_per_second = trades_per_second
        self.depth = depth
        self.clock = clock
        self.instruments = {i.symbol: i for i in INSTRUMENTS}
        # Inverse CDF of a Poisson count, capped at the id space per second.
        lam = trades_per_second
        pmf = [math.exp(-lam) * lam**k / math.factorial(k) for k in range(_MAX_PER_SECOND)]
        self._count_cdf = np.cumsum(pmf)
        self._hour_cache = functools.lru_cache(maxsize=8192)(self._hour_bars_uncached)

    def now(self) -> float:
        """Current time, epoch seconds."""
        return self.clock()

    def instrument(self, symbol: str) -> Instrument:
        """Return the instrument; ``KeyError`` if the sandbox does not list it."""
        return self.instruments[symbol]

    def _sym(self, symbol: str) -> int:
        return sum((i + 1) * ord(c) for i, c in enumerate(symbol))

    # -- price path ---------------------------------------------------------------
    def mid(self, symbol: str, t: np.ndarray | float) -> np.ndarray:
        """Mid price at epoch seconds ``t`` (vectorised)."""
        inst = self.instruments[symbol]
        ts = np.atleast_1d(np.asarray(t, dtype=np.float64))
        log_p = np.zeros_like(ts)
        for k, scale in enumerate(_SCALES):
            key = _key(self.seed, self._sym(symbol), 1000 + k)
            x = ts / scale
            i = np.floor(x)
            f = x - i
            u = f * f * (3.0 - 2.0 * f)
            a = _uniform(key, i) * 2.0 - 1.0
            b = _uniform(key, i + 1) * 2.0 - 1.0
            log_p += _DAILY_VOL * math.sqrt(scale / 86400.0) * (a + (b - a) * u)
        return inst.price0 * np.exp(log_p)

    # -- book ---------------------------------------------------------------------
    def _touch(self, symbol: str, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best bid and best ask in ticks (int64) for each second."""
        inst = self.instruments[symbol]
        mid_ticks = self.mid(symbol, seconds.astype(np.float64)) / inst.tick
        half = np.maximum(1.0, np.round(mid_ticks * 0.00005))
        bid = np.floor(mid_ticks - half).astype(np.int64)
        ask = np.ceil(mid_ticks + half).astype(np.int64)
        return bid, np.maximum(ask, bid + 1)

    def _level_sizes(self, symbol: str, second: int, ticks: np.ndarray, side: int) -> np.ndarray:
        # Each price level's size lives on its own slow clock (3–17 s), so a book
        # changes by a few levels per second, as a real incremental feed does.
        inst = self.instruments[symbol]
        key = _key(self.seed, self._sym(symbol), 2000 + side)
        period = 3 + (_uniform(key, ticks) * 15).astype(np.int64)
        epoch = (second + (ticks % period)) // period
        u = _uniform(key, ticks * 7919 + epoch)
        sizes = inst.size * (0.2 + 3.0 * u * u)
        floor = 10.0**-inst.amount_precision
        return np.asarray(np.round(sizes + floor, inst.amount_precision), dtype=np.float64)

    def book(self, symbol: str, t: float | None = None) -> Book:
        """The book at epoch second ``floor(t)`` (now by default)."""
        second = int(math.floor(self.now() if t is None else t))
        inst = self.instruments[symbol]
        bid, ask = self._touch(symbol, np.array([second]))
        steps = np.arange(self.depth, dtype=np.int64)
        bid_ticks = bid[0] - steps
        bid_ticks = bid_ticks[bid_ticks > 0]
        ask_ticks = ask[0] + steps
        bids = np.column_stack(
            [
                np.round(bid_ticks * inst.tick, inst.price_precision),
                self._level_sizes(symbol, second, bid_ticks, 0),
            ]
        )
        asks = np.column_stack(
            [
                np.round(ask_ticks * inst.tick, inst.price_precision),
                self._level_sizes(symbol, second, ask_ticks, 1),
            ]
        )
        return Book(bids, asks, second)

    # -- trades -------------------------------------------------------------------
    def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades:
        """Every trade with ``start_ms <= time < end_ms`` (capped at now), oldest first."""
        end_ms = min(end_ms, int(self.now() * 1000))
        first, last = start_ms // 1000, (end_ms - 1) // 1000
        if end_ms <= start_ms:
            return self._trades_of(symbol, np.empty(0, np.int64))
        block = self._trades_of(symbol, np.arange(first, last + 1, dtype=np.int64))
        keep = (block.time_ms >= start_ms) & (block.time_ms < end_ms)
        return Trades(
            *(
                arr[keep]
                for arr in (block.time_ms, block.id, block.price, block.amount, block.is_buy)
            )
        )

    def _trades_of(self, symbol: str, seconds: np.ndarray) -> Trades:
        inst = self.instruments[symbol]
        sym = self._sym(symbol)
        counts = np.searchsorted(self._count_cdf, _uniform(_key(self.seed, sym, 3000), seconds))
        counts = np.minimum(counts, _MAX_PER_SECOND - 1)
        sec = np.repeat(seconds, counts)
        starts = np.cumsum(counts) - counts
        j = np.arange(len(sec), dtype=np.int64) - np.repeat(starts, counts)
        ids = sec * _MAX_PER_SECOND + j
        u_time = _uniform(_key(self.seed, sym, 3001), ids)
        offset = ((j + u_time) / np.repeat(np.maximum(counts, 1), counts) * 1000).astype(np.int64)
        is_buy = _uniform(_key(self.seed, sym, 3002), ids) < 0.5
        u_size = _uniform(_key(self.seed, sym, 3003), ids)
        amount = np.round(inst.size * -np.log1p(-u_size * 0.999), inst.amount_precision)
        amount = np.maximum(amount, 10.0**-inst.amount_precision)
        bid, ask = self._touch(symbol, sec)
        # A print larger than ~3 typical sizes walks one level through the book.
        walk = (u_size > 0.95).astype(np.int64)
        ticks = np.where(is_buy, ask + walk, bid - walk)
        price = np.round(ticks * inst.tick, inst.price_precision)
        return Trades(sec * 1000 + offset, ids, price, amount, is_buy)

    # -- klines -------------------------------------------------------------------
    def _hour_bars_uncached(self, symbol: str, hour: int) -> np.ndarray:
        """Sixty 1-minute bars ``[open, high, low, close, volume, quote_volume, count]``."""
        tr = self._trades_of(symbol, np.arange(hour * 3600, hour * 3600 + 3600, dtype=np.int64))
        return _aggregate(tr, hour * 3600 * 1000, 60_000, 60)

    def _minute_bars(self, symbol: str, start_s: int, end_s: int) -> np.ndarray:
        """1-minute bars for ``[start_s, end_s)`` (minute aligned), trades up to now only."""
        now_ms = int(self.now() * 1000)
        out = []
        for hour in range(start_s // 3600, (end_s - 1) // 3600 + 1):
            if (hour + 1) * 3600 * 1000 <= now_ms:
                bars = self._hour_cache(symbol, hour)
            else:
                tr = self.trades(symbol, hour * 3600 * 1000, (hour + 1) * 3600 * 1000)
                bars = _aggregate(tr, hour * 3600 * 1000, 60_000, 60)
            lo = max(start_s, hour * 3600)
            hi = min(end_s, hour * 3600 + 3600)
            out.append(bars[(lo - hour * 3600) // 60 : (hi - hour * 3600) // 60])
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
            per = interval_s // 60
            rows = _merge(minutes.reshape(len(opens), per, 7))
        else:
            rows = self._sampled_bars(symbol, opens, interval_s, now)
        return np.column_stack([opens.astype(np.float64), rows])

    def _sampled_bars(
        self, symbol: str, opens: np.ndarray, interval_s: int, now: float
    ) -> np.ndarray:
        inst = self.instruments[symbol]
        step = max(60, interval_s // 1440)
        per = interval_s // step
        grid = (opens[:, None] + np.arange(per + 1)[None, :] * step).astype(np.float64)
        grid = np.minimum(grid, now)
        path = np.round(self.mid(symbol, grid.ravel()).reshape(grid.shape), inst.price_precision)
        elapsed = np.clip((now - opens) / interval_s, 0.0, 1.0)
        noise = 0.6 + 0.8 * _uniform(_key(self.seed, self._sym(symbol), 4000 + interval_s), opens)
        volume = inst.size * self.trades_per_second * interval_s * elapsed * noise
        mean = path.mean(axis=1)
        count = np.round(self.trades_per_second * interval_s * elapsed)
        return np.column_stack(
            [
                path[:, 0],
                path.max(axis=1),
                path.min(axis=1),
                path[:, -1],
                volume,
                volume * mean,
                count,
            ]
        )

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
        book = self.book(symbol, now)
        last_price = float(bars[traded][-1, 3]) if traded.any() else float(book.bids[0, 0])
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


def _aggregate(tr: Trades, start_ms: int, width_ms: int, n: int) -> np.ndarray:
    """Aggregate trades into ``n`` bars ``[open high low close volume quote_volume count]``."""
    out = np.full((n, 7), np.nan)
    out[:, 4:] = 0.0
    if len(tr):
        b = (tr.time_ms - start_ms) // width_ms
        first = np.ones(len(b), dtype=bool)
        first[1:] = b[1:] != b[:-1]
        last = np.ones(len(b), dtype=bool)
        last[:-1] = b[1:] != b[:-1]
        out[b[first], 0] = tr.price[first]
        out[b[last], 3] = tr.price[last]
        high = np.full(n, -np.inf)
        low = np.full(n, np.inf)
        np.maximum.at(high, b, tr.price)
        np.minimum.at(low, b, tr.price)
        out[:, 1] = np.where(np.isfinite(high), high, np.nan)
        out[:, 2] = np.where(np.isfinite(low), low, np.nan)
        np.add.at(out[:, 4], b, tr.amount)
        np.add.at(out[:, 5], b, tr.amount * tr.price)
        np.add.at(out[:, 6], b, 1.0)
    return out


def _merge(groups: np.ndarray) -> np.ndarray:
    """Merge ``(bars, per, 7)`` minute groups into bars, carrying closes over empty ones."""
    n = groups.shape[0]
    out = np.empty((n, 7))
    with np.errstate(all="ignore"):
        opens = groups[:, :, 0]
        closes = groups[:, :, 3]
        has = ~np.isnan(opens)
        first = np.argmax(has, axis=1)
        last = groups.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)
        rows = np.arange(n)
        out[:, 0] = opens[rows, first]
        out[:, 3] = closes[rows, last]
        out[:, 1] = np.nanmax(np.where(has, groups[:, :, 1], -np.inf), axis=1)
        out[:, 2] = np.nanmin(np.where(has, groups[:, :, 2], np.inf), axis=1)
    out[:, 4:] = groups[:, :, 4:].sum(axis=1)
    empty = ~has.any(axis=1)
    out[empty, :4] = np.nan
    # A bar without trades repeats the previous close (flat bar, zero volume).
    for i in np.flatnonzero(empty):
        prev = out[i - 1, 3] if i > 0 else np.nan
        out[i, :4] = prev
    return out
