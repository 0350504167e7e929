"""Compaction: merge the small parts of closed partitions into one part each.

A recorder writes a part per partition per flush; compaction merges a partition's
parts into one (atomically: the merged part is written and verified first), then
removes the parts it replaced. The merged part lists their names in its metadata,
so a compaction interrupted between the two steps is finished by the next run
(the leftovers are removed, never counted twice).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mdkit.errors import InvalidArgument
from mdkit.store.layout import KINDS, write_part

__all__ = ["compact", "merge_parts", "MERGED_KEY"]

log = logging.getLogger("mdkit.store.compact")

#: Metadata key of a merged part: JSON list of the part names it replaced.
MERGED_KEY = b"mdkit.merged_from"


def merge_parts(paths: Sequence[str]) -> str:
    """Merge parts of one partition into one new part; remove them once it is verified.

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

    directory = os.path.dirname(paths[0])
    tables = [pq.read_table(p) for p in paths]
    expected = sum(pq.ParquetFile(p).metadata.num_rows for p in paths)
    metadata = dict(tables[0].schema.metadata or {})
    metadata[MERGED_KEY] = json.dumps([os.path.basename(p) for p in paths]).encode()
    merged = pa.concat_tables(
        [t.replace_schema_metadata(None) for t in tables], promote_options="permissive"
    )
    if merged.num_rows != expected:
        raise OSError(
            f"merge of {len(paths)} parts in {directory}: {merged.num_rows} != {expected}"
        )
    target = write_part(directory, merged.replace_schema_metadata(metadata))
    written = pq.ParquetFile(target).metadata.num_rows
    if written != expected:  # pragma: no cover - a disk that lies
        os.unlink(target)
        raise OSError(f"merged part {target} holds {written} rows, expected {expected}")
    for path in paths:
        os.unlink(path)
    return target


def _leaves(root: str, kinds: Sequence[str]) -> list[str]:
    out = []
    for kind in kinds:
        base = os.path.join(root, f"kind={kind}")
        for directory, subdirs, _files in os.walk(base):
            if os.path.basename(directory).startswith("date="):
                out.append(directory)
                subdirs.clear()
    return sorted(out)


def _finish_interrupted(directory: str, parts: list[str]) -> list[str]:
    """Remove parts already merged into another part (an interrupted compaction)."""
    import pyarrow.parquet as pq

    names = {os.path.basename(p) for p in parts}
    done: set[str] = set()
    for path in parts:
        meta = pq.read_schema(path).metadata or {}
        if MERGED_KEY in meta:
            done |= set(json.loads(meta[MERGED_KEY])) & names
    for name in done:
        log.info("removing %s, already merged", name)
        os.unlink(os.path.join(directory, name))
    return [p for p in parts if os.path.basename(p) not in done]


def compact(
    directory: str | os.PathLike[str],
    *,
    kinds: Sequence[str] | None = None,
    before: Any = None,
    min_parts: int = 2,
) -> dict[str, int]:
    """Merge the parts of every closed partition of a dataset, one part per partition.

    Parameters
    ----------
    directory : str or path
        The dataset root.
    kinds : list of str, optional
        Kinds to compact (default all).
    before : date-like, optional
        Only partitions of days before this one (default today, UTC: closed days).
    min_parts : int
        Merge partitions holding at least this many parts.

    Returns
    -------
    dict
        ``partitions`` merged, ``parts_before``, ``parts_after``, ``rows`` moved.
    """
    import pyarrow.parquet as pq

    root = os.fspath(directory)
    if not os.path.isdir(root):
        raise InvalidArgument(f"no dataset at {root!r} (not a directory)")
    chosen = list(kinds) if kinds is not None else list(KINDS)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise InvalidArgument(f"no dataset kind(s) {unknown}; kinds: {', '.join(KINDS)}")
    cutoff = (pd.Timestamp.now("UTC") if before is None else pd.Timestamp(before)).strftime(
        "%Y-%m-%d"
    )
    summary = {"partitions": 0, "parts_before": 0, "parts_after": 0, "rows": 0}
    for leaf in _leaves(root, chosen):
        if os.path.basename(leaf).removeprefix("date=") >= cutoff:
            continue
        parts = sorted(
            e.path
            for e in os.scandir(leaf)
            if e.is_file() and e.name.endswith(".parquet") and e.name[0] not in "._"
        )
        parts = _finish_interrupted(leaf, parts)
        if len(parts) < max(2, min_parts):
            continue
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
        merge_parts(parts)
        summary["partitions"] += 1
        summary["parts_before"] += len(parts)
        summary["parts_after"] += 1
        summary["rows"] += rows
    return summary
