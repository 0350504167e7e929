"""Row writers generated for a :class:`~mdkit.data.columns.ColumnBuffer` schema.

Rows are written **by name**: each column is a parameter named after it, so
``append(timestamp=t, local_timestamp=now, symbol=s, id=i, side="buy", price=p,
amount=a)`` cannot put a price in the amount column, and a missing or unknown name is
Python's own TypeError naming the column. Two writers, generated like dataclasses
generate ``__init__`` (one :class:`struct.Struct` ``pack_into`` per row):

- :func:`row_writer`: one row per call (``ColumnBuffer.append``); positional calls
  in schema order are still accepted.
- :func:`rows_writer`: many rows per call that share every column but a few
  (``ColumnBuffer.writer``): e.g. the levels of one side of a book push, given as
  ``rows=[(price, amount), ...]`` with the other columns named once. It costs
  less per row than one ``append`` per level, so the book path keeps its speed
  with its columns named.

Anything the fast line cannot pack (None, a new category, a wrong type) goes to
the buffer's checked path, which converts or raises a clear error.
"""

from __future__ import annotations

import keyword
import struct
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

__all__ = ["BOOLS", "NAT", "row_writer", "rows_writer"]

#: Bool columns go through this dict on the fast path: struct's "?" would
#: silently take None or 2 as a truth value.
BOOLS: Final[dict[Any, bool]] = {True: True, False: False}
#: The NaT time (int64 min): a row whose venue sent no event time passes any bounds.
NAT: Final = -(2**63)


def _usable(names: Sequence[str]) -> bool:
    """Whether every column name can be a parameter of the generated source.

    Names never start with "_", so they cannot shadow the writer's locals and
    globals (builtins are reached through "_" aliases too).
    """
    return all(
        n.isidentifier() and not keyword.iskeyword(n) and not n.startswith("_") and n != "self"
        for n in names
    )


# `store` is the buffer's chunk store (columns.py `_Chunks`): columns, bounds,
# row_size, pack_into, fill, capacity, chunk, next_chunk(), append_checked().
def _namespace(store: Any) -> dict[str, Any]:
    return {
        "_KeyError": KeyError,
        "_TypeError": TypeError,
        "_ValueError": ValueError,
        "_StructError": struct.error,
        "_float": float,
        "_RS": store.row_size,
        "_out_of_bounds": type(store).out_of_bounds,
        "_NAT": NAT,
    }


def _bound_check(store: Any, namespace: dict[str, Any], i: int, name: str, pad: str) -> str:
    """Source of the bounds check of column i (value in variable `name`), or ""."""
    column = store.columns[i]
    if column.name not in store.bounds:
        return ""
    namespace[f"_lo{i}"], namespace[f"_hi{i}"] = store.bounds[column.name]
    return (
        f"{pad}if not _lo{i} <= {name} <= _hi{i} and {name} != _NAT:\n"
        f"{pad}    _out_of_bounds(self, {i}, {name})\n"
    )


def _compile(source: str, namespace: dict[str, Any], name: str, doc: str | None) -> Any:
    exec(source, namespace)  # source built from checked identifiers only
    # Popped so that the function and its globals do not form a cycle.
    function = namespace.pop(name)
    function.__qualname__ = f"ColumnBuffer.{name}"
    function.__doc__ = doc
    return function


def row_writer(store: Any, doc: str | None = None, by_name: bool = False) -> Callable[..., None]:
    """Return the one-row writer ``(store, <column>=value, ...)`` of a schema.

    One parameter per column, named after it: keyword-only with `by_name`, else
    positional calls in schema order work too (generic positional-only names
    when a column name cannot be a parameter). Category codes are looked up
    inline; bounds are checked inline.

    Raises
    ------
    ValueError
        With `by_name`, if a column name cannot be a parameter.
    """
    names = [c.name for c in store.columns]
    usable = _usable(names)
    if by_name and not usable:
        raise ValueError(f"rows by name need column names usable as parameters; got {names}")
    params = names if usable else [f"v{i}" for i in range(len(names))]
    namespace = _namespace(store)
    packed = []
    checks = []
    for i, column in enumerate(store.columns):
        checks.append(_bound_check(store, namespace, i, params[i], "        "))
        if column.is_category:
            namespace[f"_codes{i}"] = column.codes
            packed.append(f"_codes{i}[{params[i]}]")
        elif column.dtype.kind == "b":
            namespace[f"_bools{i}"] = BOOLS
            packed.append(f"_bools{i}[{params[i]}]")
        else:
            packed.append(params[i])
    source = (
        f"def append(self, {'*, ' if by_name else ''}{', '.join(params)}"
        f"{'' if usable else ', /'}):\n"
        "    _row = self.fill\n"
        "    if _row == self.capacity:\n"
        "        _row = self.next_chunk()\n"
        "    try:\n"
        + "".join(checks)
        + f"        self.pack_into(self.chunk, _row * _RS, {', '.join(packed)})\n"
        "    except (_KeyError, _TypeError, _StructError):\n"
        f"        self.append_checked(_row, ({', '.join(params)},))\n"
        "    self.fill = _row + 1\n"
    )
    return cast("Callable[..., None]", _compile(source, namespace, "append", doc))


def rows_writer(store: Any, each: Sequence[str], doc: str | None = None) -> Callable[..., None]:
    """Return a many-row writer ``(store, *, <other column>=value, ..., rows)``.

    ``rows`` is an iterable of tuples holding the columns `each`, in that order;
    every other column is named once and shared by all the rows. Values of float
    columns in `each` go through ``float()`` (wire strings are welcome).

    Raises
    ------
    ValueError
        If `each` is empty, repeats a column, names an unknown one, or a column
        name cannot be a parameter.
    """
    names = [c.name for c in store.columns]
    unknown = [n for n in each if n not in names]
    if not each or unknown or len(set(each)) != len(each):
        raise ValueError(
            f"writer() takes distinct columns of {names}; got {list(each)} (unknown {unknown})"
        )
    if not _usable(names) or "rows" in names:
        raise ValueError(f"writer() needs column names usable as parameters; got {names}")
    namespace = _namespace(store)
    fixed = [n for n in names if n not in each]
    head = []  # once per call: codes of the shared category/bool columns, their bounds
    body = []  # per row: conversions and bounds of the `each` columns
    packed = []
    for i, column in enumerate(store.columns):
        name = column.name
        if name in each:
            if column.dtype.kind == "f":
                body.append(f"            {name} = _float({name})\n")
            body.append(_bound_check(store, namespace, i, name, "            "))
        else:
            head.append(_bound_check(store, namespace, i, name, "    "))
        if column.is_category or column.dtype.kind == "b":
            table = column.codes if column.is_category else BOOLS
            namespace[f"_table{i}"], namespace[f"_col{i}"] = table, column
            if name in each:
                packed.append(f"_table{i}[{name}]")
                continue
            head.append(
                f"    _k{i} = _table{i}.get({name})\n"
                f"    if _k{i} is None:\n"  # new or wrong: added, or a clear error
                f"        _k{i} = _col{i}.convert({name})\n"
            )
            packed.append(f"_k{i}")
        else:
            packed.append(name)
    source = (
        f"def write(self, *, {''.join(f'{name}, ' for name in fixed)}rows):\n"
        + "".join(head)
        + "    _pack = self.pack_into\n"
        f"    for {', '.join(each)}, in rows:\n"
        "        _row = self.fill\n"
        "        if _row == self.capacity:\n"
        "            _row = self.next_chunk()\n"
        "        try:\n"
        + "".join(body)
        + f"            _pack(self.chunk, _row * _RS, {', '.join(packed)})\n"
        "        except (_KeyError, _TypeError, _ValueError, _StructError):\n"
        f"            self.append_checked(_row, ({', '.join(names)},))\n"
        "        self.fill = _row + 1\n"
    )
    return cast("Callable[..., None]", _compile(source, namespace, "write", doc))
