"""Symbol spellings: ``BTC/USDT``, ``btc-usdt``, ``BTC_USDT`` and ``btcusdt`` are one market.

Every frame carries ``pair``, the venue-neutral market in ccxt's spelling (``BTC/USDT``,
upper case), next to ``symbol`` (the venue's own spelling), so ``groupby("pair")`` over a
capture of several venues gives one group per market. A spelling with a separator
(``BTC-USDT``, ``BTC/UAH``, ``btc_usdt``) splits there; a compact one (``btcusdt``,
``BTCUSDT``) splits before the longest quote asset of :data:`QUOTE_ASSETS` it ends with.
The venues' own symbol lists (``mdkit.symbols(venue)``) agree with this split for every
market they list (tests/test_contract.py checks it on the sandbox).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from mdkit.errors import InvalidArgument, UnknownSymbol

__all__ = ["QUOTE_ASSETS", "compact_symbol", "check_symbol", "split_symbol", "pair_of", "pairs"]

_SEPARATORS = re.compile(r"[\s/\-_:]")

#: Quote assets of the venues' symbol lists, for compact spellings (longest match wins:
#: ``usdcusdt`` is USDC/USDT).
QUOTE_ASSETS: tuple[str, ...] = (
    "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDE", "DAI", "USD", "EUR", "GBP", "TRY",
    "BRL", "UAH", "BTC", "ETH", "BNB", "CRO", "SOL", "MX",
)  # fmt: skip
_BY_LENGTH = tuple(sorted(QUOTE_ASSETS, key=len, reverse=True))


@lru_cache(maxsize=4096)
def split_symbol(symbol: str) -> tuple[str, str]:
    """Return ``(BASE, QUOTE)`` of a venue's spelling of a market.

    Parameters
    ----------
    symbol : str
        ``"BTC-USDT"``, ``"BTC/UAH"``, ``"btcusdt"``, ``"BTCUSDT"``...

    Returns
    -------
    tuple of str
        Upper-case base and quote; ``("BTCFOO", "")`` when a compact spelling ends
        with no known quote asset.
    """
    parts = [p for p in _SEPARATORS.split(symbol.strip().upper()) if p]
    if len(parts) >= 2:
        return parts[0], parts[1]
    compact = parts[0] if parts else ""
    for quote in _BY_LENGTH:
        if compact.endswith(quote) and len(compact) > len(quote):
            return compact[: -len(quote)], quote
    return compact, ""


def pair_of(symbol: str) -> str:
    """Return the venue-neutral market ``BASE/QUOTE`` (``"btcusdt"`` → ``"BTC/USDT"``).

    Parameters
    ----------
    symbol : str
        A venue's spelling.

    Returns
    -------
    str
        ``BASE/QUOTE`` in upper case; the upper-case spelling itself when no quote
        asset is recognised.
    """
    base, quote = split_symbol(symbol)
    return f"{base}/{quote}" if quote else base


def pairs(symbols: Any, convert: Any = None) -> Any:
    """Return :func:`pair_of` of every symbol (one parse per distinct symbol).

    Parameters
    ----------
    symbols : array-like of str
        Symbols in the venues' spellings; missing values stay missing.
    convert : callable, optional
        Applied to the distinct pairs (plus a trailing None) before they are spread over
        the rows (``mdkit.data.frames.strings``: one small conversion, then a take).

    Returns
    -------
    numpy.ndarray or pandas ExtensionArray
        ``BASE/QUOTE`` strings (None where the symbol is missing).
    """
    if not isinstance(symbols, np.ndarray | pd.api.extensions.ExtensionArray | pd.Index):
        symbols = np.asarray(symbols, dtype=object)
    codes, uniques = pd.factorize(symbols, use_na_sentinel=True)
    values = [pair_of(str(u)) for u in uniques] + [None]
    table = np.asarray(values, dtype=object) if convert is None else convert(values)
    codes = np.where(codes < 0, len(uniques), codes)
    return table.take(codes)


def compact_symbol(symbol: str) -> str:
    """Return the lower-case, separator-free spelling Crypto.com v1 uses.

    Parameters
    ----------
    symbol : str
        ``"BTC/USDT"``, ``"btc-usdt"``, ``"BTC_USDT"``, ``"btcusdt"``...

    Returns
    -------
    str
        ``"btcusdt"``.

    Raises
    ------
    InvalidArgument
        If the symbol is empty or not a string.
    """
    if not isinstance(symbol, str) or not symbol.strip():
        raise InvalidArgument(
            f"a symbol must be a non-empty string such as 'btcusdt', not {symbol!r}"
        )
    return _SEPARATORS.sub("", symbol).lower()


def check_symbol(symbol: str, known: Iterable[str], *, venue: str) -> str:
    """Return the compact symbol if ``known`` lists it, else raise with close matches.

    Parameters
    ----------
    symbol : str
        Any accepted spelling.
    known : iterable of str
        The venue's symbols in compact form.
    venue : str
        Venue key, for the message.

    Returns
    -------
    str
        The compact symbol.

    Raises
    ------
    UnknownSymbol
        With up to five close matches in the message.
    """
    compact = compact_symbol(symbol)
    listed = list(known)
    if compact in listed:
        return compact
    close = difflib.get_close_matches(compact, listed, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else f"; {len(listed)} symbols are listed"
    raise UnknownSymbol(f"{venue} does not list the symbol {symbol!r}{hint} (see mdkit.symbols())")
