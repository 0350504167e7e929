"""REST answers contained: a hostile HTTP server on 127.0.0.1 (real sockets, no mocks).

Each test serves one kind of bad answer and checks that the public call fails with
an mdkit error, in bounded time and memory: a body trickled at one byte a second,
a gzip bomb, a ``Retry-After`` that is not a number, and answers whose fields break
the data contract (string levels, times beyond 2262, ids beyond int64...).
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

import mdkit
from mdkit import cli
from mdkit.errors import InvalidArgument, MdkitError, NetworkError, ProtocolError, RateLimitError

SYMBOLS = {
    "code": "0",
    "msg": "suc",
    "data": [
        {
            "symbol": "btcusdt",
            "count_coin": "USDT",
            "amount_precision": 4,
            "base_coin": "BTC",
            "price_precision": 2,
        }
    ],
}

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class Hostile:
    """A tiny HTTP server whose answer per path is a handler function."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {"/v1/symbols": json_answer(SYMBOLS)}
        self.stop = threading.Event()
        routes, stop = self.routes, self.stop

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path.split("?", 1)[0]
                self.server_stop = stop  # type: ignore[attr-defined]
                routes.get(path, json_answer({"code": "0", "data": None}))(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hostile:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


def json_answer(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    body = json.dumps(doc).encode()

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    return answer


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with Hostile() as server:
        yield server


@pytest.mark.parametrize("gap", [1.0, 1.5])  # 1.5: the deadline falls inside a read's wait
def test_trickled_body_ends_at_the_deadline(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, gap: float
) -> None:
    def trickle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "200")
        h.end_headers()
        for _ in range(200):  # one byte a gap: 200 s or more in all
            if h.server_stop.wait(gap):  # type: ignore[attr-defined]
                return
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
            except OSError:
                return

    hostile.routes["/v1/ticker/price"] = trickle
    monkeypatch.setenv("MDKIT_TIMEOUT", "2")
    began = time.monotonic()
    with pytest.raises(NetworkError, match="deadline"):
        mdkit.prices(url=hostile.url)
    # Far below the 200 s the trickle would take (and the 101 s seen before the fix):
    # the bound is the deadline, whatever the machine's load.
    assert time.monotonic() - began < 60


def test_gzip_bomb_stops_at_the_cap(hostile: Hostile) -> None:
    # 1,000 gzip members of 1 MB of zeros: ~1 MB on the wire, 1 GB inflated.
    member = gzip.compress(b"0" * 1_000_000, compresslevel=9)
    bomb = member * 1000

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(bomb)))
        h.end_headers()
        try:
            h.wfile.write(bomb)
        except OSError:
            pass

    hostile.routes["/v1/tickers"] = answer
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="cap"):
            mdkit.tickers(url=hostile.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 300 * 2**20  # the 64 MiB cap and its copies, not the 1 GB inflated


def test_multi_member_gzip_is_read_whole(hostile: Hostile) -> None:
    body = orjson.dumps({"code": "0", "data": {"btcusdt": "1.5", "ethusdt": 2}})
    wire = gzip.compress(body[:10]) + gzip.compress(body[10:])

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(wire)))
        h.end_headers()
        h.wfile.write(wire)

    hostile.routes["/v1/ticker/price"] = answer
    assert mdkit.prices(url=hostile.url)["price"].to_dict() == {"btcusdt": 1.5, "ethusdt": 2.0}


@pytest.mark.parametrize("value", ["nan", "inf", "-5", "soon", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_bad_retry_after_is_ignored(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MDKIT_RETRIES", "1")
    hostile.routes["/v1/ticker/price"] = json_answer({}, 429, {"Retry-After": value})
    with pytest.raises(RateLimitError):
        mdkit.prices(url=hostile.url)


def _depth(bids: Any, asks: Any = (), time_: Any = None) -> dict[str, Any]:
    return {"code": "0", "data": {"tick": {"bids": bids, "asks": list(asks), "time": time_}}}


def _trade(**over: Any) -> dict[str, Any]:
    item = {"amount": 1, "price": 2, "ctime": 1589032904000, "id": 1, "type": "buy"}
    return {"code": "0", "data": [{**item, **over}]}


# (call, path, answer, field named in the error)
HOSTILE_ANSWERS: list[tuple[str, str, Any, str]] = [
    ("depth", "/v1/depth", _depth([["a", "b"]]), "bids"),
    ("depth", "/v1/depth", _depth([[1.0]]), "bids"),
    ("depth", "/v1/depth", _depth([[1.0, 2.0]], [1, 2, 3]), "asks"),
    ("depth", "/v1/depth", _depth([], time_=10**30), "time"),
    ("depth", "/v1/depth", _depth([], time_="soon"), "time"),
    ("depth", "/v1/depth", {"code": "0", "data": {"tick": "x"}}, "tick"),
    ("tickers", "/v1/tickers", {"code": "0", "data": {"ticker": [{"last": 1}]}}, "symbol"),
    ("tickers", "/v1/tickers", {"code": "0", "data": {"ticker": [], "date": 2**70}}, "date"),
    ("tickers", "/v1/tickers", {"code": "0", "data": {"ticker": 3}}, "ticker"),
    ("trades", "/v1/trades", _trade(id=2**70), "id"),
    ("trades", "/v1/trades", _trade(ctime=2**70), "ctime"),
    ("trades", "/v1/trades", _trade(ctime="yesterday"), "ctime"),
    ("trades", "/v1/trades", _trade(price=[1]), "price"),
    ("trades", "/v1/trades", _trade(type="hold"), "side"),
    ("klines", "/v1/klines", {"code": "0", "data": [[1e15, 1, 1, 1, 1, 1]]}, "open time"),
    ("klines", "/v1/klines", {"code": "0", "data": [[None, 1, 1, 1, 1, 1]]}, "open time"),
    ("klines", "/v1/klines", {"code": "0", "data": [[1588707000, "x", 1, 1, 1, 1]]}, "open"),
    ("klines", "/v1/klines", {"code": "0", "data": [[1, 2]]}, "6 values"),
    ("ticker", "/v1/ticker", {"code": "0", "data": {"last": "much"}}, "last"),
    ("prices", "/v1/ticker/price", {"code": "0", "data": {"btcusdt": {}}}, "price"),
]


def _call(name: str, url: str) -> Any:
    calls: dict[str, Callable[[], Any]] = {
        "depth": lambda: mdkit.depth("btcusdt", url=url),
        "tickers": lambda: mdkit.tickers(url=url),
        "ticker": lambda: mdkit.ticker("btcusdt", url=url),
        "trades": lambda: mdkit.trades("btcusdt", url=url),
        "klines": lambda: mdkit.klines("btcusdt", "1min", url=url),
        "prices": lambda: mdkit.prices(url=url),
        "symbols": lambda: mdkit.symbols(url=url),
    }
    return calls[name]()


@pytest.mark.parametrize(("call", "path", "doc", "name"), HOSTILE_ANSWERS)
def test_hostile_answer_is_a_protocol_error(
    hostile: Hostile, call: str, path: str, doc: Any, name: str
) -> None:
    hostile.routes[path] = json_answer(doc)
    with pytest.raises(ProtocolError) as info:
        _call(call, hostile.url)
    text = str(info.value)
    assert name in text and ("/v1/" in text or "cryptocom" in text)


def test_symbols_without_base_coin(hostile: Hostile) -> None:
    item = dict(SYMBOLS["data"][0])  # type: ignore[index]
    del item["base_coin"]
    hostile.routes["/v1/symbols"] = json_answer({"code": "0", "data": [item]})
    with pytest.raises(ProtocolError, match="base_coin"):
        mdkit.symbols(url=hostile.url)


def test_cli_prints_one_line(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile.routes["/v1/klines"] = json_answer({"code": "0", "data": [[1e15, 1, 1, 1, 1, 1]]})
    monkeypatch.setenv("MDKIT_CRYPTOCOM_REST_URL", hostile.url)
    assert cli.main(["klines", "btcusdt"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ProtocolError" in err and "Traceback" not in err


def test_bad_url_is_an_mdkit_error_before_any_request() -> None:
    with pytest.raises(InvalidArgument, match="not a valid URL"):
        mdkit.tickers(url="http://[::1")
    with pytest.raises(InvalidArgument):
        mdkit.prices(url="http://127.0.0.1:99999")


def test_blank_credentials_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MDKIT_CRYPTOCOM_API_KEY", raising=False)
    monkeypatch.delenv("MDKIT_CRYPTOCOM_SECRET_KEY", raising=False)
    with pytest.raises(MdkitError, match="API key") as info:
        mdkit.Account(api_key="   ", secret_key="\t")
    assert "secret key" in str(info.value)


def test_plot_with_a_bad_axes_is_an_mdkit_error() -> None:
    import pandas as pd

    bars = pd.DataFrame(
        {"open": [1.0], "high": [2.0], "low": [0.5], "close": [1.5], "volume": [1.0]},
        index=pd.DatetimeIndex([pd.Timestamp("2024-01-01", tz="UTC")], name="timestamp"),
    )
    with pytest.raises(InvalidArgument, match="ax"):
        mdkit.plot.candles(bars, ax="nope")


def test_body_cut_short_is_a_network_error(
    hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cut(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(b'{"code":"0","data":')
        h.wfile.flush()
        h.close_connection = True

    hostile.routes["/v1/ticker/price"] = cut
    monkeypatch.setenv("MDKIT_RETRIES", "1")
    with pytest.raises(NetworkError):
        mdkit.prices(url=hostile.url)


def test_chunked_gzip_body_is_read(hostile: Hostile) -> None:
    body = gzip.compress(json.dumps({"code": "0", "data": {"btcusdt": "3"}}).encode())

    def chunked(h: http.server.BaseHTTPRequestHandler) -> None:
        h.protocol_version = "HTTP/1.1"
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Connection", "close")
        h.end_headers()
        for i in range(0, len(body), 7):
            part = body[i : i + 7]
            h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        h.wfile.write(b"0\r\n\r\n")
        h.close_connection = True

    hostile.routes["/v1/ticker/price"] = chunked
    assert mdkit.prices(url=hostile.url)["price"].to_dict() == {"btcusdt": 3.0}
