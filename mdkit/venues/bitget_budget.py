"""Bitget's subscribe budget: 240 subscribe requests per hour, reconnects and resyncs included.

The doc ("Connection instructions") allows 240 subscribe requests an hour. Planning checks
one connection's first subscribe; this counts every later one too (a reconnect subscribes
everything again, a checksum or sequence break resubscribes one channel), per connection
slot of a capture, over a sliding hour. Sans-I/O: the session passes its clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Any

__all__ = ["HOUR_NS", "SubscribeBudget"]

HOUR_NS = 3_600_000_000_000


class SubscribeBudget:
    """Subscribe requests sent in the last hour by one connection slot (all its reconnects).

    Parameters
    ----------
    limit : int
        Requests allowed per sliding hour.
    """

    __slots__ = ("limit", "sent")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: deque[int] = deque()

    @classmethod
    def of(cls, shared: dict[str, Any], slot: Hashable, limit: int) -> SubscribeBudget:
        """The budget of ``slot`` kept in a capture's shared venue state (created once)."""
        budgets: dict[Hashable, SubscribeBudget] = shared.setdefault("bitget subscribe budget", {})
        budget = budgets.get(slot)
        if budget is None:
            budget = budgets[slot] = cls(limit)
        return budget

    def left(self, now_ns: int) -> int:
        """Requests still allowed in the hour ending at ``now_ns``."""
        sent = self.sent
        while sent and sent[0] <= now_ns - HOUR_NS:
            sent.popleft()
        return self.limit - len(sent)

    def spend(self, requests: int, now_ns: int) -> bool:
        """Count ``requests`` sent at ``now_ns``; False (nothing counted) if past the limit."""
        if requests > self.left(now_ns):
            return False
        self.sent.extend([now_ns] * requests)
        return True
