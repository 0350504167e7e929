"""Intervals and points in time, as researchers write them.

``parse_interval`` turns ``"1min"``, ``"1h"``, ``"1d"``, ``"1w"``, ``"1month"`` or
``60`` into a canonical :class:`Interval`; ``parse_time`` turns datetimes, pandas
Timestamps, ISO strings, epoch numbers (seconds or milliseconds) and phrases such
as ``"3 days ago"`` into a tz-aware UTC :class:`pandas.Timestamp`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from mdkit.errors import InvalidArgument, UnknownInterval

__all__ = ["INTERVALS", "Interval", "parse_interval", "parse_time", "parse_range"]


@dataclass(frozen=True)
class Interval:
    """A bar interval.

    Attributes
    ----------
    name : str
        Canonical name, one of ``1min 5min 15min 30min 60min 1day 1week 1month``.
    minutes : int
        Length in minutes (a month counts 30 days, as the venue's ``43200``).
    """

    name: str
    minutes: int

    @property
    def seconds(self) -> int:
        """Length in seconds."""
        return self.minutes * 60


#: The canonical intervals, as Crypto.com v1 names them (WS tokens), with minutes
#: as its REST ``period`` parameter wants them (doc: "Get k-line data").
INTERVALS: dict[str, Interval] = {
    name: Interval(name, minutes)
    for name, minutes in (
        ("1min", 1),
        ("5min", 5),
        ("15min", 15),
        ("30min", 30),
        ("60min", 60),
        ("1day", 1440),
        ("1week", 10080),
        ("1month", 43200),
    )
}

_ALIASES: dict[str, str] = {
    "1m": "1min",
    "5m": "5min",
    "15m": "15min",
    "30m": "30min",
    "60m": "60min",
    "1h": "60min",
    "1hour": "60min",
    "1d": "1day",
    "1w": "1week",
    "1mon": "1month",
    "1mo": "1month",
}
_BY_MINUTES = {iv.minutes: iv for iv in INTERVALS.values()}


def _spellings() -> str:
    names = list(INTERVALS) + ["1h", "1d", "1w", "1M"]
    return (
        ", ".join(names) + ", or minutes as an integer (" + ", ".join(map(str, _BY_MINUTES)) + ")"
    )


def parse_interval(interval: str | int | Interval) -> Interval:
    """Return the canonical interval for any accepted spelling.

    Parameters
    ----------
    interval : str, int or Interval
        ``1min 5min 15min 30min 60min 1h 1day 1d 1week 1w 1month 1M`` (case-insensitive
        except ``1M`` = month, ``1m`` = minute), or an integer number of minutes
        among 1, 5, 15, 30, 60, 1440, 10080, 43200.

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
    """
    if isinstance(interval, Interval):
        return interval
    if isinstance(interval, bool):
        raise UnknownInterval(f"unknown interval {interval!r}; valid: {_spellings()}")
    if isinstance(interval, int):
        if interval in _BY_MINUTES:
            return _BY_MINUTES[interval]
        raise UnknownInterval(f"unknown interval {interval!r} minutes; valid: {_spellings()}")
    if isinstance(interval, str):
        text = interval.strip()
        if text == "1M":
            return INTERVALS["1month"]
        key = text.lower().replace(" ", "")
        key = _ALIASES.get(key, key)
        if key in INTERVALS:
            return INTERVALS[key]
        if key.isdigit() and int(key) in _BY_MINUTES:
            return _BY_MINUTES[int(key)]
    raise UnknownInterval(f"unknown interval {interval!r}; valid: {_spellings()}")


_AGO = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*"
    r"(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|"
    r"d|day|days|w|wk|wks|week|weeks|mo|month|months|y|yr|yrs|year|years)\s+ago\s*$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _ago(amount: float, unit: str, now: pd.Timestamp) -> pd.Timestamp:
    unit = unit.lower()
    if unit.startswith("mo"):
        return now - pd.DateOffset(months=int(amount))
    if unit.startswith("y"):
        return now - pd.DateOffset(years=int(amount))
    key = "m" if unit.startswith("mi") or unit == "m" else unit[0]
    return now - pd.Timedelta(seconds=amount * _UNIT_SECONDS[key])


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
    if isinstance(value, bool) or value is None:
        raise InvalidArgument(f"cannot read {value!r} as a time")
    if isinstance(value, pd.Timestamp | datetime | date):
        ts = pd.Timestamp(value)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if isinstance(value, int | float):
        number = float(value)
        if number != number or number < 0:
            raise InvalidArgument(f"cannot read {value!r} as a time")
        # Epoch seconds stay below 1e11 until the year 5138; ms are above it.
        unit = "s" if number < 1e11 else "ms"
        return pd.Timestamp(int(number * 1000) if unit == "s" else int(number), unit="ms", tz="UTC")
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
            return _ago(float(match.group(1)), match.group(2), ref)
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return parse_time(float(text), now=ref)
        try:
            ts = pd.Timestamp(text)
        except (ValueError, TypeError) as exc:
            raise InvalidArgument(
                f"cannot read {value!r} as a time; use a datetime, an ISO string such as "
                "'2024-01-01 12:00', an epoch number, or a phrase such as '3 days ago'"
            ) from exc
        if pd.isna(ts):
            raise InvalidArgument(f"cannot read {value!r} as a time")
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
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
