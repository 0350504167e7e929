"""Many machines: recorders in separate processes write one S3 prefix, a compaction
merges it, and mdkit and Dask read the same rows. The S3 server is moto's
(``python -m moto.server`` on a free local port); endpoint and credentials reach
every process through the standard AWS environment variables."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pandas as pd
import pytest
import requests

import mdkit
from mdkit.sandbox import Sandbox
from mdkit.store.compact import compact
from mdkit.store.fs import open_root
from mdkit.store.lock import MergeLock

pytest.importorskip("s3fs")
pytest.importorskip("moto")


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(env["AWS_ENDPOINT_URL"], timeout=1)
            break
        except requests.ConnectionError:
            assert server.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.05)
    try:
        yield env
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def bucket(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    import s3fs

    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    name = f"mdkit-{os.getpid()}-{time.monotonic_ns()}"
    s3fs.S3FileSystem(skip_instance_cache=True).mkdir(name)
    return f"s3://{name}/data"


RECORD = """
    import json, mdkit
    out = mdkit.record('{url}', ('cryptocom', ['btcusdt'], ['trades', 'book']), flush='0.4s',
                       rotate='1s', raw=True, status_every=None, seconds=3)
    print(json.dumps(out))
"""


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # dask's own, under new pandas
def test_two_recorders_one_bucket_compaction_then_mdkit_and_dask(
    bucket: str, s3_env: dict[str, str]
) -> None:
    with Sandbox(trades_per_second=30, ws_options={"rate": 5}, set_env=False) as sb:
        env = {**os.environ, **sb.env, **s3_env}
        code = textwrap.dedent(RECORD.format(url=bucket))
        procs = [
            subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=90)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    summaries = [json.loads(o.decode().strip().splitlines()[-1]) for o in outs]
    expected_depth = sum(s["rows"]["depth"] for s in summaries)
    frames = sum(s["frames"] for s in summaries)
    assert mdkit.read_parquet(bucket, "depth").shape[0] == expected_depth
    tomorrow = pd.Timestamp.now("UTC") + pd.Timedelta(days=1)
    done = subprocess.run(
        [sys.executable, "-m", "mdkit", "compact", bucket, "--before", str(tomorrow.date())],
        env=env,
        capture_output=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    root = open_root(bucket)
    leaves = {p.rsplit("/", 1)[0] for p in root.fs.find(root.path) if "/kind=depth/" in p}
    assert all(len(root.parts(leaf)) == 1 for leaf in leaves)  # one part per partition
    depth = mdkit.read_parquet(bucket, "depth")
    raw = mdkit.read_parquet(bucket, "raw")
    assert len(depth) == expected_depth and len(raw) == frames
    assert not depth.duplicated().any()
    gaps = mdkit.read_parquet(bucket, "gaps")
    assert not len(gaps)  # each recorder kept its own state

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(processes=False, n_workers=1, threads_per_worker=2) as cluster,
        Client(cluster),
    ):
        frame = dd.read_parquet(f"{bucket}/kind=depth/", engine="pyarrow")
        assert int(frame.shape[0].compute()) == len(depth)
        per_symbol = frame.groupby("symbol", observed=True).size().compute()
    assert dict(per_symbol) == {"btcusdt": len(depth)}

    replayed = mdkit.replay(bucket)  # replay and to_parquet on the object store too
    assert replayed.stats["messages"] == frames
    replayed.to_parquet(f"{bucket}-replayed", levels=None)
    assert len(mdkit.read_parquet(f"{bucket}-replayed", "depth")) == len(replayed.depth)


def test_a_missing_bucket_or_prefix_is_an_mdkit_error_naming_it(bucket: str) -> None:
    from mdkit.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match="no-such-bucket"):
        mdkit.record("s3://no-such-bucket/data", ("cryptocom", ["btcusdt"], ["trades"]))
    with pytest.raises(InvalidArgument, match="nothing under that prefix"):
        mdkit.read_parquet(f"{bucket}/nothing-here", "trades")


def test_the_merge_lease_is_exclusive_and_taken_over_when_expired(bucket: str) -> None:
    from mdkit.store.write import write_frame
    from tests.store.test_crash import YESTERDAY, raw_frame

    write_frame(bucket, "raw", raw_frame(YESTERDAY.value, 3))
    root = open_root(bucket)
    first, second = MergeLock(root), MergeLock(root)
    assert first.acquire(timeout=0) and not second.acquire(timeout=0)
    with pytest.raises(TimeoutError):
        compact(bucket, wait=0.3)  # a compaction waits for the holder
    first.release()
    assert second.acquire(timeout=0)
    second.release()
    # a lease whose owner died (past its expiry) is taken over
    lease = root.join(root.path, "_locks", "merge.lease")
    root.fs.pipe_file(lease, json.dumps({"owner": "dead", "expires": time.time() - 1}).encode())
    assert first.acquire(timeout=0)
    first.release()
