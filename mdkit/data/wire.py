"""Small wire helpers every venue module shares: JSON, numbers, times, bounded inflate.

The venue modules (:mod:`mdkit.venues`) read JSON with orjson, turn the venues'
string numbers into floats (``""`` and ``None`` are NaN), times into epoch
nanoseconds, and inflate compressed frames. They take these from here, so a fix
(the inflate cap) lands once.
"""

from __future__ import annotations

import zlib
from typing import Any, Final

import orjson

from mdkit.errors import ProtocolError

__all__ = [
    "DEFAULT_MAX_FRAME",
    "MS",
    "NAN",
    "NO_TIME",
    "decode_payload",
    "dumps",
    "inflate",
    "loads",
    "to_float",
]

#: NaN, the missing value of float columns.
NAN: Final = float("nan")
#: Nanoseconds per millisecond (venue times are epoch ms).
MS: Final = 1_000_000
#: ``timestamp`` of a row whose venue sent no event time (NaT in the frames).
NO_TIME: Final = -(2**63)
#: Bytes one frame may inflate to (the ``max_frame`` capture option's default, 8 MiB).
DEFAULT_MAX_FRAME: Final = 8 * 2**20

loads = orjson.loads


def dumps(obj: Any) -> str:
    """JSON text of ``obj`` (compact, orjson)."""
    return orjson.dumps(obj).decode()


def to_float(value: Any) -> float:
    """A venue number as float; ``None`` and ``""`` are NaN (raises on anything else)."""
    return NAN if value is None or value == "" else float(value)


def inflate(data: bytes, wbits: int = 31, limit: int = DEFAULT_MAX_FRAME) -> bytes:
    """Inflate gzip (``wbits=31``) or zlib/deflate data to at most ``limit`` bytes.

    Parameters
    ----------
    data : bytes
        The compressed frame.
    wbits : int
        As :func:`zlib.decompressobj` takes it (31 gzip, 15 zlib, -15 raw deflate,
        47 either gzip or zlib).
    limit : int
        Most bytes the output may hold.

    Returns
    -------
    bytes
        The inflated data.

    Raises
    ------
    ProtocolError
        If the data is not valid compressed data, or inflates past ``limit`` (a
        compression bomb never gets more than ``limit + 1`` bytes of memory).
    """
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise ProtocolError(f"frame is not valid compressed data: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ProtocolError(
            f"frame inflates past max_frame={limit:,} bytes ({len(data):,} bytes compressed)"
        )
    if not inflater.eof:
        raise ProtocolError("frame is not valid compressed data: truncated stream")
    return out


def decode_payload(payload: bytes) -> str:
    """A raw frame as readable text: gzip or zlib/deflate inflated, then UTF-8.

    Venues compress binary frames with gzip (Crypto.com v1, doc "WebSocket") or
    raw deflate; a frame that is none of these is shown with undecodable bytes
    replaced (U+FFFD), never dropped.

    Parameters
    ----------
    payload : bytes
        The frame as received (empty when past the capture's ``raw_limit``).

    Returns
    -------
    str
    """
    if not payload:
        return ""
    data = bytes(payload)
    if data[:2] == b"\x1f\x8b":
        data = _inflate(data, 31)
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            data = _inflate(data, 15 if data[:1] == b"\x78" else -15)
    return data.decode("utf-8", "replace")


def _inflate(data: bytes, wbits: int) -> bytes:
    # Bounded like the capture's own inflate: a compression bomb kept in .raw is
    # shown as received, never inflated past the cap.
    try:
        return inflate(data, wbits, DEFAULT_MAX_FRAME)
    except ProtocolError:
        return data
