"""Book levels of the synthetic market: which ticks hold orders, and how much.

A price tick beyond the touch *exists* when a hash of (tick, its slow epoch) falls
under a fill probability that decays with the distance ``d`` from the touch,
``0.75 · d0 / (d0 + d)``: near the touch most ticks are filled, further out the
book has gaps. Far out, candidates sit on coarser grids (multiples of 2, 4, 8...
ticks, round prices) with the probability scaled up to keep the same density, so
a book of 150 levels costs a few hundred hashes however far it reaches.

Each tick has its own slow clock (3–17 s): a level appears, vanishes or changes
size only when its epoch turns, so consecutive books differ by a few levels, as an
incremental feed does. Sizes follow a profile that grows away from the touch (to
about ten times the touch size around ``8·d0``) and then thins, times a level's
own exponential noise.
"""

from __future__ import annotations

import math

import numpy as np

from mdkit.sandbox import market_model as mm

__all__ = ["book_levels", "fill_scale", "walk_offsets"]

_SIDE_SALT = {1: 0x1F2E3D4C5B6A7988, -1: 0x0123456789ABCDEF}


def _periods(ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # The tick's own period (3–17 s) and phase, from a cheap multiplicative hash.
    period = 3 + ((ticks * np.int64(2654435761)) >> np.int64(20)) % 15
    return period, ticks % period


def _epoch(k: np.uint64 | np.ndarray, ticks: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    del k
    period, phase = _periods(ticks)
    return np.asarray((seconds + phase) // period)


def _index(ticks: np.ndarray, epoch: np.ndarray) -> np.ndarray:
    return np.asarray(ticks * np.int64(1_000_003) + epoch)


def _exists(
    k: np.uint64 | np.ndarray,
    ticks: np.ndarray,
    seconds: np.ndarray,
    dist: np.ndarray,
    grid: int,
    d0: float,
) -> np.ndarray:
    ks = k ^ np.uint64(0x9E3779B97F4A7C15)
    epoch = _epoch(ks, ticks, seconds)
    fill = np.minimum(1.0, 0.75 * d0 / (d0 + dist) * grid)
    return mm.uniform(k, _index(ticks, epoch)) < fill


def _zone(touch: int, side: int, lo: int, hi: int, grid: int) -> np.ndarray:
    """Candidate ticks at distances [lo, hi) from the touch on multiples of ``grid``."""
    if side > 0:
        first = -(-(touch + lo) // grid) * grid
        return np.arange(first, touch + hi, grid, dtype=np.int64)
    first = (touch - lo) // grid * grid
    out = np.arange(first, touch - hi, -grid, dtype=np.int64)
    return out[out > 0]


def book_levels(
    k: np.uint64,
    touch: int,
    second: int,
    side: int,
    depth: int,
    d0: float,
    mean_lots: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Ticks and lots of one side's first ``depth`` levels (touch first).

    ``side`` is 1 for asks (ticks increase away from the touch), -1 for bids.
    A level's size is the profile at its distance from the touch times its own
    noise, redrawn when its epoch turns: where the mid moves less than ``d0`` a
    second, consecutive books differ by a few levels; where it moves more (BTC on a
    one-cent tick), most sizes shift with the touch, as a real L2 feed does.
    """
    k = k ^ np.uint64(_SIDE_SALT[side])
    found = [np.array([touch], dtype=np.int64)]
    have, lo, grid = 1, 1, 1
    hi = max(2, math.ceil(4 * d0))
    while have < depth and lo < 50_000_000:
        cand = _zone(touch, side, lo, hi, grid)
        if len(cand):
            dist = np.abs(cand - touch).astype(np.float64)
            sec = np.full(len(cand), second, dtype=np.int64)
            keep = cand[_exists(k, cand, sec, dist, grid, d0)]
            found.append(keep)
            have += len(keep)
        if side < 0 and touch - hi <= 0:
            break
        lo, hi, grid = hi, hi * 2, grid * 2
    ticks = np.concatenate(found)[:depth]
    period, phase = _periods(ticks)
    epoch = (second + phase) // period
    # The profile moves in steps of d0/4: a small move of the touch resizes only
    # the levels that cross a step.
    x = np.floor(np.abs(ticks - touch) * 4.0 / d0) / 4.0
    profile = (0.4 + x) / (1.0 + (x / 8.0) ** 1.6)
    ks = k ^ np.uint64(0x51ED2701F3A5C3B1)
    noise = 0.25 - 1.5 * np.log(mm.uniform(ks, _index(ticks, epoch)))
    lots = np.maximum(1, np.round(mean_lots * profile * noise)).astype(np.int64)
    return ticks, lots


def walk_offsets(
    k: np.uint64,
    touch: np.ndarray,
    seconds: np.ndarray,
    side: np.ndarray,
    walk: np.ndarray,
    d0: float,
) -> np.ndarray:
    """Distance (ticks) from each touch to the ``walk``-th existing level beyond it.

    The same existence rule as :func:`book_levels` (zone 0 only: a print walks at
    most a few levels), so a large print lands on a level of that second's book.
    """
    width = max(1, min(14, math.ceil(4 * d0) - 1))
    # Each side's key per print (the hash takes an array of keys as well as one).
    keys = np.where(side > 0, k ^ np.uint64(_SIDE_SALT[1]), k ^ np.uint64(_SIDE_SALT[-1]))
    out = np.zeros(len(touch), dtype=np.int64)
    count = np.zeros(len(touch), dtype=np.int64)
    # Column by column, only for prints still short of their level: most walk one
    # or two levels, so the 14 candidates of every print are rarely all hashed.
    rows = np.flatnonzero(walk > 0)
    for d in range(1, width + 1):
        if not len(rows):
            break
        ticks = touch[rows] + side[rows] * d
        dist = np.full(len(rows), float(d))
        exists = _exists(keys[rows], ticks, seconds[rows], dist, 1, d0)
        exists &= ticks > 0
        hit = rows[exists]
        count[hit] += 1
        # Short of levels within reach: the print stops at the last one it found.
        out[hit] = d
        rows = rows[count[rows] < walk[rows]]
    return out


def fill_scale(price_ticks: float, depth: int) -> float:
    """Distance scale (ticks) of level fill so ``depth`` levels span ~0.6 % of the price.

    ``price_ticks`` is the instrument's reference price in ticks.
    """
    span = 0.006 * price_ticks
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
