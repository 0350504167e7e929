"""The synthetic market: deterministic, and one consistent story across views."""

from __future__ import annotations

import numpy as np
import pytest

from mdkit.sandbox.market import INSTRUMENTS, Market

T0 = 1_700_000_000  # a fixed past instant: history must be reproducible


def frozen(seed: int = 7, at: float = T0 + 86400) -> Market:
    return Market(seed, clock=lambda: at)


def test_same_seed_same_market_different_seed_different_market() -> None:
    a, b, c = frozen(7), frozen(7), frozen(8)
    ta, tb, tc = (m.trades("btcusdt", T0 * 1000, (T0 + 600) * 1000) for m in (a, b, c))
    assert np.array_equal(ta.price, tb.price) and np.array_equal(ta.id, tb.id)
    assert not np.array_equal(ta.price[:10], tc.price[:10])


def test_history_is_the_same_whatever_range_asks_for_it() -> None:
    m = frozen()
    wide = m.klines("ethusdt", 300, T0, T0 + 6 * 3600)
    narrow = m.klines("ethusdt", 300, T0 + 3600, T0 + 2 * 3600)
    row = wide[wide[:, 0] == narrow[0, 0]][0]
    assert np.allclose(row, narrow[0])


def test_minute_bars_aggregate_the_trade_tape() -> None:
    m = frozen()
    start = T0 - T0 % 60
    bars = m.klines("btcusdt", 60, start, start + 600)
    for bar in bars:
        tr = m.trades("btcusdt", int(bar[0]) * 1000, int(bar[0] + 60) * 1000)
        assert len(tr) == bar[7] > 0
        assert bar[1] == tr.price[0] and bar[4] == tr.price[-1]
        assert bar[2] == tr.price.max() and bar[3] == tr.price.min()
        assert bar[5] == pytest.approx(tr.amount.sum())


def test_hour_bars_merge_minute_bars() -> None:
    m = frozen()
    start = T0 - T0 % 3600
    hour = m.klines("btcusdt", 3600, start, start + 3600)[0]
    minutes = m.klines("btcusdt", 60, start, start + 3600)
    assert hour[1] == minutes[0, 1] and hour[4] == minutes[-1, 4]
    assert hour[2] == minutes[:, 2].max() and hour[3] == minutes[:, 3].min()
    assert hour[5] == pytest.approx(minutes[:, 5].sum())


def test_trades_take_the_book_and_ids_increase() -> None:
    # A buy prints at an ask level of that second's book (the touch, or deeper when
    # a large print walks the book); sells mirror it on the bids.
    m = frozen()
    tr = m.trades("btcusdt", T0 * 1000, (T0 + 120) * 1000)
    assert np.all(np.diff(tr.id) > 0) and np.all(np.diff(tr.time_ms) >= 0)
    walked = 0
    for i in range(len(tr)):
        book = m.book("btcusdt", tr.time_ms[i] / 1000)
        levels = book.ask_ticks if tr.is_buy[i] else book.bid_ticks
        assert tr.price_ticks[i] in levels[:10]
        walked += tr.price_ticks[i] != levels[0]
    assert 0 < walked < len(tr) / 2


@pytest.mark.parametrize("inst", INSTRUMENTS, ids=lambda i: i.symbol)
def test_books_are_ordered_and_uncrossed(inst: object) -> None:
    m = frozen()
    sym = inst.symbol  # type: ignore[attr-defined]
    book = m.book(sym, T0)
    assert np.all(np.diff(book.bids[:, 0]) < 0) and np.all(np.diff(book.asks[:, 0]) > 0)
    assert book.bids[0, 0] < book.asks[0, 0]
    assert np.all(book.bids[:, 1] > 0) and np.all(book.asks[:, 1] > 0)


def test_consecutive_books_differ_by_a_few_levels() -> None:
    # ETH/BTC: BTC/USDT on a one-cent tick moves hundreds of ticks a second (as the
    # real one does), so most of its level sizes change with the touch.
    m = frozen()
    a, b = m.book("ethbtc", T0), m.book("ethbtc", T0 + 1)
    same_prices = np.intersect1d(a.asks[:, 0], b.asks[:, 0])
    changed = sum(
        1 for p in same_prices if a.asks[a.asks[:, 0] == p, 1][0] != b.asks[b.asks[:, 0] == p, 1][0]
    )
    assert 0 < changed < len(same_prices) // 2


def test_nothing_from_the_future() -> None:
    m = frozen(at=T0 + 30.5)
    tr = m.trades("btcusdt", T0 * 1000, (T0 + 3600) * 1000)
    assert tr.time_ms.max() < (T0 + 30.5) * 1000
    bars = m.klines("btcusdt", 60, T0 - 120, T0 + 3600)
    assert bars[-1, 0] <= T0 + 30.5


def test_long_bars_cover_the_history() -> None:
    # Weeks open on Mondays: 30 weeks back from a Tuesday span 31 of them.
    m = frozen()
    weeks = m.klines("btcusdt", 7 * 86400, T0 - 30 * 7 * 86400, T0)
    assert len(weeks) == 31 and np.all(weeks[:, 2] >= weeks[:, 3])
    assert np.all(weeks[:, 2] >= np.maximum(weeks[:, 1], weeks[:, 4]) - 1e-9)
