"""Fuzz every REST parser with seeded mutations of recorded answers: no bare exception.

Each recorded answer (tests/samples) is mutated a few hundred times (a value
replaced by a hostile one, a key dropped, a list emptied or cut) and fed to the
venue parser the public calls use. The parser must return a frame or raise an
mdkit error; a frame's times must lie in 1970-2262 (nothing wrapped).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mdkit.data.timeparse import parse_interval
from mdkit.errors import MdkitError
from mdkit.venues import bitget_rest, cryptocom

SAMPLES = Path(__file__).parent / "samples"
HOSTILE: list[Any] = [
    None,
    "",
    "x",
    "1e400",
    2**70,
    -(2**70),
    1e15,
    1e300,
    -1,
    float("nan"),
    True,
    [],
    {},
    [1],
    [[1, 2, 3]],
    "١٢",
]


def _recorded(venue: str, name: str) -> dict[str, Any]:
    doc = json.loads((SAMPLES / venue / name).read_text())
    return {s["id"]: json.loads(s["raw"]) for s in doc["samples"] if s.get("raw")}


CC = _recorded("cryptocom_v1", "rest_recorded.json")
# Bitget spot v2: the data of the docs' response examples (api-doc/spot/market/*).
BG_SYMBOLS = [
    {
        "symbol": "BTCUSDT",
        "baseCoin": "BTC",
        "quoteCoin": "USDT",
        "minTradeAmount": "0.0001",
        "maxTradeAmount": "10000",
        "takerFeeRate": "0.001",
        "makerFeeRate": "0.001",
        "pricePrecision": "2",
        "quantityPrecision": "4",
        "quotePrecision": "6",
        "minTradeUSDT": "5",
        "status": "online",
    }
]
BG_TICKERS = [
    {
        "symbol": "BTCUSDT",
        "high24h": "37775.65",
        "open": "35134.2",
        "low24h": "34413.1",
        "lastPr": "34413.1",
        "quoteVolume": "0",
        "baseVolume": "0",
        "usdtVolume": "0",
        "bidPr": "0",
        "askPr": "0",
        "bidSz": "0.0663",
        "askSz": "0.0119",
        "openUtc": "23856.72",
        "ts": "1625125755277",
        "changeUtc24h": "0.00301",
        "change24h": "0.00069",
    }
]
BG_CANDLES = [
    ["1656604800000", "37834.5", "37849.5", "37773.5", "37773.5", "428.3462", "16198849.1079",
     "16198849.1079"],
    ["1656605700000", "37834.5", "37849.5", "37773.5", "37773.5", "428.3462", "16198849.1079",
     "16198849.1079"],
]  # fmt: skip
BG_FILLS = [
    {"symbol": "BTCUSDT", "tradeId": "1", "side": "buy", "price": "2.38735", "size": "2470.6224",
     "ts": "1622097282536"},
    {"symbol": "BTCUSDT", "tradeId": "2", "side": "Sell", "price": "2.38649", "size": "3239.7976",
     "ts": "1622097280642"},
]  # fmt: skip
BG_BOOK = {
    "asks": [["39102", "11.026"], ["39103", "1"]],
    "bids": [["39100.5", "1.773"]],
    "ts": "1645854610294",
}
MIN15 = parse_interval("15min")

PARSERS: list[tuple[str, Any, Callable[[Any], Any]]] = [
    ("cc symbols", CC["symbols"]["data"], cryptocom.parse_symbols),
    ("cc tickers", CC["ticker_all"]["data"], cryptocom.parse_tickers),
    ("cc ticker", CC["ticker_single"]["data"], lambda d: cryptocom.parse_ticker(d, "crobtc")),
    (
        "cc klines",
        CC["klines"]["data"],
        lambda d: cryptocom.parse_klines(d, "crobtc", MIN15, now_s=1.6e9),
    ),
    ("cc depth", CC["depth_step0"]["data"], lambda d: cryptocom.parse_depth(d, "crobtc", 0)),
    ("cc trades", CC["trades"]["data"], lambda d: cryptocom.parse_trades(d, "crobtc")),
    ("cc prices", {"crobtc": "0.0000069", "ethbtc": 0.02}, cryptocom.parse_prices),
    ("bitget symbols", BG_SYMBOLS, bitget_rest.parse_symbols),
    ("bitget tickers", BG_TICKERS, bitget_rest.parse_tickers),
    (
        "bitget candles",
        BG_CANDLES,
        lambda d: bitget_rest.parse_klines(d, "BTCUSDT", MIN15, now_s=1.7e9),
    ),
    ("bitget fills", BG_FILLS, lambda d: bitget_rest.parse_trades(d, "BTCUSDT")),
    ("bitget orderbook", BG_BOOK, lambda d: bitget_rest.parse_depth(d, "BTCUSDT", 0)),
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _mutate(data: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(doc)
        path = rng.choice(paths)
        if not path:
            doc = rng.choice(HOSTILE)
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        roll = rng.random()
        if roll < 0.15 and isinstance(parent, dict):
            del parent[key]
        elif roll < 0.25 and isinstance(parent, list):
            del parent[key:]
        else:
            parent[key] = copy.deepcopy(rng.choice(HOSTILE))
    return doc


def _check_frame(df: Any) -> None:
    assert isinstance(df, pd.DataFrame)
    for values in [df.index, *(df[c] for c in df.columns)]:
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            stamps = pd.DatetimeIndex(values).dropna()
            assert stamps.empty or stamps.min() >= pd.Timestamp(0, tz="UTC")
    df.to_string()


@pytest.mark.parametrize(("name", "data", "parse"), PARSERS, ids=[p[0] for p in PARSERS])
def test_parser_survives_mutations(name: str, data: Any, parse: Callable[[Any], Any]) -> None:
    _check_frame(parse(data))  # the recorded answer itself parses
    rng = random.Random(f"rest-fuzz {name}")
    escaped: list[str] = []
    for _ in range(300):
        mutant = _mutate(data, rng)
        try:
            df = parse(mutant)
        except MdkitError:
            continue
        except Exception as exc:  # noqa: BLE001 - what the test counts
            escaped.append(f"{type(exc).__name__}: {exc} <- {json.dumps(mutant)[:200]}")
            continue
        _check_frame(df)
    assert not escaped, f"{len(escaped)} bare exceptions, first: {escaped[0]}"
