"""The events a venue session returns to the engine (:mod:`mdkit.venues.base`).

:class:`Send` (paced to the venue's message rate), :class:`Ready` (login accepted:
subscribe now), :class:`Resubscribe` (these subscriptions lost integrity: fresh
snapshot), :class:`Recovered` (the fresh snapshot arrived), :class:`Gap` (data lost
without a reconnect), :class:`ServerError` (fatal or not), :class:`RateLimits`
(figures the venue reported), :class:`Reply` (answer to a request),
:class:`Reconnect` (the session asks for a fresh connection). :mod:`mdkit.venues.base`
re-exports them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mdkit.errors import MdkitError, VenueError

if TYPE_CHECKING:
    from mdkit.venues.base import Subscription

__all__ = [
    "NOTHING",
    "Event",
    "Gap",
    "RateLimits",
    "Ready",
    "Reconnect",
    "Recovered",
    "Reply",
    "Resubscribe",
    "Send",
    "ServerError",
]


class Event:
    """Base of what a session asks of the engine."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Send(Event):
    """Send one message (paced to the venue's rate); ``urgent`` ones (keepalives) go first."""

    message: str | bytes
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Ready(Event):
    """Login accepted (or none needed): subscribe now."""


@dataclass(frozen=True, slots=True)
class Resubscribe(Event):
    """These subscriptions lost integrity (checksum, sequence): ask for a fresh snapshot."""

    subscriptions: tuple[Subscription, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Recovered(Event):
    """The fresh snapshot after a :class:`Resubscribe` arrived: the gap ends now."""

    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class Gap(Event):
    """Data was lost without a reconnect (a skipped sequence the venue cannot resend)."""

    subscriptions: tuple[Subscription, ...]
    reason: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class ServerError(Event):
    """The venue reported an error; ``fatal`` ones end the capture with ``error``."""

    message: str
    code: str | None = None
    fatal: bool = False
    error: type[MdkitError] = VenueError


@dataclass(frozen=True, slots=True)
class RateLimits(Event):
    """Rate-limit figures the venue reported (BitTap's ``rateLimits``).

    ``pace`` (messages per second), when given, slows this connection's sends to
    stay under the limit before the venue enforces it.
    """

    figures: tuple[Mapping[str, Any], ...]
    pace: float | None = None


@dataclass(frozen=True, slots=True)
class Reply(Event):
    """The answer to :meth:`Session.request` ``request_id``: a result or an error."""

    request_id: str
    result: Any = None
    error: MdkitError | None = None
    done: bool = True


@dataclass(frozen=True, slots=True)
class Reconnect(Event):
    """The session asks for a fresh connection (the venue announced a disconnect)."""

    reason: str


#: What most data frames return: nothing for the engine to do.
NOTHING: tuple[Event, ...] = ()
