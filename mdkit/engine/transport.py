"""The capture client's WebSocket transport: picows, one callback per frame.

picows parses frames in Cython and calls :meth:`Listener.on_ws_frame` for each, with
no per-frame ``await`` (measured here on 194-byte text frames: 650–730k frames/s,
1.4–1.5 µs CPU per frame, against 91–112k and 9–11 µs for websockets; DESIGN.md
"Transport"). This module hides picows behind three things the engine uses:

- :func:`connect` opens ``ws://`` or ``wss://`` (TLS, system trust store) with extra
  handshake headers (iTick's ``token``) and maps every failure to
  :class:`~mdkit.errors.NetworkError` with a readable reason;
- :class:`Listener` reassembles fragmented messages, answers RFC pings (picows'
  auto-pong), notes the close code and reason, and hands each complete message to
  ``on_message(payload: bytes, text: bool)``;
- :class:`Connection` sends text or binary messages and closes.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Mapping
from typing import Any

from picows import (
    WSCloseCode,
    WSError,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    ws_connect,
)

from mdkit.errors import AuthError, NetworkError

__all__ = ["CLOSE_TIMEOUT", "Connection", "Listener", "connect"]

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
#: Largest message accepted on the wire, 8 MiB (a full book of a busy venue fits many
#: times over); a compressed frame is further capped at ``max_frame`` once inflated.
MAX_MESSAGE = 2**23
#: Seconds a clean close waits for the server's close frame before dropping the socket.
CLOSE_TIMEOUT = 2.0


class Listener(WSListener):
    """picows callbacks for one connection (see the module docstring)."""

    def __init__(
        self,
        on_message: Callable[[bytes, bool], None],
        on_closed: Callable[[str], None],
    ) -> None:
        super().__init__()
        self.on_message = on_message
        self.on_closed = on_closed
        self.close_reason: str | None = None
        #: The server's close code (None: no close frame came, or it answered ours).
        self.close_code: int | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._text = False
        #: A close frame was sent or answered: no other is sent, and one from the server
        #: ends the handshake.
        self.closing = False
        self._close_timer: asyncio.TimerHandle | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if (kind is _TEXT or kind is _BINARY) and frame.fin:
            self.on_message(frame.get_payload_as_bytes(), kind is _TEXT)
        elif kind is _TEXT or kind is _BINARY:
            self._parts = [frame.get_payload_as_bytes()]
            self._size = len(self._parts[0])
            self._text = kind is _TEXT
        elif kind is _CONTINUATION and self._parts:
            part = frame.get_payload_as_bytes()
            self._parts.append(part)
            self._size += len(part)
            if self._size > MAX_MESSAGE:
                self._parts = []
                self.close_reason = "message too large"
                transport.send_close(WSCloseCode.MESSAGE_TOO_BIG)
                transport.disconnect()
            elif frame.fin:
                payload, self._parts = b"".join(self._parts), []
                self.on_message(payload, self._text)
        elif kind is _CLOSE and self.closing:  # the server answers our close: done
            transport.disconnect()
        elif kind is _CLOSE:
            self.closing = True
            code = frame.get_close_code()
            value: Any = getattr(code, "value", code)
            self.close_code = int(value)
            message = frame.get_close_message() or b""
            reason = message.decode("utf-8", "replace")
            self.close_reason = (
                f"closed by server (code {code.value if hasattr(code, 'value') else code}"
                + (f", {reason!r})" if reason else ")")
            )
            transport.send_close(code)
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self.on_closed(self.close_reason or "connection lost (no close frame)")


class Connection:
    """An open WebSocket connection: send, close, wait for the end."""

    __slots__ = ("_transport", "listener")

    def __init__(self, transport: WSTransport, listener: Listener) -> None:
        self._transport = transport
        self.listener = listener

    def send(self, message: str | bytes) -> None:
        """Send one message: a text frame for ``str``, a binary frame for ``bytes``."""
        if isinstance(message, str):
            self._transport.send(_TEXT, message.encode())
        else:
            self._transport.send(_BINARY, message)

    def close(self, reason: str | None = None) -> None:
        """Close cleanly (code 1000); safe to call twice.

        As RFC 6455 (section 7.1.2) has it, the connection reads on until the server's
        close frame answers: the frames the server sent before it saw ours are handed
        on like any other, never dropped with the socket. A server that does not answer
        within :data:`CLOSE_TIMEOUT` seconds is disconnected.
        """
        listener = self.listener
        if reason and listener.close_reason is None:
            listener.close_reason = reason
        if listener.closing:
            return
        listener.closing = True
        self._transport.send_close(WSCloseCode.OK)
        loop = asyncio.get_running_loop()
        listener._close_timer = loop.call_later(CLOSE_TIMEOUT, self._transport.disconnect)

    def abort(self, reason: str) -> None:
        """Drop the socket at once (a dead or misbehaving server)."""
        if self.listener.close_reason is None:
            self.listener.close_reason = reason
        self._transport.disconnect(graceful=False)

    async def wait_closed(self) -> None:
        """Return when the connection has ended (exceptions from callbacks are logged)."""
        try:
            await self._transport.wait_disconnected()
        except Exception:  # noqa: BLE001 - the listener already recorded why
            pass


async def connect(
    url: str,
    listener: Listener,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Connection:
    """Open a WebSocket connection whose frames go to ``listener``.

    Parameters
    ----------
    url : str
        ``ws://`` or ``wss://`` URL.
    listener : Listener
    headers : mapping, optional
        Extra handshake headers (credentials among them: never logged).
    timeout : float
        Seconds for TCP, TLS and the WebSocket handshake together.

    Returns
    -------
    Connection

    Raises
    ------
    AuthError
        If the server answered the upgrade with HTTP 401 or 403 (credentials refused).
    NetworkError
        With the reason: refused, unreachable, timed out, an HTTP status instead of
        the upgrade, a bad URL.
    """
    context = ssl.create_default_context() if url.startswith("wss://") else None
    secrets = [v for v in (headers or {}).values() if v]

    def redact(text: str) -> str:  # a server may echo the handshake headers back
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    try:
        async with asyncio.timeout(timeout):
            transport, _ = await ws_connect(
                lambda: listener,
                url,
                ssl_context=context,
                websocket_handshake_timeout=timeout,
                enable_auto_pong=True,
                max_frame_size=MAX_MESSAGE,
                extra_headers=dict(headers) if headers else None,
                logger_name="mdkit",
            )
    except TimeoutError:
        raise NetworkError(
            f"could not connect to {url}: no WebSocket handshake within {timeout:g} s"
        ) from None
    except WSError as exc:
        status = getattr(getattr(exc, "response", None), "status", None)
        if status in (401, 403):
            # The credentials were refused at the handshake (iTick's token header):
            # retrying cannot help, so this is not a NetworkError.
            raise AuthError(
                str(int(status)), redact(f"{url} refused the handshake: {_describe(exc)}")
            ) from None
        raise NetworkError(redact(f"could not connect to {url}: {_describe(exc)}")) from None
    except OSError as exc:
        text = exc.strerror or str(exc) or type(exc).__name__
        raise NetworkError(f"could not connect to {url}: {text}") from None
    except (ValueError, TypeError) as exc:
        raise NetworkError(f"could not connect to {url!r}: {exc}") from None
    if transport.response is None:
        # picows returns a transport even when the server closed before answering the
        # upgrade: that is a failed connect, not a connection.
        transport.disconnect(graceful=False)
        raise NetworkError(
            f"could not connect to {url}: the server closed the connection before "
            "answering the WebSocket upgrade"
        )
    return Connection(transport, listener)


def _describe(exc: Any) -> str:
    """A WSError in words (the HTTP status of a refused upgrade, when there is one)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status", None)
    if status is not None:
        body = getattr(response, "body", b"") or b""
        text = bytes(body)[:200].decode("utf-8", "replace").strip()
        return f"the server answered HTTP {int(status)}" + (f": {text}" if text else "")
    return f"{type(exc).__name__}: {exc}"
