"""mdkit.Account against the sandbox over real sockets: every endpoint and error path."""

from __future__ import annotations

import logging
import pickle
import socket
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

import mdkit
from mdkit import Account
from mdkit.errors import (
    AuthError,
    InvalidArgument,
    NetworkError,
    RateLimitError,
    TradingDisabled,
    UnknownSymbol,
    VenueError,
)
from mdkit.sandbox import Sandbox
from mdkit.sandbox.cryptocom_account import DEMO_API_KEY, DEMO_BALANCES, DEMO_SECRET_KEY
from tests.conftest import Clock


@pytest.fixture
def sb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.setenv("MDKIT_RETRIES", "2")
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, Clock]]:
    """A sandbox whose market stands still (books and trades are known to the test);
    the signature clock stays real time."""
    monkeypatch.setenv("MDKIT_RETRIES", "2")
    clock = Clock(float(int(time.time())))
    with Sandbox(clock=clock) as sandbox:
        sandbox.accounts.clock = time.time
        yield sandbox, clock


def _secret_free(text: str, *secrets: str) -> None:
    for s in secrets:
        assert s not in text


def test_credentials_come_from_the_sandbox_env(sb: Sandbox) -> None:
    df = Account().balances()
    assert list(df.columns) == ["coin", "free", "locked", "btc_value"]
    assert [df[c].dtype for c in ("free", "locked", "btc_value")] == ["float64"] * 3
    got = dict(zip(df["coin"], df["free"], strict=True))
    assert got == {c: float(v) for c, v in DEMO_BALANCES.items()}
    assert (df["locked"] == 0).all() and df.attrs["total_btc"] > 0
    assert df.loc[df.coin == "btc", "btc_value"].item() == 2.0


def test_missing_credentials(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDKIT_CRYPTOCOM_API_KEY")
    monkeypatch.delenv("MDKIT_CRYPTOCOM_SECRET_KEY")
    served = sb.cryptocom.requests_served
    with pytest.raises(AuthError) as info:
        Account()
    assert "MDKIT_CRYPTOCOM_API_KEY" in str(info.value)
    assert "MDKIT_CRYPTOCOM_SECRET_KEY" in str(info.value)
    with pytest.raises(AuthError) as info:
        Account(api_key="k")
    assert "MDKIT_CRYPTOCOM_SECRET_KEY" in str(info.value)
    assert "MDKIT_CRYPTOCOM_API_KEY" not in str(info.value)
    assert sb.cryptocom.requests_served == served


def test_bad_signature_wrong_key_network_error_keep_secrets(sb: Sandbox) -> None:
    wrong_secret = "wrong-secret-" + "x" * 20
    with pytest.raises(AuthError) as info:
        Account(DEMO_API_KEY, wrong_secret).balances()
    assert info.value.code == "100005" and "MDKIT_CRYPTOCOM_SECRET_KEY" in str(info.value)
    _check_exception(info.value, DEMO_API_KEY, wrong_secret)

    unknown_key = "unknown-key-" + "y" * 20
    with pytest.raises(AuthError) as info:
        Account(unknown_key, DEMO_SECRET_KEY).balances()
    assert info.value.code == "HTTP 401" and "MDKIT_CRYPTOCOM_API_KEY" in str(info.value)
    _check_exception(info.value, unknown_key, DEMO_SECRET_KEY)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(NetworkError) as info:
        Account(DEMO_API_KEY, DEMO_SECRET_KEY, url=closed).balances()
    _check_exception(info.value, DEMO_API_KEY, DEMO_SECRET_KEY)


def _check_exception(exc: BaseException, *secrets: str) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    cause = exc.__cause__
    while cause is not None:
        text += repr(cause) + str(cause)
        cause = cause.__cause__
    _secret_free(text, *secrets)


def test_no_secret_in_logs_reprs_or_pickles(
    frozen: tuple[Sandbox, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    sb, _ = frozen
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    acct = Account(trading=True)
    oid = acct.place_order("btcusdt", "buy", 0.01, price=1000)
    detail = acct.order("btcusdt", oid)
    orders = acct.all_orders("btcusdt")
    acct.cancel_all("btcusdt")
    with pytest.raises(AuthError):
        Account(DEMO_API_KEY, "bad-secret-zzzzzzzz").balances()
    with pytest.raises(AuthError):
        Account("bad-key-zzzzzzzz", DEMO_SECRET_KEY).balances()
    # the capture works: request lines (with their URLs) and our info lines are in it
    assert "POST /cryptocom/v1/order" in caplog.text and "placed" in caplog.text
    assert "/v1/account" in caplog.text
    secrets = (DEMO_API_KEY, DEMO_SECRET_KEY, "bad-secret-zzzzzzzz", "bad-key-zzzzzzzz")
    _secret_free(caplog.text, *secrets)
    for shown in (
        repr(acct),
        str(acct),
        repr(acct._credentials),
        repr(detail),
        str(detail),
        repr(orders.attrs),
        repr(vars(acct)),
    ):
        _secret_free(shown, DEMO_API_KEY, DEMO_SECRET_KEY)
    for frame in (orders, detail.order, detail.trades, acct.balances()):
        _secret_free(pickle.dumps(frame).decode("latin-1"), DEMO_API_KEY, DEMO_SECRET_KEY)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(acct)


def test_trading_disabled_and_validation_before_any_request(sb: Sandbox) -> None:
    acct = Account()
    mdkit.symbols()  # warm the symbol cache so that no request at all is expected
    served = sb.cryptocom.requests_served
    for call in (
        lambda: acct.place_order("btcusdt", "buy", 1, price=1),
        lambda: acct.cancel_order("btcusdt", 1),
        lambda: acct.cancel_all("btcusdt"),
    ):
        with pytest.raises(TradingDisabled, match="trading=True"):
            call()
    trader = Account(trading=True)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"side": "hold"}, "buy, sell"),
        ({"type": "stop"}, "limit, market"),
        ({"amount": 0}, "positive"),
        ({"amount": -1}, "positive"),
        ({"price": None}, "required"),
        ({"type": "market", "price": 5}, "no price"),
        ({"price": "abc"}, "positive"),
    ]
    for change, message in bad:
        kwargs: dict[str, Any] = {"symbol": "btcusdt", "side": "buy", "amount": 1, "price": 1}
        kwargs.update(change)
        with pytest.raises(InvalidArgument, match=message):
            trader.place_order(**kwargs)
    with pytest.raises(UnknownSymbol, match="btcusdt"):
        trader.place_order("btcusdtt", "buy", 1, price=1)
    with pytest.raises(InvalidArgument):
        trader.order("btcusdt", -3)
    with pytest.raises(InvalidArgument):
        trader.all_orders("btcusdt", start="2024-02-01", end="2024-01-01")
    assert sb.cryptocom.requests_served == served
    with pytest.raises(InvalidArgument, match="doc, live"):
        Account(cancel_endpoint="post")


def test_place_partial_fill_cancel_keeps_balances_consistent(frozen: tuple[Sandbox, Clock]) -> None:
    sb, clock = frozen
    key, secret = sb.accounts.create({"usdt": "1000000", "btc": "1"})
    acct = Account(key, secret, trading=True)
    book = sb.market.book("btcusdt", clock.t)
    price = round(float(book.asks[2][0]), 2)
    level_sum = round(float(book.asks[:3, 1].sum()), 6)
    start = {"usdt": 1_000_000.0, "btc": 1.0}

    def check(buy_funds: float, bought: float, fee: float, locked_usdt: float) -> None:
        bal = acct.balances().set_index("coin")
        assert bal.loc["usdt", "free"] + bal.loc["usdt", "locked"] == pytest.approx(
            start["usdt"] - buy_funds, abs=1e-6
        )
        assert bal.loc["usdt", "locked"] == pytest.approx(locked_usdt, abs=1e-6)
        assert bal.loc["btc", "free"] + bal.loc["btc", "locked"] == pytest.approx(
            start["btc"] + bought - fee, abs=1e-8
        )
        ledger = sb.accounts.balances(key)
        assert float(ledger["usdt"][1]) == pytest.approx(locked_usdt, abs=1e-9)
        free, locked = ledger["btc"]
        assert float(free + locked) == pytest.approx(start["btc"] + bought - fee, abs=1e-12)

    check(0, 0, 0, 0)
    oid = acct.place_order("BTC/USDT", "BUY", round(level_sum + 0.5, 6), price=price)
    assert isinstance(oid, int)
    detail = acct.order("btcusdt", oid)
    row = detail.order.iloc[0]
    assert detail.status == "PART_FILLED" and row["deal_volume"] == pytest.approx(level_sum)
    assert row["remain_volume"] == pytest.approx(0.5)
    assert len(detail.trades) == 3 and detail.trades["fee_coin"].eq("btc").all()
    assert detail.trades["deal_price"].sum() == pytest.approx(row["deal_price"])
    check(row["deal_price"], row["deal_volume"], row["fee"], price * 0.5)
    # a resting sell locks base
    sell = acct.place_order("btcusdt", "sell", 0.25, price=round(price * 2, 2))
    bal = acct.balances().set_index("coin")
    assert bal.loc["btc", "locked"] == pytest.approx(0.25)
    acct.cancel_order("btcusdt", oid)
    acct.cancel_order("btcusdt", sell)
    assert acct.order("btcusdt", oid).status == "CANCELED"
    check(row["deal_price"], row["deal_volume"], row["fee"], 0)
    assert acct.balances()["locked"].eq(0).all()
    with pytest.raises(VenueError) as info:
        acct.cancel_order("btcusdt", oid)
    assert info.value.code == "110003"


def test_both_cancel_endpoints_and_cancel_all(frozen: tuple[Sandbox, Clock]) -> None:
    sb, _ = frozen
    doc = Account(trading=True)
    live = Account(trading=True, cancel_endpoint="live")
    sb.accounts.cancel_paths = {"doc", "live"}  # a server that serves both
    ids = [doc.place_order("ethusdt", "buy", 0.1, price=100) for _ in range(4)]
    doc.cancel_order("ethusdt", ids[0])  # DELETE /v1/order
    live.cancel_order("ethusdt", ids[1])  # POST /v1/orders/cancel
    status = doc.all_orders("ethusdt").set_index("id")["status_name"]
    assert status[ids[0]] == status[ids[1]] == "CANCELED"
    assert status[ids[2]] == status[ids[3]] == "NEW"
    doc.cancel_all("ethusdt")
    assert doc.open_orders("ethusdt").empty
    assert sb.accounts.balances(DEMO_API_KEY)["usdt"][1] == 0


@pytest.mark.parametrize(("served", "first"), [("live", "doc"), ("doc", "live")])
def test_cancel_falls_back_to_the_other_endpoint_on_404(
    frozen: tuple[Sandbox, Clock], served: str, first: str
) -> None:
    # The doc says DELETE /v1/order; the live API's clients used POST /v1/orders/cancel.
    # A server with only one of them answers 404 to the other: the cancel still works.
    sb, _ = frozen
    sb.accounts.cancel_paths = {served}
    try:
        acct = Account(trading=True, cancel_endpoint=first)
        oid = acct.place_order("ethusdt", "buy", 0.1, price=100)
        acct.cancel_order("ethusdt", oid)
        assert acct.order("ethusdt", oid).status == "CANCELED"
        assert acct.cancel_endpoint == served  # remembered for the next cancel
    finally:
        sb.accounts.cancel_paths = {"doc"}


@pytest.mark.parametrize("server_hours", [-5, 0, 8])
def test_dates_work_whatever_timezone_the_server_reads_them_in(
    frozen: tuple[Sandbox, Clock], server_hours: float
) -> None:
    # The doc does not say in which timezone startDate/endDate are read. A server on
    # UTC-5 read "1 hour ago" (UTC) as 4 hours ahead and answered nothing.
    sb, clock = frozen
    sb.accounts.date_offset_hours = server_hours
    try:
        acct = Account(trading=True)
        oid = acct.place_order("ethusdt", "buy", 0.1, price=100)
        got = acct.all_orders("ethusdt", start="1 hour ago")
        assert oid in set(got["id"])
        assert (got["created_at"] >= pd.Timestamp.now("UTC") - pd.Timedelta(hours=1)).all()
        ahead = pd.Timestamp.fromtimestamp(clock.t, "UTC") + pd.Timedelta(minutes=1)
        assert acct.all_orders("ethusdt", start=ahead).empty  # clipped to what was asked
    finally:
        sb.accounts.date_offset_hours = 0.0


def test_paging_walks_every_page(frozen: tuple[Sandbox, Clock]) -> None:
    sb, _ = frozen
    acct = Account(trading=True, page_size=3)
    resting = [acct.place_order("ethusdt", "buy", 0.1, price=100 + i) for i in range(7)]
    for _ in range(7):
        acct.place_order("ethusdt", "sell", 0.02, type="market")
    served = sb.cryptocom.requests_served
    opened = acct.open_orders("ethusdt")
    assert sb.cryptocom.requests_served - served == 3  # 3 + 3 + 1
    assert sorted(opened["id"]) == resting and opened["status_name"].eq("NEW").all()
    assert opened["created_at"].is_monotonic_increasing
    soon = pd.Timestamp.now(tz="UTC") + pd.Timedelta("1min")
    everything = acct.all_orders("ethusdt", start="10 minutes ago", end=soon)
    assert len(everything) == 14 and everything["id"].is_unique
    assert (everything["type_name"] == "market").sum() == 7
    fills = acct.my_trades("ethusdt", start="1 hour ago")
    assert len(fills) >= 7 and fills["id"].is_unique
    assert fills["side"].eq("sell").all() and fills["ask_id"].notna().all()
    assert str(fills["ctime"].dtype) == "datetime64[ns, UTC]"
    past = acct.all_orders("ethusdt", end="2020-01-01")
    assert past.empty and "status_name" in past.columns


def test_stale_time_is_corrected_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MDKIT_RETRIES", "0")
    with Sandbox(clock=lambda: time.time() + 120):
        acct = Account()
        assert acct.balances()["free"].sum() > 0
        # The server's 120 s, measured over one round trip (slow on a loaded machine).
        assert acct.clock_offset_ms == pytest.approx(120_000, abs=10_000)
        acct.balances()  # stays in sync


def test_time_rejected_after_correction_says_so(sb: Sandbox) -> None:
    sb.accounts.clock = lambda: time.time() + 300  # a broken server clock
    acct = Account()
    with pytest.raises(VenueError, match="still rejects the request time") as info:
        acct.balances()
    assert info.value.code == "100010"
    # The correction measured the real clock, not the broken one (300 s off); the
    # bound leaves room for a slow round trip on a loaded machine.
    assert abs(acct.clock_offset_ms) < 30_000


def test_rate_limited_after_retries(sb: Sandbox) -> None:
    acct = Account()
    sb.cryptocom.inject("http_429", times=3, path="/v1/account", retry_after=0.01)
    with pytest.raises(RateLimitError, match="429"):
        acct.balances()  # MDKIT_RETRIES=2: three attempts, three 429s
    sb.cryptocom.inject("http_429", times=2, path="/v1/account", retry_after=0.01)
    assert not acct.balances().empty  # the third attempt gets through


def test_client_keeps_to_the_user_rate(sb: Sandbox) -> None:
    acct = Account()
    started = time.monotonic()
    for _ in range(13):
        acct.balances()  # the sandbox answers 429 beyond 10/s per user; none is seen
    assert time.monotonic() - started >= 0.9
