"""``mdkit doctor``: check the endpoints in effect, venue by venue, before relying on them.

For each venue (every registered one, or those asked for) the doctor connects to the
endpoint in effect (the argument, else ``MDKIT_<VENUE>_WS_URL``..., else the doc's host),
subscribes one liquid symbol's ``trades`` and ``ticker`` for a few seconds, and reports
what came back: rows per kind, drift (fields the session does not know, missing or of
another type: ``cap.stats["drift"]``), errors (refusals, parse errors, reconnects) and
latency (median of receive time minus venue time, over the rows that carry a venue
time, the first message of each kind left out: it may be a backfill). A venue is fine
when rows came, with no drift and no error. Run it first on a machine with internet, or
against a proxy or a recording of a venue; the exit code says whether every venue was fine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mdkit.config import endpoint_url
from mdkit.errors import InvalidArgument, MdkitError
from mdkit.venues import get_venue, venue_keys

__all__ = ["CHANNELS", "Report", "check", "doctor", "format_report"]

#: What the doctor subscribes, where the venue offers it on a public endpoint.
CHANNELS = ("trades", "ticker")


@dataclass
class Report:
    """What one venue's check found.

    Attributes
    ----------
    venue : str
    url : str
        The endpoint in effect ("" if it could not be resolved).
    symbol : str
    rows : dict of str to int
        Rows per kind (``trades``, ``ticker``).
    drift : dict of str to int
        ``"<venue> <channel> <field> <change>"`` → frames (see ``Capture.stats``).
    errors : list of str
        Why the check failed or what went wrong during it.
    latency_ms : float or None
        Median receive delay (receive time minus venue time), milliseconds; None when no
        row carried a venue time.
    """

    venue: str
    url: str = ""
    symbol: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    drift: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        """Rows came, with no drift and no error."""
        return bool(sum(self.rows.values())) and not self.drift and not self.errors


def _latency_ms(frames: Sequence[pd.DataFrame]) -> float | None:
    delays: list[np.ndarray[Any, Any]] = []
    for df in frames:
        if not len(df) or "local_timestamp" not in df:
            continue
        venue = pd.DatetimeIndex(df.index).asi8
        local = pd.DatetimeIndex(df["local_timestamp"]).asi8
        # Left out: rows without venue time (NaT), rows stamped with their receive time
        # (a venue that sends none), and the first message (a backfill or snapshot).
        keep = np.asarray(pd.DatetimeIndex(df.index).notna(), dtype=bool)
        keep &= (venue != local) & (local != local.min())
        delays.append((local[keep] - venue[keep]) / 1e6)
    values = np.concatenate(delays) if delays else np.empty(0)
    return float(np.median(values)) if len(values) else None


def check(
    venue: str, *, seconds: float = 5.0, symbol: str | None = None, url: str | None = None
) -> Report:
    """Check one venue's endpoint in effect: connect, subscribe, report.

    Parameters
    ----------
    venue : str
        Venue key.
    seconds : float
        How long to listen.
    symbol : str, optional
        The symbol to subscribe (default: the venue's first example symbol).
    url : str, optional
        The WebSocket URL (default: ``MDKIT_<VENUE>_WS_URL``, else the doc's).

    Returns
    -------
    Report
        ``report.ok`` is True when rows came with no drift and no error.

    Raises
    ------
    UnknownVenue
        Naming the valid venues (before any connection).
    """
    import mdkit

    descriptor = get_venue(venue)
    report = Report(descriptor.key, symbol=symbol or descriptor.example_symbols[0])
    channels = [c for c in CHANNELS if c in descriptor.channels]
    try:
        report.url = endpoint_url(descriptor.key, descriptor.channels[channels[0]], url)
        cap = mdkit.capture(descriptor.key, [report.symbol], channels, seconds=seconds, url=url)
    except MdkitError as exc:
        report.errors.append(f"{type(exc).__name__}: {exc}")
        return report
    stats = cap.stats
    report.rows = {kind: len(cap.frame(kind)) for kind in ("trades", "ticker")}
    report.drift = dict(stats["drift"])
    report.errors += [f"server error: {text}" for text in stats["server_errors"]]
    if stats["parse_errors"]:
        report.errors.append(f"{stats['parse_errors']} frame(s) could not be read")
    if stats["reconnects"]:
        report.errors.append(f"{stats['reconnects']} reconnect(s): {_reasons(cap.gaps)}")
    if not sum(report.rows.values()):
        report.errors.append(
            f"no rows in {seconds:g} s (connected: {stats['connections'] > 0}, "
            f"frames: {stats['messages']})"
        )
    report.latency_ms = _latency_ms([cap.frame(kind) for kind in ("trades", "ticker")])
    return report


def _reasons(gaps: pd.DataFrame) -> str:
    return "; ".join(dict.fromkeys(str(r) for r in gaps["reason"])) if len(gaps) else "?"


def doctor(
    venues: Sequence[str] | None = None,
    *,
    seconds: float = 5.0,
    on_report: Callable[[Report], None] | None = None,
) -> list[Report]:
    """Check every venue (or ``venues``) one after the other.

    Parameters
    ----------
    venues : sequence of str, optional
        Venue keys (default: every registered venue).
    seconds : float
        Listening time per venue.
    on_report : callable, optional
        Called with each :class:`Report` as soon as it is ready.

    Returns
    -------
    list of Report

    Raises
    ------
    InvalidArgument, UnknownVenue
        Bad ``seconds`` or an unknown venue, before any connection.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidArgument(f"seconds must be a positive number, not {seconds!r}")
    keys = [get_venue(v).key for v in venues] if venues else venue_keys()
    reports = []
    for key in keys:
        report = check(key, seconds=float(seconds))
        reports.append(report)
        if on_report is not None:
            on_report(report)
    return reports


def format_report(report: Report) -> str:
    """One venue's result as a few lines of text (``ok`` or ``FAIL`` first)."""
    head = f"{report.venue:<11} {'ok' if report.ok else 'FAIL':<5} {report.url or '-'}"
    rows = ", ".join(f"{k} {v:,}" for k, v in report.rows.items()) or "none"
    latency = (
        "-"
        if report.latency_ms is None or math.isnan(report.latency_ms)
        else f"{report.latency_ms:,.1f} ms"
    )
    lines = [head, f"    {report.symbol}: rows {rows}; latency (median) {latency}"]
    if report.drift:
        lines.append("    drift: " + ", ".join(f"{k} ({v:,})" for k, v in report.drift.items()))
    lines += [f"    error: {text}" for text in report.errors]
    return "\n".join(lines)
