"""One request/response connection, shared by :func:`mdkit.request` and paged history.

:func:`request_connection` starts an engine with no subscriptions on a venue's
public endpoint, waits (without polling) until its session is logged in, yields it
for :meth:`~mdkit.engine.stream.Engine.call`, and stops it on the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mdkit.engine.plan import Stream
from mdkit.engine.stream import Engine
from mdkit.errors import MdkitError
from mdkit.venues.base import Venue

__all__ = ["request_connection"]


@asynccontextmanager
async def request_connection(
    venue: Venue, url: str, *, open_timeout: float = 10.0
) -> AsyncIterator[Engine]:
    """A ready request/response connection to ``url`` (see the module docstring).

    Raises
    ------
    NetworkError
        If no ready connection comes within ``open_timeout`` seconds (with the
        connection error that prevented it).
    """
    engine = Engine(
        [Stream(venue, (), {"public": url})],
        seconds=None,
        raw_limit=0,
        open_timeout=float(open_timeout),
    )
    task = asyncio.ensure_future(engine.run())
    try:
        await engine.ready(open_timeout)
        yield engine
    finally:
        engine.stop("done")
        try:
            await task
        except MdkitError:
            pass
