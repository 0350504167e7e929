"""Venue protocols, sans-I/O, and the registry: one line per venue.

Each registered module exports ``DESCRIPTOR``, a :class:`~mdkit.venues.base.Venue`
(endpoints, credentials, channels, intervals, limits, its session class). Modules
load on first use, so ``import mdkit`` stays light.
"""

from __future__ import annotations

import importlib

from mdkit.errors import UnknownVenue
from mdkit.venues.base import Venue

__all__ = ["DEFAULT_VENUE", "REGISTRY", "get_venue", "venue_keys"]

#: Venue key → the module whose ``DESCRIPTOR`` describes it. One line per venue.
REGISTRY: dict[str, str] = {
    "cryptocom": "mdkit.venues.cryptocom_ws",
    "bitget": "mdkit.venues.bitget",
    "itick": "mdkit.venues.itick",
    "richamster": "mdkit.venues.richamster",
    "bittap": "mdkit.venues.bittap",
}

#: The venue of ``mdkit.klines`` and the other REST calls when none is named.
DEFAULT_VENUE = "cryptocom"


def venue_keys() -> list[str]:
    """Every venue key mdkit knows."""
    return list(REGISTRY)


def get_venue(key: object) -> Venue:
    """Return a venue's descriptor.

    Parameters
    ----------
    key : str
        Venue key, case-insensitive (``"bitget"``).

    Returns
    -------
    Venue

    Raises
    ------
    UnknownVenue
        Naming the valid keys.
    """
    name = key.strip().lower() if isinstance(key, str) else None
    if name not in REGISTRY:
        raise UnknownVenue(f"unknown venue {key!r}; valid: {', '.join(REGISTRY)}")
    descriptor: Venue = importlib.import_module(REGISTRY[name]).DESCRIPTOR
    return descriptor
