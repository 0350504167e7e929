"""Pure tests of the Crypto.com v1 user API venue module: signing, builders, parsers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest

from mdkit.errors import InvalidArgument, ProtocolError, VenueError
from mdkit.venues import cryptocom_user as u
from mdkit.venues.cryptocom import parse_envelope
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def samples() -> Path:
    """The recorded Crypto.com v1 samples (tests/samples, found through conftest)."""
    path = SAMPLES / "cryptocom_v1"
    assert path.is_dir(), f"samples not found at {path}"
    return path


@pytest.fixture(scope="module")
def vector(samples: Path) -> dict[str, Any]:
    vectors = json.loads((samples / "signing_vectors.json").read_text())["vectors"]
    return next(v for v in vectors if v["id"] == "cdc_v1_doc_example")


@pytest.fixture(scope="module")
def recorded(samples: Path) -> dict[str, str]:
    doc = json.loads((samples / "rest_recorded.json").read_text())
    return {s["id"]: s["raw"] for s in doc["samples"]}


def test_sign_matches_doc_vector(vector: dict[str, Any]) -> None:
    assert u.sign(vector["params"], vector["secret"]) == vector["sign"]
    expected = hashlib.sha256(vector["string_to_hash"].encode()).hexdigest()
    assert u.sign(vector["params"], vector["secret"]) == expected


def test_sign_ignores_sign_and_empty_values(vector: dict[str, Any]) -> None:
    params = dict(vector["params"], sign="whatever", symbol="", price=None)
    assert u.sign(params, vector["secret"]) == vector["sign"]


def _wrong_empty(params: dict[str, str], secret: str) -> str:
    text = "".join(f"{k}{params[k]}" for k in sorted(params))
    return hashlib.sha256((text + secret).encode()).hexdigest()


def _wrong_unsorted(params: dict[str, str], secret: str) -> str:
    text = "".join(f"{k}{v}" for k, v in params.items())
    return hashlib.sha256((text + secret).encode()).hexdigest()


def _wrong_encoded(params: dict[str, str], secret: str) -> str:
    text = "".join(f"{k}{quote(params[k])}" for k in sorted(params) if params[k])
    return hashlib.sha256((text + secret).encode()).hexdigest()


@pytest.mark.parametrize("wrong", [_wrong_empty, _wrong_unsorted, _wrong_encoded])
def test_known_wrong_signing_variants_differ(wrong: Any) -> None:
    # Parameters chosen so that each known mistake changes the signed text.
    params = {
        "time": "1573789761928",
        "symbol": "btcusdt",
        "api_key": "mZhlB7z8dDXXdL74uwoIoqAtPQSpY6Mk",
        "startDate": "2020-01-01 00:00:00",
        "page": "",
    }
    secret = "qg7fPyVj43tvfWBX83pSB7s8ZajHD1ve"
    assert u.sign(params, secret) != wrong(params, secret)


def test_signed_adds_key_time_sign_and_drops_empty() -> None:
    out = u.signed({"symbol": "btcusdt", "price": None, "page": ""}, "K", "S", 1234)
    assert set(out) == {"symbol", "api_key", "time", "sign"}
    assert out["time"] == "1234"
    assert out["sign"] == hashlib.sha256(b"api_keyKsymbolbtcusdttime1234S").hexdigest()


def test_builders() -> None:
    r = u.build_create_order("btcusdt", "buy", "0.5", order_type=1, price="100")
    assert (r.method, r.path, r.signed) == ("POST", "/v1/order", True)
    assert r.params == {
        "symbol": "btcusdt",
        "side": "BUY",
        "type": "1",
        "volume": "0.5",
        "price": "100",
    }
    market = u.build_create_order("btcusdt", "sell", "1", order_type=2, price="100")
    assert "price" not in market.params
    assert (u.build_cancel_order("x", 5).method, u.build_cancel_order("x", 5).path) == (
        "DELETE",
        "/v1/order",
    )
    live = u.build_cancel_order("x", 5, "live")
    assert (live.method, live.path, live.params["order_id"]) == ("POST", "/v1/orders/cancel", "5")
    with pytest.raises(InvalidArgument, match="doc, live"):
        u.build_cancel_order("x", 5, "nope")
    start = pd.Timestamp("2024-03-01 12:34:56.789", tz="Europe/Paris")
    r = u.build_all_orders("btcusdt", 2, 50, start, None)
    assert r.params == {
        "symbol": "btcusdt",
        "page": "2",
        "pageSize": "50",
        # 11:34:56 UTC, sent 14 h earlier: the doc does not say the server's timezone.
        "startDate": "2024-02-29 21:34:56",
    }
    assert u.build_my_trades("btcusdt").path == "/v1/myTrades"
    assert u.build_open_orders("btcusdt").params["page"] == "1"
    assert u.build_cancel_all("ethbtc").path == "/v1/cancelAllOrders"
    assert u.build_show_order("ethbtc", 9).params == {"symbol": "ethbtc", "order_id": "9"}
    assert u.build_account().params == {}


@pytest.mark.parametrize(
    ("value", "text"), [(1e-5, "0.00001"), ("0.0010", "0.001"), (3, "3"), (0.1, "0.1")]
)
def test_format_amount(value: Any, text: str) -> None:
    assert u.format_amount(value) == text


@pytest.mark.parametrize("value", [0, -1, "abc", float("nan"), float("inf"), True, None])
def test_format_amount_rejects(value: Any) -> None:
    with pytest.raises(InvalidArgument):
        u.format_amount(value)


def test_parse_open_orders_sample(recorded: dict[str, str]) -> None:
    items, count = u.parse_page(parse_envelope(recorded["open_orders"]))
    assert count == 1
    df = u.parse_orders(items, "ethusdt", source="rest:/v1/openOrders")
    row = df.iloc[0]
    assert row["id"] == 68087073 and df["id"].dtype == "int64"
    assert row["side"] == "sell" and isinstance(df["side"].dtype, pd.CategoricalDtype)
    assert list(df["side"].cat.categories) == ["buy", "sell"]
    assert row["status"] == 1 and row["status_name"] == "NEW"
    assert row["type"] == 1 and row["type_name"] == "limit"
    for col in ("price", "volume", "total_price", "fee", "deal_price", "remain_volume"):
        assert df[col].dtype == "float64", col
    assert row["price"] == 230.33 and row["total_price"] == pytest.approx(1.082551)
    assert (row["base_coin"], row["count_coin"], row["fee_coin"]) == ("eth", "usdt", "usdt")
    assert str(df["created_at"].dtype) == "datetime64[ns, UTC]"
    assert row["created_at"] == pd.Timestamp(1589044302000, unit="ms", tz="UTC")
    assert "countCoin" not in df.columns and "baseCoin" not in df.columns
    assert df.attrs == {"venue": "cryptocom", "source": "rest:/v1/openOrders", "symbol": "ethusdt"}


def test_parse_all_orders_uses_order_list(recorded: dict[str, str]) -> None:
    items, count = u.parse_page(parse_envelope(recorded["all_orders"]))
    assert count == 1 and len(items) == 1 and items[0]["id"] == 68087073


def test_parse_my_trades_sample(recorded: dict[str, str]) -> None:
    items, _ = u.parse_page(parse_envelope(recorded["my_trades"]))
    df = u.parse_fills(items, "ethusdt")
    row = df.iloc[0]
    assert row["side"] == "sell" and row["type"] == "sell"  # SELL and Sell
    assert row["volume"] == 0.0047 and row["fee"] == 0.0 and row["deal_price"] == 1.0
    assert row["ask_id"] == 68117598 and row["fee_coin"] == "usdt"
    assert row["ctime"] == pd.Timestamp(1589046006000, unit="ms", tz="UTC")


def test_parse_show_order_with_bare_0e8(recorded: dict[str, str]) -> None:
    raw = recorded["show_order_filled_2019"]
    assert '"fee":0E-8' in raw  # the quirk this test is about
    order, fills = u.parse_order_detail(json.loads(raw), "btcusdt")
    row = order.iloc[0]
    assert row["fee"] == 0.0 and order["fee"].dtype == "float64"
    assert row["deal_price"] == pytest.approx(9.74425)
    assert row["status_name"] == "FILLED" and row["side"] == "sell"
    # ms precision is kept exactly (no float blur in the last digits)
    assert row["created_at"] == pd.Timestamp(1571971998681, unit="ms", tz="UTC")
    assert list(fills["id"]) == [6224] and fills.iloc[0]["side"] == "sell"
    assert "trade_list" not in order.columns and "tradeList" not in order.columns


def test_parse_show_order_canceled_envelope(recorded: dict[str, str]) -> None:
    order, fills = u.parse_order_detail(parse_envelope(recorded["show_order_canceled"]), "ethusdt")
    assert order.iloc[0]["status_name"] == "CANCELED" and fills.empty
    assert list(fills.columns[:3]) == ["id", "ctime", "side"]


def test_parse_create_order(recorded: dict[str, str]) -> None:
    assert u.parse_order_id(parse_envelope(recorded["create_order"])) == 67952563
    with pytest.raises(ProtocolError):
        u.parse_order_id({"id": 1})


def test_parse_balances_doc_example() -> None:
    data = {
        "total_asset": 432323.23,
        "coin_list": [
            {"normal": 32323.233, "locked": 1.5, "btcValuatin": 112.33, "coin": "BTC"},
            {"normal": "0E-8", "locked": "0.00000000", "btcValuatin": "0", "coin": "ltc"},
        ],
    }
    df = u.parse_balances(data)
    assert list(df.columns) == ["coin", "free", "locked", "btc_value"]
    assert list(df["coin"]) == ["btc", "ltc"]
    assert df["free"].tolist() == [32323.233, 0.0] and df["locked"].dtype == "float64"
    assert df.attrs["total_btc"] == 432323.23
    with pytest.raises(ProtocolError):
        u.parse_balances({"coins": []})


def test_empty_orders_keep_schema() -> None:
    df = u.parse_orders([], "btcusdt")
    assert df.empty
    assert {"id", "side", "status", "status_name", "type_name", "price", "created_at"} <= set(
        df.columns
    )
    assert df["price"].dtype == "float64" and df["id"].dtype == "int64"


def test_unknown_side_is_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        u.parse_orders([{"id": 1, "side": "HOLD", "status": 1, "type": 1}], "btcusdt")


def test_time_error_recognition(recorded: dict[str, str]) -> None:
    assert u.is_time_error(VenueError("100010", "request time expired"))
    assert u.is_time_error(
        VenueError("999", "Timestamp for this request is outside recvWindow time sync")
    )
    with pytest.raises(VenueError) as info:
        parse_envelope(recorded["error_100004"])
    assert not u.is_time_error(info.value)
