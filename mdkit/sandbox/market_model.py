"""The random machinery behind :mod:`mdkit.sandbox.market`: hashing, filters, day paths.

Two kinds of randomness, both pure functions of ``(seed, symbol, time)``:

- **counter hashing** (:func:`uniform`): a splitmix64 hash of an integer index
  (a second, a trade id, a price tick) under a key. Used for everything a caller
  may ask for in arbitrary slices (trades, book levels), so a slice never depends
  on where the request started.
- **day paths** (:func:`day_path`): per instrument and UTC day, one second-resolution
  path drawn from a seeded PCG64 stream: trade intensity (intraday seasonality ×
  slow and fast log-normal regimes × self-decaying bursts), volatility tied to
  activity, Gaussian shocks with jumps at burst starts, a persistent order-flow
  pressure, and the log mid as a bridge between daily anchors so that consecutive
  days join exactly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DayPath",
    "anchor",
    "ar1",
    "day_path",
    "deep_knots",
    "key",
    "normal",
    "pair_path",
    "poisson",
    "uniform",
    "uniform2",
]

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
DAY = 86400
#: Knot spacings (days) of the anchor noise that sets each day's opening level.
_ANCHOR_SCALES = (1, 4, 16, 64)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return np.asarray(x ^ (x >> np.uint64(31)))


@functools.lru_cache(maxsize=4096)
def key(*parts: int) -> np.uint64:
    """A 64-bit stream key from integers."""
    acc = np.array([0], dtype=np.uint64)
    for part in parts:
        acc = _mix(acc ^ np.uint64(part & 0xFFFFFFFFFFFFFFFF))
    return np.uint64(acc[0])


def _hash(k: np.uint64 | np.ndarray, index: np.ndarray) -> np.ndarray:
    # A multiply–xorshift round twice (cheaper than a full splitmix64; plenty
    # for simulation, and the same bits on every machine).
    with np.errstate(over="ignore"):
        x = np.asarray(index, dtype=np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= k
        x ^= x >> np.uint64(29)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(32)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(29)
    return x


def uniform(k: np.uint64 | np.ndarray, index: np.ndarray) -> np.ndarray:
    """Deterministic U(0, 1) (never exactly 0) for each integer of ``index`` under ``k``."""
    mixed = _hash(k, index)
    return ((mixed >> np.uint64(11)).astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def uniform2(k: np.uint64, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 32-bit U(0, 1) per integer from one hash (half the cost)."""
    mixed = _hash(k, index)
    scale = 1.0 / 4294967296.0
    hi = ((mixed >> np.uint64(32)).astype(np.float64) + 0.5) * scale
    lo = ((mixed & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * scale
    return hi, lo


def normal(k: np.uint64, index: np.ndarray) -> np.ndarray:
    """Deterministic standard normals (Box–Muller on two hashed uniforms)."""
    u1, u2 = uniform2(k, index)
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * math.pi * u2))


def ar1(x: np.ndarray, a: float) -> np.ndarray:
    """``y[n] = a·y[n-1] + x[n]`` (``y[-1] = 0``), vectorised in blocks.

    Within a block the recursion is a scaled cumulative sum; a short loop carries
    the state across blocks (block length keeps ``a**-B`` below ``e**40``).
    """
    n = len(x)
    if n == 0:
        return np.zeros(0)
    block = max(1, min(n, int(40.0 / -math.log(a))))
    pad = (-n) % block
    xp = np.concatenate([x, np.zeros(pad)]).reshape(-1, block)
    up, down = _powers(a, block)
    inner = np.cumsum(xp * up, axis=1) * down
    ends = inner[:, -1]
    carry = np.empty(len(ends))
    acc, step = 0.0, a**block
    for j, end in enumerate(ends.tolist()):
        carry[j] = acc
        acc = step * acc + end
    y = inner + carry[:, None] * (down * a)[None, :]
    return np.asarray(y.ravel()[:n])


@functools.lru_cache(maxsize=64)
def _powers(a: float, block: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(block, dtype=np.float64)
    return a**-k, a**k


def _ou(rng: np.random.Generator, n: int, tau: float, step: int) -> np.ndarray:
    """Unit-variance OU sampled every ``step`` seconds, held in between (length ``n``)."""
    m = -(-n // step)
    a = math.exp(-step / tau)
    x = ar1(rng.standard_normal(m) * math.sqrt(1 - a * a), a)
    head = min(m, int(40.0 / -math.log(a)) + 1)
    x[:head] += rng.standard_normal() * _powers(a, head)[1]  # start in the stationary law
    return np.repeat(x, step)[:n]


def anchor(seed: int, sym: int, days: np.ndarray, vol: float) -> np.ndarray:
    """Log-price offset at the start of each UTC day (value noise, Brownian-like scaling)."""
    days = np.asarray(days, dtype=np.int64)
    out = np.zeros(len(days))
    for j, scale in enumerate(_ANCHOR_SCALES):
        k = key(seed, sym, 500 + j)
        i = days // scale
        f = (days - i * scale) / scale
        u = f * f * (3.0 - 2.0 * f)
        a = uniform(k, i) * 2.0 - 1.0
        b = uniform(k, i + 1) * 2.0 - 1.0
        # Weight ∝ √scale: a day-to-day change of about `vol`, months wander ~√T.
        out += 0.9 * vol * math.sqrt(scale) * (a + (b - a) * u)
    return out


@functools.lru_cache(maxsize=1)
def _frac(n: int) -> np.ndarray:
    return np.arange(1, n + 1, dtype=np.float64) / n


@dataclass(frozen=True)
class DayPath:
    """One instrument's UTC day at second resolution (index = second of the day)."""

    #: Log mid (efficient price, before venue noise).
    x: np.ndarray
    #: Expected trades per second at unit activity.
    lam: np.ndarray
    #: Normalised shock of the second (signed; the move the order flow pushes).
    z: np.ndarray
    #: Persistent order-flow pressure (meta-orders: buys follow buys for tens of seconds).
    pressure: np.ndarray
    #: Burst level (0 calm, > 1 in a burst): spreads widen with it.
    burst: np.ndarray
    #: Volatility of the second's log return (``x`` moves by ``sigma · z`` plus a drift).
    sigma: np.ndarray


def day_path(seed: int, sym: int, day: int, vol: float, log_p0: float) -> DayPath:
    """Generate one day (a few ms with numpy)."""
    rng = np.random.Generator(np.random.PCG64([seed & 0xFFFFFFFF, sym, day & 0xFFFFFFFF, 77]))
    n = DAY
    hours = np.arange(0, n, 60, dtype=np.float64) / 3600.0
    # Intraday seasonality (per minute): activity peaks around the US session
    # (~15 UTC), a trough in the late Asian night, a bump at the European open.
    season = (
        1.0
        + 0.6 * np.cos(2 * math.pi * (hours - 15.0) / 24.0)
        + 0.15 * np.cos(4 * math.pi * (hours - 9.0) / 24.0)
    )
    # Log-activity regimes: a slow one (hours: what makes volatility cluster at
    # the minute scale) and a fast one (minutes).
    slow = np.repeat(np.log(season), 60) + 0.8 * _ou(rng, n, 21600.0, 60)
    log_act = slow + 0.1 * _ou(rng, n, 120.0, 5)
    # Bursts: a few dozen a day, more when active; each decays over ~40 s and starts
    # with a jump of the price in its own direction (news, liquidations).
    n_burst = int(rng.poisson(30))
    starts = np.sort(rng.choice(1440, size=n_burst, p=season / season.sum()) * 60)
    starts += rng.integers(0, 60, n_burst)
    amps = np.minimum(rng.pareto(3.0, n_burst) + 1.0, 4.0)
    burst = np.zeros(n)
    decay = np.exp(-np.arange(400) / 40.0)
    for start, amp in zip(starts.tolist(), amps.tolist(), strict=True):
        seg = burst[start : start + 400]
        seg += amp * decay[: len(seg)]
    log_lam = log_act + np.log1p(1.5 * burst)
    lam = np.exp(log_lam)
    scale = 1.0 / lam.mean()
    lam *= scale
    # Volatility follows the activity regime (σ ∝ λ^0.7 of its slow part, and the
    # bursts): busy hours are volatile hours.
    sigma = np.exp(0.7 * slow) * (1.0 + 0.5 * burst)
    sigma *= vol / math.sqrt(n) / math.sqrt(float(np.mean(sigma * sigma)))
    z = rng.standard_normal(n, dtype=np.float32).astype(np.float64)
    jumps = np.zeros(n)
    jumps[starts] = rng.choice((-1.0, 1.0), n_burst) * (1.0 + 1.0 * rng.random(n_burst))
    # And news without a burst: a few dozen isolated jumps a day (fat tails).
    n_news = int(rng.poisson(40))
    news = rng.integers(0, n, n_news)
    jumps[news] += rng.choice((-1.0, 1.0), n_news) * (2.0 + 1.5 * rng.random(n_news))
    z = z + jumps * math.sqrt(60.0)  # a jump is several one-minute moves at once
    r = sigma * z
    pressure = _ou(rng, n, 20.0, 4)
    ends = anchor(seed, sym, np.array([day, day + 1]), vol) + log_p0
    walk = np.cumsum(r)
    # A bridge between the day's anchors: the path ends exactly where the next day
    # starts, so any day can be generated alone (drift correction ~vol/1440 a minute).
    drift = ends[1] - ends[0] - walk[-1]
    x = np.add(walk, ends[0], out=walk)
    x += _frac(n) * drift
    return DayPath(x, lam, z, pressure, burst, sigma)


def pair_path(base: DayPath, quote: DayPath) -> DayPath:
    """A pair's day from its two assets' USD days: the log price is their difference.

    Activity, bursts and order-flow pressure are the base asset's; the shock is the
    pair's own normalised move, so flow still follows the pair's price.
    """
    sigma = np.hypot(base.sigma, quote.sigma)
    z = (base.sigma * base.z - quote.sigma * quote.z) / sigma
    return DayPath(base.x - quote.x, base.lam, z, base.pressure, base.burst, sigma)


def deep_knots(
    seed: int, sym: int, days: np.ndarray, vol: float, log_p0: float, per_day: int
) -> np.ndarray:
    """Log prices of an asset on old ``days`` (sorted) at ``per_day`` knots a day.

    The coarse history before the detailed tape: the same daily anchors as
    :func:`day_path` (a day starts where its detailed path would), joined by a
    Brownian bridge of hashed shocks. Cheap enough for years of bars.
    """
    days = np.asarray(days, dtype=np.int64)
    knots = days[:, None] * per_day + np.arange(per_day, dtype=np.int64)[None, :]
    shocks = normal(key(seed, sym, 600), knots.ravel()).reshape(knots.shape)
    walk = np.cumsum(shocks, axis=1) * (vol / math.sqrt(per_day))
    bridge = walk - (np.arange(1, per_day + 1) / per_day)[None, :] * walk[:, -1:]
    ends = anchor(seed, sym, np.concatenate([days, days + 1]), vol)
    start, end = ends[: len(days)], ends[len(days) :]
    level = start[:, None] + (end - start)[:, None] * (np.arange(per_day) / per_day)[None, :]
    return np.asarray(log_p0 + level + bridge)


def poisson(k: np.uint64, seconds: np.ndarray, lam: np.ndarray, cap: int) -> np.ndarray:
    """Poisson counts by inverse CDF on a hashed uniform (normal beyond λ = 40)."""
    u = uniform(k, seconds)
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
        g = normal(k ^ np.uint64(0xABCDEF), seconds[~small])
        counts[~small] = np.maximum(0, np.round(lb + np.sqrt(lb) * g)).astype(np.int64)
    return np.minimum(counts, cap)
