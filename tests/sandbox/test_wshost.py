"""The sandbox WebSocket host, over real sockets with bare websockets clients.

A tiny venue server defined here (``Echo``) exercises the host's contract
(SANDBOX_HOST.md); the Crypto.com server checks that a real venue routes beside it.
"""

from __future__ import annotations

import ast
import asyncio
import os
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import mdkit.sandbox
from mdkit.sandbox import SERVERS, Market, Sandbox
from mdkit.sandbox.cryptocom_ws import CryptocomWsServer
from mdkit.sandbox.wshost import SHARED_FAULTS, Conn, VenueServer, WsHost

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
SANDBOX_DIR = Path(mdkit.sandbox.__file__).parent


class Echo(VenueServer):
    """Echoes every message, pushes ``push <n>`` every 10 ms, floods on request."""

    key = "echo"
    paths = ("/ws", "/ws/private")
    fault_kinds = ("reset",)
    ws_env = {"WS_URL": "/ws", "PRIVATE_WS_URL": "/ws/private"}

    def __init__(self, market: Market, **options: Any) -> None:
        super().__init__(market, **options)
        self.faults: list[tuple[int, str, int]] = []
        self.conns: list[Conn] = []

    async def serve(self, conn: Conn) -> None:
        self.conns.append(conn)
        conn.spawn(self._pushes(conn))
        async for message in conn:
            if message == "flood":
                conn.spawn(self._flood(conn))
            elif message == "paced":
                conn.spawn(self._flood(conn, pause=0.001, frames=300))
            elif message == "info":
                conn.send(orjson.dumps({"path": conn.path, "query": conn.query, "id": conn.id}))
            elif message == "bye":
                conn.send("last words")
                return
            else:
                conn.send(f"echo {message!s}")

    async def _pushes(self, conn: Conn) -> None:
        n = 0
        while True:
            n += 1
            conn.send(f"push {n}", push=True)
            await asyncio.sleep(0.01)

    async def _flood(self, conn: Conn, pause: float = 0.0, frames: int = 2000) -> None:
        frame = b"x" * 16384
        for _ in range(frames):  # 32 MB at most: far beyond socket buffers and max_buffer
            if conn.closed:
                return
            conn.send(frame, push=True)
            await asyncio.sleep(pause)

    def malformed(self) -> str:
        return "{not json"

    def on_fault(self, conn: Conn, kind: str, *, seconds: float, count: int) -> None:
        self.faults.append((conn.id, kind, count))
        conn.send(f"venue fault {kind}")

    def process_request(self, path: str, headers: Mapping[str, str]) -> tuple[int, str] | None:
        if path == "/ws/private" and headers.get("X-Token") != "t0k":
            return 401, "token required\n"
        return None


class Hosted:
    def __init__(self, host: WsHost, echo: Echo, cryptocom: CryptocomWsServer) -> None:
        self.host, self.echo, self.cryptocom = host, echo, cryptocom


@pytest.fixture
def hosted() -> Iterator[Hosted]:
    market = Market(7, trades_per_second=8)
    host = WsHost(max_buffer=2**20)
    echo = Echo(market)
    cryptocom = CryptocomWsServer(market, ping_interval=0.2, rate=5)
    host.attach(echo)
    host.attach(cryptocom)
    host.start()
    try:
        yield Hosted(host, echo, cryptocom)
    finally:
        host.stop()


def wait_for(cond: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds * FACTOR
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.005)


async def recv_until(
    ws: ClientConnection, pred: Callable[[Any], bool], seconds: float = 5.0
) -> list[Any]:
    """Frames until one satisfies ``pred`` (included); fails at the deadline."""
    got: list[Any] = []
    async with asyncio.timeout(seconds * FACTOR):
        while True:
            got.append(await ws.recv())
            if pred(got[-1]):
                return got


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# -- routing ----------------------------------------------------------------------------
def test_routing_by_first_segment_path_query_and_404(hosted: Hosted) -> None:
    async def go() -> None:
        async with connect(hosted.echo.url("/ws") + "?a=1&b=two") as ws:
            await ws.send("info")
            got = await recv_until(ws, lambda m: isinstance(m, bytes))
            info = orjson.loads(got[-1])
            assert info["path"] == "/ws" and info["query"] == {"a": "1", "b": "two"}
            assert info["id"] >= 1
            await ws.send("hello")
            await recv_until(ws, lambda m: m == "echo hello")
        # the Crypto.com server on the same host and port: gzip frames from its protocol
        assert hosted.cryptocom.url().startswith(hosted.host.url + "/cryptocom/")
        async with connect(hosted.cryptocom.url()) as ws:
            frame = await asyncio.wait_for(ws.recv(), 5 * FACTOR)
            assert isinstance(frame, bytes) and "ping" in orjson.loads(zlib.decompress(frame, 31))
        for path in ("/nope/ws", "/echo/elsewhere", "/echo", "/", "/cryptocom/ws"):
            with pytest.raises(InvalidStatus) as info:
                async with connect(hosted.host.url + path):
                    pass
            assert info.value.response.status_code == 404, path

    run(go())
    assert hosted.echo.accepted == 1 and hosted.cryptocom.accepted == 1


def test_handshake_check_refuses_with_its_status(hosted: Hosted) -> None:
    async def go() -> None:
        with pytest.raises(InvalidStatus) as info:
            async with connect(hosted.echo.url("/ws/private")):
                pass
        assert info.value.response.status_code == 401
        assert b"token required" in info.value.response.body
        async with connect(hosted.echo.url("/ws/private"), additional_headers={"X-Token": "t0k"}):
            pass

    run(go())
    assert hosted.echo.accepted == 1


def test_serve_return_flushes_then_closes(hosted: Hosted) -> None:
    async def go() -> ConnectionClosed:
        async with connect(hosted.echo.url()) as ws:
            await ws.send("bye")
            await recv_until(ws, lambda m: m == "last words")
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(5 * FACTOR):
                    while True:
                        await ws.recv()
            return info.value

    exc = run(go())
    assert exc.rcvd is not None and exc.rcvd.code == 1000
    wait_for(lambda: not hosted.echo.connections)
    assert hosted.echo.ended == ["server closed 1000"]


def test_last_received_and_registry(hosted: Hosted) -> None:
    async def go() -> None:
        async with connect(hosted.echo.url()) as ws:
            await ws.send("a")
            await recv_until(ws, lambda m: m == "echo a")
            (conn,) = hosted.echo.connections
            first = conn.last_received
            assert first > conn.opened
            await asyncio.sleep(0.05)
            await ws.send("b")
            await recv_until(ws, lambda m: m == "echo b")
            assert conn.last_received > first and not conn.closed

    run(go())
    wait_for(lambda: not hosted.echo.connections)
    assert hosted.echo.conns[0].closed and hosted.echo.ended == ["client closed"]


# -- shared faults ----------------------------------------------------------------------
def closed_by(hosted: Hosted, kind: str) -> ConnectionClosed:
    async def go() -> ConnectionClosed:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            hosted.echo.inject(kind)
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(5 * FACTOR):
                    while True:
                        await ws.recv()
            return info.value

    return run(go())  # type: ignore[no-any-return]


def test_drop_resets_without_a_close_frame(hosted: Hosted) -> None:
    exc = closed_by(hosted, "drop")
    assert exc.rcvd is None
    wait_for(lambda: hosted.echo.ended == ["dropped"])


@pytest.mark.parametrize(
    ("kind", "code", "reason"), [("close", 1000, "bye"), ("kick", 4000, "kicked")]
)
def test_close_and_kick_codes(hosted: Hosted, kind: str, code: int, reason: str) -> None:
    exc = closed_by(hosted, kind)
    assert exc.rcvd is not None and (exc.rcvd.code, exc.rcvd.reason) == (code, reason)
    wait_for(lambda: hosted.echo.ended == [f"server closed {code}"])


def test_malformed_sends_the_venue_frame_count_times(hosted: Hosted) -> None:
    async def go() -> list[Any]:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            hosted.echo.inject("malformed", count=2)
            got = await recv_until(ws, lambda m: m == "{not json")
            got += await recv_until(ws, lambda m: m == "{not json")
            return got

    got = run(go())
    assert got.count("{not json") == 2


def push_numbers(frames: list[tuple[float, Any]]) -> list[tuple[float, int]]:
    return [
        (t, int(m.split()[1])) for t, m in frames if isinstance(m, str) and m.startswith("push")
    ]


async def timed(ws: ClientConnection, seconds: float) -> list[tuple[float, Any]]:
    out: list[tuple[float, Any]] = []
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = await ws.recv()
                out.append((time.monotonic(), frame))
    except TimeoutError:
        pass
    return out


def test_silence_sends_nothing_for_its_seconds_then_resumes(hosted: Hosted) -> None:
    async def go() -> tuple[float, list[tuple[float, int]]]:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 3")
            start = time.monotonic()
            hosted.echo.inject("silence", seconds=0.5)
            return start, push_numbers(await timed(ws, 1.2 * FACTOR))

    start, pushes = run(go())
    (first_at, first), (_, second) = pushes[0], pushes[1]
    assert first_at - start >= 0.45  # nothing at all, pushes every 10 ms otherwise
    assert first - 3 > 10  # what was produced meanwhile was dropped, not delayed
    assert second == first + 1 and len(pushes) > 5  # and then they come back


def test_gap_skips_exactly_count_pushes(hosted: Hosted) -> None:
    async def go() -> list[int]:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 3")
            hosted.echo.inject("gap", count=5)
            return [3] + [n for _, n in push_numbers(await timed(ws, 0.4 * FACTOR))]

    numbers = run(go())
    jumps = [b - a for a, b in zip(numbers, numbers[1:], strict=False)]
    assert sorted(jumps)[-1] == 6 and sorted(jumps)[-2] == 1  # one hole of five


def test_gap_spares_replies(hosted: Hosted) -> None:
    async def go() -> None:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            hosted.echo.inject("gap", count=10_000)
            await asyncio.sleep(0.05)
            await ws.send("still there?")
            await recv_until(ws, lambda m: m == "echo still there?")

    run(go())


def test_venue_kinds_go_to_on_fault_and_pending_faults_wait(hosted: Hosted) -> None:
    hosted.echo.inject("reset", count=3)  # nobody connected: the next connection gets it
    hosted.echo.inject("malformed")

    async def go() -> list[Any]:
        async with connect(hosted.echo.url()) as ws:
            return await recv_until(ws, lambda m: m == "push 1")

    got = run(go())
    assert got[:2] == ["venue fault reset", "{not json"]
    assert hosted.echo.faults == [(hosted.echo.conns[0].id, "reset", 3)]


def test_a_closing_connection_leaves_its_faults_to_the_next(hosted: Hosted) -> None:
    # The server has begun closing the first connection ("close"); the "malformed" that
    # follows is for the connection the client opens next, not for the one going away.
    async def go() -> list[Any]:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            hosted.echo.inject("close")
            hosted.echo.inject("malformed")
            with pytest.raises(ConnectionClosed):
                await recv_until(ws, lambda m: False)
        async with connect(hosted.echo.url()) as ws:
            return await recv_until(ws, lambda m: m == "push 1")

    assert run(go())[0] == "{not json"


async def half_closed(url: str) -> asyncio.StreamWriter:
    """A client that has sent its close and read the server's answer, but keeps its TCP
    connection open (as a client between the close handshake and its disconnect)."""
    from websockets.client import ClientProtocol
    from websockets.protocol import State
    from websockets.uri import parse_uri

    uri = parse_uri(url)
    protocol = ClientProtocol(uri)
    reader, writer = await asyncio.open_connection(uri.host, uri.port)

    async def exchange(done: Callable[[], bool]) -> None:
        for data in protocol.data_to_send():
            writer.write(data)
        while not done():
            data = await reader.read(65536)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()

    protocol.send_request(protocol.connect())
    await exchange(lambda: protocol.state is not State.CONNECTING)
    protocol.send_close(1000)
    await exchange(lambda: protocol.close_rcvd is not None)
    return writer


def test_a_connection_in_its_close_handshake_leaves_faults_to_the_next(hosted: Hosted) -> None:
    async def go() -> list[Any]:
        writer = await half_closed(hosted.echo.url())
        try:
            (conn,) = hosted.echo.connections  # answered our close, waits for our FIN
            assert not conn.closed
            hosted.echo.inject("malformed")
            async with connect(hosted.echo.url()) as ws:
                return await recv_until(ws, lambda m: m == "push 1")
        finally:
            writer.close()

    assert run(go())[0] == "{not json"


def test_bad_kinds_and_counts_are_refused(hosted: Hosted) -> None:
    with pytest.raises(
        ValueError, match="valid: drop, close, kick, malformed, silence, gap, reset"
    ):
        hosted.echo.inject("checksum")
    with pytest.raises(ValueError, match="count"):
        hosted.echo.inject("gap", count=-1)
    with Sandbox(set_env=False) as sb, pytest.raises(ValueError, match="http_429"):
        sb.cryptocom.inject("teapot")  # HTTP kinds are listed for a server with an HTTP side
    assert set(SHARED_FAULTS) == {"drop", "close", "kick", "malformed", "silence", "gap"}


def test_inject_is_thread_safe(hosted: Hosted) -> None:
    async def go() -> None:
        async with connect(hosted.echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            errors: list[BaseException] = []

            def hammer() -> None:
                try:
                    for _ in range(50):
                        hosted.echo.inject("reset")
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=hammer) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors
            got = await recv_until(ws, lambda m: len(hosted.echo.faults) == 400)
            seen = got.count("venue fault reset")
            while seen < 400:  # every fault reached the client, once
                seen += await ws.recv() == "venue fault reset"

    run(go())
    assert len(hosted.echo.faults) == 400


# -- slow consumer ----------------------------------------------------------------------
def test_slow_consumer_is_cut_with_1008(hosted: Hosted) -> None:
    async def go() -> ConnectionClosed:
        # max_queue=1: websockets stops reading the socket once one frame waits, so
        # this client reads nothing while the server floods.
        async with connect(hosted.echo.url(), max_queue=1, max_size=None) as ws:
            await ws.send("flood")
            await asyncio.to_thread(wait_for, lambda: hosted.host.slow_consumers == 1, 10)
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(10 * FACTOR):
                    while True:
                        await ws.recv()
            return info.value

    exc = run(go())
    assert exc.rcvd is not None, "the close frame must reach the client"
    assert (exc.rcvd.code, exc.rcvd.reason) == (1008, "slow consumer")
    wait_for(lambda: hosted.echo.ended == ["slow consumer"])
    assert hosted.echo.conns[0].queued == 0  # what was queued was let go


def test_a_reading_client_is_not_cut(hosted: Hosted) -> None:
    async def go() -> int:
        received = 0
        async with connect(hosted.echo.url(), max_size=None) as ws:
            await ws.send("paced")  # 300 frames of 16 KiB, ~16 MB/s
            while received < 300 * 16384:
                frame = await asyncio.wait_for(ws.recv(), 10 * FACTOR)
                received += len(frame) if isinstance(frame, bytes) else 0
        return received

    assert run(go()) == 300 * 16384
    wait_for(lambda: hosted.echo.ended == ["client closed"])
    assert hosted.host.slow_consumers == 0


# -- lifecycle --------------------------------------------------------------------------
def test_stop_closes_clients_and_leaves_no_thread() -> None:
    market = Market(7)
    host = WsHost()
    echo = Echo(market)
    host.attach(echo)
    host.start()
    thread = host.thread
    assert thread is not None and thread.is_alive() and thread.daemon

    async def go() -> ConnectionClosed:
        async with connect(echo.url()) as ws:
            await recv_until(ws, lambda m: m == "push 1")
            await asyncio.to_thread(host.stop)
            with pytest.raises(ConnectionClosed) as info:
                async with asyncio.timeout(5 * FACTOR):
                    while True:
                        await ws.recv()
            return info.value

    exc = run(go())
    assert exc.rcvd is not None and exc.rcvd.code == 1001  # going away, politely
    assert echo.ended == ["sandbox stopped"]
    assert not thread.is_alive() and host.thread is None and not host.running
    assert thread not in threading.enumerate()
    with pytest.raises(RuntimeError, match="not running"):
        echo.inject("drop")


def test_a_stalled_client_does_not_hold_stop() -> None:
    host = WsHost(max_buffer=2**30)  # never cut: the flood stays queued behind the client
    echo = Echo(Market(7))
    host.attach(echo)
    host.start()
    thread = host.thread
    assert thread is not None

    async def go() -> float:
        async with connect(echo.url(), max_queue=1, max_size=None) as ws:
            await ws.send("flood")
            await asyncio.to_thread(wait_for, lambda: echo.conns and echo.conns[0].queued > 0)
            start = time.monotonic()
            await asyncio.to_thread(host.stop)
            took = time.monotonic() - start
            ws.transport.abort()
            return took

    took = run(go())
    assert took < 2 + 3 * FACTOR and not thread.is_alive()


def test_attach_checks_keys() -> None:
    host = WsHost()
    host.attach(Echo(Market(7)))
    with pytest.raises(ValueError, match="already attached"):
        host.attach(Echo(Market(7)))
    with pytest.raises(TypeError, match="no option"):
        Echo(Market(7), colour="red")


def test_sandbox_env_and_venue_options() -> None:
    with Sandbox(set_env=False, cryptocom_options={"rate": 3}) as sb:
        env = sb.env
        assert env["MDKIT_CRYPTOCOM_WS_URL"] == sb.cryptocom.url("/kline-api/ws")
        assert env["MDKIT_CRYPTOCOM_WS_URL"].endswith("/cryptocom/kline-api/ws")
        assert env["MDKIT_CRYPTOCOM_REST_URL"] == sb.http.url + "/cryptocom"
        assert sb.cryptocom_ws is sb.cryptocom and getattr(sb.cryptocom, "rate") == 3  # noqa: B009
        assert set(sb.servers) == set(SERVERS)
    with pytest.raises(ValueError, match="cryptocom_options"):
        Sandbox(set_env=False, nasdaq_options={})


# -- layering guard ---------------------------------------------------------------------
#: What mdkit/sandbox/ may import from mdkit (COMMON.md): never client code
#: (mdkit.venues, mdkit.engine, mdkit.capture, mdkit.account, mdkit.marketdata, ...).
ALLOWED = ("mdkit.sandbox", "mdkit.data", "mdkit.errors")


def client_imports(text: str, package: str) -> list[str]:
    """The mdkit modules (or names) imported by ``text`` that are outside ALLOWED.

    Covers ``import mdkit.x``, ``from mdkit.x import y``, ``from mdkit import x`` and
    relative imports, resolved from ``package`` (the file's own package).
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found |= {f"{module}.{a.name}" for a in node.names}
    mdkit_names = {m for m in found if m.startswith("mdkit.")}
    return sorted(
        m for m in mdkit_names if not any(m == a or m.startswith(a + ".") for a in ALLOWED)
    )


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(SANDBOX_DIR.parent.parent).parent.parts)


@pytest.mark.parametrize(
    "path", sorted(SANDBOX_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(SANDBOX_DIR))
)
def test_sandbox_imports_no_client_code(path: Path) -> None:
    assert client_imports(path.read_text(), package_of(path)) == []


@pytest.mark.parametrize(
    "line",
    [
        "from mdkit.venues import cryptocom_ws",
        "import mdkit.engine.stream",
        "from mdkit import capture",
        "from mdkit.account import Account",
        "from .. import marketdata",
        "from ..stream import StreamTables",
        "import mdkit.rest as r",
        "from mdkit.history import klines_history",
    ],
)
def test_guard_catches_client_imports(line: str) -> None:
    assert package_of(SANDBOX_DIR / "x.py") == "mdkit.sandbox"
    assert client_imports(line, "mdkit.sandbox"), line
    ok = "from mdkit.errors import MdkitError\nfrom . import http\nfrom .market import Market"
    assert client_imports(ok, "mdkit.sandbox") == []


def test_registry_points_into_the_sandbox() -> None:
    assert all(target.startswith("mdkit.sandbox.") for target in SERVERS.values())
