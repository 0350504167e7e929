"""Drift: fields a session does not know, fields missing, types changed — counted, rows kept."""

from __future__ import annotations

from typing import Any

import pytest

import mdkit
from mdkit.venues.drift import TYPE_EVERY, Fields, Row, json_type
from tests.conftest import tiny_server


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def drift(self, channel: str, field: str, change: str) -> None:
        self.seen.append((channel, field, change))


def test_fields_report_unknown_missing_and_types() -> None:
    f = Fields("trade", {"p": "string", "q": "string", "x": "any"}, optional=("x",))
    r = Reports()
    f.check(r, {"p": "1", "q": "2"})
    assert r.seen == []
    f.check(r, {"p": 1.5, "new": True})
    assert r.seen == [("trade", "new", "unknown"), ("trade", "q", "missing"),
                      ("trade", "p", "type number")]  # fmt: skip
    assert json_type(None) == "null" and json_type([1]) == "array" and json_type({}) == "object"


def test_types_are_sampled_when_the_keys_match() -> None:
    f = Fields("t", {"p": "string"})
    r = Reports()
    for _ in range(TYPE_EVERY + 1):
        f.check(r, {"p": 1})
    assert r.seen == [("t", "p", "type number")] * 2  # the first and the 65th


def test_drift_in_stats_and_repr_of_a_capture() -> None:
    # A server of the v1 family that added a field to its trades and sends prices as
    # numbers in one of them: counted per (venue, channel, field, change), rows kept.
    async def drifting(ws: Any) -> None:
        await ws.recv()
        for i in range(3):
            await ws.send(
                '{"channel":"market_btcusdt_trade_ticker","ts":1790000000000,"tick":{"data":'
                f'[{{"id":{i},"side":"buy","price":"1.5","vol":"2","ts":1790000000000,'
                '"takerFee":"0.1"}]}}'
            )
        await ws.wait_closed()

    with tiny_server(drifting) as url:
        cap = mdkit.capture("cryptocom", "btcusdt", "trades", url=url, max_messages=3, seconds=10)
    assert cap.stats["drift"] == {"cryptocom trade_ticker takerFee unknown": 3}
    assert len(cap.trades) == 3
    assert "drift" in repr(cap) and "takerFee" in repr(cap)


@pytest.mark.parametrize("venue", ["cryptocom", "bitget", "itick", "bittap", "richamster"])
def test_no_drift_from_the_sandbox(sandbox: Any, venue: str) -> None:
    from mdkit.venues import get_venue

    v = get_venue(venue)
    # Every public channel the venue has: trades, ticker, book, klines (one interval).
    channels = [c for c in ("trades", "ticker", "book") if v.channels.get(c) == "public"]
    if v.channels.get("klines") == "public":
        channels.append(f"klines:{next(iter(v.intervals))}")
    symbol = v.example_symbols[0]
    cap = mdkit.capture(venue, [symbol], channels, seconds=2.0)
    assert cap.stats["per_channel"][f"ticker {symbol}"] > 0  # tickers come on a schedule
    assert cap.stats["drift"] == {}


def test_rows_report_positions_and_levels_are_cut_to_the_known_length() -> None:
    row = Row("candle", ("string",) * 3)
    r = Reports()
    row.check(r, ["1", "2", "3"])
    row.check(r, ["1", 2, "3", "4"])
    row.check(r, ["1"])
    assert r.seen == [("candle", "[3]", "unknown"), ("candle", "[1]", "type number"),
                      ("candle", "[1]", "missing"), ("candle", "[2]", "missing")]  # fmt: skip
    level = Row("books", ("string", "string"), "bids")
    r = Reports()
    same = [["1", "2"], ["3", "4"]]
    assert level.levels(r, same) is same and r.seen == []
    assert level.levels(r, [["1", "2", "x"], ["3"], ["5", "6"]]) == [["1", "2"], ["5", "6"]]
    assert r.seen == [("books", "bids[2]", "unknown"), ("books", "bids[1]", "missing")]
