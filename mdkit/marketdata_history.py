"""History paging behind ``mdkit.klines(start=...)`` and ``mdkit.trades(start=...)``.

Bars and trades older than one REST answer are paged back by end time over the
venue's REST history call (``kline_history="rest"``), or over the WebSocket ``req``
(:mod:`mdkit.engine.history`), with a progress bar; a start needing more than
``max_pages`` pages is refused before any request.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mdkit.data.timeparse import Interval
from mdkit.errors import InvalidArgument

if TYPE_CHECKING:
    from mdkit.venues.base import Venue
    from mdkit.venues.rest_api import RestApi, RestCall

log = logging.getLogger("mdkit.marketdata")


def show_progress() -> bool:
    """Whether to draw progress bars: in a terminal or a notebook kernel, not in pipes/CI.

    tqdm's own ``disable=None`` test looks at ``isatty()``, which is False in Jupyter's
    output stream.
    """
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _fetch(*args: object, **kwargs: object) -> pd.DataFrame:
    from mdkit.marketdata import _fetch as fetch

    return fetch(*args, **kwargs)  # type: ignore[arg-type]


def _ms(value: pd.Timestamp | None) -> int | None:
    return None if value is None else int(value.value // 1_000_000)


def history_call(api: RestApi, what: str) -> RestCall:
    return api.calls.get(f"{what}_history") or api.calls[what]


def check_pages(
    desc: Venue,
    api: RestApi,
    symbol: str,
    iv: Interval,
    lo: pd.Timestamp,
    hi: pd.Timestamp | None,
    max_pages: int,
) -> None:
    """Refuse, before any request, a start that needs more than ``max_pages`` pages.

    Pages are the REST history call's (``kline_history="rest"``) or the WebSocket
    ``req``'s (``page_sizes["klines"]``). Counting from ``lo`` to ``hi`` (or now)
    over-counts by at most one page: it never under-counts.
    """
    from mdkit.engine.history import plan_pages

    if api.kline_history not in ("rest", "ws"):
        return
    if api.kline_history == "rest":
        desc = replace(desc, page_sizes={"klines": history_call(api, "klines").page})
    now = pd.Timestamp.now(tz="UTC")
    stop = min(hi, now) if hi is not None else now
    if stop <= lo:
        return
    size, pages = plan_pages(desc, iv, lo.value, stop.value)
    if pages > max_pages:
        how = "over REST" if api.kline_history == "rest" else "over the WebSocket"
        raise InvalidArgument(
            f"klines {symbol} {iv.name} from {lo:%Y-%m-%d %H:%M} needs up to {pages:,} pages "
            f"of {size} bars ({pages * size:,} bars) {how}; that is more than "
            f"max_pages={max_pages:,}: pass max_pages={pages} to allow it, or give a later start"
        )


def rest_history(
    desc: Venue,
    api: RestApi,
    base: str,
    symbol: str,
    iv: Interval,
    lo: pd.Timestamp,
    hi: pd.Timestamp | None,
    max_pages: int,
) -> pd.DataFrame:
    """Page bars back from ``hi`` (or now) to ``lo`` over the REST history call."""
    from tqdm.auto import tqdm

    from mdkit.engine.history import plan_pages

    call = history_call(api, "klines")
    stop = hi if hi is not None else pd.Timestamp.now(tz="UTC")
    _, planned = plan_pages(
        replace(desc, page_sizes={"klines": call.page}), iv, lo.value, stop.value
    )
    end_ms = int(stop.value // 1_000_000) + 1
    parts: list[pd.DataFrame] = []
    bar = tqdm(
        total=planned,
        desc=f"{desc.key} {symbol} {iv.name}",
        unit="page",
        disable=planned < 2 or not show_progress(),
        leave=False,
    )
    try:
        for _ in range(max_pages):
            args = {"symbol": symbol, "interval": iv, "end_ms": end_ms, "limit": call.page}
            df = _fetch(desc, api, call, base, args, symbol=symbol, interval=iv, now_s=0.0)
            bar.update(1)
            if df.empty:
                break
            parts.append(df)
            first_ms = int(df.index[0].value // 1_000_000)
            if first_ms >= end_ms or df.index[0] <= lo:  # no progress, or far enough
                break
            end_ms = first_ms
    finally:
        bar.close()
    if not parts:
        return df
    out = pd.concat(parts[::-1])
    out = out[~out.index.duplicated(keep="last")].sort_index()
    out.attrs.update(parts[0].attrs)
    log.info("klines: %d bars in %d REST pages", len(out), len(parts))
    return out


def with_history(
    desc: Venue,
    df: pd.DataFrame,
    symbol: str,
    iv: Interval,
    lo: pd.Timestamp,
    hi: pd.Timestamp | None,
    max_pages: int,
) -> pd.DataFrame:
    """Prepend the bars older than the REST page, paged over the WebSocket ``req``."""
    from mdkit.data import frames
    from mdkit.engine import history

    received = time.time()
    first = int(df.index[0].timestamp()) if len(df) else int(received)
    end_s = first - iv.seconds
    if hi is not None:
        end_s = min(end_s, int(hi.timestamp()))
    older = history.klines_history(
        desc.key, symbol, iv, lo.value, end_s * 1_000_000_000, max_pages=max_pages
    )
    n = len(older.get("timestamp", ()))
    log.info("klines: %d older bars paged over WebSocket req", n)
    if not n:
        return df
    rest_times = pd.DatetimeIndex(df.index).as_unit("s").asi8.astype("int64")
    ohlcv = np.vstack(
        [
            np.column_stack([older[c] for c in frames.KLINE_COLUMNS]),
            df[list(frames.KLINE_COLUMNS)].to_numpy(dtype="float64"),
        ]
    )
    source = str(df.attrs.get("source", "rest"))
    return frames.klines_frame(
        np.concatenate([older["timestamp"] // 1_000_000_000, rest_times]),
        ohlcv,
        interval_seconds=iv.seconds,
        now_s=received,
        attrs={**{str(k): v for k, v in df.attrs.items()}, "source": f"ws:req+{source}"},
    )


def trade_history(
    desc: Venue,
    api: RestApi,
    base: str,
    symbol: str,
    lo: pd.Timestamp | None,
    hi: pd.Timestamp | None,
    limit: int | None,
    max_pages: int,
) -> pd.DataFrame:
    """Page trades back from ``hi`` (or now) to ``lo`` (or ``limit`` trades)."""
    from tqdm.auto import tqdm

    call = api.calls["trades_history"]
    end_ms = _ms(hi) or int(time.time() * 1000)
    start_ms = _ms(lo)
    parts: list[pd.DataFrame] = []
    got = 0
    bar = tqdm(
        desc=f"{desc.key} {symbol} trades", unit="page", leave=False, disable=not show_progress()
    )
    with bar:
        for _ in range(max_pages):
            args = {"symbol": symbol, "start_ms": start_ms, "end_ms": end_ms, "limit": call.page}
            df = _fetch(desc, api, call, base, args, symbol=symbol)
            bar.update(1)
            if df.empty:
                break
            parts.append(df)
            got += len(df)
            first_ms = int(df.index[0].value // 1_000_000)
            if len(df) < call.page or first_ms >= end_ms:
                break
            if (start_ms is not None and first_ms <= start_ms) or (limit and got >= limit):
                break
            end_ms = first_ms  # the next page ends where this one began
    if not parts:
        return df
    out = pd.concat(parts[::-1])
    out = out[~out["id"].duplicated(keep="last").to_numpy()].sort_index(kind="stable")
    out.attrs.update(parts[0].attrs)
    keep = np.ones(len(out), dtype=bool)
    if lo is not None:
        keep &= out.index >= lo
    if hi is not None:
        keep &= out.index <= hi
    return out[keep]
