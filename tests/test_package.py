"""Package-level promises: exports, lazy imports, the command line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import mdkit
from tests.conftest import wait_or_dump, with_sigint


def test_public_names_are_exported() -> None:
    for name in [
        "klines",
        "trades",
        "depth",
        "tickers",
        "ticker",
        "prices",
        "symbols",
        "MdkitError",
        "VenueError",
        "errors",
        "read_parquet",
        "record",
        "replay",
    ]:
        assert name in mdkit.__all__ and hasattr(mdkit, name)


def test_every_error_class_is_importable_from_mdkit() -> None:
    for name in mdkit.errors.__all__:
        assert name in mdkit.__all__, name
        assert getattr(mdkit, name) is getattr(mdkit.errors, name)


def test_errors_inherit_the_builtin_they_resemble() -> None:
    assert issubclass(mdkit.errors.UnknownInterval, ValueError)
    assert issubclass(mdkit.errors.NetworkError, ConnectionError)
    assert issubclass(mdkit.errors.AuthError, PermissionError)
    assert issubclass(mdkit.errors.AuthError, mdkit.MdkitError)


#: Loaded on first use, never by ``import mdkit`` (the import budget, issue 21: checked
#: by the module list, not by a timing).
FIRST_USE = ("asyncio", "ssl", "difflib", "html", "matplotlib", "websockets", "requests",
             "tqdm", "picows", "pyarrow", "orjson")  # fmt: skip


def test_import_does_not_load_heavy_or_network_modules() -> None:
    code = f"import sys, mdkit; print(sorted(m for m in {FIRST_USE!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_load_on_first_use_and_stay_functions() -> None:
    # Importing the submodules mdkit.capture / mdkit.request (as mdkit.record and
    # mdkit.klines do) must not hide the functions of the same name.
    code = (
        "import sys, mdkit, mdkit.capture, mdkit.request, mdkit.store.recorder; "
        "assert 'asyncio' in sys.modules; "
        "print(mdkit.capture is sys.modules['mdkit.capture'].capture, "
        "mdkit.request is sys.modules['mdkit.request'].request, "
        "mdkit.klines.__module__, type(mdkit.plot).__name__, 'klines' in dir(mdkit), "
        "mdkit.venues.get_venue('bitget').key, hasattr(mdkit, 'no_such_name'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [
        "True", "True", "mdkit.marketdata", "module", "True", "bitget", "False"
    ]  # fmt: skip


def test_demo_runs_against_the_sandbox() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mdkit", "demo"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    from mdkit.venues import get_venue, venue_keys

    for text in ("klines", "trades", "depth", "UnknownSymbol"):
        assert text in out.stdout, text
    for key in venue_keys():  # every venue of the registry, with its example symbols
        assert f"-- {key}: " in out.stdout, key
        for symbol in get_venue(key).example_symbols[:2]:
            assert symbol in out.stdout, (key, symbol)
    assert "e+0" not in out.stdout and "e-0" not in out.stdout  # no scientific notation
    assert "('price'" not in out.stdout and "('amount'" not in out.stdout  # no tuple headers


@contextmanager
def sandbox_command(sigint: Any) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``python -m mdkit sandbox`` started with SIGINT set to ``sigint``, and its banner
    (every line up to the one that says what stops it); killed at the end if still running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mdkit", "sandbox"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"},
        **with_sigint(sigint),
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not (lines and " stops it" in lines[-1]) and time.monotonic() < deadline:
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sandbox_command_serves_until_interrupted() -> None:
    # SIGINT as at a terminal: a background run of the suite starts children with it ignored
    with sandbox_command(signal.SIG_DFL) as (proc, lines):
        # a shell can eval it as it is: comments and export lines only
        assert all(line.startswith(("# ", "export MDKIT_")) for line in lines), lines
        assert lines[-1] == f"# Ctrl-C or kill {proc.pid} stops it."
        url = next(x for x in lines if x.startswith("export MDKIT_CRYPTOCOM_REST_URL="))
        assert url.endswith("/cryptocom")
        assert len(mdkit.symbols(url=url.split("=", 1)[1])) == 8
        proc.send_signal(signal.SIGINT)
        if wait_or_dump(proc, 10) != 0:
            raise AssertionError(
                f"no clean exit 10 s after SIGINT:\n{proc.communicate(timeout=10)[1]}"
            )


def test_sandbox_command_stops_on_kill_even_with_sigint_ignored() -> None:
    # A script's `mdkit sandbox &` runs with SIGINT ignored: it says so, and `kill` stops it.
    with sandbox_command(signal.SIG_IGN) as (proc, lines):
        assert (
            lines[-1] == f"# kill {proc.pid} stops it (SIGINT is ignored in this background job)."
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.communicate(timeout=10)[0] == "# stopping\n"
