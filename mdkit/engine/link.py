"""The ingestion core's state: a venue's shared tables and counters, one connection slot."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from mdkit.data.tables import Tables
from mdkit.engine.plan import Stream
from mdkit.engine.records import GapRecord
from mdkit.venues.base import Counters, Credentials, Session, Subscription

__all__ = ["Link", "VenuePart"]


@dataclass
class VenuePart:
    """The tables and counters shared by every connection of one venue."""

    stream: Stream
    tables: Tables = field(default_factory=Tables)
    counters: Counters = field(default_factory=Counters)


class Link:
    """One connection slot: its current session, and what outlives a reconnect.

    Attributes
    ----------
    stream : Stream
    endpoint : str
    subscriptions : tuple of Subscription
        This slot's share of the venue's subscriptions.
    number : int
        Connection number of the current connection (0 before the first).
    slot : int
        The slot's index among its venue's slots (creation order; replay maps a
        recorded connection number back to its slot with it).
    session : Session or None
        The current connection's session.
    """

    __slots__ = (
        "stream",
        "part",
        "counters",
        "endpoint",
        "subscriptions",
        "number",
        "slot",
        "session",
        "logged_in",
        "last_ns",
        "gap",
        "resync_gaps",
        "pending",
        "attempts",
        "budget",
        "secrets",
    )

    def __init__(
        self,
        part: VenuePart,
        endpoint: str,
        subscriptions: tuple[Subscription, ...],
        slot: int = 0,
    ) -> None:
        self.stream = part.stream
        self.part = part
        self.counters = part.counters
        self.endpoint = endpoint
        self.subscriptions = subscriptions
        self.number = 0
        self.slot = slot
        self.session: Session | None = None
        self.logged_in = False
        self.last_ns = 0
        #: The open gap of the last interruption, closed by the next data.
        self.gap: GapRecord | None = None
        self.resync_gaps: dict[Subscription, GapRecord] = {}
        #: Subscriptions whose resubscribe is scheduled (:class:`Later`).
        self.pending: set[Subscription] = set()
        #: Subscription → (resyncs in a row, time of the last one).
        self.attempts: dict[Subscription, tuple[int, int]] = {}
        #: Send times (ns) of subscribe requests in the last hour, over reconnects.
        self.budget: deque[int] = deque()
        #: Values to redact from server texts (held redacted: repr shows names only).
        self.secrets = Credentials(
            {
                **part.stream.credentials,
                **{f"header {k}": v for k, v in part.stream.headers.items()},
            }
        )
