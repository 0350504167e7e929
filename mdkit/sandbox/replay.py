"""A replay server: recorded raw frames served over a real WebSocket, at their pace or faster.

It reads the ``raw`` kind of a dataset (or one raw Parquet file) with pyarrow
directly (the sandbox imports no client code), and serves one venue's frames: the
n-th client connection gets the frames of the n-th recorded connection (the last
one again past the end), text frames as text, binary as binary, spaced as they
were received divided by ``speed`` (``speed=None``: as fast as the socket takes
them), starting after the client's first message (its login or subscribe). Client
messages are otherwise ignored: the recording already holds the server's answers.

::

    with ReplayServer("data/", venue="cryptocom", speed=10) as server:
        cap = mdkit.capture("cryptocom", syms, chans, seconds=5, url=server.url)
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from types import TracebackType
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

__all__ = ["ReplayServer", "load_frames", "FIRST_MESSAGE_WAIT"]

#: Seconds a connection waits for the client's first message before serving.
FIRST_MESSAGE_WAIT = 1.0


def load_frames(source: str, venue: str | None = None) -> dict[int, list[tuple[int, bool, bytes]]]:
    """Recorded frames by connection: ``{connection: [(receive ns, text, payload), ...]}``."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    if os.path.isdir(source):
        base = os.path.join(source, "kind=raw")
        if venue is not None:
            base = os.path.join(base, f"venue={venue}")
        files = sorted(
            os.path.join(d, f)
            for d, _, names in os.walk(base)
            for f in names
            if f.endswith(".parquet") and f[0] not in "._"
        )
    else:
        files = [source]
    if not files:
        raise ValueError(f"no raw frames in {source!r}" + (f" for {venue!r}" if venue else ""))
    table = ds.dataset(files, format="parquet").to_table(
        columns=[
            c
            for c in ("local_timestamp", "connection", "text", "payload", "venue")
            if c in ds.dataset(files[0], format="parquet").schema.names
        ]
    )
    if venue is not None and "venue" in table.column_names:
        table = table.filter(pc.equal(table["venue"].cast("string"), venue))
    table = table.sort_by("local_timestamp")
    out: dict[int, list[tuple[int, bool, bytes]]] = {}
    for when, conn, text, payload in zip(
        table["local_timestamp"].cast("int64").to_pylist(),
        table["connection"].to_pylist(),
        table["text"].to_pylist(),
        table["payload"].to_pylist(),
        strict=True,
    ):
        out.setdefault(int(conn), []).append((int(when), bool(text), bytes(payload)))
    return out


class ReplayServer:
    """Serve recorded frames on ``ws://host:port/`` (see the module docstring).

    Parameters
    ----------
    source : str
        Dataset directory or raw Parquet file.
    venue : str, optional
        The venue whose frames to serve (required when the source holds several).
    speed : float or None
        1.0 = recorded pace, 10 = ten times faster, None = as fast as possible.
    host, port : str, int
        Where to listen (port 0 = any free port).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        venue: str | None = None,
        speed: float | None = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be above 0 or None, not {speed!r}")
        self.connections = load_frames(os.fspath(source), venue)
        self.speed = speed
        self.host = host
        self.port = port
        self.served = 0
        self.accepted = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL to capture from."""
        return f"ws://{self.host}:{self.port}/"

    @property
    def frames(self) -> int:
        """Recorded frames held."""
        return sum(len(v) for v in self.connections.values())

    async def _serve(self, ws: ServerConnection) -> None:
        numbers = sorted(self.connections)
        frames = self.connections[numbers[min(self.accepted, len(numbers) - 1)]]
        self.accepted += 1
        first_message = asyncio.Event()
        reader = asyncio.ensure_future(self._drain(ws, first_message))
        # A live server pushes data only after the client's login or subscribe: wait
        # for the client's first message (at most FIRST_MESSAGE_WAIT s, for venues
        # whose server speaks first) so the client's session is ready for the frames.
        try:
            await asyncio.wait_for(first_message.wait(), FIRST_MESSAGE_WAIT)
        except TimeoutError:
            pass
        start = time.monotonic()
        first = frames[0][0] if frames else 0
        try:
            for when, text, payload in frames:
                if self.speed is not None:
                    delay = (when - first) / 1e9 / self.speed - (time.monotonic() - start)
                    if delay > 0:
                        await asyncio.sleep(delay)
                await ws.send(payload.decode() if text else payload)
                self.served += 1
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()

    async def _drain(self, ws: ServerConnection, first: asyncio.Event) -> None:
        try:
            async for _ in ws:
                first.set()
        except ConnectionClosed:
            pass

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        async with serve(self._serve, self.host, self.port, max_size=None) as server:
            self.port = server.sockets[0].getsockname()[1] if server.sockets else self.port
            ready.set()
            await self._stop.wait()

    def start(self) -> ReplayServer:
        """Start serving in a daemon thread (returns self)."""
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._main(ready))
            self._loop.close()

        self._thread = threading.Thread(target=run, name="mdkit-replay-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ReplayServer {self.url} {self.frames} frames, speed {self.speed}>"

    def info(self) -> dict[str, Any]:
        """Counters: ``accepted`` connections, frames ``served``."""
        return {"accepted": self.accepted, "served": self.served, "frames": self.frames}
