"""Where a dataset lives: a local directory or an object-store prefix.

A dataset path is a local path (``~`` expands) or any URL fsspec knows
(``s3://bucket/prefix``, ``gs://``, ``abfs://``, ``memory://``...). Object stores take
their endpoint and credentials from their usual environment (for S3 the standard AWS
variables: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``; ``pip install mdkit[s3]``).

:class:`Root` is the handful of operations the dataset needs, on either: list a
partition, publish a part (never replacing one), remove one, small JSON files, and the
dataset lock (:mod:`mdkit.store.lock`). Local paths use ``os`` directly (hard links make
a publish atomic and exclusive); object stores use fsspec, where a PUT is atomic.

:func:`fault` is the test-only fault point: with ``MDKIT_FAULT_POINT=<step>`` (or
``<step>@<n>``: the n-th time) the process dies there (``os._exit(137)``, as a kill -9).
With ``MDKIT_PAUSE_POINT=<step>=<folder>`` it pauses there instead: it creates
``<folder>/paused`` and waits until ``<folder>/go`` exists (races made on purpose).
"""

from __future__ import annotations

import json
import os
import posixpath
from typing import Any

from mdkit.errors import DatasetError, InvalidArgument

__all__ = ["Root", "fault", "is_dataset", "open_root"]

_FAULT_HITS: dict[str, int] = {}


def fault(step: str) -> None:
    """Die here if ``MDKIT_FAULT_POINT`` names this step (tests of crash consistency)."""
    _pause(step)
    wanted = os.environ.get("MDKIT_FAULT_POINT")
    if not wanted:
        return
    name, _, nth = wanted.partition("@")
    if name != step:
        return
    _FAULT_HITS[step] = _FAULT_HITS.get(step, 0) + 1
    if _FAULT_HITS[step] >= int(nth or 1):
        os._exit(137)


def _pause(step: str) -> None:
    wanted = os.environ.get("MDKIT_PAUSE_POINT")
    if not wanted or wanted.partition("=")[0] != step:
        return
    import time

    folder = wanted.partition("=")[2]
    with open(os.path.join(folder, "paused"), "w"):
        pass
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(folder, "go")) and time.monotonic() < deadline:
        time.sleep(0.02)


def _is_url(path: str) -> bool:
    head, sep, _ = path.partition("://")
    return bool(sep) and head.isidentifier() and head.lower() not in ("file", "local")


class Root:
    """A dataset's root: local (``fs`` is None) or an fsspec filesystem and prefix.

    Paths handed out and taken back are the filesystem's own (``bucket/prefix/...``
    for object stores, absolute paths locally).
    """

    def __init__(self, path: str, fs: Any = None, url: str | None = None) -> None:
        self.path = path
        self.fs = fs
        self.url = url or path

    @property
    def local(self) -> bool:
        return self.fs is None

    def __repr__(self) -> str:
        return f"Root({self.url!r})"

    def join(self, *parts: str) -> str:
        return os.path.join(*parts) if self.local else posixpath.join(*parts)

    def dirname(self, path: str) -> str:
        return os.path.dirname(path) if self.local else posixpath.dirname(path)

    def basename(self, path: str) -> str:
        return os.path.basename(path) if self.local else posixpath.basename(path)

    def display(self, path: str) -> str:
        """A path as the user would write it (with the URL scheme)."""
        if self.local:
            return path
        scheme = self.url.split("://", 1)[0]
        return f"{scheme}://{path}"

    # -- listing ---------------------------------------------------------------------------
    def entries(self, path: str) -> list[tuple[str, bool, float]]:
        """(name, is_dir, mtime or 0) of a directory's entries; none if it is missing."""
        if self.local:
            try:
                with os.scandir(path) as it:
                    out = []
                    for e in it:
                        is_dir = e.is_dir()
                        out.append((e.name, is_dir, 0.0 if is_dir else e.stat().st_mtime))
                    return out
            except (FileNotFoundError, NotADirectoryError):
                return []
        try:
            listed = self.fs.ls(path, detail=True, refresh=True)
        except FileNotFoundError:
            return []
        out = []
        for info in listed:
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            modified = info.get("LastModified") or info.get("mtime")
            stamp = modified.timestamp() if hasattr(modified, "timestamp") else 0.0
            out.append((name, info.get("type") == "directory", float(stamp or 0.0)))
        return out

    def parts(self, directory: str) -> list[str]:
        """The visible parts of a partition (``.parquet``, not hidden), by name."""
        return sorted(
            self.join(directory, name)
            for name, is_dir, _ in self.entries(directory)
            if not is_dir and name.endswith(".parquet") and name[0] not in "._"
        )

    # -- files -----------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return os.path.exists(path) if self.local else bool(self.fs.exists(path))

    def remove(self, path: str) -> None:
        """Remove a file; one already gone is fine (another process finished first)."""
        try:
            if self.local:
                os.unlink(path)
            else:
                self.fs.rm_file(path)
        except FileNotFoundError:
            pass

    def open_input(self, path: str) -> Any:
        """A binary file to read (pyarrow takes local paths and fsspec files alike)."""
        return path if self.local else self.fs.open(path, "rb")

    def read_json(self, path: str) -> Any:
        """A small JSON file, or None if missing or unreadable."""
        try:
            if self.local:
                with open(path) as source:
                    return json.load(source)
            with self.fs.open(path, "rb") as source:
                return json.loads(source.read())
        except (FileNotFoundError, ValueError):
            return None

    def write_json(self, path: str, value: Any) -> None:
        """Replace a small JSON file whole (bookkeeping: state files)."""
        data = json.dumps(value).encode()
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            temp = f"{path}.{os.getpid()}.tmp"
            with open(temp, "wb") as sink:
                sink.write(data)
            os.replace(temp, path)
        else:
            self.fs.pipe_file(path, data)

    def arrow_filesystem(self) -> Any:
        """The filesystem for ``pyarrow.dataset`` (None: local)."""
        if self.local:
            return None
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.fs))


def _remote(url: str) -> Root:
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec is a dependency
        raise InvalidArgument(f"{url!r}: object-store paths need fsspec") from exc
    protocol = url.split("://", 1)[0].lower()
    options: dict[str, Any] = {}
    if protocol in ("s3", "s3a"):
        options = {"use_listings_cache": False, "skip_instance_cache": True}
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
    try:
        fs, path = fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        raise InvalidArgument(
            f"{url!r}: no filesystem for {protocol}:// installed ({exc}); "
            "for S3: pip install 'mdkit[s3]'"
        ) from None
    except ValueError as exc:
        raise InvalidArgument(f"{url!r} is not a dataset path: {exc}") from None
    return Root(str(path).rstrip("/"), fs, url.rstrip("/"))


def is_dataset(path: str) -> bool:
    """Whether ``path`` names a dataset location: an object-store URL or a local directory."""
    return _is_url(path) or os.path.isdir(os.path.expanduser(path))


def open_root(value: Any, name: str = "directory", *, create: bool = False) -> Root:
    """The dataset root at ``value`` (a path or URL), checked.

    Parameters
    ----------
    value : str or path
        A local path (``~`` expands) or an fsspec URL.
    name : str
        The argument's name, for errors.
    create : bool
        Create the directory if missing (its parent must exist) and check it is
        writable; else it must exist.

    Raises
    ------
    InvalidArgument
        For a path that is not a string, a missing dataset (reading), an existing
        file, a missing parent, or a directory mdkit cannot write to; each names the path.
    """
    from mdkit.store.layout import check_path

    text = check_path(value, name)
    if _is_url(text):
        root = _remote(text)
        if not create and not root.fs.exists(root.path):
            raise InvalidArgument(f"no dataset at {text!r} (nothing under that prefix)")
        bucket = root.path.split("/", 1)[0]
        if create and not root.fs.exists(bucket):
            raise InvalidArgument(f"{name} {text!r}: the bucket {bucket!r} does not exist")
        return root
    if text.startswith(("file://", "local://")):
        text = text.split("://", 1)[1]
    path = os.path.abspath(os.path.expanduser(text))
    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidArgument(f"{name} {path!r} is a file, not a dataset directory")
    if not create:
        if not os.path.isdir(path):
            raise InvalidArgument(f"no dataset at {path!r} (not a directory)")
        return Root(path)
    if not os.path.isdir(path):
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise InvalidArgument(
                f"{name} {path!r}: its parent directory {parent!r} does not exist"
            )
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise DatasetError(f"cannot create the dataset directory {path!r}: {exc}") from None
    probe = os.path.join(path, f"._mdkit-probe-{os.getpid()}")
    try:  # os.access says yes to root on a read-only mount: try for real
        os.close(os.open(probe, os.O_CREAT | os.O_WRONLY, 0o600))
        os.unlink(probe)
    except OSError as exc:
        raise DatasetError(
            f"cannot write to the dataset directory {path!r} (read-only?): {exc.strerror}"
        ) from None
    return Root(path)
