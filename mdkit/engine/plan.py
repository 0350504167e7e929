"""Planning a capture, before any connection: validated streams and engine options.

Public and shared by every entry point that starts a capture (:func:`mdkit.capture`,
:func:`mdkit.record`, the CLI, :func:`mdkit.request`, paged history):

- :func:`take_credentials` moves credentials out of keyword options into a
  :class:`~mdkit.venues.base.Credentials` (locals shown in a traceback stay clean);
- :func:`plan_stream` validates one venue's request (symbols against the venue's
  list, channels, options, URLs, credentials) into a :class:`Stream`;
- :func:`plan` does that for a one- or multi-venue request and checks the engine
  options (:func:`check_options`), returning a :class:`Plan`;
- :func:`shard` splits a venue's subscriptions into connections.

Nothing here opens a WebSocket (the venue's REST symbol list is fetched, cached).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mdkit import config
from mdkit.data.wire import DEFAULT_MAX_FRAME
from mdkit.engine.raw import DEFAULT_RAW_LIMIT
from mdkit.errors import AuthError, InvalidArgument, NetworkError, UnknownSymbol, VenueError
from mdkit.venues.base import Credentials, Subscription, Venue

__all__ = [
    "CREDENTIALS",
    "ENGINE_OPTIONS",
    "Plan",
    "Stream",
    "check_options",
    "plan",
    "plan_stream",
    "shard",
    "take_credentials",
]

log = logging.getLogger("mdkit.engine.plan")


@dataclass(frozen=True)
class Stream:
    """One venue's part of a capture, validated.

    Attributes
    ----------
    venue : Venue
    subscriptions : tuple of Subscription
    urls : mapping of str to str
        Endpoint name → URL.
    credentials : Credentials
    headers : mapping of str to str
        Extra handshake headers per connection (built by the caller from credentials
        where the venue authenticates in the handshake).
    """

    venue: Venue
    subscriptions: tuple[Subscription, ...]
    urls: Mapping[str, str]
    credentials: Credentials = field(default_factory=Credentials)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Plan:
    """A validated capture request: its streams and its engine options.

    Attributes
    ----------
    streams : tuple of Stream
    options : dict
        As :func:`check_options` returns them (keyword arguments of the engine).
    """

    streams: tuple[Stream, ...]
    options: dict[str, Any] = field(default_factory=dict)


def shard(stream: Stream) -> list[tuple[str, tuple[Subscription, ...]]]:
    """Split a venue's subscriptions into connections: (endpoint, subscriptions) each.

    Subscriptions go by endpoint, then in chunks of the venue's
    ``subscriptions_per_connection``.

    Raises
    ------
    InvalidArgument
        If the connections needed exceed the venue's ``connections`` limit.
    """
    limits = stream.venue.limits
    size = limits.subscriptions_per_connection or max(1, len(stream.subscriptions))
    by_endpoint: dict[str, list[Subscription]] = {}
    for sub in stream.subscriptions:
        by_endpoint.setdefault(sub.endpoint, []).append(sub)
    out: list[tuple[str, tuple[Subscription, ...]]] = []
    if not stream.subscriptions:
        return [("public", ())]  # a request/response connection
    for endpoint, subs in by_endpoint.items():
        for i in range(0, len(subs), size):
            out.append((endpoint, tuple(subs[i : i + size])))
    if limits.connections is not None and len(out) > limits.connections:
        raise InvalidArgument(
            f"{stream.venue.key}: {len(stream.subscriptions)} subscriptions need {len(out)} "
            f"connections ({size} per connection), past the venue's limit of "
            f"{limits.connections}; capture fewer symbols or channels"
        )
    return out


def check_options(
    *,
    seconds: Any,
    max_messages: Any,
    silence_timeout: Any = None,
    backoff: Any = (0.2, 5.0),
    raw_limit: Any = DEFAULT_RAW_LIMIT,
    open_timeout: Any = 10.0,
    max_frame: Any = DEFAULT_MAX_FRAME,
) -> dict[str, Any]:
    """Check every engine option before connecting; return them normalised.

    Raises
    ------
    InvalidArgument
        Naming the option and what is valid.
    """

    def number(name: str, value: Any, *, low: float, high: float = math.inf) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"{name} must be a number of seconds, not {value!r}")
        if not (low < float(value) <= high) or math.isnan(value):
            raise InvalidArgument(
                f"{name} must be a finite number above {low:g}"
                + (f" and at most {high:g}" if high < math.inf else "")
                + f", not {value!r}"
            )
        return float(value)

    if max_messages is not None and (
        isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
    ):
        raise InvalidArgument(f"max_messages must be a positive integer, not {max_messages!r}")
    if seconds is None:
        if max_messages is None:
            raise InvalidArgument(
                "seconds=None needs max_messages (a capture must end); give one or both"
            )
        box = None
    else:
        box = number("seconds", seconds, low=0.0, high=365 * 86400)
    silence = (
        None if silence_timeout is None else number("silence_timeout", silence_timeout, low=0.0)
    )
    if (
        not isinstance(backoff, tuple | list)
        or len(backoff) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in backoff)
    ):
        raise InvalidArgument(
            f"backoff must be (first, largest) reconnect delays in seconds, not {backoff!r}"
        )
    first = number("backoff[0]", backoff[0], low=0.005, high=600)
    cap = number("backoff[1]", backoff[1], low=0.005, high=3600)
    if cap < first:
        raise InvalidArgument(f"backoff: the largest delay {cap:g} is below the first {first:g}")
    if raw_limit is not None and (
        isinstance(raw_limit, bool) or not isinstance(raw_limit, int) or raw_limit < 0
    ):
        raise InvalidArgument(
            f"raw_limit must be a number of bytes (int >= 0) or None, not {raw_limit!r}"
        )
    if (
        isinstance(max_frame, bool)
        or not isinstance(max_frame, int)
        or not 1024 <= max_frame <= 2**30
    ):
        raise InvalidArgument(
            f"max_frame must be a number of bytes from 1024 to {2**30} (1 GiB), not {max_frame!r}"
        )
    return {
        "max_frame": max_frame,
        "seconds": box,
        "max_messages": max_messages,
        "silence_timeout": silence,
        "backoff": (first, cap),
        "raw_limit": raw_limit,
        "open_timeout": number("open_timeout", open_timeout, low=0.0, high=600),
    }


#: Engine options a capture takes as keywords.
ENGINE_OPTIONS = ("silence_timeout", "raw_limit", "backoff", "open_timeout", "max_frame")
#: Credential names a capture takes as keywords.
CREDENTIALS = ("api_key", "secret_key", "passphrase", "token")


def _as_list(value: Any, what: str, *, allow_empty: bool) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise InvalidArgument(
            f"{what} must be a string or a list of strings, not {type(value).__name__}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgument(f"{what} must be strings; got {item!r}")
    if not items and not allow_empty:
        raise InvalidArgument(f"{what}: give at least one")
    if len(items) > 100_000:
        raise InvalidArgument(f"{what}: {len(items):,} is more than any venue allows")
    return items


def plan_stream(
    venue_key: Any,
    symbols: Any,
    channels: Any,
    options: dict[str, Any],
    secrets: Credentials,
    *,
    url: Any = None,
    urls: Any = None,
) -> Stream:
    """Validate one venue's request, before any connection: a planned Stream.

    ``secrets`` is a :class:`~mdkit.venues.base.Credentials` (never a plain dict: a
    traceback rendered with its frames' locals must not show the values).
    """
    from mdkit.engine.listing import venue_symbols
    from mdkit.venues import get_venue
    from mdkit.venues.base import close_matches

    venue = get_venue(venue_key)
    symbol_list = _as_list(symbols, "symbols", allow_empty=True)
    channel_list = _as_list(channels, "channels", allow_empty=False)
    venue_options = {k: options.pop(k) for k in list(options) if k in venue.options}
    if options:
        valid = [*ENGINE_OPTIONS, *venue.credentials, *venue.options]
        raise InvalidArgument(
            f"unknown capture options for {venue.key}: {', '.join(sorted(options))}; "
            f"valid: {', '.join(valid)}"
        )
    subscriptions = venue.plan(symbol_list, channel_list, venue_options)
    if not subscriptions:
        raise InvalidArgument(f"{venue.key}: nothing to capture (no symbol for these channels)")
    endpoints: dict[str, str] = {}
    if urls is not None:
        if not isinstance(urls, Mapping):
            raise InvalidArgument(f"urls must be a mapping of endpoint name to URL, not {urls!r}")
        for name, value in urls.items():
            if name not in venue.endpoints:
                raise InvalidArgument(
                    f"{venue.key} has no endpoint {name!r}; it has {', '.join(venue.endpoints)}"
                )
            endpoints[name] = config.endpoint_url(venue.key, name, value)
    if url is not None:
        endpoints["public"] = config.endpoint_url(venue.key, "public", url)
    for sub in subscriptions:
        if sub.endpoint not in endpoints:
            endpoints[sub.endpoint] = config.endpoint_url(venue.key, sub.endpoint)
    given = Credentials(config.credentials(venue.key, secrets))
    needed = {s.endpoint for s in subscriptions if venue.endpoints[s.endpoint].private}
    missing = [n for n in venue.credentials if n not in given]
    if needed and missing:
        names = ", ".join(f"MDKIT_{venue.key.upper()}_{n.upper()}" for n in missing)
        raise AuthError(
            "credentials",
            f"{venue.key}: the channels on the {', '.join(sorted(needed))} endpoint need "
            f"credentials; set {names} or pass {', '.join(missing)}=",
        )
    overridden = url is not None or urls is not None
    rest_known = "rest" in endpoints or bool(os.environ.get(f"MDKIT_{venue.key.upper()}_REST_URL"))
    listed = None
    if not overridden or rest_known:
        # With only a WebSocket URL given (a proxy, another exchange of the family), the
        # doc's REST host is not the one behind it: symbols are checked for spelling only.
        listed = _listed_symbols(venue, venue_options, endpoints, venue_symbols)
    if listed is not None:
        known = set(listed)
        for sub in subscriptions:
            if sub.symbol and sub.symbol not in known:
                close = close_matches(sub.symbol, listed)
                hint = f"; close matches: {', '.join(close)}" if close else ""
                raise UnknownSymbol(
                    f"{venue.key} does not list the symbol {sub.symbol!r}{hint} "
                    f"(see mdkit.symbols({venue.key!r}))"
                )
    # Handshake headers carry a credential (iTick's token): held redacted as well.
    headers = Credentials(dict(venue.handshake_headers(given))) if venue.handshake_headers else {}
    return Stream(venue, tuple(subscriptions), endpoints, given, headers)


def _listed_symbols(
    venue: Venue, options: Mapping[str, Any], endpoints: Mapping[str, str], fetch: Any
) -> list[str] | None:
    try:
        listed: list[str] | None = fetch(venue, options, urls=endpoints)
    except (NetworkError, VenueError) as exc:
        # The REST list is a convenience: a capture through a WS-only proxy still runs,
        # with symbols checked for their spelling only.
        log.warning("%s: symbol list unavailable (%s); symbols not checked", venue.key, exc)
        return None
    return listed


def _merged(first: Credentials, second: Credentials) -> Credentials:
    return Credentials({**first, **second})


def take_credentials(options: dict[str, Any]) -> Credentials:
    """Move the credentials out of ``options`` (in place) into a Credentials.

    Raises
    ------
    InvalidArgument
        If a credential is not a string.
    """
    for name in CREDENTIALS:
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            options.pop(name)
            raise InvalidArgument(f"{name} must be a string, not {type(value).__name__}")
    return Credentials({k: options.pop(k) for k in CREDENTIALS if k in options})


def plan(
    venue: Any,
    symbols: Any,
    channels: Any,
    seconds: Any,
    max_messages: Any,
    url: Any,
    urls: Any,
    options: dict[str, Any],
    secrets: Credentials | None = None,
) -> Plan:
    """Validate a one- or multi-venue capture request, before any connection.

    Parameters are those of :func:`mdkit.capture`; ``options`` holds the keyword
    options (engine options, the venue's own, and credentials unless ``secrets``
    holds them already).

    Returns
    -------
    Plan

    Raises
    ------
    UnknownVenue, UnknownChannel, UnknownInterval, UnknownSymbol, InvalidArgument, AuthError
        Naming the valid choices.
    """
    if secrets is None:
        secrets = take_credentials(options)

    engine_options = {k: options.pop(k) for k in ENGINE_OPTIONS if k in options}
    checked = check_options(seconds=seconds, max_messages=max_messages, **engine_options)
    if isinstance(venue, list | tuple):
        if symbols is not None or channels is not None or url is not None or urls is not None:
            raise InvalidArgument(
                "a multi-venue capture takes [(venue, symbols, channels), ...] alone; "
                "put per-venue options in a 4th item: (venue, symbols, channels, {options})"
            )
        if not venue:
            raise InvalidArgument("give at least one (venue, symbols, channels)")
        streams = []
        for item in venue:
            if not isinstance(item, tuple | list) or len(item) not in (3, 4):
                raise InvalidArgument(
                    f"each venue part is (venue, symbols, channels[, options]), not {item!r}"
                )
            if len(item) == 4 and not isinstance(item[3], Mapping):
                raise InvalidArgument(f"a venue part's options must be a mapping, not {item[3]!r}")
            extra = dict(item[3]) if len(item) == 4 else {}
            extra.update({k: v for k, v in options.items()})
            mine = take_credentials(extra)
            streams.append(plan_stream(item[0], item[1], item[2], extra, _merged(secrets, mine)))
            del mine
        keys = [s.venue.key for s in streams]
        if len(set(keys)) != len(keys):
            raise InvalidArgument(f"a venue appears twice: {keys}; merge its symbols and channels")
    else:
        if symbols is None or channels is None:
            raise InvalidArgument(
                "capture(venue, symbols, channels, seconds=...): symbols and channels are "
                "required (symbols may be [] for account-wide private channels)"
            )
        streams = [plan_stream(venue, symbols, channels, options, secrets, url=url, urls=urls)]
    return Plan(tuple(streams), checked)
