"""Every venue server writes exact grid decimals, and its books are never crossed.

A real capture per venue (trades and book of one symbol); every frame as received
is parsed with numbers kept as their text, and every price and amount field must be
a plain decimal (no exponent) whose value lies on the instrument's tick/lot grid
(issue 10). The same capture's ``book(5)`` is never crossed (book increments send
removals before additions).
"""

from __future__ import annotations

import json
import os
import urllib.request
import zlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import mdkit
from mdkit.sandbox import Sandbox
from tests.conftest import Clock

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))

# venue, symbol, price fields, amount fields, book-level list fields ([price, amount])
CASES = [
    ("cryptocom", "btcusdt", {"price"}, {"vol", "volume"}, {"asks", "buys"}),
    ("bitget", "BTCUSDT", {"price"}, {"size"}, {"asks", "bids"}),
    ("itick", "BTCUSDT", {"ld", "p"}, {"v", "o"}, set()),
    ("bittap", "BTC-USDT", {"p"}, {"q"}, {"asks", "bids"}),
    ("richamster", "BTC/UAH", {"unit_price"}, {"volume"}, set()),
]


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    # Richamster's UAH pairs are thin: more trades so a short capture sees some.
    with Sandbox(
        seed=5, trades_per_second=60, cryptocom_options={"depth_mode": "incremental"}
    ) as box:
        yield box


def _frames(cap: mdkit.Capture) -> list[Any]:
    out = []
    for payload in cap.raw["payload"]:
        if not payload:
            continue
        if payload[:2] == b"\x1f\x8b":
            payload = zlib.decompress(payload, 31)
        try:
            out.append(json.loads(payload, parse_float=str, parse_int=str))
        except ValueError:
            continue  # pings in plain text
    return out


def _on_grid(text: Any, places: int) -> bool:
    if not isinstance(text, str) or "e" in text.lower():
        return False
    value = Decimal(text)
    return (value * Decimal(10) ** places) % 1 == 0


def _check(obj: Any, prices: set[str], amounts: set[str], books: set[str], pp: int, ap: int,
           seen: list[int]) -> None:  # fmt: skip
    if isinstance(obj, list):
        for item in obj:
            _check(item, prices, amounts, books, pp, ap, seen)
        return
    if not isinstance(obj, dict):
        return
    for key, value in obj.items():
        if key in prices and not isinstance(value, (dict, list)):
            assert _on_grid(value, pp), (key, value)
            seen[0] += 1
        elif key in amounts and not isinstance(value, (dict, list)):
            assert _on_grid(value, ap), (key, value)
            seen[1] += 1
        elif key in books and isinstance(value, list) and value and isinstance(value[0], list):
            for level in value:
                assert _on_grid(level[0], pp) and _on_grid(level[1], ap), (key, level)
                seen[0] += 1
        else:
            _check(value, prices, amounts, books, pp, ap, seen)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_price_and_amount_is_on_the_grid_and_books_never_cross(
    sb: Sandbox, case: tuple[str, str, set[str], set[str], set[str]]
) -> None:
    venue, symbol, prices, amounts, books = case
    inst = getattr(sb, venue).view.instrument(symbol)
    cap = mdkit.capture(venue, symbol, ["trades", "book"], seconds=4.0 * FACTOR)
    seen = [0, 0]
    for frame in _frames(cap):
        _check(frame, prices, amounts, books, inst.price_precision, inst.amount_precision, seen)
    assert seen[0] > 20 and seen[1] > 20, seen  # the check saw real traffic
    assert len(cap.trades) > 0
    top = cap.book(5)
    assert len(top) > 1 and top.attrs["crossed"] == 0


def _get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=10) as reply:
        return json.loads(reply.read(), parse_float=str, parse_int=str)["data"]


def test_rest_aggregates_are_exact_decimals_and_bars_add_up() -> None:
    # Issue 16: a 24 h volume summed in floats read "39695340.09999999" (step 0.1).
    # Every aggregate is summed in integer lots: on the grid, and an hour's volume is
    # exactly its minutes' (a frozen clock: both pages see the same tape).
    with Sandbox(seed=5, clock=Clock(1_765_012_345.6)) as box:
        base = box.cryptocom.rest_url.rstrip("/")
        instruments = box.cryptocom.view.instruments
        for item in _get(base, "/v1/tickers")["ticker"]:
            inst = instruments[item["symbol"]]
            assert _on_grid(item["vol"], inst.amount_precision), item
            assert _on_grid(item["high"], inst.price_precision), item
        for symbol in ("xrpusdt", "crobtc"):  # 9 requests: within the 10 a second
            inst = instruments[symbol]
            pp, ap = inst.price_precision, inst.amount_precision
            single = _get(base, f"/v1/ticker?symbol={symbol}")
            assert _on_grid(single["vol"], ap), single
            pages = {p: _get(base, f"/v1/klines?symbol={symbol}&period={p}") for p in (1, 60, 1440)}
            for rows in pages.values():
                for row in rows:
                    assert all(_on_grid(v, pp) for v in row[1:5]) and _on_grid(row[5], ap), row
            minutes = {int(r[0]): Decimal(r[5]) for r in pages[1]}
            hours = [r for r in pages[60] if all(int(r[0]) + 60 * i in minutes for i in range(60))]
            assert hours
            for row in hours:
                assert Decimal(row[5]) == sum(minutes[int(row[0]) + 60 * i] for i in range(60))
