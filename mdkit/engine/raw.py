"""The raw store of a capture: every received frame, compactly, in receive order."""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["DEFAULT_RAW_LIMIT", "RawStore"]

#: Default ``raw_limit``: bytes of raw payload a capture keeps (256 MiB).
DEFAULT_RAW_LIMIT = 256 * 2**20
_DELTA_MAX = 2**32 - 1
#: Kept frames are joined into the buffer and arrays every 4096 frames (and when read).
_JOIN_MASK = 4096 - 1


class RawStore:
    """Every received frame, compactly: one byte buffer plus a row per frame.

    Payloads are kept exactly as received (gzip frames stay compressed). With
    ``limit_bytes`` set, payloads beyond the limit are not kept and counted in
    ``dropped``; frames that could not be understood are always kept.

    Memory: a frame whose payload is kept costs its payload plus 12 bytes (its
    receive time and size in two arrays; connection and text flag are kept as change
    points, offsets are rebuilt from the sizes). On the receive path a frame costs two
    list appends (its payload and receive time): every 4096 frames, and whenever the
    store is read, the batch is joined into the byte buffer and the arrays by C loops
    (half the instructions of appending each frame to a buffer and two arrays).
    A frame whose payload is dropped keeps only its receive time, as a 4-byte
    delta from the previous dropped frame (an escape table holds the rare delta
    of 4.3 s or more), and its connection and text flag as change points, so a
    capture with ``raw_limit=0`` holds ~4 B per frame here. :meth:`columns`
    rebuilds one row per frame, in receive order, either way (dropped payloads
    empty, size 0).
    """

    def __init__(self, limit_bytes: int | None = None) -> None:
        self._data = bytearray()
        #: Payloads and receive times kept since the last join (:meth:`_join`).
        self._parts: list[bytes] = []
        self._times: list[int] = []
        #: Payload bytes kept (joined or not), and the most that may be.
        self._held = 0
        self._cap = (1 << 62) if limit_bytes is None else limit_bytes
        #: Receive times (ns) and sizes of the kept frames, joined.
        self._k_ns = array("q")
        self._k_size = array("i")
        #: (kept index, connection, text) wherever connection or text changes.
        self._k_changes: list[tuple[int, int, bool]] = []
        self._k_conn = -1
        self._k_text = False
        self.errors: list[int] = []
        self.limit = limit_bytes
        self.dropped = 0
        #: Receive-time deltas (ns) of the dropped frames, uint32.
        self._deltas = array("I")
        #: Dropped index → absolute receive time, where the delta did not fit.
        self._bases: dict[int, int] = {}
        #: (dropped index, connection, text) wherever connection or text changes.
        self._changes: list[tuple[int, int, bool]] = []
        self._drop_ns = 0
        self._drop_key: tuple[int, bool] | None = None
        self._kept = 0
        self._last: tuple[int, int, bool] | None = None
        self._add_part = self._parts.append
        self._add_time = self._times.append
        self._add_delta = self._deltas.append

    @property
    def data(self) -> bytearray:
        """The kept payloads back to back, in receive order."""
        self._join()
        return self._data

    def _join(self) -> None:
        """Move the batch of kept frames into the buffer and the arrays."""
        parts = self._parts
        if parts:
            self._data += b"".join(parts)
            # fromlist: one resize, not one per item as extend() makes (half the time)
            self._k_size.fromlist(list(map(len, parts)))
            self._k_ns.fromlist(self._times)
            parts.clear()
            self._times.clear()

    def add(self, payload: bytes, local_ns: int, connection: int, text: bool) -> int:
        """Keep one frame; return its kept row number, or -1 if its payload was dropped."""
        held = self._held + len(payload)
        if held <= self._cap:
            # The hot path: two list appends (payloads and times are joined in batches).
            self._held = held
            row = self._kept
            self._kept = row + 1
            self._add_part(payload)
            self._add_time(local_ns)
            if connection != self._k_conn or text is not self._k_text:
                self._k_conn, self._k_text = connection, text
                self._k_changes.append((row, connection, text))
            if row & _JOIN_MASK == _JOIN_MASK:
                self._join()
            return row
        index = self.dropped
        self.dropped = index + 1
        delta = local_ns - self._drop_ns
        if index == 0 or delta > _DELTA_MAX:
            self._bases[index] = local_ns
            delta = 0
        self._add_delta(delta)
        self._drop_ns = local_ns
        if self._drop_key != (connection, text):
            self._drop_key = (connection, text)
            self._changes.append((index, connection, text))
        self._last = (local_ns, connection, text)
        return -1

    def add_many(
        self,
        payloads: Sequence[bytes],
        times: Sequence[int],
        size: int,
        connection: int,
        text: bool,
    ) -> None:
        """Keep the frames of one read (``size``: their payload bytes) as :meth:`add` would
        one by one; two list extends when they fit under the limit."""
        held = self._held + size
        if held > self._cap:
            for payload, local_ns in zip(payloads, times, strict=True):
                self.add(payload, local_ns, connection, text)
            return
        self._held = held
        row = self._kept
        self._kept = row + len(payloads)
        self._parts += payloads
        self._times += times
        if connection != self._k_conn or text is not self._k_text:
            self._k_conn, self._k_text = connection, text
            self._k_changes.append((row, connection, text))
        if len(self._parts) > _JOIN_MASK:
            self._join()

    def _keep(self, payload: bytes, local_ns: int, connection: int, text: bool) -> int:
        """Keep one frame whatever the limit (a frame not understood)."""
        self._held += len(payload)
        row = self._kept
        self._kept = row + 1
        self._add_part(payload)
        self._add_time(local_ns)
        if connection != self._k_conn or text is not self._k_text:
            self._k_conn, self._k_text = connection, text
            self._k_changes.append((row, connection, text))
        return row

    def mark_error(self, row: int, payload: bytes) -> None:
        """Flag a frame as not understood (``row`` from :meth:`add`); keep its payload
        even past the limit."""
        if row >= 0:
            self.errors.append(row)
            return
        if self._last is None:  # pragma: no cover - add() always precedes
            return
        local_ns, connection, text = self._last
        # Undo the dropped entry add() just made, then keep the frame in full.
        index = self.dropped - 1
        self.dropped = index
        self._deltas.pop()
        self._bases.pop(index, None)
        if self._changes and self._changes[-1][0] == index:
            self._changes.pop()
            self._drop_key = self._changes[-1][1:] if self._changes else None
        self._drop_ns = self._dropped_time(index - 1) if index else 0
        row = self._keep(payload, local_ns, connection, text)
        self.errors.append(row)
        self._last = None

    def _dropped_time(self, index: int) -> int:
        """Receive time of one dropped frame (slow; used only after an undo)."""
        return int(self._dropped_times()[index])

    def _dropped_times(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        deltas = np.frombuffer(self._deltas, dtype=np.uint32).astype(np.int64)
        out = np.empty(len(deltas), dtype=np.int64)
        starts = sorted(self._bases)
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(deltas)
            segment = deltas[start:end].copy()
            segment[0] = self._bases[start]
            out[start:end] = np.cumsum(segment)
        return out

    def __len__(self) -> int:
        return self._kept + self.dropped

    @property
    def nbytes(self) -> int:
        """Bytes held (payloads + rows)."""
        return self._held + 12 * self._kept + len(self._deltas) * self._deltas.itemsize

    def columns(self) -> tuple[dict[str, Any], list[bytes]]:
        """Row columns (with the ``error`` flags set) and the payloads, in receive order."""
        self._join()
        k = self._kept
        error = np.zeros(k, dtype=bool)
        error[self.errors] = True
        size = np.frombuffer(self._k_size, dtype=np.int32).copy() if k else np.zeros(0, np.int32)
        offset = (np.cumsum(size, dtype=np.int64) - size) if k else np.zeros(0, np.int64)
        view = bytes(self.data)
        payloads = [view[o : o + s] for o, s in zip(offset.tolist(), size.tolist(), strict=True)]
        at = np.array([c[0] for c in self._k_changes], dtype=np.int64)
        pick = np.searchsorted(at, np.arange(k), side="right") - 1
        cols: dict[str, Any] = {
            "local_timestamp": (
                np.frombuffer(self._k_ns, dtype=np.int64).copy() if k else np.zeros(0, np.int64)
            ),
            "connection": np.array([c[1] for c in self._k_changes], dtype=np.int32)[pick],
            "offset": offset,
            "size": size,
            "text": np.array([c[2] for c in self._k_changes], dtype=bool)[pick],
            "error": error,
        }
        if not self.dropped:
            return cols, payloads
        n = self.dropped
        where = np.array([c[0] for c in self._changes], dtype=np.int64)
        pick = np.searchsorted(where, np.arange(n), side="right") - 1
        dropped = {
            "local_timestamp": self._dropped_times(),
            "connection": np.array([c[1] for c in self._changes], dtype=np.int32)[pick],
            "offset": np.zeros(n, dtype=np.int64),
            "size": np.zeros(n, dtype=np.int32),
            "text": np.array([c[2] for c in self._changes], dtype=bool)[pick],
            "error": np.zeros(n, dtype=bool),
        }
        order = np.argsort(
            np.concatenate([cols["local_timestamp"], dropped["local_timestamp"]]), kind="stable"
        )
        merged = {k: np.concatenate([cols[k], dropped[k]])[order] for k in cols}
        payloads += [b""] * n
        return merged, [payloads[i] for i in order.tolist()]
