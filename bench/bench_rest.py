"""Kline page → DataFrame, mdkit's numpy path vs the naive pandas path, and import cost.

Run: ``python bench/bench_rest.py`` (``make bench`` runs every benchmark).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import pandas as pd

from mdkit.data.timeparse import parse_interval
from mdkit.venues import cryptocom


def kline_page(rows: int = 300) -> bytes:
    """A 300-row /v1/klines answer as the venue writes it (seconds, JSON numbers)."""
    t0 = 1_700_000_000
    items = ",".join(
        f"[{t0 + 60 * i},{65000 + i * 0.5:.2f},{65010 + i * 0.5:.2f},{64990 + i * 0.5:.2f},"
        f"{65005 + i * 0.5:.2f},{1.5 + (i % 7) * 0.123456:.8f}]"
        for i in range(rows)
    )
    return f'{{"code":"0","msg":"suc","data":[{items}]}}'.encode()


def naive(body: bytes) -> pd.DataFrame:
    """What a notebook typically does: json, DataFrame of lists, then astype."""
    rows = json.loads(body)["data"]
    df = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="s", utc=True)
    df = df.set_index("timestamp").astype("float64")
    return df.sort_index()


def mdkit_path(body: bytes) -> pd.DataFrame:
    iv = parse_interval("1min")
    return cryptocom.parse_klines(cryptocom.parse_envelope(body), "btcusdt", iv, now_s=2e9)


def timeit(fn: Callable[[], object], repeat: int = 7, number: int = 200) -> tuple[float, float]:
    """Best and median seconds per call."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return min(runs), statistics.median(runs)


def import_seconds(module: str, repeat: int = 15) -> float:
    """Fastest wall time of a fresh interpreter importing ``module``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    body = kline_page()
    keys = ["venue", "symbol", "pair", "interval", "closed"]
    assert mdkit_path(body).drop(columns=keys).equals(naive(body))
    fast_best, fast_med = timeit(lambda: mdkit_path(body))
    slow_best, slow_med = timeit(lambda: naive(body))
    print("kline page (300 rows, bytes → typed DataFrame)")
    print(f"  mdkit  : best {fast_best * 1e3:.3f} ms, median {fast_med * 1e3:.3f} ms")
    print("           (target ≤ 0.5 ms)")
    print(f"  naive  : best {slow_best * 1e3:.3f} ms, median {slow_med * 1e3:.3f} ms")
    print(f"  speedup: {slow_med / fast_med:.1f}x")
    pandas_s = import_seconds("pandas")
    mdkit_s = import_seconds("mdkit")
    print("import (fresh interpreter, best of 15)")
    print(f"  import pandas: {pandas_s * 1e3:.0f} ms; import mdkit: {mdkit_s * 1e3:.0f} ms")
    print(f"  mdkit over pandas: {(mdkit_s - pandas_s) * 1e3:.0f} ms (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
