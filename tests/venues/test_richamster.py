"""Richamster session, pure: bytes in (the doc's examples), rows and events out."""

from __future__ import annotations

import orjson
import pandas as pd
import pytest

from mdkit.data.tables import Tables, stream_frame
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, UnknownChannel, VenueError
from mdkit.venues import get_venue
from mdkit.venues.base import Counters, Credentials, Send, ServerError, SessionSetup
from mdkit.venues.richamster import DESCRIPTOR, RichamsterSession, normalise_pair, plan
from tests.conftest import load_samples

SAMPLES = load_samples("richamster", "ws_doc_examples.json")
NOW = 1_700_000_000_123_456_789
TOKEN = "tok-secret-123"

# The doc's data examples (richamster-ws.txt), as received.
TRADE = (
    b'{"created_at":"1532694617","closed_at":"1532696617","side":"selling",'
    b'"volume":2.23236,"unit_price":1.00,"sum":2.23236,"pair":"KRB/UAH"}'
)
BOOK = b'{"pair":"KRB/UAH","unit_price":1.234,"sum":1.78,"side":"selling","volume":10.234236}'
ORDER = (
    b'{"created_at":"1532694617","closed_at":"1532696617","side":"selling",'
    b'"volume":2.23236,"unit_price":1.00,"sum":2.23236,"pair":"KRB/UAH","pk":1}'
)


def session(
    symbols: list[str], channels: list[str], endpoint: str = "public"
) -> tuple[RichamsterSession, Tables, Counters]:
    subs = tuple(s for s in plan(symbols, channels, {}) if s.endpoint == endpoint)
    tables, counters = Tables(), Counters()
    setup = SessionSetup(
        DESCRIPTOR, endpoint, subs, tables, counters, Credentials({"token": TOKEN})
    )
    return RichamsterSession(setup), tables, counters


def frame(tables: Tables, kind: str):  # type: ignore[no-untyped-def]
    return stream_frame(kind, tables[kind].columns(), attrs={})


def test_registered() -> None:
    assert get_venue("Richamster") is DESCRIPTOR
    assert DESCRIPTOR.endpoints["private"].private and DESCRIPTOR.credentials == ("token",)


def test_plan_pairs_channels_and_endpoints() -> None:
    subs = plan(["krb/uah", "BTC-UAH"], ["ticker", "order_book", "trading", "user_orders"], {})
    assert [(s.kind, s.symbol, s.endpoint) for s in subs] == [
        ("ticker", "KRB/UAH", "public"),
        ("ticker", "BTC/UAH", "public"),
        ("book", "KRB/UAH", "public"),
        ("book", "BTC/UAH", "public"),
        ("trades", "KRB/UAH", "public"),
        ("trades", "BTC/UAH", "public"),
        ("orders", "KRB/UAH", "private"),
        ("orders", "BTC/UAH", "private"),
    ]
    # The vocabulary names plan the same subscriptions.
    same = plan(["KRB_UAH"], ["ticker", "book", "trades", "orders"], {})
    assert [s.channel for s in same] == [
        "ticker KRB/UAH",
        "order_book KRB/UAH",
        "trading KRB/UAH",
        "user_orders KRB/UAH",
    ]


@pytest.mark.parametrize("bad", ["KRBUAH", "KRB/", "", "KRB/UAH/X", 5])
def test_plan_refuses_pair_spellings(bad: object) -> None:
    with pytest.raises(InvalidArgument, match="KRB/UAH"):
        plan([bad], ["ticker"], {})  # type: ignore[list-item]


def test_plan_refuses_channels_and_options() -> None:
    with pytest.raises(UnknownChannel, match="ticker, book, trades, orders"):
        plan(["KRB/UAH"], ["klines"], {})
    with pytest.raises(InvalidArgument, match="no ':' argument"):
        plan(["KRB/UAH"], ["book:5"], {})
    with pytest.raises(InvalidArgument, match="no capture options"):
        plan(["KRB/UAH"], ["ticker"], {"depth": 5})
    with pytest.raises(InvalidArgument, match="give pairs"):
        plan([], ["ticker"], {})
    assert normalise_pair(" eth / uah ") == "ETH/UAH"


def test_subscribe_messages_match_the_doc_not_its_error() -> None:
    s, _, _ = session(["KRB/UAH"], ["trades", "book", "ticker"])
    sent = [orjson.loads(e.message) for e in s.subscribe(s.subscriptions) if isinstance(e, Send)]
    assert sent[0] == orjson.loads(SAMPLES["subscribe_trading"]["raw"])
    assert sent[1] == orjson.loads(SAMPLES["subscribe_order_book"]["raw"])
    # The doc's ticker example says "trading" (a doc error): mdkit sends "ticker".
    assert orjson.loads(SAMPLES["subscribe_ticker_as_documented"]["raw"])["channel"] == "trading"
    assert sent[2] == {"channel": "ticker", "pair": "KRB/UAH"}
    p, _, _ = session(["KRB/UAH"], ["user_orders"], "private")
    (message,) = p.subscribe(p.subscriptions)
    assert isinstance(message, Send)
    assert orjson.loads(message.message) == {
        "channel": "user_orders",
        "pair": "KRB/UAH",
        "token": TOKEN,
    }


def test_ticker_doc_example_by_column() -> None:
    s, tables, counters = session(["KRB/UAH"], ["ticker"])
    assert s.receive(SAMPLES["ticker_push"]["raw"].encode(), NOW) == ()
    row = frame(tables, "ticker").iloc[0]
    assert row["symbol"] == "KRB/UAH"
    assert row["last"] == 1.234 and row["open"] == 0.234
    assert row["high"] == 1.78 and row["low"] == 0.5 and row["volume"] == 10.234236
    assert row["change"] == pytest.approx(1.234 / 0.234 - 1)
    assert "bid" not in row and "ask" not in row  # not sent: left out, not invented
    # No venue time in a ticker frame: timestamp NaT, the receive time in local_timestamp.
    assert pd.isna(row.name) and row["local_timestamp"].value == NOW
    assert counters.per_channel == {"ticker KRB/UAH": 1}


def test_trade_doc_example_by_column() -> None:
    s, tables, counters = session(["KRB/UAH"], ["trades"])
    s.receive(TRADE, NOW)
    df = frame(tables, "trades")
    row = df.iloc[0]
    assert df.index[0].value == 1532696617 * 10**9  # closed_at, unix-second string
    assert str(df.index.tz) == "UTC"
    assert row["symbol"] == "KRB/UAH" and row["side"] == "sell"
    assert row["price"] == 1.0 and row["amount"] == 2.23236
    assert row["local_timestamp"].value == NOW
    buying = TRADE.replace(b"selling", b"buying")
    s.receive(buying, NOW + 1)
    assert list(frame(tables, "trades")["side"]) == ["sell", "buy"]
    assert counters.per_channel == {"trades KRB/UAH": 2}


def test_book_doc_example_by_column() -> None:
    s, tables, _ = session(["KRB/UAH"], ["book"])
    s.receive(BOOK, NOW)
    s.receive(BOOK.replace(b"selling", b"buying").replace(b"10.234236", b"0"), NOW + 1)
    df = frame(tables, "depth")
    assert list(df["side"]) == ["ask", "bid"]
    assert list(df["price"]) == [1.234, 1.234]
    assert list(df["amount"]) == [10.234236, 0.0]
    assert not df["is_snapshot"].any() and set(df["symbol"]) == {"KRB/UAH"}
    # No venue time in a book frame: timestamp NaT, the receive time only in local_timestamp.
    assert df.index.isna().all() and list(df["local_timestamp"].astype("int64")) == [NOW, NOW + 1]


ACK_BOOK = orjson.dumps(
    {
        "type": "success",
        "message": 'You are connected to channel "order_book" and currency pair "KRB/UAH"',
    }
)


def level(side: str, price: float, volume: float) -> bytes:
    return orjson.dumps(
        {
            "pair": "KRB/UAH",
            "unit_price": price,
            "sum": price * volume,
            "side": side,
            "volume": volume,
        }
    )


def test_subscribe_burst_is_one_snapshot_then_updates() -> None:
    s, tables, _ = session(["KRB/UAH"], ["book"])
    s.subscribe(s.subscriptions)
    s.receive(ACK_BOOK, NOW)
    burst = [level("buying", 1.0, 2), level("buying", 0.9, 3), level("selling", 1.1, 4)]
    for i, raw in enumerate(burst):
        s.receive(raw, NOW + 1000 + i)
    s.receive(level("selling", 1.1, 0), NOW + 2000)  # a level the burst holds: an update
    s.receive(level("selling", 1.2, 5), NOW + 3000)  # after an update: an update
    df = frame(tables, "depth")
    assert list(df["is_snapshot"]) == [True, True, True, False, False]
    # The snapshot's rows share the receive time of its first frame (one message).
    assert list(df["local_timestamp"].astype("int64")) == [NOW + 1000] * 3 + [
        NOW + 2000,
        NOW + 3000,
    ]


def test_no_burst_is_warned_once_and_rows_are_updates(caplog: pytest.LogCaptureFixture) -> None:
    s, tables, _ = session(["KRB/UAH"], ["book"])
    s.subscribe(s.subscriptions)
    s.receive(ACK_BOOK, NOW)
    late = NOW + int(3 * 10**9)  # past BURST_WAIT
    with caplog.at_level("WARNING", logger="mdkit.venues.richamster"):
        s.receive(level("buying", 1.0, 2), late)
        s.receive(level("selling", 1.1, 2), late + 1)
    assert not frame(tables, "depth")["is_snapshot"].any()
    warned = [r for r in caplog.records if "no levels" in r.getMessage()]
    assert len(warned) == 1 and "order_book KRB/UAH" in warned[0].getMessage()


@pytest.mark.parametrize(
    ("side", "book", "trade"),
    [(0, "bid", "buy"), (1, "ask", "sell"), ("1", "ask", "sell"), ("Buying", "bid", "buy")],
)
def test_numeric_and_string_sides(side: object, book: str, trade: str) -> None:
    s, tables, _ = session(["KRB/UAH"], ["book", "trades"])
    s.receive(orjson.dumps({**orjson.loads(BOOK), "side": side}), NOW)
    s.receive(orjson.dumps({**orjson.loads(TRADE), "side": side}), NOW)
    assert list(frame(tables, "depth")["side"]) == [book]
    assert list(frame(tables, "trades")["side"]) == [trade]


def test_orders_doc_example_by_column() -> None:
    s, tables, counters = session(["KRB/UAH"], ["user_orders"], "private")
    s.receive(ORDER, NOW)
    s.receive(ORDER.replace(b'"closed_at":"1532696617"', b'"closed_at":null'), NOW + 1)
    df = frame(tables, "orders")
    first, second = df.iloc[0], df.iloc[1]
    assert first["order_id"] == "1" and first["symbol"] == "KRB/UAH" and first["side"] == "sell"
    assert first["status"] == "closed" and second["status"] == "open"
    assert first["price"] == 1.0 and first["amount"] == 2.23236
    assert df.index[0].value == 1532696617 * 10**9 and df.index[1].value == 1532694617 * 10**9
    assert counters.per_channel == {"orders KRB/UAH": 2}


def test_routing_by_shape_several_channels_and_pairs() -> None:
    s, tables, counters = session(["KRB/UAH", "BTC/UAH"], ["ticker", "book", "trades"])
    ticker = SAMPLES["ticker_push"]["raw"].encode()
    for pair in (b"KRB/UAH", b"BTC/UAH"):
        for raw in (ticker, BOOK, TRADE):
            s.receive(raw.replace(b"KRB/UAH", pair), NOW)
    assert counters.per_channel == {
        f"{k} {p}": 1 for k in ("ticker", "book", "trades") for p in ("KRB/UAH", "BTC/UAH")
    }
    assert list(frame(tables, "trades")["symbol"]) == ["KRB/UAH", "BTC/UAH"]
    # A pair or a shape this connection did not ask for is unrouted, never misfiled.
    s.receive(TRADE.replace(b"KRB/UAH", b"ETH/UAH"), NOW)
    s.receive(b'{"pair":"KRB/UAH","something":1}', NOW)
    assert counters.unrouted == 2 and counters.data_messages == 6


def test_private_connection_takes_orders_only() -> None:
    s, tables, counters = session(["KRB/UAH"], ["user_orders"], "private")
    s.receive(ORDER, NOW)
    assert counters.per_channel == {"orders KRB/UAH": 1} and len(tables["orders"]) == 1
    # On the public connection the same frame would be a trade: there it is not asked for.
    p, _, pc = session(["KRB/UAH"], ["ticker"])
    p.receive(ORDER, NOW)
    assert pc.unrouted == 1 and pc.data_messages == 0


def test_acks_counted_and_errors_tied_to_their_subscribe() -> None:
    s, _, counters = session(["KRB/UAH", "BTC/UAH"], ["trades"])
    s.subscribe(s.subscriptions)
    assert s.receive(SAMPLES["ack_success"]["raw"].encode(), NOW) == ()
    assert counters.acks == 1
    # The success ack named trading KRB/UAH: the error answers BTC/UAH.
    (event,) = s.receive(SAMPLES["ack_error"]["raw"].encode(), NOW)
    assert isinstance(event, ServerError) and event.fatal and event.error is VenueError
    assert (
        "trading BTC/UAH" in event.message and "Subscription channel is invalid." in event.message
    )


def test_refused_token_is_an_auth_error_without_the_token() -> None:
    s, _, _ = session(["KRB/UAH"], ["orders"], "private")
    s.subscribe(s.subscriptions)
    error = orjson.dumps({"type": "error", "message": f"Token {TOKEN} is invalid."})
    (event,) = s.receive(error, NOW)
    assert isinstance(event, ServerError) and event.fatal and event.error is AuthError
    assert "user_orders KRB/UAH" in event.message and TOKEN not in event.message


def test_missing_token_raises_before_sending() -> None:
    subs = tuple(plan(["KRB/UAH"], ["orders"], {}))
    setup = SessionSetup(DESCRIPTOR, "private", subs, Tables(), Counters(), Credentials({}))
    with pytest.raises(AuthError, match="MDKIT_RICHAMSTER_TOKEN"):
        RichamsterSession(setup).subscribe(subs)


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"pair":"KRB/UAH","last":"x","first":1}']
)
def test_bad_frames_are_protocol_errors(raw: bytes) -> None:
    s, _, _ = session(["KRB/UAH"], ["ticker"])
    with pytest.raises(ProtocolError, match="richamster"):
        s.receive(raw, NOW)
