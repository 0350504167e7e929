"""The read path's row order: merging sorted runs gives exactly ``np.lexsort``'s order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdkit.store.arrays import take_many as _take_many
from mdkit.store.arrays import text_column as _text
from mdkit.store.order import row_order as _order
from mdkit.store.order import unique_runs as _unique_runs


@settings(max_examples=200, deadline=None)
@given(
    runs=st.lists(
        st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3)), min_size=0, max_size=30),
        min_size=1,
        max_size=6,
    )
)
def test_the_order_of_sorted_runs_is_lexsorts(runs: list[list[tuple[int, int]]]) -> None:
    # each run sorted as a part is written (primary, then secondary); runs concatenated
    rows = [row for run in runs for row in sorted(run)]
    primary = np.array([r[0] for r in rows], dtype="int64")
    secondary = np.array([r[1] for r in rows], dtype="int64")
    keys = [secondary, primary]  # np.lexsort: the last key is the primary one
    got, ordered = _order(keys)
    expected = np.lexsort(keys) if len(rows) else np.arange(0)
    order = np.arange(len(rows)) if got is None else got
    assert np.array_equal(order, expected)
    # the keys come back gathered in that order (the read reuses them)
    for key, back in zip(keys, ordered, strict=True):
        assert np.array_equal(back, key[expected])


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 12)), min_size=0, max_size=60),
    sort_runs=st.booleans(),
)
def test_unique_runs_never_misses_a_repeat(rows: list[tuple[int, int]], sort_runs: bool) -> None:
    # rows in any order (sorted: parts' runs); the quick proof may give up, never lie
    if sort_runs:
        rows = sorted(rows)
    group = np.array([r[0] for r in rows], dtype="int64")
    ids = np.array([r[1] for r in rows], dtype="int64")
    repeats = len(set(rows)) != len(rows)
    if _unique_runs(group, ids):
        assert not repeats
    if sort_runs and not repeats:
        assert _unique_runs(group, ids)  # parts' runs: shown without hashing


@pytest.mark.parametrize("n", [0, 1, 65_535, 65_536, 65_537, 200_000])
def test_a_one_value_text_column_is_that_value_on_every_row(n: int) -> None:
    # one venue (or symbol) read: repeated blocks of the value, no gather
    import pyarrow as pa

    column = pa.chunked_array([pa.array(["cryptocom"] * n, pa.string()).dictionary_encode()])
    got = _text(column, lambda codes: codes[::-1])
    assert len(got) == n
    assert list(pd.unique(got)) == (["cryptocom"] if n else [])
    assert not got.isna().any()
    # with a missing value, the rows are gathered as usual (the null keeps its place)
    if n:
        values = ["cryptocom"] * n
        values[n // 2] = None
        column = pa.chunked_array([pa.array(values, pa.string()).dictionary_encode()])
        got = _text(column, lambda codes: codes)
        assert got.isna().sum() == 1 and pd.isna(got[n // 2])


def test_keys_taken_two_at_a_time_equal_numpys_gather() -> None:
    rng = np.random.default_rng(4)
    keys = [rng.integers(0, 50, 120_000), rng.integers(-(10**15), 10**15, 120_000)]
    order = rng.permutation(120_000)
    for key, got in zip(keys, _take_many(keys, order), strict=True):
        assert np.array_equal(got, key[order])


_ASCII = st.characters(min_codepoint=97, max_codepoint=122)


@st.composite
def _names(draw: st.DrawFn) -> list[str]:
    if draw(st.booleans()):  # one byte length: numpy's fixed-width path (1, 2, 4, 8 too)
        width = draw(st.integers(1, 9))
        text = st.text(_ASCII, min_size=width, max_size=width)
        return draw(st.lists(text, min_size=1, max_size=5, unique=True))
    return draw(st.lists(st.text(max_size=9), min_size=1, max_size=5, unique=True))


@settings(max_examples=200, deadline=None)
@given(names=_names(), picks=st.lists(st.integers(0, 5), min_size=0, max_size=40))
def test_text_columns_equal_arrows_own_decoding(names: list[str], picks: list[int]) -> None:
    # names of one byte length take numpy's fixed-width path; others Arrow's take
    import pyarrow as pa

    values = [names[p] if p < len(names) else None for p in picks]
    column = pa.chunked_array([pa.array(values, pa.string()).dictionary_encode()])
    order = np.argsort(np.arange(len(values)) % 3, kind="stable")  # a shuffle
    got = _text(column, lambda codes: codes[order])
    expected = [values[i] for i in order]
    assert [None if pd.isna(v) else v for v in got] == expected


@pytest.mark.parametrize("crossing", [False, True])
def test_a_sort_split_at_a_day_gives_lexsorts_order(crossing: bool) -> None:
    # three days of 4 sorted runs each (parts), ties included; sorted in two halves at
    # the day cut nearest the middle. ``crossing``: a part of day 0 holds a row of day 1,
    # so the halves do not part: one sort of the whole instead.
    rng = np.random.default_rng(6)
    day = 86_400_000_000_000
    runs, cuts, at = [], [], 0
    for d in range(3):
        for _ in range(4):
            run = np.sort(rng.integers(d * day, (d + 1) * day, 40_000) // 1000 * 1000)
            runs.append(run)
            at += len(run)
            cuts.append(at)
    primary = np.concatenate(runs)
    if crossing:  # day 0's first part ends in day 1 (a late row)
        primary[40_000 - 1] = day + 10**12
    secondary = rng.integers(0, 3, len(primary))
    keys = [secondary, primary]
    called = []
    got, ordered = _order(keys, lambda: called.append(1), cuts[:-1])
    expected = np.lexsort(keys)
    assert called == [1]
    assert got is not None and np.array_equal(got, expected)
    for key, back in zip(keys, ordered, strict=True):
        assert np.array_equal(back, key[expected])


def test_a_forked_child_reads_with_its_own_threads(tmp_path: Path) -> None:
    # the parent's read started the pool's threads; a fork has none of them
    import multiprocessing

    import mdkit
    from mdkit.store import write_frame

    n = 120_000
    index = pd.date_range("2026-11-02", periods=n, freq="1ms", tz="UTC", name="timestamp")
    df = pd.DataFrame(
        {
            "venue": pd.Categorical(["va"] * n),
            "symbol": pd.Categorical(np.where(np.arange(n) % 2, "aaa", "bbb")),
            "id": np.arange(n, dtype="int64"),
            "side": pd.Categorical(["buy"] * n, categories=["buy", "sell"]),
            "price": np.ones(n),
            "amount": np.ones(n),
            "local_timestamp": index,
        },
        index=index,
    )
    write_frame(tmp_path, "trades", df)
    assert len(mdkit.read_parquet(tmp_path, "trades")) == n  # the pool is running
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        rows = pool.apply_async(_rows, (str(tmp_path),)).get(timeout=60)
    assert rows == n


def _rows(path: str) -> int:
    import mdkit

    return len(mdkit.read_parquet(path, "trades"))
