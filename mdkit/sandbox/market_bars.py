"""Bars of the synthetic market: exact aggregation of the tape, sampled long bars."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mdkit.sandbox import market_model as mm

if TYPE_CHECKING:
    from mdkit.sandbox.market import Market

__all__ = ["aggregate", "merge", "sampled"]


def aggregate(
    time_ms: np.ndarray, price: np.ndarray, amount: np.ndarray, start_ms: int, width_ms: int, n: int
) -> np.ndarray:
    """Aggregate time-sorted trades into ``n`` bars ``[open high low close volume qvol count]``.

    Empty bars hold NaN prices and zero volume/count.
    """
    out = np.full((n, 7), np.nan)
    out[:, 4:] = 0.0
    if len(time_ms) == 0:
        return out
    b = (time_ms - start_ms) // width_ms
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    ends = np.r_[starts[1:], len(b)] - 1
    bars = b[starts]
    out[bars, 0] = price[starts]
    out[bars, 3] = price[ends]
    out[bars, 1] = np.maximum.reduceat(price, starts)
    out[bars, 2] = np.minimum.reduceat(price, starts)
    out[:, 4] = np.bincount(b, weights=amount, minlength=n)[:n]
    out[:, 5] = np.bincount(b, weights=amount * price, minlength=n)[:n]
    out[:, 6] = np.bincount(b, minlength=n)[:n]
    return out


def merge(groups: np.ndarray) -> np.ndarray:
    """Merge ``(bars, per, 7)`` minute groups into bars, carrying closes over empty ones."""
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
    # A bar without trades repeats the previous close (flat bar, zero volume).
    for i in np.flatnonzero(empty):
        prev = out[i - 1, 3] if i > 0 else np.nan
        out[i, :4] = prev
    return out


def sampled(
    market: Market,
    symbol: str,
    opens: np.ndarray,
    interval_s: int,
    now: float,
    rate: np.ndarray,
    k: np.uint64,
) -> np.ndarray:
    """Bars longer than an hour from the daily anchors (no day path: months stay cheap).

    Open/close are the anchors' levels (exactly where the day paths start and end);
    high/low add a volatility-sized excursion; volume is the expected tape volume.
    """
    inst = market.instruments[symbol]
    step = 86400 // 8
    per = max(1, interval_s // step)
    grid = opens[:, None] + np.arange(per + 1)[None, :] * (interval_s / per)
    grid = np.minimum(grid, now)
    days = grid / 86400.0
    lo_day = np.floor(days).astype(np.int64)
    frac = days - lo_day
    sym = sum((i + 1) * ord(c) for i, c in enumerate(inst.key))
    a = mm.anchor(market.seed, sym, lo_day.ravel(), inst.vol).reshape(grid.shape)
    b = mm.anchor(market.seed, sym, lo_day.ravel() + 1, inst.vol).reshape(grid.shape)
    logp = np.log(inst.price0) + a + (b - a) * frac
    path = np.round(np.exp(logp), inst.price_precision)
    u = mm.uniform(k, opens)
    swing = inst.vol * np.sqrt(interval_s / 86400.0 / per) * (0.3 + 0.7 * u)
    high = np.maximum(
        path.max(axis=1), np.round(path.max(axis=1) * (1 + swing), inst.price_precision)
    )
    low = np.minimum(
        path.min(axis=1), np.round(path.min(axis=1) * (1 - swing), inst.price_precision)
    )
    elapsed = np.clip((now - opens) / interval_s, 0.0, 1.0)
    # Mean of the capped Pareto size (tail 1.4, median `size`) is about 3.2 medians.
    count = np.round(rate * interval_s * elapsed * (0.7 + 0.6 * u))
    volume = count * inst.size * 3.2
    return np.column_stack(
        [path[:, 0], high, low, path[:, -1], volume, volume * path.mean(axis=1), count]
    )
