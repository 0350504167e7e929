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
VENUE_REST_MODULES = {"account.py", "account_transport.py"}
#: Venue-neutral modules of mdkit.venues (the plug-in interface, REST as data).
NEUTRAL_VENUE_MODULES = ("base", "events", "rest_api", "drift")


def _is_module(dotted: str) -> bool:
    """``mdkit.x.y`` names a module or package of mdkit (not an attribute)."""
    parts = dotted.split(".")
    if parts[0] != "mdkit":
        return False
    base = PACKAGE.joinpath(*parts[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every module a file imports, ``from X import Y`` counted as ``X.Y`` when Y is a
    module (``from mdkit.venues import bitget`` imports ``mdkit.venues.bitget``)."""
    tree = ast.parse(path.read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            for alias in node.names:
                if _is_module(f"{node.module}.{alias.name}"):
                    names.add(f"{node.module}.{alias.name}")
    return names


def _venue_modules_imported(path: Path) -> list[str]:
    out = []
    for name in _imports(path):
        parts = name.split(".")
        if (
            len(parts) > 2
            and parts[:2] == ["mdkit", "venues"]
            and parts[2] not in NEUTRAL_VENUE_MODULES
        ):
            out.append(name)
    return out


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
    named = _venue_modules_imported(path)
    assert not named, f"{path.name} imports the venue module(s) {named}"


def test_the_venue_import_guard_sees_from_imports(tmp_path: Path) -> None:
    """The guard itself: each spelling of a venue-module import is caught once."""
    for source in (
        "from mdkit.venues import bitget\n",
        "from mdkit.venues import base, cryptocom_ws as ws\n",
        "import mdkit.venues.itick\n",
        "from mdkit.venues.bittap import VENUE\n",
    ):
        probe = tmp_path / "probe.py"
        probe.write_text(source)
        assert len(_venue_modules_imported(probe)) == 1, source
    probe.write_text(
        "from mdkit.venues import get_venue, base\nfrom mdkit.venues.base import Venue\n"
    )
    assert _venue_modules_imported(probe) == []


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_no_private_names_imported_across_modules(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mdkit"):
            private = [
                a.name for a in node.names if a.name.startswith("_") and not a.name.endswith("__")
            ]
            assert not private, f"{path.name}:{node.lineno} imports {private} from {node.module}"


@pytest.mark.parametrize(
    "path",
    _files("store") + _files("engine") + _files("data"),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_lower_layers_never_import_the_capture_api(path: Path) -> None:
    """store, engine and data sit below mdkit.capture (no store <-> capture cycle)."""
    assert not {n for n in _imports(path) if n == "mdkit.capture" or n.startswith("mdkit.capture.")}
