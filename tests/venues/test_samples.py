"""Every recorded frame in tests/samples/<venue>/ through its venue's session.

The expected rows, counters and events are stored beside the samples
(``expected_sessions.json``); frames from independent sources (ccxt's handler comments,
another client's tests of a live capture) are inline there with their provenance.
"""

from __future__ import annotations

from typing import Any

import pytest

from mdkit.venues import venue_keys
from tests.venues.sample_sessions import FOLDERS, expected, frames_of, run_case

CASES = [(venue, case) for venue in venue_keys() for case in expected(venue)["cases"]]


def test_every_venue_has_samples_and_every_frame_is_fed() -> None:
    assert set(FOLDERS) == set(venue_keys())
    for venue in venue_keys():
        doc = expected(venue)
        fed = {name for case in doc["cases"] for name in case["frames"] if "#" in name}
        skipped = set(doc["not_server_frames"])
        assert fed | skipped == set(frames_of(venue)), venue
        assert not fed & skipped, venue


def test_independent_frames_say_where_they_come_from() -> None:
    for venue, case in CASES:
        for name, frame in case.get("inline", {}).items():
            assert frame["provenance"] and frame["source"] and frame["raw"], (venue, name)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, int | float):
        return got == pytest.approx(want, rel=1e-12, abs=0.0)
    if isinstance(want, dict) and isinstance(got, dict):
        # A column the venue does not send is left out of the frame (None expected).
        sent = {k for k, v in want.items() if v is not None or k in got}
        return got.keys() == sent and all(_same(got[k], want[k]) for k in sent)
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w) for g, w in zip(got, want, strict=True))
    return bool(got == want)


@pytest.mark.parametrize(("venue", "case"), CASES, ids=[f"{v}-{c['id']}" for v, c in CASES])
def test_frames_give_the_expected_rows(venue: str, case: dict[str, Any]) -> None:
    got = run_case(venue, case, frames_of(venue))
    want = case["expect"]
    for part in ("counters", "events", "protocol_errors", "drift"):
        assert got[part] == want[part], part
    assert got["rows"].keys() == want["rows"].keys()
    for kind, summary in want["rows"].items():
        assert _same(got["rows"][kind], summary), (kind, got["rows"][kind], summary)
