from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from mdkit.data.timeparse import INTERVALS, parse_interval, parse_range, parse_time
from mdkit.errors import InvalidArgument, UnknownInterval

NOW = pd.Timestamp("2024-03-10 12:00:00", tz="UTC")


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("1min", "1min"),
        ("5min", "5min"),
        ("15min", "15min"),
        ("30min", "30min"),
        ("60min", "60min"),
        ("1h", "60min"),
        ("1H", "60min"),
        ("1day", "1day"),
        ("1d", "1day"),
        ("1week", "1week"),
        ("1w", "1week"),
        ("1month", "1month"),
        ("1M", "1month"),
        ("1m", "1min"),
        (" 15MIN ", "15min"),
        (1, "1min"),
        (60, "60min"),
        (1440, "1day"),
        (10080, "1week"),
        (43200, "1month"),
        ("1440", "1day"),
        # Other venues' intervals (Bitget 4H/6Hutc/1Dutc, BitTap 3m/2h/8h/3d): any length
        ("3m", "3min"),
        ("4H", "4h"),
        ("2h", "2h"),
        ("8h", "8h"),
        ("3d", "3day"),
        ("1Dutc", "1day"),
        ("6Hutc", "6h"),
        ("1Wutc", "1week"),
        ("1s", "1s"),
        (2, "2min"),
    ],
)
def test_every_documented_interval_spelling(spelling: str | int, name: str) -> None:
    assert parse_interval(spelling).name == name


def test_interval_minutes_match_the_rest_period_table() -> None:
    assert [iv.minutes for iv in INTERVALS.values()] == [1, 5, 15, 30, 60, 1440, 10080, 43200]


@pytest.mark.parametrize(
    "bad", ["1y", "", "abc", "0min", "-1m", "1.5h", 0, -5, 10**9, True, None, 1.5, "2 fortnights"]
)
def test_unknown_interval_lists_valid_choices(bad: object) -> None:
    with pytest.raises(UnknownInterval) as info:
        parse_interval(bad)  # type: ignore[arg-type]
    assert "1min" in str(info.value) and "1M (month)" in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2024, 1, 1), "2024-01-01T00:00:00+00:00"),
        (datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), "2024-01-01T00:00:00+00:00"),
        (pd.Timestamp("2024-01-01 05:00"), "2024-01-01T05:00:00+00:00"),
        ("2024-01-01", "2024-01-01T00:00:00+00:00"),
        ("2024-01-01 12:30", "2024-01-01T12:30:00+00:00"),
        ("2024-01-01T12:30:00+02:00", "2024-01-01T10:30:00+00:00"),
        (1700000000, "2023-11-14T22:13:20+00:00"),
        (1700000000.5, "2023-11-14T22:13:20.500000+00:00"),
        (1700000000123, "2023-11-14T22:13:20.123000+00:00"),
        ("1700000000", "2023-11-14T22:13:20+00:00"),
        ("now", "2024-03-10T12:00:00+00:00"),
        ("today", "2024-03-10T00:00:00+00:00"),
        ("yesterday", "2024-03-09T00:00:00+00:00"),
        ("3 days ago", "2024-03-07T12:00:00+00:00"),
        ("90 minutes ago", "2024-03-10T10:30:00+00:00"),
        ("2 hours ago", "2024-03-10T10:00:00+00:00"),
        ("1 week ago", "2024-03-03T12:00:00+00:00"),
        ("1 month ago", "2024-02-10T12:00:00+00:00"),
        ("30s ago", "2024-03-10T11:59:30+00:00"),
    ],
)
def test_times_in_every_accepted_form(value: object, expected: str) -> None:
    ts = parse_time(value, now=NOW)
    assert ts.tzinfo is not None and str(ts.tz) == "UTC"
    assert ts.isoformat() == expected


def test_aware_datetime_in_utc_passes_through() -> None:
    assert parse_time(datetime(2024, 1, 1, tzinfo=UTC)) == pd.Timestamp("2024-01-01", tz="UTC")


@pytest.mark.parametrize("bad", ["soon", "3 parsecs ago", None, True, -5, float("nan"), [1]])
def test_unreadable_times_raise(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_time(bad, now=NOW)


def test_range_order_is_checked() -> None:
    assert parse_range("2024-01-01", None, now=NOW)[1] is None
    with pytest.raises(InvalidArgument, match="after end"):
        parse_range("2024-02-01", "2024-01-01", now=NOW)
