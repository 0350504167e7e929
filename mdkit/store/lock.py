"""The dataset lock: one merge (compaction or rotation) at a time on a dataset.

Merging is the only step that removes parts, so it is the only one serialised:
recorders add uniquely named parts without it. Locally the lock is an ``fcntl`` lock
on ``<root>/_locks/merge.lock`` (released by the kernel when the process dies). On an
object store it is a lease object, ``<root>/_locks/merge.lease``, created with a
conditional write (S3 ``If-None-Match: *``: exactly one creator wins); it names its
owner and expiry, is renewed while a merge runs, and a lease past its expiry (its
owner died) is taken over with a write conditional on its ETag.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
import uuid
from typing import Any

from mdkit.store.fs import Root

__all__ = ["MergeLock", "LEASE_SECONDS"]

log = logging.getLogger("mdkit.store.lock")

#: How long a lease holds without renewal (a dead owner blocks merges this long).
LEASE_SECONDS = 300.0
_POLL = 0.1


class MergeLock:
    """The merge lock of one dataset; use ``acquire``/``release`` or ``with``.

    Parameters
    ----------
    root : Root
        The dataset.
    """

    def __init__(self, root: Root) -> None:
        self.root = root
        self._fd: int | None = None
        self._etag: str | None = None
        self._expires = 0.0
        self.token = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    @property
    def held(self) -> bool:
        return self._fd is not None or self._etag is not None

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the lock; wait at most ``timeout`` seconds (None: forever, 0: try once).

        Returns
        -------
        bool
            Whether the lock is now held.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        waited = False
        while True:
            if self._try():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            if not waited:
                waited = True
                log.info("waiting for the merge lock of %s", self.root.display(self.root.path))
            time.sleep(_POLL)

    def release(self) -> None:
        """Give the lock back (a no-op if not held)."""
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        elif self._etag is not None:
            self._etag = None
            self.root.remove(self._lease_path)

    def renew(self) -> None:
        """Extend a lease that is past half its life (object stores; no-op locally)."""
        if self._etag is None or time.time() < self._expires - LEASE_SECONDS / 2:
            return
        etag = self._put(if_match=self._etag)
        if etag is None:
            raise OSError(f"lost the merge lease {self.root.display(self._lease_path)}")
        self._etag = etag

    def __enter__(self) -> MergeLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # -- local ---------------------------------------------------------------------------
    def _try(self) -> bool:
        if self.root.local:
            return self._try_local()
        return self._try_lease()

    def _try_local(self) -> bool:
        import fcntl

        directory = os.path.join(self.root.path, "_locks")
        os.makedirs(directory, exist_ok=True)
        fd = os.open(os.path.join(directory, "merge.lock"), os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    # -- object stores -------------------------------------------------------------------
    @property
    def _lease_path(self) -> str:
        return self.root.join(self.root.path, "_locks", "merge.lease")

    def _try_lease(self) -> bool:
        etag = self._put(if_none_match=True)
        if etag is not None:
            self._etag = etag
            return True
        current = self._read()
        if current is None:
            return False  # released just now: the next try may win
        lease, current_etag = current
        if float(lease.get("expires", 0)) > time.time():
            return False
        etag = self._put(if_match=current_etag)  # the owner died: take it over
        if etag is None:
            return False
        self._etag = etag
        return True

    def _body(self) -> bytes:
        self._expires = time.time() + LEASE_SECONDS
        return json.dumps(
            {"owner": self.token, "expires": self._expires, "host": socket.gethostname()}
        ).encode()

    def _put(self, *, if_none_match: bool = False, if_match: str | None = None) -> str | None:
        """Write the lease conditionally; its new ETag, or None if the condition failed."""
        fs = self.root.fs
        path = self._lease_path
        if hasattr(fs, "call_s3"):
            bucket, _, key = path.partition("/")
            kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": self._body()}
            if if_none_match:
                kwargs["IfNoneMatch"] = "*"
            if if_match is not None:
                kwargs["IfMatch"] = if_match
            try:
                answer = fs.call_s3("put_object", **kwargs)
            except Exception as exc:  # s3fs maps 412 to FileExistsError; others vary
                if isinstance(exc, FileExistsError) or _precondition_failed(exc):
                    return None
                raise
            return str(answer.get("ETag", "")) or "-"
        # Other stores: no conditional write in fsspec; write and read back (best effort).
        if if_none_match and fs.exists(path):
            return None
        body = self._body()
        fs.pipe_file(path, body)
        got = self._read()
        return "-" if got is not None and got[0].get("owner") == self.token else None

    def _read(self) -> tuple[dict[str, Any], str] | None:
        fs = self.root.fs
        path = self._lease_path
        try:
            # ETag first: if the lease changes in between, a write on this ETag fails (safe).
            etag = str(fs.info(path).get("ETag", "-")) if hasattr(fs, "call_s3") else "-"
            return json.loads(fs.cat_file(path)), etag
        except (FileNotFoundError, ValueError):
            return None


def _precondition_failed(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(
        s in text for s in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")
    )
