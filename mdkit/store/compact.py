"""Compaction: merge the small parts of closed partitions into one part each.

A recorder writes a part per partition per flush; compaction merges a partition's
parts into one, sorted by receive time. The steps, each safe to be killed after:

1. the merged part is written and published whole, under a name ending in
   ``.m.parquet``; its metadata (``mdkit.merged_from``) names the parts it replaced;
2. the parts it replaced are removed, one by one.

Between 1 and the end of 2 the partition holds the rows twice, so every mdkit reader
skips a part that a merged part present in the same partition names (the merged
part is complete: it was verified before it was published). The next compaction or
recorder start finishes step 2 (:func:`repair`). Merges are serialised per dataset
(:class:`~mdkit.store.lock.MergeLock`): two compactions, or a compaction and a
recorder's rotation, never merge the same part twice.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd

from mdkit.errors import InvalidArgument
from mdkit.store.fs import Root, fault, open_root
from mdkit.store.layout import KINDS, MERGED_SUFFIX, SYMBOL_KINDS, write_part
from mdkit.store.lock import MergeLock

__all__ = [
    "DEDUPED_KEY",
    "MERGED_KEY",
    "DamagedPartWarning",
    "compact",
    "live_parts",
    "merge_parts",
    "repair",
]

log = logging.getLogger("mdkit.store.compact")

#: Metadata key of a merged part: JSON list of the part names it replaced.
MERGED_KEY = b"mdkit.merged_from"


class DamagedPartWarning(UserWarning):
    """A part that is empty, truncated, not Parquet or not mdkit's was skipped."""


def merged_sources(root: Root, path: str) -> set[str]:
    """Names of the parts a merged part replaced (none if unreadable)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_schema(root.open_input(path)).metadata or {}
        return set(json.loads(meta.get(MERGED_KEY, b"[]")))
    except FileNotFoundError:
        raise  # a merge replaced it meanwhile: the reader lists again
    except Exception as exc:  # ArrowInvalid, OSError: a damaged merged part
        warnings.warn(
            f"skipped merged part {root.display(path)}: {exc}", DamagedPartWarning, stacklevel=3
        )
        return set()


def live_parts(root: Root, parts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split one partition's parts into (to read, already merged into a present part)."""
    merged = [p for p in parts if p.endswith(MERGED_SUFFIX)]
    if not merged:
        return list(parts), []
    covered: set[str] = set()
    for path in merged:
        covered |= merged_sources(root, path)
    keep = [p for p in parts if root.basename(p) not in covered]
    done = [p for p in parts if root.basename(p) in covered]
    return keep, done


#: Metadata key of a merged trades part whose trades are unique (venue, symbol, id).
DEDUPED_KEY = b"mdkit.deduped"


def _sort_keys(kind: str, table: Any) -> list[tuple[str, str]]:
    """The order ``read_parquet`` gives rows within a partition (see read._frame)."""
    names = table.column_names
    keys = ["timestamp", "local_timestamp"] if kind == "trades" else ["local_timestamp"]
    if kind == "gaps":
        keys = ["start"]
    return [(n, "ascending") for n in keys if n in names]


def _unique_trades(table: Any) -> Any:
    """Keep the first row of each trade id (a partition is one venue and symbol)."""
    import numpy as np

    if "id" not in table.column_names or not table.num_rows:
        return table
    ids = table["id"].cast("int64")
    has = ~np.asarray(ids.is_null(), dtype=bool)
    values = np.asarray(ids.fill_null(0), dtype="int64")
    dup = pd.Series(values).duplicated(keep="first").to_numpy() & has
    return table.filter(~dup) if dup.any() else table


def merge_parts(paths: Sequence[str], root: Root | None = None) -> str:
    """Merge parts of one partition into one new part; remove them once it is verified.

    The caller holds the dataset's merge lock (see :func:`compact`). ``root`` is the
    dataset (default: local, from the paths).

    Returns
    -------
    str
        The merged part's path.

    Raises
    ------
    OSError
        If the merged part does not hold every row (nothing is removed then).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if root is None:
        root = Root(os.path.dirname(os.path.dirname(paths[0])))
    fault("merge.start")
    directory = root.dirname(paths[0])
    with ThreadPoolExecutor(max_workers=4) as pool:
        tables = list(pool.map(lambda p: pq.read_table(root.open_input(p)), paths))
    expected = sum(t.num_rows for t in tables)
    metadata = dict(tables[0].schema.metadata or {})
    metadata[MERGED_KEY] = json.dumps([root.basename(p) for p in paths]).encode()
    merged = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
    )
    kind = next((s[5:] for s in directory.split("/") if s.startswith("kind=")), "")
    keys = _sort_keys(kind, merged)
    if keys and merged.num_rows:
        merged = merged.sort_by(keys)  # reads of a compacted partition need not sort
    if merged.num_rows != expected:
        raise OSError(
            f"merge of {len(paths)} parts in {directory}: {merged.num_rows} != {expected}"
        )
    if kind == "trades":  # a trade received twice is kept once, here, for every later read
        merged = _unique_trades(merged)
        expected = merged.num_rows
        metadata[DEDUPED_KEY] = b"1"
    target = write_part(root, directory, merged.replace_schema_metadata(metadata), merged=True)
    written = pq.ParquetFile(root.open_input(target)).metadata.num_rows
    if written != expected:  # pragma: no cover - a disk that lies
        root.remove(target)
        raise OSError(f"merged part {target} holds {written} rows, expected {expected}")
    fault("merge.published")
    for i, path in enumerate(paths):
        root.remove(path)
        if i == 0:
            fault("merge.removed-one")
    fault("merge.removed-all")
    return str(target)


def leaves(root: Root, kinds: Sequence[str], venues: Sequence[str] | None = None) -> Iterator[str]:
    """Every partition directory of these kinds (and venues), in path order."""
    wanted = None if venues is None else {f"venue={v}" for v in venues}
    for kind in kinds:
        base = root.join(root.path, f"kind={kind}")
        for vname, is_dir, _ in sorted(root.entries(base)):
            if not is_dir or not vname.startswith("venue="):
                continue
            if wanted is not None and vname not in wanted:
                continue
            tops = [root.join(base, vname)]
            if kind in SYMBOL_KINDS:
                tops = [
                    root.join(tops[0], s)
                    for s, d, _ in sorted(root.entries(tops[0]))
                    if d and s.startswith("symbol=")
                ]
            for top in tops:
                for dname, d, _ in sorted(root.entries(top)):
                    if d and dname.startswith("date="):
                        yield root.join(top, dname)


#: A temporary part older than this is a dead writer's (a live one takes seconds).
STALE_TEMP_SECONDS = 3600.0


def _dead_writer(name: str) -> bool:
    """Whether a temporary part's writer (host and pid in its name) is gone."""
    from mdkit.store.layout import SAFE_HOST

    fields = name.lstrip(".").split("-")
    if len(fields) < 4 or not fields[-2].isdigit() or "-".join(fields[1:-2]) != SAFE_HOST:
        return False
    try:
        os.kill(int(fields[-2]), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _drop_temps(root: Root, leaf: str) -> int:
    """Remove temporary parts of writers that died (killed between write and publish)."""
    import time

    if not root.local:
        return 0  # object stores have no temporary parts: a PUT is whole or absent
    removed = 0
    for name, is_dir, mtime in root.entries(leaf):
        if is_dir or not (name.startswith(".") and name.endswith(".tmp")):
            continue
        if _dead_writer(name) or time.time() - mtime > STALE_TEMP_SECONDS:
            root.remove(root.join(leaf, name))
            removed += 1
    return removed


def _finish(root: Root, leaf: str, parts: list[str]) -> list[str]:
    """Remove parts a present merged part replaced (an interrupted merge) and dead
    writers' temporary parts; the parts left."""
    _drop_temps(root, leaf)
    keep, done = live_parts(root, parts)
    for path in done:
        log.info("removing %s, already merged", root.display(path))
        root.remove(path)
    return keep


def repair(
    directory: str | Root, *, venues: Sequence[str] | None = None, since: str | None = None
) -> int:
    """Finish interrupted merges: remove parts a merged part already holds.

    Parameters
    ----------
    directory : str or Root
        The dataset.
    venues : list of str, optional
        Only these venues' partitions (default all).
    since : str, optional
        Only partitions of this day (``YYYY-MM-DD``) and later.

    Returns
    -------
    int
        Parts removed.
    """
    root = directory if isinstance(directory, Root) else open_root(directory)
    removed = 0
    lock = MergeLock(root)
    if not lock.acquire(timeout=0):
        return 0  # a merge is running: it finishes what it finds
    try:
        for leaf in leaves(root, KINDS, venues):
            if since is not None and leaf.rsplit("date=", 1)[-1] < since:
                continue
            parts = root.parts(leaf)
            removed += len(parts) - len(_finish(root, leaf, parts))
    finally:
        lock.release()
    return removed


def _readable(root: Root, parts: list[str]) -> list[str]:
    """The parts whose footer reads and that are mdkit's; others are warned about."""
    from mdkit.store.read import check_part

    good = []
    for path in parts:
        problem = check_part(root, path, None)[1]
        if problem is None:
            good.append(path)
        else:
            warnings.warn(
                f"compaction left {root.display(path)} alone: {problem}",
                DamagedPartWarning,
                stacklevel=3,
            )
    return good


def compact(
    directory: str | Any,
    *,
    kinds: Sequence[str] | None = None,
    before: Any = None,
    min_parts: int = 2,
    wait: float | None = None,
) -> dict[str, int]:
    """Merge the parts of every closed partition of a dataset, one part per partition.

    Interrupted merges are finished first, in every partition (today's included).
    One merge runs at a time per dataset: a second compaction waits for the first.

    Parameters
    ----------
    directory : str or path
        The dataset root (a local path or an object-store URL, as ``read_parquet``).
    kinds : list of str, optional
        Kinds to compact (default all).
    before : date-like, optional
        Only partitions of days before this one (default today, UTC: closed days).
    min_parts : int
        Merge partitions holding at least this many parts.
    wait : float, optional
        Seconds to wait for another merge to finish (default: as long as it takes).

    Returns
    -------
    dict
        ``partitions`` merged, ``parts_before``, ``parts_after``, ``rows`` moved,
        ``repaired`` (leftovers of interrupted merges removed).

    Raises
    ------
    InvalidArgument
        For a missing dataset or an unknown kind.
    TimeoutError
        If ``wait`` ran out before the lock was free.
    """
    import pyarrow.parquet as pq

    root = open_root(directory)
    chosen = list(kinds) if kinds is not None else list(KINDS)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise InvalidArgument(f"no dataset kind(s) {unknown}; kinds: {', '.join(KINDS)}")
    cutoff = (pd.Timestamp.now("UTC") if before is None else pd.Timestamp(before)).strftime(
        "%Y-%m-%d"
    )
    summary = {"partitions": 0, "parts_before": 0, "parts_after": 0, "rows": 0, "repaired": 0}
    lock = MergeLock(root)
    if not lock.acquire(timeout=wait):
        raise TimeoutError(f"another merge holds {root.display(root.path)} after {wait} s")
    try:
        for leaf in leaves(root, chosen):
            parts = root.parts(leaf)
            keep = _finish(root, leaf, parts)
            summary["repaired"] += len(parts) - len(keep)
            if leaf.rsplit("date=", 1)[-1] >= cutoff:
                continue
            keep = _readable(root, keep)
            if len(keep) < max(2, min_parts):
                continue
            rows = sum(pq.ParquetFile(root.open_input(p)).metadata.num_rows for p in keep)
            merge_parts(keep, root)
            lock.renew()
            summary["partitions"] += 1
            summary["parts_before"] += len(keep)
            summary["parts_after"] += 1
            summary["rows"] += rows
    finally:
        lock.release()
    return summary
