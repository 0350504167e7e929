from __future__ import annotations

import pytest

from mdkit.data.symbols import check_symbol, compact_symbol
from mdkit.errors import InvalidArgument, UnknownSymbol


@pytest.mark.parametrize(
    "spelling", ["BTC/USDT", "btc-usdt", "BTC_USDT", "btcusdt", " BtcUsdt ", "btc:usdt"]
)
def test_flexible_spellings(spelling: str) -> None:
    assert compact_symbol(spelling) == "btcusdt"


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_bad_symbols(bad: object) -> None:
    with pytest.raises(InvalidArgument):
        compact_symbol(bad)  # type: ignore[arg-type]


def test_unknown_symbol_names_close_matches() -> None:
    known = ["btcusdt", "ethusdt", "ethbtc", "crobtc"]
    assert check_symbol("ETH/BTC", known, venue="cryptocom") == "ethbtc"
    with pytest.raises(UnknownSymbol, match="btcusdt") as info:
        check_symbol("btcusd", known, venue="cryptocom")
    assert isinstance(info.value, ValueError)
    with pytest.raises(UnknownSymbol, match="4 symbols are listed"):
        check_symbol("zzzzqq", known, venue="cryptocom")
