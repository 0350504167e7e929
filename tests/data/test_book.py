"""Tests for mdkit.data.book: snapshots, increments, best levels, counters."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from mdkit.data.book import OrderBook

BIDS = [(100.0, 1.0), (99.5, 2.0), (99.0, 3.0)]
ASKS = [(101.0, 1.5), (101.5, 2.5), (102.0, 3.5)]


def test_snapshot_then_increments_reproduce_hand_computed_book() -> None:
    book = OrderBook()
    book.apply_snapshot(BIDS[::-1], np.array(ASKS))  # order of the snapshot does not matter
    book.update("bid", 99.5, 4.0)  # change
    book.update("bid", 99.75, 0.5)  # insert inside
    book.update("ask", 101.5, 0.0)  # delete
    book.update("ask", 100.5, 0.25)  # new best ask
    book.update("bid", 98.0, 7.0)  # insert at the tail
    bp, ba, ap, aa = book.top(5)
    np.testing.assert_array_equal(bp, [100.0, 99.75, 99.5, 99.0, 98.0])
    np.testing.assert_array_equal(ba, [1.0, 0.5, 4.0, 3.0, 7.0])
    np.testing.assert_array_equal(ap, [100.5, 101.0, 102.0, np.nan, np.nan])
    np.testing.assert_array_equal(aa, [0.25, 1.5, 3.5, np.nan, np.nan])
    assert book.best_bid() == (100.0, 1.0)
    assert book.best_ask() == (100.5, 0.25)
    assert len(book) == 8
    assert book.updates == 5 and book.crossed_count == 0 and not book.is_crossed()


def test_snapshot_replaces_book() -> None:
    book = OrderBook(BIDS, ASKS)
    book.update("bid", 100.25, 1.0)
    book.apply_snapshot([(50.0, 1.0)], [])
    assert len(book) == 1
    assert book.best_bid() == (50.0, 1.0)
    assert book.best_ask() is None
    assert book.snapshots == 2


def test_delete_of_best_level_moves_best() -> None:
    book = OrderBook(BIDS, ASKS)
    book.update("bid", 100.0, 0.0)
    book.update("ask", 101.0, -1.0)  # negative amount deletes too
    assert book.best_bid() == (99.5, 2.0)
    assert book.best_ask() == (101.5, 2.5)
    book.update("bid", 99.5, 0)
    book.update("bid", 99.0, 0)
    assert book.best_bid() is None
    assert len(book) == 2


def test_delete_of_absent_level_is_counted_no_op() -> None:
    book = OrderBook(BIDS, ASKS)
    book.update("ask", 150.0, 0.0)
    assert len(book) == 6
    assert book.absent_deletes == 1 and book.updates == 1


def test_crossed_book_is_counted_not_raised() -> None:
    book = OrderBook(BIDS, ASKS)
    book.update("bid", 101.0, 1.0)  # bid == best ask: crossed
    assert book.is_crossed()
    book.update("bid", 100.0, 2.0)  # still crossed after this one
    book.update("bid", 101.0, 0.0)  # uncrossed
    assert not book.is_crossed()
    assert book.crossed_count == 2
    assert "CROSSED" not in repr(book)
    book.update("ask", 99.0, 1.0)
    assert "CROSSED" in repr(book) and book.crossed_count == 3


def test_impossible_increments_are_counted_and_ignored() -> None:
    book = OrderBook(BIDS, ASKS)
    for price, amount in [
        (math.nan, 1.0),
        (-5.0, 1.0),
        (0.0, 1.0),
        (math.inf, 1.0),
        (100.0, math.nan),
    ]:
        book.update("bid", price, amount)
    assert book.invalid_updates == 5 and book.updates == 5
    assert book.best_bid() == (100.0, 1.0)
    assert len(book) == 6


def test_unknown_side_raises_naming_choices() -> None:
    book = OrderBook()
    with pytest.raises(ValueError, match="'bid', 'ask'"):
        book.update("buy", 1.0, 1.0)
    assert book.updates == 0


def test_top_pads_with_nan_and_handles_zero_levels() -> None:
    book = OrderBook([(10.0, 1.0)], [])
    bp, ba, ap, aa = book.top(3)
    assert all(a.dtype == np.float64 and a.shape == (3,) for a in (bp, ba, ap, aa))
    np.testing.assert_array_equal(bp, [10.0, np.nan, np.nan])
    assert np.isnan(ap).all() and np.isnan(aa).all()
    assert all(a.shape == (0,) for a in book.top(0))
    with pytest.raises(ValueError):
        book.top(-1)


def test_empty_book() -> None:
    book = OrderBook()
    assert book.best_bid() is None and book.best_ask() is None
    assert len(book) == 0 and not book.is_crossed()
    assert repr(book).startswith("<OrderBook bid - | ask -")


def test_snapshot_drops_zero_amounts_and_rejects_bad_shape() -> None:
    book = OrderBook([(10.0, 0.0), (9.0, 1.0)], [(11.0, 2.0)])
    assert book.best_bid() == (9.0, 1.0)
    with pytest.raises(ValueError, match="pairs"):
        book.apply_snapshot([1.0, 2.0], [])


def _reference_best(events: list[tuple[str, float, float]]) -> list[tuple[float, float]]:
    """Best bid/ask prices after each event by brute force (max/min of a dict)."""
    sides: dict[str, dict[float, float]] = {"bid": {}, "ask": {}}
    out = []
    for side, price, amount in events:
        if amount > 0:
            sides[side][price] = amount
        else:
            sides[side].pop(price, None)
        out.append((max(sides["bid"], default=math.nan), min(sides["ask"], default=math.nan)))
    return out


def _random_events(n: int, seed: int) -> list[tuple[str, float, float]]:
    rng = random.Random(seed)
    return [
        (rng.choice(["bid", "ask"]), round(rng.uniform(90, 110), 1), rng.choice([0.0, 1.0, 2.5]))
        for _ in range(n)
    ]


def test_random_stream_matches_brute_force() -> None:
    events = _random_events(5000, seed=3)
    book = OrderBook()
    for (side, price, amount), (ref_bid, ref_ask) in zip(
        events, _reference_best(events), strict=True
    ):
        book.update(side, price, amount)
        bid, ask = book.best_bid(), book.best_ask()
        assert (bid[0] if bid else math.nan) == pytest.approx(ref_bid, nan_ok=True)
        assert (ask[0] if ask else math.nan) == pytest.approx(ref_ask, nan_ok=True)


def test_apply_updates_matches_update_path() -> None:
    events = _random_events(5000, seed=11)
    one = OrderBook(BIDS, ASKS)
    expected = []
    for side, price, amount in events:
        one.update(side, price, amount)
        b, a = one.best_bid(), one.best_ask()
        expected.append((*(b or (math.nan, math.nan)), *(a or (math.nan, math.nan))))
    batch = OrderBook(BIDS, ASKS)
    sides = np.array([1 if e[0] == "bid" else -1 for e in events], dtype=np.int8)
    prices = np.array([e[1] for e in events])
    amounts = np.array([e[2] for e in events])
    got = np.column_stack(batch.apply_updates(sides, prices, amounts))
    np.testing.assert_array_equal(got, np.array(expected))
    for name in ("updates", "crossed_count", "absent_deletes", "invalid_updates"):
        assert getattr(batch, name) == getattr(one, name), name
    np.testing.assert_array_equal(np.array(batch.top(20)), np.array(one.top(20)))


def test_apply_updates_rejects_bad_input() -> None:
    book = OrderBook()
    with pytest.raises(ValueError, match=r"\+1 \(bid\), -1 \(ask\)"):
        book.apply_updates(np.array([1, 0], np.int8), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    with pytest.raises(ValueError, match="same length"):
        book.apply_updates(np.array([1], np.int8), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    assert book.updates == 0
