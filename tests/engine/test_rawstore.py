"""RawStore: kept and dropped frames come back as one row per frame, in receive order."""

from __future__ import annotations

import numpy as np

from mdkit.engine.raw import RawStore


def test_dropped_frames_keep_time_connection_and_order() -> None:
    raw = RawStore(limit_bytes=6)
    t0 = 1_700_000_000_000_000_000
    times = [t0, t0 + 5, t0 + 10, t0 + 10 + 2**33, t0 + 11 + 2**33, t0 + 20 + 2**33]
    frames = [b"abc", b"de", b"fgh", b"ij", b"kk", b"bad"]
    texts = [False, True, False, True, False, False]
    conns = [1, 1, 1, 2, 2, 2]
    rows = [raw.add(f, t, c, x) for f, t, c, x in zip(frames, times, conns, texts, strict=True)]
    assert rows[:2] == [0, 1] and rows[2:] == [-1, -1, -1, -1]
    raw.mark_error(rows[-1], frames[-1])  # past the limit, but kept: not understood
    cols, payloads = raw.columns()
    assert len(raw) == 6 and raw.dropped == 3
    np.testing.assert_array_equal(cols["local_timestamp"], times)
    assert cols["connection"].tolist() == conns
    assert cols["text"].tolist() == [False, True, False, True, False, False]
    assert cols["error"].tolist() == [False, False, False, False, False, True]
    assert cols["size"].tolist() == [3, 2, 0, 0, 0, 3]
    assert payloads == [b"abc", b"de", b"", b"", b"", b"bad"]


def test_no_limit_keeps_everything() -> None:
    raw = RawStore(None)
    for i in range(3000):
        raw.add(b"x" * (i % 5), 10 + i, 1, False)
    cols, payloads = raw.columns()
    assert raw.dropped == 0 and len(payloads) == 3000
    assert payloads[7] == b"xx" and cols["size"][7] == 2
