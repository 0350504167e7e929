"""The REST engine's failure handling, against real faults from the sandbox."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

import mdkit
from mdkit.engine import rest
from mdkit.errors import NetworkError, ProtocolError, RateLimitError, VenueError
from mdkit.sandbox import Sandbox
from mdkit.venues import cryptocom


def test_429_storm_is_retried_then_succeeds(sandbox: Sandbox) -> None:
    sandbox.cryptocom.inject("http_429", times=3, path="/v1/klines")
    before = sandbox.cryptocom.requests_served
    df = mdkit.klines("btcusdt", "1min")
    assert len(df) == 300
    assert sandbox.cryptocom.requests_served - before >= 4


def test_429_after_every_retry_is_a_rate_limit_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MDKIT_RETRIES", "2")
    sandbox.cryptocom.inject("http_429", times=3, path="/v1/trades")
    with pytest.raises(RateLimitError, match="429"):
        mdkit.trades("btcusdt")


def test_503_is_retried(sandbox: Sandbox) -> None:
    sandbox.cryptocom.inject("http_503", times=2, path="/v1/ticker/price")
    before = sandbox.cryptocom.requests_served
    assert len(mdkit.prices()) > 0
    assert sandbox.cryptocom.requests_served - before == 3  # two 503s, then the answer


def test_dropped_connection_is_retried(sandbox: Sandbox) -> None:
    sandbox.cryptocom.inject("http_drop", times=1, path="/v1/tickers")
    assert len(mdkit.tickers()) > 0


def test_http_500_for_a_symbol_says_the_symbol_may_be_unknown(sandbox: Sandbox) -> None:
    # The client's symbol check passes (the cache lists it); the venue then answers 500,
    # as the live API did for an unknown symbol.
    sandbox.cryptocom.inject("http_500", times=1, path="/v1/depth")
    with pytest.raises(VenueError) as info:
        mdkit.depth("btcusdt")
    assert info.value.code == "HTTP 500" and "btcusdt" in str(info.value)
    assert "mdkit.symbols()" in str(info.value)


def test_unknown_symbol_500_straight_from_the_server(sandbox: Sandbox) -> None:
    raw = requests.get(
        sandbox.cryptocom.rest_url + "/v1/depth", params={"symbol": "nope", "type": "step0"}
    )
    assert raw.status_code == 500  # what the live API did, not a 404
    with pytest.raises(VenueError) as info:
        rest.send(
            sandbox.cryptocom.rest_url,
            "GET",
            "/v1/depth",
            {"symbol": "nope", "type": "step0"},
            explain_500="is 'nope' listed?",
        )
    assert info.value.code == "HTTP 500" and "'nope'" in str(info.value)


def test_timeout_becomes_network_error(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDKIT_TIMEOUT", "0.3")
    monkeypatch.setenv("MDKIT_RETRIES", "1")
    sandbox.cryptocom.inject("http_slow", times=2, path="/v1/ticker/price", delay=1.0)
    with pytest.raises(NetworkError, match="Timeout"):
        mdkit.prices()


def test_malformed_body_is_a_protocol_error(sandbox: Sandbox) -> None:
    sandbox.cryptocom.inject("http_malformed", times=1, path="/v1/klines")
    with pytest.raises(ProtocolError, match="not JSON"):
        mdkit.klines("btcusdt", "1min")


def test_non_zero_code_is_a_venue_error(sandbox: Sandbox) -> None:
    # HTTP 200 with {"code":"100004",...}: the envelope carries the error.
    resp = rest.send(
        sandbox.cryptocom.rest_url, "GET", "/v1/klines", {"symbol": "btcusdt", "period": "7"}
    )
    assert resp.status == 200
    with pytest.raises(VenueError) as info:
        cryptocom.parse_envelope(resp.body)
    assert info.value.code == "100004" and info.value.msg == "request parameter illegal"


def test_connection_refused_is_a_network_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDKIT_RETRIES", "1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NetworkError, match="ConnectionError"):
        mdkit.prices(url=f"http://127.0.0.1:{port}")


def test_client_rate_limit_keeps_under_the_venue_limit() -> None:
    # A fresh sandbox: nothing else has spent its per-IP window.
    with Sandbox(set_env=False) as fresh:
        url = fresh.cryptocom.rest_url
        threads = [threading.Thread(target=mdkit.prices, kwargs={"url": url}) for _ in range(4)]
        for _ in range(4):
            mdkit.prices(url=url)
        for t in threads:
            t.start()
        for _ in range(14):
            mdkit.symbols(url=url)
        for t in threads:
            t.join()
        # every request was served (a read timeout under load may add a retry) and the
        # client kept under the venue's limit: not one 429
        assert fresh.cryptocom.requests_served >= 22
        assert fresh.cryptocom.rate_limited == 0


def test_sandbox_enforces_ten_per_second() -> None:
    with Sandbox(set_env=False) as fresh, requests.Session() as s:
        statuses = [s.get(fresh.cryptocom.rest_url + "/v1/symbols").status_code for _ in range(25)]
        assert statuses[:10] == [200] * 10 and 429 in statuses
        limited = s.get(fresh.cryptocom.rest_url + "/v1/symbols")
        if limited.status_code == 429:
            assert limited.headers["Content-Type"].startswith("text/plain")  # non-JSON body
            assert "Retry-After" in limited.headers
    policy = rest.RetryPolicy()
    assert policy.delay(10) <= policy.backoff_cap
    assert policy.delay(0, retry_after=0.5) == 0.5
    assert policy.delay(0, retry_after=60) == policy.backoff_cap


def test_no_raw_requests_exception_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDKIT_RETRIES", "0")
    with pytest.raises(NetworkError):
        mdkit.symbols(url="http://256.0.0.1:1")
