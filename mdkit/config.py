"""Endpoints and credentials: the argument, else ``MDKIT_<VENUE>_*``, else the doc's default.

Every venue names its endpoints in its descriptor (``public``, ``private``, ``rest``...),
each with the environment variable that overrides it (``MDKIT_BITGET_WS_URL``,
``MDKIT_BITGET_PRIVATE_WS_URL``, ``MDKIT_CRYPTOCOM_REST_URL``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from mdkit.errors import InvalidArgument, UnknownVenue
from mdkit.venues import get_venue

__all__ = ["endpoint_url", "rest_url", "ws_url", "credential", "credentials", "env_name"]

CREDENTIAL_NAMES = ("api_key", "secret_key", "passphrase", "token")
_SCHEMES = ("ws://", "wss://", "http://", "https://")


def env_name(venue: str, what: str) -> str:
    """``MDKIT_<VENUE>_<WHAT>``, e.g. ``MDKIT_CRYPTOCOM_REST_URL``."""
    return f"MDKIT_{get_venue(venue).key.upper()}_{what.upper()}"


def _check_url(url: Any, name: str) -> str:
    if not isinstance(url, str) or not url.strip().lower().startswith(_SCHEMES):
        raise InvalidArgument(
            f"{name} must be a URL string starting with ws://, wss://, http:// or https://, "
            f"not {url!r}"
        )
    return url.strip()


def endpoint_url(venue: str, endpoint: str, url: Any = None) -> str:
    """A venue endpoint's URL: ``url``, else its ``MDKIT_<VENUE>_<...>_URL``, else the doc's.

    Raises
    ------
    UnknownVenue
        If the venue has no such endpoint (naming the ones it has).
    InvalidArgument
        If a URL is not a ws/wss/http/https URL string.
    """
    descriptor = get_venue(venue)
    found = descriptor.endpoints.get(endpoint)
    if found is None:
        valid = ", ".join(descriptor.endpoints)
        raise UnknownVenue(f"{descriptor.key} has no {endpoint!r} endpoint; it has {valid}")
    if url is not None:
        return _check_url(url, "url")
    env = os.environ.get(f"MDKIT_{descriptor.key.upper()}_{found.env}")
    if env:
        return _check_url(env, f"MDKIT_{descriptor.key.upper()}_{found.env}")
    return found.url


def rest_url(venue: str, url: Any = None) -> str:
    """The REST base URL (``rest`` endpoint), without a trailing slash."""
    return endpoint_url(venue, "rest", url).rstrip("/")


def ws_url(venue: str, url: Any = None) -> str:
    """The public WebSocket URL (``public`` endpoint)."""
    return endpoint_url(venue, "public", url)


def credential(venue: str, name: str, value: Any = None) -> str | None:
    """A credential (``api_key``, ``secret_key``, ``passphrase``, ``token``).

    The argument wins, else ``MDKIT_<VENUE>_<NAME>``; None if neither is set.

    Raises
    ------
    InvalidArgument
        If the argument is given but not a string (the value itself is never shown).
    """
    if value is not None:
        if not isinstance(value, str):
            raise InvalidArgument(f"{name} must be a string, not {type(value).__name__}")
        if value:
            return value
    return os.environ.get(env_name(venue, name)) or None


def credentials(venue: str, given: Mapping[str, Any]) -> dict[str, str]:
    """Every credential the venue uses, from arguments or the environment (set ones only)."""
    out: dict[str, str] = {}
    for name in get_venue(venue).credentials:
        value = credential(venue, name, given.get(name))
        if value:
            out[name] = value
    return out
