"""``mdkit doctor`` against the sandbox (fine) and against servers that drift, refuse or stay
silent (each named, exit 1)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from mdkit.cli import main
from mdkit.doctor import doctor
from mdkit.errors import InvalidArgument, UnknownVenue
from mdkit.sandbox import Sandbox
from mdkit.venues import venue_keys
from tests.conftest import tiny_server


def test_every_venue_of_the_sandbox_is_fine(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    for key in venue_keys():
        line = next(x for x in out.splitlines() if x.startswith(key))
        assert line.split()[1] == "ok" and "127.0.0.1" in line, out
    assert "rows ticker" in out or "ticker " in out


async def _drifting(ws: Any) -> None:
    # A v1-family server whose trades carry a field mdkit does not know.
    await ws.recv()
    for i in range(3):
        await ws.send(
            '{"channel":"market_btcusdt_trade_ticker","ts":1790000000000,"tick":{"data":'
            f'[{{"id":{i},"side":"buy","price":"1.5","vol":"2","ts":1790000000000,'
            '"takerFee":"0.1"}]}}'
        )
    await ws.wait_closed()


async def _refusing(ws: Any) -> None:
    # A Bitget server that does not list the symbol (doc error 30001).
    await ws.recv()
    await ws.send(
        '{"event":"error","arg":{"instType":"SPOT","channel":"trade","instId":"BTCUSDT"},'
        '"code":30001,"msg":"instType:SPOT,channel:trade,instId:BTCUSDT doesn\'t exist",'
        '"op":"subscribe"}'
    )
    await ws.wait_closed()


async def _silent(ws: Any) -> None:
    await ws.wait_closed()


@pytest.mark.parametrize(
    ("venue", "handler", "named"),
    [
        ("cryptocom", _drifting, "drift: cryptocom trade_ticker takerFee unknown"),
        ("bitget", _refusing, "server error"),
        ("bitget", _silent, "no rows in 1 s"),
    ],
    ids=["drift", "refuse", "silent"],
)
def test_a_broken_server_is_named_and_exits_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    venue: str,
    handler: Any,
    named: str,
) -> None:
    with tiny_server(handler) as url:
        monkeypatch.setenv(f"MDKIT_{venue.upper()}_WS_URL", url)
        assert main(["doctor", "--venue", venue, "--seconds", "1"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{venue:<11} FAIL  {url}"), out
    assert named in out, out


def test_an_unreachable_host_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MDKIT_BITTAP_WS_URL", f"ws://127.0.0.1:{port}/")
    assert main(["doctor", "--venue", "bittap", "--seconds", "1"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("bittap      FAIL") and "error:" in out, out


def test_bad_arguments_before_any_connection() -> None:
    with pytest.raises(UnknownVenue, match="valid: cryptocom"):
        doctor(["nowhere"])
    with pytest.raises(InvalidArgument, match="seconds"):
        doctor(seconds=0)
