"""Rows as tuples, for the low-rate private kinds (orders, fills, balances, positions).

Their free-text ids do not suit :class:`~mdkit.data.columns.ColumnBuffer`'s packed
rows; a tuple per row is cheap at their rates. Rows are written by column name,
as in every table (:mod:`mdkit.data.tables`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["TIME_BOUNDS", "RecordBuffer"]

#: Epoch-ns range of every time column: after 1970-01-01, up to 2262-04-11 (int64).
TIME_BOUNDS: tuple[int, int] = (1, 2**63 - 1)


class RecordBuffer:
    """Rows as tuples, for low-rate kinds with free-text fields (the private channels).

    Same ``append(<column>=value, ...)`` / ``columns()`` / ``len`` / ``nbytes``
    surface as :class:`~mdkit.data.columns.ColumnBuffer`.

    Parameters
    ----------
    schema : mapping of str to str
        Column name → ``"int64"`` (an epoch-ns time), ``"float64"`` or ``"str"``.
    by_name : bool, default False
        Rows only by column name (:meth:`append` refuses positional values).
    """

    def __init__(self, schema: Mapping[str, Any], *, by_name: bool = False) -> None:
        self.schema = dict(schema)
        self.by_name = by_name
        self.names = tuple(self.schema)
        self.rows: list[tuple[Any, ...]] = []

    def append(self, *values: Any, **named: Any) -> None:
        """Add one row, its values given by column name (or positionally in schema order).

        Raises
        ------
        TypeError
            If a column is missing or given twice, or a name is not a column (the
            message names them).
        TypeError, ValueError
            If the row does not fit the schema (a time that is not an integer in
            :data:`TIME_BOUNDS`, a number that is not one); nothing is stored
            then, so the buffer always builds a frame.
        """
        names = self.names
        if values and self.by_name:
            raise TypeError(f"RecordBuffer.append() takes the columns by name: {list(names)}")
        if named or len(values) != len(names):
            values = self._by_name(values, named)
        row = list(values)
        for i, (name, value) in enumerate(zip(names, values, strict=True)):
            dtype = self.schema[name]
            if dtype == "int64":
                if isinstance(value, bool) or not isinstance(value, int | np.integer):
                    raise ValueError(f"{name} {value!r} is not an integer time (epoch ns)")
                if not TIME_BOUNDS[0] <= int(value) <= TIME_BOUNDS[1]:
                    raise ValueError(f"{name} {value!r} is not a time in {TIME_BOUNDS}")
            elif dtype == "float64" and value is not None and value != "":
                row[i] = float(value)
        self.rows.append(tuple(row))

    def _by_name(self, values: tuple[Any, ...], named: Mapping[str, Any]) -> tuple[Any, ...]:
        """The row in schema order, or the TypeError naming what is wrong (as Python's)."""
        names = self.names
        if len(values) > len(names):
            raise TypeError(f"a row has {len(names)} values {names}, got {len(values)}")
        unknown = [n for n in named if n not in names]
        twice = [n for n in names[: len(values)] if n in named]
        missing = [n for n in names[len(values) :] if n not in named]
        if unknown or twice or missing:
            raise TypeError(
                f"RecordBuffer.append(): unknown columns {unknown}, given twice {twice}, "
                f"missing {missing}; columns: {list(names)}"
            )
        return values + tuple(named[n] for n in names[len(values) :])

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def nbytes(self) -> int:
        """Approximate bytes held (a tuple and its values per row)."""
        return len(self.rows) * (56 + 8 * len(self.names) + 24 * len(self.names))

    def take(self) -> dict[str, Any]:
        """:meth:`columns`, then empty the buffer in place (its ``append`` stays valid)."""
        out = self.columns()
        self.rows = []
        return out

    def columns(self) -> dict[str, Any]:
        """Return one array per column.

        Returns
        -------
        dict of str to numpy.ndarray
            Name → values in append order: strings as object arrays (None kept),
            floats as float64 (NaN for None or ""), times as int64.
        """
        out: dict[str, Any] = {}
        transposed = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.names)
        for name, values in zip(self.names, transposed, strict=True):
            dtype = self.schema[name]
            if dtype == "str":
                out[name] = np.array([None if v is None else str(v) for v in values], dtype=object)
            elif dtype == "float64":
                out[name] = np.array(
                    [np.nan if v is None or v == "" else float(v) for v in values], dtype="float64"
                )
            else:
                out[name] = np.array(values, dtype=dtype)
        return out
