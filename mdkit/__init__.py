"""mdkit: crypto market data as pandas DataFrames, for research notebooks.

    import mdkit
    df = mdkit.klines("btcusdt", "1min")
    book = mdkit.depth("btcusdt")
    cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=10)
    r = mdkit.request("bittap", "time")     # r.result, r.rate_limits

``import mdkit`` loads pandas and numpy only; requests, websockets and
matplotlib load on first use.
"""

from __future__ import annotations

from mdkit import errors, plot
from mdkit.account import Account
from mdkit.capture import Capture, acapture, capture, replay
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
from mdkit.marketdata import depth, klines, prices, symbols, ticker, tickers, trades
from mdkit.request import Response, arequest, request
from mdkit.store.read import read_parquet
from mdkit.store.recorder import record

__version__ = "0.1.0"

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
