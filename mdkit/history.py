"""Kline history beyond the REST page, paged over the Crypto.com v1 WebSocket ``req``.

The REST ``/v1/klines`` answer holds only the latest bars. Older bars come from
``{"event":"req","params":{"channel":"market_<symbol>_kline_<period>","since":...,
"pageSize":300}}`` (doc "Request k-line data history"), one page after another over
one connection, with a progress bar; the rows are read by the same parser as the
live pushes (:class:`~mdkit.venues.cryptocom_ws.CryptocomRouter`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import numpy as np

from mdkit import config
from mdkit.errors import NetworkError
from mdkit.frames import StreamTables
from mdkit.timeparse import Interval
from mdkit.venues import cryptocom_ws as venue
from mdkit.venues.spec import DATA, PING

__all__ = ["klines_history", "fetch_klines"]

log = logging.getLogger("mdkit.history")

#: Seconds to wait for one page.
PAGE_TIMEOUT = 15.0


async def fetch_klines(
    url: str,
    symbol: str,
    interval: Interval,
    start_s: int,
    end_s: int,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Page bars opening in ``[start_s, end_s]`` and return their columns (receive order).

    Returns
    -------
    dict
        :data:`~mdkit.frames.KLINE_STREAM_SCHEMA` columns (``timestamp`` = bar open, s).

    Raises
    ------
    NetworkError
        If the server cannot be reached or a page does not come.
    """
    from tqdm import tqdm
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    width = interval.seconds
    since = start_s - start_s % width
    span = venue.KLINE_PAGE * width
    pages = max(1, math.ceil((end_s - since + 1) / span))
    tables = StreamTables()
    sub = venue.plan(symbol, [f"klines:{interval.name}"])
    router = venue.CryptocomRouter(sub, tables)
    bar = tqdm(
        total=pages,
        desc=f"{symbol} {interval.name}",
        unit="page",
        disable=not progress or pages < 2,
        leave=False,
    )
    try:
        async with connect(
            url, ping_interval=None, open_timeout=10, close_timeout=1, max_size=2**24
        ) as ws:
            while since <= end_s:
                await ws.send(
                    venue.build_req_klines(
                        symbol, interval, since=since, page_size=venue.KLINE_PAGE
                    )
                )
                async with asyncio.timeout(PAGE_TIMEOUT):
                    while True:
                        frame = await ws.recv()
                        kind, key, extra = router.handle(frame, time.time_ns())
                        if kind == PING and extra is not None:
                            await ws.send(extra)
                        elif kind == DATA and key is not None and key.endswith(" rep"):
                            break
                since += span
                bar.update(1)
    except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
        raise NetworkError(f"{venue.VENUE}: kline history over {url} failed: {exc}") from exc
    finally:
        bar.close()
    columns = dict(tables.klines.columns())
    opens = np.asarray(columns["timestamp"], dtype="int64")
    keep = (opens >= start_s - start_s % width) & (opens <= end_s)
    return {name: np.asarray(values)[keep] for name, values in columns.items()}


def klines_history(
    symbol: str,
    interval: Interval,
    start_s: int,
    end_s: int,
    *,
    url: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Synchronous :func:`fetch_klines` on mdkit's loop thread (safe in notebooks)."""
    from mdkit import runner

    target = config.ws_url(venue.VENUE, url)
    return runner.run(fetch_klines(target, symbol, interval, start_s, end_s, progress=progress))
