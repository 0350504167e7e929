"""The sandbox market: start-up, a day of bars, a 5,000 trades/s live feed; ``--stats``.

Run: ``python bench/bench_market.py`` (``make bench`` runs every benchmark), and
``python bench/bench_market.py --stats`` for the stylized facts over 60 days.

Targets (issue 10): first ``tickers()`` of a fresh sandbox ≤ 0.2 s (≤ 1 s on a busy
``trades_per_second=60`` one); a day of 1-min
bars for one instrument ≤ 0.5 s; 5,000 trades/s per instrument ≤ half a core.
Issue 16: a year of daily bars, and 300 months back, each ≤ 2 s (every bar an exact
aggregate of the tape; the coarse history before ``detail_days`` keeps them cheap).
Each timing runs in a fresh interpreter (nothing cached), best and median of 5;
wall time and process CPU time are both shown (the machine is shared: CPU time is
the steadier figure).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import numpy as np

FIRST_TICKERS = """
import time, mdkit
from mdkit.sandbox import Sandbox
with Sandbox(seed=7) as sb:
    w, c = time.perf_counter(), time.process_time()
    df = mdkit.tickers()
    print(time.perf_counter() - w, time.process_time() - c, len(df))
"""

FIRST_TICKERS_BUSY = FIRST_TICKERS.replace(
    "Sandbox(seed=7)", "Sandbox(seed=7, trades_per_second=60)"
)

DAY_OF_BARS = """
import time
from mdkit.sandbox.market import Market
m = Market(7)
day = int(m.now()) // 86400 * 86400 - 86400  # yesterday: the detailed tape
w, c = time.perf_counter(), time.process_time()
bars = m.klines("btcusdt", 60, day, day + 86400)
print(time.perf_counter() - w, time.process_time() - c, len(bars))
"""

YEAR_OF_DAYS = """
import time
from mdkit.sandbox.market import Market
m = Market(7)
now = int(m.now())
w, c = time.perf_counter(), time.process_time()
bars = m.klines("btcusdt", 86400, now - 365 * 86400, now + 1)
print(time.perf_counter() - w, time.process_time() - c, len(bars))
"""

MONTHS = YEAR_OF_DAYS.replace("86400, now - 365 * 86400", "30 * 86400, now - 300 * 30 * 86400")


def fresh(code: str, repeats: int = 5) -> tuple[list[float], list[float]]:
    walls, cpus = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        walls.append(float(out[0]))
        cpus.append(float(out[1]))
    return walls, cpus


def live_feed(rate: float, seconds: float = 10.0, poll: float = 0.1) -> tuple[float, int]:
    """A pusher's work: every ``poll`` s, the new trades of BTC/USDT written as exact text."""
    from mdkit.sandbox.market import Market

    m = Market(7, trades_per_second=rate)
    last = int(m.now() * 1000) + 1
    sent = 0
    c0, w0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - w0 < seconds:
        time.sleep(poll)
        now_ms = int(m.now() * 1000)
        tr = m.trades("btcusdt", last, now_ms + 1)
        last = now_ms + 1
        prices = [m.fmt_price("btcusdt", t) for t in tr.price_ticks.tolist()]
        amounts = [m.fmt_amount("btcusdt", a) for a in tr.amount_lots.tolist()]
        sent += min(len(prices), len(amounts))
    return (time.process_time() - c0) / (time.perf_counter() - w0), sent


def stats(days: int = 60) -> None:
    from mdkit.sandbox.market import Market

    day0 = 1_700_006_400
    m = Market(7, clock=lambda: day0 + (days + 1) * 86400, detail_days=days + 1)

    def acf(x: np.ndarray, lag: int) -> float:
        x = x - x.mean()
        return float((x[:-lag] * x[lag:]).sum() / (x * x).sum())

    for symbol in ("btcusdt", "ethusdt"):
        rows = []
        for d in range(days):
            bars = m.klines(symbol, 60, day0 + d * 86400, day0 + (d + 1) * 86400)
            r = np.diff(np.log(bars[:, 4]))
            z = r - r.mean()
            kurt = float((z**4).mean() / (z**2).mean() ** 2 - 3)
            clus = min(acf(np.abs(r), lag) for lag in range(1, 11))
            rows.append((kurt, acf(r, 1), clus))
        k, r1, c = (np.array(x) for x in zip(*rows, strict=True))
        print(
            f"{symbol} over {days} days: excess kurtosis median {np.median(k):.1f} "
            f"(> 3 on {(k > 3).mean():.0%}); |rho1| median {np.median(np.abs(r1)):.3f} "
            f"(< 0.05 on {(np.abs(r1) < 0.05).mean():.0%}); min |r| ACF lags 1-10 median "
            f"{np.median(c):.2f} (> 0.1 on {(c > 0.1).mean():.0%})"
        )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stats", action="store_true")
    args = parser.parse_args()
    if args.stats:
        stats()
        return 0
    for label, code, target in (
        ("first mdkit.tickers() on a fresh Sandbox", FIRST_TICKERS, 0.2),
        ("the same on Sandbox(trades_per_second=60)", FIRST_TICKERS_BUSY, 1.0),
        ("a day of 1-min bars, one instrument, fresh", DAY_OF_BARS, 0.5),
        ("a year of daily bars (366, exact aggregates), fresh", YEAR_OF_DAYS, 2.0),
        ("300 monthly bars back (from the 2020 genesis), fresh", MONTHS, 2.0),
    ):
        walls, cpus = fresh(code)
        print(
            f"{label}: wall best {min(walls):.3f} / median {statistics.median(walls):.3f} s; "
            f"CPU best {min(cpus):.3f} / median {statistics.median(cpus):.3f} s "
            f"(target <= {target} s)"
        )
    share, sent = live_feed(5000.0)
    print(
        f"live feed 5,000 trades/s (BTC/USDT): {sent / 10:.0f} trades/s generated and "
        f"formatted, {share:.0%} of one core (target <= 50 %)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
