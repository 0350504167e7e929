"""Order book rebuilt from venue snapshots and single-level increments.

Venues send a full snapshot, then increments ``(side, price, amount)`` where an
amount of 0 deletes the level (Bitget ``books`` channel, Crypto.com ``depth``
deltas). :class:`OrderBook` keeps each side as a ``dict`` price → amount plus a
plain ``list`` of its prices kept sorted with :mod:`bisect`:

- an amount change at an existing level (most of a real stream) is one dict
  store, with no reordering;
- an insert or delete moves at most ~150 list slots in C (``list.insert`` /
  ``del``), which for books of this size is cheaper than a tree or a
  ``SortedDict`` in Python;
- the best bid is the list's last item and the best ask its first, so reading
  them after every update costs an index, not a scan.

A crossed book (best bid >= best ask) or an increment that cannot apply
(non-finite or non-positive price, NaN amount) is counted, never raised: a
capture keeps going and reports the counters in its stats.

Bench: ``python bench/bench_book.py`` (figures in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import numpy.typing as npt

__all__ = ["BID", "ASK", "SIDES", "OrderBook"]

BID: Final = "bid"
ASK: Final = "ask"
SIDES: Final = (BID, ASK)

_INF: Final = math.inf
_NAN: Final = math.nan

FloatArray = npt.NDArray[np.float64]


def _levels(pairs: Iterable[Any] | npt.ArrayLike) -> dict[float, float]:
    """Return price → amount for the positive, finite levels of a snapshot side."""
    arr = np.asarray(pairs, dtype=np.float64)
    if arr.size == 0:
        return {}
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise ValueError(f"snapshot side must be (price, amount) pairs, got shape {arr.shape}")
    prices, amounts = arr[:, 0], arr[:, 1]
    keep = np.isfinite(prices) & (prices > 0.0) & (amounts > 0.0)
    # Later duplicates win, as if the pairs were applied in order.
    return dict(zip(prices[keep].tolist(), amounts[keep].tolist(), strict=True))


class OrderBook:
    """Price levels of one symbol, updated from snapshots and increments.

    Parameters
    ----------
    bids, asks : iterable of (price, amount) pairs or 2-column float array, optional
        An initial snapshot; the same as calling :meth:`apply_snapshot`.

    Attributes
    ----------
    updates : int
        Increments received by :meth:`update` / :meth:`apply_updates`,
        including ignored ones.
    crossed_count : int
        Increments after which the book was crossed (best bid >= best ask).
    absent_deletes : int
        Deletes of a level that was not in the book (a no-op).
    invalid_updates : int
        Increments ignored because the price was not a positive finite
        number or the amount was NaN.
    snapshots : int
        Snapshots applied.

    Examples
    --------
    >>> book = OrderBook(bids=[(99.0, 1.0), (98.0, 2.0)], asks=[(101.0, 1.5)])
    >>> book.update("bid", 99.0, 0.0)
    >>> book.best_bid()
    (98.0, 2.0)
    """

    __slots__ = (
        "_bids",
        "_asks",
        "_bid_prices",
        "_ask_prices",
        "updates",
        "crossed_count",
        "absent_deletes",
        "invalid_updates",
        "snapshots",
    )

    def __init__(
        self,
        bids: Iterable[Any] | npt.ArrayLike | None = None,
        asks: Iterable[Any] | npt.ArrayLike | None = None,
    ) -> None:
        self._bids: dict[float, float] = {}
        self._asks: dict[float, float] = {}
        # Sorted ascending on both sides: best bid = [-1], best ask = [0].
        self._bid_prices: list[float] = []
        self._ask_prices: list[float] = []
        self.updates = 0
        self.crossed_count = 0
        self.absent_deletes = 0
        self.invalid_updates = 0
        self.snapshots = 0
        if bids is not None or asks is not None:
            self.apply_snapshot(() if bids is None else bids, () if asks is None else asks)

    def apply_snapshot(
        self, bids: Iterable[Any] | npt.ArrayLike, asks: Iterable[Any] | npt.ArrayLike
    ) -> None:
        """Replace the whole book.

        Parameters
        ----------
        bids, asks : iterable of (price, amount) pairs or 2-column float array
            Levels in any order. Levels with a non-positive amount or a
            non-positive / non-finite price are left out.

        Raises
        ------
        ValueError
            If a side is not a sequence of pairs.
        """
        self._bids = _levels(bids)
        self._asks = _levels(asks)
        self._bid_prices = sorted(self._bids)
        self._ask_prices = sorted(self._asks)
        self.snapshots += 1

    def update(self, side: str, price: float, amount: float) -> None:
        """Apply one level increment.

        Parameters
        ----------
        side : {"bid", "ask"}
            Book side of the level.
        price : float
            Level price (a Python float is fastest).
        amount : float
            New amount at that price; 0 or less deletes the level.

        Raises
        ------
        ValueError
            If `side` is not ``"bid"`` or ``"ask"``.
        """
        # Hot path: kept flat on purpose (no helper calls), see module docstring.
        self.updates += 1
        if side == "bid":
            levels = self._bids
            prices = self._bid_prices
        elif side == "ask":
            levels = self._asks
            prices = self._ask_prices
        else:
            self.updates -= 1
            raise ValueError(f"unknown side {side!r}; valid choices: 'bid', 'ask'")
        if not 0.0 < price < _INF:  # also False for NaN
            self.invalid_updates += 1
            return
        if amount > 0.0:
            if price not in levels:
                insort(prices, price)
            levels[price] = amount
        elif amount <= 0.0:
            if levels.pop(price, None) is None:
                self.absent_deletes += 1
            else:
                del prices[bisect_left(prices, price)]
        else:  # NaN amount
            self.invalid_updates += 1
            return
        bp = self._bid_prices
        ap = self._ask_prices
        if bp and ap and bp[-1] >= ap[0]:
            self.crossed_count += 1

    def apply_updates(
        self,
        sides: npt.ArrayLike,
        prices: npt.ArrayLike,
        amounts: npt.ArrayLike,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Apply many increments in order and return the top of book after each.

        Same rules as :meth:`update`, without a Python method call per level.

        Parameters
        ----------
        sides : array of int8
            +1 for a bid level, -1 for an ask level.
        prices, amounts : array of float64
            Level prices and new amounts (0 or less deletes).

        Returns
        -------
        bid_price, bid_amount, ask_price, ask_amount : ndarray of float64
            Best bid and best ask after each increment, NaN where a side is empty.

        Raises
        ------
        ValueError
            If the arrays differ in length or a side is not +1 or -1.
        """
        side_arr = np.asarray(sides, dtype=np.int8)
        price_arr = np.asarray(prices, dtype=np.float64)
        amount_arr = np.asarray(amounts, dtype=np.float64)
        n = len(side_arr)
        if not len(price_arr) == len(amount_arr) == n:
            raise ValueError("sides, prices and amounts must have the same length")
        if n and not np.all((side_arr == 1) | (side_arr == -1)):
            raise ValueError("unknown side code; valid choices: +1 (bid), -1 (ask)")
        bids, asks = self._bids, self._asks
        bp, ap = self._bid_prices, self._ask_prices
        out_bp: list[float] = [_NAN] * n
        out_ba: list[float] = [_NAN] * n
        out_ap: list[float] = [_NAN] * n
        out_aa: list[float] = [_NAN] * n
        crossed = absent = invalid = 0
        for i, (s, price, amount) in enumerate(
            zip(side_arr.tolist(), price_arr.tolist(), amount_arr.tolist(), strict=True)
        ):
            if s == 1:
                levels, keys = bids, bp
            else:
                levels, keys = asks, ap
            if not 0.0 < price < _INF:
                invalid += 1
            elif amount > 0.0:
                if price not in levels:
                    insort(keys, price)
                levels[price] = amount
            elif amount <= 0.0:
                if levels.pop(price, None) is None:
                    absent += 1
                else:
                    del keys[bisect_left(keys, price)]
            else:
                invalid += 1
            if bp:
                b = bp[-1]
                out_bp[i] = b
                out_ba[i] = bids[b]
                if ap:
                    a = ap[0]
                    out_ap[i] = a
                    out_aa[i] = asks[a]
                    if b >= a:
                        crossed += 1
            elif ap:
                a = ap[0]
                out_ap[i] = a
                out_aa[i] = asks[a]
        self.updates += n
        self.crossed_count += crossed
        self.absent_deletes += absent
        self.invalid_updates += invalid
        return (
            np.array(out_bp, dtype=np.float64),
            np.array(out_ba, dtype=np.float64),
            np.array(out_ap, dtype=np.float64),
            np.array(out_aa, dtype=np.float64),
        )

    def best_bid(self) -> tuple[float, float] | None:
        """Return ``(price, amount)`` of the highest bid, or None if there is none."""
        prices = self._bid_prices
        if prices:
            p = prices[-1]
            return p, self._bids[p]
        return None

    def best_ask(self) -> tuple[float, float] | None:
        """Return ``(price, amount)`` of the lowest ask, or None if there is none."""
        prices = self._ask_prices
        if prices:
            p = prices[0]
            return p, self._asks[p]
        return None

    def is_crossed(self) -> bool:
        """Return True if the best bid is at or above the best ask."""
        bp, ap = self._bid_prices, self._ask_prices
        return bool(bp and ap and bp[-1] >= ap[0])

    def top(self, levels: int = 10) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Return the best `levels` levels of each side.

        Parameters
        ----------
        levels : int, default 10
            Levels per side; missing levels are NaN.

        Returns
        -------
        bid_prices, bid_amounts, ask_prices, ask_amounts : ndarray of float64
            Each of length `levels`; bids high → low, asks low → high.

        Raises
        ------
        ValueError
            If `levels` is negative.
        """
        if levels < 0:
            raise ValueError(f"levels must be >= 0, got {levels}")
        out = np.full((4, levels), np.nan, dtype=np.float64)
        bid_keys = self._bid_prices[: -levels - 1 : -1] if levels else []
        ask_keys = self._ask_prices[:levels]
        nb, na = len(bid_keys), len(ask_keys)
        out[0, :nb] = bid_keys
        out[1, :nb] = [self._bids[p] for p in bid_keys]
        out[2, :na] = ask_keys
        out[3, :na] = [self._asks[p] for p in ask_keys]
        return out[0], out[1], out[2], out[3]

    def __len__(self) -> int:
        """Return the number of price levels on both sides."""
        return len(self._bid_prices) + len(self._ask_prices)

    def __repr__(self) -> str:
        bid, ask = self.best_bid(), self.best_ask()
        b = f"{bid[1]:g} @ {bid[0]:g}" if bid else "-"
        a = f"{ask[1]:g} @ {ask[0]:g}" if ask else "-"
        crossed = " CROSSED" if self.is_crossed() else ""
        return (
            f"<OrderBook bid {b} | ask {a}{crossed}; {len(self._bid_prices)}x"
            f"{len(self._ask_prices)} levels, {self.updates} updates>"
        )
