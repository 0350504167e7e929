"""The sandbox controls (push_trade, set_rate, seed, test clock), checked over real sockets."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mdkit
from mdkit.errors import InvalidArgument
from mdkit.sandbox import Sandbox
from mdkit.sandbox.market import Market
from tests.conftest import Clock

#: One symbol per venue, in the venue's own spelling (thin pairs included).
CASES = [
    ("cryptocom", "xrpbtc"),
    ("bitget", "BTCUSDT"),
    ("itick", "ETHUSDT"),
    ("bittap", "LTC-USDT"),
    ("richamster", "KRB/UAH"),
]
T = 1_765_000_000.0
FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(seed=11) as box:
        yield box


def _capture_pushed(
    sb: Sandbox, venue: str, symbol: str, **push: Any
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Silence the symbol, push a trade every 0.1 s while a capture runs."""
    sb.set_rate(venue, symbol, 0)
    pushed: list[dict[str, Any]] = []
    stop = threading.Event()

    def pusher() -> None:  # one trade every 0.1 s until the capture ends
        while not stop.is_set():
            pushed.append(sb.push_trade(venue, symbol, **push))
            stop.wait(0.1)

    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    try:
        cap = mdkit.capture(venue, [symbol], "trades", seconds=2.5 * FACTOR)
    finally:
        stop.set()
        thread.join(5)
        sb.set_rate(venue, symbol, None)
    return cap.trades, pushed


def _same_stamp(pushed_ms: int, ms: int) -> bool:
    # Richamster stamps whole seconds; the others milliseconds.
    return pushed_ms // 1000 == ms // 1000 if ms % 1000 == 0 else pushed_ms == ms


@pytest.mark.parametrize(("venue", "symbol"), CASES)
@pytest.mark.parametrize("side", ["buy", "sell"])
def test_pushed_trades_reach_the_capture(sb: Sandbox, venue: str, symbol: str, side: str) -> None:
    trades, pushed = _capture_pushed(sb, venue, symbol, side=side)
    view = sb.market.venue(venue)
    silent_from = (pushed[0]["time_ms"] // 1000 + 1) * 1000  # the set_rate(0) second
    stamps = trades.index.astype("int64") // 1_000_000
    ours = trades[stamps >= silent_from]
    assert len(ours) >= 1, f"{venue}: no pushed trade arrived"
    pool = list(pushed)
    matched = []
    for (_, row), ms in zip(ours.iterrows(), stamps[stamps >= silent_from], strict=True):
        # Every trade after the silence is one we pushed: the same id where the venue
        # sends ids, the same stamp, price and amount.
        p = next(
            p
            for p in pool
            if (pd.isna(row["id"]) or p["id"] == row["id"])
            and _same_stamp(p["time_ms"], int(ms))
            and (p["price"], p["amount"]) == (row["price"], row["amount"])
        )
        pool.remove(p)
        matched.append(p)
        if not pd.isna(row["side"]):
            assert row["side"] == side
        # At or through the touch of the venue's book of that second, on one of its levels.
        book = view.book(symbol, p["time_ms"] / 1000)
        levels = book.asks if side == "buy" else book.bids
        sign = 1 if side == "buy" else -1
        assert sign * p["price"] >= sign * levels[0, 0] and p["price"] in levels[:, 0]
    # None lost between the first one seen and the last one seen: by id and millisecond,
    # or, where the venue stamps whole seconds, by count in each second strictly inside.
    if all(int(ms) % 1000 for ms in stamps[stamps >= silent_from]):
        first, last = matched[0]["time_ms"], matched[-1]["time_ms"]
        inside = [p["id"] for p in pushed if first <= p["time_ms"] <= last]
        assert [p["id"] for p in matched] == inside
    else:
        seconds = [p["time_ms"] // 1000 for p in matched]
        for sec in range(seconds[0] + 1, seconds[-1]):
            assert seconds.count(sec) == sum(1 for p in pushed if p["time_ms"] // 1000 == sec)


def test_a_large_push_walks_the_book(sb: Sandbox) -> None:
    view = sb.market.venue("bitget")
    inst = view.instrument("BTCUSDT")
    before = view.book("BTCUSDT", view.now() + 0.01)
    amount = float(before.ask_lots[:3].sum() * inst.lot)
    p = sb.push_trade("bitget", "BTCUSDT", side="buy", amount=amount)
    book = view.book("BTCUSDT", p["time_ms"] / 1000)
    filled = np.cumsum(book.ask_lots) * inst.lot
    level = int(np.searchsorted(filled, amount - inst.lot / 2))
    assert p["price"] == book.asks[level, 0] > book.asks[0, 0]
    assert p["amount"] == round(amount, inst.amount_precision)


def test_pushed_trade_joins_bars_and_ticker() -> None:
    clock = Clock(T)
    m = Market(7, clock=clock).venue("richamster")
    p = m.push_trade("BTC/UAH", side="sell", amount=0.5)
    assert p["time_ms"] == int(T * 1000) + 1
    assert len(m.trades("BTC/UAH", int(T * 1000), int(T * 1000) + 10)) == 0  # not yet
    clock.t = T + 0.5
    got = m.trades("BTC/UAH", int(T * 1000), int(T * 1000) + 2)
    assert got.id.tolist()[-1] == p["id"] and got.price[-1] == p["price"]
    minute = int(T) // 60 * 60
    tape = m.trades("BTC/UAH", minute * 1000, (minute + 60) * 1000)
    assert p["id"] in tape.id.tolist()
    bar = m.klines("BTC/UAH", 60, minute, minute + 60)[-1]
    assert bar[5] == pytest.approx(tape.amount.sum()) and bar[7] == len(tape)
    assert bar[4] == tape.price[-1]  # the forming bar closes at the last trade
    tick = m.ticker("BTC/UAH")
    assert tick["last"] == tape.price[-1]


def test_set_rate_sets_the_intensity_from_the_next_second() -> None:
    clock = Clock(T)
    m = Market(7, clock=clock).venue("richamster")
    past = m.trades("KRB/UAH", int(T - 60) * 1000, int(T) * 1000 + 1000)
    m.set_rate("KRB/UAH", 50)
    clock.t = T + 61
    assert m.trades("KRB/UAH", int(T - 60) * 1000, int(T) * 1000 + 1000).id.tolist() == (
        past.id.tolist()
    )  # the past never changes
    busy = m.trades("KRB/UAH", int(T + 1) * 1000, int(T + 61) * 1000)
    assert 2400 < len(busy) < 3600  # 50 a second, Poisson
    m.set_rate("KRB/UAH", 0)
    clock.t = T + 121
    assert len(m.trades("KRB/UAH", int(T + 62) * 1000, int(T + 121) * 1000)) == 0
    m.set_rate("KRB/UAH", None)
    clock.t = T + 3000
    fresh = Market(7, clock=clock).venue("richamster")
    span = (int(T + 200) * 1000, int(T + 2000) * 1000)
    assert m.trades("KRB/UAH", *span).id.tolist() == fresh.trades("KRB/UAH", *span).id.tolist()


def test_same_seed_same_history() -> None:
    clock = Clock(T)
    for venue in ("cryptocom", "richamster"):
        a, b = Market(5, clock=clock).venue(venue), Market(5, clock=clock).venue(venue)
        c = Market(6, clock=clock).venue(venue)
        sym = next(iter(a.instruments))
        span = (int(T - 3600) * 1000, int(T) * 1000)
        ta, tb, tc = (m.trades(sym, *span) for m in (a, b, c))
        assert ta.id.tolist() == tb.id.tolist() and np.array_equal(ta.price, tb.price)
        assert not np.array_equal(ta.price[:50], tc.price[:50])
        assert np.array_equal(
            a.klines(sym, 86400, int(T) - 10 * 86400, int(T)),
            b.klines(sym, 86400, int(T) - 10 * 86400, int(T)),
        )
        assert np.array_equal(a.book(sym).asks, b.book(sym).asks)


def test_same_seed_same_history_over_http() -> None:
    answers = []
    for _ in range(2):
        with Sandbox(seed=5, clock=Clock(T)):
            answers.append(mdkit.klines("btcusdt", "1h"))
    pd.testing.assert_frame_equal(answers[0], answers[1])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda sb: sb.push_trade("binance", "BTCUSDT"), "valid: cryptocom, bitget"),
        (lambda sb: sb.push_trade("bitget", "BTC/USDT"), "valid: BTCUSDT"),
        (lambda sb: sb.push_trade("bitget", "BTCUSDT", side="long"), "'buy', 'sell'"),
        (lambda sb: sb.push_trade("bitget", "BTCUSDT", amount=-1), "positive number"),
        (lambda sb: sb.push_trade("bitget", "BTCUSDT", amount=True), "positive number"),
        (lambda sb: sb.set_rate("richamster", "BTCUSDT", 5), "valid: KRB/UAH"),
        (lambda sb: sb.set_rate("bittap", "BTC-USDT", -1), "from 0 to 10000"),
        (lambda sb: sb.set_rate("bittap", "BTC-USDT", "fast"), "from 0 to 10000"),
    ],
)
def test_controls_refuse_bad_input(sb: Sandbox, call: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        call(sb)


def test_half_built_sandbox_repr_is_safe() -> None:
    box = Sandbox.__new__(Sandbox)
    assert "not built" in repr(box)
    with pytest.raises(InvalidArgument):
        Sandbox(seed=1, depth="deep", port=0)  # the market refuses: raised midway
    box.__dict__["market"] = Market(1)
    assert "not built" in repr(box)
    assert getattr(box, "cryptocom", None) is None


def test_ids_grow_with_time_pushed_trades_included() -> None:
    # A venue's trade ids grow with time: a push takes its place in its second's order.
    clock = Clock(1_796_600_000.25)
    market = Market(7, clock=clock).venue("bitget")
    pushed = []
    for k in range(40):
        clock.t += 0.037
        pushed.append(market.push_trade("BTCUSDT", side="sell" if k % 2 else "buy"))
    clock.t += 1.0
    tape = market.trades("BTCUSDT", pushed[0]["time_ms"] - 2000, int(clock.t * 1000) + 1)
    assert (np.diff(tape.id) > 0).all()
    assert (np.diff(tape.time_ms) >= 0).all()
    times = dict(zip(tape.id.tolist(), tape.time_ms.tolist(), strict=True))
    assert [times[p["id"]] for p in pushed] == [p["time_ms"] for p in pushed]
