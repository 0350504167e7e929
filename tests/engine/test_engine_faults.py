"""Engine faults found by using it as a user would (issue 7), each over real sockets."""

from __future__ import annotations

import asyncio
import pickle
import socket
import threading
import time
from typing import Any

import pandas as pd
import pytest

import mdkit
from mdkit.data.tables import Tables
from mdkit.engine.stream import Engine, Stream, check_options, shard
from mdkit.errors import InvalidArgument, NetworkError, UnknownSymbol
from mdkit.sandbox import Sandbox
from mdkit.venues import cryptocom_ws, get_venue
from mdkit.venues.base import Counters, Credentials, Limits, SessionSetup
from tests.conftest import tiny_server

FAST = {"backoff": (0.05, 0.4)}


def test_no_reconnect_storm_when_the_server_closes_after_one_frame() -> None:
    # Before: any data frame reset the backoff, so this server got ~6 reconnects/s.
    connects: list[float] = []

    async def one_frame_then_close(ws: Any) -> None:
        connects.append(time.monotonic())
        await ws.send('{"channel":"market_btcusdt_ticker","ts":1,"tick":{"close":1}}')
        await ws.close()

    with tiny_server(one_frame_then_close) as url:
        cap = mdkit.capture(
            "cryptocom", "btcusdt", "ticker", seconds=3.0, url=url, backoff=(0.2, 1.0)
        )
    # Backoff 0.1-0.2, 0.2-0.4, 0.4-0.8, then 0.5-1.0 each: at most ~7 in 3 s.
    assert 2 <= cap.stats["reconnects"] <= 8, cap.stats["reconnects"]
    assert cap.stats["worst_reconnect_rate"] <= 1.0
    gaps = cap.gaps
    assert len(gaps) == cap.stats["reconnects"] + (1 if len(gaps) > cap.stats["reconnects"] else 0)
    assert gaps["end"].notna().all()  # every gap closed: by data, or by the end


def test_gap_whose_reconnect_never_got_data_is_closed_at_the_end() -> None:
    count = {"n": 0}

    async def first_ok_then_mute(ws: Any) -> None:
        count["n"] += 1
        if count["n"] == 1:
            await ws.send('{"channel":"market_btcusdt_ticker","ts":1,"tick":{"close":1}}')
            await ws.close()
        else:
            await ws.wait_closed()

    with tiny_server(first_ok_then_mute) as url:
        cap = mdkit.capture("cryptocom", "btcusdt", "ticker", seconds=1.5, url=url, **FAST)
    gaps = cap.gaps
    assert len(gaps) >= 1 and gaps["end"].notna().all()
    # no data came after the last reconnect: the gap ends with the capture
    ended = pd.Timestamp(cap._engine.stats.ended_ns, unit="ns", tz="UTC")
    assert gaps["end"].iloc[-1] == ended


def test_handshake_that_never_completes_says_so() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts TCP, never answers the upgrade
        port = listener.getsockname()[1]
        with pytest.raises(NetworkError, match="handshake") as info:
            mdkit.capture(
                "cryptocom",
                "btcusdt",
                "trades",
                seconds=20,
                url=f"ws://127.0.0.1:{port}",
                open_timeout=0.3,
                backoff=(0.01, 0.02),
            )
    assert "None" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"backoff": (0, 0)}, "backoff"),
        ({"backoff": "x"}, "backoff"),
        ({"backoff": (1, 0.5)}, "below the first"),
        ({"silence_timeout": "x"}, "silence_timeout"),
        ({"silence_timeout": float("nan")}, "silence_timeout"),
        ({"silence_timeout": -1}, "silence_timeout"),
        ({"seconds": float("inf")}, "seconds"),
        ({"seconds": 1e12}, "seconds"),
        ({"seconds": "10"}, "seconds"),
        ({"seconds": None}, "max_messages"),
        ({"raw_limit": -1}, "raw_limit"),
        ({"open_timeout": 0}, "open_timeout"),
        ({"max_messages": 0}, "max_messages"),
    ],
)
def test_every_option_is_checked_before_connecting(options: dict[str, Any], match: str) -> None:
    args: dict[str, Any] = {"seconds": 1.0, "max_messages": None, **options}
    with pytest.raises(InvalidArgument, match=match):
        check_options(**args)
    # and through the public call, with no server at all: refused before connecting
    seconds = args.pop("seconds")
    with pytest.raises(InvalidArgument, match=match):
        mdkit.capture("cryptocom", "btcusdt", "trades", seconds, url="ws://127.0.0.1:9", **args)


def test_unlisted_symbol_fails_before_connecting(sandbox: Sandbox) -> None:
    before = sandbox.cryptocom.accepted
    with pytest.raises(UnknownSymbol, match="btcusdt"):
        mdkit.capture("cryptocom", "btcusd", ["trades"], seconds=5)
    with pytest.raises(UnknownSymbol, match="nosuchcoin"):
        mdkit.capture("cryptocom", ["btcusdt", "nosuchcoin"], ["trades"], seconds=5)
    assert sandbox.cryptocom.accepted == before


@pytest.mark.parametrize(
    ("symbols", "channels", "match"),
    [
        (None, ["trades"], "symbols"),
        (["btcusdt"], None, "channels"),
        (123, ["trades"], "symbols"),
        (["btcusdt", 5], ["trades"], "symbols"),
        (["btcusdt"], [], "channels"),
        (["btcusdt"], "", "channel"),
    ],
)
def test_wrong_types_are_mdkit_errors(symbols: Any, channels: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        mdkit.capture("cryptocom", symbols, channels, 1, url="ws://127.0.0.1:9")


def test_sharding_follows_the_venue_limits() -> None:
    venue = get_venue("cryptocom")
    subs = tuple(cryptocom_ws.plan([f"c{i:03d}usdt" for i in range(2500)], ["trades"], {}))
    parts = shard(Stream(venue, subs, {"public": "ws://x"}))
    assert [len(p[1]) for p in parts] == [1000, 1000, 500]
    assert all(endpoint == "public" for endpoint, _ in parts)
    from dataclasses import replace

    tight = replace(venue, limits=Limits(subscriptions_per_connection=100, connections=3))
    with pytest.raises(InvalidArgument, match="limit of 3"):
        shard(Stream(tight, subs[:301], {"public": "ws://x"}))


def test_credentials_never_show() -> None:
    secret = "s3cr3t-value-never-shown"
    creds = Credentials({"api_key": "k-visible-nowhere", "secret_key": secret})
    assert secret not in repr(creds) and secret not in str(creds)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    venue = get_venue("cryptocom")
    stream = Stream(venue, (), {"public": "ws://x"}, creds)
    engine = Engine([stream], seconds=1.0)
    assert secret not in repr(vars(engine)) and secret not in repr(stream)
    session = venue.session(SessionSetup(venue, "public", (), Tables(), Counters(), creds))
    assert secret not in repr(vars(session))


def test_two_connections_one_capture(sandbox: Sandbox) -> None:
    from dataclasses import replace

    from mdkit.capture import Capture

    venue = get_venue("cryptocom")
    narrow = replace(venue, limits=Limits(subscriptions_per_connection=2))
    subs = tuple(cryptocom_ws.plan(["btcusdt", "ethusdt"], ["trades", "ticker"], {}))
    stream = Stream(narrow, subs, {"public": sandbox.env["MDKIT_CRYPTOCOM_WS_URL"]})
    engine = Engine([stream], seconds=2.0)
    from mdkit.engine import runner

    runner.run(engine.run())
    cap = Capture(engine)
    assert cap.stats["connections"] == 2
    assert set(cap.raw["connection"]) == {1, 2}
    assert set(cap.ticker["symbol"]) == {"btcusdt", "ethusdt"}


def test_wss_with_tls_and_extra_headers(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """wss:// works: TLS verified against the system trust store (here: a test CA)."""
    import ssl

    import trustme
    from websockets.asyncio.server import serve

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))  # what the default context trusts
    seen: dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        async def handler(ws: Any) -> None:
            seen["ua"] = ws.request.headers.get("User-Agent")
            await ws.send('{"channel":"market_btcusdt_ticker","ts":1,"tick":{"close":7}}')
            await ws.wait_closed()

        async def main() -> None:
            async with serve(handler, "localhost", 0, ssl=server_context) as server:
                seen["port"] = server.sockets[0].getsockname()[1]
                seen["loop"], seen["stop"] = asyncio.get_running_loop(), asyncio.Event()
                ready.set()
                await seen["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    url = f"wss://localhost:{seen['port']}"
    try:
        cap = mdkit.capture("cryptocom", "btcusdt", "ticker", seconds=1.0, url=url)
        # a certificate nobody vouches for is refused with a clear error, never accepted
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "empty.pem"))
        (tmp_path / "empty.pem").write_text("")
        with pytest.raises(NetworkError, match="(?i)certificate"):
            mdkit.capture("cryptocom", "btcusdt", "ticker", 5, url=url, backoff=(0.01, 0.02))
    finally:
        seen["loop"].call_soon_threadsafe(seen["stop"].set)
        thread.join(5)
    assert cap.ticker["last"].tolist() == [7.0]
