"""Draw the README's pictures from the sandbox: ``make docs`` (writes docs/*.png).

Every picture is made by an ``mdkit.plot`` function from data the sandbox serves
(seeded market, so the same shapes each run; capture timing still varies a little).
Run from the repository root: ``python docs/make_pictures.py [--seconds 15]``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import mdkit  # noqa: E402
from mdkit.sandbox import Sandbox  # noqa: E402

DOCS = Path(__file__).resolve().parent
SEED = 7
# BTC/USDT on every venue, each in its own spelling (one pair: mdkit's `pair` column).
VENUES = [
    ("cryptocom", "btcusdt", ["trades", "ticker", "book"]),
    ("bitget", "BTCUSDT", ["trades", "ticker", "book"]),
    ("itick", "BTCUSDT", ["trades", "ticker", "book"]),
    ("richamster", "BTC/USDT", ["trades", "ticker", "book"]),
    ("bittap", "BTC-USDT", ["trades", "ticker", "book"]),
]
log = logging.getLogger("mdkit.docs")


def save(figure: Any, name: str) -> None:
    """Write one PNG without a timestamp in its metadata (so unchanged pictures diff clean)."""
    path = DOCS / name
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)
    log.info("wrote %s (%.0f KB)", path.relative_to(DOCS.parent), path.stat().st_size / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="capture length")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    with Sandbox(seed=SEED):
        bars = mdkit.klines("btcusdt", "1min", limit=120)
        save(mdkit.plot.candles(bars).figure, "candles.png")
        start = pd.Timestamp.now("UTC") - pd.Timedelta(days=35)
        history = mdkit.klines("btcusdt", "1min", start=start)
        save(mdkit.plot.candles(history).figure, "candles_aggregated.png")
        save(mdkit.plot.depth(mdkit.depth("btcusdt")).figure, "depth.png")
        cap = mdkit.capture(VENUES, seconds=args.seconds)
        log.info("%r", cap)
        save(mdkit.plot.heatmap(cap, venue="cryptocom", levels=40).figure, "heatmap.png")
        save(mdkit.plot.tape(cap.trades, venue="bitget").figure, "tape.png")
        save(mdkit.plot.latency(cap), "latency.png")
        save(mdkit.plot.venues(cap).figure, "venues.png")


if __name__ == "__main__":
    main()
