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
    "dumps",
    "inflate",
    "loads",
    "to_float",
]

#: NaN, the missing value of float columns.
NAN: Final = float("nan")
#: Nanoseconds per millisecond (venue times are epoch ms).
MS: Final = 1_000_000
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
