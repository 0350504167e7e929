"""The README claims only what works: its tables come from the venue registry and every
```python block runs against the sandbox.

``python tests/test_readme.py`` rewrites the generated tables in place (after a venue
changes); the tests fail until the README matches the registry.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mdkit.config import env_name
from mdkit.venues import get_venue, venue_keys
from mdkit.venues.base import CHANNELS, PRIVATE_CHANNELS

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Variables the engine reads beside the per-venue ones (mdkit/engine/rest.py).
GLOBAL_VARIABLES = (
    ("MDKIT_TIMEOUT", "REST connect/read timeout and whole-call deadline, seconds (5 / 15 / 60)"),
    ("MDKIT_RETRIES", "REST retries after the first attempt (default 4)"),
)


def venue_table() -> str:
    """Channel by channel: which venue offers it, on which endpoint."""
    keys = venue_keys()
    rows = ["| channel | " + " | ".join(f"`{k}`" for k in keys) + " |"]
    rows.append("|---" * (len(keys) + 1) + "|")
    for channel in (*CHANNELS, *PRIVATE_CHANNELS):
        cells = []
        for key in keys:
            d = get_venue(key)
            endpoint = d.channels.get(channel)
            if endpoint is None:
                cells.append("—")
            elif d.endpoints[endpoint].private:
                cells.append("yes (login)" if channel in PRIVATE_CHANNELS else "yes (token)")
            else:
                cells.append("yes")
        rows.append(f"| `{channel}` | " + " | ".join(cells) + " |")
    rows.append("| kline intervals | " + " | ".join(
        " ".join(get_venue(k).intervals) or "—" for k in keys) + " |")  # fmt: skip
    rows.append("| options | " + " | ".join(
        ", ".join(f"`{o}`" for o in get_venue(k).options) or "—" for k in keys) + " |")  # fmt: skip
    rest = [get_venue(k).rest for k in keys]
    rows.append("| REST (`venue=`) | " + " | ".join(
        ", ".join(c for c in r.calls if not c.endswith("_history")) if r else "—"
        for r in rest) + " |")  # fmt: skip
    rows.append("| REST history | " + " | ".join(
        {"rest": "klines, trades (REST pages)", "ws": "klines (WebSocket `req` pages)"}.get(
            r.kline_history, "—") if r else "—" for r in rest) + " |")  # fmt: skip
    methods = [", ".join(f"`{m}`" for m in get_venue(k).requests) or "—" for k in keys]
    rows.append("| `mdkit.request` methods | " + " | ".join(methods) + " |")
    rows.append("| credentials | " + " | ".join(
        ", ".join(get_venue(k).credentials) or "—" for k in keys) + " |")  # fmt: skip
    return "\n".join(rows)


def config_table() -> str:
    """Every MDKIT_* variable: endpoints (with the doc's default) and credentials."""
    rows = ["| variable | venue | meaning | default |", "|---|---|---|---|"]
    for key in venue_keys():
        d = get_venue(key)
        for name, endpoint in d.endpoints.items():
            note = f"`{name}` endpoint" + (" (credentials)" if endpoint.private else "")
            rows.append(
                f"| `MDKIT_{key.upper()}_{endpoint.env}` | {key} | {note} | `{endpoint.url}` |"
            )
        for cred in d.credentials:
            rows.append(f"| `{env_name(key, cred)}` | {key} | {cred.replace('_', ' ')} | — |")
    for name, meaning in GLOBAL_VARIABLES:
        rows.append(f"| `{name}` | all | {meaning} | |")
    return "\n".join(rows)


GENERATED = {"venues": venue_table, "config": config_table}


def _section(text: str, name: str) -> str | None:
    match = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    return match.group(1) if match else None


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_readme_table_matches_the_registry(name: str) -> None:
    found = _section(README.read_text(), name)
    assert found is not None, f"README has no <!-- {name}:begin/end --> section"
    assert found == GENERATED[name](), f"run `python tests/test_readme.py` to refresh {name}"


def test_readme_names_every_venue_and_every_variable() -> None:
    text = README.read_text()
    for key in venue_keys():
        assert f"`{key}`" in text
    assert set(re.findall(r"MDKIT_[A-Z_]+", _section(text, "config") or "")) == {
        *(
            f"MDKIT_{k.upper()}_{e.env}"
            for k in venue_keys()
            for e in get_venue(k).endpoints.values()
        ),
        *(env_name(k, c) for k in venue_keys() for c in get_venue(k).credentials),
        *(name for name, _ in GLOBAL_VARIABLES),
    }


def python_blocks(text: str) -> list[str]:
    """The README's ```python blocks, in order."""
    return [textwrap.dedent(b) for b in re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)]


RUNNER = """
import os, sys, tempfile, traceback
from mdkit.sandbox import Sandbox
blocks = {blocks!r}
os.chdir(tempfile.mkdtemp())
failed = []
with Sandbox(trades_per_second=4):
    for i, code in enumerate(blocks):
        try:
            exec(compile(code, f"README block {{i + 1}}", "exec"), {{"__name__": "__readme__"}})
        except BaseException:
            failed.append(i + 1)
            traceback.print_exc()
print("FAILED", failed)
"""


def test_every_python_block_in_the_readme_runs_against_the_sandbox() -> None:
    blocks = python_blocks(README.read_text())
    assert len(blocks) >= 8
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.run(
        [sys.executable, "-c", RUNNER.format(blocks=blocks)],
        capture_output=True, text=True, timeout=300, env=env, cwd=ROOT,
    )  # fmt: skip
    assert "FAILED []" in run.stdout, run.stdout[-3000:] + run.stderr[-6000:]


def main() -> None:
    text = README.read_text()
    for name, build in GENERATED.items():
        text = re.sub(
            rf"(<!-- {name}:begin -->\n)(?:.*?\n)?(<!-- {name}:end -->)",
            lambda m, b=build: m.group(1) + b() + "\n" + m.group(2),
            text,
            flags=re.S,
        )
    README.write_text(text)


if __name__ == "__main__":
    main()
