"""The Parquet dataset: add captures, read them back, record, replay, compact.

Layout (see :mod:`mdkit.store.layout`)::

    <root>/kind=<kind>/venue=<venue>/symbol=<symbol>/date=YYYY-MM-DD/<part>.parquet

``<root>`` is a local directory or an object-store URL (``s3://bucket/prefix``, see
:mod:`mdkit.store.fs`). Every write adds new uniquely named parts atomically; nothing
is overwritten. Merges (compaction, a recorder's rotation) publish a ``.m.parquet``
part naming the parts it replaced, then remove them (:mod:`mdkit.store.compact`), one
merge at a time per dataset (:mod:`mdkit.store.lock`).
DuckDB reads it without mdkit::

    SELECT * FROM read_parquet('data/kind=trades/**/*.parquet', hive_partitioning=true)
"""

from __future__ import annotations

from mdkit.store.layout import KINDS, SYMBOL_KINDS
from mdkit.store.read import find_parts, read_parquet
from mdkit.store.write import write_capture, write_frame

__all__ = ["KINDS", "SYMBOL_KINDS", "find_parts", "read_parquet", "write_capture", "write_frame"]
