"""Kline history: older bars paged over the WebSocket ``req``, joined to the REST page."""

from __future__ import annotations

import pandas as pd

import mdkit
from mdkit.sandbox import Sandbox


def test_klines_older_than_the_rest_page_are_paged() -> None:
    with Sandbox() as sb:
        df = mdkit.klines("btcusdt", "1min", start="1 day ago")
        reqs = [m for m in sb.cryptocom.received if m.get("event") == "req"]
    assert len(reqs) >= 4 and all(int(r["params"]["pageSize"]) <= 300 for r in reqs)
    assert all(r["params"]["channel"] == "market_btcusdt_kline_1min" for r in reqs)
    assert len(df) >= 1439 and df.index.is_unique and df.index.is_monotonic_increasing
    assert (df.index.to_series().diff().dropna() == pd.Timedelta("1min")).all()
    assert df["closed"].sum() == len(df) - 1 and not df["closed"].iloc[-1]
    assert df.attrs["source"].startswith("ws:req") and df.attrs["interval"] == "1min"
    assert df.index[0] >= pd.Timestamp.now(tz="UTC") - pd.Timedelta("1 day") - pd.Timedelta("1min")


def test_klines_range_entirely_in_the_past() -> None:
    with Sandbox():
        df = mdkit.klines("btcusdt", "1day", start="2024-01-01", end="2024-03-01")
    assert df.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert df.index[-1] == pd.Timestamp("2024-03-01", tz="UTC")
    assert len(df) == 61 and df["closed"].all()
    assert (df["high"] >= df[["open", "close"]].max(axis=1)).all()
