"""Market data over REST (Crypto.com v1): the functions behind ``mdkit.klines`` and friends.

Each call validates its arguments before any request, sends one request through
:mod:`mdkit.engine.rest` (timeouts, retries, the doc's 10 requests/s) and returns a typed
DataFrame built by the venue parser.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mdkit import config
from mdkit.data.symbols import check_symbol, compact_symbol
from mdkit.data.timeparse import Interval, parse_interval, parse_range
from mdkit.errors import InvalidArgument, UnknownInterval, VenueError
from mdkit.venues import cryptocom as _rest

if TYPE_CHECKING:
    from mdkit.engine.rest import Response

__all__ = [
    "symbols",
    "tickers",
    "ticker",
    "prices",
    "klines",
    "trades",
    "depth",
    "resolve_symbol",
]

log = logging.getLogger("mdkit.marketdata")

_SYMBOL_TTL = 600.0
#: Crypto.com v1's kline intervals (doc "Get k-line data": period in minutes).
_INTERVALS = ("1min", "5min", "15min", "30min", "60min", "1day", "1week", "1month")
_symbol_cache: dict[str, tuple[float, pd.DataFrame]] = {}
_cache_lock = threading.Lock()


def _get(request: _rest.Request, base: str) -> tuple[Any, float]:
    from mdkit.engine import rest  # requests loads on first use, not on `import mdkit`

    explain = None
    if request.symbol is not None:
        explain = (
            f"the venue answers HTTP 500 for a symbol it does not list; is {request.symbol!r} "
            "listed? see mdkit.symbols()"
        )
    resp: Response = rest.send(
        base,
        request.method,
        request.path,
        request.params,
        rate=_rest.MARKET_RATE_PER_SECOND,
        parse_error=_rest.parse_envelope,
        explain_500=explain,
    )
    return _rest.parse_envelope(resp.body), resp.received


def symbols(venue: str | None = None, *, url: str | None = None) -> pd.DataFrame:
    """List every market a venue trades.

    Parameters
    ----------
    venue : str, optional
        A venue key (``mdkit.venues.venue_keys()``); default the Crypto.com v1 REST
        market list. Other venues answer with the list captures check symbols
        against (their descriptor's ``symbol_list`` queries).
    url : str, optional
        REST base URL; default ``MDKIT_<VENUE>_REST_URL``, else the doc's.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (str, the venue's spelling); columns ``venue``, ``pair``
        (``BASE/QUOTE``), ``base``, ``quote`` (str), ``price_precision``,
        ``amount_precision`` (decimals), ``tick_size``, ``lot_size`` (float64, NaN where
        the venue publishes none). A venue that publishes no list: the symbols mdkit
        knows (its examples), base and quote read from the venue's spelling.

    Raises
    ------
    UnknownVenue
        For a venue key mdkit does not know (naming them).
    NetworkError, VenueError, RateLimitError

    Examples
    --------
    >>> mdkit.symbols().loc["btcusdt", "quote"]   # doctest: +SKIP
    'usdt'
    >>> mdkit.symbols("bitget").index[:3]         # doctest: +SKIP
    """
    if venue is not None and venue != _rest.VENUE:
        return _listed(venue, url)
    base = config.rest_url(_rest.VENUE, url)
    data, _ = _get(_rest.build_symbols(), base)
    df = _rest.parse_symbols(data)
    with _cache_lock:
        _symbol_cache[base] = (time.monotonic(), df)
    return df


def _listed(key: str, url: str | None) -> pd.DataFrame:
    """Another venue's symbol list, from its descriptor (registry only: no names here);
    a venue that publishes none: the symbols mdkit knows (its examples)."""
    from mdkit.data.markets import symbols_frame
    from mdkit.engine.listing import venue_symbols
    from mdkit.venues import get_venue

    desc = get_venue(key)
    urls = {"rest": config.endpoint_url(desc.key, "rest", url)} if url is not None else None
    listed = venue_symbols(desc, {}, urls=urls)
    source = "rest:symbol_list" if listed is not None else "known"
    names = list(dict.fromkeys(desc.example_symbols if listed is None else listed))
    return symbols_frame(
        [{"symbol": n} for n in names], attrs={"venue": desc.key, "source": source}
    )


def _known_symbols(base: str) -> list[str]:
    with _cache_lock:
        cached = _symbol_cache.get(base)
    if cached is None or time.monotonic() - cached[0] > _SYMBOL_TTL:
        return list(symbols(url=base).index)
    return list(cached[1].index)


def resolve_symbol(symbol: str, base: str) -> str:
    """Return the venue's spelling of ``symbol`` if the venue at ``base`` lists it.

    The symbol list is fetched once and cached for ten minutes per base URL; a
    symbol that is not a non-empty string is refused before that.

    Raises
    ------
    InvalidArgument
        If the symbol is not a non-empty string (before any request).
    UnknownSymbol
        With close matches from the venue's list.
    """
    compact_symbol(symbol)
    return check_symbol(symbol, _known_symbols(base), venue=_rest.VENUE)


def tickers(*, url: str | None = None) -> pd.DataFrame:
    """Every market's 24 h ticker.

    Reads the doc's ``/v1/tickers``; servers that only know the live API's
    ``/v1/ticker`` without a symbol (NOTES.md) are asked that instead.

    Parameters
    ----------
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``timestamp`` (UTC), ``last bid ask high low volume
        change`` (float64; ``change`` is the 24 h change as a fraction).

    Examples
    --------
    >>> mdkit.tickers().sort_values("change").tail(3)   # doctest: +SKIP
    """
    base = config.rest_url(_rest.VENUE, url)
    try:
        data, _ = _get(_rest.build_tickers(), base)
    except VenueError as exc:
        if exc.code != "HTTP 404":
            raise
        data, _ = _get(_rest.build_tickers(legacy=True), base)
    return _rest.parse_tickers(data)


def ticker(symbol: str, *, url: str | None = None) -> pd.DataFrame:
    """One market's 24 h ticker.

    Parameters
    ----------
    symbol : str
        ``"ethbtc"``, ``"ETH/BTC"``, ``"eth-btc"``...
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        One row, same columns as :func:`tickers`.

    Raises
    ------
    UnknownSymbol
        With close matches, before the ticker request.
    """
    base = config.rest_url(_rest.VENUE, url)
    sym = resolve_symbol(symbol, base)
    data, _ = _get(_rest.build_ticker(sym), base)
    return _rest.parse_ticker(data, sym)


def prices(*, url: str | None = None) -> pd.DataFrame:
    """The last traded price of every market.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; column ``price`` (float64).
    """
    base = config.rest_url(_rest.VENUE, url)
    data, _ = _get(_rest.build_prices(), base)
    return _rest.parse_prices(data)


def klines(
    symbol: str,
    interval: str | int | Interval = "1min",
    start: Any = None,
    end: Any = None,
    limit: int | None = None,
    *,
    url: str | None = None,
    max_pages: int = 2000,
) -> pd.DataFrame:
    """OHLCV bars.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``, ``"BTC/USDT"``...
    interval : str or int
        ``1min 5min 15min 30min 60min 1h 1day 1d 1week 1w 1month`` or minutes.
    start, end : datetime, Timestamp, str or number, optional
        Bounds on the bar open time (inclusive): datetimes, ISO strings, epoch
        seconds or ms, or phrases like ``"3 days ago"``. Bars older than the REST
        page (the latest 300) are paged over the WebSocket ``req`` (``since``,
        ``pageSize`` 300; URL from ``MDKIT_CRYPTOCOM_WS_URL``) with a progress bar.
    limit : int, optional
        The latest ``limit`` bars: past the REST page (300 bars), older bars are
        paged over the WebSocket ``req`` as for ``start``. With ``start``, keeps the
        latest ``limit`` of the bars from ``start``.
    url : str, optional
        REST base URL.
    max_pages : int
        Most WebSocket history pages one call may fetch (300 bars each); a start
        further back is refused before any request, saying how many pages and bars it
        would take (pass that ``max_pages`` to allow it).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (bar open, UTC); columns ``open high low close volume``
        (float64) and ``closed`` (bool, False for the still-forming bar).
        ``attrs``: ``venue symbol interval source``.

    Raises
    ------
    UnknownInterval, UnknownSymbol, InvalidArgument
        Before any request (``InvalidArgument`` also for a ``start`` in the future).

    Examples
    --------
    >>> df = mdkit.klines("btcusdt", "1h", start="2 days ago")   # doctest: +SKIP
    >>> df.close.plot()                                          # doctest: +SKIP
    """
    iv = parse_interval(interval)
    if iv.name not in _INTERVALS:
        raise UnknownInterval(
            f"{_rest.VENUE} has no {iv.name} klines; valid: {', '.join(_INTERVALS)}"
        )
    now = pd.Timestamp.now(tz="UTC")
    lo, hi = parse_range(start, end, now=now)
    if lo is not None and lo > now:
        raise InvalidArgument(
            f"start {lo.isoformat()} is in the future (now is {now.floor('s').isoformat()}); "
            "no bar has opened yet"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidArgument(f"limit must be a positive integer, not {limit!r}")
    if isinstance(max_pages, bool) or not isinstance(max_pages, int) or max_pages < 1:
        raise InvalidArgument(f"max_pages must be a positive integer, not {max_pages!r}")
    if lo is not None:
        _check_pages(compact_symbol(symbol), iv, lo, hi, max_pages)
    elif limit is not None and limit > 300:
        # `limit` alone pages back too: as many pages as a start `limit` bars ago.
        back = min(limit * iv.seconds, 300 * 365 * 86400)  # stays inside 1677-2262
        _check_pages(compact_symbol(symbol), iv, now - pd.Timedelta(seconds=back), hi, max_pages)
    base = config.rest_url(_rest.VENUE, url)
    sym = resolve_symbol(symbol, base)
    data, received = _get(_rest.build_klines(sym, iv), base)
    df = _rest.parse_klines(data, sym, iv, now_s=received)
    if limit is not None and lo is None and len(df) < limit:
        # The REST page holds the latest 300 bars: older ones, up to `limit`, are paged
        # over the WebSocket req like a `start` further back.
        last = df.index[-1] if len(df) else pd.Timestamp(int(received), unit="s", tz="UTC")
        want = last - pd.Timedelta(seconds=iv.seconds * (limit - 1))
        df = _with_history(df, sym, iv, want, hi, received, max_pages)
    if lo is not None and (df.empty or lo < df.index[0]):
        df = _with_history(df, sym, iv, lo, hi, received, max_pages)
    if lo is not None or hi is not None:
        keep = pd.Series(True, index=df.index)
        if lo is not None:
            keep &= df.index >= lo
        if hi is not None:
            keep &= df.index <= hi
        df = df[keep.to_numpy()]
    if limit is not None:
        df = df.iloc[-limit:]
    return df


def _check_pages(
    symbol: str, iv: Interval, lo: pd.Timestamp, hi: pd.Timestamp | None, max_pages: int
) -> None:
    """Refuse, before any request, a start that needs more than ``max_pages`` pages.

    The REST page holds the latest bars; everything older is paged over the
    WebSocket ``req``, ``page_sizes["klines"]`` bars a page. Counting from ``lo`` to
    ``hi`` (or now) over-counts by at most the REST page: it never under-counts.
    """
    from mdkit.engine.history import plan_pages
    from mdkit.venues import get_venue

    now = pd.Timestamp.now(tz="UTC")
    stop = min(hi, now) if hi is not None else now
    if stop <= lo:
        return
    size, pages = plan_pages(get_venue(_rest.VENUE), iv, lo.value, stop.value)
    if pages > max_pages:
        raise InvalidArgument(
            f"klines {symbol} {iv.name} from {lo:%Y-%m-%d %H:%M} needs up to {pages:,} pages "
            f"of {size} bars ({pages * size:,} bars) over the WebSocket; that is more than "
            f"max_pages={max_pages:,}: pass max_pages={pages} to allow it, or give a later start"
        )


def _with_history(
    df: pd.DataFrame,
    symbol: str,
    iv: Interval,
    lo: pd.Timestamp,
    hi: pd.Timestamp | None,
    received: float,
    max_pages: int,
) -> pd.DataFrame:
    """Prepend the bars older than the REST page, paged over the WebSocket ``req``."""
    from mdkit.data import frames
    from mdkit.engine import history

    first = int(df.index[0].timestamp()) if len(df) else int(received)
    end_s = first - iv.seconds
    if hi is not None:
        end_s = min(end_s, int(hi.timestamp()))
    older = history.klines_history(
        _rest.VENUE, symbol, iv, lo.value, end_s * 1_000_000_000, max_pages=max_pages
    )
    n = len(older.get("timestamp", ()))
    log.info("klines: %d older bars paged over WebSocket req", n)
    if not n:
        return df
    rest_times = pd.DatetimeIndex(df.index).as_unit("s").asi8.astype("int64")
    ohlcv = np.vstack(
        [
            np.column_stack([older[c] for c in frames.KLINE_COLUMNS]),
            df[list(frames.KLINE_COLUMNS)].to_numpy(dtype="float64"),
        ]
    )
    return frames.klines_frame(
        np.concatenate([older["timestamp"] // 1_000_000_000, rest_times]),
        ohlcv,
        interval_seconds=iv.seconds,
        now_s=received,
        attrs={**{str(k): v for k, v in df.attrs.items()}, "source": "ws:req+rest:/v1/klines"},
    )


def trades(symbol: str, *, url: str | None = None) -> pd.DataFrame:
    """The last 200 trades.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``, ``"BTC/USDT"``...
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, oldest first); columns ``symbol`` (category),
        ``id`` (int64), ``side`` (category ``buy``/``sell``, the taker's side),
        ``price``, ``amount`` (float64, base units).

    Examples
    --------
    >>> mdkit.trades("BTC/USDT").groupby("side", observed=True).amount.sum()  # doctest: +SKIP
    """
    base = config.rest_url(_rest.VENUE, url)
    sym = resolve_symbol(symbol, base)
    data, _ = _get(_rest.build_trades(sym), base)
    return _rest.parse_trades(data, sym)


def depth(symbol: str, step: int = 0, *, url: str | None = None) -> pd.DataFrame:
    """The order book, one snapshot, as a long table.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``...
    step : {0, 1, 2}
        0 is the full-precision book; 1 and 2 merge price levels.
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Columns ``side`` (category ``bid``/``ask``), ``level`` (int64, 0 = best),
        ``price``, ``amount`` (float64); bids high→low, then asks low→high.
        ``attrs["timestamp"]``: book time (UTC).

    Examples
    --------
    >>> book = mdkit.depth("btcusdt")                                  # doctest: +SKIP
    >>> book.pivot(index="level", columns="side", values="price")     # doctest: +SKIP
    """
    _rest.check_depth_step(step)  # before the symbol list is fetched
    base = config.rest_url(_rest.VENUE, url)
    sym = resolve_symbol(symbol, base)
    request = _rest.build_depth(sym, step)
    data, received = _get(request, base)
    return _rest.parse_depth(data, sym, step, received_ms=received * 1000)
