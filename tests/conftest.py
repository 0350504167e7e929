"""Shared fixtures: the sandbox on port 0 (real sockets) and the recorded samples."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


@contextmanager
def tiny_server(handler: Callable[[Any], Any]) -> Iterator[str]:
    """A bare websockets server on its own thread; yields its ws:// URL."""
    from websockets.asyncio.server import serve

    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                state["port"] = server.sockets[0].getsockname()[1]
                state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await state["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield f"ws://127.0.0.1:{state['port']}"
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(5)
