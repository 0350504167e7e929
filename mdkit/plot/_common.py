"""What every mdkit chart shares: lazy matplotlib, the UTC time axis, titles, input checks.

matplotlib is imported inside :func:`pyplot` so that ``import mdkit`` stays light
(DESIGN.md "Performance targets": ``import mdkit`` ≤ ``import pandas`` + 50 ms).
Every time axis goes through :func:`time_axis`: one formatter (ISO dates, 24-hour
clock, UTC, the date as the offset at the axis end) and the label ``time (UTC)``, so
that charts side by side read the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mdkit.data.display import decimals_of
from mdkit.data.frames import LOCAL_TIMESTAMP
from mdkit.errors import InvalidArgument

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "BUY",
    "SELL",
    "BID",
    "ASK",
    "MID",
    "TIME_LABEL",
    "VENUE",
    "SYMBOL",
    "pyplot",
    "check_axes",
    "new_axes",
    "time_axis",
    "naive_utc",
    "title_of",
    "require_frame",
    "require_time_index",
    "time_index",
    "select",
    "venue_colors",
    "has_local_time",
    "figure_of",
    "plain_prices",
    "compact_numbers",
    "assets_of",
    "unit_label",
]

# Colours: green/red for buyers/bids vs sellers/asks (what trading screens use), chosen
# to stay apart for the common red-green colour deficiency (blue-ish green, orange-ish red).
BUY = BID = "#1a9e77"
SELL = ASK = "#e0533d"
MID = "#444444"
VENUE_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")

TIME_LABEL = "time (UTC)"
# Column names read here (the contract is written in mdkit/data/frames.py).
VENUE = "venue"
SYMBOL = "symbol"

# One time format for every chart: ISO dates, 24-hour clock, the date as the offset.
# Ticks say only what changes between them (year, month-day, hour:minute, seconds); the
# offset at the axis end gives the rest, so one glance reads the full UTC time.
_FORMATS = ["%Y", "%Y-%m", "%m-%d", "%H:%M", "%H:%M", "%H:%M:%S.%f"]
_ZERO_FORMATS = ["", "%Y-%m", "%m-%d", "%m-%d", "%H:%M", "%H:%M:%S.%f"]
_OFFSET_FORMATS = ["", "", "%Y", "%Y-%m-%d", "%Y-%m-%d", "%Y-%m-%d %H:%M"]


def pyplot() -> Any:
    """Import and return ``matplotlib.pyplot`` (on the first plot, not on ``import mdkit``)."""
    import matplotlib.pyplot as plt

    return plt


def check_axes(ax: Any) -> None:
    """Refuse an ``ax`` that is neither None nor matplotlib axes (InvalidArgument)."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise InvalidArgument(f"ax must be matplotlib Axes or None, not {type(ax).__name__}")


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the axes of a new figure of ``figsize`` inches.

    Raises
    ------
    InvalidArgument
        If ``ax`` is given but is not matplotlib axes.
    """
    check_axes(ax)
    if ax is not None:
        return ax
    fig = pyplot().figure(figsize=figsize, layout="constrained")
    result: Axes = fig.add_subplot()
    return result


def time_axis(ax: Axes, *, label: bool = True) -> None:
    """Give ``ax`` the shared UTC time format on x (and the ``time (UTC)`` label)."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(  # type: ignore[no-untyped-call]
        locator,
        tz="UTC",
        formats=_FORMATS,
        zero_formats=_ZERO_FORMATS,
        offset_formats=_OFFSET_FORMATS,
    )
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    if label:
        ax.set_xlabel(TIME_LABEL)


def naive_utc(times: Any) -> np.ndarray:
    """Times as naive UTC ``datetime64[ns]`` (what matplotlib draws; tz-aware is converted)."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.to_numpy(dtype="datetime64[ns]")


def title_of(
    df: pd.DataFrame, *parts: str, interval: str | None = None, with_symbols: bool = True
) -> str:
    """``venue symbol interval · parts`` from a frame's columns or attrs.

    ``interval`` overrides ``df.attrs["interval"]`` (``""`` leaves it out).
    """
    venues = _names(df, VENUE, "venues")
    symbols = _names(df, SYMBOL, "symbols") if with_symbols else []
    head = []
    if len(venues) == 1 and len(symbols) <= 1:
        head.append(" ".join([venues[0], *symbols]))
    elif len(venues) == len(symbols) and VENUE in df.columns and SYMBOL in df.columns:
        pairs = df[[VENUE, SYMBOL]].astype(str).drop_duplicates().itertuples(index=False)
        head.append(", ".join(f"{v} {s}" for v, s in pairs))
    else:
        if venues:
            head.append(", ".join(venues))
        if symbols:
            head.append(", ".join(symbols))
    if interval is None:
        interval = df.attrs.get("interval")
    if interval:
        head.append(str(interval))
    return " · ".join([" ".join(head).strip(), *[p for p in parts if p]]).strip(" ·")


def _names(df: pd.DataFrame, column: str, plural: str) -> list[str]:
    if column in df.columns and len(df):
        return [str(v) for v in pd.unique(df[column].astype(str))]
    if df.attrs.get(column) and "+" not in str(df.attrs[column]):
        return [str(df.attrs[column])]
    return [str(v) for v in df.attrs.get(plural) or []]


def require_frame(df: Any, columns: Sequence[str], what: str, expected: str) -> pd.DataFrame:
    """Refuse anything but a non-empty DataFrame that has ``columns``.

    ``expected`` names what the chart draws from (``"mdkit.klines(...)"``), so the
    message tells the user what to pass instead.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidArgument(f"{what} needs a DataFrame ({expected}), not {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        got = ", ".join(map(str, df.columns)) or "no columns"
        raise InvalidArgument(
            f"{what} needs columns {', '.join(columns)} ({expected}); "
            f"missing {', '.join(missing)} (got {got})"
        )
    if df.empty:
        raise InvalidArgument(f"{what} needs rows; the frame is empty ({expected})")
    return df


def time_index(df: pd.DataFrame) -> pd.DatetimeIndex:
    """The frame's times for an axis: ``timestamp``, or the receive time where it is NaT.

    Rows of a venue that sends no event time have ``timestamp`` NaT (the data contract);
    a chart still places them, at their ``local_timestamp``.
    """
    index = pd.DatetimeIndex(df.index)
    if "local_timestamp" in df.columns and bool(index.isna().any()):
        local = pd.DatetimeIndex(df["local_timestamp"])
        index = pd.DatetimeIndex(index.where(index.notna(), local), name=index.name)
    return index


def require_time_index(df: pd.DataFrame, what: str, expected: str) -> None:
    """Refuse a frame whose index is not the ``timestamp`` DatetimeIndex of the contract."""
    if not isinstance(df.index, pd.DatetimeIndex):
        raise InvalidArgument(
            f"{what} needs a datetime index named timestamp ({expected}), "
            f"not {type(df.index).__name__}"
        )


def select(df: pd.DataFrame, what: str, venue: str | None, symbol: str | None) -> pd.DataFrame:
    """Rows of one venue and symbol; refuse an ambiguous frame, naming the choices."""
    for column, wanted in ((VENUE, venue), (SYMBOL, symbol)):
        if column not in df.columns:
            if wanted is not None and str(df.attrs.get(column, wanted)) != wanted:
                raise InvalidArgument(f"{what}: this frame has no {column} {wanted!r}")
            continue
        values = [str(v) for v in pd.unique(df[column].astype(str))]
        if wanted is None:
            if len(values) > 1:
                raise InvalidArgument(
                    f"{what}: the frame holds several {column}s; pass {column}= one of "
                    f"{', '.join(values)}"
                )
            continue
        if wanted not in values:
            raise InvalidArgument(
                f"{what}: no {column} {wanted!r} in the frame; {column}s: {', '.join(values)}"
            )
        df = df[df[column].astype(str) == wanted]
    return df


def assets_of(df: pd.DataFrame) -> tuple[str, str]:
    """``(BASE, QUOTE)`` of a one-market frame, for axis units; ``("", "")`` if unknown."""
    from mdkit.data.symbols import split_symbol

    found = _names(df, "pair", "pairs") or _names(df, SYMBOL, "symbols")
    if len(found) != 1:
        return "", ""
    base, quote = split_symbol(found[0])
    return (base, quote) if quote else ("", "")


def unit_label(name: str, unit: str) -> str:
    """``price (USDT)``, or ``price`` when the unit is unknown."""
    return f"{name} ({unit})" if unit else name


def venue_colors(keys: Sequence[str]) -> dict[str, str]:
    """One stable colour per key, in order."""
    return {k: VENUE_PALETTE[i % len(VENUE_PALETTE)] for i, k in enumerate(keys)}


def has_local_time(df: pd.DataFrame) -> bool:
    """Whether rows carry the receive time (stream frames do)."""
    return LOCAL_TIMESTAMP in df.columns


def figure_of(ax: Axes) -> Figure:
    """The top-level figure of ``ax``."""
    fig = ax.get_figure(root=True)
    assert fig is not None  # an Axes always lives in a figure
    return fig


def plain_prices(ax: Axes, axis: str = "y") -> None:
    """Prices as written (75120.5), never as an offset or in scientific notation."""
    import matplotlib.ticker as mticker

    formatter = mticker.ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


def compact_numbers(ax: Axes, axis: str = "y") -> None:
    """Amounts as 0.25, 950, 1.2k, 3.4M: one number of decimals per axis, no offset."""
    import matplotlib.ticker as mticker

    class _Compact(mticker.Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return self.format_ticks([x])[0]

        def format_ticks(self, values: Any) -> list[str]:
            vals = np.asarray(values, dtype=float)
            top = float(np.max(np.abs(vals))) if vals.size else 0.0
            scale, suffix = next(
                ((s, x) for s, x in ((1e9, "G"), (1e6, "M"), (1e3, "k")) if top >= s), (1.0, "")
            )
            scaled = vals / scale
            # Every tick exact (0.25 is "0.25", not "0.2"), at most 8 decimals.
            decimals = min(8, decimals_of(np.round(scaled, 8)))
            return [f"{v:.{decimals}f}{suffix if v else ''}" for v in scaled]

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(_Compact())
