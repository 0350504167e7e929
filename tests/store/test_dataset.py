"""The Parquet dataset: layout, round trips of every kind, never overwriting, pruning,
DuckDB and pyarrow.dataset without mdkit, compaction."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import mdkit
from mdkit.data import tables as t
from mdkit.data.frames import strings
from mdkit.sandbox import Sandbox
from mdkit.store import find_parts, write_frame
from mdkit.store.compact import compact, merge_parts
from mdkit.store.layout import KINDS
from tests.conftest import trading

CHANNELS = ["trades", "ticker", "klines:1min", "book"]


@pytest.fixture(scope="module")
def cap() -> Iterator[mdkit.Capture]:
    symbols = ["btcusdt", "ethusdt"]
    with Sandbox(ws_options={"rate": 4}) as sb:
        with trading(sb, "cryptocom", symbols):  # both symbols trade during the capture
            cap = mdkit.capture("cryptocom", symbols, CHANNELS, seconds=2.0)
        yield cap


@pytest.fixture(scope="module")
def data(cap: mdkit.Capture, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds") / "data"
    cap.to_parquet(root, raw=True)
    return root


def parts(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def test_layout_is_hive_partitioned(data: Path) -> None:
    names = parts(data)
    assert names, "nothing written"
    for name in names:
        bits = name.split(os.sep)
        assert bits[0].startswith("kind=") and bits[1] == "venue=cryptocom", name
        kind = bits[0][5:]
        if kind in ("trades", "ticker", "klines", "depth", "book"):
            assert bits[2] in ("symbol=btcusdt", "symbol=ethusdt") and bits[3].startswith("date=")
        else:
            assert bits[2].startswith("date="), name
    kinds = {n.split(os.sep)[0] for n in names}
    assert kinds == {f"kind={k}" for k in ("trades", "ticker", "klines", "depth", "book", "raw")}


def test_part_schema_is_the_contract(data: Path) -> None:
    (path,) = [p for p in data.rglob("*.parquet") if "kind=trades" in str(p) and "btc" in str(p)]
    schema = pq.read_schema(path)
    assert str(schema.field("timestamp").type) == "timestamp[ns, tz=UTC]"
    assert str(schema.field("local_timestamp").type) == "timestamp[ns, tz=UTC]"
    assert str(schema.field("side").type) == "dictionary<values=string, indices=int32, ordered=0>"
    assert schema.field("price").type == "double" and schema.field("id").type == "int64"
    assert "venue" not in schema.names and "symbol" not in schema.names  # in the path
    meta = pq.ParquetFile(path).metadata.row_group(0)
    by_name = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    # times and ids delta-encoded and not compressed; numbers and text LZ4
    for name in ("timestamp", "local_timestamp", "id"):
        assert "DELTA_BINARY_PACKED" in by_name[name].encodings
        assert by_name[name].compression == "UNCOMPRESSED"
    assert by_name["price"].compression == "LZ4" and by_name["side"].compression == "LZ4"
    assert b"mdkit.attrs" in schema.metadata


@pytest.mark.parametrize("kind", ["trades", "ticker", "klines", "depth", "book", "raw"])
def test_round_trip_equals_the_live_frame(cap: mdkit.Capture, data: Path, kind: str) -> None:
    live = cap.book(10) if kind == "book" else cap.raw if kind == "raw" else cap.frame(kind)
    back = mdkit.read_parquet(data, kind)
    assert len(live) > 0
    assert list(back.columns) == list(live.columns)
    assert back.dtypes.astype(str).to_dict() == live.dtypes.astype(str).to_dict()
    assert back.index.name == live.index.name and str(back.index.dtype) == str(live.index.dtype)
    assert back.attrs == live.attrs
    assert back.equals(live)


def test_round_trip_of_kinds_a_capture_rarely_has(tmp_path: Path) -> None:
    """quotes, private kinds and gaps, built as the capture builds them."""
    attrs = {"venue": "v", "venues": ["v"], "symbols": ["x"], "source": "ws", "interrupted": False}
    now = 1_790_000_000_000_000_000
    for kind in ("quotes", "orders", "fills", "balances", "positions"):
        buf = t.Tables()[kind]
        for i in range(3):
            row = []
            for name, dtype in t.STREAM_SCHEMAS[kind].items():
                if name in ("timestamp", "local_timestamp"):
                    row.append(now + i * 1000 + (name == "local_timestamp"))
                elif dtype == "float64":
                    row.append(1.5 + i)
                elif name == "side":
                    row.append("buy")
                else:
                    row.append(f"{name}{i}" if name != "symbol" else "x")
            buf.append(**dict(zip(t.STREAM_SCHEMAS[kind], row, strict=True)))  # by name
        live = t.stream_frame(kind, buf.columns(), attrs=attrs)
        live.insert(0, "venue", pd.Series(strings(["v"] * 3), index=live.index))
        write_frame(tmp_path, kind, live)
        back = mdkit.read_parquet(tmp_path, kind)
        assert back.dtypes.astype(str).to_dict() == live.dtypes.astype(str).to_dict(), kind
        assert back.equals(live), kind
    gaps = t.gaps_frame(
        [
            {
                "start_ns": now,
                "end_ns": now + 5,
                "venue": "v",
                "connection": 2,
                "channels": "",
                "reason": "closed",
            }
        ],
        attrs=attrs,
    )
    write_frame(tmp_path, "gaps", gaps)
    back = mdkit.read_parquet(tmp_path, "gaps")
    assert back.equals(gaps) and back["duration"].iloc[0] == pd.Timedelta(5, "ns")


def test_a_second_write_adds_and_never_overwrites(cap: mdkit.Capture, tmp_path: Path) -> None:
    first = cap.to_parquet(tmp_path)
    before = {p: Path(p).read_bytes() for p in first}
    second = cap.to_parquet(tmp_path)
    assert not set(first) & set(second)
    assert all(Path(p).read_bytes() == b for p, b in before.items())
    raw = pq.read_table(str(tmp_path / "kind=trades")).num_rows
    assert raw == 2 * len(cap.trades)  # every part kept
    assert mdkit.read_parquet(tmp_path, "trades").equals(cap.trades)  # same trade ids once


def test_a_failed_write_leaves_no_part(
    cap: mdkit.Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pq.write_table

    def disk_full(table, sink, **kwargs):  # type: ignore[no-untyped-def]
        sink.write(b"PAR1 half a part")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_frame(tmp_path, "trades", cap.trades)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    monkeypatch.setattr(pq, "write_table", real)
    assert len(write_frame(tmp_path, "trades", cap.trades)) == 2


def test_reading_prunes_kinds_venues_and_days(tmp_path: Path) -> None:
    """A month of trades for two venues and two symbols, plus depth: reading one venue,
    one symbol and a week opens only that week's parts."""
    attrs = {"source": "ws"}
    days = pd.date_range("2026-11-01", periods=30, freq="D", tz="UTC")
    for venue in ("va", "vb"):
        for symbol in ("aaa", "bbb"):
            index = pd.DatetimeIndex(days + pd.Timedelta("12h"), name="timestamp")
            df = pd.DataFrame(
                {
                    "venue": pd.Categorical([venue] * 30),
                    "symbol": pd.Categorical([symbol] * 30),
                    "id": np.arange(30, dtype="int64"),
                    "side": pd.Categorical(["buy"] * 30, categories=["buy", "sell"]),
                    "price": np.linspace(1, 2, 30),
                    "amount": np.ones(30),
                    "local_timestamp": index,
                },
                index=index,
            )
            df.attrs = attrs
            assert len(write_frame(tmp_path, "trades", df)) == 30
            depth = df[["venue", "symbol", "price", "amount", "local_timestamp"]].copy()
            depth.insert(2, "is_snapshot", True)
            depth.insert(3, "side", pd.Categorical(["bid"] * 30, categories=["bid", "ask"]))
            write_frame(tmp_path, "depth", depth)
    opened = find_parts(
        tmp_path,
        "trades",
        venue="va",
        symbols=["aaa"],
        start=pd.Timestamp("2026-11-10", tz="UTC"),
        end=pd.Timestamp("2026-11-17", tz="UTC"),
    )
    assert len(opened) == 7
    assert all("kind=trades" in p and "venue=va" in p and "symbol=aaa" in p for p in opened)
    back = mdkit.read_parquet(
        tmp_path, "trades", venue="va", symbols="aaa", start="2026-11-10", end="2026-11-17"
    )
    assert len(back) == 7 and set(back["venue"]) == {"va"} and set(back["symbol"]) == {"aaa"}
    assert back.index.min() == pd.Timestamp("2026-11-10 12:00", tz="UTC")
    # Within a day, the time filter is pushed down: half a day.
    half = mdkit.read_parquet(tmp_path, "trades", start="2026-11-05 13:00", end="2026-11-07")
    assert len(half) == 4 and half.index.min() == pd.Timestamp("2026-11-06 12:00", tz="UTC")
    cols = mdkit.read_parquet(tmp_path, "trades", venue="vb", columns=["price"])
    assert list(cols.columns) == ["venue", "symbol", "price", "local_timestamp"]
    # ``pair`` comes from the symbol (not read from the parts), asked for or not
    cols = mdkit.read_parquet(tmp_path, "trades", venue="vb", columns=["pair", "price"])
    assert list(cols.columns) == ["venue", "symbol", "pair", "price", "local_timestamp"]
    assert set(cols["pair"]) == {"AAA", "BBB"} and cols["pair"].dtype == back["pair"].dtype
    assert list(back.columns[:3]) == ["venue", "symbol", "pair"]
    with pytest.raises(mdkit.InvalidArgument, match="kinds: trades"):
        mdkit.read_parquet(tmp_path, "trade")


def test_duckdb_reads_the_dataset_without_mdkit(cap: mdkit.Capture, data: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    glob = str(data / "kind=trades" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT venue, symbol, count(*) AS n, sum(amount) AS amount "
        f"FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY ALL ORDER BY symbol"
    ).fetchall()
    want = cap.trades.groupby("symbol", observed=True).amount.agg(["count", "sum"])
    order = sorted(want.index, key=str)  # DuckDB orders by the symbol text
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("cryptocom", s, int(want.loc[s, "count"])) for s in order
    ]
    assert [r[3] for r in rows] == pytest.approx([want.loc[s, "sum"] for s in order], rel=1e-12)
    raw = duckdb.sql(
        f"SELECT venue, count(*), epoch_ns(min(local_timestamp)) FROM read_parquet("
        f"'{data}/kind=raw/**/*.parquet', hive_partitioning=true) GROUP BY venue"
    ).fetchall()
    assert raw[0][:2] == ("cryptocom", len(cap.raw))
    assert raw[0][2] == cap.raw.index.min().value  # nanoseconds kept


def test_pyarrow_dataset_reads_it_without_mdkit(cap: mdkit.Capture, data: Path) -> None:
    table = ds.dataset(data / "kind=depth", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == len(cap.depth)
    assert set(table["symbol"].to_pylist()) == {"btcusdt", "ethusdt"}
    assert set(table["venue"].to_pylist()) == {"cryptocom"}


def test_compact_merges_closed_days_and_keeps_every_row(cap: mdkit.Capture, tmp_path: Path) -> None:
    for _ in range(3):
        cap.to_parquet(tmp_path, levels=None)
    before = parts(tmp_path)
    today = pd.Timestamp.now("UTC").strftime("%Y-%m-%d")
    assert compact(tmp_path)["partitions"] == 0  # today's partitions are still open
    tomorrow = pd.Timestamp.now("UTC") + pd.Timedelta("1D")
    done = compact(tmp_path, before=tomorrow)
    after = parts(tmp_path)
    assert done["parts_before"] == len(before) and len(after) == done["parts_after"]
    assert len(after) == len({os.path.dirname(p) for p in before})
    assert today in after[0]
    assert mdkit.read_parquet(tmp_path, "trades").equals(cap.trades)
    assert mdkit.read_parquet(tmp_path, "depth").shape[0] == 3 * len(cap.depth)


def test_an_interrupted_compaction_is_finished_not_doubled(
    cap: mdkit.Capture, tmp_path: Path
) -> None:
    cap.to_parquet(tmp_path, levels=None)
    cap.to_parquet(tmp_path, levels=None)
    leaf = next(p for p in tmp_path.rglob("date=*") if "kind=depth" in str(p))
    small = sorted(str(p) for p in leaf.glob("*.parquet"))
    saved = {p: Path(p).read_bytes() for p in small}
    merge_parts(small)
    for path, content in saved.items():  # as if the process died before removing them
        Path(path).write_bytes(content)
    tomorrow = pd.Timestamp.now("UTC") + pd.Timedelta("1D")
    compact(tmp_path, kinds=["depth"], before=tomorrow)
    assert len(list(leaf.glob("*.parquet"))) == 1
    n = len(cap.depth[cap.depth.symbol == leaf.parent.name[7:]])
    assert pq.read_table(next(leaf.glob("*.parquet"))).num_rows == 2 * n


def test_every_kind_is_known() -> None:
    assert set(t.STREAM_KINDS) < set(KINDS) and {"raw", "gaps", "book"} < set(KINDS)


@pytest.mark.parametrize("rows", [50, 150_000])
def test_a_frame_read_back_takes_assignments(tmp_path: Path, rows: int) -> None:
    """Every column of a read frame is writable, as a live frame's (no read-only Arrow
    buffers): one part in order, and two symbols' parts merged into time order."""
    rng = np.random.default_rng(5)
    index = pd.DatetimeIndex(
        pd.Timestamp("2026-11-02", tz="UTC")
        + pd.to_timedelta(np.sort(rng.integers(0, 10**13, rows))),
        name="timestamp",
    )
    symbols = ["aaa"] * rows if rows < 100 else list(rng.choice(["aaa", "bbb"], rows))
    df = pd.DataFrame(
        {
            "venue": pd.Categorical(["va"] * rows),
            "symbol": pd.Categorical(symbols),
            "id": np.arange(rows, dtype="int64"),
            "side": pd.Categorical(["buy"] * rows, categories=["buy", "sell"]),
            "price": rng.random(rows),
            "amount": rng.random(rows),
            "local_timestamp": index + pd.Timedelta("1ms"),
        },
        index=index,
    )
    write_frame(tmp_path, "trades", df)
    back = mdkit.read_parquet(tmp_path, "trades")
    assert len(back) == rows
    first = back.index[0]
    back.loc[first, "price"] = -1.0
    back.loc[first, "amount"] = -2.0
    back.loc[first, "id"] = -3
    back.loc[first, "local_timestamp"] = pd.Timestamp("2000-01-01", tz="UTC")
    row = back.iloc[0]
    assert (row["price"], row["amount"], row["id"]) == (-1.0, -2.0, -3)
    assert row["local_timestamp"] == pd.Timestamp("2000-01-01", tz="UTC")
