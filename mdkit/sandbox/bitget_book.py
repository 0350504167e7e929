"""The Bitget sandbox's book pushes: snapshots, updates and their integrity fields.

Part of the Bitget v2 sandbox server (:mod:`mdkit.sandbox.bitget`), from
``bitget-v2-ws.txt`` "Depth channel": ``books`` sends a full snapshot, then updates when
levels change (size "0" deletes a level); ``books1/5/15`` send full snapshots. Each
carries ``checksum`` (CRC32 of the top 25 levels, signed) or, with
``integrity="seq"``, ``seq``/``pseq``; the ``checksum`` and ``seq_gap`` faults corrupt
or skip the next update.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from mdkit.sandbox.wshost import Conn

if TYPE_CHECKING:
    from mdkit.sandbox.bitget import BitgetServer, ConnectionState, Subscription

__all__ = ["BookPushes", "book_checksum", "book_diff"]


class BookPushes:
    """The book channels of one Bitget server (its view, book cache and integrity mode)."""

    def __init__(self, server: BitgetServer) -> None:
        self.s = server

    def push(
        self, conn: Conn, state: ConnectionState, sub: Subscription, *, snapshot: bool
    ) -> None:
        """A snapshot (first push, ``books1/5/15``) or the update since the last second sent."""
        second = int(self.s.view.now())
        bids, asks = self.s._book(sub.source, second)
        depth = sub.channel[5:]
        if depth or snapshot:
            if depth:
                bids, asks = bids[: int(depth)], asks[: int(depth)]
            sub.second = second
            item: dict[str, Any] = {"asks": asks, "bids": bids}
            self._integrity(state, sub, item, None if depth else (bids, asks), snapshot=True)
            conn.send(self.s._envelope(sub, "snapshot", [item]), push=not snapshot)
            return
        if second == sub.second:
            return
        old_bids, old_asks = self.s._book(sub.source, sub.second)
        sub.second = second
        changes = [book_diff(old_bids, bids), book_diff(old_asks, asks)]
        if not changes[0] and not changes[1]:
            return
        if state.faults["seq_gap"]:
            state.faults["seq_gap"] -= 1
            sub.seq += 7  # this update is never sent: the chain breaks
            return
        item = {"asks": changes[1], "bids": changes[0]}
        self._integrity(state, sub, item, (bids, asks), snapshot=False)
        conn.send(self.s._envelope(sub, "update", [item]), push=True)

    def _integrity(self, state: ConnectionState, sub: Subscription, item: dict[str, Any], book: Any,
                   *, snapshot: bool) -> None:  # fmt: skip
        item["ts"] = str(int(self.s.view.now() * 1000))
        if self.s.integrity == "seq":
            previous = sub.seq
            sub.seq = (previous or 850_000_000_000 + sub.second) + 1 + len(item["asks"])
            item["seq"], item["pseq"] = sub.seq, 0 if snapshot else previous
            return
        checksum = 0
        if book is not None and not snapshot:
            checksum = book_checksum(*book)
            if state.faults["checksum"]:
                state.faults["checksum"] -= 1
                checksum = checksum + 1 if checksum < 2**31 - 1 else 0
        item["checksum"] = checksum


def book_diff(old: list[list[str]], new: list[list[str]]) -> list[list[str]]:
    """Levels that changed from ``old`` to ``new``; removed ones with size "0"."""
    before = {p: s for p, s in old}
    after = {p: s for p, s in new}
    # Removals first (as every sandbox server sends them): a client applying the
    # levels one by one never holds a crossed book.
    out = [[p, "0"] for p in before if p not in after]
    return out + [[p, s] for p, s in new if before.get(p) != s]


def book_checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """CRC32 of the top 25 levels interleaved, signed int32 (doc "Depth channel")."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc
