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

from mdkit.data import tables as stream_tables
from mdkit.data.booktop import book_top
from mdkit.data.frames import strings
from mdkit.engine.core import Core
from mdkit.engine.plan import plan, take_credentials
from mdkit.engine.stream import Engine
from mdkit.errors import InvalidArgument, MdkitError
from mdkit.venues.base import Credentials

__all__ = ["Capture", "capture", "acapture", "replay", "MAX_BOOK_LEVELS"]

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

    def __init__(self, result: Core | Engine) -> None:
        engine = result.core if isinstance(result, Engine) else result
        #: The ingestion core that holds the capture (tables, raw, stats, gaps).
        self._engine: Core = engine
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

    @property
    def core(self) -> Core:
        """The ingestion core that holds this capture (tables, raw store, stats, gaps)."""
        return self._engine

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
        return book_top(self.frame("depth"), levels, self._attrs)

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
        rows = [gap.as_dict() for gap in self._engine.stats.gaps]
        return stream_tables.gaps_frame(rows, attrs=self._attrs())

    @property
    def stats(self) -> dict[str, Any]:
        """Counters: ``messages bytes data_messages per_channel acks pings pongs
        server_errors unrouted other drift parse_errors parse_error_kinds connections
        reconnects reconnects_in_gap connect_failures resyncs resyncs_deferred
        resyncs_in_gap error gaps rate_limits duration rate outcome interrupted rows
        raw_dropped held_bytes worst_reconnect_rate``. ``*_in_gap``: reconnects and
        resyncs that went on an interruption already recorded as a gap.
        ``parse_error_kinds``: kind (``protocol`` or the exception's name) →
        ``{"count", "first"}`` (the first one's text); ``drift``: ``(venue, channel,
        field, change)`` → count; ``error``: the fatal error that ended the capture
        (None)."""
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
        out["parse_error_kinds"] = {
            kind: {"count": e.count, "first": e.first} for kind, e in s.parse_error_kinds.items()
        }
        out["resyncs_deferred"] = s.resyncs_deferred
        out["resyncs_in_gap"] = s.resyncs_in_gap
        out["reconnects_in_gap"] = s.reconnects_in_gap
        out["error"] = s.error
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


def _engine(
    venue: Any,
    symbols: Any,
    channels: Any,
    seconds: Any,
    max_messages: Any,
    url: Any,
    urls: Any,
    options: dict[str, Any],
    secrets: Credentials,
) -> Engine:
    checked = plan(venue, symbols, channels, seconds, max_messages, url, urls, options, secrets)
    return Engine.from_plan(checked)


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
        Stop after this many data messages (those already on their way when it stops
        are kept too, so a capture may hold a few more).
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
        reconnect delay, s), ``open_timeout`` (s), ``max_frame`` (bytes a compressed
        frame may inflate to, default 8 MiB; a larger one is a parse error).

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
    secrets = take_credentials(options)
    engine = _engine(
        venue, symbols, channels, seconds, max_messages, url, urls, dict(options), secrets
    )
    try:
        runner.run(engine.run(), on_interrupt=lambda: engine.stop("interrupted"))
    except MdkitError as exc:
        if engine.stats.connections:
            exc.capture = Capture(engine)
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
    secrets = take_credentials(options)
    engine = await asyncio.to_thread(
        _engine, venue, symbols, channels, seconds, max_messages, url, urls, dict(options), secrets
    )
    try:
        await engine.run()
    except MdkitError as exc:
        if engine.stats.connections:
            exc.capture = Capture(engine)
        raise
    return Capture(engine)


def replay(
    source: str | os.PathLike[str],
    *,
    venue: str | None = None,
    start: Any = None,
    end: Any = None,
    streams: Sequence[tuple[Any, ...]] | None = None,
) -> Capture:
    """Run recorded raw frames back through the venue sessions into a Capture.

    No socket, no clock: every frame goes through the same ingestion core as a live
    capture (:mod:`mdkit.engine.core`), with its recorded receive time, so the result
    equals the live capture: same rows, gaps, server errors and fatal error.

    Parameters
    ----------
    source : str or path
        A dataset written with raw frames (``cap.to_parquet(dir, raw=True)``,
        ``mdkit.record(dir, ..., raw=True)``), or one raw Parquet file (a part of
        such a dataset, or ``cap.raw.to_parquet(file)``).
    venue : str, optional
        Replay only this venue's frames.
    start, end : time-like, optional
        Receive-time range ``[start, end)``.
    streams : list of (venue, symbols, channels[, options]), optional
        The subscriptions, when the source does not carry them (a plain
        ``cap.raw`` file); as :func:`capture` takes them.

    Returns
    -------
    Capture
        As :func:`capture` returns: one DataFrame per data kind, ``.raw``, ``.gaps``,
        ``.stats`` (``stats["outcome"]`` is ``"replayed"``; ``stats["error"]`` names
        a fatal server error the recording ends with).

    Raises
    ------
    InvalidArgument
        If the source holds no raw frames, or the subscriptions are unknown.
    """
    from mdkit.store.replay import replay_frames

    return Capture(replay_frames(source, venue=venue, start=start, end=end, streams=streams))
