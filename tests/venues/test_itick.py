"""iTick crypto, pure: the doc's frames in, rows and events out (values by column name)."""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest

from mdkit.data.tables import Tables, stream_frame
from mdkit.errors import AuthError, InvalidArgument, ProtocolError, UnknownChannel, VenueError
from mdkit.venues import get_venue
from mdkit.venues.base import Counters, Credentials, Ready, Send, ServerError, SessionSetup
from mdkit.venues.itick import (
    DESCRIPTOR,
    ItickSession,
    build_subscribe,
    handshake_headers,
    plan,
    push_code,
)
from tests.conftest import load_samples

S = load_samples("itick_crypto", "ws_doc_examples.json")
NOW = 1_731_690_012_000_000_000


def raw(sample_id: str) -> bytes:
    return S[sample_id]["raw"].encode()


def session(
    channels: list[str], symbols: tuple[str, ...] = ("ETHUSDT",), **options: Any
) -> ItickSession:
    subs = plan(list(symbols), channels, options)
    setup = SessionSetup(
        venue=DESCRIPTOR,
        endpoint="public",
        subscriptions=tuple(subs),
        tables=Tables(),
        counters=Counters(),
        credentials=Credentials({"token": "secret-token-value"}),
    )
    return ItickSession(setup)


def frame(s: ItickSession, kind: str) -> pd.DataFrame:
    return stream_frame(kind, s.tables[kind].columns(), attrs={}, end_ns=NOW)


def test_registered_and_descriptor() -> None:
    venue = get_venue("itick")
    assert venue is DESCRIPTOR
    assert venue.limits.connections == 1
    assert venue.endpoints["public"].private  # the token is needed for public data too
    assert venue.credentials == ("token",)
    assert handshake_headers(Credentials({"token": "abc"})) == {"token": "abc"}
    assert "abc" not in repr(Credentials({"token": "abc"}))


def test_plan_and_subscribe_message() -> None:
    subs = plan(["btc/usdt", "ETHUSDT"], ["quotes", "trades", "book", "klines:1min"], {})
    assert {s.symbol for s in subs} == {"BTCUSDT", "ETHUSDT"}
    messages = [orjson.loads(m) for m in build_subscribe(subs)]
    assert messages == [
        {"ac": "subscribe", "params": "BTCUSDT,ETHUSDT", "types": "depth,tick,kline@1"}
    ]
    # The kline period codes of NOTES.md.
    codes = {
        iv: plan(["BTCUSDT"], [f"klines:{iv}"], {})[0].options["type"]
        for iv in ("1m", "5m", "15m", "30m", "1h", "1d", "1w", "1M")
    }
    assert codes == {
        "1m": "kline@1",
        "5m": "kline@2",
        "15m": "kline@3",
        "30m": "kline@4",
        "1h": "kline@5",
        "1d": "kline@8",
        "1w": "kline@9",
        "1M": "kline@10",
    }


def test_plan_refuses_bad_input_naming_choices() -> None:
    with pytest.raises(UnknownChannel, match="trades"):
        plan(["BTCUSDT"], ["orders"], {})
    with pytest.raises(InvalidArgument, match="1min"):
        plan(["BTCUSDT"], ["klines:4h"], {})
    with pytest.raises(InvalidArgument, match="header, message"):
        plan(["BTCUSDT"], ["trades"], {"auth": "cookie"})
    with pytest.raises(InvalidArgument, match="5 levels"):
        plan(["BTCUSDT"], ["book:20"], {})
    with pytest.raises(InvalidArgument, match="BTCUSDT"):
        plan(["btc usdt!"], ["trades"], {})


def test_push_code_maps_back() -> None:
    assert push_code("ETH_USDT") == "ETHUSDT"
    assert push_code("BTCUSDT$BA") == "BTCUSDT"
    subs = plan(["BTCUSDT$ba"], ["trades"], {})
    assert subs[0].symbol == "BTCUSDT$BA"  # sent as written (code$region)


def test_header_auth_then_ready() -> None:
    s = session(["trades"])
    assert s.open(NOW) == ()  # header auth: wait for the server's message
    assert s.receive(raw("connected"), NOW) == ()
    assert s.receive(raw("auth_ok_header_token"), NOW) == (Ready(),)


def test_in_band_auth() -> None:
    s = session(["trades"], auth="message")
    (send,) = s.open(NOW)
    assert isinstance(send, Send)
    assert orjson.loads(send.message) == {"ac": "auth", "params": "secret-token-value"}
    assert s.receive(raw("auth_ok_legacy"), NOW) == (Ready(),)


def test_auth_failed_is_fatal_auth_error_without_the_token() -> None:
    s = session(["trades"])
    (event,) = s.receive(raw("auth_failed"), NOW)
    assert isinstance(event, ServerError) and event.fatal and event.error is AuthError
    assert "auth failed" in event.message and "MDKIT_ITICK_TOKEN" in event.message
    assert "secret-token-value" not in event.message


@pytest.mark.parametrize(
    ("sample_id", "code"), [("subscribe_fail_limit", "E003"), ("subscribe_fail_parse", "subscribe")]
)
def test_subscribe_errors_are_fatal_venue_errors(sample_id: str, code: str) -> None:
    s = session(["trades"])
    (event,) = s.receive(raw(sample_id), NOW)
    assert isinstance(event, ServerError) and event.fatal
    assert event.error is VenueError and event.code == code
    assert orjson.loads(raw(sample_id))["msg"] in event.message
    assert s.receive(raw("subscribe_ok"), NOW) == ()
    assert s.counters.acks == 1


def test_ticker_from_quote_push() -> None:
    s = session(["ticker"])
    assert s.receive(raw("quote_push"), NOW) == ()
    df = frame(s, "ticker")
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp(1731690011321, unit="ms", tz="UTC")
    assert row["symbol"] == "ETHUSDT"  # pushed as ETH_USDT
    # The doc's quote: v/tu are the last trade's size and turnover (tu = ld x v in the
    # example), not 24 h figures: not written as volume / quote_volume.
    assert row["last"] == 3034 and "volume" not in row
    assert "quote_volume" not in df.columns and "open" not in df.columns
    assert "bid" not in row and "ask" not in row  # not sent: left out, not invented
    assert s.counters.per_channel == {"ticker ETHUSDT": 1}


def test_sdk_quote_fields_on_request() -> None:
    push = orjson.loads(raw("quote_push"))
    push["data"] |= {"o": 3000, "h": 3100, "l": 2990, "chp": 1.13}
    doc = session(["ticker"])
    doc.receive(orjson.dumps(push), NOW)
    assert "high" not in frame(doc, "ticker").columns  # not the doc's fields: left out
    sdk = session(["ticker"], quote_fields="sdk")
    sdk.receive(orjson.dumps(push), NOW)
    row = frame(sdk, "ticker").iloc[0]
    assert (row["open"], row["high"], row["low"]) == (3000, 3100, 2990)
    assert row["change"] == pytest.approx(0.0113)
    assert row["volume"] == 0.6186 and row["quote_volume"] == 1876.832564
    with pytest.raises(InvalidArgument, match="doc, sdk"):
        plan(["ETHUSDT"], ["ticker"], {"quote_fields": "all"})


def test_a_refused_combined_subscribe_falls_back_to_one_type_per_message() -> None:
    s = session(["trades", "ticker", "book"], symbols=("ETHUSDT", "BTCUSDT"))
    (first,) = s.subscribe(s.subscriptions)
    assert orjson.loads(first.message)["types"] == "tick,quote,depth"
    refused = raw("subscribe_fail_parse")
    again = s.receive(refused, NOW)
    sent = [orjson.loads(e.message) for e in again if isinstance(e, Send)]
    assert [m["types"] for m in sent] == ["tick", "quote", "depth"]
    assert all(m["params"] == "ETHUSDT,BTCUSDT" for m in sent)
    # One type still refused: named, not fatal; the others go on.
    assert s.receive(raw("subscribe_ok"), NOW) == ()
    (event,) = s.receive(refused, NOW)
    assert isinstance(event, ServerError) and not event.fatal and "'quote'" in event.message
    assert s.receive(raw("subscribe_ok"), NOW) == ()
    assert s.counters.acks == 2


def test_closes_right_after_each_reconnect_are_the_one_connection_rule() -> None:
    counters = Counters()  # shared by the capture's connections, as the engine does
    subs = tuple(plan(["ETHUSDT"], ["trades"], {}))

    def connection(opened: int, lived_s: float, code: int | None = 1000) -> list[ServerError]:
        setup = SessionSetup(
            DESCRIPTOR, "public", subs, Tables(), counters, Credentials({"token": "t"})
        )
        s = ItickSession(setup)
        s.open(opened)
        s.receive(raw("auth_ok_header_token"), opened)
        return [e for e in s.closed("bye", code, opened + int(lived_s * 1e9))]

    assert connection(NOW, 600) == []  # a long life, then a close: reconnect
    assert connection(NOW, 2) == [] and connection(NOW, 1, code=1001) == []
    assert connection(NOW, 2) == [] and connection(NOW, 3) == []
    (event,) = connection(NOW, 1)  # the third short one in a row with the same code
    assert event.fatal and event.code == "kicked" and "one-connection rule" in event.message


def test_trades_from_tick_push_without_id_or_side() -> None:
    s = session(["trades"])
    tick = {
        "code": 1,
        "data": {"s": "ETH_USDT", "ld": 225.215, "v": 16742235, "t": 1731689407000, "type": "tick"},
    }
    s.receive(orjson.dumps(tick), NOW)
    df = frame(s, "trades")
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp(1731689407000, unit="ms", tz="UTC")
    assert row["symbol"] == "ETHUSDT" and row["price"] == 225.215 and row["amount"] == 16742235
    assert pd.isna(row["id"]) and pd.isna(row["side"])  # not sent: left missing
    assert list(df["side"].cat.categories) == ["buy", "sell"]


def test_depth_feeds_book_and_quotes() -> None:
    s = session(["book", "quotes"])
    assert s.receive(raw("depth_push"), NOW) == ()
    depth = frame(s, "depth")
    bids, asks = depth[depth["side"] == "bid"], depth[depth["side"] == "ask"]
    assert list(bids["price"]) == [3034, 3033.99, 3033.98, 3033.97, 3033.94]
    assert list(asks["price"]) == [3034.01, 3034.03, 3034.18, 3034.26, 3034.27]
    assert bids["amount"].iloc[0] == 20.9758 and asks["amount"].iloc[0] == 10.6023
    assert depth["is_snapshot"].all() and (depth["symbol"] == "ETHUSDT").all()
    # No time in a depth push: timestamp NaT, the receive time only in local_timestamp.
    assert depth.index.isna().all() and (depth["local_timestamp"].astype("int64") == NOW).all()
    quotes = frame(s, "quotes").iloc[0]
    assert quotes["bid_price"] == 3034 and quotes["bid_amount"] == 20.9758
    assert quotes["ask_price"] == 3034.01 and quotes["ask_amount"] == 10.6023
    # One message: counted once, but both channels show it.
    assert s.counters.data_messages == 1
    assert s.counters.per_channel == {"book ETHUSDT": 1, "quotes ETHUSDT": 1}


def test_kline_push_with_code_zero_and_no_type() -> None:
    s = session(["klines:1min"])
    assert s.receive(raw("kline_push"), NOW) == ()
    df = frame(s, "klines")
    row = df.iloc[0]
    assert df.index[0] == pd.Timestamp(1731660060000, unit="ms", tz="UTC")
    assert row["interval"] == "1min" and row["symbol"] == "ETHUSDT"
    assert (row["open"], row["high"], row["low"], row["close"]) == (
        3055.36,
        3061.41,
        3055.24,
        3059.39,
    )
    assert row["volume"] == 28 and row["quote_volume"] == 157513
    # The same bar with the SDK's type field routes the same way.
    push = orjson.loads(raw("kline_push"))
    push["data"]["type"] = "kline@1"
    s.receive(orjson.dumps(push), NOW)
    assert s.counters.per_channel == {"klines:1min ETHUSDT": 2}
    # Another period is not ours.
    push["data"]["type"], push["data"]["t"] = "kline@2", 2
    s.receive(orjson.dumps(push), NOW)
    assert s.counters.unrouted == 1


def test_ping_pong_must_match() -> None:
    s = session(["trades"])
    s.receive(raw("auth_ok_header_token"), NOW)
    now = 1731688569840 * 1_000_000
    (ping,) = s.timer(now)
    assert isinstance(ping, Send) and ping.urgent
    assert orjson.loads(ping.message) == orjson.loads(raw("client_ping"))
    s.receive(raw("server_pong"), NOW)
    assert s.counters.pongs == 1
    s.receive(raw("server_pong"), NOW)  # the same pong again: no ping of ours
    assert s.counters.pongs == 1 and s.counters.other == 1


def test_trading_status_reported_once_per_change() -> None:
    s = session(["ticker"])
    push = orjson.loads(raw("quote_push"))
    s.receive(orjson.dumps(push), NOW)
    push["data"]["ts"] = 1
    (event,) = s.receive(orjson.dumps(push), NOW)
    assert isinstance(event, ServerError) and not event.fatal and "suspended" in event.message
    assert s.receive(orjson.dumps(push), NOW) == ()
    assert len(frame(s, "ticker")) == 3  # every row kept


def test_kick_close_is_fatal_other_closes_are_not() -> None:
    s = session(["trades"])
    (event,) = s.closed("closed by server (code 4000, 'kicked')", 4000, NOW)
    assert isinstance(event, ServerError) and event.fatal and event.code == "kicked"
    assert "one connection per token" in event.message
    assert s.closed("connection lost (no close frame)", None, NOW) == ()
    assert s.closed("closed by server (code 1001)", 1001, NOW) == ()


def test_bad_frames_are_protocol_errors() -> None:
    s = session(["trades"])
    with pytest.raises(ProtocolError):
        s.receive(b'{"code":1,"data":{"s":"BTC_USDT","ld":', NOW)
    with pytest.raises(ProtocolError):
        s.receive(b'{"code":1,"data":{"s":"ETH_USDT","type":"tick"}}', NOW)
