"""Shared fixtures: the sandbox on port 0 (real sockets) and the recorded samples.

Parallel runs (``make test``: pytest-xdist ``-n 3``): each worker is its own process
with its own session sandbox on its own ports and its own ``MDKIT_*`` environment. A
module's tests stay on one worker (module fixtures such as a shared capture run once),
notebook tests by the notebook run they share; the slowest groups go first.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mdkit.sandbox import Market, Sandbox

SAMPLES = Path(__file__).parent / "samples"
#: Scales deadlines (and some time boxes); above 1 on a slow machine:
#: ``MDKIT_TEST_TIME_FACTOR=3 make test``.
FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))

#: Tests that share one notebook run (tests/test_notebooks.py runs each notebook once
#: per process): a parallel run keeps each set on one worker. Other notebook tests are
#: free; every other module stays on one worker (its module fixtures run once).
NOTEBOOK_RUNS = {
    "test_quickstart_notebook": "nb01",
    "test_streams_notebook": "nb02",
    "test_account_notebook": "nb03",
    "test_storage_notebook": "nb04",
    "test_research_notebook": "nb05",
    "test_research_notebook_finds_flow_moves_the_mid": "nb05",
    "test_sandbox_realism_notebook": "nb06",
    "test_sandbox_realism_notebook_finds_every_fact": "nb06",
}
#: The slowest groups, slowest first: a parallel run starts them first, so that no
#: worker is left with a long one at the end. Only the order changes, never what runs.
SLOW_FIRST = (
    "tests/test_soak.py",
    "nb05",
    "tests/test_readme.py",
    "nb06",
    "tests/store/test_recorder.py",
    "nb02",
    "nb01",
    "nb03",
    "nb04",
    "tests/test_plot.py",
    "tests/test_capture_bitget.py",
    "tests/test_hardening.py",
)


def scope(nodeid: str) -> str:
    """The group a test runs in under pytest-xdist (see ``pytest_xdist_make_scheduler``)."""
    module, _, name = nodeid.partition("::")
    if module.endswith("tests/test_notebooks.py"):
        return NOTEBOOK_RUNS.get(name.split("[", 1)[0], nodeid)
    return module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the slowest groups first (a stable sort: the rest keeps collection order)."""
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(scope(item.nodeid), len(rank)))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook (the test extra installs it)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``make test`` (``-n 3``): hand out whole groups (:func:`scope`), slowest first."""
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return scope(nodeid)

    return GroupScheduling(config, log)


class Clock:
    """A settable clock for a sandbox market (``Market(clock=Clock(t))``)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def with_sigint(disposition: Any) -> dict[str, Any]:
    """``subprocess.Popen`` arguments starting the child with SIGINT set to ``disposition``.

    A shell without job control starts a background command (``make test &``) with SIGINT
    ignored, every child inherits that, and Python then installs no KeyboardInterrupt
    handler: a test that sends SIGINT would wait for nothing (this is what made two CLI
    tests time out in one background run). ``SIG_DFL`` is a terminal's Ctrl-C; ``SIG_IGN``
    a script's background job.
    """
    return {"preexec_fn": lambda: signal.signal(signal.SIGINT, disposition)}


#: A child that Ctrl-C (SIGINT) stops as at a terminal.
INTERRUPTIBLE: dict[str, Any] = with_sigint(signal.SIG_DFL)


def wait_or_dump(proc: subprocess.Popen[Any], seconds: float) -> int | None:
    """Wait ``seconds`` for ``proc`` to exit; if it has not, SIGABRT it (with
    ``PYTHONFAULTHANDLER`` set, every thread's stack goes to its stderr) and wait 10 s
    more. Returns its exit code (None if it is still running)."""
    try:
        return proc.wait(seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
    try:
        return proc.wait(10)
    except subprocess.TimeoutExpired:
        return None


def wait_for(condition: Callable[[], Any], seconds: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it is truthy (returned) or ``seconds * FACTOR`` pass."""
    deadline = time.monotonic() + seconds * FACTOR
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {seconds * FACTOR:g} s: {what or condition}")
        time.sleep(0.01)


def capture_until(
    done: Callable[[dict[str, Any]], bool],
    venue: Any,
    symbols: Any = None,
    channels: Any = None,
    *,
    seconds: float = 30.0,
    **options: Any,
) -> Any:
    """``mdkit.capture`` that ends as soon as ``done(cap.stats)`` holds (checked every 50 ms).

    ``seconds * FACTOR`` is a deadline, not a time box: a capture that reaches it
    without ``done`` fails the test (with its stats). The capture's outcome is
    ``"completed"``, as at the end of a time box.
    """
    from mdkit.capture import Capture
    from mdkit.engine import runner
    from mdkit.engine.plan import plan, take_credentials
    from mdkit.engine.stream import Engine

    url, urls = options.pop("url", None), options.pop("urls", None)
    secrets = take_credentials(options)
    engine = Engine.from_plan(
        plan(venue, symbols, channels, seconds * FACTOR, None, url, urls, options, secrets)
    )
    finished, met = threading.Event(), threading.Event()

    def watch() -> None:
        while not finished.wait(0.05):
            try:
                ready = done(Capture(engine).stats)
            except (RuntimeError, KeyError):  # counters changed under us: look again
                continue
            if ready:
                met.set()
                engine.stop("completed")
                return

    watcher = threading.Thread(target=watch, name="capture-until", daemon=True)
    watcher.start()
    try:
        runner.run(engine.run())
    finally:
        finished.set()
        watcher.join(5)
    cap = Capture(engine)
    assert met.is_set(), f"not met within {seconds * FACTOR:g} s: {cap.stats}"
    return cap


@contextmanager
def trading(
    sb: Sandbox | Market,
    venue: str,
    symbols: Sequence[str],
    *,
    every: float = 0.2,
) -> Iterator[list[dict[str, Any]]]:
    """Print a trade on each of ``venue``'s ``symbols`` every ``every`` s inside the block.

    ``sb`` is a Sandbox, or a bare Market that a test serves on its own host.

    The trades are made (``sb.push_trade``), not awaited from the random tape: a
    capture that runs inside the block receives some on every trade subscription that
    lived longer than ``every`` plus one server tick. Rounds cycle buy, sell, larger
    buy, larger sell (the symbol's median size, then three times it). Yields the pushed
    trades (the dicts ``push_trade`` returns, with ``symbol``), in order.
    """
    pushed: list[dict[str, Any]] = []
    stop = threading.Event()
    view = (sb.market if isinstance(sb, Sandbox) else sb).venue(venue)
    sizes = {s: view.instruments[s].size for s in symbols}

    def run() -> None:
        n = 0
        while True:
            side = ("buy", "sell")[n % 2]
            scale = (1, 3)[n // 2 % 2]
            for symbol in symbols:
                amount = sizes[symbol] * scale
                if isinstance(sb, Sandbox):
                    trade = sb.push_trade(venue, symbol, side=side, amount=amount)
                else:  # a bare Market (a server on its own host)
                    trade = view.push_trade(symbol, side=side, amount=amount)
                pushed.append({**trade, "symbol": symbol})
            n += 1
            if stop.wait(every):
                return

    thread = threading.Thread(target=run, name=f"trading-{venue}", daemon=True)
    thread.start()
    try:
        yield pushed
    finally:
        stop.set()
        thread.join(5)


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
