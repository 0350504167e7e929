"""Numbers as printed by the demo and the CLI: the symbol's precision, no scientific notation."""

from __future__ import annotations

import pandas as pd

from mdkit.data.display import bps_text, decimals_of, frame_text, number_text


def test_decimals_follow_the_values_grid() -> None:
    assert decimals_of([0.0000069, 0.000007]) == 7
    assert decimals_of([82700.39, 82700.4]) == 2
    assert decimals_of([1.0, 2.0]) == 0
    # float noise (a sum of amounts) is cut at 4 significant digits of the smallest value
    assert decimals_of([0.1 + 0.2, 1 / 3]) == 4


def test_small_prices_and_large_volumes_are_written_in_full() -> None:
    df = pd.DataFrame(
        {"symbol": ["crobtc", "btcusdt"], "price": [6.9e-6, 82700.39], "volume": [1.25e7, 0.5]}
    )
    text = frame_text(df, precision={"crobtc": 10})
    assert "0.0000069000" in text  # the symbol's 10 decimals, not 0.000002 nor 6.9e-06
    assert "82,700.39" in text  # the other symbol: its own values' decimals
    assert "12,500,000.0" in text
    assert "e-0" not in text and "e+0" not in text
    assert number_text(6.9e-6) == "0.0000069"


def test_spreads_in_bps_keep_three_significant_digits() -> None:
    assert bps_text(0.01, 82700.0) == "0.00121 bps"
    assert bps_text(0.0005, 1.3545) == "3.69 bps"
    assert bps_text(2.0, 100.0) == "200 bps"
    assert bps_text(0.01, 0.0) == ""


def test_cli_prints_prices_to_the_symbols_precision() -> None:
    import os
    import re
    import subprocess
    import sys

    from mdkit.sandbox import Sandbox

    with Sandbox(set_env=False) as sb:
        env = {**os.environ, **sb.env}
        out = subprocess.run(
            [sys.executable, "-m", "mdkit", "trades", "crobtc"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    assert "e-0" not in out.stdout and "e+0" not in out.stdout
    # crobtc's price precision is 10 decimals on the sandbox's list: every price has them
    prices = re.findall(r"\s(0\.\d+)\s", out.stdout)
    assert prices and all(len(p) == 12 for p in prices), prices[:5]
