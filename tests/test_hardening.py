"""Property-based hardening harness over every public call (issue 13).

Targets are discovered, not listed: ``mdkit.__all__`` (functions, and classes users
build), ``mdkit.plot.__all__``, :class:`mdkit.sandbox.Sandbox`, the methods of an
``Account`` and of a ``Capture``, the CLI, and for every venue in the registry
``capture``/``acapture``/``request`` with its own symbols, channels and options. New
functions and venues join without editing this file: arguments are generated from
each parameter's name and annotation, with generic junk for anything unknown.

The property, for every generated call:

- it returns, or raises an :class:`mdkit.MdkitError` subclass, within a time bound;
- an argument error (``InvalidArgument`` except ``UnknownSymbol``, ``TradingDisabled``,
  missing credentials) leaves 0 connections on the listener every ``MDKIT_*`` URL
  points at;
- a value of a plainly wrong type for its annotation (a list for a ``str``, None for
  a non-optional number...) is refused that way, never accepted and never sent.

``MDKIT_HARDENING_EXAMPLES`` raises the examples per target (default 20) to explore
further; runs are derandomized so the suite is repeatable.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdkit
import mdkit.plot
from mdkit.errors import AuthError, InvalidArgument, MdkitError, TradingDisabled, UnknownSymbol
from mdkit.venues import get_venue, venue_keys
from tests.hardening_support import Listener, bounded, pointed_at, type_verdict

EXAMPLES = int(os.environ.get("MDKIT_HARDENING_EXAMPLES", "20"))
BOUND = 12.0  # seconds one call may take (its own time box included)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# -- junk ------------------------------------------------------------------------------
ODD_TEXT = [
    "",
    " ",
    "\x00",
    "\n\t",
    "🙂",
    "ß",
    "İ",
    "\u202e" + "tdsucb",
    "ｂｔｃｕｓｄｔ",
    "btc/usdt/",
    "a" * 10_000,
    "%s%n",
    "'; DROP TABLE",
    "../../etc/passwd",
    "nan",
    "-inf",
    "1e400",
]
FAR_TIMES: list[Any] = [
    float("inf"),
    float("-inf"),
    float("nan"),
    1e30,
    -1e30,
    -1,
    2**63,
    10**20,
    "0001-01-01",
    "9999-12-31",
    "1677-09-21",
    "2262-04-12",
    "99999999999 days ago",
    "999999 years ago",
    "1e9 seconds ago",
    "3 fortnights ago",
    "0 days ago",
    "now",
    "tomorrow",
    pd.NaT,
    np.datetime64("NaT"),
    datetime(1, 1, 1),
    datetime(9999, 12, 31, 23, 59),
    date(1, 1, 1),
    pd.Timestamp.min,
    pd.Timestamp.max,
    timedelta(days=-1),
    np.int64(1_700_000_000),
    np.float64("nan"),
]
SPECIAL: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    -(2**63),
    10**30,
    1e30,
    -1e30,
    math.nan,
    math.inf,
    -math.inf,
    1e-300,
    np.nan,
    np.int64(-5),
    np.float64("inf"),
    Decimal("NaN"),
    Decimal("1e999"),
    complex(1, 1),
    b"bytes",
    bytearray(b"x"),
    [],
    (),
    {},
    set(),
    [None],
    [[]],
    list(range(100_000)),
    {"a": object()},
    object(),
    float,
    print,
    pd.DataFrame(),
    pd.Series(dtype="float64"),
    np.array([1.0, np.nan]),
    *ODD_TEXT,
    *FAR_TIMES,
]


def junk() -> st.SearchStrategy[Any]:
    """Wrong types, None, NaN, ±inf, huge/negative numbers, odd text and collections."""
    scalar = st.one_of(
        st.sampled_from(SPECIAL),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=30),
        st.binary(max_size=8),
    )
    return st.one_of(
        scalar,
        st.lists(scalar, max_size=4),
        st.tuples(scalar, scalar),
        st.dictionaries(st.text(max_size=5), scalar, max_size=3),
    )


def klines_frame(n: int, *, nan: bool = False) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC", name="timestamp")
    values = np.linspace(100, 101, n) if n else np.empty(0)
    if nan and n:
        values[0] = np.nan
    return pd.DataFrame(
        {
            "open": values,
            "high": values + 1,
            "low": values - 1,
            "close": values,
            "volume": values,
            "closed": np.ones(n, bool),
        },
        index=index,
    )


def book_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "side": pd.Categorical(["bid", "ask"] * n, categories=["bid", "ask"]),
            "level": np.repeat(np.arange(n), 2),
            "price": np.arange(2 * n, dtype="float64"),
            "amount": np.ones(2 * n),
        }
    )


FRAMES = [
    klines_frame(5),
    klines_frame(1),
    klines_frame(0),
    klines_frame(3, nan=True),
    book_frame(3),
    book_frame(0),
    pd.DataFrame({"open": ["a", "b"]}),
    pd.DataFrame({"x": [1]}),
    klines_frame(4).reset_index(),
]


# -- per-parameter strategies ------------------------------------------------------------
def valid_for(name: str, annotation: str, *, venue: str = "cryptocom") -> st.SearchStrategy[Any]:
    """Values that may be valid for a parameter, by its name (then its annotation)."""
    descriptor = get_venue(venue)
    symbols = list(descriptor.example_symbols) or ["btcusdt"]
    if name in ("symbol",):
        return st.sampled_from([*symbols, "BTC/USDT", "ethusdt", "nosuchcoin"])
    if name == "symbols":
        return st.one_of(st.sampled_from(symbols), st.lists(st.sampled_from(symbols), max_size=3))
    if name == "channels":
        chans = [*descriptor.channels, "klines:1min", "book:5"]
        return st.one_of(st.sampled_from(chans), st.lists(st.sampled_from(chans), max_size=3))
    if name == "interval":
        return st.sampled_from(["1min", "5min", "1h", "1d", "1w", "1M", 60, "7min", "0min"])
    if name in ("start", "end"):
        return st.sampled_from(
            ["2 days ago", "1 hour ago", "2024-01-01", 1_700_000_000, "now", None]
        )
    if name in ("seconds", "timeout", "silence_timeout", "open_timeout"):
        return st.sampled_from([0.2, 0.3, 1])
    if name in ("venue",):
        return st.sampled_from(venue_keys())
    if name in ("method",):
        return st.sampled_from([*descriptor.requests, "time"])
    if name in ("side",):
        return st.sampled_from(["buy", "sell", "BUY"])
    if name in ("type",):
        return st.sampled_from(["limit", "market"])
    if name in ("amount", "price"):
        return st.sampled_from([0.01, "0.5", 60000, 1])
    if name in ("order_id",):
        return st.sampled_from([1, 8001, "17", 17.0])
    if name in ("levels", "limit", "max_pages", "page_size", "step", "max_messages"):
        return st.sampled_from([1, 2, 5, 10])
    if name in ("df", "book"):
        return st.sampled_from(FRAMES)
    if name in ("url",):
        return st.just(LISTENER_URL)
    if name in ("api_key", "secret_key", "passphrase", "token"):
        return st.sampled_from(["key", "secret"])
    if name in ("trading", "volume", "set_env", "progress"):
        return st.booleans()
    if name in ("kind",):
        from mdkit.data.tables import STREAM_KINDS

        return st.sampled_from(list(STREAM_KINDS))
    if "int" in annotation:
        return st.integers(min_value=0, max_value=10)
    if "float" in annotation:
        return st.floats(min_value=0.1, max_value=1.0)
    if "bool" in annotation:
        return st.booleans()
    if "str" in annotation:
        return st.text(max_size=10)
    return junk()


class _ListenerUrl:
    """Placeholder for "a well-formed URL of the listener" (filled in at call time)."""

    def __repr__(self) -> str:
        return "<listener url>"


LISTENER_URL = _ListenerUrl()
_TIMEBOX = ("seconds", "timeout", "silence_timeout", "open_timeout", "duration", "minutes")


def _bounded_timebox(name: str, value: Any) -> Any:
    """Keep a generated time box that a function would accept short (0.3 s)."""
    if name in _TIMEBOX and isinstance(value, int | float) and not isinstance(value, bool):
        if 0.3 < value <= 10**9:
            return 0.3
    return value


def param_strategy(p: inspect.Parameter, *, venue: str = "cryptocom") -> st.SearchStrategy[Any]:
    annotation = p.annotation if isinstance(p.annotation, str) else str(p.annotation)
    extra: list[st.SearchStrategy[Any]] = []
    if p.name in ("start", "end"):
        extra.append(st.sampled_from(FAR_TIMES))
    if p.name in ("df", "book"):
        extra.append(st.sampled_from(FRAMES))
    return st.one_of(valid_for(p.name, annotation, venue=venue), junk(), *extra).map(
        lambda v: _bounded_timebox(p.name, v)
    )


@dataclass
class Call:
    """One generated call: positional args, keywords, and the values of a wrong type."""

    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)

    def show(self) -> str:
        def short(v: Any) -> str:
            text = repr(v)
            return text if len(text) < 80 else text[:77] + "..."

        parts = [short(a) for a in self.args] + [f"{k}={short(v)}" for k, v in self.kwargs.items()]
        return ", ".join(parts)


def draw_call(
    data: st.DataObject,
    fn: Callable[..., Any],
    *,
    venue: str = "cryptocom",
    fixed: dict[str, Any] | None = None,
) -> Call:
    """Arguments for ``fn`` from its signature: each parameter given or left out."""
    call = Call()
    fixed = fixed or {}
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        call.args = data.draw(st.lists(junk(), max_size=3), label="args")
        return call
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    positional = True
    for p in params:
        if p.name in fixed:
            value = fixed[p.name]
        elif p.kind is p.VAR_POSITIONAL:
            extra = data.draw(st.lists(junk(), max_size=2), label="*args")
            if positional:
                call.args.extend(extra)
            continue
        elif p.kind is p.VAR_KEYWORD:
            names = st.sampled_from(
                ["silence_timeout", "raw_limit", "backoff", "open_timeout", "api_key", "bogus"]
            )
            more = data.draw(st.dictionaries(names, junk(), max_size=2), label="**kwargs")
            for k, v in more.items():
                call.kwargs.setdefault(k, _bounded_timebox(k, v))
            continue
        elif (
            p.default is not p.empty
            and p.name not in _TIMEBOX  # a default time box (15 s) would slow the run
            and data.draw(st.booleans(), label=f"omit {p.name}")
        ):
            positional = False
            continue
        else:
            value = data.draw(param_strategy(p, venue=venue), label=p.name)
        if (
            value is not LISTENER_URL
            and p.annotation is not p.empty
            and type_verdict(value, p.annotation) is False
        ):
            call.wrong.append(p.name)
        if positional and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            call.args.append(value)
        else:
            call.kwargs[p.name] = value
    return call


# -- the property ------------------------------------------------------------------------
def _fill(value: Any, listener: Listener) -> Any:
    if value is LISTENER_URL:
        return listener.url("http")
    return value


def is_argument_error(exc: BaseException) -> bool:
    if isinstance(exc, UnknownSymbol):
        return False  # needs the venue's list: a round trip is legitimate
    if isinstance(exc, InvalidArgument | TradingDisabled):
        return True
    return isinstance(exc, AuthError) and exc.code == "credentials"


def check(
    listener: Listener,
    what: str,
    fn: Callable[..., Any],
    call: Call,
    *,
    bound: float = BOUND,
) -> Any:
    """Run one call under the property; return its value (or None)."""
    import matplotlib.pyplot as plt

    args = [_fill(a, listener) for a in call.args]
    kwargs = {k: _fill(v, listener) for k, v in call.kwargs.items()}
    before = listener.connections()
    out = bounded(lambda: fn(*args, **kwargs), bound)
    plt.close("all")
    shown = f"{what}({call.show()})"
    assert out.finished, f"{shown} did not end within {bound:g} s"
    made = listener.connections() - before
    err = out.error
    if err is not None and not isinstance(err, MdkitError):
        import traceback

        trace = "".join(traceback.format_exception(err))
        pytest.fail(f"{shown} raised a bare {type(err).__name__}: {err}\n{trace}")
    if err is not None and is_argument_error(err):
        assert made == 0, f"{shown}: argument error {err!r} after {made} connection(s)"
    if call.wrong:
        assert err is not None and is_argument_error(err), (
            f"{shown}: {', '.join(call.wrong)} of the wrong type, but the call "
            f"{'raised ' + repr(err) if err else 'was accepted'}"
        )
        assert made == 0, f"{shown}: wrong-typed {call.wrong} reached the network"
    return out.value


# -- targets -----------------------------------------------------------------------------
#: Public classes users do not build themselves (results of other calls).
NOT_USER_BUILT = {"Capture", "Response"}


def public_targets() -> list[tuple[str, Callable[..., Any]]]:
    """Every public function and user-built class of mdkit and mdkit.plot."""
    found: list[tuple[str, Callable[..., Any]]] = []
    for module, prefix in ((mdkit, "mdkit"), (mdkit.plot, "mdkit.plot")):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if inspect.isclass(obj) and (issubclass(obj, BaseException) or name in NOT_USER_BUILT):
                continue
            found.append((f"{prefix}.{name}", obj))
    from mdkit.sandbox import Sandbox

    found.append(("mdkit.sandbox.Sandbox", Sandbox))
    return found


def method_targets(cls: type) -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and inspect.isfunction(member)
    ]


def _asyncify(fn: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):

        def run(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(fn(*args, **kwargs))

        return run
    return fn


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


def _sandbox_constructor() -> Any:
    from mdkit.sandbox import Sandbox

    def build(*args: Any, **kw: Any) -> Any:
        sb = Sandbox(*args, **kw)
        if kw.get("port") or kw.get("ws_port") or kw.get("host"):
            sb.start()  # ports and host are only checked by binding them
            sb.stop()
        return sb

    return build


@pytest.mark.parametrize("name,fn", public_targets(), ids=[n for n, _ in public_targets()])
@SETTINGS
@given(data=st.data())
def test_public_call(listener: Listener, name: str, fn: Callable[..., Any], data: Any) -> None:
    target = _sandbox_constructor() if name == "mdkit.sandbox.Sandbox" else _asyncify(fn)
    call = draw_call(data, fn.__init__ if inspect.isclass(fn) else fn)
    with pointed_at(listener):
        check(listener, name, target, call)


ACCOUNT_METHODS = method_targets(mdkit.Account)


@pytest.mark.parametrize("method", ACCOUNT_METHODS)
@SETTINGS
@given(data=st.data())
def test_account_method(listener: Listener, method: str, data: Any) -> None:
    with pointed_at(listener):
        acct = mdkit.Account(api_key="key", secret_key="secret", trading=True)
        fn = getattr(acct, method)
        call = draw_call(data, fn)
        check(listener, f"Account.{method}", fn, call)


@pytest.fixture(scope="module")
def small_capture(sandbox: Any) -> mdkit.Capture:
    return mdkit.capture("cryptocom", ["btcusdt"], ["trades", "book"], seconds=1.0)


@pytest.mark.parametrize("method", method_targets(mdkit.Capture))
@SETTINGS
@given(data=st.data())
def test_capture_method(
    listener: Listener, small_capture: mdkit.Capture, method: str, data: Any, tmp_path_factory: Any
) -> None:
    fn = getattr(small_capture, method)
    fixed = {}
    if "directory" in inspect.signature(fn).parameters:
        fixed["directory"] = str(tmp_path_factory.mktemp("out"))
    call = draw_call(data, fn, fixed=fixed)
    with pointed_at(listener):
        check(listener, f"Capture.{method}", fn, call)


# -- every venue of the registry --------------------------------------------------------
VENUE_CALLS = [
    (venue, call)
    for venue in venue_keys()
    for call in ("capture", "acapture", "request", "arequest")
    if hasattr(mdkit, call)
]


@pytest.mark.parametrize("venue,call", VENUE_CALLS, ids=[f"{v}-{c}" for v, c in VENUE_CALLS])
@SETTINGS
@given(data=st.data())
def test_venue_call(listener: Listener, venue: str, call: str, data: Any) -> None:
    fn = getattr(mdkit, call)
    descriptor = get_venue(venue)
    drawn = draw_call(data, fn, venue=venue, fixed={"venue": venue})
    if "request" in call and descriptor.requests:
        method = data.draw(st.sampled_from([*descriptor.requests, "nosuch", 5]), label="method")
        drawn.args[1:2] = [method]
        drawn.wrong = [w for w in drawn.wrong if w != "method"]
        if not isinstance(method, str):
            drawn.wrong.append("method")
    options = data.draw(
        st.dictionaries(
            st.sampled_from([*descriptor.options, *descriptor.credentials, "bogus"]),
            st.one_of(st.sampled_from(["key", "SPOT", "USDT-FUTURES"]), junk()),
            max_size=2,
        ),
        label="options",
    )
    drawn.kwargs.update({k: v for k, v in options.items() if k not in drawn.kwargs})
    with pointed_at(listener):
        check(listener, f"{call}[{venue}]", _asyncify(fn), drawn)


# -- the command line -------------------------------------------------------------------
def _help(argv: list[str]) -> str:
    from mdkit.cli import main

    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
    return out.getvalue()


def _commands() -> dict[str, list[str]]:
    """Subcommand → its option names, read from the CLI's own --help."""
    import re

    text = _help(["--help"])
    names: list[str] = []
    match = re.search(r"\{([\w,-]+)\}", text)
    if match:
        names = match.group(1).split(",")
    listing = text.split("positional arguments:", 1)[-1].split("options:", 1)[0]
    names += re.findall(r"^ {4}([a-z][\w-]*)\s", listing, flags=re.MULTILINE)
    names = list(dict.fromkeys(names))
    assert names, f"no subcommands found in mdkit --help:\n{text}"
    return {name: sorted(set(re.findall(r"(--[\w-]+)", _help([name, "--help"])))) for name in names}


class _Interrupt(Exception):
    pass


def run_cli(argv: list[str], bound: float) -> tuple[int | None, str, bool]:
    """``main(argv)`` in this thread, Ctrl-C'd after ``bound`` s (as a user would)."""
    from mdkit.cli import main

    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        os.kill(os.getpid(), signal.SIGUSR1)

    def on_signal(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, on_signal)
    timer = threading.Timer(bound, interrupt)
    err = io.StringIO()
    code: int | None = None
    timer.start()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except KeyboardInterrupt:
                code = None
                err.write("Traceback: KeyboardInterrupt escaped main()\n")
            except BaseException as exc:  # noqa: BLE001 - reported below
                import traceback

                code = None
                err.write("".join(traceback.format_exception(exc)))
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR1, previous)
    return code, err.getvalue(), fired.is_set()


COMMANDS = _commands()


@SETTINGS
@given(data=st.data())
def test_cli(listener: Listener, data: Any, tmp_path_factory: Any) -> None:
    tokens = st.one_of(
        st.sampled_from(sorted({o for opts in COMMANDS.values() for o in opts})),
        st.sampled_from(
            ["btcusdt", "1min", "0001-01-01", "-1", "nan", "1e30", "cryptocom", "x.parquet"]
        ),
        st.sampled_from(ODD_TEXT[:10]),
        st.text(max_size=12),
    )
    head = data.draw(st.sampled_from([*COMMANDS, "", "bogus", "-v", "--help"]), label="command")
    argv = ([head] if head else []) + data.draw(st.lists(tokens, max_size=5), label="argv")
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cli"))
    try:
        with pointed_at(listener):
            code, err, interrupted = run_cli(argv, bound=3.0 * FACTOR_CLI)
    finally:
        os.chdir(cwd)
    allowed = {0, 1, 2} | ({130} if interrupted else set())
    assert code in allowed, f"mdkit {argv}: exit {code}\n{err[-3000:]}"
    assert "Traceback" not in err, f"mdkit {argv}: traceback\n{err[-3000:]}"


FACTOR_CLI = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


# -- valid arguments, against the sandbox ------------------------------------------------
@settings(
    max_examples=max(8, EXAMPLES // 2),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_klines_against_sandbox(sandbox: Any, data: Any) -> None:
    """Valid-looking klines calls reach the sandbox and end: a frame or an mdkit error."""
    symbol = data.draw(st.sampled_from(["btcusdt", "ETH/USDT", "nosuch"]), label="symbol")
    interval = data.draw(st.sampled_from(["1min", "1h", "1d", "1M"]), label="interval")
    start = data.draw(
        st.sampled_from(["2 hours ago", "3 days ago", "2020-01-01", "0001-01-01", None, "now"]),
        label="start",
    )
    max_pages = data.draw(st.sampled_from([1, 5, 2000]), label="max_pages")
    out = bounded(
        lambda: mdkit.klines(symbol, interval, start=start, max_pages=max_pages), BOUND * 2
    )
    shown = f"klines({symbol!r}, {interval!r}, start={start!r}, max_pages={max_pages})"
    assert out.finished, f"{shown} did not end"
    if out.error is not None:
        assert isinstance(out.error, MdkitError), f"{shown}: {out.error!r}"
    else:
        df = out.value
        assert isinstance(df, pd.DataFrame) and str(df.index.tz) == "UTC"


# -- issue 13's findings, one by one (each failed before its fix) ---------------------------
BAD_STARTS = [
    float("inf"),
    1e30,
    "99999999999 days ago",
    "999999 years ago",
    pd.NaT,
    "0001-01-01",
    datetime(1, 1, 1),
]


@pytest.mark.parametrize("start", BAD_STARTS, ids=repr)
def test_klines_far_start_is_refused_before_any_request(listener: Listener, start: Any) -> None:
    with pointed_at(listener):
        before = listener.connections()
        with pytest.raises(InvalidArgument, match="as a time"):
            mdkit.klines("btcusdt", "1min", start=start)
        assert listener.connections() == before


def test_klines_page_count_refused_before_first_request(listener: Listener) -> None:
    with pointed_at(listener):
        before = listener.connections()
        with pytest.raises(InvalidArgument) as info:
            mdkit.klines("btcusdt", "1min", start="1700-01-01")
        assert listener.connections() == before
    text = str(info.value)
    assert "pages of 300 bars" in text and "pass max_pages=" in text
    pages = int(text.split("pass max_pages=")[1].split()[0])
    assert 500_000 < pages < 700_000  # 1700 → now in minutes / 300
    with pointed_at(listener), pytest.raises(InvalidArgument, match="max_pages"):
        mdkit.klines("btcusdt", "1min", start="3 days ago", max_pages=True)


def test_klines_max_pages_refuses_then_allows(sandbox: Any) -> None:
    with pytest.raises(InvalidArgument, match="pass max_pages=15"):
        mdkit.klines("btcusdt", "1min", start="3 days ago", max_pages=5)
    served = sandbox.cryptocom.requests_served
    with pytest.raises(InvalidArgument):
        mdkit.klines("btcusdt", "1min", start="3 days ago", max_pages=5)
    assert sandbox.cryptocom.requests_served == served  # refused before the REST call
    df = mdkit.klines("btcusdt", "1min", start="3 days ago", max_pages=15)
    assert len(df) >= 3 * 1440 - 2


@pytest.mark.parametrize("symbol", [None, 123, "", "  ", ["btcusdt"], b"btcusdt"], ids=repr)
def test_symbol_type_errors_before_any_round_trip(listener: Listener, symbol: Any) -> None:
    with pointed_at(listener):
        acct = mdkit.Account(api_key="k", secret_key="s", trading=True)
        calls: list[Callable[[], Any]] = [
            lambda: mdkit.ticker(symbol),
            lambda: mdkit.trades(symbol),
            lambda: mdkit.depth(symbol),
            lambda: mdkit.klines(symbol),
            lambda: acct.open_orders(symbol),
            lambda: acct.order(symbol, 1),
            lambda: acct.place_order(symbol, "buy", 1, price=1),
        ]
        before = listener.connections()
        for call in calls:
            with pytest.raises(InvalidArgument, match="symbol must be a non-empty string"):
                call()
        assert listener.connections() == before


def test_account_infinite_numbers(listener: Listener) -> None:
    with pointed_at(listener):
        acct = mdkit.Account(api_key="k", secret_key="s")
        with pytest.raises(InvalidArgument, match="order_id"):
            acct.order("btcusdt", float("inf"))
        with pytest.raises(InvalidArgument, match="as a time"):
            acct.all_orders("btcusdt", start=float("inf"))
        with pytest.raises(InvalidArgument, match="trading must be True or False"):
            mdkit.Account(api_key="k", secret_key="s", trading="no")  # type: ignore[arg-type]


def test_half_built_account_repr() -> None:
    half = mdkit.Account.__new__(mdkit.Account)
    assert "not set up" in repr(half)


@pytest.mark.parametrize(
    "name,value",
    [
        ("MDKIT_TIMEOUT", "abc"),
        ("MDKIT_TIMEOUT", "-1"),
        ("MDKIT_TIMEOUT", "0"),
        ("MDKIT_TIMEOUT", "nan"),
        ("MDKIT_TIMEOUT", "inf"),
        ("MDKIT_RETRIES", "x"),
        ("MDKIT_RETRIES", "-1"),
        ("MDKIT_RETRIES", "1e9"),
    ],
)
def test_bad_timeout_and_retries_variables(listener: Listener, name: str, value: str) -> None:
    with pointed_at(listener, **{name: value}):
        before = listener.connections()
        with pytest.raises(InvalidArgument, match=name):
            mdkit.tickers()
        assert listener.connections() == before


@pytest.mark.parametrize("fn", [mdkit.plot.candles, mdkit.plot.depth])
@pytest.mark.parametrize("frame", [None, 5, "x", [1, 2]], ids=repr)
def test_plot_refuses_what_is_not_a_frame(fn: Callable[..., Any], frame: Any) -> None:
    with pytest.raises(InvalidArgument, match="needs"):
        fn(frame)


def test_request_that_cannot_connect_is_a_network_error(listener: Listener) -> None:
    """Not a bare TimeoutError("gave up after None s") from the runner."""
    venue = next((k for k in venue_keys() if get_venue(k).requests), None)
    if venue is None:
        pytest.skip("no venue has request methods")
    method = next(iter(get_venue(venue).requests))
    with pointed_at(listener), pytest.raises(mdkit.NetworkError, match="no ready connection"):
        mdkit.request(venue, method, timeout=0.3)


def test_sandbox_bad_arguments() -> None:
    from mdkit.sandbox import Sandbox

    for kwargs in ({"port": None}, {"port": 70000}, {"host": 5}, {"max_buffer": None}):
        with pytest.raises(InvalidArgument):
            Sandbox(**kwargs)
    with pytest.raises(InvalidArgument, match="unknown venue"):
        Sandbox(nosuch_options={})


def test_order_timeout_says_it_may_have_been_placed(
    sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    acct = mdkit.Account(trading=True)
    acct.open_orders("btcusdt")  # the symbol list is cached: only the order is slow
    monkeypatch.setenv("MDKIT_TIMEOUT", "0.5")
    sandbox.cryptocom.inject("http_slow", path="/v1/order", delay=1.5 * FACTOR_CLI)
    with pytest.raises(mdkit.NetworkError) as info:
        acct.place_order("btcusdt", "buy", 0.01, price=1000)
    text = str(info.value)
    assert "may have been placed" in text and "Account.open_orders('btcusdt')" in text
    assert info.value.reached and info.value.__cause__ is None
    monkeypatch.delenv("MDKIT_TIMEOUT")
    deadline = time.monotonic() + 10 * FACTOR_CLI
    placed = acct.open_orders("btcusdt")
    while not (placed["price"] == 1000).any() and time.monotonic() < deadline:
        time.sleep(0.2)  # the slow answer lands 1.5 s after the order was sent
        placed = acct.open_orders("btcusdt")
    assert (placed["price"] == 1000).any(), f"the check the message names finds it: {placed}"
    acct.cancel_all("btcusdt")
