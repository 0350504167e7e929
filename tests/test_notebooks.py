"""Real Jupyter kernels: the tour notebook, "Run All" with queued cells, and an interrupt."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from mdkit.sandbox.exchange import DEMO_API_KEY, DEMO_SECRET_KEY

pytestmark = pytest.mark.notebook

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _kernel_finds_mdkit(monkeypatch: pytest.MonkeyPatch) -> None:
    # Kernels inherit the environment; an absolute path keeps `import mdkit` working
    # from any working directory even without an editable install.
    import os

    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    )


def _run_notebook(name: str, tmp_path: Path) -> tuple[list[Any], str]:
    """Execute ``notebooks/<name>`` in a real kernel; return its outputs and their text."""
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = " ".join(
        str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs
    )
    return outputs, text


def test_market_and_account_notebook_runs(tmp_path: Path) -> None:
    outputs, text = _run_notebook("market_and_account.ipynb", tmp_path)
    assert "UnknownInterval" in text and "1min" in text  # the bad-input cell's message
    assert "FILLED" in text and "CANCELED" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the candles chart
    assert DEMO_API_KEY not in text and DEMO_SECRET_KEY not in text  # never shown


def test_tour_notebook_runs(tmp_path: Path) -> None:
    _, text = _run_notebook("capture.ipynb", tmp_path)
    assert "<Capture cryptocom capture" in text and "completed" in text


def _kernel() -> tuple[KernelManager, Any]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def _replies(kc: Any, ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while len(out) < len(ids) and time.monotonic() < deadline:
        msg = kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
        parent = msg["parent_header"].get("msg_id")
        if parent in ids:
            out[parent] = msg["content"]
    return out


def _stdout(kc: Any, msg_id: str, timeout: float = 30) -> str:
    text = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    return "".join(text)


SETUP = (
    "import os, mdkit\nfrom mdkit.sandbox import Sandbox\n"
    "sb = Sandbox(ws_options={'rate': 4}).start()\nos.environ.update(sb.env)\n"
)


def test_run_all_with_a_capture_cell_runs_every_queued_cell() -> None:
    # "Run All" queues every cell at once; a capture that re-entered the kernel's loop
    # (nest-asyncio) left the queued cells unexecuted on ipykernel 7.
    km, kc = _kernel()
    try:
        cells = [
            SETUP,
            "cap = mdkit.capture('cryptocom', 'btcusdt', ['trades', 'book'], seconds=1.5)",
            "n = len(cap.depth)",
            "acap = await mdkit.acapture('cryptocom', 'btcusdt', 'ticker', seconds=1)",
            "print('done', n > 0, len(acap.ticker) > 0, cap.stats['outcome'])",
            "sb.stop()",
        ]
        ids = [kc.execute(code) for code in cells]
        replies = _replies(kc, ids, timeout=90)
        assert [replies[i]["status"] for i in ids] == ["ok"] * len(cells), replies
        assert "done True True completed" in _stdout(kc, ids[4])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_interrupt_ends_the_capture_early_with_data() -> None:
    km, kc = _kernel()
    try:
        assert _replies(kc, [setup := kc.execute(SETUP)], 60)[setup]["status"] == "ok"
        started = time.monotonic()
        run = kc.execute(
            "cap = mdkit.capture('cryptocom', 'btcusdt', ['ticker', 'book'], seconds=60)"
        )
        time.sleep(3.0)
        km.interrupt_kernel()
        reply = _replies(kc, [run], 30)[run]
        assert time.monotonic() - started < 20
        assert reply["status"] == "ok", reply  # the capture returned, it did not raise
        check = kc.execute(
            "print('result', cap.stats['interrupted'], cap.stats['outcome'], len(cap.depth) > 0)"
        )
        assert "result True interrupted True" in _stdout(kc, check)
        kc.execute("sb.stop()")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
