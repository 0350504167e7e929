"""Endpoints and credentials: the argument, else ``MDKIT_<VENUE>_*``, else the doc's default."""

from __future__ import annotations

import os

from mdkit.errors import UnknownVenue

__all__ = ["VENUES", "rest_url", "ws_url", "credential", "env_name"]

#: Venue keys and their doc default endpoints (REST, WebSocket).
VENUES: dict[str, tuple[str | None, str]] = {
    "cryptocom": ("https://api.crypto.com", "wss://ws.crypto.com/kline-api/ws"),
    "bitget": (None, "wss://ws.bitget.com/v2/ws/public"),
    "itick": (None, "wss://api.itick.org/cws"),
    "bittap": (None, "wss://stream.bittap.com/endpoint/ws/spot"),
    "richamster": (None, "wss://richamster.com/ws/v2/general/"),
}


def _venue(venue: str) -> str:
    key = venue.strip().lower() if isinstance(venue, str) else venue
    if key not in VENUES:
        raise UnknownVenue(f"unknown venue {venue!r}; valid: {', '.join(VENUES)}")
    return key


def env_name(venue: str, what: str) -> str:
    """``MDKIT_<VENUE>_<WHAT>``, e.g. ``MDKIT_CRYPTOCOM_REST_URL``."""
    return f"MDKIT_{_venue(venue).upper()}_{what.upper()}"


def rest_url(venue: str, url: str | None = None) -> str:
    """The REST base URL: ``url``, else ``MDKIT_<VENUE>_REST_URL``, else the doc's."""
    if url:
        return url.rstrip("/")
    default = VENUES[_venue(venue)][0]
    found = os.environ.get(env_name(venue, "REST_URL")) or default
    if not found:
        raise UnknownVenue(f"{venue} has no REST API in mdkit")
    return found.rstrip("/")


def ws_url(venue: str, url: str | None = None) -> str:
    """The WebSocket URL: ``url``, else ``MDKIT_<VENUE>_WS_URL``, else the doc's."""
    if url:
        return url
    return os.environ.get(env_name(venue, "WS_URL")) or VENUES[_venue(venue)][1]


def credential(venue: str, name: str, value: str | None = None) -> str | None:
    """A credential (``api_key``, ``secret_key``, ``passphrase``, ``token``).

    The argument wins, else ``MDKIT_<VENUE>_<NAME>``; None if neither is set.
    """
    if value:
        return value
    return os.environ.get(env_name(venue, name)) or None
