"""Intervals and points in time, as researchers write them.

``parse_interval`` turns ``"1min"``, ``"1h"``, ``"1d"``, ``"1w"``, ``"1month"`` or
``60`` into a canonical :class:`Interval`; ``parse_time`` turns datetimes, pandas
Timestamps, ISO strings, epoch numbers (seconds or milliseconds) and phrases such
as ``"3 days ago"`` into a tz-aware UTC :class:`pandas.Timestamp`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument, UnknownInterval

__all__ = ["INTERVALS", "Interval", "parse_interval", "parse_time", "parse_range"]


@dataclass(frozen=True)
class Interval:
    """A bar interval.

    Attributes
    ----------
    name : str
        Canonical name: ``<n>s`` under a minute, ``<n>min`` under an hour and for
        ``60min``, ``<n>h`` for whole hours under a day, ``<n>day``, ``<n>week``,
        ``<n>month`` (the eight Crypto.com v1 names stay as they were: ``1min 5min
        15min 30min 60min 1day 1week 1month``).
    minutes : int
        Length in whole minutes (0 under a minute; a month counts 30 days, as
        Crypto.com's ``43200``).
    seconds : int
        Length in seconds.
    """

    name: str
    minutes: int
    seconds: int = 0

    def __post_init__(self) -> None:
        if not self.seconds:
            object.__setattr__(self, "seconds", self.minutes * 60)


_S_PER = {"s": 1, "min": 60, "h": 3600, "day": 86400, "week": 604800, "month": 2592000}
_UNITS: dict[str, str] = {
    "s": "s", "sec": "s", "second": "s", "seconds": "s",
    "m": "min", "min": "min", "mins": "min", "minute": "min", "minutes": "min", "t": "min",
    "h": "h", "hr": "h", "hour": "h", "hours": "h",
    "d": "day", "day": "day", "days": "day", "dutc": "day", "hutc": "h",
    "w": "week", "wk": "week", "week": "week", "weeks": "week", "wutc": "week",
    "mo": "month", "mon": "month", "month": "month", "months": "month", "mutc": "month",
}  # fmt: skip
_SPELLING = re.compile(r"^(\d+)\s*([a-z]*)$")


def _make(seconds: int) -> Interval:
    """The canonical interval of a length in seconds."""
    if seconds < 60:
        name = f"{seconds}s"
    elif seconds % 2592000 == 0:
        name = f"{seconds // 2592000}month"
    elif seconds % 604800 == 0:
        name = f"{seconds // 604800}week"
    elif seconds % 86400 == 0:
        name = f"{seconds // 86400}day"
    elif seconds % 3600 == 0 and seconds != 3600:
        name = f"{seconds // 3600}h"
    else:
        name = f"{seconds // 60}min" if seconds % 60 == 0 else f"{seconds}s"
    return Interval(name, seconds // 60, seconds)


#: Common intervals by canonical name (every venue has its own subset: see each venue's
#: ``intervals``); any other length is parsed too.
INTERVALS: dict[str, Interval] = {
    iv.name: iv for iv in (_make(s) for s in (60, 300, 900, 1800, 3600, 86400, 604800, 2592000))
}
#: Longest interval accepted (a year).
MAX_SECONDS = 366 * 86400


def _spellings() -> str:
    return (
        "a number and a unit such as 1s 1min 5m 15min 1h 4h 1d 1w 1M (month), "
        "or whole minutes as an integer (1, 5, 60, 1440...)"
    )


def parse_interval(interval: str | int | Interval) -> Interval:
    """Return the canonical interval for any accepted spelling.

    Parameters
    ----------
    interval : str, int or Interval
        A count and a unit: ``s sec``, ``m min minute``, ``h hour``, ``d day``,
        ``w week``, ``M mo mon month`` (case-insensitive, except ``1M`` = month and
        ``1m`` = minute; venue spellings such as Bitget's ``1H``, ``1Dutc`` and
        ``1Wutc`` are read too), or an integer number of minutes.
        Whether a venue has that interval is checked by the venue.

    Returns
    -------
    Interval

    Raises
    ------
    UnknownInterval
        For anything else; the message lists the valid spellings.

    Examples
    --------
    >>> parse_interval("1h").name
    '60min'
    >>> parse_interval("4H").name
    '4h'
    """
    if isinstance(interval, Interval):
        return interval
    seconds = 0
    if isinstance(interval, int) and not isinstance(interval, bool):
        seconds = interval * 60
    elif isinstance(interval, str):
        text = interval.strip().replace(" ", "")
        match = _SPELLING.match(text.lower())
        if match is not None:
            count, unit = int(match.group(1)), match.group(2) or "min"
            if text.endswith("M") and unit == "m":
                unit = "month"  # 1M is a month, 1m a minute
            canonical = _UNITS.get(unit)
            if canonical is not None:
                seconds = count * _S_PER[canonical]
    if not 0 < seconds <= MAX_SECONDS:
        raise UnknownInterval(f"unknown interval {interval!r}; valid: {_spellings()}")
    return _make(seconds)


_AGO = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*"
    r"(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|"
    r"d|day|days|w|wk|wks|week|weeks|mo|month|months|y|yr|yrs|year|years)\s+ago\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


#: The times pandas can hold in nanoseconds (1677-09-22 to 2262-04-11), the range of
#: every mdkit frame; a time outside it is refused, not wrapped or clipped.
_LOW = pd.Timestamp("1677-09-22", tz="UTC")
_HIGH = pd.Timestamp("2262-04-11", tz="UTC")


def _out_of_range(value: object) -> InvalidArgument:
    return InvalidArgument(
        f"cannot read {value!r} as a time: outside {_LOW:%Y-%m-%d} to {_HIGH:%Y-%m-%d}, "
        "the range of nanosecond timestamps"
    )


def _ago(amount: float, unit: str, now: pd.Timestamp, text: str) -> pd.Timestamp:
    unit = unit.lower()
    try:
        if unit.startswith("mo"):
            ts = now - pd.DateOffset(months=int(amount))
        elif unit.startswith("y"):
            ts = now - pd.DateOffset(years=int(amount))
        else:
            key = "m" if unit.startswith("mi") or unit == "m" else unit[0]
            ts = now - pd.Timedelta(seconds=amount * _UNIT_SECONDS[key])
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        # OutOfBoundsTimedelta is a ValueError; "year -997973 is out of range" too.
        raise _out_of_range(text) from exc
    return _checked(ts, text)


def _checked(ts: pd.Timestamp, value: object) -> pd.Timestamp:
    """A UTC timestamp inside the nanosecond range, else InvalidArgument."""
    if pd.isna(ts):
        raise InvalidArgument(f"cannot read {value!r} as a time (it is NaT: not a time)")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if not _LOW <= ts <= _HIGH:
        raise _out_of_range(value)
    try:
        ts = ts.as_unit("ns")  # datetimes far out come back in microseconds
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
        raise _out_of_range(value) from exc
    return ts


def parse_time(value: object, *, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Return a tz-aware UTC timestamp for any accepted way of writing a time.

    Parameters
    ----------
    value : datetime, date, pandas.Timestamp, str, int or float
        A datetime or Timestamp (naive ones are taken as UTC); an ISO string
        (``"2024-01-01"``, ``"2024-01-01 12:30"``, ``"2024-01-01T12:30:00+02:00"``);
        ``"now"``, ``"today"``, ``"yesterday"``; a phrase ``"<n> <unit> ago"``
        (seconds, minutes, hours, days, weeks, months, years); or an epoch number,
        read as seconds below 1e11 and as milliseconds from there up.
    now : pandas.Timestamp, optional
        The reference for relative phrases; the current time by default.

    Returns
    -------
    pandas.Timestamp
        tz-aware, UTC.

    Raises
    ------
    InvalidArgument
        When the value cannot be read as a time.

    Examples
    --------
    >>> parse_time(1700000000).isoformat()
    '2023-11-14T22:13:20+00:00'
    """
    ref = now if now is not None else pd.Timestamp.now(tz="UTC")
    if isinstance(value, bool | np.bool_) or value is None:
        raise InvalidArgument(f"cannot read {value!r} as a time")
    if isinstance(value, pd.Timestamp | datetime | date | np.datetime64):
        try:
            ts = pd.Timestamp(value)
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime) as exc:
            raise _out_of_range(value) from exc
        return _checked(ts, value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise InvalidArgument(
                f"cannot read {value!r} as a time: an epoch number must be finite and >= 0"
            )
        # Epoch seconds stay below 1e11 until the year 5138; ms are above it.
        ms = number * 1000 if number < 1e11 else number
        if ms > _HIGH.value // 1_000_000:
            raise _out_of_range(value)
        return _checked(pd.Timestamp(int(ms), unit="ms", tz="UTC"), value)
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered == "now":
            return ref
        if lowered == "today":
            return ref.normalize()
        if lowered == "yesterday":
            return ref.normalize() - pd.Timedelta(days=1)
        match = _AGO.match(text)
        if match:
            return _ago(float(match.group(1)), match.group(2), ref, value)
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return parse_time(float(text), now=ref)
        try:
            ts = pd.Timestamp(text)
        except (OverflowError, pd.errors.OutOfBoundsDatetime) as exc:
            raise _out_of_range(value) from exc
        except (ValueError, TypeError):
            raise InvalidArgument(
                f"cannot read {value!r} as a time; use a datetime, an ISO string such as "
                "'2024-01-01 12:00', an epoch number, or a phrase such as '3 days ago'"
            ) from None
        return _checked(ts, value)
    raise InvalidArgument(f"cannot read {value!r} ({type(value).__name__}) as a time")


def parse_range(
    start: object, end: object, *, now: pd.Timestamp | None = None
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """Parse an optional ``start``/``end`` pair and check that start comes first.

    Parameters
    ----------
    start, end : object or None
        Anything :func:`parse_time` accepts, or None for an open side.
    now : pandas.Timestamp, optional
        Reference for relative phrases.

    Returns
    -------
    tuple of (pandas.Timestamp or None, pandas.Timestamp or None)

    Raises
    ------
    InvalidArgument
        If a value cannot be read, or start is after end.
    """
    ref = now if now is not None else pd.Timestamp.now(tz="UTC")
    lo = None if start is None else parse_time(start, now=ref)
    hi = None if end is None else parse_time(end, now=ref)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgument(f"start {lo.isoformat()} is after end {hi.isoformat()}")
    return lo, hi
