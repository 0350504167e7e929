"""Venue symbol lists over REST (sans-I/O queries from each venue's descriptor), cached."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from mdkit import config
from mdkit.venues.base import Venue

__all__ = ["venue_symbols", "clear_cache"]

#: Seconds a fetched list is reused.
TTL = 600.0
_cache: dict[tuple[str, str, str], tuple[float, list[str]]] = {}
_lock = threading.Lock()


def venue_symbols(
    venue: Venue, options: Mapping[str, Any], *, urls: Mapping[str, str] | None = None
) -> list[str] | None:
    """The venue's symbols in its own spelling, or None if it publishes no list.

    Raises
    ------
    NetworkError, VenueError
        If the list cannot be fetched.
    """
    if venue.symbol_list is None:
        return None
    from mdkit.engine import rest

    out: list[str] = []
    for query in venue.symbol_list(options):
        base = (urls or {}).get(query.endpoint) or config.endpoint_url(venue.key, query.endpoint)
        base = base.rstrip("/")
        key = (base, query.path, repr(sorted(query.params.items())))
        with _lock:
            hit = _cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < TTL:
            out += hit[1]
            continue
        params = {k: str(v) for k, v in query.params.items()}
        listed = query.parse(rest.send(base, "GET", query.path, params).body)
        with _lock:
            _cache[key] = (time.monotonic(), listed)
        out += listed
    return out


def clear_cache() -> None:
    """Forget every fetched list."""
    with _lock:
        _cache.clear()
