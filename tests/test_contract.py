"""One data contract on every path: REST, capture and dataset frames concatenate
and keep every dtype; a Parquet round trip is exact (DESIGN.md "Data contract").

Captures come from every venue of the registry (their example symbols, their public
channels) on the sandbox, over real sockets. Runs on pandas 2.2 and 3.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
import pytest

import mdkit
from mdkit.data.frames import BOOK_SIDE_DTYPE, TRADE_SIDE_DTYPE, string_dtype
from mdkit.data.symbols import pair_of
from mdkit.sandbox import Sandbox
from mdkit.venues import get_venue, venue_keys
from mdkit.venues.base import PRIVATE_CHANNELS
from tests.conftest import capture_until, trading

# Columns whose dtype is the contract's string dtype wherever they appear.
STRING_COLUMNS = ("venue", "symbol", "pair", "interval")


# BTC/USDT on every venue (Richamster's examples are UAH markets; the sandbox lists it).
_EXTRA = {"richamster": ("BTC/USDT",)}


def _public_channels(key: str) -> list[str]:
    desc = get_venue(key)
    out = []
    for channel in desc.channels:
        if channel in PRIVATE_CHANNELS:
            continue
        if channel == "klines":
            channel = "klines:1min" if "1min" in desc.intervals else "klines"
        out.append(channel)
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """REST frames of two symbols, a capture of every venue, and its dataset."""
    root = tmp_path_factory.mktemp("contract") / "data"
    with Sandbox() as sb:
        bitget = {"venue": "bitget"}
        rest = {
            "trades": [
                *(mdkit.trades(s) for s in ("btcusdt", "ethusdt")),
                mdkit.trades("BTCUSDT", **bitget),
                mdkit.trades("ETHUSDT", start="1 minute ago", **bitget),
            ],
            "klines": [
                mdkit.klines("btcusdt", "1min"),
                mdkit.klines("ethbtc", "1h"),
                mdkit.klines("BTCUSDT", "1min", **bitget),
                mdkit.klines("ETHUSDT", "1h", start="2 days ago", **bitget),
            ],
            "depth": [
                mdkit.depth("btcusdt"),
                mdkit.depth("ethusdt"),
                mdkit.depth("BTCUSDT", **bitget),
            ],
            "tickers": [mdkit.tickers(), mdkit.ticker("ethbtc"), mdkit.tickers(**bitget)],
        }
        parts = [
            (key, [*get_venue(key).example_symbols, *_EXTRA.get(key, ())], _public_channels(key))
            for key in venue_keys()
        ]
        # Every symbol of every venue trades while the capture runs (pushed, not luck).
        with ExitStack() as stack:
            for key, symbols, _ in parts:
                stack.enter_context(trading(sb, key, symbols))
            # Until every channel of every venue sent something (a deadline, not a box).
            cap = capture_until(lambda s: all(s["per_channel"].values()), parts)
    cap.to_parquet(root, raw=True)
    yield {"rest": rest, "cap": cap, "root": root}


def _assert_dtypes_kept(frames: list[pd.DataFrame], what: str) -> pd.DataFrame:
    """Every column present in every frame has one dtype, and concat keeps it."""
    assert len(frames) >= 2, what
    out = pd.concat(frames)
    for frame in frames:
        for name in frame.columns:
            if all(name in f.columns for f in frames):
                assert frame[name].dtype == out[name].dtype, (what, name, frame[name].dtype)
    for name in out.columns:
        if name in STRING_COLUMNS:
            assert out[name].dtype == string_dtype(), (what, name, out[name].dtype)
    assert out.index.dtype == frames[0].index.dtype, what
    return out


def test_every_venue_of_the_registry_sent_data(sources: dict[str, object]) -> None:
    cap = sources["cap"]
    assert isinstance(cap, mdkit.Capture)
    assert set(cap.trades["venue"]) == set(venue_keys()), cap
    assert cap.trades["symbol"].nunique() > len(venue_keys())


@pytest.mark.parametrize("kind", ["trades", "klines", "depth", "ticker", "quotes"])
def test_capture_and_dataset_frames_concat_keeping_dtypes(
    sources: dict[str, object], kind: str
) -> None:
    cap = sources["cap"]
    assert isinstance(cap, mdkit.Capture)
    if kind not in cap.frames():
        pytest.fail(f"the capture of every venue has no {kind}: {cap}")
    live = cap.frame(kind)
    stored = mdkit.read_parquet(sources["root"], kind)
    assert stored.dtypes.to_dict() == live.dtypes.to_dict(), kind
    out = _assert_dtypes_kept([live, stored], kind)
    if kind != "quotes":  # one venue offers quotes
        assert out["venue"].nunique() >= 2
    if "side" in live:
        side = TRADE_SIDE_DTYPE if kind == "trades" else BOOK_SIDE_DTYPE
        assert out["side"].dtype == side


def test_book_raw_and_gaps_keep_their_dtypes(sources: dict[str, object]) -> None:
    cap = sources["cap"]
    assert isinstance(cap, mdkit.Capture)
    for name, live in (("book", cap.book(10)), ("raw", cap.raw), ("gaps", cap.gaps)):
        stored = mdkit.read_parquet(sources["root"], name)
        if not len(stored) and name == "gaps":
            continue
        _assert_dtypes_kept([live, stored], name)


def test_rest_frames_concat_with_capture_and_dataset(sources: dict[str, object]) -> None:
    rest, cap = sources["rest"], sources["cap"]
    assert isinstance(rest, dict) and isinstance(cap, mdkit.Capture)
    for kind in ("trades", "klines"):
        stored = mdkit.read_parquet(sources["root"], kind)
        frames = [*rest[kind], cap.frame(kind), stored]
        out = _assert_dtypes_kept(frames, kind)
        # every REST column (venue first) is a capture column, in the same order
        live_columns = list(cap.frame(kind).columns)
        for frame in rest[kind]:
            rest_columns = list(frame.columns)
            assert [c for c in live_columns if c in rest_columns] == rest_columns, kind
        assert out["symbol"].nunique() >= 3 and out["venue"].nunique() >= 2
    depth = _assert_dtypes_kept(rest["depth"], "rest depth")
    assert depth["side"].dtype == BOOK_SIDE_DTYPE and set(depth["symbol"]) == {
        "btcusdt",
        "ethusdt",
        "BTCUSDT",
    }
    tickers = _assert_dtypes_kept(rest["tickers"], "rest tickers")
    assert tickers.index.dtype == string_dtype()


def _round_trip(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    plain = df.copy()
    plain.attrs = {}
    plain.to_parquet(path)
    return pd.read_parquet(path)


def test_parquet_round_trip_is_exact(sources: dict[str, object], tmp_path: Path) -> None:
    rest, cap = sources["rest"], sources["cap"]
    assert isinstance(rest, dict) and isinstance(cap, mdkit.Capture)
    frames = {f"rest {k}": v[0] for k, v in rest.items()}
    frames |= {f"capture {k}": cap.frame(k) for k in cap.frames()}
    frames["capture book"] = cap.book(5)
    for i, (name, df) in enumerate(frames.items()):
        back = _round_trip(df, tmp_path / f"{i}.parquet")
        assert back.dtypes.to_dict() == df.dtypes.to_dict(), name
        assert back.equals(df), name
        assert back.index.equals(df.index), name


def test_account_frames_are_indexed_by_timestamp(sandbox: Sandbox) -> None:
    acct = mdkit.Account()
    fills = acct.my_trades("btcusdt")
    orders = acct.all_orders("btcusdt")
    for df, column in ((fills, "ctime"), (orders, "created_at")):
        assert df.index.name == "timestamp" and str(df.index.dtype) == "datetime64[ns, UTC]"
        assert (df.index == pd.DatetimeIndex(df[column])).all()
        assert df.index.is_monotonic_increasing
    assert fills["side"].dtype == TRADE_SIDE_DTYPE


def test_symbols_of_every_venue(sandbox: Sandbox) -> None:
    frames = []
    for key in venue_keys():
        desc = get_venue(key)
        df = mdkit.symbols(key)
        assert df.index.name == "symbol" and df.index.dtype == string_dtype(), key
        assert set(desc.example_symbols) <= set(df.index), key
        assert set(df["venue"]) == {key}
        assert {"pair", "base", "quote", "price_precision", "tick_size"} <= set(df.columns), key
        # the venue's own base/quote (where it lists them) agree with the spelling's split,
        # which is what stream frames use
        assert list(df["pair"]) == [pair_of(s) for s in df.index], key
        assert (df["pair"] == (df["base"] + "/" + df["quote"]).str.upper()).all(), key
        frames.append(df)
    out = _assert_dtypes_kept(frames, "symbols")
    assert out["tick_size"].dtype == "float64"
    listed = out[out["venue"] == "cryptocom"]
    assert listed["tick_size"].notna().all()
    assert (listed["tick_size"] == 10.0 ** -listed["price_precision"]).all()
    with pytest.raises(mdkit.UnknownVenue, match="valid"):
        mdkit.symbols("nowhere")


def test_every_frame_carries_pair(sources: dict[str, object]) -> None:
    rest, cap = sources["rest"], sources["cap"]
    assert isinstance(rest, dict) and isinstance(cap, mdkit.Capture)
    frames = {f"rest {k}": f for k, v in rest.items() for f in v}
    frames |= {f"capture {k}": cap.frame(k) for k in cap.frames()}
    frames |= {f"dataset {k}": mdkit.read_parquet(sources["root"], k) for k in cap.frames()}
    frames["capture book"] = cap.book(5)
    for name, df in frames.items():
        assert "pair" in df.columns, name
        assert df["pair"].dtype == string_dtype(), name
        symbols = df.index if "symbol" not in df.columns else df["symbol"]
        assert list(df["pair"]) == [pair_of(str(s)) for s in symbols], name
        assert df["pair"].str.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+").all(), name
    # the dataset stores pair as a column (DuckDB, Polars, Spark read it without mdkit)
    import pyarrow.parquet as pq

    root = Path(str(sources["root"]))
    for kind in ("trades", "depth", "book"):
        part = next((root / f"kind={kind}").rglob("*.parquet"))
        assert "pair" in pq.read_schema(part).names, kind


def test_groupby_pair_gives_one_group_per_market(sources: dict[str, object]) -> None:
    cap = sources["cap"]
    assert isinstance(cap, mdkit.Capture)
    trades = cap.trades
    groups = trades.groupby("pair")
    # BTC/USDT is spelled four ways over five venues, one group in the end
    btc = groups.get_group("BTC/USDT")
    assert btc["venue"].nunique() == len(venue_keys()), btc["venue"].unique()
    assert btc["symbol"].nunique() >= 3
    assert trades.groupby("symbol").ngroups > groups.ngroups
    assert groups.ngroups == len({pair_of(s) for s in trades["symbol"].unique()})


# -- the README's per-venue columns table ------------------------------------------------

#: Columns every venue's frame of a kind has (the table lists the rest per venue).
CORE = {
    "trades": ("venue", "symbol", "pair", "id", "side", "price", "amount", "local_timestamp"),
    "ticker": ("venue", "symbol", "pair", "last", "local_timestamp"),
    "klines": ("venue", "symbol", "pair", "interval", "open", "high", "low", "close"),
    "depth": ("venue", "symbol", "pair", "is_snapshot", "side", "price", "amount"),
    "quotes": ("venue", "symbol", "pair", "bid_price", "bid_amount", "ask_price", "ask_amount"),
}


def columns_table(cap: mdkit.Capture) -> str:
    """Per kind and venue: the columns that venue's rows carry (beyond the core ones)."""
    keys = venue_keys()
    rows = ["| kind: every venue | " + " | ".join(f"`{k}`: also" for k in keys) + " |"]
    rows.append("|---" * (len(keys) + 1) + "|")
    for kind, core in CORE.items():
        df = cap.frame(kind) if kind in cap.frames() else None
        cells = []
        for key in keys:
            mine = None if df is None else df[df["venue"] == key]
            if mine is None or not len(mine):
                cells.append("—")
                continue
            extra = [c for c in mine.columns if c not in core and mine[c].notna().any()]
            cells.append(" ".join(extra) or "(none)")
        rows.append(f"| {kind}: {' '.join(core)} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_section(text: str) -> str | None:
    match = re.search(r"<!-- columns:begin -->\n(.*?)\n<!-- columns:end -->", text, re.S)
    return match.group(1) if match else None


def test_readme_columns_table_matches_the_frames(sources: dict[str, object]) -> None:
    cap = sources["cap"]
    assert isinstance(cap, mdkit.Capture)
    for kind in CORE:  # every frame has its core columns
        if kind in cap.frames():
            assert set(CORE[kind]) <= set(cap.frame(kind).columns), kind
    found = _readme_section(README.read_text())
    assert found is not None, "README has no <!-- columns:begin/end --> section"
    assert found == columns_table(cap), "run `python tests/test_contract.py` to refresh it"


def main() -> None:
    """Rewrite the README's columns table from a capture of every venue on the sandbox."""
    with Sandbox(trades_per_second=60):
        parts = [
            (key, [*get_venue(key).example_symbols, *_EXTRA.get(key, ())], _public_channels(key))
            for key in venue_keys()
        ]
        cap = mdkit.capture(parts, seconds=3.0)
    text = re.sub(
        r"(<!-- columns:begin -->\n)(?:.*?\n)?(<!-- columns:end -->)",
        lambda m: m.group(1) + columns_table(cap) + "\n" + m.group(2),
        README.read_text(),
        flags=re.S,
    )
    README.write_text(text)


if __name__ == "__main__":
    main()
