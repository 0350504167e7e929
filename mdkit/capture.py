"""Time-boxed WebSocket captures: :func:`capture`, :func:`acapture` and :class:`Capture`.

::

    cap = mdkit.capture("cryptocom", ["btcusdt", "ethusdt"],
                        ["trades", "ticker", "klines:1min", "book"], seconds=30)
    cap                 # one-glance summary
    cap.trades          # one DataFrame per data kind (cap.frames() lists them)
    cap.book(levels=10) # top-10 book over time

    both = mdkit.capture([("bitget", ["BTCUSDT"], ["trades"]),
                          ("cryptocom", ["btcusdt"], ["trades"])], seconds=30)
    both.trades.groupby("venue", observed=True).price.mean()

In a notebook the sync :func:`capture` is safe: it runs on mdkit's own loop thread
(:mod:`mdkit.engine.runner`), and the stop button ends it early with what it
collected (``cap.stats["interrupted"]`` is True). In async code, ``await acapture(...)``.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mdkit import config
from mdkit.data import tables as stream_tables
from mdkit.data.book import OrderBook
from mdkit.data.frames import strings
from mdkit.errors import (
    AuthError,
    InvalidArgument,
    MdkitError,
    NetworkError,
    UnknownSymbol,
    VenueError,
)

__all__ = ["Capture", "capture", "acapture", "MAX_BOOK_LEVELS"]

log = logging.getLogger("mdkit.capture")

#: Most levels per side :meth:`Capture.book` rebuilds.
MAX_BOOK_LEVELS = 1000


class Capture:
    """What a capture received: one DataFrame per data kind, the raw frames, the stats.

    Every data kind the capture received is an attribute (``cap.trades``,
    ``cap.quotes``, ``cap.orders``...); :meth:`frames` lists them. Every frame has a
    ``venue`` column and ``attrs`` with ``venues``, ``symbols``, ``source`` (``"ws"``)
    and ``interrupted``.

    Attributes
    ----------
    venues : list of str
    symbols : list of str
    channels : list of str
        The subscriptions, as ``"<venue> <channel> <symbol>"``.
    urls : dict
        ``"<venue> <endpoint>"`` → URL.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.venues: list[str] = [s.venue.key for s in engine.streams]
        self.venue: str = self.venues[0] if len(self.venues) == 1 else "+".join(self.venues)
        self.symbols: list[str] = list(
            dict.fromkeys(
                sub.symbol for s in engine.streams for sub in s.subscriptions if sub.symbol
            )
        )
        self.channels: list[str] = [
            f"{s.venue.key} {sub.key}" for s in engine.streams for sub in s.subscriptions
        ]
        self.urls: dict[str, str] = {
            f"{s.venue.key} {name}": u for s in engine.streams for name, u in s.urls.items()
        }
        self.url: str = next(iter(self.urls.values()), "")
        self._frames: dict[str, pd.DataFrame] = {}
        self._books: dict[int, pd.DataFrame] = {}

    # -- frames -------------------------------------------------------------------------
    def _attrs(self, **extra: Any) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "venues": list(self.venues),
            "symbols": list(self.symbols),
            "source": "ws",
            "interrupted": bool(self._engine.stats.interrupted),
            **extra,
        }

    def frames(self) -> list[str]:
        """The data kinds this capture holds rows of (each is an attribute)."""
        kinds: set[str] = set()
        for part in self._engine.parts.values():
            kinds.update(part.tables.kinds())
        return [k for k in stream_tables.STREAM_KINDS if k in kinds]

    def frame(self, kind: str) -> pd.DataFrame:
        """The DataFrame of one data kind (``cap.frame("trades")`` is ``cap.trades``).

        Returns
        -------
        pandas.DataFrame
            See :func:`mdkit.data.tables.stream_frame` for each kind's columns, plus
            ``venue`` (str) first.

        Raises
        ------
        InvalidArgument
            For a kind that is not a stream kind (naming them).
        """
        if kind not in stream_tables.STREAM_KINDS:
            raise InvalidArgument(
                f"no data kind {kind!r}; kinds: {', '.join(stream_tables.STREAM_KINDS)}"
            )
        if kind not in self._frames:
            self._frames[kind] = self._build(kind)
        return self._frames[kind]

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in stream_tables.STREAM_KINDS:
            return self.frame(name)
        raise AttributeError(
            f"Capture has no attribute {name!r}; data kinds: "
            f"{', '.join(stream_tables.STREAM_KINDS)}"
        )

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(stream_tables.STREAM_KINDS))

    def _build(self, kind: str) -> pd.DataFrame:
        end_ns = int(self._engine.stats.ended_ns)
        parts: list[pd.DataFrame] = []
        for key, part in self._engine.parts.items():
            buffers = part.tables
            if kind in buffers.counts():
                columns = buffers[kind].columns()
            else:
                columns = stream_tables.empty_columns(kind)
            df = stream_tables.stream_frame(kind, columns, attrs=self._attrs(), end_ns=end_ns)
            if len(df) or not parts:
                df.insert(0, "venue", pd.Series(strings([key] * len(df)), index=df.index))
                parts.append(df)
        full = [p for p in parts if len(p)]
        if len(full) <= 1:
            out = full[0] if full else parts[0]
        else:
            # Every column has one dtype on every part (strings for venue and symbol,
            # fixed categories for sides: mdkit.data.frames), so concat keeps them.
            out = pd.concat(full)
            if kind != "depth":  # book updates stay in receive order per venue
                out = out.sort_index(kind="stable")
        out.attrs.clear()
        out.attrs.update(self._attrs())
        return out

    def book(self, levels: int = 10) -> pd.DataFrame:
        """The top of the book over time, rebuilt from :attr:`depth`, one row per message.

        Parameters
        ----------
        levels : int
            Levels per side, 1 to :data:`MAX_BOOK_LEVELS`.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC); ``venue``, ``symbol`` (str),
            ``local_timestamp``, then for each level i ``asks[i].price asks[i].amount
            bids[i].price bids[i].amount`` (float64, NaN past the book's depth).
            ``attrs["crossed"]`` counts rows whose best bid was at or above the best ask.

        Raises
        ------
        InvalidArgument
            If ``levels`` is not an integer from 1 to :data:`MAX_BOOK_LEVELS`.

        Examples
        --------
        >>> top = cap.book(levels=1)                                          # doctest: +SKIP
        >>> (top["asks[0].price"] - top["bids[0].price"]).describe()          # doctest: +SKIP
        """
        if (
            isinstance(levels, bool)
            or not isinstance(levels, int | np.integer)
            or not 1 <= levels <= MAX_BOOK_LEVELS
        ):
            raise InvalidArgument(
                f"levels must be an integer from 1 to {MAX_BOOK_LEVELS}, not {levels!r}"
            )
        levels = int(levels)
        if levels not in self._books:
            self._books[levels] = self._rebuild_book(levels)
        return self._books[levels]

    def _rebuild_book(self, levels: int) -> pd.DataFrame:
        depth = self.frame("depth")
        local = pd.DatetimeIndex(depth["local_timestamp"]).asi8
        n = len(local)
        # "\x1f" (not NUL: numpy unicode arrays drop trailing NULs on pandas 2.2)
        key = pd.Categorical(depth["venue"].astype(str) + "\x1f" + depth["symbol"].astype(str))
        codes = np.asarray(key.codes)
        names = [str(c).split("\x1f") for c in key.categories]
        # One message = one run of rows with the same receive time and venue/symbol.
        starts = (
            np.flatnonzero(np.r_[True, (local[1:] != local[:-1]) | (codes[1:] != codes[:-1])])
            if n
            else np.empty(0, dtype="int64")
        )
        ends = np.r_[starts[1:], n].astype("int64")
        snap = depth["is_snapshot"].to_numpy()
        side_codes = np.asarray(pd.Categorical(depth["side"], categories=["bid", "ask"]).codes)
        prices = depth["price"].to_numpy()
        amounts = depth["amount"].to_numpy()
        times = pd.DatetimeIndex(depth.index).asi8
        books: dict[int, OrderBook] = {}
        tops = np.empty((len(starts), 4, levels))
        crossed = 0
        for row, (lo, hi) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
            book = books.setdefault(int(codes[lo]), OrderBook())
            if snap[lo]:
                bid = side_codes[lo:hi] == 0
                pa = np.column_stack([prices[lo:hi], amounts[lo:hi]])
                book.apply_snapshot(pa[bid], pa[~bid])
            else:
                for i in range(lo, hi):
                    book.update(
                        "bid" if side_codes[i] == 0 else "ask", float(prices[i]), float(amounts[i])
                    )
            crossed += book.is_crossed()
            tops[row] = np.stack(book.top(levels))
        df = stream_tables.book_frame(
            times[starts],
            local[starts],
            [names[c][1] for c in codes[starts]],
            tops,
            attrs=self._attrs(levels=levels, crossed=int(crossed)),
            venues=np.asarray([names[c][0] for c in codes[starts]], dtype=object),
        )
        return df

    @property
    def raw(self) -> pd.DataFrame:
        """Every received frame, as received.

        Returns
        -------
        pandas.DataFrame
            Index ``local_timestamp`` (UTC receive time); ``venue`` (str),
            ``connection`` (int32), ``text`` (bool: it came as a text frame), ``error``
            (bool: the frame could not be understood), ``size`` (int32), ``payload``
            (bytes as received; gzip frames stay compressed), ``decoded`` (str: the
            payload inflated and read as UTF-8, to read beside the bytes). Payloads past
            the capture's ``raw_limit`` are empty (counted in ``stats["raw_dropped"]``).
        """
        if "raw" not in self._frames:
            cols, payloads = self._engine.raw.columns()
            df = stream_tables.raw_frame(cols, payloads, attrs=self._attrs())
            venues = self._engine.connection_venues
            labels = strings([venues.get(int(c), "") for c in df["connection"]])
            df.insert(0, "venue", pd.Series(labels, index=df.index))
            self._frames["raw"] = df
        return self._frames["raw"]

    @property
    def gaps(self) -> pd.DataFrame:
        """Interruptions: disconnects, silences, resyncs, sequence gaps.

        Returns
        -------
        pandas.DataFrame
            ``start`` (last frame before), ``end`` (first data after, or the end of the
            capture), ``duration``, ``venue``, ``connection`` (int64), ``channels``
            ("" = the whole connection), ``reason``.
        """
        return stream_tables.gaps_frame(self._engine.stats.gaps, attrs=self._attrs())

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: ``messages bytes data_messages per_channel acks pings pongs
        server_errors unrouted other drift parse_errors connections reconnects
        connect_failures resyncs gaps rate_limits duration rate outcome interrupted
        rows raw_dropped held_bytes worst_reconnect_rate``."""
        s = self._engine.stats
        out: dict[str, Any] = {
            "messages": s.messages,
            "bytes": s.bytes,
            "data_messages": self._engine.data_total,
        }
        per_channel: dict[str, int] = {}
        totals = {"acks": 0, "pings": 0, "pongs": 0, "unrouted": 0, "other": 0}
        many = len(self._engine.parts) > 1
        for key, part in self._engine.parts.items():
            c = part.counters
            for sub in part.stream.subscriptions:
                per_channel.setdefault(f"{key} {sub.key}" if many else sub.key, 0)
            for name, count in c.per_channel.items():
                label = f"{key} {name}" if many else name
                per_channel[label] = per_channel.get(label, 0) + count
            for name in totals:
                totals[name] += getattr(c, name)
        out["per_channel"] = per_channel
        out.update(totals)
        drift: dict[str, int] = {}
        for part in self._engine.parts.values():
            for (venue, channel, field, change), count in part.counters.drift.items():
                label = f"{venue} {channel} {field} {change}"
                drift[label] = drift.get(label, 0) + count
        out["drift"] = drift
        for name in (
            "server_errors",
            "parse_errors",
            "connections",
            "reconnects",
            "connect_failures",
            "resyncs",
        ):
            value = getattr(s, name)
            out[name] = list(value) if isinstance(value, list) else value
        out["gaps"] = len(s.gaps)
        out["rate_limits"] = dict(s.rate_limits)
        out["duration"] = round(s.duration, 3)
        out["rate"] = round(self._engine.data_total / s.duration, 1) if s.duration else 0.0
        out["outcome"] = s.outcome
        out["interrupted"] = s.interrupted
        out["worst_reconnect_rate"] = s.worst_reconnect_rate
        rows: dict[str, int] = {}
        held = 0
        for part in self._engine.parts.values():
            for kind, count in part.tables.counts().items():
                rows[kind] = rows.get(kind, 0) + count
            held += part.tables.nbytes
        out["rows"] = rows
        out["raw_dropped"] = self._engine.raw.dropped
        out["held_bytes"] = held + self._engine.raw.nbytes
        return out

    # -- saving -------------------------------------------------------------------------
    def to_parquet(
        self, directory: str | os.PathLike[str], *, levels: int | None = 10, raw: bool = False
    ) -> list[str]:
        """Add this capture to the Parquet dataset at ``directory`` (created if needed).

        Safe to repeat: every call adds new, uniquely named parts
        (``kind=/venue=/symbol=/date=/<part>.parquet``), written atomically; nothing
        is overwritten. Read it back with :func:`mdkit.read_parquet`, or with DuckDB,
        Polars, Spark or pyarrow.dataset (see the README, "Datasets").

        Parameters
        ----------
        directory : str or path
            The dataset root.
        levels : int or None
            Levels of the ``book`` kind written alongside ``depth`` (None: no book).
        raw : bool
            Also write the raw frames (``kind=raw``; what :func:`mdkit.replay` reads).

        Returns
        -------
        list of str
            The parts written.
        """
        from mdkit.store import write_capture
        from mdkit.store.layout import check_path

        if not isinstance(raw, bool):
            raise InvalidArgument(f"raw must be True or False, not {raw!r}")
        return write_capture(self, check_path(directory, "directory"), levels=levels, raw=raw)

    # -- reprs --------------------------------------------------------------------------
    def _summary(self) -> tuple[str, list[tuple[str, int]], list[str]]:
        s = self._engine.stats
        data = self._engine.data_total
        head = (
            f"{self.venue} capture, {s.duration:.1f} s, {s.outcome}: {data:,} data "
            f"messages ({data / s.duration if s.duration else 0:,.0f}/s), {s.bytes:,} bytes"
        )
        stats = self.stats
        channels = sorted(stats["per_channel"].items())
        notes = []
        rows = {kind: len(self.frame(kind)) for kind in self.frames()}
        # Rows of the frames themselves (a kline message updates a bar; a trade
        # received twice is kept once), not the message counts above.
        notes.append(
            "frame rows: " + (", ".join(f"cap.{k} {v:,}" for k, v in rows.items()) or "none")
        )
        notes.append(
            f"connections {s.connections}, reconnects {s.reconnects}, gaps {len(s.gaps)}, "
            f"resyncs {s.resyncs}, parse errors {s.parse_errors}, "
            f"server errors {len(s.server_errors)}"
        )
        raw = self._engine.raw
        if raw.dropped:
            notes.append(
                f"raw payloads dropped {raw.dropped:,} (past raw_limit={raw.limit:,} bytes; "
                "rows and parse-error frames kept)"
            )
        if stats["drift"]:
            notes.append(
                "drift (venue channel field change: frames): "
                + ", ".join(f"{k}: {v:,}" for k, v in sorted(stats["drift"].items()))
            )
        silent = [k for k, v in stats["per_channel"].items() if v == 0]
        if silent:
            notes.append("no data from: " + ", ".join(silent))
        if s.interrupted:
            notes.append("interrupted: the frames hold what arrived before the interrupt")
        return head, channels, notes

    def __repr__(self) -> str:
        head, channels, notes = self._summary()
        lines = [f"<Capture {head}"]
        lines += [f"  {'channel':<36} {'messages':>9}"]
        lines += [f"  {key:<36} {count:>9,}" for key, count in channels]
        lines += [f"  {note}" for note in notes]
        return "\n".join(lines) + ">"

    def _repr_html_(self) -> str:
        head, channels, notes = self._summary()
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td style='text-align:right'>{v:,}</td></tr>"
            for k, v in channels
        )
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        return (
            f"<div><b>Capture</b> {html.escape(head)}"
            f"<table><thead><tr><th>channel</th><th>messages</th></tr></thead>"
            f"<tbody>{rows}</tbody></table><ul>{items}</ul></div>"
        )


_ENGINE_OPTIONS = ("silence_timeout", "raw_limit", "backoff", "open_timeout")
_CREDENTIALS = ("api_key", "secret_key", "passphrase", "token")


def _as_list(value: Any, what: str, *, allow_empty: bool) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise InvalidArgument(
            f"{what} must be a string or a list of strings, not {type(value).__name__}"
        )
    items = list(value)
    for item in items:
        if not isinstance(item, str):
            raise InvalidArgument(f"{what} must be strings; got {item!r}")
    if not items and not allow_empty:
        raise InvalidArgument(f"{what}: give at least one")
    if len(items) > 100_000:
        raise InvalidArgument(f"{what}: {len(items):,} is more than any venue allows")
    return items


def _stream(
    venue_key: Any,
    symbols: Any,
    channels: Any,
    options: dict[str, Any],
    secrets: Any,
    *,
    url: Any = None,
    urls: Any = None,
) -> Any:
    """Validate one venue's request, before any connection: a planned Stream.

    ``secrets`` is a :class:`~mdkit.venues.base.Credentials` (never a plain dict: a
    traceback rendered with its frames' locals must not show the values).
    """
    from mdkit.engine.listing import venue_symbols
    from mdkit.engine.stream import Stream
    from mdkit.venues import get_venue
    from mdkit.venues.base import Credentials, close_matches

    venue = get_venue(venue_key)
    symbol_list = _as_list(symbols, "symbols", allow_empty=True)
    channel_list = _as_list(channels, "channels", allow_empty=False)
    venue_options = {k: options.pop(k) for k in list(options) if k in venue.options}
    if options:
        valid = [*_ENGINE_OPTIONS, *venue.credentials, *venue.options]
        raise InvalidArgument(
            f"unknown capture options for {venue.key}: {', '.join(sorted(options))}; "
            f"valid: {', '.join(valid)}"
        )
    subscriptions = venue.plan(symbol_list, channel_list, venue_options)
    if not subscriptions:
        raise InvalidArgument(f"{venue.key}: nothing to capture (no symbol for these channels)")
    endpoints: dict[str, str] = {}
    if urls is not None:
        if not isinstance(urls, Mapping):
            raise InvalidArgument(f"urls must be a mapping of endpoint name to URL, not {urls!r}")
        for name, value in urls.items():
            if name not in venue.endpoints:
                raise InvalidArgument(
                    f"{venue.key} has no endpoint {name!r}; it has {', '.join(venue.endpoints)}"
                )
            endpoints[name] = config.endpoint_url(venue.key, name, value)
    if url is not None:
        endpoints["public"] = config.endpoint_url(venue.key, "public", url)
    for sub in subscriptions:
        if sub.endpoint not in endpoints:
            endpoints[sub.endpoint] = config.endpoint_url(venue.key, sub.endpoint)
    given = Credentials(config.credentials(venue.key, secrets))
    needed = {s.endpoint for s in subscriptions if venue.endpoints[s.endpoint].private}
    missing = [n for n in venue.credentials if n not in given]
    if needed and missing:
        names = ", ".join(f"MDKIT_{venue.key.upper()}_{n.upper()}" for n in missing)
        raise AuthError(
            "credentials",
            f"{venue.key}: the channels on the {', '.join(sorted(needed))} endpoint need "
            f"credentials; set {names} or pass {', '.join(missing)}=",
        )
    overridden = url is not None or urls is not None
    rest_known = "rest" in endpoints or bool(os.environ.get(f"MDKIT_{venue.key.upper()}_REST_URL"))
    listed = None
    if not overridden or rest_known:
        # With only a WebSocket URL given (a proxy, another exchange of the family), the
        # doc's REST host is not the one behind it: symbols are checked for spelling only.
        listed = _listed_symbols(venue, venue_options, endpoints, venue_symbols)
    if listed is not None:
        known = set(listed)
        for sub in subscriptions:
            if sub.symbol and sub.symbol not in known:
                close = close_matches(sub.symbol, listed)
                hint = f"; close matches: {', '.join(close)}" if close else ""
                raise UnknownSymbol(
                    f"{venue.key} does not list the symbol {sub.symbol!r}{hint} "
                    f"(see mdkit.symbols({venue.key!r}))"
                )
    # Handshake headers carry a credential (iTick's token): held redacted as well.
    headers = Credentials(dict(venue.handshake_headers(given))) if venue.handshake_headers else {}
    return Stream(venue, tuple(subscriptions), endpoints, given, headers)


def _listed_symbols(
    venue: Any, options: Mapping[str, Any], endpoints: Mapping[str, str], fetch: Any
) -> list[str] | None:
    try:
        listed: list[str] | None = fetch(venue, options, urls=endpoints)
    except (NetworkError, VenueError) as exc:
        # The REST list is a convenience: a capture through a WS-only proxy still runs,
        # with symbols checked for their spelling only.
        log.warning("%s: symbol list unavailable (%s); symbols not checked", venue.key, exc)
        return None
    return listed


def _merged(first: Any, second: Any) -> Any:
    from mdkit.venues.base import Credentials

    return Credentials({**first, **second})


def _take_credentials(options: dict[str, Any]) -> Any:
    """Move the credentials out of ``options`` (in place) into a Credentials."""
    from mdkit.venues.base import Credentials

    for name in _CREDENTIALS:
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            options.pop(name)
            raise InvalidArgument(f"{name} must be a string, not {type(value).__name__}")
    return Credentials({k: options.pop(k) for k in _CREDENTIALS if k in options})


def _engine(
    venue: Any,
    symbols: Any,
    channels: Any,
    seconds: Any,
    max_messages: Any,
    url: Any,
    urls: Any,
    options: dict[str, Any],
    secrets: Any = None,
) -> Any:
    from mdkit.engine.stream import Engine, check_options

    if secrets is None:
        secrets = _take_credentials(options)

    engine_options = {k: options.pop(k) for k in _ENGINE_OPTIONS if k in options}
    checked = check_options(seconds=seconds, max_messages=max_messages, **engine_options)
    if isinstance(venue, list | tuple):
        if symbols is not None or channels is not None or url is not None or urls is not None:
            raise InvalidArgument(
                "a multi-venue capture takes [(venue, symbols, channels), ...] alone; "
                "put per-venue options in a 4th item: (venue, symbols, channels, {options})"
            )
        if not venue:
            raise InvalidArgument("give at least one (venue, symbols, channels)")
        streams = []
        for item in venue:
            if not isinstance(item, tuple | list) or len(item) not in (3, 4):
                raise InvalidArgument(
                    f"each venue part is (venue, symbols, channels[, options]), not {item!r}"
                )
            if len(item) == 4 and not isinstance(item[3], Mapping):
                raise InvalidArgument(f"a venue part's options must be a mapping, not {item[3]!r}")
            extra = dict(item[3]) if len(item) == 4 else {}
            extra.update({k: v for k, v in options.items()})
            mine = _take_credentials(extra)
            streams.append(_stream(item[0], item[1], item[2], extra, _merged(secrets, mine)))
            del mine
        keys = [s.venue.key for s in streams]
        if len(set(keys)) != len(keys):
            raise InvalidArgument(f"a venue appears twice: {keys}; merge its symbols and channels")
    else:
        if symbols is None or channels is None:
            raise InvalidArgument(
                "capture(venue, symbols, channels, seconds=...): symbols and channels are "
                "required (symbols may be [] for account-wide private channels)"
            )
        streams = [_stream(venue, symbols, channels, options, secrets, url=url, urls=urls)]
    return Engine(streams, **checked)


def capture(
    venue: str | Sequence[tuple[Any, ...]],
    symbols: Sequence[str] | str | None = None,
    channels: Sequence[str] | str | None = None,
    seconds: float | None = 10.0,
    *,
    max_messages: int | None = None,
    url: str | None = None,
    urls: Mapping[str, str] | None = None,
    **options: Any,
) -> Capture:
    """Capture WebSocket streams for a while and return them as DataFrames.

    Safe in notebooks and under a running event loop: the work runs on mdkit's own
    loop thread. An interrupt (Ctrl-C, the kernel's stop button) ends it early and
    returns what arrived, with ``stats["interrupted"]`` True.

    Parameters
    ----------
    venue : str or list of tuple
        A venue key (``mdkit.venues.venue_keys()``), or several venues at once:
        ``[("bitget", syms, chans), ("cryptocom", syms, chans, {options}), ...]``.
    symbols : str or sequence of str
        In any spelling the venue accepts; ``[]`` for account-wide private channels.
    channels : str or sequence of str
        ``trades``, ``ticker``, ``klines`` / ``klines:<interval>``, ``book`` /
        ``book:<levels>``, ``quotes``, and private ``orders fills balances positions``
        where the venue offers them.
    seconds : float or None
        Time box; reaching it is a success. None: until ``max_messages`` or interrupt
        (then ``max_messages`` is required).
    max_messages : int, optional
        Stop after this many data messages.
    url : str, optional
        The public WebSocket URL of a one-venue capture; default
        ``MDKIT_<VENUE>_WS_URL``, else the venue's.
    urls : mapping, optional
        URL per endpoint name (``{"public": ..., "private": ...}``).
    **options
        Credentials (``api_key``, ``secret_key``, ``passphrase``, ``token``; default
        ``MDKIT_<VENUE>_<NAME>``), the venue's own options (Bitget ``inst_type``...),
        and engine options: ``silence_timeout`` (s), ``raw_limit`` (bytes of raw
        payload kept; default 256 MiB, None keeps all), ``backoff`` ((first, max)
        reconnect delay, s), ``open_timeout`` (s).

    Returns
    -------
    Capture
        One DataFrame per data kind received (``.trades .ticker .klines .depth .quotes
        .orders .fills .balances .positions``, each with a ``venue`` column),
        ``.book(levels)``, ``.raw``, ``.gaps``, ``.stats``.

    Raises
    ------
    UnknownVenue, UnknownChannel, UnknownInterval, UnknownSymbol, InvalidArgument, AuthError
        Before connecting, naming the valid choices.
    NetworkError
        If no connection could be made at all.
    MdkitError
        A fatal server error (a refused login: ``AuthError``); its ``.capture``
        holds what arrived before it.

    Examples
    --------
    >>> cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=5)  # doctest: +SKIP
    >>> cap.trades.groupby("side", observed=True).amount.sum()                      # doctest: +SKIP
    """
    from mdkit.engine import runner

    # The credentials leave `options` at once: locals shown in a traceback stay clean.
    secrets = _take_credentials(options)
    engine = _engine(
        venue, symbols, channels, seconds, max_messages, url, urls, dict(options), secrets
    )
    try:
        runner.run(engine.run(), on_interrupt=lambda: engine.stop("interrupted"))
    except MdkitError as exc:
        if engine.stats.connections:
            exc.capture = Capture(engine)  # type: ignore[attr-defined]
        raise
    return Capture(engine)


async def acapture(
    venue: str | Sequence[tuple[Any, ...]],
    symbols: Sequence[str] | str | None = None,
    channels: Sequence[str] | str | None = None,
    seconds: float | None = 10.0,
    *,
    max_messages: int | None = None,
    url: str | None = None,
    urls: Mapping[str, str] | None = None,
    **options: Any,
) -> Capture:
    """The coroutine form of :func:`capture`, for async code (same parameters and result).

    Runs on the caller's event loop. Cancelling it cancels the capture (nothing is
    returned); use ``seconds`` or ``max_messages`` to end it with data.

    Examples
    --------
    >>> cap = await mdkit.acapture("cryptocom", "btcusdt", "trades", seconds=5)  # doctest: +SKIP
    """
    secrets = _take_credentials(options)
    engine = await asyncio.to_thread(
        _engine, venue, symbols, channels, seconds, max_messages, url, urls, dict(options), secrets
    )
    try:
        await engine.run()
    except MdkitError as exc:
        if engine.stats.connections:
            exc.capture = Capture(engine)  # type: ignore[attr-defined]
        raise
    return Capture(engine)
