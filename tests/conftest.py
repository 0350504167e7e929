"""Shared fixtures: the sandbox on port 0 (real sockets) and the recorded samples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mdkit.sandbox import Sandbox

SAMPLES = Path(__file__).parent / "samples"


class Clock:
    """A settable clock for a sandbox market (``Market(clock=Clock(t))``)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def load_samples(venue: str, name: str) -> dict[str, Any]:
    """Recorded samples (copied from shared/protocols/samples), by id."""
    doc = json.loads((SAMPLES / venue / name).read_text())
    return {s["id"]: s for s in doc["samples"]}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for the session; the MDKIT_* URLs point at it."""
    with Sandbox(seed=7) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _no_leftover_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults a test queued but did not consume must not leak into the next test."""
    sb = request.getfixturevalue("sandbox") if "sandbox" in request.fixturenames else None
    yield
    if isinstance(sb, Sandbox):
        for server in sb.servers.values():  # every venue's queued WS and HTTP faults
            server.clear_faults()
