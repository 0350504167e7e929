"""Feed recorded frames (``tests/samples/<venue>/``) through a venue session; summarise rows.

Used by ``test_samples.py``: the expected summaries live beside the samples, in
``tests/samples/<venue>/expected_sessions.json`` (each case: the frames, the session's
subscriptions, and the rows, counters and events the frames must give).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from mdkit.data.tables import Tables, stream_frame
from mdkit.errors import ProtocolError
from mdkit.venues import get_venue
from mdkit.venues.base import Counters, Credentials, ServerError, SessionSetup, Subscription

SAMPLES = Path(__file__).parent.parent / "samples"
#: Where each venue's samples are (directory under tests/samples).
FOLDERS = {
    "bitget": "bitget_v2",
    "bittap": "bittap_spot",
    "cryptocom": "cryptocom_v1",
    "itick": "itick_crypto",
    "richamster": "richamster",
}
#: Columns summarised per kind (first and last row).
COLUMNS = {
    "trades": ("timestamp", "symbol", "id", "side", "price", "amount"),
    "ticker": ("timestamp", "symbol", "last", "bid", "ask", "high", "low", "volume", "change",
               "open", "quote_volume", "bid_amount", "ask_amount"),
    "klines": ("timestamp", "symbol", "interval", "open", "high", "low", "close", "volume",
               "quote_volume"),
    "depth": ("timestamp", "symbol", "is_snapshot", "side", "price", "amount"),
    "quotes": ("timestamp", "symbol", "bid_price", "bid_amount", "ask_price", "ask_amount"),
    "balances": ("timestamp", "coin", "free", "locked", "total"),
}  # fmt: skip
CREDENTIALS = Credentials({"api_key": "k", "secret_key": "s", "passphrase": "p", "token": "t"})
NOW = 1_800_000_000_000_000_000


def frames_of(venue: str) -> dict[str, str]:
    """Every sample frame of a venue: ``"<file>#<id>"`` → raw text (ws_* and recorded files)."""
    out: dict[str, str] = {}
    for path in sorted((SAMPLES / FOLDERS[venue]).glob("*.json")):
        doc = json.loads(path.read_text())
        if not (isinstance(doc, dict) and isinstance(doc.get("samples"), list)):
            continue
        if path.name.startswith("rest_"):
            continue  # REST answers: not session frames
        for sample in doc["samples"]:
            out[f"{path.name}#{sample['id']}"] = sample["raw"]
    return out


def expected(venue: str) -> dict[str, Any]:
    """The venue's ``expected_sessions.json``."""
    doc: dict[str, Any] = json.loads(
        (SAMPLES / FOLDERS[venue] / "expected_sessions.json").read_text()
    )
    return doc


def _subscriptions(venue: str, case: dict[str, Any]) -> tuple[Subscription, ...]:
    descriptor = get_venue(venue)
    endpoint = case.get("endpoint", "public")
    if case.get("raw_subs"):  # family servers' market names, which plan() would compact
        names = {"book": "depth_step0", "ticker": "ticker", "trades": "trade_ticker"}
        return tuple(
            Subscription(kind, s, f"market_{s}_{names[kind]}")
            for s in case["symbols"]
            for kind in case["channels"]
        )
    subs = descriptor.plan(case["symbols"], case["channels"], case.get("options", {}))
    return tuple(s for s in subs if s.endpoint == endpoint)


def _value(value: Any) -> Any:
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else int(value.value // 1_000_000)
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if hasattr(value, "item"):
        value = value.item()
    return value


def _row(df: pd.DataFrame, i: int, columns: tuple[str, ...]) -> dict[str, Any]:
    row = df.iloc[i]
    out = {"timestamp": _value(df.index[i])}
    for name in columns[1:]:
        if name in df.columns:
            out[name] = _value(row[name])
    return out


def run_case(venue: str, case: dict[str, Any], frames: dict[str, str]) -> dict[str, Any]:
    """Feed a case's frames through a fresh session; the summary ``expected`` compares."""
    descriptor = get_venue(venue)
    tables, counters = Tables(), Counters()
    subs = _subscriptions(venue, case)
    setup = SessionSetup(
        descriptor, case.get("endpoint", "public"), subs, tables, counters, CREDENTIALS
    )
    session = descriptor.session(setup)
    session.open(NOW)
    session.subscribe(subs)
    events: list[str] = []
    errors: list[str] = []
    for i, name in enumerate(case["frames"]):
        raw = frames[name] if "#" in name else case["inline"][name]["raw"]
        try:
            got = session.receive(raw.encode(), NOW + i)
        except ProtocolError:
            errors.append(name)
            continue
        for event in got:
            if isinstance(event, ServerError):
                events.append(f"ServerError {event.code} {'fatal' if event.fatal else 'non-fatal'}")
            else:
                events.append(type(event).__name__)
    rows: dict[str, Any] = {}
    for kind in tables.kinds():
        df = stream_frame(kind, tables[kind].columns(), attrs={}, end_ns=NOW)
        if not len(df):
            continue
        summary: dict[str, Any] = {"count": len(df)}
        summary["first"] = _row(df, 0, COLUMNS[kind])
        if len(df) > 1:
            summary["last"] = _row(df, len(df) - 1, COLUMNS[kind])
        if kind == "depth":
            summary["snapshot_rows"] = int(df["is_snapshot"].sum())
        rows[kind] = summary
    names = ("data_messages", "acks", "pings", "pongs", "unrouted", "other")
    return {
        "rows": rows,
        "counters": {n: getattr(counters, n) for n in names if getattr(counters, n)},
        "events": events,
        "protocol_errors": errors,
        "drift": sorted(" ".join(k[1:]) for k in counters.drift),
    }
