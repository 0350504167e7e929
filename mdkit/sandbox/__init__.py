"""The sandbox: a local, faithful emulator of every venue mdkit speaks.

One seeded synthetic :class:`~mdkit.sandbox.market.Market` feeds every venue's
server, so that every channel and endpoint tells one consistent story. Use it as a
context manager; inside the block the ``MDKIT_<VENUE>_*_URL`` variables point at it::

    with mdkit.sandbox.Sandbox() as sb:
        mdkit.klines("btcusdt", "1min")
        sb.cryptocom.inject("http_429", times=3)   # fault injection

``python -m mdkit sandbox`` runs it until Ctrl-C.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import Any

from mdkit.sandbox.cryptocom import CryptocomRest
from mdkit.sandbox.cryptocom_account import (
    DEMO_API_KEY,
    DEMO_BALANCES,
    DEMO_SECRET_KEY,
    CryptocomAccounts,
)
from mdkit.sandbox.cryptocom_ws import WS_FAULT_KINDS, CryptocomWsServer
from mdkit.sandbox.http import FAULT_KINDS, HttpServer
from mdkit.sandbox.market import INSTRUMENTS, Market

__all__ = ["Sandbox", "Market", "INSTRUMENTS", "FAULT_KINDS", "WS_FAULT_KINDS"]


class Sandbox:
    """Serve every venue on 127.0.0.1 from one synthetic market.

    Parameters
    ----------
    seed : int
        Seed of the synthetic market.
    host : str
        Address to bind; loopback by default.
    port : int
        Port of the Crypto.com REST server; 0 picks a free one.
    set_env : bool
        Point the ``MDKIT_*_URL`` environment variables at the sandbox inside the
        ``with`` block (restored on exit).
    ws_options : mapping, optional
        Passed to :class:`~mdkit.sandbox.cryptocom_ws.CryptocomWsServer` (``ack``,
        ``depth_mode``, ``ping_interval``, ``ping_unit``, ``rate``, ``strings``...).
    **market_options
        Passed to :class:`~mdkit.sandbox.market.Market` (``trades_per_second``,
        ``depth``, ``clock``).

    Attributes
    ----------
    market : Market
        The synthetic market.
    cryptocom : HttpServer
        The Crypto.com REST server; ``.inject(kind, times=...)`` queues faults
        (:data:`FAULT_KINDS`).
    accounts : CryptocomAccounts
        The Crypto.com signed user API on the same server; ``.create(balances={...})``
        opens an account and returns its ``(api_key, secret)``. A demo account
        (``DEMO_API_KEY``/``DEMO_SECRET_KEY``, fake) is funded with ``DEMO_BALANCES``,
        and inside the ``with`` block ``MDKIT_CRYPTOCOM_API_KEY``/``_SECRET_KEY`` name it.
    cryptocom_ws : CryptocomWsServer
        The Crypto.com WebSocket server; ``.inject(kind, ...)`` (:data:`WS_FAULT_KINDS`).
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        set_env: bool = True,
        ws_options: dict[str, Any] | None = None,
        **market_options: Any,
    ) -> None:
        self.market = Market(seed, **market_options)
        self.host = host
        self.set_env = set_env
        self.cryptocom = HttpServer(host, port)
        self.cryptocom_rest = CryptocomRest(self.market, self.cryptocom)
        self.accounts = CryptocomAccounts(self.market, self.cryptocom)
        self.accounts.create(DEMO_BALANCES, api_key=DEMO_API_KEY, secret=DEMO_SECRET_KEY)
        self.cryptocom_ws = CryptocomWsServer(self.market, host, **(ws_options or {}))
        self._saved_env: dict[str, str | None] = {}
        self._running = False

    @property
    def env(self) -> dict[str, str]:
        """The endpoint variables that point clients at this sandbox."""
        return {
            "MDKIT_CRYPTOCOM_REST_URL": self.cryptocom.url,
            "MDKIT_CRYPTOCOM_WS_URL": self.cryptocom_ws.url,
            "MDKIT_CRYPTOCOM_API_KEY": DEMO_API_KEY,
            "MDKIT_CRYPTOCOM_SECRET_KEY": DEMO_SECRET_KEY,
        }

    @property
    def urls(self) -> dict[str, str]:
        """Every endpoint, by name."""
        return {"cryptocom rest": self.cryptocom.url, "cryptocom ws": self.cryptocom_ws.url}

    def start(self) -> Sandbox:
        """Start every server (returns self)."""
        if not self._running:
            self.cryptocom.start()
            self.cryptocom_ws.start()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop every server."""
        if self._running:
            self.cryptocom.stop()
            self.cryptocom_ws.stop()
            self._running = False

    def __enter__(self) -> Sandbox:
        self.start()
        if self.set_env:
            for name, value in self.env.items():
                self._saved_env[name] = os.environ.get(name)
                os.environ[name] = value
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<Sandbox seed={self.market.seed} {state} {self.urls}>"
