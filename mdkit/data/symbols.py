"""Symbol spellings: ``BTC/USDT``, ``btc-usdt``, ``BTC_USDT`` and ``btcusdt`` are one market."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from mdkit.errors import InvalidArgument, UnknownSymbol

__all__ = ["compact_symbol", "check_symbol"]

_SEPARATORS = re.compile(r"[\s/\-_:]")


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
