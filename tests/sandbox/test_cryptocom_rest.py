"""The sandbox speaks the doc's wire format with the live API's quirks."""

from __future__ import annotations

import re
import time

import orjson
import requests

from mdkit.sandbox import Sandbox
from tests.conftest import FACTOR


def get(sb: Sandbox, path: str, **params: str) -> requests.Response:
    """GET from the sandbox; a 429 (the venue's 10 requests/s per IP, which the session's
    earlier tests share) is waited out as its Retry-After says, up to a deadline."""
    deadline = time.monotonic() + 10 * FACTOR
    while True:
        response = requests.get(sb.cryptocom.rest_url + path, params=params, timeout=5)
        if response.status_code != 429 or time.monotonic() > deadline:
            return response
        time.sleep(float(response.headers.get("Retry-After") or 0.1))


def test_envelope_code_is_a_string(sandbox: Sandbox) -> None:
    body = orjson.loads(get(sandbox, "/v1/symbols").content)
    assert body["code"] == "0" and body["msg"] == "suc"
    assert {"symbol", "count_coin", "base_coin", "price_precision", "amount_precision"} <= set(
        body["data"][0]
    )


def test_tickers_carry_16_decimal_strings(sandbox: Sandbox) -> None:
    text = get(sandbox, "/v1/tickers").text
    assert re.search(r'"last":"\d+\.\d{16}"', text)
    doc = orjson.loads(text)["data"]
    assert isinstance(doc["date"], int) and len(doc["ticker"]) == 8


def test_symbol_less_ticker_is_the_all_markets_form(sandbox: Sandbox) -> None:
    doc = orjson.loads(get(sandbox, "/v1/ticker").content)["data"]
    assert "ticker" in doc and "date" in doc


def test_trades_have_trailing_zero_numbers_newest_first(sandbox: Sandbox) -> None:
    text = get(sandbox, "/v1/trades", symbol="btcusdt").text
    assert re.search(r'"price":\d+\.\d{16},', text)
    items = orjson.loads(text)["data"]
    assert len(items) == 200 and items[0]["id"] > items[-1]["id"]
    assert {"amount", "price", "ctime", "id", "type"} == set(items[0])


def test_kline_times_are_seconds(sandbox: Sandbox) -> None:
    rows = orjson.loads(get(sandbox, "/v1/klines", symbol="btcusdt", period="5").content)["data"]
    assert len(rows) == 300 and len(rows[0]) == 6
    assert 1e9 < rows[0][0] < 1e10 and rows[1][0] - rows[0][0] == 300


def test_depth_time_is_null_and_bids_key(sandbox: Sandbox) -> None:
    tick = orjson.loads(get(sandbox, "/v1/depth", symbol="ethbtc", type="step1").content)["data"][
        "tick"
    ]
    assert tick["time"] is None and "bids" in tick and "asks" in tick


def test_bad_parameters_answer_100004(sandbox: Sandbox) -> None:
    for path, params in [
        ("/v1/klines", {"symbol": "btcusdt", "period": "2"}),
        ("/v1/depth", {"symbol": "btcusdt", "type": "step9"}),
        ("/v1/trades", {}),
    ]:
        body = orjson.loads(get(sandbox, path, **params).content)
        assert body == {"code": "100004", "msg": "request parameter illegal", "data": None}


def test_unknown_symbol_is_http_500_and_unknown_path_404(sandbox: Sandbox) -> None:
    assert get(sandbox, "/v1/trades", symbol="nopeusdt").status_code == 500
    assert get(sandbox, "/v1/nothing").status_code == 404
