"""Controls of the synthetic market: make an event happen instead of waiting for it.

:meth:`Controls.push_trade` prints a trade now (at the touch of that second's book)
and :meth:`Controls.set_rate` sets a symbol's intensity from the next second on.
Both change only the future of the tape: what a client has seen never changes.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mdkit.sandbox.market_catalog import Book, Instrument, Trades, Venue

__all__ = ["Controls", "PER_SECOND", "PUSHED"]

#: Trade ids are ``second * PER_SECOND + j``, ``j`` the trade's place in its second's
#: time order (pushed trades included).
PER_SECOND = 65536
#: The tape draws fewer prints than this in a second (the rest of the range is for pushes).
PUSHED = 49152


class Controls:
    """push_trade and set_rate of a :class:`~mdkit.sandbox.market.Market` (a mixin)."""

    if TYPE_CHECKING:
        instruments: dict[str, Instrument]
        profile: Venue

        def now(self) -> float: ...
        def book(self, symbol: str, t: float | None = None) -> Book: ...
        def _generated(self, symbol: str, seconds: np.ndarray, times: bool = True) -> Trades: ...

    _lock: threading.Lock
    _pushed: dict[str, list[tuple[int, int, int, int, bool]]]
    _rates: dict[str, list[tuple[int, float | None]]]

    def push_trade(
        self, symbol: str, *, side: str = "buy", amount: float | None = None
    ) -> dict[str, Any]:
        """Print one trade on ``symbol`` at the market clock's next millisecond.

        A buy takes the best ask of that second's book, a sell the best bid; an
        ``amount`` larger than the touch walks the book to the level that fills it
        (one print at that level's price, as the tape's own large prints). The
        trade joins the tape for good: :meth:`trades`, bars and tickers include it,
        so every server of this venue sends it at its next tick.

        Parameters
        ----------
        symbol : str
            The venue's spelling (a key of :attr:`instruments`).
        side : {"buy", "sell"}
            Taker side.
        amount : float, optional
            Base amount, rounded to the lot grid (at least one lot); by default the
            instrument's median trade size.

        Returns
        -------
        dict
            ``id`` (int), ``time_ms`` (int, epoch ms), ``price`` and ``amount``
            (floats on the instrument's grid), ``side`` (``"buy"``/``"sell"``).
        """
        inst = self._checked(symbol)
        if side not in ("buy", "sell"):
            raise ValueError(f"side must be one of 'buy', 'sell', not {side!r}")
        size = inst.size if amount is None else amount
        if isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            raise ValueError(f"amount must be a positive number or None, not {amount!r}")
        lots = max(1, round(float(size) / inst.lot))
        buy = side == "buy"
        with self._lock:
            time_ms = int(math.floor(self.now() * 1000)) + 1
            second = time_ms // 1000
            book = self.book(symbol, second)
            ticks, depth = (
                (book.ask_ticks, book.ask_lots) if buy else (book.bid_ticks, book.bid_lots)
            )
            level = min(int(np.searchsorted(np.cumsum(depth), lots)), len(ticks) - 1)
            price_ticks = int(ticks[level])
            tape = self._pushed.setdefault(symbol, [])
            # Its place in its second's time order (see Market._trades_of): after the
            # tape's own prints up to its millisecond and the pushes before it.
            own = self._generated(symbol, np.array([second], dtype=np.int64), True)
            n = int((own.time_ms <= time_ms).sum())
            n += sum(1 for t in tape if t[0] // 1000 == second)
            trade_id = second * PER_SECOND + n
            tape.append((time_ms, trade_id, price_ticks, lots, buy))
            tape.sort()
        return {
            "id": trade_id,
            "time_ms": time_ms,
            "price": float(inst.prices(np.array(price_ticks))),
            "amount": float(inst.amounts(np.array(lots))),
            "side": side,
        }

    def set_rate(self, symbol: str, trades_per_second: float | None) -> None:
        """Set ``symbol``'s trade intensity from the market clock's next second on.

        ``trades_per_second`` is the mean of a flat Poisson tape (``0`` silences the
        symbol); ``None`` restores the default intensity. The past never changes.
        """
        self._checked(symbol)
        rate = trades_per_second
        if rate is not None and (
            isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate < 10_000
        ):
            raise ValueError(
                f"trades_per_second must be a number from 0 to 10000 or None, not {rate!r}"
            )
        with self._lock:
            since = int(math.floor(self.now())) + 1
            changes = [c for c in self._rates.get(symbol, []) if c[0] < since]
            self._rates[symbol] = [*changes, (since, None if rate is None else float(rate))]

    def _checked(self, symbol: str) -> Instrument:
        if symbol not in self.instruments:
            raise ValueError(
                f"{self.profile.key} lists no {symbol!r}; valid: {', '.join(self.instruments)}"
            )
        return self.instruments[symbol]
