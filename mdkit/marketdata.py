"""Market data over REST, any venue whose descriptor describes it: ``mdkit.klines`` and friends.

Each call validates its arguments before any request (a venue without the call is
refused naming those that have it), builds the request from the venue descriptor's
:class:`~mdkit.venues.rest_api.RestApi`, sends it through :mod:`mdkit.engine.rest`
(deadline, body cap, retries, the endpoint's documented rate) and returns the typed
DataFrame of the venue's parser; a parse failure is a ProtocolError naming the
endpoint and field. No venue is named here: the default comes from the registry.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd

from mdkit import config
from mdkit import marketdata_history as _paging
from mdkit.data.symbols import check_symbol, compact_symbol
from mdkit.data.timeparse import Interval, parse_interval, parse_range
from mdkit.errors import InvalidArgument, UnknownInterval, VenueError
from mdkit.venues import DEFAULT_VENUE, get_venue, venue_keys

if TYPE_CHECKING:
    from mdkit.venues.base import Venue
    from mdkit.venues.rest_api import Request, RestApi, RestCall

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
_symbol_cache: dict[tuple[str, str], tuple[float, pd.DataFrame]] = {}
_cache_lock = threading.Lock()


def _api(venue: Any, call: str) -> tuple[Venue, RestApi, RestCall]:
    """The venue's descriptor, REST description and ``call``; refused before any request.

    Raises
    ------
    UnknownVenue
        For a venue key mdkit does not know.
    InvalidArgument
        If the venue's REST has no such call, naming the venues that have it.
    """
    desc = get_venue(DEFAULT_VENUE if venue is None else venue)
    found = desc.rest.calls.get(call) if desc.rest is not None else None
    if desc.rest is None or found is None:
        able = [k for k in venue_keys() if (r := get_venue(k).rest) and call in r.calls]
        raise InvalidArgument(
            f"{desc.key} has no REST {call}; venues that have it: {', '.join(able) or 'none'}"
        )
    return desc, desc.rest, found


def _get(
    desc: Venue, api: RestApi, call: RestCall, request: Request, base: str
) -> tuple[Any, float]:
    """Send one request; return the envelope's data and the receive time (epoch s)."""
    from mdkit.engine import rest  # requests loads on first use, not on `import mdkit`

    explain = None
    if request.symbol is not None:
        explain = (
            f"the venue answers HTTP 500 for a symbol it does not list; is {request.symbol!r} "
            "listed? see mdkit.symbols()"
        )
    resp = rest.send(
        base,
        request.method,
        request.path,
        request.params,
        rate=max(1, int(call.rate)),
        rate_key=call.rate_key,
        parse_error=api.unwrap,
        explain_500=explain,
    )
    data = rest.parse(f"{desc.key} {request.method} {request.path}", api.unwrap, resp.body)
    return data, resp.received


def fetch(
    desc: Venue, api: RestApi, call: RestCall, base: str, args: dict[str, Any], **ctx: Any
) -> pd.DataFrame:
    """Build, send and parse one call (its ``fallback`` on HTTP 404); parse errors contained."""
    from mdkit.engine import rest

    request = call.build(**args)
    try:
        data, received = _get(desc, api, call, request, base)
    except VenueError as exc:
        if exc.code != "HTTP 404" or call.fallback is None:
            raise
        call = call.fallback
        request = call.build(**args)
        data, received = _get(desc, api, call, request, base)
    if "now_s" in ctx:
        ctx["now_s"] = received
    if "received_ms" in ctx:
        ctx["received_ms"] = received * 1000
    df: pd.DataFrame = rest.parse(
        f"{desc.key} {request.method} {request.path}", call.parse, data, **ctx
    )
    return df


def symbols(venue: str | None = None, *, url: str | None = None) -> pd.DataFrame:
    """List every market a venue trades.

    Parameters
    ----------
    venue : str, optional
        A venue key (``mdkit.venues.venue_keys()``); default ``cryptocom``. Venues
        whose REST has no market list answer with the list captures check symbols
        against (their descriptor's ``symbol_list`` queries).
    url : str, optional
        REST base URL; default ``MDKIT_<VENUE>_REST_URL``, else the doc's.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol`` (str, the venue's spelling); columns ``venue``, ``pair``
        (``BASE/QUOTE``), ``base``, ``quote`` (str, lower case), ``price_precision``,
        ``amount_precision`` (decimals), ``tick_size``, ``lot_size`` (float64, NaN where
        the venue publishes none); Bitget also ``quote_precision``, ``min_amount``,
        ``status``. A venue that publishes no list: the symbols mdkit knows (its
        examples), base and quote read from the venue's spelling.

    Raises
    ------
    UnknownVenue
        For a venue key mdkit does not know (naming them).
    NetworkError, VenueError, RateLimitError, ProtocolError

    Examples
    --------
    >>> mdkit.symbols().loc["btcusdt", "quote"]   # doctest: +SKIP
    'usdt'
    >>> mdkit.symbols("bitget").loc["BTCUSDT", "price_precision"]   # doctest: +SKIP
    """
    desc = get_venue(DEFAULT_VENUE if venue is None else venue)
    if desc.rest is None or "symbols" not in desc.rest.calls:
        return _listed(desc.key, url)
    desc, api, call = _api(desc.key, "symbols")
    base = config.rest_url(desc.key, url)
    df = fetch(desc, api, call, base, {})
    with _cache_lock:
        _symbol_cache[(desc.key, base)] = (time.monotonic(), df)
    return df


def _listed(key: str, url: str | None) -> pd.DataFrame:
    """Another venue's symbol list, from its descriptor (registry only: no names here);
    a venue that publishes none: the symbols mdkit knows (its examples)."""
    from mdkit.data.markets import symbols_frame
    from mdkit.engine.listing import venue_symbols

    desc = get_venue(key)
    urls = {"rest": config.endpoint_url(desc.key, "rest", url)} if url is not None else None
    listed = venue_symbols(desc, {}, urls=urls)
    source = "rest:symbol_list" if listed is not None else "known"
    names = list(dict.fromkeys(desc.example_symbols if listed is None else listed))
    return symbols_frame(
        [{"symbol": n} for n in names], attrs={"venue": desc.key, "source": source}
    )


def _known_symbols(key: str, base: str) -> list[str]:
    with _cache_lock:
        cached = _symbol_cache.get((key, base))
    if cached is None or time.monotonic() - cached[0] > _SYMBOL_TTL:
        return list(symbols(key, url=base).index)
    return list(cached[1].index)


def resolve_symbol(symbol: str, base: str, venue: str | None = None) -> str:
    """Return the venue's spelling of ``symbol`` if the venue at ``base`` lists it.

    The symbol list is fetched once and cached for ten minutes per venue and base
    URL; a symbol that is not a non-empty string is refused before that.

    Parameters
    ----------
    symbol : str
        Any spelling: ``BTC/USDT``, ``btc-usdt``, ``BTCUSDT``.
    base : str
        REST base URL.
    venue : str, optional
        Venue key; default ``cryptocom``.

    Raises
    ------
    InvalidArgument
        If the symbol is not a non-empty string (before any request).
    UnknownSymbol
        With close matches from the venue's list.
    """
    key = get_venue(DEFAULT_VENUE if venue is None else venue).key
    compact_symbol(symbol)
    spellings = {compact_symbol(s): s for s in _known_symbols(key, base)}
    return spellings[check_symbol(symbol, spellings, venue=key)]


def tickers(*, venue: str | None = None, url: str | None = None) -> pd.DataFrame:
    """Every market's 24 h ticker.

    On Crypto.com, reads the doc's ``/v1/tickers``; servers that only know the live
    API's ``/v1/ticker`` without a symbol (NOTES.md) are asked that instead.

    Parameters
    ----------
    venue : str, optional
        Venue key; default ``cryptocom``.
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; columns ``venue pair`` (str), ``timestamp`` (UTC), ``last bid ask high
        low volume change`` (float64; ``change`` is the 24 h change as a fraction),
        plus ``open quote_volume bid_amount ask_amount`` where the venue sends them.

    Examples
    --------
    >>> mdkit.tickers().sort_values("change").tail(3)   # doctest: +SKIP
    >>> mdkit.tickers(venue="bitget").loc["BTCUSDT", "last"]   # doctest: +SKIP
    """
    desc, api, call = _api(venue, "tickers")
    return fetch(desc, api, call, config.rest_url(desc.key, url), {})


def ticker(symbol: str, *, venue: str | None = None, url: str | None = None) -> pd.DataFrame:
    """One market's 24 h ticker.

    Parameters
    ----------
    symbol : str
        ``"ethbtc"``, ``"ETH/BTC"``, ``"eth-btc"``...
    venue : str, optional
        Venue key; default ``cryptocom``.
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
    desc, api, call = _api(venue, "ticker")
    base = config.rest_url(desc.key, url)
    sym = resolve_symbol(symbol, base, desc.key)
    return fetch(desc, api, call, base, {"symbol": sym}, symbol=sym)


def prices(*, venue: str | None = None, url: str | None = None) -> pd.DataFrame:
    """The last traded price of every market.

    Parameters
    ----------
    venue : str, optional
        Venue key; default ``cryptocom``.
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Index ``symbol``; column ``price`` (float64).
    """
    desc, api, call = _api(venue, "prices")
    return fetch(desc, api, call, config.rest_url(desc.key, url), {})


def _positive(name: str, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidArgument(f"{name} must be a positive integer, not {value!r}")


def klines(
    symbol: str,
    interval: str | int | Interval = "1min",
    start: Any = None,
    end: Any = None,
    limit: int | None = None,
    *,
    venue: str | None = None,
    url: str | None = None,
    max_pages: int = 2000,
) -> pd.DataFrame:
    """OHLCV bars.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``, ``"BTC/USDT"``...
    interval : str or int
        ``1min 5min 15min 30min 60min 1h 1day 1d 1week 1w 1month`` or minutes (the
        venue's REST intervals; an unknown one is refused naming them). The frame's
        ``interval`` is the canonical name (``1h`` → ``60min``, ``1d`` → ``1day``:
        :class:`mdkit.data.timeparse.Interval`).
    start, end : datetime, Timestamp, str or number, optional
        Bounds on the bar open time, both inclusive: datetimes, ISO strings, epoch
        seconds or ms, or phrases like ``"3 days ago"``. Bars older than one answer
        are paged with a progress bar: over the WebSocket ``req`` on Crypto.com
        (``since``/``pageSize`` 300; URL from ``MDKIT_CRYPTOCOM_WS_URL``), over REST
        ``history-candles`` on Bitget (200 bars a page, by end time).
    limit : int, optional
        The latest ``limit`` bars (paged like ``start`` past one answer). With
        ``start``, keeps the latest ``limit`` of the bars from ``start``.
    venue : str, optional
        Venue key; default ``cryptocom``.
    url : str, optional
        REST base URL.
    max_pages : int
        Most history pages one call may fetch; a start further back is refused
        before any request, saying how many pages and bars it would take (pass that
        ``max_pages`` to allow it).

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (bar open, UTC); columns ``venue symbol pair interval``
        (str), ``open high low close volume`` (float64), ``quote_volume`` (float64, where the
        venue sends it) and ``closed`` (bool, False for the still-forming bar).
        ``attrs``: ``venue symbol interval source``.

    Raises
    ------
    UnknownInterval, UnknownSymbol, InvalidArgument
        Before any request (``InvalidArgument`` also for a ``start`` in the future,
        or a venue without REST klines).

    Examples
    --------
    >>> df = mdkit.klines("btcusdt", "1h", start="2 days ago")   # doctest: +SKIP
    >>> btc = mdkit.klines("BTCUSDT", "1h", venue="bitget", start="3 days ago")  # doctest: +SKIP
    >>> df.close.plot()                                          # doctest: +SKIP
    """
    desc, api, call = _api(venue, "klines")
    iv = parse_interval(interval)
    if iv.name not in api.intervals:
        raise UnknownInterval(
            f"{desc.key} has no {iv.name} klines; valid: {', '.join(api.intervals)}"
        )
    now = pd.Timestamp.now(tz="UTC")
    lo, hi = parse_range(start, end, now=now)
    if lo is not None and lo > now:
        raise InvalidArgument(
            f"start {lo.isoformat()} is in the future (now is {now.floor('s').isoformat()}); "
            "no bar has opened yet"
        )
    _positive("limit", limit)
    _positive("max_pages", max_pages)
    page = call.page or 1
    want = lo
    if want is None and limit is not None and limit > page:
        # `limit` alone pages back too: as many pages as a start `limit` bars ago.
        back = min(limit * iv.seconds, 300 * 365 * 86400)  # stays inside 1677-2262
        want = now - pd.Timedelta(seconds=back)
    if want is not None:
        _paging.check_pages(desc, api, compact_symbol(symbol), iv, want, hi, max_pages)
    base = config.rest_url(desc.key, url)
    sym = resolve_symbol(symbol, base, desc.key)
    if want is not None and api.kline_history == "rest":
        df = _paging.rest_history(desc, api, base, sym, iv, want, hi, max_pages)
    else:
        args = {"symbol": sym, "interval": iv, "limit": min(limit or page, page)}
        if hi is not None:
            args["end_ms"] = int(hi.value // 1_000_000) + 1
        df = fetch(desc, api, call, base, args, symbol=sym, interval=iv, now_s=0.0)
        if want is not None and api.kline_history == "ws" and (df.empty or want < df.index[0]):
            df = _paging.with_history(desc, df, sym, iv, want, hi, max_pages)
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


def _ms(value: pd.Timestamp | None) -> int | None:
    return None if value is None else int(value.value // 1_000_000)


def trades(
    symbol: str,
    limit: int | None = None,
    start: Any = None,
    end: Any = None,
    *,
    venue: str | None = None,
    url: str | None = None,
    max_pages: int = 100,
) -> pd.DataFrame:
    """Recent trades, or the trades of a time range where the venue keeps them.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``, ``"BTC/USDT"``...
    limit : int, optional
        The latest ``limit`` trades (Crypto.com answers its last 200 whatever the limit).
    start, end : datetime, Timestamp, str or number, optional
        Trade time range, both inclusive (Bitget ``fills-history``, paged back from
        ``end`` with a progress bar; venues without it refuse a range, naming those
        that have it).
    venue : str, optional
        Venue key; default ``cryptocom``.
    url : str, optional
        REST base URL.
    max_pages : int
        Most history pages one call may fetch.

    Returns
    -------
    pandas.DataFrame
        Index ``timestamp`` (UTC, oldest first); columns ``venue symbol pair`` (str),
        ``id`` (Int64), ``side`` (category ``buy``/``sell``, the taker's side),
        ``price``, ``amount`` (float64, base units).

    Examples
    --------
    >>> mdkit.trades("BTC/USDT").groupby("side", observed=True).amount.sum()  # doctest: +SKIP
    >>> mdkit.trades("BTCUSDT", venue="bitget", start="1 hour ago")  # doctest: +SKIP
    """
    desc, api, call = _api(venue, "trades")
    _positive("limit", limit)
    _positive("max_pages", max_pages)
    lo, hi = parse_range(start, end)
    if (lo is not None or hi is not None) and "trades_history" not in api.calls:
        able = [k for k in venue_keys() if (r := get_venue(k).rest) and "trades_history" in r.calls]
        raise InvalidArgument(
            f"{desc.key} keeps no trade history over REST (start/end); venues that do: "
            f"{', '.join(able) or 'none'}"
        )
    base = config.rest_url(desc.key, url)
    sym = resolve_symbol(symbol, base, desc.key)
    if lo is None and hi is None:
        args = {"symbol": sym, "limit": min(limit or call.page, call.page or 1)}
        df = fetch(desc, api, call, base, args, symbol=sym)
    else:
        df = _paging.trade_history(desc, api, base, sym, lo, hi, limit, max_pages)
    if limit is not None:
        df = df.iloc[-limit:]
    return df


def depth(
    symbol: str,
    step: int = 0,
    limit: int | None = None,
    *,
    venue: str | None = None,
    url: str | None = None,
) -> pd.DataFrame:
    """The order book, one snapshot, as a long table.

    Parameters
    ----------
    symbol : str
        ``"btcusdt"``...
    step : int
        0 is the full-precision book; higher steps merge price levels (Crypto.com
        0-2, Bitget 0-5).
    limit : int, optional
        Levels per side, where the venue takes it (Bitget: up to 150).
    venue : str, optional
        Venue key; default ``cryptocom``.
    url : str, optional
        REST base URL.

    Returns
    -------
    pandas.DataFrame
        Columns ``venue symbol pair`` (str), ``side`` (category ``bid``/``ask``), ``level``
        (int64, 0 = best), ``price``, ``amount`` (float64); bids high→low, then asks
        low→high. ``attrs["timestamp"]``: book time (UTC).

    Examples
    --------
    >>> book = mdkit.depth("btcusdt")                                  # doctest: +SKIP
    >>> book.pivot(index="level", columns="side", values="price")     # doctest: +SKIP
    """
    desc, api, call = _api(venue, "depth")
    if isinstance(step, bool) or not isinstance(step, int) or step not in api.depth_steps:
        raise InvalidArgument(f"depth step must be one of {api.depth_steps}, not {step!r}")
    _positive("limit", limit)
    base = config.rest_url(desc.key, url)
    sym = resolve_symbol(symbol, base, desc.key)
    args = {"symbol": sym, "step": step, "limit": limit}
    return fetch(desc, api, call, base, args, symbol=sym, step=step, received_ms=0.0)
