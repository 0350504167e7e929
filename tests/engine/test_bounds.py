"""Bounds: a compressed frame never inflates past ``max_frame`` (capture and ``cap.raw``)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from typing import Any

import pytest

import mdkit
from mdkit.data.tables import decode_payload
from mdkit.data.wire import inflate
from mdkit.errors import InvalidArgument, ProtocolError
from tests.conftest import tiny_server

MB = 2**20


def _bomb(inflated: int = 256 * MB) -> bytes:
    """A gzip frame of ~250 KB that inflates to ``inflated`` zero bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MB)
    parts = [packer.compress(chunk) for _ in range(inflated // MB)]
    return b"".join(parts) + packer.flush()


BOMB = _bomb()


def _trade(i: int) -> bytes:
    tick = {"id": i, "ts": 1_790_000_000_000 + i}
    tick["data"] = [{"id": i, "side": "buy", "price": 100.5, "vol": 1, "ts": tick["ts"]}]
    push = {"channel": "market_btcusdt_trade_ticker", "ts": tick["ts"], "tick": tick}
    return gzip.compress(json.dumps(push).encode())


def _server(bombs: int) -> Any:
    async def handler(ws: Any) -> None:
        await ws.recv()  # the subscribe
        for i in range(bombs):
            await ws.send(BOMB)
            await ws.send(_trade(i))
        for i in range(bombs, bombs + 5):
            await ws.send(_trade(i))
        await ws.wait_closed()

    return handler


def _peak_of_capture(bombs: int) -> tuple[int, Any]:
    with tiny_server(_server(bombs)) as url:
        tracemalloc.start()
        try:
            cap = mdkit.capture("cryptocom", "btcusdt", "trades", max_messages=5 + bombs, url=url)
            raw = cap.raw  # decoded beside the bytes: bounded too
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(raw) >= 5
    return peak, cap


def test_gzip_bombs_stay_within_100_mb_of_a_capture_without_them() -> None:
    quiet, plain = _peak_of_capture(0)
    loud, bombed = _peak_of_capture(3)
    assert bombed.stats["parse_errors"] == 3
    assert bombed.stats["parse_error_kinds"]["protocol"]["count"] == 3
    assert "max_frame" in bombed.stats["parse_error_kinds"]["protocol"]["first"]
    assert len(bombed.trades) == len(plain.trades) + 3  # the connection went on
    assert bombed.raw["error"].sum() == 3
    assert loud - quiet < 100 * MB, f"peak {loud / MB:.0f} MB against {quiet / MB:.0f} MB"


def test_inflate_caps_and_the_option_is_checked() -> None:
    with pytest.raises(ProtocolError, match="max_frame"):
        inflate(BOMB, 31, 8 * MB)
    assert len(inflate(gzip.compress(b"x" * 1000), 31, 1000)) == 1000
    with pytest.raises(ProtocolError, match="max_frame"):
        inflate(gzip.compress(b"x" * 1001), 31, 1000)
    shown = decode_payload(BOMB)  # cap.raw's "decoded": never the 256 MB
    assert len(shown) <= len(BOMB) * 2
    with pytest.raises(InvalidArgument, match="max_frame"):
        mdkit.capture("cryptocom", "btcusdt", "trades", seconds=1, max_frame=10)
