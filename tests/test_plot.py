from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import mdkit  # noqa: E402
from mdkit.sandbox import Sandbox  # noqa: E402


def test_candles_draw_one_body_per_bar(sandbox: Sandbox) -> None:
    df = mdkit.klines("btcusdt", "5min", limit=40)
    ax = mdkit.plot.candles(df)
    bodies = ax.containers[0]
    assert len(bodies) == 40
    assert "btcusdt" in ax.get_title() and "5min" in ax.get_title()
    # the forming bar is hollow, closed bars are filled
    assert bodies[-1].get_facecolor()[3] == 0 and bodies[0].get_facecolor()[3] > 0
    plt.close("all")


def test_depth_plot(sandbox: Sandbox) -> None:
    ax = mdkit.plot.depth(mdkit.depth("ethusdt"), levels=20)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bid", "ask"]
    plt.close("all")


def test_bad_frames_are_refused() -> None:
    with pytest.raises(mdkit.InvalidArgument, match="missing high, low"):
        mdkit.plot.candles(pd.DataFrame({"open": [1.0], "close": [1.0]}))
    with pytest.raises(mdkit.InvalidArgument, match="datetime index"):
        mdkit.plot.candles(pd.DataFrame({"open": [1.0], "high": [1], "low": [1], "close": [1]}))
