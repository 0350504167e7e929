"""Time-boxed WebSocket captures: :func:`capture`, :func:`acapture` and :class:`Capture`.

::

    cap = mdkit.capture("cryptocom", ["btcusdt", "ethusdt"],
                        ["trades", "ticker", "klines:1min", "book"], seconds=30)
    cap                 # one-glance summary
    cap.trades          # one DataFrame per data kind
    cap.book(levels=10) # top-10 book over time

In a notebook the sync :func:`capture` is safe: it runs on mdkit's own loop thread
(:mod:`mdkit.runner`), and the stop button ends it early with what it collected
(``cap.stats["interrupted"]`` is True). In async code, ``await acapture(...)``.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mdkit import config, frames
from mdkit.book import OrderBook
from mdkit.errors import InvalidArgument
from mdkit.timeparse import INTERVALS

__all__ = ["Capture", "capture", "acapture"]

log = logging.getLogger("mdkit.capture")

_KINDS = ("trades", "ticker", "klines", "depth")


class Capture:
    """What a capture received: one DataFrame per data kind, the raw frames, the stats.

    Attributes
    ----------
    venue : str
    symbols : list of str
    channels : list of str
        The subscriptions, as ``"<channel> <symbol>"``.
    url : str

    Notes
    -----
    Frames are built when first read and cached. Every frame's ``attrs`` carry
    ``venue``, ``symbols``, ``source`` (``"ws"``) and ``interrupted``.
    """

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self.venue: str = engine.spec.venue
        self.url: str = engine.url
        self.symbols: list[str] = list(dict.fromkeys(s.symbol for s in engine.subscriptions))
        self.channels: list[str] = [s.key for s in engine.subscriptions]
        self._books: dict[int, pd.DataFrame] = {}

    # -- frames -------------------------------------------------------------------------
    def _attrs(self, **extra: Any) -> dict[str, Any]:
        return {
            "venue": self.venue,
            "symbols": list(self.symbols),
            "source": "ws",
            "interrupted": bool(self._engine.stats.interrupted),
            **extra,
        }

    @cached_property
    def trades(self) -> pd.DataFrame:
        """Trades.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC trade time); ``symbol`` (category), ``id`` (int64),
            ``side`` (category ``buy``/``sell``, taker side), ``price``, ``amount``
            (float64, base units), ``local_timestamp`` (UTC receive time).
        """
        cols = self._engine.tables.trades.columns()
        return frames.stream_trades_frame(cols, attrs=self._attrs())

    @cached_property
    def ticker(self) -> pd.DataFrame:
        """Ticker pushes.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC); ``symbol``, ``last bid ask high low volume change``
            (float64; NaN where the venue does not send it, e.g. v1 bid/ask),
            ``open``, ``quote_volume`` where sent, ``local_timestamp``.
        """
        cols = self._engine.tables.ticker.columns()
        return frames.stream_ticker_frame(cols, attrs=self._attrs())

    @cached_property
    def klines(self) -> pd.DataFrame:
        """Bars: the last update of each bar, with a ``closed`` flag.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (bar open, UTC); ``symbol``, ``interval`` (category),
            ``open high low close volume`` (+ ``quote_volume``) float64, ``closed``
            (bool; False for the bar still forming at the end), ``local_timestamp``.
        """
        widths = {name: iv.seconds for name, iv in INTERVALS.items()}
        return frames.stream_klines_frame(
            self._engine.tables.klines.columns(),
            interval_seconds=widths,
            end_s=self._engine.stats.ended_ns / 1e9,
            attrs=self._attrs(),
        )

    @cached_property
    def depth(self) -> pd.DataFrame:
        """Book updates, as received.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC); ``symbol``, ``is_snapshot`` (bool: the rows of one
            full book, which replaces the previous one — also the first book after a
            reconnect), ``side`` (category ``bid``/``ask``), ``price``, ``amount``
            (float64, 0 deletes the level), ``local_timestamp`` (UTC).
        """
        cols = self._engine.tables.depth.columns()
        return frames.stream_depth_frame(cols, attrs=self._attrs())

    def book(self, levels: int = 10) -> pd.DataFrame:
        """The top of the book over time, rebuilt from :attr:`depth`, one row per message.

        Parameters
        ----------
        levels : int
            Levels per side.

        Returns
        -------
        pandas.DataFrame
            Index ``timestamp`` (UTC); ``symbol`` (category), ``local_timestamp``, then
            for each level i ``asks[i].price asks[i].amount bids[i].price
            bids[i].amount`` (float64, NaN past the book's depth). ``attrs["crossed"]``
            counts rows whose best bid was at or above the best ask.

        Raises
        ------
        InvalidArgument
            If ``levels`` is not a positive integer.

        Examples
        --------
        >>> top = cap.book(levels=1)                                          # doctest: +SKIP
        >>> (top["asks[0].price"] - top["bids[0].price"]).describe()          # doctest: +SKIP
        """
        if isinstance(levels, bool) or not isinstance(levels, int) or levels < 1:
            raise InvalidArgument(f"levels must be a positive integer, not {levels!r}")
        if levels not in self._books:
            self._books[levels] = self._rebuild_book(levels)
        return self._books[levels]

    def _rebuild_book(self, levels: int) -> pd.DataFrame:
        cols = self._engine.tables.depth.columns()
        local = np.asarray(cols[frames.LOCAL_TIMESTAMP], dtype="int64")
        n = len(local)
        symbol = pd.Categorical(cols["symbol"])
        codes = np.asarray(symbol.codes)
        names = list(symbol.categories)
        # One message = one run of rows with the same receive time and symbol.
        starts = (
            np.flatnonzero(np.r_[True, (local[1:] != local[:-1]) | (codes[1:] != codes[:-1])])
            if n
            else np.empty(0, dtype="int64")
        )
        ends = np.r_[starts[1:], n].astype("int64")
        snap = np.asarray(cols["is_snapshot"], dtype=bool)
        side_codes = np.asarray(pd.Categorical(cols["side"], categories=["bid", "ask"]).codes)
        prices = np.asarray(cols["price"], dtype="float64")
        amounts = np.asarray(cols["amount"], dtype="float64")
        times = np.asarray(cols[frames.TIMESTAMP], dtype="int64")
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
        df = frames.book_frame(
            times[starts],
            local[starts],
            [names[c] for c in codes[starts]],
            tops,
            attrs=self._attrs(levels=levels, crossed=int(crossed)),
        )
        return df

    @cached_property
    def raw(self) -> pd.DataFrame:
        """Every received frame, as received.

        Returns
        -------
        pandas.DataFrame
            Index ``local_timestamp`` (UTC receive time); ``connection`` (int32),
            ``text`` (bool), ``error`` (bool: the frame could not be understood),
            ``size`` (int32), ``payload`` (bytes; gzip frames stay compressed: read
            them with ``zlib.decompress(payload, 31)``). Payloads past the capture's
            ``raw_limit`` are empty (counted in ``stats["raw_dropped"]``).
        """
        cols, payloads = self._engine.raw.columns()
        return frames.raw_frame(cols, payloads, attrs=self._attrs())

    @property
    def gaps(self) -> pd.DataFrame:
        """Interruptions of the stream: disconnects, silences, and the reconnects after them.

        Returns
        -------
        pandas.DataFrame
            ``start`` (last frame before), ``end`` (first data frame after; NaT if none),
            ``duration``, ``connection`` (int64, the connection that ended), ``reason``.
        """
        return frames.gaps_frame(self._engine.stats.gaps, attrs=self._attrs())

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: ``messages bytes data_messages per_channel acks pings pongs
        server_errors unrouted other parse_errors connections reconnects
        connect_failures gaps duration rate outcome interrupted rows raw_dropped
        book_bytes``."""
        out: dict[str, Any] = self._engine.stats.as_dict()
        out["rows"] = self._engine.tables.counts()
        out["raw_dropped"] = self._engine.raw.dropped
        out["held_bytes"] = self._engine.tables.nbytes + self._engine.raw.nbytes
        return out

    # -- saving -------------------------------------------------------------------------
    def to_parquet(self, directory: str | os.PathLike[str], *, levels: int = 10) -> list[str]:
        """Write one Parquet file per non-empty frame into ``directory`` (created if needed).

        Files: ``trades ticker klines depth book raw gaps`` + ``.parquet``.

        Parameters
        ----------
        directory : str or path
            Target directory.
        levels : int
            Levels of the ``book`` file.

        Returns
        -------
        list of str
            The paths written.
        """
        os.makedirs(directory, exist_ok=True)
        written = []
        tables: dict[str, pd.DataFrame] = {kind: getattr(self, kind) for kind in _KINDS}
        if len(tables["depth"]):
            tables["book"] = self.book(levels)
        tables["raw"] = self.raw
        tables["gaps"] = self.gaps
        for name, df in tables.items():
            if not len(df):
                continue
            out = df.copy()
            out.attrs = {k: v for k, v in df.attrs.items() if _plain(v)}
            if name == "raw":
                out["payload"] = out["payload"].astype(object)
            path = os.path.join(os.fspath(directory), f"{name}.parquet")
            out.to_parquet(path, engine="pyarrow")
            written.append(path)
        return written

    # -- reprs --------------------------------------------------------------------------
    def _summary(self) -> tuple[str, list[tuple[str, int]], list[str]]:
        s = self._engine.stats
        head = (
            f"{self.venue} capture, {s.duration:.1f} s, {s.outcome}: {s.data_messages:,} data "
            f"messages ({s.data_messages / s.duration if s.duration else 0:,.0f}/s), "
            f"{s.bytes:,} bytes"
        )
        channels = sorted(s.per_channel.items())
        notes = []
        rows = self._engine.tables.counts()
        notes.append("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items() if v))
        notes.append(
            f"connections {s.connections}, reconnects {s.reconnects}, gaps {len(s.gaps)}, "
            f"parse errors {s.parse_errors}, server errors {len(s.server_errors)}"
        )
        raw = self._engine.raw
        if raw.dropped:
            notes.append(
                f"raw payloads dropped {raw.dropped:,} (past raw_limit={raw.limit:,} bytes; "
                "rows and parse-error frames kept)"
            )
        silent = [k for k, v in s.per_channel.items() if v == 0]
        if silent:
            notes.append("no data from: " + ", ".join(silent))
        if s.interrupted:
            notes.append("interrupted: the frames hold what arrived before the interrupt")
        return head, channels, notes

    def __repr__(self) -> str:
        head, channels, notes = self._summary()
        lines = [f"<Capture {head}"]
        lines += [f"  {key:<28} {count:>9,}" for key, count in channels]
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


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or (
        isinstance(value, list) and all(isinstance(v, str) for v in value)
    )


def _engine(
    venue: str,
    symbols: Sequence[str] | str,
    channels: Sequence[str] | str,
    seconds: float | None,
    max_messages: int | None,
    url: str | None,
    options: dict[str, Any],
) -> Any:
    from mdkit.stream import Engine, resolve_credentials, stream_spec

    if seconds is not None and (isinstance(seconds, bool) or not seconds > 0):
        raise InvalidArgument(f"seconds must be a positive number or None, not {seconds!r}")
    if max_messages is not None and (
        isinstance(max_messages, bool) or not isinstance(max_messages, int) or max_messages < 1
    ):
        raise InvalidArgument(f"max_messages must be a positive integer, not {max_messages!r}")
    spec = stream_spec(venue)
    subscriptions = spec.plan(symbols, channels)
    engine_options = {
        k: options.pop(k)
        for k in ("silence_timeout", "raw_limit", "backoff", "open_timeout")
        if k in options
    }
    credentials = resolve_credentials(spec.venue, options)
    unknown = set(options) - {"api_key", "secret_key", "passphrase", "token"}
    if unknown:
        raise InvalidArgument(f"unknown capture options: {', '.join(sorted(unknown))}")
    return Engine(
        spec,
        config.ws_url(spec.venue, url),
        subscriptions,
        seconds=seconds,
        max_messages=max_messages,
        credentials=credentials,
        **engine_options,
    )


def capture(
    venue: str,
    symbols: Sequence[str] | str,
    channels: Sequence[str] | str,
    seconds: float | None = 10.0,
    *,
    max_messages: int | None = None,
    url: str | None = None,
    **options: Any,
) -> Capture:
    """Capture WebSocket streams for a while and return them as DataFrames.

    Safe in notebooks and under a running event loop: the work runs on mdkit's own
    loop thread. An interrupt (Ctrl-C, the kernel's stop button) ends it early and
    returns what arrived, with ``stats["interrupted"]`` True.

    Parameters
    ----------
    venue : str
        ``"cryptocom"``.
    symbols : str or sequence of str
        ``"btcusdt"``, ``"BTC/USDT"``...
    channels : str or sequence of str
        ``trades``, ``ticker``, ``klines`` / ``klines:<interval>`` (``klines:1h``...),
        ``book`` (and ``quotes`` where the venue offers it).
    seconds : float or None
        Time box; reaching it is a success. None: until ``max_messages`` or interrupt.
    max_messages : int, optional
        Stop after this many data messages.
    url : str, optional
        WebSocket URL; default ``MDKIT_<VENUE>_WS_URL``, else the venue's.
    **options
        Credentials (``api_key``, ``secret_key``, ``passphrase``, ``token``) and engine
        options: ``silence_timeout`` (s), ``raw_limit`` (bytes of raw payload kept;
        default 256 MiB, None keeps all; payloads past it are counted in
        ``stats["raw_dropped"]``, frames not understood are always kept),
        ``backoff`` ((first, max) reconnect delay, s), ``open_timeout`` (s).

    Returns
    -------
    Capture
        ``.trades .ticker .klines .depth .book(levels) .raw .gaps .stats``.

    Raises
    ------
    UnknownVenue, UnknownChannel, UnknownInterval, InvalidArgument
        Before connecting, naming the valid choices.
    NetworkError
        If no connection could be made at all.

    Examples
    --------
    >>> cap = mdkit.capture("cryptocom", "btcusdt", ["trades", "book"], seconds=5)  # doctest: +SKIP
    >>> cap.trades.groupby("side", observed=True).amount.sum()                      # doctest: +SKIP
    """
    from mdkit import runner

    engine = _engine(venue, symbols, channels, seconds, max_messages, url, dict(options))
    runner.run(engine.run(), on_interrupt=lambda: engine.stop("interrupted"))
    return Capture(engine)


async def acapture(
    venue: str,
    symbols: Sequence[str] | str,
    channels: Sequence[str] | str,
    seconds: float | None = 10.0,
    *,
    max_messages: int | None = None,
    url: str | None = None,
    **options: Any,
) -> Capture:
    """The coroutine form of :func:`capture`, for async code (same parameters and result).

    Runs on the caller's event loop. Cancelling it cancels the capture (nothing is
    returned); use ``seconds`` or ``max_messages`` to end it with data.

    Examples
    --------
    >>> cap = await mdkit.acapture("cryptocom", "btcusdt", "trades", seconds=5)  # doctest: +SKIP
    """
    engine = _engine(venue, symbols, channels, seconds, max_messages, url, dict(options))
    await engine.run()
    return Capture(engine)
