"""The sandbox: a local, faithful emulator of every venue mdkit speaks.

One seeded synthetic :class:`~mdkit.sandbox.market.Market` feeds every venue's
server, so that every channel and endpoint tells one consistent story. Every venue
is served by one WebSocket host and one HTTP host under its own prefix
(``ws://127.0.0.1:<port>/<venue>/...``, ``http://127.0.0.1:<port>/<venue>/...``).
Use it as a context manager; inside the block the ``MDKIT_<VENUE>_*`` variables
point at it::

    with mdkit.sandbox.Sandbox() as sb:
        mdkit.klines("btcusdt", "1min")
        sb.cryptocom.inject("http_429", times=3)   # an HTTP fault
        sb.cryptocom.inject("drop")                # a WebSocket fault
        sb.push_trade("richamster", "BTC/UAH")     # a trade now, on every channel
        sb.set_rate("bitget", "BTCUSDT", 20)       # 20 prints a second from now on

``python -m mdkit sandbox`` runs it until Ctrl-C.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from mdkit.errors import InvalidArgument, NetworkError
from mdkit.sandbox.http import FAULT_KINDS, HttpServer
from mdkit.sandbox.market import INSTRUMENTS, Market
from mdkit.sandbox.wshost import SHARED_FAULTS, VenueServer, WsHost

__all__ = [
    "Sandbox",
    "Market",
    "INSTRUMENTS",
    "FAULT_KINDS",
    "WS_FAULT_KINDS",
    "SHARED_FAULTS",
    "SERVERS",
]

#: The venue servers, one line per venue: key -> ``"module:VenueServer subclass"``.
SERVERS: dict[str, str] = {
    "cryptocom": "mdkit.sandbox.cryptocom_ws:CryptocomWsServer",
    "bitget": "mdkit.sandbox.bitget:BitgetServer",
    "itick": "mdkit.sandbox.itick:ItickServer",
    "richamster": "mdkit.sandbox.richamster:RichamsterServer",
    "bittap": "mdkit.sandbox.bittap:BittapServer",
}

#: The WebSocket faults every venue has (venues may add their own: ``sb.<venue>.kinds``).
WS_FAULT_KINDS = SHARED_FAULTS


def _check(seed: Any, host: Any, port: Any, ws_port: Any, set_env: Any, max_buffer: Any) -> None:
    """Refuse bad constructor arguments before anything binds a socket."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidArgument(f"seed must be an integer, not {seed!r}")
    if not isinstance(host, str) or not host.strip() or "\x00" in host:
        raise InvalidArgument(f"host must be an address such as '127.0.0.1', not {host!r}")
    for name, value in (("port", port), ("ws_port", ws_port)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise InvalidArgument(f"{name} must be an integer from 0 (any) to 65535, not {value!r}")
    if not isinstance(set_env, bool):
        raise InvalidArgument(f"set_env must be True or False, not {set_env!r}")
    if isinstance(max_buffer, bool) or not isinstance(max_buffer, int) or max_buffer < 1024:
        raise InvalidArgument(f"max_buffer must be a number of bytes >= 1024, not {max_buffer!r}")


def _server_class(key: str) -> type[VenueServer]:
    module, _, name = SERVERS[key].partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, VenueServer)) or cls.key != key:
        raise TypeError(f"SERVERS[{key!r}] = {SERVERS[key]!r} is not a VenueServer keyed {key!r}")
    return cls


class Sandbox:
    """Serve every venue on 127.0.0.1 from one synthetic market.

    Parameters
    ----------
    seed : int
        Seed of the synthetic market.
    host : str
        Address to bind; loopback by default.
    port : int
        Port of the HTTP host; 0 picks a free one.
    ws_port : int
        Port of the WebSocket host; 0 picks a free one.
    set_env : bool
        Point the ``MDKIT_*`` environment variables at the sandbox inside the
        ``with`` block (restored on exit).
    max_buffer : int
        Bytes queued for one WebSocket client beyond which it is cut off (1008).
    ws_options : mapping, optional
        Same as ``cryptocom_options`` (kept for older callers).
    **options
        ``<venue>_options={...}`` are passed to that venue's server (e.g.
        ``cryptocom_options={"rate": 4, "ack": False}``); the rest go to
        :class:`~mdkit.sandbox.market.Market` (``trades_per_second``, ``depth``,
        ``clock``, ``busy_since``: a busier ``trades_per_second`` holds from the
        sandbox's start, its history runs at the default rate; ``detail_days``: days
        of detailed tape before today, older history is coarse).

    Attributes
    ----------
    market : Market
        The synthetic market.
    servers : dict
        Venue key -> its :class:`~mdkit.sandbox.wshost.VenueServer`, also reachable
        as ``sb.<venue>`` (``sb.cryptocom.inject(kind, ...)``, ``.kinds`` lists the
        kinds, ``.rest_url``, ``.requests_served``).
    ws : WsHost
        The WebSocket host.
    http : HttpServer
        The HTTP host.
    """

    def __init__(
        self,
        seed: int = 7,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ws_port: int = 0,
        set_env: bool = True,
        max_buffer: int = 4 * 2**20,
        ws_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        _check(seed, host, port, ws_port, set_env, max_buffer)
        venue_options: dict[str, dict[str, Any]] = {}
        market_options: dict[str, Any] = {}
        for name, value in {"ws_options": ws_options, **options}.items():
            if name == "ws_options" and value is None:
                continue
            if name.endswith("_options"):
                key = "cryptocom" if name == "ws_options" else name.removesuffix("_options")
                if key not in SERVERS:
                    raise InvalidArgument(
                        f"unknown venue in {name}=; valid: "
                        + ", ".join(f"{k}_options" for k in SERVERS)
                    )
                if value is not None and not isinstance(value, Mapping):
                    raise InvalidArgument(f"{name} must be a mapping or None, not {value!r}")
                venue_options[key] = {**dict(value or {}), **venue_options.get(key, {})}
            else:
                market_options[name] = value
        try:
            self.market = Market(seed, **market_options)
        except (TypeError, ValueError) as exc:
            raise InvalidArgument(f"Sandbox market options: {exc}") from None
        self.host = host
        self.set_env = set_env
        try:
            self.http = HttpServer(host, port)
        except (OSError, OverflowError) as exc:
            raise NetworkError(f"the sandbox cannot serve HTTP on {host}:{port}: {exc}") from None
        self.ws = WsHost(host, ws_port, max_buffer=max_buffer)
        self.servers: dict[str, VenueServer] = {}
        for key in SERVERS:
            server = _server_class(key)(self.market, **venue_options.get(key, {}))
            self.ws.attach(server)
            server.bind_http(self.http.venue(key))
            self.servers[key] = server
        self._saved_env: dict[str, str | None] = {}
        self._running = False

    # -- controls: make market events happen (tests need not wait on luck) -------
    def _view(self, venue: Any, symbol: Any) -> Market:
        if venue not in SERVERS:
            raise InvalidArgument(f"unknown venue {venue!r}; valid: {', '.join(SERVERS)}")
        view = self.market.venue(venue)
        if symbol not in view.instruments:
            raise InvalidArgument(
                f"{venue} lists no symbol {symbol!r}; valid: {', '.join(view.instruments)}"
            )
        return view

    def push_trade(
        self, venue: str, symbol: str, *, side: str = "buy", amount: float | None = None
    ) -> dict[str, Any]:
        """Print one trade now on ``venue``'s ``symbol``; every channel of it carries it.

        The trade is stamped at the market clock's next millisecond, at the touch
        of that second's book (a buy at the best ask, a sell at the best bid; a
        large ``amount`` walks the book to the level that fills it). From then on
        it is part of the tape: that venue's trade streams send it at their next
        tick (a tenth of a second at the default rates), and its tickers and
        klines include it. With a frozen test clock it appears once the clock
        passes that millisecond.

        Parameters
        ----------
        venue : str
            A key of :data:`SERVERS` (``"richamster"``, ``"bitget"``...).
        symbol : str
            The venue's own spelling (``"BTC/UAH"`` on Richamster, ``"BTCUSDT"`` on
            Bitget and iTick, ``"BTC-USDT"`` on BitTap, ``"btcusdt"`` on Crypto.com).
        side : {"buy", "sell"}
            Taker side.
        amount : float, optional
            Base amount, on the symbol's lot grid (at least one lot); the symbol's
            median trade size by default.

        Returns
        -------
        dict
            ``id`` (int, the trade id the venue sends), ``time_ms`` (int, epoch ms),
            ``price`` and ``amount`` (floats on the symbol's grid), ``side``.

        Raises
        ------
        InvalidArgument
            Unknown venue, symbol or side, or an amount that is not a positive number.
        """
        view = self._view(venue, symbol)
        if side not in ("buy", "sell"):
            raise InvalidArgument(f"side must be one of 'buy', 'sell', not {side!r}")
        if amount is not None and (
            isinstance(amount, bool) or not isinstance(amount, int | float) or not amount > 0
        ):
            raise InvalidArgument(f"amount must be a positive number or None, not {amount!r}")
        return view.push_trade(symbol, side=side, amount=amount)

    def set_rate(self, venue: str, symbol: str, trades_per_second: float | None) -> None:
        """Set the live trade intensity of ``venue``'s ``symbol`` from the next second on.

        Parameters
        ----------
        venue : str
            A key of :data:`SERVERS`.
        symbol : str
            The venue's own spelling (see :meth:`push_trade`).
        trades_per_second : float or None
            Mean prints per second of a flat Poisson tape, from 0 (silent) to
            10000; ``None`` restores the default (intraday profile, bursts). Past
            trades never change.

        Raises
        ------
        InvalidArgument
            Unknown venue or symbol, or a rate outside 0..10000.
        """
        view = self._view(venue, symbol)
        try:
            view.set_rate(symbol, trades_per_second)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None

    def __getattr__(self, name: str) -> VenueServer:
        # sb.<venue>; only reached for names that are not ordinary attributes.
        servers = self.__dict__.get("servers", {})
        if name in servers:
            return servers[name]  # type: ignore[no-any-return]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self.__dict__.get("servers", {})))

    # Older spellings, kept because they cost one line each.
    @property
    def cryptocom_ws(self) -> VenueServer:
        """Same as ``sb.cryptocom`` (the Crypto.com server, WebSocket and HTTP)."""
        return self.servers["cryptocom"]

    @property
    def accounts(self) -> Any:
        """Same as ``sb.cryptocom.accounts`` (the Crypto.com signed user API)."""
        return getattr(self.servers["cryptocom"], "accounts")  # noqa: B009

    @property
    def env(self) -> dict[str, str]:
        """Every ``MDKIT_<VENUE>_<NAME>`` variable that points clients at this sandbox."""
        return {
            f"MDKIT_{key.upper()}_{name}": value
            for key, server in self.servers.items()
            for name, value in server.env().items()
        }

    @property
    def urls(self) -> dict[str, str]:
        """Every endpoint, by name (``"cryptocom ws"``, ``"cryptocom rest"``...)."""
        out: dict[str, str] = {}
        for key, server in self.servers.items():
            for name, value in server.env().items():
                if name.endswith("URL"):
                    label = name.removesuffix("URL").removesuffix("_").lower() or "url"
                    out[f"{key} {label}"] = value
        return out

    def start(self) -> Sandbox:
        """Start both hosts (returns self)."""
        if not self._running:
            self.http.start()
            try:
                self.ws.start()
            except (OSError, OverflowError) as exc:
                self.http.stop()
                raise NetworkError(
                    f"the sandbox cannot serve WebSocket on {self.host}:{self.ws.port}: {exc}"
                ) from None
            self._running = True
        return self

    def stop(self) -> None:
        """Stop both hosts."""
        if self._running:
            self.http.stop()
            self.ws.stop()
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
        # Safe on a half-built sandbox (a constructor that raised midway): traceback
        # renderers that show locals call repr on it.
        fields = self.__dict__
        market = fields.get("market")
        if market is None or "servers" not in fields or "_running" not in fields:
            return f"<Sandbox (not built) seed={getattr(market, 'seed', '?')}>"
        state = "running" if self._running else "stopped"
        return f"<Sandbox seed={market.seed} {state} {self.urls}>"
