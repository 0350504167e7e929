"""Command line: ``python -m mdkit demo`` and ``python -m mdkit sandbox``."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import threading
from collections.abc import Sequence

import pandas as pd

__all__ = ["main"]


def _show(title: str, df: pd.DataFrame, rows: int = 8) -> None:
    print(f"\n== {title}  ({len(df)} rows; columns: {', '.join(map(str, df.columns))})")
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(df.head(rows).to_string())


def demo(seed: int = 7) -> int:
    """Start the sandbox in-process and show what mdkit returns, as tables."""
    import mdkit
    from mdkit.sandbox import Sandbox

    with Sandbox(seed) as sb:
        print(f"mdkit {mdkit.__version__} demo against the local sandbox ({sb.urls})")
        print("Every call below is what you would type in a notebook.")
        print('\n>>> mdkit.klines("btcusdt", "1min").tail()')
        _show(
            "klines btcusdt 1min (latest bars; closed=False is the forming bar)",
            mdkit.klines("btcusdt", "1min").tail(5),
        )
        print('\n>>> mdkit.klines("ETH/USDT", "1h", start="12 hours ago")')
        _show(
            "klines ethusdt 60min, last 12 hours",
            mdkit.klines("ETH/USDT", "1h", start="12 hours ago"),
            12,
        )
        print('\n>>> mdkit.trades("BTC/USDT")')
        trades = mdkit.trades("BTC/USDT")
        _show("trades btcusdt (last 200, oldest first)", trades.tail(8))
        flow = trades.groupby("side", observed=True).amount.sum()
        buy, sell = flow.get("buy", 0.0), flow.get("sell", 0.0)
        print(f"\n   taker flow: buy {buy:.4f} BTC, sell {sell:.4f} BTC")
        print('\n>>> mdkit.depth("btcusdt")')
        book = mdkit.depth("btcusdt")
        ladder = book[book.level < 5].pivot(
            index="level", columns="side", values=["price", "amount"]
        )
        _show("depth btcusdt, top 5 levels per side", ladder, 5)
        print("\n>>> mdkit.tickers()")
        _show("tickers, all markets", mdkit.tickers()[["last", "bid", "ask", "volume", "change"]])
        print("\n>>> acct = mdkit.Account(trading=True)   # the sandbox's demo key pair")
        acct = mdkit.Account(trading=True)
        _show("balances", acct.balances())
        asks = book[book.side == "ask"]
        price = round(float(asks.price.iloc[0]) * 1.001, 2)
        print(f'\n>>> acct.place_order("btcusdt", "buy", 0.05, price={price})')
        oid = acct.place_order("btcusdt", "buy", 0.05, price=price)
        detail = acct.order("btcusdt", oid)
        _show(f"order {oid}: {detail.status}, its fills", detail.trades)
        from mdkit.venues import get_venue, venue_keys

        first = get_venue(venue_keys()[0])
        symbols = list(first.example_symbols[:2])
        print(
            f'\n>>> cap = mdkit.capture("{first.key}", {symbols}, '
            '["trades", "ticker", "book"], seconds=3)'
        )
        cap = mdkit.capture(first.key, symbols, ["trades", "ticker", "book"], seconds=3)
        print(cap)
        _show("cap.trades (WebSocket, with receive time)", cap.trades.tail(5))
        top = cap.book(levels=2)
        _show("cap.book(levels=2), the reconstructed top of book over time", top.tail(4))
        try:
            mdkit.klines("btcusd", "1min")
        except mdkit.InvalidArgument as exc:
            print(f'\n>>> mdkit.klines("btcusd", "1min")\n   {type(exc).__name__}: {exc}')
    print("\nDone. Run `python -m mdkit sandbox` to keep a sandbox up for your own notebook.")
    return 0


def sandbox(host: str, port: int, seed: int, ws_port: int = 0) -> int:
    """Run the sandbox until Ctrl-C, printing its variables as ``export`` lines.

    Everything else it prints is a shell comment, so the output can be pasted into
    (or ``eval``-ed by) a shell as it is.
    """
    from mdkit.sandbox import Sandbox

    sb = Sandbox(seed, host=host, port=port, ws_port=ws_port, set_env=False).start()
    print(f"# mdkit sandbox (seed {seed}) is serving {', '.join(sb.servers)}.")
    print("# Point mdkit at it (paste these lines into your shell):")
    for name, value in sb.env.items():
        print(f"export {name}={shlex.quote(value)}")
    print("# Ctrl-C stops it.")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("# stopping")
    finally:
        sb.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mdkit`` and the ``mdkit`` script."""
    parser = argparse.ArgumentParser(prog="mdkit", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="run the sandbox in-process and show mdkit's tables")
    p_demo.add_argument("--seed", type=int, default=7)
    p_sb = sub.add_parser("sandbox", help="serve every venue locally until Ctrl-C")
    p_sb.add_argument("--host", default="127.0.0.1")
    p_sb.add_argument("--port", type=int, default=0, help="HTTP port, every venue (0 = any)")
    p_sb.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0 = any)")
    p_sb.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    from mdkit.errors import InvalidArgument, MdkitError

    # exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted; never a traceback.
    try:
        if args.command == "demo":
            return demo(args.seed)
        return sandbox(args.host, args.port, args.seed, args.ws_port)
    except KeyboardInterrupt:
        print("mdkit: interrupted", file=sys.stderr)
        return 130
    except InvalidArgument as exc:
        print(f"mdkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MdkitError, OSError) as exc:
        print(f"mdkit {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
