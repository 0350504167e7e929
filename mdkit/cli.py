"""The ``mdkit`` command: market data, captures and datasets from a shell.

Exit codes: 0 done, 1 error, 2 bad usage or arguments, 130 interrupted (Ctrl-C or
``kill``; what arrived is saved first). Errors print on one line; ``--debug`` shows the
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]


def _show(title: str, df: pd.DataFrame, rows: int = 8) -> None:
    import pandas as pd

    print(f"\n== {title}  ({len(df)} rows; columns: {', '.join(map(str, df.columns))})")
    with pd.option_context("display.width", 120, "display.max_columns", 12):
        print(df.head(rows).to_string())


def demo(seed: int = 7) -> int:
    """Start the sandbox in-process and show every venue (see :mod:`mdkit.demo`)."""
    from mdkit import demo as tour

    return tour.run(seed)


def sandbox(host: str, port: int, seed: int, ws_port: int = 0) -> int:
    """Run the sandbox until Ctrl-C or ``kill``, printing its variables as ``export`` lines.

    Everything else it prints is a shell comment, so the output can be pasted into
    (or ``eval``-ed by) a shell as it is.
    """
    from mdkit.sandbox import Sandbox

    sb = Sandbox(seed, host=host, port=port, ws_port=ws_port, set_env=False).start()
    print(f"# mdkit sandbox (seed {seed}) is serving {', '.join(sb.servers)}.")
    print("# Point mdkit at it (paste these lines into your shell):")
    for name, value in sb.env.items():
        print(f"export {name}={shlex.quote(value)}")
    stop = threading.Event()
    # `kill <pid>` (SIGTERM) stops it as cleanly as Ctrl-C; a shell without job control
    # starts a background command with SIGINT ignored, so there only `kill` works.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        print(f"# kill {os.getpid()} stops it (SIGINT is ignored in this background job).")
    else:
        print(f"# Ctrl-C or kill {os.getpid()} stops it.")
    sys.stdout.flush()
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        print("# stopping")
        sb.stop()
    return 0


class _Usage(Exception):
    """A usage mistake found after parsing (exit 2)."""


def _out_kind(out: str) -> str:
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        return "dir"
    if out.endswith(".parquet"):
        return "parquet"
    if out.endswith(".csv"):
        return "csv"
    raise _Usage(f"--out {out!r}: give a file.parquet, a file.csv or a directory/ (ending in /)")


def _save_frame(df: pd.DataFrame, out: str | None, name: str) -> None:
    """Write one REST frame to --out, or print it."""
    if out is None:
        from mdkit.data.display import frame_text

        print(frame_text(df, precision=_precision(df), max_rows=40))  # no 1e-06
        return
    kind = _out_kind(out)
    path = os.path.join(out, f"{name}.parquet") if kind == "dir" else out
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if kind == "csv":
        df.to_csv(path)
    else:
        df.to_parquet(path)
    print(f"{len(df):,} rows -> {path}", file=sys.stderr)


def _precision(df: pd.DataFrame) -> dict[str, float]:
    """Price decimals per symbol from the frame's venue's list (empty if it has none)."""
    import mdkit

    try:
        listed = mdkit.symbols(df.attrs.get("venue"))
    except mdkit.MdkitError:
        return {}
    return {str(k): float(v) for k, v in listed["price_precision"].items() if v == v}


def _save_capture(cap: Any, out: str | None, raw: bool, asked: Sequence[str] = ()) -> None:
    """Print or save a capture; ``asked``: the kinds subscribed (an empty capture of one
    kind still writes its table, empty, to a single-table ``out``)."""
    if out is None:
        print(cap)
        return
    kind = _out_kind(out)
    if kind == "dir":
        parts = cap.to_parquet(out, raw=raw)
        print(f"{len(parts)} part(s) added to the dataset {out}", file=sys.stderr)
        return
    kinds = cap.frames() or list(dict.fromkeys(asked))
    if len(kinds) != 1:
        raise _Usage(
            f"--out {out!r} holds one table, this capture has {len(kinds)} "
            f"({', '.join(kinds)}); give a directory/ for a dataset"
        )
    _save_frame(cap.frame(kinds[0]), out, kinds[0])


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _timed(engine: Any, seconds: float | None, progress: bool) -> bool:
    """Run an engine on mdkit's loop with a time bar; True when interrupted."""
    import asyncio

    from tqdm import tqdm

    from mdkit.engine import runner

    future = asyncio.run_coroutine_threadsafe(engine.run(), runner.loop())
    bar = tqdm(
        total=seconds, unit="s", disable=not progress or seconds is None, leave=False, ncols=80
    )
    start = time.monotonic()
    interrupted = False

    def terminate(*_: Any) -> None:  # `kill` ends it as Ctrl-C does: what arrived is saved
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        while not future.done():
            try:
                future.result(timeout=0.25)
            except TimeoutError:
                pass
            bar.n = round(min(seconds or 0, time.monotonic() - start), 1)
            bar.refresh()
    except KeyboardInterrupt:
        interrupted = True
        engine.stop("interrupted")
        future.exception(timeout=15)
    finally:
        signal.signal(signal.SIGTERM, previous)
        bar.close()
    error = future.exception()
    if error is not None and not interrupted:
        raise error
    return interrupted


def _capture(args: argparse.Namespace) -> int:
    from mdkit.capture import Capture
    from mdkit.data.tables import STREAM_KINDS
    from mdkit.engine.plan import plan
    from mdkit.engine.stream import Engine

    symbols = _split(args.symbols)
    channels = _split(args.channels)
    checked = plan(args.venue, symbols, channels, args.seconds, None, args.url, None, {})
    engine = Engine.from_plan(checked)
    interrupted = _timed(engine, args.seconds, not args.quiet)
    kinds = (
        "depth" if s.kind == "book" else s.kind for p in checked.streams for s in p.subscriptions
    )
    asked = [kind for kind in kinds if kind in STREAM_KINDS]  # book rows are depth rows
    _save_capture(Capture(engine), args.out, args.raw, asked)
    return 130 if interrupted else 0


def _doctor(args: argparse.Namespace) -> int:
    from mdkit.doctor import doctor, format_report

    def show(report: Any) -> None:
        sys.stdout.write(format_report(report) + "\n")
        sys.stdout.flush()

    reports = doctor(args.venue, seconds=args.seconds, on_report=show)
    return 0 if all(r.ok for r in reports) else 1


def _record(args: argparse.Namespace) -> int:
    import mdkit

    flush: Any = int(args.flush) if args.flush.isdigit() else args.flush
    summary = mdkit.record(
        args.directory,
        [(args.venue, _split(args.symbols), _split(args.channels))],
        flush=flush,
        rotate=None if args.rotate in ("0", "none", "off") else args.rotate,
        status_every=args.status_every,
        raw=args.raw,
        seconds=args.seconds,
        on_status=lambda line: print(line, file=sys.stderr, flush=True),
    )
    rows = ", ".join(f"{k} {v:,}" for k, v in summary["rows"].items()) or "no rows"
    print(
        f"recorded {rows} in {summary['parts']} part(s), {summary['gaps']} gap(s), "
        f"{summary['duration']:.0f} s ({summary['outcome']})",
        file=sys.stderr,
    )
    return 130 if summary["outcome"] in ("interrupted", "terminated") else 0


def _replay(args: argparse.Namespace) -> int:
    import mdkit

    cap = mdkit.replay(args.source, venue=args.venue, start=args.start, end=args.end)
    _save_capture(cap, args.out, False)
    return 0


def _compact(args: argparse.Namespace) -> int:
    from mdkit.store.compact import compact

    done = compact(args.directory, before=args.before)
    print(
        f"merged {done['parts_before']} part(s) into {done['parts_after']} in "
        f"{done['partitions']} partition(s), {done['rows']:,} rows",
        file=sys.stderr,
    )
    return 0


def _rest(args: argparse.Namespace) -> int:
    import mdkit

    if args.command == "klines":
        df = mdkit.klines(args.symbol, args.interval, start=args.start, end=args.end)
        name = f"klines-{args.symbol}-{args.interval}"
    elif args.command == "trades":
        df, name = mdkit.trades(args.symbol), f"trades-{args.symbol}"
    elif args.command == "depth":
        df, name = mdkit.depth(args.symbol), f"depth-{args.symbol}"
    else:
        df, name = mdkit.tickers(), "tickers"
    _save_frame(df, args.out, name.replace("/", "_"))
    return 0


_EPILOG = """examples:
  mdkit klines btcusdt 1h --start "30 days ago" --out btc.parquet
  mdkit capture cryptocom --symbols btcusdt,ethusdt --channels trades,book --seconds 30 --out data/
  mdkit record data/ --venue cryptocom --symbols btcusdt --channels trades,book --flush 5s --raw
  mdkit replay data/ --out replayed/
  mdkit compact data/

exit codes: 0 done, 1 error, 2 bad usage, 130 interrupted by Ctrl-C or kill (output saved
first)"""


def _parser() -> argparse.ArgumentParser:
    from mdkit import __version__

    parser = argparse.ArgumentParser(
        prog="mdkit",
        description="Crypto market data as tables: REST, captures, datasets, a local sandbox.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"mdkit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    def out(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", help="file.parquet, file.csv or directory/ (default: print)")

    p = sub.add_parser("klines", help="OHLCV bars of one symbol")
    p.add_argument("symbol")
    p.add_argument("interval", nargs="?", default="1min", help="1m 5m 1h 1d ... (default 1min)")
    p.add_argument("--start", help='first bar, e.g. "30 days ago" or 2026-11-01')
    p.add_argument("--end", help="end of the range (default now)")
    out(p)
    for name, text in (("trades", "recent trades"), ("depth", "order book")):
        p = sub.add_parser(name, help=f"{text} of one symbol")
        p.add_argument("symbol")
        out(p)
    out(sub.add_parser("tickers", help="24 h tickers of every market"))

    p = sub.add_parser("capture", help="capture WebSocket streams for a while")
    p.add_argument("venue", help="venue key (cryptocom, ...)")
    p.add_argument("--symbols", required=True, help="comma-separated")
    p.add_argument("--channels", default="trades", help="trades,ticker,klines:1min,book")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--url", help="WebSocket URL (default the venue's or MDKIT_<VENUE>_WS_URL)")
    p.add_argument("--raw", action="store_true", help="also save raw frames (dataset only)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    out(p)

    p = sub.add_parser("record", help="record streams into a dataset until Ctrl-C or kill")
    p.add_argument("directory")
    p.add_argument("--venue", required=True)
    p.add_argument("--symbols", required=True, help="comma-separated")
    p.add_argument("--channels", default="trades", help="comma-separated")
    p.add_argument("--flush", default="5s", help="5s, 1min, or a row count (default 5s)")
    p.add_argument("--rotate", default="1h", help="merge parts per period (default 1h; off)")
    p.add_argument("--status-every", default="60s", help="status line period (default 60s)")
    p.add_argument("--seconds", type=float, help="stop after this long (default: never)")
    p.add_argument("--raw", action="store_true", help="also record raw frames (for replay)")

    p = sub.add_parser("replay", help="run recorded raw frames back into tables")
    p.add_argument("source", help="dataset directory or raw .parquet file")
    p.add_argument("--venue")
    p.add_argument("--start")
    p.add_argument("--end")
    out(p)

    p = sub.add_parser("compact", help="merge the small parts of closed days")
    p.add_argument("directory")
    p.add_argument("--before", help="only days before this date (default today, UTC)")

    p = sub.add_parser("doctor", help="check each venue's endpoint in effect (exit 1 if any fails)")
    p.add_argument("--venue", action="append", help="venue key (repeat; default: every venue)")
    p.add_argument("--seconds", type=float, default=5.0, help="listening time per venue")

    p = sub.add_parser("sandbox", help="serve every venue locally until Ctrl-C or kill")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="HTTP port, every venue (0 = any)")
    p.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0 = any)")
    p.add_argument("--seed", type=int, default=7)
    p = sub.add_parser("demo", help="run the sandbox in-process and show mdkit's tables")
    p.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m mdkit`` and the ``mdkit`` script."""
    from mdkit.errors import InvalidArgument, MdkitError

    args = _parser().parse_args(argv)
    if args.command == "record":
        # A recorder's memory stays flat over hours on Arrow's system pool (see
        # mdkit.store.recorder); Arrow picks its default pool when pyarrow loads, which
        # is why this module imports pandas (and so pyarrow) only below this line.
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "capture": _capture,
        "record": _record,
        "replay": _replay,
        "compact": _compact,
        "demo": lambda a: demo(a.seed),
        "doctor": _doctor,
        "sandbox": lambda a: sandbox(a.host, a.port, a.seed, a.ws_port),
    }
    try:
        if getattr(args, "out", None):
            _out_kind(args.out)  # a bad --out is a usage error before any work
        return commands.get(args.command, _rest)(args)
    except KeyboardInterrupt:
        print("mdkit: interrupted", file=sys.stderr)
        return 130
    except (_Usage, InvalidArgument) as exc:
        if args.debug:
            raise
        print(f"mdkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except (MdkitError, OSError) as exc:
        if args.debug:
            raise
        print(f"mdkit {args.command}: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug still gets one line; --debug shows it
        if args.debug:
            raise
        text = str(exc).splitlines()[0][:300] if str(exc) else ""
        print(
            f"mdkit {args.command}: internal error: {type(exc).__name__}: {text} "
            "(run with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
