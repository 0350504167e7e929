"""The sandbox's Crypto.com user API: matching engine and ledger (direct), auth and limits (HTTP).

The HTTP checks use ``requests`` and the sandbox's own signer only, never mdkit's
client: they show that the sandbox refuses the signing mistakes it must catch.
"""

from __future__ import annotations

import hashlib
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
import requests

from mdkit.sandbox import Sandbox
from mdkit.sandbox.exchange import (
    DEMO_API_KEY,
    DEMO_SECRET_KEY,
    Exchange,
    SandboxError,
    UserAccount,
    expected_sign,
)
from mdkit.sandbox.market import Market
from tests.conftest import SAMPLES, Clock

T0 = 1_700_000_000.0


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def ex(clock: Clock) -> Exchange:
    return Exchange(Market(7, clock=clock))


def _d(x: float, places: int) -> Decimal:
    return Decimal(f"{x:.{places}f}")


def _future_trades(symbol: str, seconds: int) -> Any:
    """The trades the same seeded market prints in the next ``seconds`` after T0."""
    peek = Market(7, clock=lambda: T0 + seconds)
    return peek.trades(symbol, int(T0 * 1000) + 1, int((T0 + seconds) * 1000) + 1)


def _consistent(ex: Exchange, user: UserAccount) -> None:
    """locked == what open orders reserve, per coin; nothing negative."""
    reserved: dict[str, Decimal] = {}
    for o in user.orders:
        if o.status in (0, 1, 3):
            inst = ex.market.instrument(o.symbol)
            coin = inst.quote if o.side == "BUY" else inst.base
            reserved[coin] = reserved.get(coin, Decimal(0)) + o.reserved
    for coin in set(user.free) | set(user.locked):
        assert user.locked.get(coin, Decimal(0)) == reserved.get(coin, Decimal(0)), coin
        assert user.free.get(coin, Decimal(0)) >= 0 and user.locked.get(coin, Decimal(0)) >= 0


def test_doc_signing_vector_with_the_sandbox_signer() -> None:
    path = SAMPLES / "cryptocom_v1"
    vector = json.loads((path / "signing_vectors.json").read_text())["vectors"][0]
    assert expected_sign(vector["params"], vector["secret"]) == vector["sign"]


def test_limit_buy_walks_the_book_then_rests(ex: Exchange) -> None:
    user = ex.create({"usdt": "1000000", "btc": "1"})
    book = ex.market.book("btcusdt", T0)
    price = _d(book.asks[2][0], 2)
    taken = [_d(a, 6) for a in book.asks[:3, 1]]
    volume = sum(taken) + Decimal("0.5")
    order = ex.place(user, "btcusdt", "buy", 1, str(volume), str(price))
    assert [f.volume for f in order.fills] == taken
    assert [f.price for f in order.fills] == [_d(p, 2) for p in book.asks[:3, 0]]
    assert order.status == 3 and order.volume - order.deal_volume == Decimal("0.5")
    funds = sum(f.price * f.volume for f in order.fills)
    assert order.deal_funds == funds
    # price improvement on levels 0 and 1 is given back at once: locked = price × rest
    assert user.locked["usdt"] == price * Decimal("0.5")
    assert user.free["usdt"] + user.locked["usdt"] == Decimal(1000000) - funds
    fees = [(v * ex.fee_rate).quantize(Decimal("1E-8")) for v in taken]
    assert [f.fee for f in order.fills] == fees and order.fee == sum(fees)
    assert user.free["btc"] == 1 + sum(taken) - order.fee
    _consistent(ex, user)
    ex.cancel(user, "btcusdt", order.id)
    assert order.status == 4 and user.locked["usdt"] == 0
    assert user.free["usdt"] == Decimal(1000000) - funds
    _consistent(ex, user)


def test_resting_order_fills_from_market_trades(ex: Exchange, clock: Clock) -> None:
    user = ex.create({"usdt": "1000000"})
    book = ex.market.book("ltcusdt", T0)
    later = _future_trades("ltcusdt", 600)
    price = min(float(sorted(later.price)[len(later) // 2]), float(book.bids[0][0]))
    order = ex.place(user, "ltcusdt", "BUY", 1, "50", f"{price:.2f}")
    assert order.status == 1 and not order.fills  # below the ask: rests
    expected, left = [], Decimal(50)
    for p, a in zip(later.price, later.amount, strict=True):
        if p <= price and left > 0:
            take = min(_d(a, 3), left)
            expected.append(take)
            left -= take
    assert expected, "the market never traded through the price; pick another"
    clock.t = T0 + 600
    ex.advance()
    assert [f.volume for f in order.fills] == expected
    assert all(f.price == _d(price, 2) for f in order.fills)  # maker: its own price
    assert order.status == (2 if left == 0 else 3)
    _consistent(ex, user)
    ex.advance()  # the same trades never fill twice
    assert len(order.fills) == len(expected)


def test_resting_sell_fills_only_on_trades_at_or_above(ex: Exchange, clock: Clock) -> None:
    user = ex.create({"eth": "100"})
    later = _future_trades("ethusdt", 300)
    price = max(
        float(sorted(later.price)[len(later) // 2]), float(ex.market.book("ethusdt", T0).asks[0][0])
    )
    order = ex.place(user, "ethusdt", "SELL", 1, "100", f"{price:.2f}")
    clock.t = T0 + 300
    ex.advance()
    hits = [p for p in later.price if p >= price]
    assert len(order.fills) == len(hits) > 0
    assert user.locked["eth"] == order.volume - order.deal_volume
    _consistent(ex, user)


def test_market_buy_spends_quote_total(ex: Exchange) -> None:
    user = ex.create({"usdt": "5000"})
    order = ex.place(user, "ethusdt", "BUY", 2, "1000")
    assert order.status == 2 and order.fills
    assert Decimal(995) < order.deal_funds <= Decimal(1000)
    assert user.locked["usdt"] == 0 and user.free["usdt"] == Decimal(5000) - order.deal_funds
    assert user.free["eth"] == order.deal_volume - order.fee
    assert order.fee == pytest.approx(order.deal_volume * ex.fee_rate, abs=Decimal("1E-8") * 20)


def test_market_sell_walks_bids(ex: Exchange) -> None:
    user = ex.create({"btc": "1"})
    book = ex.market.book("btcusdt", T0)
    order = ex.place(user, "btcusdt", "sell", 2, "0.05")
    assert order.status == 2 and order.deal_volume == Decimal("0.05")
    assert order.fills[0].price == _d(book.bids[0][0], 2)
    assert user.free["usdt"] == order.deal_funds - order.fee
    assert abs(order.fee - order.deal_funds * ex.fee_rate) <= Decimal("1E-8") * len(order.fills)
    assert user.free["btc"] == Decimal("0.95") and user.locked["btc"] == 0


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("btcusdt", "BUY", 1, "100", "70000"), "110001"),  # balance not enough
        (("btcusdt", "BUY", 1, "0.0000001", "100"), "100004"),  # volume precision
        (("btcusdt", "BUY", 1, "0.1", "100.001"), "100004"),  # price precision
        (("btcusdt", "BUY", 1, "0.1", None), "100004"),  # price missing
        (("btcusdt", "HOLD", 1, "0.1", "100"), "100004"),
        (("nosuch", "BUY", 1, "0.1", "100"), "100004"),
        (("btcusdt", "BUY", 3, "0.1", "100"), "100004"),
        (("btcusdt", "BUY", 1, "-1", "100"), "100004"),
    ],
)
def test_place_refusals(ex: Exchange, args: tuple[Any, ...], code: str) -> None:
    user = ex.create({"usdt": "1000"})
    with pytest.raises(SandboxError) as info:
        ex.place(user, *args)
    assert info.value.code == code
    assert user.free["usdt"] == 1000 and user.locked["usdt"] == 0 and not user.orders


def test_cancel_errors(ex: Exchange) -> None:
    user = ex.create({"btc": "1"})
    order = ex.place(user, "btcusdt", "SELL", 2, "0.01")
    with pytest.raises(SandboxError, match="110003"):
        ex.cancel(user, "btcusdt", order.id)
    with pytest.raises(SandboxError, match="110002"):
        ex.cancel(user, "btcusdt", 1)


# -- HTTP ----------------------------------------------------------------------------
def _post(
    url: str,
    params: dict[str, str],
    secret: str,
    *,
    sign: str | None = None,
    stamp: float | None = None,
) -> requests.Response:
    p = dict(params, time=str(int((stamp or time.time()) * 1000)))
    p["sign"] = sign if sign is not None else expected_sign(p, secret)
    return requests.post(url, data=p, timeout=5)


@pytest.fixture
def sb() -> Any:
    with Sandbox(set_env=False) as sandbox:
        yield sandbox


def test_http_signature_variants(sb: Any) -> None:
    url = sb.cryptocom.rest_url + "/v1/allOrders"
    params = {
        "api_key": DEMO_API_KEY,
        "symbol": "btcusdt",
        "startDate": "2020-01-01 00:00:00",
        "page": "",
    }
    good = _post(url, params, DEMO_SECRET_KEY)
    assert good.json()["code"] == "0"
    stamp = time.time()
    p = dict(params, time=str(int(stamp * 1000)))
    wrong = {
        "empty values signed": "".join(f"{k}{p[k]}" for k in sorted(p)),
        "unsorted": "".join(f"{k}{v}" for k, v in p.items() if v),
        "url-encoded": "".join(f"{k}{quote(p[k])}" for k in sorted(p) if p[k]),
        "no secret": None,
    }
    for name, text in wrong.items():
        body = text if text is not None else "".join(f"{k}{p[k]}" for k in sorted(p) if p[k])
        secret = DEMO_SECRET_KEY if text is not None else ""
        digest = hashlib.sha256((body + secret).encode()).hexdigest()
        answer = _post(url, params, DEMO_SECRET_KEY, sign=digest, stamp=stamp)
        assert answer.status_code == 200, name
        assert answer.json() == {"code": "100005", "msg": "request sign illegal", "data": None}, (
            name
        )


def test_http_unknown_key_stale_time_and_user_rate(sb: Any) -> None:
    url = sb.cryptocom.rest_url + "/v1/account"
    assert _post(url, {"api_key": "nope"}, "x").status_code == 401
    stale = _post(url, {"api_key": DEMO_API_KEY}, DEMO_SECRET_KEY, stamp=time.time() - 60)
    assert stale.json()["code"] == "100010"
    other_key, other_secret = sb.accounts.create({"usdt": 1})
    codes = [_post(url, {"api_key": DEMO_API_KEY}, DEMO_SECRET_KEY).status_code for _ in range(10)]
    assert codes.count(429) >= 1  # the stale request above counted too: 11 in the window
    assert _post(url, {"api_key": other_key}, other_secret).status_code == 200  # per user


def test_http_wire_quirks(sb: Any) -> None:
    key, secret = sb.accounts.create({"btc": "1"})
    base = sb.cryptocom.rest_url
    made = _post(
        base + "/v1/order",
        {
            "api_key": key,
            "symbol": "btcusdt",
            "side": "SELL",
            "type": "1",
            "volume": "0.5",
            "price": "1000000",
        },
        secret,
    )
    oid = made.json()["data"]["order_id"]
    text = _post(base + "/v1/openOrders", {"api_key": key, "symbol": "btcusdt"}, secret).text
    assert '"code":"0"' in text and '"fee":0E-8' in text and '"side":"SELL"' in text
    assert '"volume":"0.50000000"' in text and '"resultList"' in text
    text = _post(base + "/v1/allOrders", {"api_key": key, "symbol": "btcusdt"}, secret).text
    assert '"orderList"' in text and '"count":1' in text
    gone = requests.delete(
        base + "/v1/order",
        data=_signed_form({"api_key": key, "symbol": "btcusdt", "order_id": str(oid)}, secret),
        timeout=5,
    )
    assert gone.json() == {"code": "0", "msg": "suc", "data": None}
    assert sb.accounts.balances(key)["btc"] == (Decimal(1), Decimal(0))


def _signed_form(params: dict[str, str], secret: str) -> dict[str, str]:
    p = dict(params, time=str(int(time.time() * 1000)))
    p["sign"] = expected_sign(p, secret)
    return p
