"""mdkit.capture("richamster", ...) against the sandbox over real sockets."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.errors import AuthError, InvalidArgument, VenueError
from mdkit.sandbox import Sandbox
from tests.conftest import trading, wait_for

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
PAIRS = ["KRB/UAH", "BTC/UAH", "ETH/UAH"]
CHANNELS = ["ticker", "book", "trades", "user_orders"]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # The pairs' 24 h tickers are generated here, before the capture, so the host
    # loop is not busy with it during the 0.5 s order window below.
    with Sandbox(seed=3, richamster_options={"rate": 4}) as box:
        for pair in PAIRS:
            box.richamster.view.ticker(pair)
        yield box


def serving(sb: Sandbox) -> bool:
    """An open connection has subscribed (not the last capture's, on its way out)."""
    return any(c.state.get("richamster") and c.open for c in sb.richamster.connections)


def orders_subscribed(sb: Sandbox, pair: str) -> bool:
    return any(
        ("user_orders", pair) in c.state.get("richamster", {}) and c.open
        for c in sb.richamster.connections
    )


@pytest.fixture(scope="module")
def cap(sb: Sandbox) -> Iterator[tuple[mdkit.Capture, dict[str, Any]]]:
    placed: dict[str, Any] = {}

    def trader() -> None:
        # Orders placed while the capture runs (once user_orders is subscribed): one
        # resting buy on KRB/UAH, then cancelled; one on BTC/UAH.
        wait_for(lambda: orders_subscribed(sb, "KRB/UAH") and orders_subscribed(sb, "BTC/UAH"))
        view = sb.richamster.view
        krb = view.mid("KRB/UAH", time.time())[0]
        placed["krb"] = sb.richamster.place_order("KRB/UAH", "buy", "10", f"{krb * 0.5:.4f}")
        btc = view.mid("BTC/UAH", time.time())[0]
        placed["btc"] = sb.richamster.place_order("BTC/UAH", "sell", "0.01", f"{btc * 2:.2f}")
        time.sleep(0.5)
        sb.richamster.cancel_order("KRB/UAH", placed["krb"].id)

    thread = threading.Thread(target=trader, daemon=True)
    thread.start()
    start = time.time()
    with trading(sb, "richamster", PAIRS):  # every pair trades during the capture
        capture = mdkit.capture("richamster", PAIRS, CHANNELS, seconds=3.0 * FACTOR)
    placed["window"] = (start, time.time())
    thread.join(5)
    yield capture, placed


def test_every_channel_of_every_pair_on_two_connections(
    cap: tuple[mdkit.Capture, dict[str, Any]],
) -> None:
    capture, _ = cap
    stats = capture.stats
    per = stats["per_channel"]
    for pair in PAIRS:
        for kind in ("ticker", "book", "trades"):
            assert per[f"{kind} {pair}"] > 0, per
    assert per["orders KRB/UAH"] >= 2 and per["orders BTC/UAH"] >= 1
    # 3 pairs x 4 channels = 12 subscriptions: one public connection, one for user_orders.
    assert stats["connections"] == 2 and stats["acks"] == 12
    assert stats["unrouted"] == 0 and stats["parse_errors"] == 0 and not stats["server_errors"]
    assert stats["outcome"] == "completed"


def test_trades_routed_to_their_pair_exactly(
    sb: Sandbox, cap: tuple[mdkit.Capture, dict[str, Any]]
) -> None:
    capture, placed = cap
    df = capture.trades
    assert str(df.index.tz) == "UTC" and list(df["side"].cat.categories) == ["buy", "sell"]
    assert df["price"].dtype == np.float64 and df["amount"].dtype == np.float64
    start, end = placed["window"]
    for pair in PAIRS:
        got = df[df["symbol"] == pair]
        tr = sb.richamster.view.trades(pair, int(start * 1000) - 2000, int(end * 1000) + 1000)
        expected = {
            (int(t) // 1000, float(p), float(a), "buy" if b else "sell")
            for t, p, a, b in zip(tr.time_ms, tr.price, tr.amount, tr.is_buy, strict=True)
        }
        rows = {
            (ts.value // 10**9, float(p), float(a), str(s))
            for ts, p, a, s in zip(got.index, got["price"], got["amount"], got["side"], strict=True)
        }
        assert rows and rows <= expected, pair


def test_ticker_and_book_by_pair(sb: Sandbox, cap: tuple[mdkit.Capture, dict[str, Any]]) -> None:
    capture, placed = cap
    t = capture.ticker
    assert {"symbol", "last", "high", "low", "volume", "change", "open"} <= set(t.columns)
    assert ((t["low"] <= t["last"]) & (t["last"] <= t["high"])).all()
    mid = {p: sb.richamster.view.mid(p, placed["window"][1])[0] for p in PAIRS}
    for pair in PAIRS:
        last = t.loc[t["symbol"] == pair, "last"]
        assert (abs(last / mid[pair] - 1) < 0.05).all(), pair
    top = capture.book(levels=1)
    assert top.attrs["crossed"] == 0
    # The subscribe burst is one snapshot: every row of the rebuilt book is two-sided.
    both = top.dropna(subset=["bids[0].price", "asks[0].price"])
    assert len(top) and len(both) == len(top), top[top.isna().any(axis=1)]
    assert (both["bids[0].price"] < both["asks[0].price"]).all()
    for pair in PAIRS:
        rows = both[both["symbol"] == pair]
        assert (abs(rows["asks[0].price"] / mid[pair] - 1) < 0.05).all(), pair
    depth = capture.depth
    assert set(depth["side"]) == {"bid", "ask"}
    snap = depth[depth["is_snapshot"]]
    assert set(snap["symbol"]) == set(PAIRS) and set(snap["side"]) == {"bid", "ask"}
    assert (~depth["is_snapshot"]).any()  # then updates
    # No venue time in book frames: timestamp NaT, receive time in local_timestamp only.
    assert depth.index.isna().all() and top.index.isna().all()
    assert depth["local_timestamp"].notna().all()


def test_orders_by_column(cap: tuple[mdkit.Capture, dict[str, Any]]) -> None:
    capture, placed = cap
    o = capture.orders
    krb = o[o["order_id"] == str(placed["krb"].id)]
    assert list(krb["status"]) == ["open", "closed"]
    assert (krb["symbol"] == "KRB/UAH").all() and (krb["side"] == "buy").all()
    assert (krb["amount"] == 10.0).all()
    assert (krb["price"] == float(placed["krb"].price)).all()
    btc = o[o["order_id"] == str(placed["btc"].id)]
    assert list(btc["side"]) == ["sell"] and btc["price"].iloc[0] == float(placed["btc"].price)
    assert isinstance(o.index, pd.DatetimeIndex) and str(o.index.tz) == "UTC"


def test_refused_token_is_an_auth_error_at_once(sb: Sandbox) -> None:
    secret = "not-a-token-of-the-sandbox"
    start = time.monotonic()
    with pytest.raises(AuthError) as info:
        mdkit.capture("richamster", ["KRB/UAH"], ["user_orders"], seconds=20, token=secret)
    assert time.monotonic() - start < 5 * FACTOR  # not the whole time box, no reconnect loop
    assert "user_orders KRB/UAH" in str(info.value) and secret not in str(info.value)
    assert secret not in repr(info.value.__cause__) and secret not in repr(info.value.__context__)


def test_missing_token_refused_before_connecting(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MDKIT_RICHAMSTER_TOKEN")
    before = sb.richamster.accepted
    with pytest.raises(AuthError, match="MDKIT_RICHAMSTER_TOKEN"):
        mdkit.capture("richamster", ["KRB/UAH"], ["orders"], seconds=2)
    assert sb.richamster.accepted == before


def test_unlisted_pair_names_the_subscription(sb: Sandbox) -> None:
    start = time.monotonic()
    with pytest.raises(VenueError, match="ticker DOGE/UAH.*Currency pair is invalid"):
        mdkit.capture("richamster", ["KRB/UAH", "DOGE/UAH"], ["ticker"], seconds=20)
    assert time.monotonic() - start < 5 * FACTOR


def test_bad_arguments_before_connecting(sb: Sandbox) -> None:
    before = sb.richamster.accepted
    with pytest.raises(InvalidArgument, match="KRB/UAH"):
        mdkit.capture("richamster", ["KRBUAH"], ["ticker"], seconds=1)
    with pytest.raises(InvalidArgument, match="ticker, book, trades, orders"):
        mdkit.capture("richamster", ["KRB/UAH"], ["klines:1m"], seconds=1)
    assert sb.richamster.accepted == before


@pytest.mark.parametrize("kind", ["drop", "kick"])
def test_disconnect_faults_reconnect_and_keep_data(sb: Sandbox, kind: str) -> None:
    def fault() -> None:
        wait_for(lambda: serving(sb))
        time.sleep(0.3)
        sb.richamster.inject(kind)

    thread = threading.Thread(target=fault, daemon=True)
    thread.start()
    capture = mdkit.capture("richamster", ["KRB/UAH", "BTC/UAH"], ["book", "trades"], seconds=3)
    thread.join(5)
    stats = capture.stats
    assert stats["reconnects"] >= 1 and stats["gaps"] >= 1
    gaps = capture.gaps
    assert gaps["end"].notna().all()
    # Data on both sides of the gap: nothing received before it was lost.
    local = capture.depth["local_timestamp"]
    assert (local < gaps["start"].min()).any() and (local > gaps["end"].max()).any()


def test_malformed_frame_is_counted_and_the_capture_goes_on(sb: Sandbox) -> None:
    def fault() -> None:
        wait_for(lambda: serving(sb))
        sb.richamster.inject("malformed")

    thread = threading.Thread(target=fault, daemon=True)
    thread.start()
    capture = mdkit.capture("richamster", ["KRB/UAH"], ["book"], seconds=2)
    thread.join(5)
    assert capture.stats["parse_errors"] == 1 and capture.stats["reconnects"] == 0
    raw = capture.raw
    assert raw["error"].sum() == 1
    assert raw.loc[raw["error"], "payload"].iloc[0].startswith(b'{"pair":"KRB/UAH"')
    assert capture.stats["per_channel"]["book KRB/UAH"] > 0


def test_book_without_a_burst_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    # The doc promises only updates: a server that sends no burst after the subscribe
    # leaves the rebuilt book with changed levels only, and the capture says so.
    with (
        Sandbox(seed=5, richamster_options={"book_burst": False}),
        caplog.at_level("WARNING", logger="mdkit.venues.richamster"),
    ):
        capture = mdkit.capture("richamster", ["BTC/UAH"], ["book", "ticker"], seconds=2.0)
    assert capture.stats["per_channel"]["ticker BTC/UAH"] > 0
    warned = [r.getMessage() for r in caplog.records if "no levels" in r.getMessage()]
    assert len(warned) == 1 and "order_book BTC/UAH" in warned[0], caplog.text
    assert not capture.depth["is_snapshot"].any()


def test_rows_without_venue_time_are_stored_by_receive_day(
    cap: tuple[mdkit.Capture, dict[str, Any]], tmp_path: Any
) -> None:
    capture, _ = cap
    capture.to_parquet(tmp_path)
    days = {p.name for p in tmp_path.glob("kind=depth/venue=richamster/*/date=*")}
    received = {f"date={d}" for d in capture.depth["local_timestamp"].dt.strftime("%Y-%m-%d")}
    assert days and days == received
    back = mdkit.read_parquet(tmp_path, "depth", venue="richamster")
    assert len(back) == len(capture.depth) and back.index.isna().all()
