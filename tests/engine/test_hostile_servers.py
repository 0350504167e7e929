"""Hostile servers over real sockets: connect errors that name the cause, echoed secrets.

Tiny local servers: one accepts TCP and never answers the upgrade, one closes before
the upgrade, one quotes the client's login back (error message and close reason),
one answers the upgrade with HTTP 401 quoting the request headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import mdkit
from mdkit.errors import AuthError, MdkitError, NetworkError
from tests.conftest import tiny_server

KEY = "echo-api-key-1234567890"
SECRET = "echo-secret-key-abcdefghij"
PASSPHRASE = "echo-passphrase-xyz"
TOKEN = "echo-token-0987654321"


@contextmanager
def tcp_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> Iterator[str]:
    """A raw TCP server on its own thread; yields its ws:// URL."""
    ready = threading.Event()
    state: dict[str, Any] = {}

    def run() -> None:
        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", 0)
            state["port"] = server.sockets[0].getsockname()[1]
            state["loop"], state["stop"] = asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            async with server:
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


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads the upgrade request, never answers


async def _slams(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.close()


def test_no_upgrade_answer_within_the_box_names_the_handshake_host_and_seconds() -> None:
    with tcp_server(_silent) as url:
        with pytest.raises(NetworkError) as caught:
            mdkit.capture("cryptocom", "btcusdt", "trades", seconds=1.5, url=url)
    text = str(caught.value)
    assert "handshake" in text and url.removeprefix("ws://") in text
    waited = re.search(r"within (\d+\.\d) s", text)
    assert waited is not None and 1.0 <= float(waited.group(1)) <= 3.0, text


def test_no_upgrade_answer_within_open_timeout_names_it() -> None:
    with tcp_server(_silent) as url:
        with pytest.raises(NetworkError) as caught:
            mdkit.capture(
                "cryptocom",
                "btcusdt",
                "trades",
                seconds=30,  # ends after five failed connects (0.5 s each), well before
                url=url,
                open_timeout=0.5,
                backoff=(0.01, 0.02),
            )
    text = str(caught.value)
    assert "handshake within 0.5 s" in text and url.removeprefix("ws://") in text


def test_a_close_before_the_upgrade_is_a_connect_failure_not_a_connection() -> None:
    with tcp_server(_slams) as url:
        with pytest.raises(NetworkError, match="closed the connection before answering") as caught:
            mdkit.capture("cryptocom", "btcusdt", "trades", seconds=3, url=url, backoff=(0.05, 0.1))
    assert caught.value.capture is None  # no connection was ever made


async def _echo_login(ws: Any) -> None:
    """Quote the login back: first in a non-fatal error and the close reason, then fatal."""
    login = await ws.recv()
    args = json.loads(login)["args"][0]
    if not hasattr(_echo_login, "seen"):
        _echo_login.seen = args  # type: ignore[attr-defined]
        await ws.send(json.dumps({"event": "error", "code": 30016, "msg": f"bad: {login}"}))
        await ws.close(4000, f"bad key {args['apiKey']} {args['passphrase']}")
        return
    await ws.send(json.dumps({"event": "error", "code": 30005, "msg": f"login failed: {login}"}))
    await ws.wait_closed()


def test_echoed_credentials_are_redacted_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mdkit")
    with tiny_server(_echo_login) as url:
        with pytest.raises(AuthError) as caught:
            mdkit.capture(
                "bitget",
                [],
                "balances",
                seconds=10,
                urls={"private": url},
                backoff=(0.05, 0.1),
                api_key=KEY,
                secret_key=SECRET,
                passphrase=PASSPHRASE,
            )
    seen = _echo_login.seen  # type: ignore[attr-defined]
    secrets = [KEY, SECRET, PASSPHRASE, seen["sign"]]
    cap = caught.value.capture
    assert cap is not None
    stored = [
        str(caught.value),
        repr(caught.value),
        json.dumps(cap.stats, default=str),
        cap.gaps.to_csv(),
        caplog.text,
    ]
    assert "login failed" in stored[0] and "***" in stored[0]
    assert any("bad key ***" in reason for reason in cap.gaps["reason"])
    for text in stored:
        for secret in secrets:
            assert secret not in text


async def _echo_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    head = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    writer.write(head % len(request) + request)
    await writer.drain()
    writer.close()


def test_a_handshake_answer_quoting_the_token_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mdkit")
    with tcp_server(_echo_headers) as url:
        with pytest.raises(MdkitError) as caught:
            mdkit.capture("itick", "BTCUSDT", "trades", seconds=3, url=url, token=TOKEN)
    assert "401" in str(caught.value)
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text


def _ws_frame(opcode: int, payload: bytes) -> bytes:
    assert len(payload) < 126
    return bytes((0x80 | opcode, len(payload))) + payload


async def _read_client_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    size = head[1] & 0x7F
    if size == 126:
        size = int.from_bytes(await reader.readexactly(2), "big")
    mask = await reader.readexactly(4)  # client frames are masked
    data = await reader.readexactly(size)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def _upgrade(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer a WebSocket upgrade request (RFC 6455 section 4.2.2)."""
    import base64
    import hashlib

    request = (await reader.readuntil(b"\r\n\r\n")).decode()
    key = re.search(r"(?i)sec-websocket-key: *(\S+)", request)
    assert key is not None
    accept = base64.b64encode(
        hashlib.sha1((key.group(1) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    ).decode()
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )


async def _answers_close_late(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts the upgrade; once the client's close frame comes, sends three data frames
    (as a server does that sent them before it read the close), then its close."""
    await _upgrade(reader, writer)
    while (await _read_client_frame(reader))[0] != 0x8:
        pass
    for i in range(3):
        writer.write(_ws_frame(0x1, f'{{"late": {i}}}'.encode()))
    writer.write(_ws_frame(0x8, (1000).to_bytes(2, "big")))
    await writer.drain()
    AFTER_CLOSE.append(await reader.read())  # what the client sent after its close frame
    writer.close()


#: Bytes the client sent after its close frame, per connection of ``_answers_close_late``.
AFTER_CLOSE: list[bytes] = []


async def _never_answers_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _upgrade(reader, writer)
    await reader.read()  # reads the close frame, answers nothing, until the client drops


def close_and_wait(url: str, closes: int = 1) -> tuple[list[bytes], list[str], float]:
    """Connect with mdkit's transport, close cleanly; the frames, the end reasons and the
    seconds from the close to the end."""
    from mdkit.engine import transport

    got: list[bytes] = []
    ended: list[str] = []

    async def run() -> float:
        listener = transport.Listener(lambda payload, text: got.append(payload), ended.append)
        connection = await transport.connect(url, listener)
        start = time.monotonic()
        for _ in range(closes):
            connection.close("stopped")
        await asyncio.wait_for(connection.wait_closed(), 10)
        return time.monotonic() - start

    return got, ended, asyncio.run(run())


def test_a_close_the_server_never_answers_ends_after_the_close_timeout() -> None:
    from mdkit.engine.transport import CLOSE_TIMEOUT

    with tcp_server(_never_answers_close) as url:
        got, ended, took = close_and_wait(url)
    assert got == [] and ended == ["stopped"]
    assert CLOSE_TIMEOUT <= took < CLOSE_TIMEOUT + 3


def test_a_clean_close_keeps_the_frames_the_server_sent_before_its_answer() -> None:
    # RFC 6455 7.1.2: after its close frame the client reads on until the server's close
    # answers; frames in flight at the end of a capture are handed on, not dropped.
    AFTER_CLOSE.clear()
    with tcp_server(_answers_close_late) as url:
        got, ended, took = close_and_wait(url, closes=2)
    assert got == [b'{"late": 0}', b'{"late": 1}', b'{"late": 2}']
    assert ended == ["stopped"]
    assert AFTER_CLOSE == [b""]  # closed twice: one close frame (picows refuses a second too)
