"""The venue-neutral market key: every venue's spelling of a market gives one ``BASE/QUOTE``."""

from __future__ import annotations

import numpy as np
import pytest

from mdkit.data.frames import strings
from mdkit.data.symbols import QUOTE_ASSETS, pair_of, pairs, split_symbol
from mdkit.sandbox.market_catalog import CATALOG, VENUES


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_every_venue_spelling_of_every_listed_market(venue: str) -> None:
    profile = VENUES[venue]
    for key in profile.listed:
        inst = CATALOG[key]
        base, quote = inst.base.upper(), inst.quote.upper()
        spelled = profile.style(base, quote)  # btcusdt, BTCUSDT, BTC-USDT, BTC/USDT
        assert pair_of(spelled) == f"{base}/{quote}", (venue, spelled)


def test_compact_spellings_split_before_the_longest_quote() -> None:
    assert split_symbol("usdcusdt") == ("USDC", "USDT")
    assert split_symbol("crobtc") == ("CRO", "BTC")
    assert split_symbol("BTC_USDT") == ("BTC", "USDT")
    assert split_symbol("btc:usdt") == ("BTC", "USDT")
    assert pair_of("foobar") == "FOOBAR"  # no known quote: the spelling, upper case
    assert pair_of("USDT") == "USDT"  # a quote alone is not a pair
    assert all(q == q.upper() for q in QUOTE_ASSETS)


def test_pairs_keeps_missing_values_and_the_string_dtype() -> None:
    values = np.array(["btcusdt", None, "ETH-USDT", "btcusdt"], dtype=object)
    out = pairs(strings(values), strings)
    assert list(out[[0, 2, 3]]) == ["BTC/USDT", "ETH/USDT", "BTC/USDT"]
    assert out[1] is None or out[1] != out[1]  # missing stays missing (None or NaN)
    assert out.dtype == strings(["x"]).dtype
