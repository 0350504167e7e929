"""Benchmark mdkit.data.columns.ColumnBuffer against a naive list-of-dicts pipeline.

Run: ``python bench/bench_columns.py [--rows N] [--repeats R] [--quick]``

Workload: N trade rows (timestamp, local_timestamp, symbol, id, side, price,
amount) as a parser hands them over: Python ints, floats and interned strings.

Reported:
- append speed: ``buf.append(*row)`` per row (loop included), best/median of R;
- bytes held per row after N rows: ``buf.nbytes`` and, independently,
  tracemalloc's count of memory still allocated;
- the same for the naive baseline (one dict per row, then ``pd.DataFrame``),
  measured in the same run;
- the cost of turning the buffer into a DataFrame.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mdkit.data.columns import ColumnBuffer  # noqa: E402

TRADE = {
    "timestamp": "int64",
    "local_timestamp": "int64",
    "symbol": "category",
    "id": "int64",
    "side": "category",
    "price": "float64",
    "amount": "float64",
}
NAMES = tuple(TRADE)
T0 = 1_700_000_000_000_000_000


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    """Yield n trade rows with distinct numbers, as a JSON parser would produce them."""
    symbols = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    sides = ("buy", "sell")
    for i in range(n):
        yield (
            T0 + i * 1000,
            T0 + i * 1000 + 250_000,
            symbols[i % 3],
            10_000_000 + i,
            sides[i & 1],
            50_000.0 + (i % 1000) * 0.01,
            0.001 * (1 + i % 97),
        )


def held_bytes(build: Any, n: int) -> tuple[int, Any]:
    """Return (bytes still allocated after build(n), result) according to tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = build(n)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before, result


def build_buffer(n: int) -> ColumnBuffer:
    buf = ColumnBuffer(TRADE)
    append = buf.append
    for row in rows(n):
        append(*row)
    return buf


def build_dicts(n: int) -> list[dict[str, Any]]:
    out = []
    for row in rows(n):
        out.append(dict(zip(NAMES, row, strict=True)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the bench runs")
    args = parser.parse_args()
    n, repeats = (5_000, 1) if args.quick else (args.rows, args.repeats)
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")
    print(f"workload: {n:,} trade rows x {len(TRADE)} columns\n")

    data = list(rows(n))  # built once, outside the timed region
    times = []
    for _ in range(repeats):
        buf = ColumnBuffer(TRADE)
        append = buf.append
        t0 = time.perf_counter()
        for row in data:
            append(*row)
        times.append(time.perf_counter() - t0)
    best, med = min(times), statistics.median(times)
    print("ColumnBuffer.append(*row), loop included")
    print(f"  best   {n / best:12,.0f} rows/s  {best / n * 1e6:.3f} us/row")
    print(f"  median {n / med:12,.0f} rows/s  {med / n * 1e6:.3f} us/row")

    naive_times = []
    for _ in range(max(1, repeats // 2)):
        t0 = time.perf_counter()
        out = []
        for row in data:
            out.append(dict(zip(NAMES, row, strict=True)))
        naive_times.append(time.perf_counter() - t0)
        del out
    nbest = min(naive_times)
    print("naive list.append(dict(zip(names, row)))")
    print(f"  best   {n / nbest:12,.0f} rows/s  {nbest / n * 1e6:.3f} us/row")

    t0 = time.perf_counter()
    frame = buf.to_frame()
    t_frame = time.perf_counter() - t0
    assert len(frame) == n and frame["id"].iloc[-1] == 10_000_000 + n - 1
    print(f"\nColumnBuffer.to_frame() of {n:,} rows: {t_frame * 1e3:.0f} ms")
    del frame, buf, data
    gc.collect()

    held, buf = held_bytes(build_buffer, n)
    print("\nmemory held after the rows are in (tracemalloc, same run)")
    print(
        f"  ColumnBuffer          {held / n:6.1f} B/row  (nbytes says {buf.nbytes / n:.1f} B/row)"
    )
    del buf
    held_dicts, dicts = held_bytes(build_dicts, n)
    print(f"  naive list of dicts   {held_dicts / n:6.1f} B/row")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    naive_frame = pd.DataFrame(dicts)
    naive_frame["symbol"] = naive_frame["symbol"].astype("category")
    naive_frame["side"] = naive_frame["side"].astype("category")
    t_naive = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"  naive + DataFrame     {(held_dicts + current - base) / n:6.1f} B/row held "
        f"(dicts and frame), peak {(held_dicts + peak - base) / n:.1f} B/row; "
        f"DataFrame(dicts) {t_naive * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
