"""Columnar accumulators: capture rows without a Python object per row.

A capture appends millions of rows (trades, book increments). Keeping a dict or
tuple per row costs ~350 B/row; :class:`ColumnBuffer` keeps ~the raw width of
the row instead (44 B for a trade row: 5 × 8-byte numbers + 2 × 2-byte codes).

How rows are stored:

- Rows are packed row-major into chunks, each a NumPy structured array with
  the schema's fields packed back to back. :meth:`ColumnBuffer.append` is a
  writer generated for the schema (as dataclasses generate ``__init__``;
  :mod:`mdkit.data.writers`) taking the columns by name: one
  :class:`struct.Struct` ``pack_into`` call writes a whole row, ~0.3 µs for a
  seven-column trade row. :meth:`ColumnBuffer.writer` writes many rows that
  share most columns (the levels of a book push) for less per row.
- The first chunk holds 1024 rows; each next one doubles, up to 16384 rows.
  Full chunks are kept as they are and never copied again on append, so the
  memory held is the rows plus at most one partly filled chunk (≤ 16384 rows:
  ~0.7 MB for a trade buffer, ~5 % of the rows past 300k rows). A larger cap
  buys nothing measurable in append speed and leaves a bigger unfilled tail.
- A ``"category"`` column (symbol, side) stores int16 codes, so up to 32767
  distinct values per column (a clear ``ValueError`` past that); the code →
  string table lives once per buffer. ``None`` is stored as a missing value
  (code -1).
- :meth:`columns` concatenates the chunks into one contiguous array per column
  only when asked.

Bench: ``python bench/bench_columns.py`` (figures in ``bench/RESULTS.md``).
"""

from __future__ import annotations

import math
import operator
import struct
import sys
from collections.abc import Callable, Collection, Mapping
from types import MethodType
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdkit.data.writers import BOOLS, NAT, row_writer, rows_writer

__all__ = ["CATEGORY", "ColumnBuffer"]

CATEGORY: Final = "category"
"""Schema value for a low-cardinality string column stored as small int codes."""

FIRST_CHUNK_ROWS: Final = 1024
CHUNK_ROWS: Final = 16384

_CODE_DTYPE: Final = np.dtype("<i2")
#: Most distinct values a category column holds (int16 codes; -1 is missing).
MAX_CATEGORIES: Final = 2**15 - 1
# struct format character for each storable (kind, itemsize); '<' = no padding.
_STRUCT_CHARS: Final = {
    ("b", 1): "?",
    ("i", 1): "b",
    ("i", 2): "h",
    ("i", 4): "i",
    ("i", 8): "q",
    ("u", 1): "B",
    ("u", 2): "H",
    ("u", 4): "I",
    ("u", 8): "Q",
    ("f", 2): "e",
    ("f", 4): "f",
    ("f", 8): "d",
    ("M", 8): "q",
    ("m", 8): "q",
}
_BOOLS: Final = BOOLS


class _Column:
    """One column of the schema: its storage dtype and, for categories, the table."""

    __slots__ = ("name", "dtype", "is_category", "codes", "categories", "closed")

    def __init__(self, name: str, spec: Any, closed: bool = False) -> None:
        self.name = name
        #: A category column that takes only its preset categories (and None).
        self.closed = False
        self.codes: dict[Any, int] = {}
        self.categories: list[str] = []
        self.is_category = isinstance(spec, pd.CategoricalDtype) or (
            isinstance(spec, str) and spec == CATEGORY
        )
        if self.is_category:
            self.dtype = _CODE_DTYPE
            self.codes[None] = -1
            if isinstance(spec, pd.CategoricalDtype) and spec.categories is not None:
                for value in spec.categories:
                    self.code_for(value)
            self.closed = closed
            return
        try:
            dtype = np.dtype(spec)
        except TypeError as exc:
            raise ValueError(f"column {name!r}: unknown dtype {spec!r}") from exc
        if (dtype.kind, dtype.itemsize) not in _STRUCT_CHARS:
            raise ValueError(
                f"column {name!r}: dtype {dtype} is not supported; valid choices: "
                "bool, (u)int8-64, float16-64, datetime64, timedelta64, or 'category'"
            )
        self.dtype = dtype.newbyteorder("<")

    @property
    def struct_char(self) -> str:
        """Return the struct format character of the stored value."""
        return _STRUCT_CHARS[(self.dtype.kind, self.dtype.itemsize)]

    def code_for(self, value: Any) -> int:
        """Return the code of a category value, adding it to the table if new."""
        code = self.codes.get(value)
        if code is None:
            if self.closed:
                raise ValueError(
                    f"column {self.name!r} takes only {self.categories} (or None); got {value!r}"
                )
            if not isinstance(value, str):
                raise TypeError(
                    f"column {self.name!r} is a category of strings; got {type(value).__name__}"
                )
            if len(self.categories) >= MAX_CATEGORIES:
                raise ValueError(
                    f"column {self.name!r}: more than {MAX_CATEGORIES} distinct values; "
                    "a category column is for low-cardinality strings (int16 codes)"
                )
            code = self.codes[value] = len(self.categories)
            self.categories.append(value)
        return code

    def convert(self, value: Any) -> Any:
        """Return one value as struct.pack expects it, or raise a clear error."""
        if self.is_category:
            return self.code_for(value)
        kind = self.dtype.kind
        if kind == "f":
            if value is None:
                return math.nan
            try:
                return float(value)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"column {self.name!r} ({self.dtype}): {exc}") from exc
        if value is None:
            raise TypeError(
                f"column {self.name!r} is {self.dtype} and cannot hold None; "
                "declare it float to store missing values as NaN"
            )
        if kind == "b":
            if value not in _BOOLS:
                raise TypeError(
                    f"column {self.name!r} is bool; got {type(value).__name__} {value!r}"
                )
            return _BOOLS[value]
        if kind in "Mm" and isinstance(value, np.datetime64 | np.timedelta64):
            return int(value.astype(self.dtype).view(np.int64))
        try:
            return operator.index(value)
        except TypeError as exc:
            raise TypeError(
                f"column {self.name!r} is {self.dtype}; got {type(value).__name__} {value!r}"
            ) from exc

    def to_array(self, values: npt.ArrayLike) -> npt.NDArray[Any]:
        """Return many values as a 1-D array of the stored dtype, or raise a clear error."""
        if self.is_category:
            if isinstance(values, list | tuple):  # known values: one dict lookup each
                try:
                    return np.fromiter(
                        map(self.codes.__getitem__, values), _CODE_DTYPE, count=len(values)
                    )
                except (KeyError, TypeError):  # a new (or unhashable) value: below
                    pass
            codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
            table = np.array([self.code_for(u) for u in uniques], dtype=_CODE_DTYPE)
            out: npt.NDArray[Any] = np.where(codes < 0, -1, table[codes] if len(table) else -1)
            return out.astype(_CODE_DTYPE, copy=False)
        source = np.asarray(values)
        if source.ndim != 1:
            raise ValueError(f"column {self.name!r}: expected 1-D values, got shape {source.shape}")
        kind = self.dtype.kind
        if kind in "iub" and source.dtype.kind == "f":
            raise TypeError(
                f"column {self.name!r} is {self.dtype}; got float values "
                "(NaN/None cannot be stored in an integer column)"
            )
        try:
            return np.asarray(source, dtype=self.dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"column {self.name!r} is {self.dtype} and cannot hold these values: {exc}"
            ) from exc


_NAT: Final = NAT


class _Chunks:
    """The chunk list and the row writer; holds no reference to its ColumnBuffer."""

    __slots__ = (
        "columns",
        "row_dtype",
        "row_size",
        "pack_into",
        "first_rows",
        "max_rows",
        "full",
        "full_rows",
        "chunk",
        "capacity",
        "fill",
        "write_row",
        "bounds",
    )

    def __init__(
        self,
        columns: tuple[_Column, ...],
        first_rows: int,
        max_rows: int,
        bounds: dict[str, tuple[float, float]] | None = None,
        by_name: bool = False,
    ) -> None:
        self.columns = columns
        self.bounds = bounds or {}
        # Packed (align=False): the row is exactly the sum of its fields.
        self.row_dtype = np.dtype([(c.name, c.dtype) for c in columns], align=False)
        self.row_size = self.row_dtype.itemsize
        self.pack_into = struct.Struct("<" + "".join(c.struct_char for c in columns)).pack_into
        self.first_rows = first_rows
        self.max_rows = max_rows
        self.full: list[npt.NDArray[np.void]] = []
        self.full_rows = 0
        self.chunk: npt.NDArray[np.void] = np.empty(0, dtype=self.row_dtype)
        self.capacity = 0
        self.fill = 0
        self.write_row = row_writer(self, ColumnBuffer.append.__doc__, by_name)

    def next_chunk(self) -> int:
        """Keep the full chunk, start a bigger empty one and return its first row (0)."""
        if self.capacity:
            self.full.append(self.chunk)
            self.full_rows += self.capacity
            capacity = min(self.capacity * 2, self.max_rows)
        else:
            capacity = self.first_rows
        self.chunk = np.empty(capacity, dtype=self.row_dtype)
        self.capacity = capacity
        self.fill = 0
        return 0

    def out_of_bounds(self, index: int, value: Any) -> None:
        """Raise the ValueError of a value outside its column's bounds."""
        column = self.columns[index]
        low, high = self.bounds[column.name]
        raise ValueError(f"column {column.name!r}: {value!r} is outside [{low!r}, {high!r}]")

    def append_checked(self, i: int, values: tuple[Any, ...]) -> None:
        """Convert each value by its column's rules and pack it at row i; raise clear errors."""
        row = [c.convert(v) for c, v in zip(self.columns, values, strict=True)]
        for index, (column, value) in enumerate(zip(self.columns, row, strict=True)):
            bound = self.bounds.get(column.name)
            if bound is not None and not bound[0] <= value <= bound[1] and value != _NAT:
                self.out_of_bounds(index, value)
        try:
            self.pack_into(cast(Any, self.chunk), i * self.row_size, *row)
        except struct.error as exc:
            raise ValueError(f"value out of range for row dtype {self.row_dtype}: {exc}") from exc

    def extend(self, arrays: list[npt.NDArray[Any]]) -> None:
        """Copy equal-length column arrays into the chunks, chunk by chunk."""
        n = len(arrays[0])
        done = 0
        while done < n:
            if self.fill == self.capacity:
                self.next_chunk()
            k = min(self.capacity - self.fill, n - done)
            dest = self.chunk[self.fill : self.fill + k]
            for column, arr in zip(self.columns, arrays, strict=True):
                dest[column.name] = arr[done : done + k]
            self.fill += k
            done += k

    def field(self, column: _Column) -> npt.NDArray[Any]:
        """Return one column from all chunks as one contiguous native-order array."""
        parts = [chunk[column.name] for chunk in self.full]
        parts.append(self.chunk[column.name][: self.fill])
        return np.concatenate(parts).astype(column.dtype.newbyteorder("="), copy=False)

    @property
    def nbytes(self) -> int:
        """Bytes of every chunk at full capacity."""
        return sum(c.nbytes for c in self.full) + self.chunk.nbytes


class ColumnBuffer:
    """Rows appended into chunked NumPy arrays, read back as columns.

    Parameters
    ----------
    schema : mapping of str to dtype or "category"
        Column name → NumPy dtype (bool, integers, floats, datetime64,
        timedelta64) or ``"category"`` (or a ``pandas.CategoricalDtype`` to
        fix the first categories and their order) for a low-cardinality
        string column. Rows are written by column name (:meth:`append`,
        :meth:`writer`); a positional :meth:`append` takes this order.
    first_chunk_rows : int, default 1024
        Rows of the first chunk; each next chunk doubles.
    chunk_rows : int, default 16384
        Largest chunk.
    bounds : mapping of str to (low, high), optional
        Columns whose values must lie in ``[low, high]``; a row with a value outside
        (or NaN there) raises ValueError and is not stored.
    closed : collection of str, optional
        Category columns (given as a ``pandas.CategoricalDtype``) that take only their
        preset categories; a row with another value raises ValueError, not stored.
    by_name : bool, default False
        Rows only by column name: :meth:`append` takes keyword arguments only (the
        capture tables are made so: a positional row could swap two columns).

    Raises
    ------
    ValueError
        If the schema is empty or names an unsupported dtype, or `by_name` is set
        and a column name cannot be a keyword argument.

    Examples
    --------
    >>> buf = ColumnBuffer({"id": "int64", "side": "category", "price": "float64"})
    >>> buf.append(id=1, side="buy", price=100.5)
    >>> buf.extend({"id": [2, 3], "side": ["sell", "buy"], "price": [100.4, None]})
    >>> len(buf), buf.columns()["side"].tolist()
    (3, ['buy', 'sell', 'buy'])
    """

    def __init__(
        self,
        schema: Mapping[str, Any],
        *,
        first_chunk_rows: int = FIRST_CHUNK_ROWS,
        chunk_rows: int = CHUNK_ROWS,
        bounds: Mapping[str, tuple[float, float]] | None = None,
        closed: Collection[str] = (),
        by_name: bool = False,
    ) -> None:
        if not schema:
            raise ValueError("schema must name at least one column")
        if not 0 < first_chunk_rows <= chunk_rows:
            raise ValueError("need 0 < first_chunk_rows <= chunk_rows")
        self._columns = tuple(
            _Column(name, spec, closed=name in closed) for name, spec in schema.items()
        )
        self._names = tuple(c.name for c in self._columns)
        unknown = sorted(set(bounds or {}) - set(self._names))
        if unknown:
            raise ValueError(f"bounds name unknown columns {unknown}; columns: {self._names}")
        self._store = _Chunks(
            self._columns, first_chunk_rows, chunk_rows, dict(bounds or {}), by_name
        )
        self._writers: dict[tuple[str, ...], Callable[..., None]] = {}
        # The schema-specialised writer shadows the method below on this
        # instance. It is bound to the store, which refers to neither the
        # buffer nor the writer: no reference cycle, so a dropped buffer
        # frees its chunks at once rather than at the next full GC.
        self.__dict__["append"] = MethodType(self._store.write_row, self._store)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in schema order."""
        return self._names

    def append(self, *values: Any, **named: Any) -> None:
        """Append one row, its values given by column name.

        Parameters
        ----------
        *values, **named
            One value per column: by name (``append(price=1.5, amount=2.0, ...)``,
            the way to write rows) or positionally in schema order. Python ints,
            floats and strings (or NumPy scalars) take the fast path. ``None``
            is stored as NaN in a float column and as missing in a category
            column; other values ``float()`` accepts are converted on a slower path.

        Raises
        ------
        TypeError
            If a column is missing or a name is not a column (the message names
            it), an integer or bool column gets None or a non-integer, or a
            category column gets a non-string.
        ValueError
            If an integer does not fit its column's dtype, or a value is outside
            its column's bounds.
        """
        # Only reached through the class (ColumnBuffer.append(buf, ...)):
        # instances call the generated writer directly.
        self._store.write_row(self._store, *values, **named)

    def writer(self, *each: str) -> Callable[..., None]:
        """Return a writer of many rows that share every column but `each`.

        ``write(rows=..., <every other column>=value)``: ``rows`` is an iterable
        of tuples of the `each` columns in that order, the other columns are
        named once (keyword-only). Made for a book push: one call per side, e.g.
        ``levels = buf.writer("price", "amount")`` bound once, then
        ``levels(timestamp=t, local_timestamp=now, symbol=s, is_snapshot=True,
        side="bid", rows=bids)``. Float columns of `each` go through ``float()``
        (wire strings welcome). Rows are checked exactly as :meth:`append` checks
        them; the rows before a refused one stay written.

        Parameters
        ----------
        *each : str
            The columns that vary per row, in the order of the tuples.

        Returns
        -------
        callable
            The writer, bound to this buffer (valid across :meth:`take`); made
            once per `each`, so asking again is cheap.

        Raises
        ------
        ValueError
            If `each` is empty, repeats or names an unknown column.
        """
        write = self._writers.get(each)
        if write is None:  # generated once per buffer and `each`
            doc = f"Write rows of ({', '.join(each)}) sharing the other columns (by name)."
            write = MethodType(rows_writer(self._store, each, doc), self._store)
            self._writers[each] = write
        return write

    def extend(self, columns: Mapping[str, npt.ArrayLike]) -> None:
        """Append many rows given as columns.

        Parameters
        ----------
        columns : mapping of str to array-like
            Exactly the schema's column names, each a 1-D sequence of the same
            length. None/NaN are allowed in float and category columns.

        Raises
        ------
        ValueError
            If names are missing or unknown, the lengths differ, or a value is outside
            its column's bounds (no row is stored then).
        TypeError
            If values do not fit their column (None or floats for an integer column).
        """
        missing = [n for n in self._names if n not in columns]
        unknown = [n for n in columns if n not in self._names]
        if missing or unknown:
            raise ValueError(
                f"extend() needs exactly the columns {list(self._names)}; "
                f"missing {missing}, unknown {unknown}"
            )
        arrays = [c.to_array(columns[c.name]) for c in self._columns]
        if any(len(a) != len(arrays[0]) for a in arrays):
            lengths = {c.name: len(a) for c, a in zip(self._columns, arrays, strict=True)}
            raise ValueError(f"extend() columns differ in length: {lengths}")
        store = self._store
        for index, column in enumerate(self._columns):  # the bounds append() checks
            bound = store.bounds.get(column.name)
            if bound is not None:
                values = arrays[index]
                if values.dtype.kind in "Mm":
                    values = values.view(np.int64)
                ok = (values >= bound[0]) & (values <= bound[1])
                if values.dtype.kind == "i":
                    ok |= values == _NAT  # no event time passes, as in append()
                if not ok.all():
                    store.out_of_bounds(index, values[np.argmin(ok)].item())
        store.extend(arrays)

    def __len__(self) -> int:
        """Return the number of rows."""
        return self._store.full_rows + self._store.fill

    def take(self) -> dict[str, npt.NDArray[Any] | pd.Categorical]:
        """Return the rows as :meth:`columns` does and empty the buffer in place.

        The buffer stays the same object (writers that kept its ``append`` keep
        working) and keeps its category tables; its chunks are released. A
        long-running recorder drains its buffers this way so memory stays bounded.
        """
        out = self.columns()
        store = self._store
        store.full = []
        store.full_rows = 0
        store.chunk = np.empty(0, dtype=store.row_dtype)
        store.capacity = 0
        store.fill = 0
        return out

    @property
    def nbytes(self) -> int:
        """Bytes held: every chunk at full capacity, plus the category tables."""
        held = self._store.nbytes
        for column in self._columns:
            if column.is_category:
                held += sys.getsizeof(column.codes) + sys.getsizeof(column.categories)
                held += sum(sys.getsizeof(s) for s in column.categories)
        return held

    def columns(self) -> dict[str, npt.NDArray[Any] | pd.Categorical]:
        """Return the rows as columns.

        Returns
        -------
        dict of str to ndarray or pandas.Categorical
            Name → 1-D array of exactly ``len(self)`` values in append order,
            with the schema's dtype; category columns as ``pandas.Categorical``
            (categories in order of first appearance, None as missing).
        """
        out: dict[str, npt.NDArray[Any] | pd.Categorical] = {}
        for column in self._columns:
            values = self._store.field(column)
            if column.is_category:
                out[column.name] = pd.Categorical.from_codes(
                    values, categories=pd.Index(column.categories, dtype=object)
                )
            else:
                out[column.name] = values
        return out

    def to_frame(self, index: str | None = None) -> pd.DataFrame:
        """Return the rows as a DataFrame.

        Parameters
        ----------
        index : str, optional
            Column to use as the index.

        Returns
        -------
        pandas.DataFrame
            One column per schema entry with its dtype; datetime64 columns
            become tz-aware UTC; category columns are ``category`` dtype.

        Raises
        ------
        KeyError
            If `index` is not a column.
        """
        if index is not None and index not in self._names:
            raise KeyError(f"index {index!r} is not a column; columns: {list(self._names)}")
        data: dict[str, Any] = {}
        for name, values in self.columns().items():
            if isinstance(values, np.ndarray) and values.dtype.kind == "M":
                data[name] = pd.DatetimeIndex(values).tz_localize("UTC")
            else:
                data[name] = values
        frame = pd.DataFrame(data, copy=False)
        return frame if index is None else frame.set_index(index)

    def __repr__(self) -> str:
        return (
            f"<ColumnBuffer {len(self)} rows x {len(self._names)} columns "
            f"({', '.join(self._names)}), {self.nbytes:,} bytes>"
        )
