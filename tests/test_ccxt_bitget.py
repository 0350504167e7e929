"""Third-party Bitget clients read the Bitget sandbox over real sockets.

ccxt.pro always (the ``test`` extra); cryptofeed 3.0.1 when ``.venv-peers`` exists
(``make bench-peers-env``: it needs Python >= 3.13), through bench/peer_cryptofeed.py.

ccxt.pro's ``bitget`` is pointed at the sandbox (``urls['api']['ws']['public']`` and
``urls['api']['spot']``), its markets preset from the sandbox's REST symbol list
(fetched by ccxt's own REST method; its ``load_markets`` would also call margin and
futures endpoints the sandbox does not serve, hence ``set_markets``), and its own
order book checksum check left ON (``options['watchOrderBook']['checksum']``, read by
``handle_order_book`` in ccxt/pro/bitget.py). What it receives is compared with
mdkit's capture of the same sandbox, by trade id and by bar open time, and with the
sandbox market's own book. Nothing here special-cases a client: the sandbox speaks the
documented wire format and each client parses it as it would parse the live venue.
One sandbox fix came out of this: futures contract rows now carry ``symbolType``
(cryptofeed tells contracts from spot symbols by it).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mdkit
from mdkit.engine import listing
from mdkit.sandbox import Sandbox

ccxtpro = pytest.importorskip("ccxt.pro")
import ccxt  # noqa: E402  (after the importorskip above)

FACTOR = float(os.environ.get("MDKIT_TEST_TIME_FACTOR", "1"))
SYMBOL = "BTC/USDT"  # ccxt's unified spelling of the sandbox's BTCUSDT


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    listing.clear_cache()
    with Sandbox(seed=7, bitget_options={"rate": 4}) as box:
        yield box
    listing.clear_cache()


async def client(sb: Sandbox) -> Any:
    """A ccxt.pro bitget pointed at the sandbox, markets from the sandbox's symbol list."""
    ex = ccxtpro.bitget({"enableRateLimit": False})
    env = sb.bitget.env()
    ex.urls["api"]["ws"]["public"] = env["WS_URL"]
    ex.urls["api"]["spot"] = env["REST_URL"]  # ccxt appends /api/v2/spot/public/symbols
    ex.options["watchOrderBook"] = {"checksum": True}  # ccxt's default, made explicit
    reply = await ex.publicSpotGetV2SpotPublicSymbols()
    assert reply["code"] == "00000"
    ex.set_markets([market(row) for row in reply["data"]])
    return ex


def market(row: dict[str, str]) -> dict[str, Any]:
    """A ccxt market structure from one row of ``/api/v2/spot/public/symbols``."""
    return {
        "id": row["symbol"],
        "symbol": f"{row['baseCoin']}/{row['quoteCoin']}",
        "base": row["baseCoin"],
        "quote": row["quoteCoin"],
        "baseId": row["baseCoin"],
        "quoteId": row["quoteCoin"],
        "type": "spot",
        "spot": True,
        "active": row["status"] == "online",
        "precision": {
            "price": 10.0 ** -int(row["pricePrecision"]),
            "amount": 10.0 ** -int(row["quantityPrecision"]),
        },
        "info": row,
    }


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60 * FACTOR))


def capture_beside(channels: list[str], seconds: float) -> tuple[threading.Thread, list[Any]]:
    """mdkit.capture of BTCUSDT on a thread, while ccxt reads the same sandbox."""
    out: list[Any] = []
    thread = threading.Thread(
        target=lambda: out.append(mdkit.capture("bitget", ["BTCUSDT"], channels, seconds=seconds)),
        daemon=True,
    )
    thread.start()
    return thread, out


def on_grid(value: float, decimals: int) -> bool:
    scaled = value * 10**decimals
    return abs(scaled - round(scaled)) < 1e-6


def test_markets_from_the_sandbox_symbol_list(sb: Sandbox) -> None:
    async def go() -> Any:
        ex = await client(sb)
        try:
            return ex.markets
        finally:
            await ex.close()

    markets = run(go())
    assert len(markets) >= 800
    btc = markets[SYMBOL]
    assert btc["id"] == "BTCUSDT" and btc["spot"] and btc["active"]
    assert (
        btc["precision"]["price"] == 10.0 ** -sb.bitget.view.instrument("BTCUSDT").price_precision
    )


def test_watch_trades_agrees_with_mdkit_capture(sb: Sandbox) -> None:
    """Every trade both clients saw has the same time, side, price and amount."""
    decimals = sb.bitget.view.instrument("BTCUSDT").price_precision

    async def go() -> tuple[dict[int, dict[str, Any]], Any]:
        ex = await client(sb)
        got: dict[int, dict[str, Any]] = {}
        try:
            thread, out = capture_beside(["trades"], 3 * FACTOR)
            while thread.is_alive():
                for trade in await asyncio.wait_for(ex.watch_trades(SYMBOL), 10 * FACTOR):
                    got[int(trade["id"])] = trade
            return got, out[0]
        finally:
            await ex.close()

    got, cap = run(go())
    assert len(got) > 30  # the 30-trade backfill, then live updates
    for trade in got.values():
        assert trade["symbol"] == SYMBOL and trade["side"] in ("buy", "sell")
        assert on_grid(trade["price"], decimals) and trade["amount"] > 0
    trades = cap.trades
    assert cap.stats["server_errors"] == [] and len(trades) > 0
    ms = pd.DatetimeIndex(trades.index).asi8 // 10**6
    columns = (ms, trades["id"], trades["side"], trades["price"], trades["amount"])
    mine = {
        int(tid): (int(t), side, price, amount)
        for t, tid, side, price, amount in zip(*columns, strict=True)
    }
    both = set(mine) & set(got)
    assert len(both) >= 20, (len(mine), len(got))
    for tid in both:
        theirs = got[tid]
        assert (theirs["timestamp"], theirs["side"], theirs["price"], theirs["amount"]) == mine[tid]


def test_watch_order_book_with_ccxt_checksum_on(sb: Sandbox) -> None:
    """Snapshot then updates; ccxt verifies each update's CRC32 against its own book."""
    source = "BTCUSDT"
    decimals = sb.bitget.view.instrument(source).price_precision

    async def go() -> list[tuple[int, list[list[Any]], list[list[Any]]]]:
        ex = await client(sb)
        seen = []
        try:
            while len(seen) < 4:  # the snapshot and at least three checked updates
                book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 10 * FACTOR)
                top = [[lv[:2] for lv in book[side][:25]] for side in ("bids", "asks")]
                seen.append((book["timestamp"], *top))  # copies: ccxt updates levels in place
            return seen
        finally:
            await ex.close()

    seen = run(go())
    for ts, bids, asks in seen:
        assert len(bids) >= 25 and len(asks) >= 25
        assert bids[0][0] < asks[0][0]
        assert all(a[0] > b[0] for a, b in zip(bids, bids[1:], strict=False))
        assert all(on_grid(level[0], decimals) for level in bids + asks)
        # The sandbox sends the market's book of the second it was built in.
        truths = [sb.bitget.view.book(source, ts / 1000 - k) for k in (0, 1)]
        top = [
            (
                [list(map(float, lv)) for lv in t.bids[:25]],
                [list(map(float, lv)) for lv in t.asks[:25]],
            )
            for t in truths
        ]
        assert (bids, asks) in top
    assert len({ts for ts, _, _ in seen}) >= 3  # updates moved the book


def corrupt_once(sb: Sandbox, check: bool) -> tuple[BaseException | None, list[Any]]:
    """Watch the book, corrupt one update's checksum; return ccxt's error and its requests."""

    async def go() -> BaseException | None:
        ex = await client(sb)
        ex.options["watchOrderBook"] = {"checksum": check}
        try:
            first = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 10 * FACTOR)
            stamp = first["timestamp"]
            sb.bitget.inject("checksum")
            # Updates come once a second; four more cover the corrupted one.
            for _ in range(4):
                book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 10 * FACTOR)
                assert book["timestamp"] > stamp
                stamp = book["timestamp"]
            return None
        except ccxt.BaseError as exc:
            return exc
        finally:
            await ex.close()

    start = len(sb.bitget.received)
    error = run(go())
    return error, sb.bitget.received[start:]


def test_corrupted_checksum_is_caught_by_ccxt(sb: Sandbox) -> None:
    """ccxt's own check fires on the sandbox's corrupted checksum: it drops the book.

    ccxt answers a mismatch by unsubscribing the channel (``handle_check_sum_error``);
    its pending ``watch_order_book`` then fails with UnsubscribeError before the
    ChecksumError it means to raise reaches it (ccxt 4.5), so either is accepted.
    """
    error, sent = corrupt_once(sb, check=True)
    assert isinstance(error, ccxt.ChecksumError | ccxt.UnsubscribeError), error
    unsubscribe = {"op": "unsubscribe", "args": [
        {"instType": "SPOT", "channel": "books", "instId": "BTCUSDT"}]}  # fmt: skip
    assert unsubscribe in sent


def test_corrupted_checksum_unseen_with_ccxt_check_off(sb: Sandbox) -> None:
    """The same fault with ``checksum: False`` passes unnoticed: the option drives the check."""
    error, sent = corrupt_once(sb, check=False)
    assert error is None
    assert not any(isinstance(m, dict) and m.get("op") == "unsubscribe" for m in sent)


def test_watch_ohlcv_agrees_with_mdkit_capture(sb: Sandbox) -> None:
    async def go() -> tuple[list[list[Any]], Any]:
        ex = await client(sb)
        bars: dict[int, list[Any]] = {}
        try:
            thread, out = capture_beside(["klines:1m"], 2 * FACTOR)
            while thread.is_alive() or len(bars) < 2:
                for bar in await asyncio.wait_for(ex.watch_ohlcv(SYMBOL, "1m"), 10 * FACTOR):
                    bars[bar[0]] = bar
            return [bars[k] for k in sorted(bars)], out[0]
        finally:
            await ex.close()

    bars, cap = run(go())
    assert len(bars) >= 40  # the snapshot of recent bars, then the forming one
    opens = [bar[0] for bar in bars]
    assert all(t % 60_000 == 0 for t in opens)
    assert all(b - a == 60_000 for a, b in zip(opens, opens[1:], strict=False))
    klines = cap.klines
    assert cap.stats["server_errors"] == [] and len(klines) > 0
    mine = {
        int(t) // 10**6: row
        for t, row in zip(pd.DatetimeIndex(klines.index).asi8, klines.itertuples(), strict=True)
    }
    closed = [bar for bar in bars[:-2] if bar[0] in mine]  # the last two may still move
    assert len(closed) >= 30
    for t, o, h, low, c, v in closed:
        row = mine[t]
        assert (o, h, low, c, v) == (row.open, row.high, row.low, row.close, row.volume)


PEERS_PYTHON = Path(__file__).resolve().parents[1] / ".venv-peers" / "bin" / "python"


@pytest.mark.skipif(not PEERS_PYTHON.exists(), reason="no .venv-peers: `make bench-peers-env`")
def test_cryptofeed_reads_sandbox_trades(sb: Sandbox) -> None:
    """cryptofeed 3.0.1 (own Python 3.13 venv): symbols from the sandbox REST, then trades."""
    env = sb.bitget.env()
    script = Path(__file__).resolve().parents[1] / "bench" / "peer_cryptofeed.py"
    command = [str(PEERS_PYTHON), str(script), env["WS_URL"], "40", "--rest", env["REST_URL"]]
    done = subprocess.run(
        [*command, "--keep", "40"], capture_output=True, text=True, timeout=90 * FACTOR
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # cryptofeed may hand over a trade or two more before its stop takes effect
    assert out["count"] >= 40 and len(out["kept"]) == 40
    stamps = [int(row[1]) for row in out["kept"]]
    truth = sb.bitget.view.trades("BTCUSDT", min(stamps), max(stamps) + 1)
    by_id = {
        int(i): (int(t), "buy" if b else "sell", float(p), float(a))
        for i, t, b, p, a in zip(
            truth.id, truth.time_ms, truth.is_buy, truth.price, truth.amount, strict=True
        )
    }
    for tid, ts, side, price, amount in out["kept"]:
        assert by_id[int(tid)] == (int(ts), side, float(price), float(amount))
