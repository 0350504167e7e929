"""Crypto.com v1 REST parsers on recorded answers and the doc's examples (no sockets)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mdkit.data.timeparse import parse_interval
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, VenueError
from mdkit.venues import cryptocom as v
from tests.conftest import load_samples

REST = load_samples("cryptocom_v1", "rest_recorded.json")


def data(sample_id: str) -> object:
    return v.parse_envelope(REST[sample_id]["raw"])


def test_envelope_code_is_a_string_and_zero_means_ok() -> None:
    assert v.parse_envelope('{"code":"0","msg":"suc","data":[1]}') == [1]
    assert v.parse_envelope(b'{"code":0,"msg":"suc","data":{"a":1}}') == {"a": 1}


def test_recorded_errors_become_venue_errors() -> None:
    with pytest.raises(VenueError) as info:
        v.parse_envelope(REST["error_100004"]["raw"])
    assert info.value.code == "100004" and "parameter illegal" in info.value.msg
    with pytest.raises(AuthError) as auth:
        v.parse_envelope(REST["error_100005"]["raw"])
    assert auth.value.code == "100005"


@pytest.mark.parametrize(
    "body", ["", "Too Many Requests", "[1,2]", '{"msg":"x"}', '{"code":"0","d']
)
def test_non_envelopes_are_protocol_errors(body: str) -> None:
    with pytest.raises(ProtocolError):
        v.parse_envelope(body)


def test_symbols_recorded() -> None:
    df = v.parse_symbols(data("symbols"))
    assert list(df.index) == ["crobtc"]
    row = df.loc["crobtc"]
    assert (row.base, row.quote, row.price_precision, row.amount_precision) == ("cro", "btc", 8, 2)
    # float64 like every venue's list (NaN where a venue publishes no precision)
    assert df.price_precision.dtype == np.float64
    assert (row.pair, row.tick_size, row.lot_size) == ("CRO/BTC", 1e-8, 0.01)


def test_all_tickers_from_the_symbol_less_ticker_endpoint() -> None:
    df = v.parse_tickers(data("ticker_all"))
    row = df.loc["crobtc"]
    # "last":"0.0000069000000000" — a 16-decimal string on the wire
    assert row["last"] == pytest.approx(6.9e-6)
    assert row["bid"] == pytest.approx(6.89e-6) and row["ask"] == pytest.approx(6.92e-6)
    assert row["change"] == pytest.approx(0.0454545455)
    assert row["timestamp"] == pd.Timestamp(1588981375165, unit="ms", tz="UTC")
    for col in ("last", "bid", "ask", "high", "low", "volume", "change"):
        assert df[col].dtype == np.float64


def test_doc_all_tickers_mixed_types_and_missing_fields() -> None:
    doc = {
        "date": 1534335607859,
        "ticker": [
            {
                "symbol": "btcusdt",
                "high": "9744.47",
                "vol": "0.0251263",
                "last": 9744.25,
                "low": "9744.25",
                "buy": 9744.25,
                "sell": 9744.47,
                "change": "-0.0000225769",
                "rose": "-0.0000225769",
            },
            {
                "symbol": "ethusdt",
                "high": 535.96,
                "vol": 6366.8591,
                "last": 20,
                "low": 279.57,
                "rose": -0.44564773,
            },
        ],
    }
    df = v.parse_tickers(doc)
    assert np.isnan(df.loc["ethusdt", "bid"])  # not sent: NaN, never invented
    assert df.loc["ethusdt", "change"] == pytest.approx(-0.44564773)
    assert df.loc["btcusdt", "high"] == pytest.approx(9744.47)


def test_single_ticker_recorded() -> None:
    df = v.parse_ticker(data("ticker_single"), "crobtc")
    assert len(df) == 1 and df.index[0] == "crobtc"
    assert df.iloc[0]["last"] == pytest.approx(6.96e-6)
    assert df.iloc[0]["timestamp"] == pd.Timestamp(1589017701000, unit="ms", tz="UTC")


def test_klines_recorded_seconds_and_sorted() -> None:
    iv = parse_interval(15)
    df = v.parse_klines(data("klines"), "crobtc", iv, now_s=1588708800 + 300)
    assert df.index.name == "timestamp" and str(df.index.tz) == "UTC"
    # open time is in SECONDS on this endpoint
    assert df.index[0] == pd.Timestamp(1588707000, unit="s", tz="UTC")
    assert list(df.columns) == [
        "venue",
        "symbol",
        "pair",
        "interval",
        *["open", "high", "low", "close", "volume", "closed"],
    ]
    assert (df.dtypes.iloc[4:9] == np.float64).all()
    assert df.volume.iloc[1] == pytest.approx(54371.8291197)
    assert df.closed.tolist() == [True, True, False]  # the last bar is still forming
    assert df.attrs == {
        "venue": "cryptocom",
        "source": "rest:/v1/klines",
        "symbol": "crobtc",
        "interval": "15min",
    }


def test_klines_newest_first_and_duplicates_are_normalised() -> None:
    rows = [
        [1514445900, 3, 3, 3, 3, 0],
        [1514445840, "2", "2", "2", "2", "1"],
        [1514445780, 1.12, 1.12, 1.12, 1.12, 0],
        [1514445900, 4, 4, 4, 4, 5],
    ]
    df = v.parse_klines(rows, "btcusdt", parse_interval(1), now_s=1514446000)
    assert df.index.is_monotonic_increasing and df.index.is_unique
    assert df.close.tolist() == [1.12, 2.0, 4.0]  # last copy of a re-sent bar wins
    assert df.closed.all()


def test_klines_empty_and_bad_rows() -> None:
    df = v.parse_klines([], "btcusdt", parse_interval(1))
    assert df.empty and list(df.columns)[4:9] == ["open", "high", "low", "close", "volume"]
    with pytest.raises(ProtocolError):
        v.parse_klines([[1, 2, 3]], "btcusdt", parse_interval(1))
    with pytest.raises(ProtocolError):
        v.parse_klines([[1, "x", 1, 1, 1, 1]], "btcusdt", parse_interval(1))


def test_trades_recorded_trailing_zeros_and_ms() -> None:
    df = v.parse_trades(data("trades"), "crobtc")
    assert df.index[0] == pd.Timestamp(1589032904000, unit="ms", tz="UTC")
    row = df.iloc[0]
    assert (row.id, row.side, row.price, row.amount) == (1887449, "buy", 6.96e-6, 151.17)
    assert df.id.dtype == "Int64" and isinstance(df.side.dtype, pd.CategoricalDtype)
    assert list(df.side.cat.categories) == ["buy", "sell"]


def test_doc_trades_newest_first_become_oldest_first() -> None:
    body = (
        '{"code":"0","msg":"suc","data":['
        '{"amount":0.0010000000000000,"price":9744.2500000000000000,"ctime":1572404045000,"id":6303,"type":"sell"},'
        '{"amount":0.0000010200000000,"price":9744.4700000000000000,"ctime":1572404025000,"id":6302,"type":"buy"},'
        '{"amount":0.0010000000000000,"price":9744.2500000000000000,"ctime":1572403679000,"id":6301,"type":"SELL"},'
        '{"amount":0.0010000000000000,"price":9744.2500000000000000,"ctime":1572403679000,"id":6300,"type":"Sell"}]}'
    )
    df = v.parse_trades(v.parse_envelope(body), "btcusdt")
    assert df.id.tolist() == [6300, 6301, 6302, 6303]
    assert df.side.tolist() == ["sell", "sell", "buy", "sell"]
    assert df.amount.iloc[2] == pytest.approx(1.02e-6)


def test_unknown_side_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="side"):
        v.parse_trades([{"amount": 1, "price": 1, "ctime": 1, "id": 1, "type": "hold"}], "x")


def test_depth_recorded_null_time_and_ordering() -> None:
    df = v.parse_depth(data("depth_step0"), "crobtc", 0, received_ms=1589032904000)
    bids, asks = df[df.side == "bid"], df[df.side == "ask"]
    assert bids.price.tolist() == [6.9e-6, 6.89e-6, 3.47e-6]  # high → low
    assert asks.price.tolist() == [6.92e-6, 6.93e-6, 6.2e-4]  # low → high
    assert bids.level.tolist() == [0, 1, 2] and asks.level.tolist() == [0, 1, 2]
    assert df.attrs["timestamp"] == pd.Timestamp(1589032904000, unit="ms", tz="UTC")
    assert list(df.columns) == ["venue", "symbol", "pair", "side", "level", "price", "amount"]
    assert set(df.venue) == {"cryptocom"} and set(df.symbol) == {"crobtc"}


def test_depth_accepts_ws_style_buys_key() -> None:
    df = v.parse_depth({"tick": {"asks": [[2, 1]], "buys": [[1, 3]], "time": 5}}, "x", 0)
    assert df[df.side == "bid"].amount.tolist() == [3.0]


def test_prices() -> None:
    df = v.parse_prices({"btcusdt": 15000, "ethusdt": "800"})
    assert df.loc["ethusdt", "price"] == 800.0 and df.price.dtype == np.float64


def test_builders() -> None:
    assert v.build_klines("btcusdt", parse_interval("1h")).params == {
        "symbol": "btcusdt",
        "period": "60",
    }
    assert v.build_depth("ethbtc", 2).params == {"symbol": "ethbtc", "type": "step2"}
    assert (
        v.build_tickers().path == "/v1/tickers"
        and v.build_tickers(legacy=True).path == "/v1/ticker"
    )
    with pytest.raises(InvalidArgument, match=r"\(0, 1, 2\)"):
        v.build_depth("btcusdt", 3)
