"""Tests for mdkit.data.columns.ColumnBuffer: storage, chunks, categories, memory."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from mdkit.data.columns import ColumnBuffer

TRADE = {
    "timestamp": "int64",
    "local_timestamp": "int64",
    "symbol": "category",
    "id": "int64",
    "side": "category",
    "price": "float64",
    "amount": "float64",
}


def test_append_round_trips_values_and_dtypes() -> None:
    buf = ColumnBuffer(TRADE)
    buf.append(1_700_000_000_000_000_000, 1_700_000_000_000_000_123, "BTCUSDT", 42, "buy", 1.5, 2.0)
    buf.append(np.int64(2), 3, "ETHUSDT", 43, "sell", np.float64(0.1), 7)
    cols = buf.columns()
    assert len(buf) == 2
    np.testing.assert_array_equal(cols["timestamp"], [1_700_000_000_000_000_000, 2])
    assert cols["timestamp"].dtype == np.int64 and cols["price"].dtype == np.float64
    np.testing.assert_array_equal(cols["price"], [1.5, 0.1])
    np.testing.assert_array_equal(cols["amount"], [2.0, 7.0])
    assert isinstance(cols["symbol"], pd.Categorical)
    assert list(cols["symbol"]) == ["BTCUSDT", "ETHUSDT"]
    assert list(cols["side"].categories) == ["buy", "sell"]


def test_category_mapping_codes_and_missing() -> None:
    buf = ColumnBuffer({"side": pd.CategoricalDtype(["buy", "sell"]), "x": "float64"})
    for side in ["sell", "sell", None, "buy", "other"]:
        buf.append(side, 0.0)
    side = buf.columns()["side"]
    assert list(side.categories) == ["buy", "sell", "other"]  # preset first, then new
    np.testing.assert_array_equal(side.codes, [1, 1, -1, 0, 2])
    assert side.isna().tolist() == [False, False, True, False, False]
    with pytest.raises(TypeError, match="category of strings"):
        buf.append(3, 0.0)
    assert len(buf) == 5


def test_many_chunks_concatenate_in_order() -> None:
    buf = ColumnBuffer({"i": "int64", "f": "float32"}, first_chunk_rows=4, chunk_rows=16)
    n = 1000
    for i in range(n):
        buf.append(i, i / 2)
    sizes = [c.shape[0] for c in buf._store.full]
    assert sizes[:4] == [4, 8, 16, 16]  # geometric, then fixed
    cols = buf.columns()
    np.testing.assert_array_equal(cols["i"], np.arange(n))
    np.testing.assert_array_equal(cols["f"], (np.arange(n) / 2).astype(np.float32))
    assert cols["i"].flags.c_contiguous and len(cols["f"]) == n


def test_full_chunks_are_kept_not_copied() -> None:
    buf = ColumnBuffer({"i": "int64"}, first_chunk_rows=2, chunk_rows=4)
    for i in range(3):
        buf.append(i)
    first = buf._store.full[0]
    for i in range(3, 50):
        buf.append(i)
    assert buf._store.full[0] is first
    np.testing.assert_array_equal(first["i"], [0, 1])


def test_extend_and_append_mix() -> None:
    buf = ColumnBuffer(TRADE, first_chunk_rows=8, chunk_rows=32)
    buf.append(1, 1, "A", 1, "buy", 1.0, 1.0)
    n = 100
    buf.extend(
        {
            "timestamp": np.arange(2, 2 + n),
            "local_timestamp": np.arange(2, 2 + n),
            "symbol": ["B"] * n,
            "id": range(2, 2 + n),
            "side": ["sell", "buy"] * (n // 2),
            "price": [None] + [2.0] * (n - 1),
            "amount": np.ones(n),
        }
    )
    buf.append(102, 102, "A", 102, "sell", 3.0, 3.0)
    frame = buf.to_frame(index="id")
    assert frame.index.tolist() == list(range(1, 103))
    assert frame["symbol"].tolist() == ["A"] + ["B"] * n + ["A"]
    assert frame["side"].tolist()[:3] == ["buy", "sell", "buy"]
    assert frame["side"].dtype == "category"
    assert math.isnan(frame["price"].iloc[1]) and frame["price"].iloc[-1] == 3.0
    assert frame["timestamp"].is_monotonic_increasing


def test_extend_rejects_bad_columns() -> None:
    buf = ColumnBuffer({"a": "int64", "b": "float64"})
    with pytest.raises(ValueError, match=r"missing \['b'\], unknown \['c'\]"):
        buf.extend({"a": [1], "c": [2.0]})
    with pytest.raises(ValueError, match="differ in length"):
        buf.extend({"a": [1, 2], "b": [2.0]})
    with pytest.raises(TypeError, match="'a'"):
        buf.extend({"a": [1, None], "b": [2.0, 3.0]})
    with pytest.raises(TypeError, match="'a'"):
        buf.extend({"a": [1.5, 2.5], "b": [2.0, 3.0]})
    assert len(buf) == 0


def test_none_for_float_is_nan_and_for_int_is_error() -> None:
    buf = ColumnBuffer({"id": "int64", "price": "float64", "flag": "bool"})
    buf.append(1, None, True)
    buf.append(2, math.nan, False)
    with pytest.raises(TypeError, match="'id' is int64 and cannot hold None"):
        buf.append(None, 1.0, True)
    with pytest.raises(TypeError, match="'id' is int64; got float"):
        buf.append(1.5, 1.0, True)
    with pytest.raises(TypeError, match="'flag' is bool"):
        buf.append(3, 1.0, None)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'flag'"):
        buf.append(3, 1.0)
    assert len(buf) == 2
    cols = buf.columns()
    assert np.isnan(cols["price"]).all()
    np.testing.assert_array_equal(cols["flag"], [True, False])


def test_out_of_range_integer_is_value_error() -> None:
    buf = ColumnBuffer({"small": "int8"})
    with pytest.raises(ValueError, match="out of range"):
        buf.append(300)
    buf.append(-5)
    assert buf.columns()["small"].tolist() == [-5]


def test_unsupported_dtype_names_choices() -> None:
    with pytest.raises(ValueError, match="valid choices"):
        ColumnBuffer({"s": "U10"})
    with pytest.raises(ValueError):
        ColumnBuffer({})


def test_datetime_column_becomes_utc_in_frame() -> None:
    buf = ColumnBuffer({"timestamp": "datetime64[ns]", "x": "float64"})
    buf.append(1_700_000_000_000_000_000, 1.0)
    buf.append(np.datetime64("2024-01-01T00:00:00", "s"), 2.0)
    frame = buf.to_frame(index="timestamp")
    assert str(frame.index.tz) == "UTC"
    assert frame.index[1] == pd.Timestamp("2024-01-01", tz="UTC")
    with pytest.raises(KeyError):
        buf.to_frame(index="nope")


def test_empty_buffer_columns_and_frame() -> None:
    buf = ColumnBuffer(TRADE)
    cols = buf.columns()
    assert all(len(c) == 0 for c in cols.values())
    assert list(buf.to_frame().columns) == list(TRADE)
    assert buf.nbytes < 1024


def test_nbytes_at_most_60_bytes_per_trade_row_for_1m_rows() -> None:
    n = 1_000_000
    buf = ColumnBuffer(TRADE)
    block = 100_000
    for start in range(0, n, block):
        ids = np.arange(start, start + block)
        buf.extend(
            {
                "timestamp": ids,
                "local_timestamp": ids + 5,
                "symbol": np.where(ids % 3 == 0, "BTCUSDT", "ETHUSDT"),
                "id": ids,
                "side": np.where(ids % 2 == 0, "buy", "sell"),
                "price": ids * 0.5,
                "amount": np.ones(block),
            }
        )
    for i in range(1000):  # the append path counts too
        buf.append(n + i, n + i, "BTCUSDT", n + i, "buy", 1.0, 1.0)
    assert len(buf) == n + 1000
    assert buf.nbytes / len(buf) <= 60
    cols = buf.columns()
    assert cols["id"][-1] == n + 999 and cols["local_timestamp"][10] == 15
    assert cols["side"][:2].tolist() == ["buy", "sell"]


@pytest.mark.parametrize(
    "names",
    [("self", "KeyError", "class"), ("i", "_row", "fill"), ("a b", "v0", "TypeError")],
)
def test_any_column_names_work(names: tuple[str, str, str]) -> None:
    buf = ColumnBuffer(
        dict(zip(names, ["int64", "float64", "category"], strict=True)), first_chunk_rows=2
    )
    for i in range(10):
        buf.append(i, i * 0.5, "x" if i % 2 else None)
    cols = buf.columns()
    np.testing.assert_array_equal(cols[names[0]], np.arange(10))
    np.testing.assert_array_equal(cols[names[1]], np.arange(10) * 0.5)
    assert cols[names[2]].isna().sum() == 5


def test_category_codes_are_int16_and_overflow_is_a_clear_error() -> None:
    from mdkit.data.columns import MAX_CATEGORIES

    buf = ColumnBuffer({"s": "category"})
    buf.extend({"s": [f"v{i}" for i in range(MAX_CATEGORIES)]})
    assert buf._store.row_dtype["s"] == np.dtype("<i2")  # internal: 2-byte codes
    with pytest.raises(ValueError, match="distinct values"):
        buf.append("one too many")
    buf.append("v0")  # known values still go in
    assert len(buf) == MAX_CATEGORIES + 1


def test_closed_category_and_bounds_refuse_a_row_whole() -> None:
    buf = ColumnBuffer(
        {"side": pd.CategoricalDtype(["buy", "sell"]), "t": "int64", "x": "float64"},
        closed=("side",),
        bounds={"t": (1, 2**63 - 1), "x": (-1e308, 1e308)},
    )
    buf.append("buy", 5, 1.0)
    buf.append(None, 6, 2.0)
    for bad in [("other", 7, 1.0), ("sell", 0, 1.0), ("sell", 7, float("nan")), ("sell", 7, None)]:
        with pytest.raises(ValueError):
            buf.append(*bad)
    with pytest.raises(ValueError):
        buf.append("sell", 2**70, 1.0)
    cols = buf.columns()
    assert len(buf) == 2 and cols["t"].tolist() == [5, 6]
    assert list(cols["side"].categories) == ["buy", "sell"]


def test_extend_checks_the_bounds_append_checks_and_stores_nothing_then() -> None:
    nat = -(2**63)
    buf = ColumnBuffer(
        {"timestamp": "int64", "side": pd.CategoricalDtype(["buy", "sell"]), "price": "float64"},
        bounds={"timestamp": (0, 10**19), "price": (-1e308, 1e308)},
        closed=("side",),
    )
    buf.extend({"timestamp": [1, nat], "side": ["buy", "sell"], "price": [1.5, 2.5]})
    for bad in (
        {"timestamp": [2, -5], "side": ["buy", "buy"], "price": [1.0, 1.0]},
        {"timestamp": [2, 3], "side": ["buy", "buy"], "price": [1.0, float("inf")]},
        {"timestamp": [2, 3], "side": ["buy", "buy"], "price": [float("nan"), 1.0]},
        {"timestamp": [2, 3], "side": ["buy", "flat"], "price": [1.0, 1.0]},
    ):
        with pytest.raises(ValueError) as caught:
            buf.extend(bad)
        with pytest.raises(ValueError) as one:  # the row writer says the same
            for row in zip(*bad.values(), strict=True):
                buf.append(**dict(zip(bad, row, strict=True)))
        assert str(caught.value).split(":")[0] == str(one.value).split(":")[0]
    columns = buf.columns()
    assert columns["timestamp"].tolist()[:2] == [1, nat]
    assert len(buf) == 2 + 3  # the good first rows of the appends above, none of extend's
    open_buf = ColumnBuffer({"sym": "category"})
    open_buf.extend({"sym": ["BTCUSDT", "BTCUSDT"]})
    open_buf.extend({"sym": ["BTCUSDT", "ETHUSDT", None]})  # a new value: the general path
    syms = open_buf.columns()["sym"]
    assert syms[:4].tolist() == ["BTCUSDT"] * 3 + ["ETHUSDT"] and pd.isna(syms[4])


def test_a_writer_of_every_column_shares_none() -> None:
    buf = ColumnBuffer({"id": "int64", "side": "category", "price": "float64"}, by_name=True)
    write = buf.writer("id", "side", "price")  # nothing shared: was a SyntaxError
    write(rows=[(1, "buy", 1.5), (2, "sell", "2.5")])
    assert buf.columns()["price"].tolist() == [1.5, 2.5]
