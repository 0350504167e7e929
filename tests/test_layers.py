"""Layering guards, parametrised over every file so that new modules are covered."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import mdkit
from mdkit.venues import REGISTRY

PACKAGE = Path(mdkit.__file__).parent
IO_MODULES = {
    "asyncio",
    "socket",
    "websockets",
    "picows",
    "aiohttp",
    "requests",
    "threading",
    "ssl",
}
# The signed account API is Crypto.com v1's by design (DESIGN.md "Public API contract");
# every other module is venue-neutral (market data reads the venue descriptor's REST).
VENUE_REST_MODULES = {"account.py"}
#: Venue-neutral modules of mdkit.venues (the plug-in interface, REST as data).
NEUTRAL_VENUE_MODULES = ("base", "rest_api")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    return names


def _files(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _files("venues"), ids=lambda p: p.name)
def test_venue_modules_do_no_io(path: Path) -> None:
    roots = {name.split(".")[0] for name in _imports(path)}
    assert not roots & IO_MODULES, f"{path.name} imports {roots & IO_MODULES}"
    assert not {n for n in _imports(path) if n.startswith(("mdkit.engine", "mdkit.capture"))}


def _neutral_files() -> list[Path]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("venues", "sandbox") or str(rel) in VENUE_REST_MODULES:
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", _neutral_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_registries_name_a_venue(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert node.value.strip().lower() not in REGISTRY, (
                f"{path.name}:{node.lineno} names the venue {node.value!r}"
            )
    for name in _imports(path):
        parts = name.split(".")
        assert not (
            len(parts) > 2
            and parts[:2] == ["mdkit", "venues"]
            and parts[2] not in NEUTRAL_VENUE_MODULES
        ), f"{path.name} imports the venue module {name}"
