"""What the ingestion core records and asks: gap records, stats, and driver actions.

:class:`GapRecord` and :class:`StreamStats` are what a capture keeps besides its rows;
the :class:`Action` values are what :class:`~mdkit.engine.core.Core` returns to its
driver (the live engine, replay, a request connection).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mdkit.errors import MdkitError
from mdkit.venues.base import Reply, Subscription

__all__ = [
    "NO_ACTIONS",
    "Action",
    "Answer",
    "Drop",
    "ErrorCount",
    "Fail",
    "Finish",
    "GapRecord",
    "Later",
    "LoggedIn",
    "Pace",
    "StreamStats",
    "Transmit",
]


# -- records -----------------------------------------------------------------------------
@dataclass(slots=True)
class GapRecord:
    """One interruption of a capture (a row of ``Capture.gaps``).

    Attributes
    ----------
    start_ns : int
        Last frame before the gap, or when it was noticed (epoch ns).
    end_ns : int or None
        First data after it, or the end of the capture; None while open.
    venue : str
    connection : int
        The connection it happened on.
    channels : str
        Subscription keys it hit, comma-separated ("" = the whole connection).
    reason : str
        Why (credential values redacted).
    """

    start_ns: int
    end_ns: int | None
    venue: str
    connection: int
    channels: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (the tabular boundary: gaps frames, datasets)."""
        return asdict(self)


@dataclass(slots=True)
class ErrorCount:
    """Parse errors of one kind: how many, and the first one's text."""

    count: int
    first: str


@dataclass
class StreamStats:
    """Counters of one capture (see ``Capture.stats``)."""

    messages: int = 0
    bytes: int = 0
    parse_errors: int = 0
    parse_error_kinds: dict[str, ErrorCount] = field(default_factory=dict)
    connections: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    resyncs: int = 0
    resyncs_deferred: int = 0
    #: Resyncs of channels already inside an open resync gap (that gap goes on).
    resyncs_in_gap: int = 0
    #: Connections lost while their link was already inside an open gap (it goes on).
    reconnects_in_gap: int = 0
    server_errors: list[str] = field(default_factory=list)
    rate_limits: dict[str, Any] = field(default_factory=dict)
    gaps: list[GapRecord] = field(default_factory=list)
    started_ns: int = 0
    ended_ns: int = 0
    outcome: str = "not started"
    interrupted: bool = False
    worst_reconnect_rate: float = 0.0
    error: str | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        end = self.ended_ns or time.time_ns()
        return max(0.0, (end - self.started_ns) / 1e9) if self.started_ns else 0.0


# -- actions -----------------------------------------------------------------------------
class Action:
    """Base of what the core asks of its driver."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Transmit(Action):
    """Send one message on the link's connection (paced; ``urgent`` first)."""

    message: str | bytes
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class LoggedIn(Action):
    """The login was accepted (or none is needed): the link is ready for requests."""


@dataclass(frozen=True, slots=True)
class Later(Action):
    """Call :meth:`Core.resubscribe` for these subscriptions after ``delay`` seconds."""

    delay: float
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class Drop(Action):
    """Close this connection and reconnect (``abort``: drop the socket at once)."""

    reason: str
    abort: bool = False


@dataclass(frozen=True, slots=True)
class Fail(Action):
    """A fatal error: end the whole capture with it (data kept)."""

    error: MdkitError


@dataclass(frozen=True, slots=True)
class Answer(Action):
    """The reply to a request (:meth:`Core.request`)."""

    reply: Reply


@dataclass(frozen=True, slots=True)
class Finish(Action):
    """The capture reached its end (``max_messages``)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Pace(Action):
    """Send no faster than one message per ``interval`` seconds on this link."""

    interval: float


#: What most frames return: nothing for the driver to do.
NO_ACTIONS: tuple[Action, ...] = ()
