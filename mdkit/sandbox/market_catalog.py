"""What the synthetic market lists: assets, instruments, venues, and its data blocks.

Every price is a ratio of two assets' USD paths (:data:`ASSETS`); every instrument of
:data:`CATALOG` is a pair of them with its own grid, trade size and activity; every
venue of :data:`VENUES` lists some of them in its own spelling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ASSETS",
    "CATALOG",
    "INSTRUMENTS",
    "VENUES",
    "Book",
    "Instrument",
    "Trades",
    "Venue",
    "sym_id",
]


@dataclass(frozen=True)
class Instrument:
    """A market the sandbox lists (``symbol`` as the venue spells it)."""

    symbol: str
    base: str
    quote: str
    price0: float
    price_precision: int
    amount_precision: int
    #: Median trade size in base units.
    size: float
    #: Trades per second relative to BTC/USDT.
    activity: float = 1.0
    #: Daily volatility of log returns.
    vol: float = 0.03
    #: Mean extra spread in ticks (beyond one).
    spread: float = 1.0
    #: Catalogue key (``btcusdt``), the same on every venue.
    key: str = ""

    @property
    def tick(self) -> float:
        """Smallest price step."""
        return 10.0**-self.price_precision

    @property
    def lot(self) -> float:
        """Smallest amount step."""
        return 10.0**-self.amount_precision

    def prices(self, ticks: np.ndarray) -> np.ndarray:
        """Prices of integer ``ticks``: the doubles nearest their exact decimals."""
        return np.asarray(ticks / 10.0**self.price_precision, dtype=np.float64)

    def amounts(self, lots: np.ndarray) -> np.ndarray:
        """Amounts of integer ``lots`` (the doubles nearest their exact decimals)."""
        return np.asarray(lots / 10.0**self.amount_precision, dtype=np.float64)


def _inst(sym: str, base: str, quote: str, *args: float) -> Instrument:
    p0, pp, ap, size, act, vol, spread = args
    return Instrument(sym, base, quote, p0, int(pp), int(ap), size, act, vol, spread, sym)


#: Every instrument of the synthetic world, by catalogue key.
CATALOG: dict[str, Instrument] = {
    i.key: i
    for i in (
        _inst("btcusdt", "btc", "usdt", 65000.0, 2, 6, 0.01, 1.0, 0.025, 1.5),
        _inst("ethusdt", "eth", "usdt", 3200.0, 2, 4, 0.15, 0.7, 0.03, 1.0),
        _inst("ethbtc", "eth", "btc", 0.049, 6, 3, 0.3, 0.15, 0.02, 1.0),
        _inst("xrpusdt", "xrp", "usdt", 0.55, 4, 1, 400.0, 0.35, 0.04, 0.3),
        _inst("xrpbtc", "xrp", "btc", 0.0000085, 9, 0, 500.0, 0.05, 0.035, 0.5),
        _inst("crousdt", "cro", "usdt", 0.09, 5, 1, 2000.0, 0.25, 0.04, 0.5),
        _inst("crobtc", "cro", "btc", 0.0000014, 10, 0, 2000.0, 0.05, 0.04, 1.0),
        _inst("ltcusdt", "ltc", "usdt", 72.0, 2, 3, 1.5, 0.3, 0.035, 0.5),
        _inst("solusdt", "sol", "usdt", 150.0, 2, 3, 2.0, 0.5, 0.045, 0.5),
        _inst("krbuah", "krb", "uah", 1.25, 4, 4, 50.0, 0.2, 0.06, 2.0),
        _inst("btcuah", "btc", "uah", 2_700_000.0, 2, 6, 0.002, 0.3, 0.025, 20.0),
        _inst("ethuah", "eth", "uah", 132_000.0, 2, 4, 0.05, 0.2, 0.03, 10.0),
        _inst("usdtuah", "usdt", "uah", 41.5, 2, 2, 300.0, 0.3, 0.004, 0.3),
    )
}


@dataclass(frozen=True)
class Venue:
    """How one venue sees the common market."""

    key: str
    #: Catalogue keys the venue lists.
    listed: tuple[str, ...]
    #: Symbol spelling from (BASE, QUOTE) in upper case.
    style: Callable[[str, str], str]
    #: Seconds behind the common efficient price (lead-lag between venues).
    lag: int
    #: Own microstructure noise on the log mid, basis points.
    noise_bp: float
    spread_mult: float
    depth_mult: float
    activity_mult: float
    #: Seeds the venue's own trades and book.
    salt: int


_USDT = ("btcusdt", "ethusdt", "xrpusdt", "ltcusdt", "solusdt")
#: The venues and their symbol styles (NOTES.md, protocols/samples).
VENUES: dict[str, Venue] = {
    v.key: v
    for v in (
        Venue(
            "cryptocom",
            ("btcusdt", "ethusdt", "ethbtc", "xrpusdt", "xrpbtc", "crousdt", "crobtc", "ltcusdt"),
            lambda b, q: (b + q).lower(),
            1, 0.6, 1.0, 1.0, 1.0, 1,
        ),
        Venue("bitget", (*_USDT, "ethbtc"), lambda b, q: b + q, 0, 0.3, 0.8, 2.0, 2.0, 2),
        Venue("bittap", _USDT, lambda b, q: f"{b}-{q}", 1, 1.0, 1.5, 0.6, 0.6, 3),
        Venue("itick", (*_USDT, "crousdt", "ethbtc"), lambda b, q: b + q, 2, 0.5, 1.0, 1.0, 1.0, 4),
        Venue(
            "richamster",
            ("krbuah", "btcuah", "ethuah", "usdtuah", "btcusdt"),
            lambda b, q: f"{b}/{q}",
            3, 2.0, 2.0, 0.3, 0.3, 5,
        ),
    )
}  # fmt: skip

#: The default (Crypto.com) view's instruments.
INSTRUMENTS: tuple[Instrument, ...] = tuple(CATALOG[k] for k in VENUES["cryptocom"].listed)


@dataclass
class Trades:
    """A block of trades, oldest first (time in ms); prices/amounts also as ticks/lots."""

    time_ms: np.ndarray
    id: np.ndarray
    price: np.ndarray
    amount: np.ndarray
    is_buy: np.ndarray
    price_ticks: np.ndarray
    amount_lots: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def take(self, keep: np.ndarray) -> Trades:
        """The trades selected by a mask or index array."""
        return Trades(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))


@dataclass
class Book:
    """Book at one second: bids high→low, asks low→high, ``(n, 2)`` price/amount.

    ``bid_ticks``/``ask_ticks`` and ``bid_lots``/``ask_lots`` are the same levels as
    integers on the instrument's grid.
    """

    bids: np.ndarray
    asks: np.ndarray
    second: int
    bid_ticks: np.ndarray
    ask_ticks: np.ndarray
    bid_lots: np.ndarray
    ask_lots: np.ndarray


#: Every asset's USD price level and daily volatility: a pair's price is the ratio of
#: its two assets' paths (one price level across pairs: ETH/BTC = ETH/USDT ÷ BTC/USDT).
ASSETS: dict[str, tuple[float, float]] = {
    "btc": (65000.0, 0.025),
    "eth": (3200.0, 0.03),
    "xrp": (0.55, 0.04),
    "cro": (0.09, 0.04),
    "ltc": (72.0, 0.035),
    "sol": (150.0, 0.045),
    "krb": (1.25 / 41.5, 0.06),
    "usdt": (1.0, 0.0005),
    "uah": (1.0 / 41.5, 0.004),
}


def sym_id(key: str) -> int:
    """A stable integer for a catalogue key or asset (seeds its random streams)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key))
