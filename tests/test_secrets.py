"""No credential ever reaches a user through an error, a log, a repr, a pickle or a file.

Every error path of every authenticated venue is run against the sandbox (REST
Account: bad signature, unknown key (401), connection refused, timeout, dropped
connection; WebSocket logins of every venue with credentials: each credential wrong
in turn, and a refused connection) with every logger at DEBUG. Each exception is
rendered with ``traceback.TracebackException(..., capture_locals=True)``, and its
cause/context chain, ``args`` and attributes are walked; every object a user holds
(Account, Capture, sessions, Credentials, Sandbox) is repr'd and pickled; files a
capture writes are read back. No credential string may appear anywhere.
"""

from __future__ import annotations

import io
import logging
import pickle
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue, venue_keys
from mdkit.venues.base import Credentials
from tests.hardening_support import FACTOR, Listener

#: Wrong credentials handed to mdkit: they are secrets too.
WRONG = {
    "api_key": "WRONG-api-key-7f3a9c",
    "secret_key": "WRONG-secret-key-b81e44",
    "passphrase": "WRONG-passphrase-51d0",
    "token": "WRONG-token-c0ffee42",
}
_CREDENTIAL_SUFFIXES = ("_API_KEY", "_SECRET_KEY", "_PASSPHRASE", "_TOKEN")


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=11) as box:
        yield box


@pytest.fixture(scope="module")
def secrets(sb: Sandbox) -> list[str]:
    demo = [v for k, v in sb.env.items() if k.endswith(_CREDENTIAL_SUFFIXES)]
    assert len(demo) >= 6, sb.env  # every authenticated venue has demo credentials
    return sorted({*demo, *WRONG.values()}, key=len, reverse=True)


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every logger at DEBUG into one buffer (tracebacks of logged exceptions included)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    levels = {
        name: lg.level
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    old_root = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in levels:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield buffer
    root.removeHandler(handler)
    root.setLevel(old_root)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


_MDKIT = str(Path(mdkit.__file__).parent)


def _rendered(exc: BaseException) -> str:
    """The traceback with every frame's locals, as IPython's verbose mode shows it.

    Only mdkit's frames are kept: the caller's own frames hold what the caller passed
    (a notebook cell with ``key = "..."`` shows it whatever mdkit does).
    """
    whole = traceback.TracebackException.from_exception(exc, capture_locals=True)
    parts: list[str] = []
    current: traceback.TracebackException | None = whole
    while current is not None:
        frames = [f for f in current.stack if f.filename.startswith(_MDKIT)]
        parts.append("".join(traceback.StackSummary.from_list(frames).format()))
        parts.append("".join(current.format_exception_only()))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def _walk(obj: Any, out: list[str], seen: set[int], depth: int = 0) -> None:
    """repr/str of obj and, recursively, of its args, attributes and chained errors."""
    if id(obj) in seen or depth > 6:
        return
    seen.add(id(obj))
    for render in (repr, str):
        try:
            out.append(render(obj))
        except Exception as exc:  # noqa: BLE001 - a failing repr is itself a finding
            out.append(f"<{render.__name__} raised {exc!r}>")
    if isinstance(obj, Credentials):
        return  # the one place the values live: its repr (checked above) is what shows
    if isinstance(obj, str | bytes | int | float | bool | type(None)):
        if isinstance(obj, bytes):
            out.append(obj.decode("utf-8", "replace"))
        return
    children: list[Any] = []
    if isinstance(obj, BaseException):
        children += [obj.__cause__, obj.__context__, *obj.args]
        out.append(_rendered(obj))
    if isinstance(obj, dict):
        children += list(obj.keys()) + list(obj.values())
    elif isinstance(obj, list | tuple | set | frozenset):
        children += list(obj)
    try:
        children += list(vars(obj).values())
    except TypeError:
        pass
    for name in getattr(type(obj), "__slots__", ()):
        children.append(getattr(obj, name, None))
    for child in children:
        if child is not None:
            _walk(child, out, seen, depth + 1)


def exposed(obj: Any) -> str:
    """Everything a user can see of ``obj``."""
    out: list[str] = []
    _walk(obj, out, set())
    return "\n".join(out)


def assert_clean(text: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        assert secret not in text, f"a credential ({secret[:4]}…) reached {where}"


def _raise(fn: Any) -> BaseException:
    try:
        fn()
    except mdkit.MdkitError as exc:
        return exc
    pytest.fail("the call did not fail")


def test_account_error_paths(
    sb: Sandbox, secrets: list[str], debug_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = sb.env["MDKIT_CRYPTOCOM_API_KEY"]
    errors: dict[str, BaseException] = {}
    bad_secret = mdkit.Account(api_key=key, secret_key=WRONG["secret_key"], trading=True)
    errors["bad signature"] = _raise(bad_secret.balances)
    assert isinstance(errors["bad signature"], mdkit.AuthError)
    unknown = mdkit.Account(api_key=WRONG["api_key"], secret_key=WRONG["secret_key"])
    errors["401"] = _raise(unknown.balances)
    assert isinstance(errors["401"], mdkit.AuthError)
    good = mdkit.Account(trading=True)
    good.open_orders("btcusdt")  # symbol list cached: the faults hit the signed calls
    monkeypatch.setenv("MDKIT_RETRIES", "0")
    sb.cryptocom.inject("http_drop", path="/v1/account")
    errors["drop"] = _raise(good.balances)
    sb.cryptocom.inject("http_drop", path="/v1/order")
    errors["drop order"] = _raise(lambda: good.place_order("btcusdt", "buy", 0.01, price=100))
    monkeypatch.setenv("MDKIT_TIMEOUT", "0.3")
    sb.cryptocom.inject("http_slow", path="/v1/account", delay=1.0 * FACTOR)
    errors["timeout"] = _raise(good.balances)
    sb.cryptocom.inject("http_slow", path="/v1/order", delay=1.0 * FACTOR)
    errors["timeout order"] = _raise(lambda: good.place_order("btcusdt", "buy", 0.01, price=100))
    listener = Listener()
    try:
        offline = mdkit.Account(url=listener.url("http"))
        cache = mdkit.marketdata._symbol_cache  # keyed by (venue, base URL)
        cache[("cryptocom", offline.url)] = cache[("cryptocom", good.url)]
        errors["network"] = _raise(offline.balances)
    finally:
        listener.close()
    for what in ("drop", "drop order", "timeout", "timeout order", "network"):
        assert isinstance(errors[what], mdkit.NetworkError), (what, errors[what])
    for what, exc in errors.items():
        assert_clean(exposed(exc), secrets, f"the {what} error")
    # An Account that failed to build still renders in a traceback, without secrets.
    errors["half"] = _raise(
        lambda: mdkit.Account(api_key=key, secret_key=WRONG["secret_key"], page_size=-1)
    )
    assert_clean(exposed(errors["half"]), secrets, "a failed Account() traceback")
    assert_clean(debug_log.getvalue(), secrets, "the DEBUG log")
    for acct in (bad_secret, unknown, good):
        assert_clean(exposed(acct), secrets, "an Account's repr/attributes")
        with pytest.raises(TypeError) as info:
            pickle.dumps(acct)
        assert_clean(exposed(info.value), secrets, "pickling an Account")


def _private(venue: str) -> str | None:
    """A channel of the venue that needs its credentials (pure: no I/O)."""
    d = get_venue(venue)
    return next((c for c, e in d.channels.items() if d.endpoints[e].private), None)


def _private_channel(venue: str) -> tuple[list[str], str]:
    """(symbols, channel) of a private stream; the symbol from the venue's own list."""
    from mdkit.engine.listing import venue_symbols

    channel = _private(venue)
    assert channel is not None
    try:
        listed = venue_symbols(get_venue(venue), {}) or []
    except mdkit.MdkitError:
        listed = []
    for symbol in [*listed[:1], "BTCUSDT", "BTC/USDT"]:  # a spelling the venue accepts
        try:
            get_venue(venue).plan([symbol], [channel], {})
        except mdkit.InvalidArgument:
            continue
        return [symbol], channel
    return [], channel


LOGIN_CASES = [
    (venue, name)
    for venue in venue_keys()
    if _private(venue) is not None
    for name in get_venue(venue).credentials
]


@pytest.mark.parametrize("venue,wrong", LOGIN_CASES, ids=[f"{v}-bad-{n}" for v, n in LOGIN_CASES])
def test_ws_login_refusals(
    sb: Sandbox, secrets: list[str], debug_log: io.StringIO, venue: str, wrong: str
) -> None:
    symbols, channel = _private_channel(venue)
    given = {n: sb.env[f"MDKIT_{venue.upper()}_{n.upper()}"] for n in get_venue(venue).credentials}
    given[wrong] = WRONG[wrong]
    exc = _raise(lambda: mdkit.capture(venue, symbols, channel, seconds=8 * FACTOR, **given))
    assert isinstance(exc, mdkit.AuthError), repr(exc)
    assert_clean(exposed(exc), secrets, f"the {venue} login error")
    assert_clean(debug_log.getvalue(), secrets, f"the DEBUG log of a {venue} login")


@pytest.mark.parametrize("venue", [v for v in venue_keys() if _private(v)])
def test_ws_capture_objects_and_files(
    sb: Sandbox, secrets: list[str], debug_log: io.StringIO, venue: str, tmp_path: Path
) -> None:
    """A capture with credentials (good ones, then a refused connection): what it holds."""
    symbols, channel = _private_channel(venue)
    cap = mdkit.capture(venue, symbols, channel, seconds=1.0 * FACTOR)
    assert cap.stats["connections"] >= 1
    engine = cap._engine
    held: list[Any] = [cap, engine, cap.raw, cap.gaps, cap.stats]
    for part in engine.parts.values():
        held += [part, getattr(part, "counters", None), getattr(part, "stream", None)]
    for link in getattr(engine, "links", []):
        held += [link, getattr(link, "session", None)]
    for obj in held:
        assert_clean(exposed(obj), secrets, f"{type(obj).__name__} of a {venue} capture")
    assert_clean(cap._repr_html_(), secrets, "the capture's HTML repr")
    for obj in (cap, engine):
        try:
            blob = pickle.dumps(obj)
        except Exception as exc:  # noqa: BLE001 - refusing is fine, leaking is not
            assert_clean(exposed(exc), secrets, f"pickling a {venue} {type(obj).__name__}")
        else:
            assert_clean(blob.decode("latin-1"), secrets, f"a pickled {venue} capture")
    for path in cap.to_parquet(tmp_path / "out"):
        assert_clean(Path(path).read_bytes().decode("latin-1"), secrets, path)
    listener = Listener()
    try:
        url = listener.url("ws")
        urls = {name: url for name in get_venue(venue).endpoints if name != "rest"}
        try:
            outcome: Any = mdkit.capture(venue, symbols, channel, seconds=1.0, urls=urls)
        except mdkit.MdkitError as exc:
            outcome = exc
        assert_clean(exposed(outcome), secrets, f"a refused {venue} connection")
    finally:
        listener.close()
    assert_clean(debug_log.getvalue(), secrets, f"the DEBUG log of a {venue} capture")


def test_credentials_and_sandbox_objects(sb: Sandbox, secrets: list[str]) -> None:
    creds = Credentials({"api_key": WRONG["api_key"], "secret_key": WRONG["secret_key"]})
    assert repr(creds) == "<Credentials api_key, secret_key>"
    assert_clean(repr(creds) + str(creds), secrets, "Credentials' repr")
    with pytest.raises(TypeError) as info:
        pickle.dumps(creds)
    assert_clean(exposed(info.value), secrets, "pickling Credentials")
    assert_clean(repr(sb), secrets, "the Sandbox's repr")
