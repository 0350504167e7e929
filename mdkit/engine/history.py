"""Paged history over a venue's request/response WebSocket calls, for any venue.

The venue supplies the builders and parsers (its session's ``request("klines",
...)`` method and the rows its ``receive`` appends); this module opens one
connection (:class:`~mdkit.engine.stream.Engine` with no subscriptions), asks page
after page (``page_sizes["klines"]`` bars each) with a progress bar, and returns
the rows de-duplicated by bar (the last copy of a bar wins).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from mdkit import config
from mdkit.data.timeparse import Interval
from mdkit.engine.calls import request_connection
from mdkit.errors import InvalidArgument, MdkitError, NetworkError
from mdkit.venues import get_venue
from mdkit.venues.base import Venue

__all__ = ["fetch_klines", "klines_history", "MAX_PAGES"]

log = logging.getLogger("mdkit.engine.history")

#: Seconds to wait for one page.
PAGE_TIMEOUT = 15.0
#: Pages one call may fetch unless the caller allows more (``max_pages``).
MAX_PAGES = 2000


def plan_pages(venue: Venue, interval: Interval, start_ns: int, end_ns: int) -> tuple[int, int]:
    """(page size in bars, number of pages) for bars opening in ``[start_ns, end_ns]``."""
    size = venue.page_sizes.get("klines")
    if not size:
        raise InvalidArgument(f"{venue.key} has no paged kline history")
    width = interval.seconds * 10**9
    since = start_ns - start_ns % width
    bars = max(0, (end_ns - since) // width + 1)
    return size, max(1, math.ceil(bars / size))


async def fetch_klines(
    venue: Venue,
    url: str,
    symbol: str,
    interval: Interval,
    start_ns: int,
    end_ns: int,
    *,
    progress: bool = True,
    max_pages: int = MAX_PAGES,
) -> dict[str, Any]:
    """Page bars opening in ``[start_ns, end_ns]`` and return their columns, by bar open.

    Returns
    -------
    dict
        The ``klines`` stream columns (``timestamp`` = bar open, epoch ns), one row
        per bar, sorted by time.

    Raises
    ------
    InvalidArgument
        If more than ``max_pages`` pages would be needed (before the first request).
    NetworkError
        If the server cannot be reached or a page does not come.
    """
    from tqdm import tqdm

    size, pages = plan_pages(venue, interval, start_ns, end_ns)
    if pages > max_pages:
        raise InvalidArgument(
            f"{venue.key}: {symbol} {interval.name} bars from that start need {pages:,} pages "
            f"of {size} ({pages * size:,} bars); pass max_pages={pages} to allow it, "
            "or give a later start"
        )
    width = interval.seconds * 10**9
    bar = tqdm(
        total=pages,
        desc=f"{venue.key} {symbol} {interval.name}",
        unit="page",
        disable=not progress or pages < 2,
        leave=False,
    )
    since = start_ns - start_ns % width
    try:
        async with request_connection(venue, url, open_timeout=PAGE_TIMEOUT) as engine:
            while since <= end_ns:
                reply = await engine.call(
                    "klines",
                    {"symbol": symbol, "interval": interval, "start_ns": since, "limit": size},
                    timeout=PAGE_TIMEOUT,
                )
                if reply.error is not None:
                    raise reply.error
                since += size * width
                bar.update(1)
    except MdkitError as exc:
        if isinstance(exc, NetworkError):
            raise NetworkError(f"{venue.key}: kline history over {url} failed: {exc}") from None
        raise
    finally:
        bar.close()
    part = engine.parts[venue.key].tables
    if "klines" not in part.counts():
        return {}
    columns = dict(part["klines"].columns())
    opens = np.asarray(columns["timestamp"], dtype="int64")
    keep = (opens >= start_ns - start_ns % width) & (opens <= end_ns)
    # The last copy of each bar wins (a page may repeat a bar at its edge).
    order = np.flatnonzero(keep)
    last = {int(t): int(i) for i, t in zip(order.tolist(), opens[order].tolist(), strict=True)}
    rows = np.array(sorted(last.values(), key=lambda i: int(opens[i])), dtype="int64")
    return {name: np.asarray(values)[rows] for name, values in columns.items()}


def klines_history(
    venue: str,
    symbol: str,
    interval: Interval,
    start_ns: int,
    end_ns: int,
    *,
    url: str | None = None,
    progress: bool = True,
    max_pages: int = MAX_PAGES,
) -> dict[str, Any]:
    """Synchronous :func:`fetch_klines` on mdkit's loop thread (safe in notebooks)."""
    from mdkit.engine import runner

    descriptor = get_venue(venue)
    target = config.endpoint_url(descriptor.key, "public", url)
    return runner.run(
        fetch_klines(
            descriptor,
            target,
            symbol,
            interval,
            start_ns,
            end_ns,
            progress=progress,
            max_pages=max_pages,
        )
    )
