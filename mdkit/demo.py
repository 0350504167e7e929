"""``make demo`` / ``python -m mdkit demo``: every venue of the registry, in a few lines each.

Starts the sandbox in-process, shows the REST calls on their tables, then captures
a few seconds of every registered venue's public channels (its example symbols) and
prints one compact table per venue. Venues are never named here: everything comes
from :func:`mdkit.venues.venue_keys` and each descriptor (``example_symbols``,
``channels``, ``requests``). This is a command's output, so it prints.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import pandas as pd

__all__ = ["run", "plain"]

_WIDTH = 110


def _say(*parts: Any, end: str = "\n") -> None:
    """Write one line of the demo to standard output (it is the command's output)."""
    sys.stdout.write(" ".join(str(p) for p in parts) + end)
    sys.stdout.flush()


def plain(value: Any) -> str:
    """A number as people write it: no scientific notation, thousands separated,
    as many decimals as it needs (``68,123.5``, ``0.0000069``)."""
    from mdkit.data.display import number_text

    text = number_text(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def _show(title: str, df: pd.DataFrame, rows: int = 6, precision: Any = None) -> None:
    from mdkit.data.display import frame_text

    _say(f"\n== {title}")
    _say(frame_text(df.head(rows), precision=precision))


def _precision(key: str | None = None) -> dict[str, float]:
    """Price decimals per symbol from the venue's list (empty where it publishes none)."""
    import mdkit

    listed = mdkit.symbols(key)
    return {str(k): float(v) for k, v in listed["price_precision"].items() if v == v}


def _rest_tour() -> None:
    import mdkit

    _say('\n>>> mdkit.klines("btcusdt", "1min").tail(3)')
    prec = _precision()
    _show(
        "klines (closed=False is the bar still forming; 1min as asked)",
        mdkit.klines("btcusdt", "1min").tail(3),
        precision=prec,
    )
    _say('\n>>> mdkit.trades("BTC/USDT")')
    trades = mdkit.trades("BTC/USDT")
    _show(f"trades ({len(trades)} rows, latest)", trades.tail(4), precision=prec)
    flow = trades.groupby("side", observed=True).amount.sum()
    _say(f"   taker flow: buy {plain(flow.get('buy', 0.0))}, sell {plain(flow.get('sell', 0.0))}")
    _say('\n>>> mdkit.ticker("crobtc")   # prices to the symbol\'s precision')
    _show("ticker", mdkit.ticker("crobtc"), precision=prec)
    _say('\n>>> mdkit.depth("btcusdt")')
    book = mdkit.depth("btcusdt")
    bids = book[book.side == "bid"].set_index("level")
    asks = book[book.side == "ask"].set_index("level")
    ladder = pd.DataFrame(
        {
            "bid_amount": bids.amount,
            "bid_price": bids.price,
            "ask_price": asks.price,
            "ask_amount": asks.amount,
        }
    )
    _show("depth, top 3 levels per side", ladder, 3)
    from mdkit.data.display import bps_text

    bid, ask = float(bids.price.iloc[0]), float(asks.price.iloc[0])
    decimals = int(prec.get("btcusdt", 2))
    _say(f"   spread {ask - bid:,.{decimals}f} ({bps_text(ask - bid, (ask + bid) / 2)})")


def _public(desc: Any) -> list[str]:
    from mdkit.venues.base import PRIVATE_CHANNELS

    out = []
    for channel in desc.channels:
        if channel in PRIVATE_CHANNELS:
            continue
        if channel == "klines" and "1min" in desc.intervals:
            channel = "klines:1min"
        out.append(channel)
    return out


def _venue_table(cap: Any, key: str, symbols: list[str]) -> pd.DataFrame:
    """One row per symbol: trades, last price, volume, best bid/ask, spread (and in bps)."""
    from mdkit.data.display import bps_text, decimals_of

    rows = []
    kinds = cap.frames()
    trades = cap.trades[cap.trades.venue == key] if "trades" in kinds else None
    top = cap.book(1) if "depth" in kinds else None
    ticker = cap.ticker[cap.ticker.venue == key] if "ticker" in kinds else None
    for symbol in symbols:
        row: dict[str, Any] = {"symbol": symbol}
        mine = trades[trades.symbol == symbol] if trades is not None else None
        row["trades"] = 0 if mine is None else len(mine)
        last = mine.price.iloc[-1] if mine is not None and len(mine) else math.nan
        if math.isnan(last) and ticker is not None:
            t = ticker[ticker.symbol == symbol]
            last = t["last"].iloc[-1] if len(t) else math.nan
        row["last"] = last
        row["volume"] = mine.amount.sum() if mine is not None else math.nan
        bid = ask = math.nan
        if top is not None:
            b = top[(top.venue == key) & (top.symbol == symbol)]
            if len(b):
                bid, ask = b["bids[0].price"].iloc[-1], b["asks[0].price"].iloc[-1]
        # on the prices' own grid (82,739.39 - 82,739.38 is 0.01, not 0.00999999)
        row["bid"], row["ask"] = bid, ask
        row["spread"] = round(ask - bid, decimals_of([bid, ask])) if bid == bid else math.nan
        row["spread_bps"] = bps_text(ask - bid, (ask + bid) / 2).replace(" bps", "")
        rows.append(row)
    return pd.DataFrame(rows).set_index("symbol")


def _venues_tour(seconds: float) -> None:
    import mdkit
    from mdkit.data.display import frame_text
    from mdkit.venues import get_venue, venue_keys

    descs = [get_venue(key) for key in venue_keys()]
    parts = [(d.key, list(d.example_symbols[:2]), _public(d)) for d in descs]
    _say(f"\n>>> cap = mdkit.capture([(venue, symbols, channels), ...], seconds={seconds:g})")
    _say(f"   every venue in the registry at once: {', '.join(d.key for d in descs)}")
    started = time.monotonic()
    cap = mdkit.capture(parts, seconds=seconds)
    took = time.monotonic() - started
    _say(
        f"   {cap.stats['data_messages']:,} data messages in {took:.1f} s; "
        f"rows: {', '.join(f'{k} {len(cap.frame(k)):,}' for k in cap.frames())}"
    )
    per_channel = cap.stats["per_channel"]
    for desc, (key, symbols, channels) in zip(descs, parts, strict=True):
        messages = sum(v for k, v in per_channel.items() if k.split(" ", 1)[0] == key)
        _say(f"\n-- {key}: {', '.join(symbols)} | {' '.join(channels)} | {messages:,} messages")
        table = _venue_table(cap, key, symbols)
        prec = _precision(key)
        for line in frame_text(table, precision=prec).splitlines():
            _say(f"   {line}")
        for method in desc.requests:
            try:
                r = mdkit.request(key, method)
            except mdkit.MdkitError as exc:
                _say(f"   mdkit.request({key!r}, {method!r}) failed: {exc}")
                continue
            _say(
                f"   mdkit.request({key!r}, {method!r}) -> {r.result!r} ({r.elapsed * 1000:.0f} ms)"
            )
    _say('\n>>> cap.trades.groupby("venue").price.count()   # one frame, every venue')
    counts = cap.trades.groupby("venue").price.count()
    _say("   " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def run(seed: int = 7, seconds: float = 3.0) -> int:
    """Start the sandbox in-process and show every venue; returns the exit code."""
    import mdkit
    from mdkit.sandbox import Sandbox

    with Sandbox(seed):
        _say(f"mdkit {mdkit.__version__} demo, against the local sandbox (no internet needed).")
        _say("Every call below is what you would type in a notebook.")
        _rest_tour()
        _venues_tour(seconds)
        try:
            mdkit.klines("btcusd", "1min")
        except mdkit.InvalidArgument as exc:
            _say(f'\n>>> mdkit.klines("btcusd", "1min")\n   {type(exc).__name__}: {exc}')
    _say("\nDone. `python -m mdkit sandbox` keeps a sandbox up for your own notebook.")
    return 0
