"""Capture frames against the sandbox: the data contract, parquet, reprs, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.sandbox import Sandbox
from tests.conftest import trading


@pytest.fixture(scope="module")
def cap() -> Iterator[mdkit.Capture]:
    symbols = ["btcusdt", "ethusdt"]
    channels = ["trades", "ticker", "klines:1min", "klines:5min", "book"]
    with Sandbox(ws_options={"rate": 4}) as sb:
        with trading(sb, "cryptocom", symbols):  # both symbols trade during the capture
            cap = mdkit.capture("cryptocom", symbols, channels, seconds=2.5)
        yield cap


def utc(index: pd.Index) -> bool:
    return isinstance(index, pd.DatetimeIndex) and str(index.tz) == "UTC"


def test_every_channel_has_rows(cap: mdkit.Capture) -> None:
    per = cap.stats["per_channel"]
    assert all(
        per[f"{c} {s}"] > 0
        for c in ("trades", "ticker", "klines:1min", "klines:5min", "book")
        for s in ("btcusdt", "ethusdt")
    ), per
    assert cap.stats["outcome"] == "completed" and not cap.stats["interrupted"]


def test_trades_contract(cap: mdkit.Capture) -> None:
    df = cap.trades
    assert list(df.columns) == [
        "venue",
        "symbol",
        "pair",
        "id",
        "side",
        "price",
        "amount",
        "local_timestamp",
    ]
    assert utc(df.index) and df.index.name == "timestamp" and df.index.is_monotonic_increasing
    assert df["id"].dtype == "Int64" and df["price"].dtype == np.float64
    assert list(df["side"].cat.categories) == ["buy", "sell"]
    assert set(df["symbol"]) == {"btcusdt", "ethusdt"}
    assert str(df["local_timestamp"].dt.tz) == "UTC"
    assert (df["local_timestamp"] >= df.index).mean() > 0.9  # received after it happened
    assert df.attrs["venue"] == "cryptocom" and df.attrs["source"] == "ws"
    assert df.attrs["symbols"] == ["btcusdt", "ethusdt"]
    assert not df.duplicated(["symbol", "id"]).any()


def test_ticker_and_klines(cap: mdkit.Capture) -> None:
    t = cap.ticker
    assert {
        "symbol",
        "pair",
        "last",
        "high",
        "low",
        "volume",
        "change",
        "open",
        "quote_volume",
        "local_timestamp",
    } <= set(t.columns)
    assert utc(t.index) and (t["last"] > 0).all()
    assert "bid" not in t and "ask" not in t  # v1 tickers send none: left out, not NaN
    k = cap.klines
    assert list(k.columns) == [
        "venue",
        "symbol",
        "pair",
        "interval",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "quote_volume",
        "closed",
        "local_timestamp",
    ]
    assert utc(k.index) and k["closed"].dtype == bool
    assert set(k["interval"]) == {"1min", "5min"}
    forming = k[~k["closed"]]
    assert len(forming) == 4  # one still-forming bar per symbol and interval
    assert not k.reset_index().duplicated(["timestamp", "symbol", "interval"]).any()
    assert (k["high"] >= k["low"]).all()


def test_depth_and_book(cap: mdkit.Capture) -> None:
    d = cap.depth
    assert list(d.columns) == [
        "venue",
        "symbol",
        "pair",
        "is_snapshot",
        "side",
        "price",
        "amount",
        "local_timestamp",
    ]
    assert list(d["side"].cat.categories) == ["bid", "ask"] and d["is_snapshot"].all()
    b = cap.book(levels=3)
    assert list(b.columns[:8]) == [
        "venue",
        "symbol",
        "pair",
        "local_timestamp",
        "asks[0].price",
        "asks[0].amount",
        "bids[0].price",
        "bids[0].amount",
    ]
    assert len(b.columns) == 4 + 4 * 3
    assert (b["asks[0].price"] > b["bids[0].price"]).all()
    assert (b["asks[1].price"] > b["asks[0].price"]).all()
    assert (b["bids[1].price"] < b["bids[0].price"]).all()
    assert len(b) == d.groupby(["symbol", "local_timestamp"], observed=True).ngroups
    for bad in (0, -1, 10**5, 1.5, True, "3"):
        with pytest.raises(mdkit.InvalidArgument, match="1 to 1000"):
            cap.book(levels=bad)


def test_raw_and_stats(cap: mdkit.Capture) -> None:
    raw = cap.raw
    s = cap.stats
    assert len(raw) == s["messages"] and int(raw["size"].sum()) == s["bytes"]
    assert utc(raw.index) and raw.index.is_monotonic_increasing and raw.index.is_unique
    assert not raw["error"].any() and s["parse_errors"] == 0
    assert s["data_messages"] == sum(s["per_channel"].values())
    assert s["acks"] == 10 and s["duration"] >= 2.5 and s["rate"] > 0
    assert s["rows"]["trades"] == len(cap.trades)
    # decoded text beside the bytes: gzip inflated, UTF-8, JSON for this venue
    assert raw["decoded"].str.startswith("{").all()
    assert str(raw["decoded"].dtype) == str(raw["venue"].dtype)


def test_reprs(cap: mdkit.Capture) -> None:
    text = repr(cap)
    assert text.startswith("<Capture cryptocom capture") and "trades btcusdt" in text
    assert "reconnects 0" in text
    # The rows line counts the frames' real rows (a kline message updates a bar).
    rows_line = next(line for line in text.splitlines() if "frame rows:" in line)
    for kind in cap.frames():
        assert f"cap.{kind} {len(cap.frame(kind)):,}" in rows_line, (kind, rows_line)
    html = cap._repr_html_()
    assert "<table>" in html and "book ethusdt" in html


def test_to_parquet_round_trip(cap: mdkit.Capture, tmp_path) -> None:
    written = cap.to_parquet(tmp_path / "data", raw=True)
    kinds = sorted({p.split("kind=", 1)[1].split("/", 1)[0] for p in written})
    assert kinds == ["book", "depth", "klines", "raw", "ticker", "trades"]
    assert mdkit.read_parquet(tmp_path / "data", "trades").equals(cap.trades)
    raw = mdkit.read_parquet(tmp_path / "data", "raw")
    assert raw["payload"].iloc[0] == cap.raw["payload"].iloc[0]


def test_raw_limit_keeps_rows_and_counts_drops() -> None:
    with Sandbox(ws_options={"rate": 4}):
        cap = mdkit.capture("cryptocom", "btcusdt", ["book"], seconds=1.2, raw_limit=2000)
    assert cap.stats["raw_dropped"] > 0
    assert len(cap.raw) == cap.stats["messages"]
    assert (cap.raw["size"] == 0).sum() == cap.stats["raw_dropped"]
    assert len(cap.depth) > 0


def test_import_mdkit_stays_light() -> None:
    code = (
        "import sys, mdkit; assert hasattr(mdkit, 'capture'); "
        "print(sorted(m for m in ('websockets', 'matplotlib', 'requests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert {"capture", "acapture", "Capture"} <= set(mdkit.__all__)
