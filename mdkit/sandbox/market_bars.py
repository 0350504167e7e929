"""Bars of the synthetic market: every interval an exact aggregate of the one tape.

Bars are built in integer units: prices in ticks, volume in lots, quote volume in
tick·lots, so every sum is exact (never a float sum of decimals); they turn into
prices and amounts only at the end (:func:`values`). The hierarchy:

- **minutes** aggregate the trades (past 6-hour blocks and hours cached);
- bars up to a day merge their minutes (open first, close last, high max, low
  min, sums), so a 1h bar is its sixty 1min bars exactly;
- **days** merge their minutes (past days cached); weeks (Monday 00:00 UTC) and
  calendar months (the 1st, 00:00 UTC) merge their days.

The forming bar of every interval holds the trades up to now, so it closes at the
last trade. Days of the coarse history (before ``detail_from``) aggregate their
prints (one every ``COARSE`` seconds) directly, so years of daily bars stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mdkit.sandbox.market_catalog import Instrument, Trades

__all__ = ["Bars", "aggregate", "merge", "values"]

DAY = 86400
WEEK = 7 * DAY
#: 1970-01-05, the first Monday of the epoch: weeks open on Mondays 00:00 UTC.
MONDAY = 4 * DAY
#: Past minute bars are cached in blocks of this many seconds (6 hours).
BLOCK = 21600
#: Longest gap between two prints of the tape (the coarse history's spacing).
LOOKBACK = 300
#: Days of coarse history aggregated per pass (bounds the memory of long ranges).
_CHUNK_DAYS = 400


def aggregate(
    time_ms: np.ndarray,
    ticks: np.ndarray,
    lots: np.ndarray,
    start_ms: int,
    width_ms: int,
    n: int,
) -> np.ndarray:
    """Aggregate time-sorted trades into ``n`` unit bars.

    Returns an ``(n, 7)`` float array ``[open high low close (ticks), volume (lots),
    quote volume (tick·lots), count]`` of integers; bars without trades hold NaN
    prices and zero sums.
    """
    out = np.full((n, 7), np.nan)
    out[:, 4:] = 0.0
    if len(time_ms) == 0:
        return out
    b = (time_ms - start_ms) // width_ms
    change = np.empty(len(b), dtype=bool)
    change[0] = True
    np.not_equal(b[1:], b[:-1], out=change[1:])
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], len(b)) - 1
    bars = b[starts]
    ticks = np.asarray(ticks, dtype=np.int64)
    lots = np.asarray(lots, dtype=np.int64)
    out[bars, 0] = ticks[starts]
    out[bars, 3] = ticks[ends]
    out[bars, 1] = np.maximum.reduceat(ticks, starts)
    out[bars, 2] = np.minimum.reduceat(ticks, starts)
    out[bars, 4] = np.add.reduceat(lots, starts)
    out[bars, 5] = np.add.reduceat(ticks * lots, starts)
    out[bars, 6] = ends - starts + 1
    return out


def merge(groups: np.ndarray, carry: bool = True) -> np.ndarray:
    """Merge ``(bars, per, 7)`` groups of unit bars into bars.

    Open is the first traded member's, close the last's, high the max, low the min,
    sums the sums. With ``carry`` a bar without trades repeats the previous close
    (a flat bar of zero volume).
    """
    n = groups.shape[0]
    out = np.empty((n, 7))
    opens = groups[:, :, 0]
    has = ~np.isnan(opens)
    first = np.argmax(has, axis=1)
    last = groups.shape[1] - 1 - np.argmax(has[:, ::-1], axis=1)
    rows = np.arange(n)
    out[:, 0] = opens[rows, first]
    out[:, 3] = groups[rows, last, 3]
    out[:, 1] = np.where(has, groups[:, :, 1], -np.inf).max(axis=1)
    out[:, 2] = np.where(has, groups[:, :, 2], np.inf).min(axis=1)
    out[:, 4:] = groups[:, :, 4:].sum(axis=1)
    empty = ~has.any(axis=1)
    out[empty, :4] = np.nan
    if carry:
        for i in np.flatnonzero(empty):
            out[i, :4] = out[i - 1, 3] if i > 0 else np.nan
    return out


def values(units: np.ndarray, inst: Instrument) -> np.ndarray:
    """Unit bars as prices and amounts: the doubles nearest their exact decimals."""
    out = units.copy()
    pp, ap = inst.price_precision, inst.amount_precision
    out[:, :4] = units[:, :4] / 10.0**pp
    out[:, 4] = units[:, 4] / 10.0**ap
    out[:, 5] = units[:, 5] / 10.0 ** (pp + ap)
    return out


def _calendar(interval_s: int, t: int) -> int:
    """Open of the bar of ``interval_s`` holding second ``t``."""
    if interval_s >= 28 * DAY:
        month = np.datetime64(t, "s").astype("datetime64[M]")
        return int(month.astype("datetime64[s]").astype(np.int64))
    if interval_s == WEEK:
        return t - (t - MONDAY) % WEEK
    return t - t % interval_s


def _next(interval_s: int, t: int) -> int:
    """Open of the bar after the one opening at ``t``."""
    if interval_s >= 28 * DAY:
        month = np.datetime64(t, "s").astype("datetime64[M]") + 1
        return int(month.astype("datetime64[s]").astype(np.int64))
    return t + interval_s


class Bars:
    """Klines and tickers of a :class:`~mdkit.sandbox.market.Market` (a mixin)."""

    if TYPE_CHECKING:
        instruments: dict[str, Instrument]
        detail_from: int
        _hour_cache: Any
        _block_cache: Any
        _day_cache: Any

        def now(self) -> float: ...
        def trades(self, symbol: str, start_ms: int, end_ms: int) -> Trades: ...
        def _trades_of(self, symbol: str, seconds: np.ndarray, times: bool = True) -> Trades: ...
        def _deep_trades(
            self, symbol: str, start_s: int, end_s: int, times: bool = True
        ) -> Trades: ...
        def _touch(
            self, symbol: str, seconds: np.ndarray, path: dict[str, np.ndarray] | None = None
        ) -> tuple[np.ndarray, np.ndarray]: ...

    # -- minutes ------------------------------------------------------------------------
    def _span_bars(self, symbol: str, start: int, width: int) -> np.ndarray:
        tr = self._trades_of(symbol, np.arange(start, start + width, dtype=np.int64), False)
        return aggregate(
            tr.time_ms, tr.price_ticks, tr.amount_lots, start * 1000, 60_000, width // 60
        )

    def _hour_bars(self, symbol: str, hour: int) -> np.ndarray:
        return self._span_bars(symbol, hour * 3600, 3600)

    def _block_bars(self, symbol: str, block: int) -> np.ndarray:
        return self._span_bars(symbol, block * BLOCK, BLOCK)

    def _minute_bars(self, symbol: str, start_s: int, end_s: int) -> np.ndarray:
        """Unit 1-minute bars for ``[start_s, end_s)`` (minute aligned), trades up to now.

        Coarse history from its prints; past 6-hour blocks the range covers whole
        (cached), other past hours an hour at a time, the current hour every call.
        """
        now_ms = int(self.now() * 1000)
        out = []
        t = start_s
        cut = min(end_s, max(start_s, self.detail_from))
        if t < cut:
            tr = self._deep_trades(symbol, t, cut, times=False)
            n = (cut - t) // 60
            out.append(aggregate(tr.time_ms, tr.price_ticks, tr.amount_lots, t * 1000, 60_000, n))
            t = cut
        while t < end_s:
            block = t // BLOCK
            whole = t == block * BLOCK and end_s >= (block + 1) * BLOCK
            if whole and (block + 1) * BLOCK * 1000 <= now_ms:
                bars, base, width = self._block_cache(symbol, block), block * BLOCK, BLOCK
            else:
                hour = t // 3600
                base, width = hour * 3600, 3600
                if (hour + 1) * 3600 * 1000 <= now_ms:
                    bars = self._hour_cache(symbol, hour)
                elif base * 1000 > now_ms:
                    none = np.empty(0, np.int64)
                    bars = aggregate(none, none, none, 0, 60_000, 60)
                else:
                    tr = self.trades(symbol, base * 1000, (base + 3600) * 1000)
                    bars = aggregate(
                        tr.time_ms, tr.price_ticks, tr.amount_lots, base * 1000, 60_000, 60
                    )
            hi = min(end_s, base + width)
            out.append(bars[(t - base) // 60 : (hi - base) // 60])
            t = hi
        return np.concatenate(out) if out else np.empty((0, 7))

    # -- days -----------------------------------------------------------------------------
    def _day_bar(self, symbol: str, day: int) -> np.ndarray:
        """One past detailed day as a unit bar (cached)."""
        minutes = self._minute_bars(symbol, day * DAY, (day + 1) * DAY)
        return np.asarray(merge(minutes.reshape(1, 1440, 7), carry=False)[0])

    def _day_bars(self, symbol: str, first: int, n: int) -> np.ndarray:
        """Unit bars of days ``first .. first + n - 1`` (no carry of closes)."""
        out = np.full((n, 7), np.nan)
        out[:, 4:] = 0.0
        now = self.now()
        deep_end = min(first + n, self.detail_from // DAY)
        day = first
        while day < deep_end:
            stop = min(deep_end, day + _CHUNK_DAYS)
            tr = self._deep_trades(symbol, day * DAY, stop * DAY, times=False)
            chunk = aggregate(
                tr.time_ms, tr.price_ticks, tr.amount_lots, day * DAY * 1000, DAY * 1000, stop - day
            )
            out[day - first : stop - first] = chunk
            day = stop
        for d in range(max(day, first), first + n):
            if d * DAY > now:
                break
            if (d + 1) * DAY <= now:
                out[d - first] = self._day_cache(symbol, d)
            else:
                out[d - first] = self._day_bar(symbol, d)
        return out

    # -- klines ---------------------------------------------------------------------------
    def bar_open(self, interval_s: int, t: float) -> int:
        """Open time (epoch s) of the bar of ``interval_s`` holding ``t``.

        Weeks open on Mondays 00:00 UTC, intervals of 28 days and more on the 1st of
        the calendar month, others on multiples of the interval.
        """
        return _calendar(interval_s, int(t // 1))

    def klines(self, symbol: str, interval_s: int, start_s: int, end_s: int) -> np.ndarray:
        """Bars opening in ``[start_s, end_s)``, up to the forming one.

        Intervals of a week open on Mondays 00:00 UTC; of 28 days and more, on the
        1st of each calendar month; others on multiples of the interval. Returns an
        ``(n, 8)`` array ``[open_time_s, open, high, low, close, volume,
        quote_volume, count]``; bars with no trades carry the previous close.
        """
        inst = self.instruments[symbol]
        now = int(self.now())
        last_open = _calendar(interval_s, now)
        first_open = _calendar(interval_s, start_s)
        if interval_s < 28 * DAY:  # fixed widths
            opens = np.arange(first_open, min(end_s, last_open + 1), interval_s, dtype=np.int64)
        else:
            months = []
            t = first_open
            while t < end_s and t <= last_open:
                months.append(t)
                t = _next(interval_s, t)
            opens = np.array(months, dtype=np.int64)
        if not len(opens):
            return np.empty((0, 8))
        stop = _next(interval_s, int(opens[-1]))
        if interval_s < DAY:
            # A few bars before the range too, so that an empty first bar carries the
            # close before it (the tape prints at least every LOOKBACK seconds).
            per, pre = interval_s // 60, -(-LOOKBACK // interval_s)
            minutes = self._minute_bars(symbol, int(opens[0]) - pre * interval_s, stop)
            units = merge(minutes.reshape(len(opens) + pre, per, 7))[pre:]
        else:
            first = int(opens[0]) // DAY
            days = self._day_bars(symbol, first, (stop - int(opens[0])) // DAY)
            bounds = np.r_[opens, stop] // DAY - first
            width = int(np.diff(bounds).max())
            groups = np.full((len(opens), width, 7), np.nan)
            groups[:, :, 4:] = 0.0
            for i in range(len(opens)):
                groups[i, : bounds[i + 1] - bounds[i]] = days[bounds[i] : bounds[i + 1]]
            units = merge(groups)
        return np.column_stack([opens.astype(np.float64), values(units, inst)])

    # -- ticker ---------------------------------------------------------------------------
    def ticker(self, symbol: str, t: float | None = None) -> dict[str, float]:
        """24 h rolling statistics (the trailing 1,440 minute bars) and the touch.

        Keys: ``last open high low close volume quote_volume change bid ask
        bid_amount ask_amount time_ms``. Volumes are exact sums of the tape.
        """
        now = self.now() if t is None else t
        minute = int(now // 60 * 60)
        inst = self.instruments[symbol]
        units = self._minute_bars(symbol, minute - 86400 + 60, minute + 60)
        day = merge(units.reshape(1, 1440, 7), carry=False)[0]
        bid, ask = self._touch(symbol, np.array([int(now)], dtype=np.int64))
        book = self.book(symbol, now)  # type: ignore[attr-defined]
        stats = values(day[None, :], inst)[0]
        touch = float(inst.prices(bid)[0])
        last = touch if np.isnan(stats[3]) else float(stats[3])
        first = last if np.isnan(stats[0]) else float(stats[0])
        return {
            "last": last,
            "open": first,
            "high": last if np.isnan(stats[1]) else float(stats[1]),
            "low": last if np.isnan(stats[2]) else float(stats[2]),
            "close": last,
            "volume": float(stats[4]),
            "quote_volume": float(stats[5]),
            "change": (last - first) / first if first else 0.0,
            "bid": float(book.bids[0, 0]),
            "ask": float(book.asks[0, 0]),
            "bid_amount": float(book.bids[0, 1]),
            "ask_amount": float(book.asks[0, 1]),
            "time_ms": float(int(now * 1000)),
        }
