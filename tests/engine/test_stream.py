"""The capture engine over real sockets against the sandbox: faults, reconnects, keepalive."""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

import mdkit
from mdkit.errors import InvalidArgument, NetworkError, UnknownChannel, UnknownVenue
from mdkit.sandbox import Sandbox
from tests.conftest import capture_until, tiny_server, trading, wait_for


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox where btcusdt trades every 0.2 s (pushed trades, not the random tape)."""
    with Sandbox(ws_options={"rate": 5, "ping_interval": 0.3}) as sb:
        with trading(sb, "cryptocom", ["btcusdt"]):
            yield sb


def later(delay: float, action: Any) -> None:
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()


FAST = {"backoff": (0.05, 0.2)}


@pytest.mark.parametrize("fault", ["drop", "close"])
def test_reconnect_keeps_rows_from_both_connections(sandbox: Sandbox, fault: str) -> None:
    later(1.0, lambda: sandbox.cryptocom.inject(fault))
    cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=2.5, **FAST)
    stats = cap.stats
    assert stats["reconnects"] == 1 and stats["connections"] == 2
    raw = cap.raw
    assert set(raw["connection"]) == {1, 2}
    gaps = cap.gaps
    assert len(gaps) == 1 and gaps["connection"].iloc[0] == 1
    assert gaps["end"].iloc[0] > gaps["start"].iloc[0]
    reason = gaps["reason"].iloc[0]
    assert ("code 1000" in reason) if fault == "close" else ("lost" in reason or "1006" in reason)
    cut = gaps["start"].iloc[0]
    depth = cap.depth
    before, after = depth[depth["local_timestamp"] <= cut], depth[depth["local_timestamp"] > cut]
    assert len(before) and len(after)
    # the first book after the reconnect is a full book, flagged as a snapshot
    assert bool(after["is_snapshot"].iloc[0])
    trades = cap.trades
    assert (trades["local_timestamp"] <= cut).any() and (trades["local_timestamp"] > cut).any()


def test_silence_watchdog_reconnects(sandbox: Sandbox) -> None:
    later(0.6, lambda: sandbox.cryptocom.inject("silence", seconds=1.5))
    cap = mdkit.capture("cryptocom", "btcusdt", ["book"], seconds=2.8, silence_timeout=0.6, **FAST)
    assert cap.stats["reconnects"] >= 1
    assert cap.gaps["reason"].str.contains("silence").any()
    assert (cap.raw["connection"] > 1).any()


def test_server_that_never_sends_anything() -> None:
    async def mute(ws: Any) -> None:
        await ws.wait_closed()

    with tiny_server(mute) as url:
        cap = mdkit.capture(
            "cryptocom", "btcusdt", "trades", seconds=1.5, url=url, silence_timeout=0.4, **FAST
        )
    assert cap.stats["outcome"] == "no data"
    assert cap.stats["reconnects"] >= 1
    assert cap.gaps["reason"].str.contains("nothing received").any()
    assert "no data from: trades btcusdt" in repr(cap)


def test_malformed_frames_counted_kept_and_capture_goes_on(sandbox: Sandbox) -> None:
    later(0.7, lambda: sandbox.cryptocom.inject("malformed", count=2))
    cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "ticker"], seconds=2.0)
    assert cap.stats["parse_errors"] == 2
    bad = cap.raw[cap.raw["error"]]
    assert len(bad) == 2 and bad["payload"].iloc[1] == b"\x00\xffjunk"
    assert zlib.decompress(bad["payload"].iloc[0], 31).startswith(b'{"channel"')
    assert (cap.ticker["local_timestamp"] > bad.index[-1]).any()  # went on after them


@pytest.mark.parametrize("unit", ["ms", "s"])
def test_pongs_echo_pings(unit: str) -> None:
    options = {"ping_interval": 0.1, "ping_unit": unit, "max_unanswered": 2}
    with Sandbox(ws_options=options) as sb:
        cap = capture_until(lambda s: s["pings"] >= 5, "cryptocom", "btcusdt", "ticker")
        server = sb.cryptocom
        wait_for(lambda: len(server.pongs) >= 5, what="the server got the pongs")
    assert cap.stats["pings"] >= 5
    assert len(server.pongs) >= 5 and server.accepted == 1
    assert "no pong" not in server.ended
    assert all((p > 1e12) if unit == "ms" else (1e9 < p < 1e11) for p in server.pongs)
    assert cap.stats["reconnects"] == 0


def test_max_messages_stops_early(sandbox: Sandbox) -> None:
    cap = mdkit.capture("cryptocom", ["btcusdt"], ["trades"], max_messages=2, seconds=10)
    assert cap.stats["data_messages"] == 2 and cap.stats["outcome"] == "max_messages"
    assert cap.stats["duration"] < 10


def test_bad_input_fails_before_connecting(sandbox: Sandbox) -> None:
    before = sandbox.cryptocom.accepted
    with pytest.raises(UnknownChannel, match="trades, ticker, klines, book"):
        mdkit.capture("cryptocom", "btcusdt", ["trades", "quotes"], seconds=1)
    with pytest.raises(mdkit.errors.UnknownInterval, match="valid"):
        mdkit.capture("cryptocom", "btcusdt", ["klines:7min"], seconds=1)
    with pytest.raises(InvalidArgument, match="symbol"):
        mdkit.capture("cryptocom", "btc usdt??", ["trades"], seconds=1)
    with pytest.raises(UnknownVenue, match="cryptocom"):
        mdkit.capture("nasdaq", "btcusdt", ["trades"], seconds=1)
    with pytest.raises(InvalidArgument, match="seconds"):
        mdkit.capture("cryptocom", "btcusdt", ["trades"], seconds=-1)
    with pytest.raises(InvalidArgument, match="unknown capture options"):
        mdkit.capture("cryptocom", "btcusdt", ["trades"], seconds=1, colour="red")
    assert sandbox.cryptocom.accepted == before


def test_unreachable_server_raises_network_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(NetworkError, match="could not connect"):
        mdkit.capture(
            "cryptocom",
            "btcusdt",
            "trades",
            seconds=30,
            url=f"ws://127.0.0.1:{port}",
            backoff=(0.01, 0.05),
        )
    assert time.monotonic() - started < 10


def test_sync_capture_inside_a_running_loop(sandbox: Sandbox) -> None:
    async def main() -> tuple[Any, Any]:
        # a notebook cell runs inside a loop: the sync call must not re-enter it
        # Each ends on its first tickers (a 1 s box raced the handshake under load).
        cap = mdkit.capture("cryptocom", "btcusdt", ["ticker"], seconds=30, max_messages=2)
        acap = await mdkit.acapture("cryptocom", "btcusdt", ["ticker"], seconds=30, max_messages=2)
        return cap, acap

    cap, acap = asyncio.run(main())
    assert len(cap.ticker) and len(acap.ticker)
    assert cap.stats["outcome"] == acap.stats["outcome"] == "max_messages"


def test_stop_from_another_thread_marks_interrupted(sandbox: Sandbox) -> None:
    # What the runner does on KeyboardInterrupt: engine.stop("interrupted") from the
    # waiting thread; the capture ends early with its data.
    from mdkit.capture import Capture
    from mdkit.engine import runner
    from mdkit.engine.plan import plan
    from mdkit.engine.stream import Engine

    checked = plan("cryptocom", "btcusdt", ["ticker", "book"], 30.0, None, None, None, {})
    engine = Engine.from_plan(checked)
    later(1.2, lambda: engine.stop("interrupted"))
    started = time.monotonic()
    runner.run(engine.run())
    cap = Capture(engine)
    assert time.monotonic() - started < 5
    assert cap.stats["interrupted"] and cap.stats["outcome"] == "interrupted"
    assert len(cap.ticker) and len(cap.depth)
    assert cap.trades.attrs["interrupted"] is True


def test_ackless_string_server_and_incremental_book() -> None:
    options = {"ack": False, "strings": True, "depth_mode": "incremental", "rate": 4}
    with Sandbox(ws_options=options) as sb, trading(sb, "cryptocom", ["btcusdt"]):
        cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=2.2)
        market = sb.market
    assert cap.stats["acks"] == 0 and len(cap.trades)
    assert set(cap.trades["side"].unique()) <= {"buy", "sell"}
    depth = cap.depth
    assert depth["is_snapshot"].iloc[0] and (~depth["is_snapshot"]).any()
    top = cap.book(levels=5)
    last = top.iloc[-1]
    # the rebuilt book equals the market's book of one of the last seconds
    seconds = int(last.name.timestamp())
    candidates = [market.book("btcusdt", s) for s in (seconds, seconds - 1)]
    got = [last[f"bids[{i}].price"] for i in range(5)] + [
        last[f"asks[{i}].amount"] for i in range(5)
    ]
    wanted = [list(b.bids[:5, 0]) + list(b.asks[:5, 1]) for b in candidates]
    assert any(got == pytest.approx(w) for w in wanted)
    assert top.attrs["crossed"] == 0
