"""Rows are written by column name: a wrong or missing name is a TypeError naming it, and
a venue's ticker push lands each wire value in its named column (bytes in, rows out)."""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import numpy as np
import pytest

from mdkit.data.columns import ColumnBuffer
from mdkit.data.tables import PRIVATE_KINDS, STREAM_KINDS, STREAM_SCHEMAS, Tables
from mdkit.venues import get_venue
from mdkit.venues.base import Counters, Credentials, SessionSetup
from tests.conftest import load_samples

NOW = 1_800_000_000_000_000_000


def a_row(kind: str) -> dict[str, Any]:
    """A valid row of a kind, by name."""
    row: dict[str, Any] = {}
    for name, dtype in STREAM_SCHEMAS[kind].items():
        if name in ("timestamp", "local_timestamp"):
            row[name] = NOW
        elif name == "side":
            row[name] = "bid" if kind == "depth" else "buy"
        elif dtype in ("float64", "int64"):
            row[name] = 1
        elif dtype == "bool":
            row[name] = True
        else:
            row[name] = "x"
    return row


@pytest.mark.parametrize("kind", STREAM_KINDS)
def test_a_wrong_or_missing_column_name_is_a_type_error_naming_it(kind: str) -> None:
    buf = Tables()[kind]
    row = a_row(kind)
    buf.append(**row)
    last = list(row)[-1]
    misspelt = {**{k: v for k, v in row.items() if k != last}, last + "s": row[last]}
    with pytest.raises(TypeError, match=f"'?{last}s'?"):
        buf.append(**misspelt)
    with pytest.raises(TypeError, match=f"'?{last}'?"):
        buf.append(**{k: v for k, v in row.items() if k != last})
    with pytest.raises(TypeError):  # the capture tables take no positional row
        buf.append(*row.values())
    assert len(buf) == 1  # nothing of the refused rows was stored


def test_rows_land_in_their_named_columns_whatever_the_argument_order() -> None:
    buf = Tables()["quotes"]
    buf.append(ask_amount=4.0, bid_price=1.0, symbol="s", ask_price=3.0,
               local_timestamp=NOW + 1, bid_amount=2.0, timestamp=NOW)  # fmt: skip
    cols = buf.columns()
    got = [float(cols[n][0]) for n in ("bid_price", "bid_amount", "ask_price", "ask_amount")]
    assert got == [1.0, 2.0, 3.0, 4.0]
    assert (int(cols["timestamp"][0]), int(cols["local_timestamp"][0])) == (NOW, NOW + 1)


def test_writer_of_shared_columns_by_name() -> None:
    depth = Tables()["depth"]
    levels = depth.writer("price", "amount")
    assert depth.writer("price", "amount") is levels  # made once per buffer
    levels(side="ask", is_snapshot=True, symbol="s", local_timestamp=NOW + 1, timestamp=NOW,
           rows=[("101.5", "2"), (102.0, 3.5)])  # fmt: skip
    cols = depth.columns()
    assert cols["price"].tolist() == [101.5, 102.0]
    assert cols["amount"].tolist() == [2.0, 3.5]
    assert list(cols["side"]) == ["ask", "ask"] and cols["is_snapshot"].all()
    with pytest.raises(TypeError, match="'sid'"):
        levels(sid="bid", is_snapshot=True, symbol="s", local_timestamp=NOW, timestamp=NOW,
               rows=[(1.0, 1.0)])  # fmt: skip
    with pytest.raises(TypeError, match="'symbol'"):
        levels(side="bid", is_snapshot=True, local_timestamp=NOW, timestamp=NOW, rows=[])
    with pytest.raises(ValueError, match="'amount'"):  # refused: NaN amount
        levels(side="bid", is_snapshot=True, symbol="s", local_timestamp=NOW, timestamp=NOW,
               rows=[(1.0, None)])  # fmt: skip
    with pytest.raises(ValueError, match="unknown"):
        depth.writer("price", "size")
    assert len(depth) == 2


def test_column_buffer_by_name_and_positional() -> None:
    buf = ColumnBuffer({"id": "int64", "price": "float64"})
    buf.append(1, 2.5)  # a plain buffer still takes schema order
    buf.append(price=3.5, id=2)
    assert buf.columns()["price"].tolist() == [2.5, 3.5]
    with pytest.raises(TypeError, match="'price'"):
        buf.append(id=3)
    strict = ColumnBuffer({"id": "int64", "price": "float64"}, by_name=True)
    with pytest.raises(TypeError):
        strict.append(1, 2.5)
    with pytest.raises(ValueError, match="usable as parameters"):
        ColumnBuffer({"asks[0].price": "float64"}, by_name=True)


# -- a venue's ticker push, column by column ----------------------------------------------
#: venue → (samples folder, file, sample id, symbol, options, item path in the message,
#: column → (wire field, scale) or a function of the item (derived)); every other ticker
#: column must stay NaN.
TICKERS: dict[str, tuple[str, str, str, str, dict[str, Any], tuple[Any, ...], dict[str, Any]]] = {
    "bitget": ("bitget_v2", "ws_public_recorded.json", "ticker_spot", "BTCUSDT", {},
               ("data", 0), {"last": ("lastPr", 1), "bid": ("bidPr", 1), "ask": ("askPr", 1),
                             "high": ("high24h", 1), "low": ("low24h", 1),
                             "volume": ("baseVolume", 1), "change": ("change24h", 1),
                             "open": ("open24h", 1), "quote_volume": ("quoteVolume", 1),
                             "bid_amount": ("bidSz", 1), "ask_amount": ("askSz", 1)}),
    "cryptocom": ("cryptocom_v1", "ws_template_examples.json", "push_ticker", "btcusdt", {},
                  ("tick",), {"last": ("close", 1), "high": ("high", 1), "low": ("low", 1),
                              "volume": ("vol", 1), "change": ("rose", 1),
                              "open": ("open", 1), "quote_volume": ("amount", 1)}),
    "bittap": ("bittap_spot", "ws_doc_examples.json", "spot_ticker_push", "BNB-BTC", {}, (),
               {"last": ("c", 1), "open": ("o", 1), "high": ("h", 1), "low": ("l", 1),
                "volume": ("v", 1), "quote_volume": ("q", 1), "change": ("P", 0.01)}),
    "itick": ("itick_crypto", "ws_doc_examples.json", "quote_push", "ETHUSDT",
              {"quote_fields": "sdk"}, ("data",), {"last": ("ld", 1), "volume": ("v", 1),
                                                   "quote_volume": ("tu", 1)}),
    "richamster": ("richamster", "ws_doc_examples.json", "ticker_push", "KRB/UAH", {}, (),
                   {"last": ("last", 1), "open": ("first", 1), "high": ("high", 1),
                    "low": ("low", 1), "volume": ("volume", 1),
                    "change": lambda i: (i["last"] - i["first"]) / i["first"]}),
}  # fmt: skip


def ticker_row(venue: str, message: dict[str, Any]) -> dict[str, Any]:
    """The one ticker row a venue session writes for a message (every column, NaN kept)."""
    descriptor = get_venue(venue)
    options = TICKERS[venue][4]
    subs = tuple(descriptor.plan([TICKERS[venue][3]], ["ticker"], options))
    tables = Tables()
    creds = Credentials({"token": "t", "api_key": "k", "secret_key": "s", "passphrase": "p"})
    session = descriptor.session(
        SessionSetup(descriptor, subs[0].endpoint, subs, tables, Counters(), creds)
    )
    session.receive(json.dumps(message).encode(), NOW)
    columns = tables["ticker"].columns()
    assert len(tables["ticker"]) == 1
    return {name: values[0] for name, values in columns.items()}


def item_of(message: dict[str, Any], path: tuple[Any, ...]) -> Any:
    for step in path:
        message = message[step]
    return message


@pytest.mark.parametrize("venue", sorted(TICKERS))
@pytest.mark.parametrize("distinct", [False, True], ids=["recorded", "distinct"])
def test_a_ticker_push_lands_each_value_in_its_named_column(venue: str, distinct: bool) -> None:
    folder, name, sample, symbol, _, path, mapping = TICKERS[venue]
    message = json.loads(load_samples(folder, name)[sample]["raw"])
    if distinct:
        # The same real frame with a different value in every mapped field, so that
        # any two columns swapped would show (recorded frames repeat some values).
        message = copy.deepcopy(message)
        item = item_of(message, path)
        wired = [m[0] for m in mapping.values() if isinstance(m, tuple)]
        for i, field in enumerate(wired):
            value = 100 + 7 * i + 0.25
            item[field] = str(value) if isinstance(item[field], str) else value
    item = item_of(message, path)
    row = ticker_row(venue, message)
    assert row["symbol"] == symbol
    assert row["local_timestamp"] == NOW
    for column in STREAM_SCHEMAS["ticker"]:
        if column in ("timestamp", "local_timestamp", "symbol"):
            continue
        how = mapping.get(column)
        if callable(how):
            assert row[column] == pytest.approx(how(item), rel=1e-12), column
        elif how is not None:
            field, scale = how
            assert row[column] == pytest.approx(float(item[field]) * scale, rel=1e-12), column
        else:
            assert math.isnan(row[column]), column  # not sent: NaN, nothing else landed there


def test_private_kinds_are_record_buffers_by_name() -> None:
    tables = Tables()
    for kind in PRIVATE_KINDS:
        row = a_row(kind)
        tables[kind].append(**row)
        cols = tables[kind].columns()
        assert {n: (v[0].item() if isinstance(v[0], np.generic) else v[0])
                for n, v in cols.items()} == row  # fmt: skip
