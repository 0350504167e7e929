"""mdkit: crypto market data as pandas DataFrames, for research notebooks.

    import mdkit
    df = mdkit.klines("btcusdt", "1min")
    book = mdkit.depth("btcusdt")
    cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=10)
    r = mdkit.request("bittap", "time")     # r.result, r.rate_limits

``import mdkit`` loads the error classes only; every other name loads its module on
first use (PEP 562), so pandas, numpy, asyncio, ssl, requests, websockets and
matplotlib are imported by the call that needs them, not by ``import mdkit``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any

from mdkit import errors
from mdkit.errors import (
    AuthError,
    DatasetError,
    InvalidArgument,
    LoopThreadError,
    MdkitError,
    NetworkError,
    ProtocolError,
    RateLimitError,
    TradingDisabled,
    UnknownChannel,
    UnknownInterval,
    UnknownSymbol,
    UnknownVenue,
    VenueError,
)

if TYPE_CHECKING:
    from mdkit import plot
    from mdkit.account import Account
    from mdkit.capture import Capture, acapture, capture, replay
    from mdkit.marketdata import depth, klines, prices, symbols, ticker, tickers, trades
    from mdkit.request import Response, arequest, request
    from mdkit.store.read import read_parquet
    from mdkit.store.recorder import record

__version__ = "0.1.0"

#: Public name → the module that defines it (``plot`` is a module itself).
_LAZY: dict[str, str] = {
    "Account": "mdkit.account",
    "Capture": "mdkit.capture",
    "acapture": "mdkit.capture",
    "capture": "mdkit.capture",
    "depth": "mdkit.marketdata",
    "klines": "mdkit.marketdata",
    "prices": "mdkit.marketdata",
    "symbols": "mdkit.marketdata",
    "ticker": "mdkit.marketdata",
    "tickers": "mdkit.marketdata",
    "trades": "mdkit.marketdata",
    "Response": "mdkit.request",
    "arequest": "mdkit.request",
    "request": "mdkit.request",
    "read_parquet": "mdkit.store.read",
    "record": "mdkit.store.recorder",
    "replay": "mdkit.capture",
    "plot": "mdkit.plot",
}


def __getattr__(name: str) -> Any:
    """Load a public name's module on first use (PEP 562) and keep the name.

    Subpackages and modules (``mdkit.venues``, ``mdkit.marketdata``...) load the same
    way, as they were reachable after an eager ``import mdkit``.
    """
    module = _LAZY.get(name)
    if module is None:
        if name.startswith("_") or importlib.util.find_spec(f"mdkit.{name}") is None:
            raise AttributeError(f"module 'mdkit' has no attribute {name!r}")
        return importlib.import_module(f"mdkit.{name}")
    loaded = importlib.import_module(module)
    value = loaded if name == "plot" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """``mdkit.capture`` and ``mdkit.request`` name functions, not their modules.

    Importing a submodule sets it as an attribute of its package; for these two
    names that would hide the function of the same name (``mdkit.capture(...)``
    would then be the module). The function wins, as with an eager import.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("capture", "request") and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "Account",
    "AuthError",
    "Capture",
    "DatasetError",
    "InvalidArgument",
    "LoopThreadError",
    "MdkitError",
    "NetworkError",
    "ProtocolError",
    "RateLimitError",
    "Response",
    "TradingDisabled",
    "UnknownChannel",
    "UnknownInterval",
    "UnknownSymbol",
    "UnknownVenue",
    "VenueError",
    "acapture",
    "arequest",
    "capture",
    "depth",
    "errors",
    "klines",
    "plot",
    "prices",
    "request",
    "read_parquet",
    "record",
    "replay",
    "symbols",
    "ticker",
    "tickers",
    "trades",
    "__version__",
]
