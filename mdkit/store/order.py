"""The read's row order: sorted runs merged into the live frames' order, and trades
received twice found (without hashing when the runs show there are none)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mdkit.store.arrays import pool, take_many

__all__ = ["row_order", "in_order", "ties_in_order", "unique_runs", "dedupe_trades"]


def row_order(
    keys: list[np.ndarray[Any, Any]],
    prepare: Callable[[], None] | None = None,
    cuts: Sequence[int] = (),
) -> tuple[np.ndarray[Any, Any] | None, list[np.ndarray[Any, Any]]]:
    """The row order ``np.lexsort(keys)`` gives (last key first), None if already in it;
    and the keys in that order (gathered once, reused by the caller).

    Parts are written (and compacted) in that order, so a read is a few sorted runs:
    a stable sort on the first key merges them, and the other keys are checked only
    where the first ties; a full lexsort only when that check fails. ``prepare`` runs
    while the sort does (in the pool); ``cuts``: row positions where the parts' days
    change, where the sort may be split in two.
    """
    if not keys or len(keys[0]) < 2 or in_order(keys):
        if prepare is not None:
            prepare()
        return None, keys
    if prepare is None or len(keys[-1]) < 100_000:
        order = np.argsort(keys[-1], kind="stable")
        if prepare is not None:
            prepare()
    else:  # numpy's sort releases the GIL: ``prepare`` runs meanwhile
        order = argsort_around(keys[-1], prepare, cuts)
    ordered = take_many(keys, order)
    if len(keys) == 1 or ties_in_order(ordered):
        return order, ordered
    order = np.lexsort(keys)
    return order, [k[order] for k in keys]


_DAY_NS = 86_400_000_000_000


def argsort_around(
    key: np.ndarray[Any, Any], prepare: Callable[[], None], cuts: Sequence[int]
) -> np.ndarray[Any, Any]:
    """``np.argsort(key, kind="stable")`` in the pool while ``prepare`` runs here; in two
    halves at once when a cut near the middle parts the days (every row before it sorts
    before every row after it: checked, else one sort of the whole)."""
    n = len(key)
    split = 0
    for cut in cuts:
        if n // 8 < cut < n - n // 8 and key[cut - 1] // _DAY_NS < key[cut] // _DAY_NS:
            if not split or abs(cut - n // 2) < abs(split - n // 2):
                split = cut
    if not split:
        job = pool().submit(np.argsort, key, kind="stable")
        prepare()
        return np.asarray(job.result())
    first = pool().submit(np.argsort, key[:split], kind="stable")
    second = pool().submit(np.argsort, key[split:], kind="stable")
    prepare()
    head, tail = first.result(), second.result()
    if key[head[-1]] <= key[split + tail[0]]:  # stable: ties keep the parts' order
        tail += split
        return np.concatenate((head, tail))
    return np.argsort(key, kind="stable")  # a late row: the days do not part


def in_order(keys: list[np.ndarray[Any, Any]]) -> bool:
    tie: Any = None
    for key in reversed(keys):
        after, before = key[1:], key[:-1]
        back = after < before
        if (back if tie is None else back & tie).any():
            return False
        same = after == before
        tie = same if tie is None else tie & same
        if not tie.any():
            return True
    return True


def ties_in_order(keys: list[np.ndarray[Any, Any]]) -> bool:
    """``in_order`` for keys whose last is sorted: only its ties are compared."""
    last = keys[-1]
    at = np.flatnonzero(last[1:] == last[:-1])
    for key in reversed(keys[:-1]):
        if not len(at):
            return True
        after, before = key[at + 1], key[at]
        if bool((after < before).any()):
            return False
        at = at[after == before]
    return True


def unique_runs(group: np.ndarray[Any, Any], ids: np.ndarray[Any, Any]) -> bool:
    """Whether no (group, id) pair repeats, shown without hashing when it can be.

    The rows are cut into runs of one group with strictly increasing ids (a group's
    trades in time order usually are one run); no pair repeats when the runs of each
    group cover disjoint id ranges. False (hash instead) when that does not show
    it: overlapping runs (there may be duplicates) or too many runs to be worth it.
    """
    n = len(ids)
    if n < 2:
        return True
    cut = np.flatnonzero((group[1:] != group[:-1]) | (ids[1:] <= ids[:-1])) + 1
    if len(cut) > max(64, n // 256):
        return False
    first = np.concatenate(([0], cut))
    last = np.concatenate((cut, [n])) - 1
    by = np.lexsort((ids[first], group[first]))
    g, lo, hi = group[first][by], ids[first][by], ids[last][by]
    # sorted by (group, first id): disjoint when each run starts past the previous end
    return not bool(((g[1:] == g[:-1]) & (lo[1:] <= hi[:-1])).any())


def dedupe_trades(df: pd.DataFrame, group: np.ndarray[Any, Any]) -> pd.DataFrame:
    """Keep the first of the trades with the same venue and symbol (``group`` codes) and id."""
    ids = df["id"].array
    has = ~np.asarray(ids.isna(), dtype=bool)
    if not has.any():
        return df
    # One int64 key per (group, id): hashing one column is several times faster.
    values = np.asarray(ids.to_numpy(dtype="int64", na_value=0))
    groups = int(group.max(initial=0)) + 1
    if groups == 1:
        key = values
    elif int(np.abs(values).max(initial=0)) < (2**62) // groups:
        key = values * groups + group  # fits: no factorize pass
    else:
        id_codes, uniques = pd.factorize(values)
        key = group.astype("int64") * max(1, len(uniques)) + id_codes
    dup = pd.Series(key).duplicated(keep="first").to_numpy() & has
    return df[~dup] if dup.any() else df
