"""Helpers of the hardening tests: a TCP listener that counts connections, every
``MDKIT_*`` URL pointed at it, calls run in a thread with a time bound, and a small
checker of values against (string) annotations.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


class Listener:
    """A local TCP server that accepts and closes every connection, and counts them.

    Accepting then closing makes a client that reached it fail fast (HTTP: remote
    disconnected; WebSocket: handshake failed), so a call with valid arguments ends
    quickly with a NetworkError instead of waiting for a timeout.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self.port: int = self._sock.getsockname()[1]
        self._count = 0
        self._pending: set[tuple[str, int]] = set()
        self._seen = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="listener", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, peer = self._sock.accept()
            except OSError:
                return
            with self._seen:
                if peer in self._pending:
                    self._pending.discard(peer)
                else:
                    self._count += 1
                self._seen.notify_all()
            conn.close()

    def connections(self) -> int:
        """Connections accepted so far (probes excluded), after every earlier one is in.

        A probe connection is made from a known address and waited for: accepts are in
        order, so once it is seen every connection made before it has been counted.
        """
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", 0))
            me = probe.getsockname()
            with self._seen:
                self._pending.add(me)
            probe.settimeout(5)
            probe.connect(("127.0.0.1", self.port))
            with self._seen:
                deadline = time.monotonic() + 5 * FACTOR
                while me in self._pending and time.monotonic() < deadline:
                    self._seen.wait(0.05)
                return self._count
        finally:
            probe.close()

    def url(self, scheme: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self._sock.close()


def endpoint_envs() -> dict[str, str]:
    """``MDKIT_<VENUE>_<ENV>`` → ``http``/``ws`` for every endpoint of every venue."""
    from mdkit.venues import get_venue, venue_keys

    out: dict[str, str] = {}
    for key in venue_keys():
        for endpoint in get_venue(key).endpoints.values():
            scheme = "http" if endpoint.env.upper().startswith("REST") else "ws"
            out[f"MDKIT_{key.upper()}_{endpoint.env}"] = scheme
    return out


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Replace every ``MDKIT_*`` variable by ``values`` inside the block."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("MDKIT_")}
    for name in saved:
        if name != "MDKIT_TEST_TIME_FACTOR":
            del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        for name in [k for k in os.environ if k.startswith("MDKIT_")]:
            del os.environ[name]
        os.environ.update(saved)


@contextmanager
def pointed_at(listener: Listener, **extra: str) -> Iterator[None]:
    """Every MDKIT_* URL at the listener, no credentials, no retries, short timeouts."""
    values = {name: listener.url(scheme) for name, scheme in endpoint_envs().items()}
    values.update({"MDKIT_TIMEOUT": "2", "MDKIT_RETRIES": "0"})
    values.update(extra)
    with environment(values):
        yield


@dataclass
class Outcome:
    """What a bounded call did."""

    value: Any = None
    error: BaseException | None = None
    finished: bool = False
    seconds: float = 0.0


def bounded(fn: Callable[[], Any], seconds: float) -> Outcome:
    """Run ``fn`` in a daemon thread; wait at most ``seconds`` for it."""
    out = Outcome()

    def run() -> None:
        started = time.monotonic()
        try:
            out.value = fn()
        except BaseException as exc:  # noqa: BLE001 - the caller judges it
            out.error = exc
        out.seconds = time.monotonic() - started
        out.finished = True

    thread = threading.Thread(target=run, name="bounded-call", daemon=True)
    thread.start()
    thread.join(seconds * FACTOR)
    return out


# -- annotations -----------------------------------------------------------------------
def _split_union(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p]


def type_verdict(value: Any, annotation: Any) -> bool | None:
    """True: ``value`` fits the annotation; False: it plainly does not; None: unknown.

    Only plain cases give False (a str where a number is due, None where it is not
    optional, a list where a str is due...): numpy scalars, Decimals and unknown
    annotations are "unknown", so the harness never demands refusing a value that a
    function may reasonably accept.
    """
    import numbers
    from collections.abc import Mapping, Sequence

    import numpy as np
    import pandas as pd

    if annotation is None or annotation == "None":
        return value is None
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", None) or str(annotation)
    verdicts: list[bool | None] = []
    for token in _split_union(annotation.replace("Optional[", "").rstrip("]")):
        head, _, inner = token.partition("[")
        head = head.strip().split(".")[-1]
        if head == "None":
            verdicts.append(value is None)
        elif head == "str":
            verdicts.append(isinstance(value, str))
        elif head == "bool":
            verdicts.append(None if isinstance(value, np.bool_ | int) else False)
        elif head == "int":
            if isinstance(value, bool):
                verdicts.append(None)
            elif isinstance(value, int):
                verdicts.append(True)
            elif isinstance(value, np.integer | float | numbers.Number):
                verdicts.append(None)
            elif isinstance(value, str) and value.strip().isdigit():
                verdicts.append(None)  # "17" for an id: accepting it is fair
            else:
                verdicts.append(False)
        elif head == "float":
            if isinstance(value, bool):
                verdicts.append(None)
            elif isinstance(value, int | float):
                verdicts.append(True)
            elif isinstance(value, numbers.Number | np.number):
                verdicts.append(None)
            else:
                verdicts.append(False)
        elif head == "DataFrame":
            verdicts.append(isinstance(value, pd.DataFrame))
        elif head in ("Sequence", "list", "tuple") and inner.startswith("str"):
            if isinstance(value, str) or not isinstance(value, Sequence):
                verdicts.append(False)
            else:
                verdicts.append(all(isinstance(v, str) for v in value))
        elif head in ("Mapping", "dict") and inner.startswith("str"):
            verdicts.append(None if isinstance(value, Mapping) else False)
        else:
            return None  # an annotation this checker does not know: no verdict
    if any(v is True for v in verdicts):
        return True
    if all(v is False for v in verdicts):
        return False
    return None
