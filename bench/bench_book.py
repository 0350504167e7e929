"""Benchmark mdkit.data.book.OrderBook on a realistic increment stream.

Run: ``python bench/bench_book.py [--events N] [--repeats R] [--quick]``

The stream mimics a depth channel on a liquid pair: ~150 levels per side on a
0.01 tick; 80 % amount changes at existing levels (level index drawn from a
geometric law, so most hit the top few levels), 10 % inserts of absent levels,
10 % deletes of present levels (the best level included), mid drifting slowly.
It is generated once, outside the timed region, by a reference model that is
independent of the code under test.

Timed paths (each repeat starts from the same snapshot):
- ``update() + best_bid() + best_ask()`` per increment (the method path);
- ``update()`` alone, for reference;
- ``apply_updates()`` on numpy arrays, returning best bid/ask after each;
- a ``sortedcontainers.SortedDict`` book doing the same as the method path,
  to show why mdkit uses dict + bisect-sorted list.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from bisect import bisect_left, insort
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdkit.data.book import OrderBook  # noqa: E402

TICK = 0.01
LEVELS = 150

Event = tuple[str, float, float]


def make_stream(n: int, seed: int = 7) -> tuple[list[list[float]], list[list[float]], list[Event]]:
    """Return (snapshot bids, snapshot asks, events) from an independent reference model."""
    rng = np.random.default_rng(seed)
    mid_ticks = 10_000  # price 100.00
    book: dict[str, dict[int, float]] = {"bid": {}, "ask": {}}
    for k in range(1, LEVELS + 1):
        book["bid"][mid_ticks - k] = float(rng.uniform(0.1, 5.0))
        book["ask"][mid_ticks + k] = float(rng.uniform(0.1, 5.0))
    snap_bids = [[t * TICK, a] for t, a in book["bid"].items()]
    snap_asks = [[t * TICK, a] for t, a in book["ask"].items()]
    keys = {s: sorted(book[s]) for s in ("bid", "ask")}
    events: list[Event] = []
    kinds = rng.random(n)
    depth = rng.geometric(0.2, n) - 1
    sides = rng.random(n) < 0.5
    amounts = rng.uniform(0.01, 5.0, n).round(4)
    for i in range(n):
        side = "bid" if sides[i] else "ask"
        lv, ks = book[side], keys[side]
        d = min(int(depth[i]), len(ks) - 1)
        tick = ks[-1 - d] if side == "bid" else ks[d]
        kind = kinds[i]
        if len(ks) > LEVELS + 10:  # venues trim their book: drop the far end
            tick = ks[0] if side == "bid" else ks[-1]
            kind = 0.0
        if kind < 0.10 and len(ks) > LEVELS - 10:  # delete a present level
            del lv[tick]
            del ks[bisect_left(ks, tick)]
            events.append((side, tick * TICK, 0.0))
            continue
        if kind < 0.20 or len(ks) < LEVELS - 10:  # insert an absent level near the top
            best_other = keys["ask"][0] if side == "bid" else keys["bid"][-1]
            sign = -1 if side == "bid" else 1
            # Half the inserts start from the far side's best (inside the spread),
            # half from the own best minus the drawn depth.
            start = best_other + sign if kind < 0.15 else (ks[-1] if side == "bid" else ks[0])
            start += sign * int(depth[i]) * (kind >= 0.15)
            t = start
            while t in lv:
                t += sign
            tick = t
            insort(ks, tick)
        lv[tick] = float(amounts[i])
        events.append((side, tick * TICK, float(amounts[i])))
    return snap_bids, snap_asks, events


def time_best(fn: Callable[[], None], repeats: int) -> list[float]:
    """Run fn `repeats` times and return the wall times in seconds."""
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


class SortedDictBook:
    """The same book on sortedcontainers.SortedDict, for comparison only."""

    def __init__(self, bids: list[list[float]], asks: list[list[float]]) -> None:
        from sortedcontainers import SortedDict

        self.bids = SortedDict({p: a for p, a in bids})
        self.asks = SortedDict({p: a for p, a in asks})

    def update(self, side: str, price: float, amount: float) -> None:
        levels = self.bids if side == "bid" else self.asks
        if amount > 0:
            levels[price] = amount
        else:
            levels.pop(price, None)

    def best_bid(self) -> tuple[float, float] | None:
        return self.bids.peekitem(-1) if self.bids else None

    def best_ask(self) -> tuple[float, float] | None:
        return self.asks.peekitem(0) if self.asks else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    n, repeats = (5_000, 1) if args.quick else (args.events, args.repeats)

    bids, asks, events = make_stream(n)
    print(f"python {platform.python_version()}, numpy {np.__version__}, {platform.machine()}")
    print(f"stream: {n:,} increments, {LEVELS} levels/side at start")

    # Check once that the method path and the batch path agree on every best bid/ask.
    ref = OrderBook(bids, asks)
    ref_best = []
    kinds = {-1: 0, 0: 0, 1: 0}
    sizes = 0
    for i, (side, price, amount) in enumerate(events):
        before = len(ref)
        ref.update(side, price, amount)
        kinds[len(ref) - before] += 1
        sizes += len(ref)
        if i < 50_000:
            ref_best.append((ref.best_bid(), ref.best_ask()))
    print(
        f"mix: {kinds[0] / n:.1%} amount changes, {kinds[1] / n:.1%} inserts, "
        f"{kinds[-1] / n:.1%} deletes; mean book {sizes / n / 2:.0f} levels/side"
    )
    sides_arr = np.fromiter((1 if e[0] == "bid" else -1 for e in events), np.int8, n)
    prices_arr = np.fromiter((e[1] for e in events), np.float64, n)
    amounts_arr = np.fromiter((e[2] for e in events), np.float64, n)
    chk = OrderBook(bids, asks)
    bbp, bba, bap, baa = chk.apply_updates(
        sides_arr[:50_000], prices_arr[:50_000], amounts_arr[:50_000]
    )
    for i, (b, a) in enumerate(ref_best):
        assert b == (bbp[i], bba[i]) and a == (bap[i], baa[i]), i
    assert ref.crossed_count == 0, ref.crossed_count
    print(f"check: method and batch paths agree on 50,000 best bid/ask\nfinal: {ref!r}")

    def method_path() -> None:
        book = OrderBook(bids, asks)
        upd, bb, ba = book.update, book.best_bid, book.best_ask
        for side, price, amount in events:
            upd(side, price, amount)
            bb()
            ba()

    def update_only() -> None:
        book = OrderBook(bids, asks)
        upd = book.update
        for side, price, amount in events:
            upd(side, price, amount)

    def batch_path() -> None:
        OrderBook(bids, asks).apply_updates(sides_arr, prices_arr, amounts_arr)

    def sorteddict_path() -> None:
        book = SortedDictBook(bids, asks)
        upd, bb, ba = book.update, book.best_bid, book.best_ask
        for side, price, amount in events:
            upd(side, price, amount)
            bb()
            ba()

    rows = [
        ("update() + best_bid() + best_ask()", method_path),
        ("update() only", update_only),
        ("apply_updates() batch, best after each", batch_path),
        ("SortedDict book, update + best (comparison)", sorteddict_path),
    ]
    print(f"\n{'path':46s} {'best upd/s':>12s} {'median upd/s':>13s} {'ns/upd (best)':>14s}")
    for name, fn in rows:
        times = time_best(fn, repeats)
        best, med = min(times), statistics.median(times)
        print(f"{name:46s} {n / best:12,.0f} {n / med:13,.0f} {best / n * 1e9:14.0f}")


if __name__ == "__main__":
    main()
