"""The package's layers: a lower package never imports a higher one (README, architecture)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "campaign_engine"

# Top to bottom; a package may import its own layer's siblings and anything below it.
LAYERS: list[set[str]] = [
    {"cli"},
    {"web", "api"},
    {"engine", "inbound"},
    {"tracking", "reporting"},
    {"reps"},
    {"sending"},
    {"audience"},
    {"store"},
    {"core"},
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "campaign_engine" else None


def imports_of(path: Path) -> set[str]:
    """Every campaign_engine module a file imports, at any depth (lazy imports count too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; use campaign_engine.<package>...")
    return {module for module in found if module.startswith("campaign_engine.")}


def module_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_every_package_has_a_layer() -> None:
    packages = {p.relative_to(PACKAGE).parts[0] for p in module_files() if p.parent != PACKAGE}
    assert packages <= set(RANK), f"packages without a layer: {packages - set(RANK)}"


@pytest.mark.parametrize("path", module_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_a_higher_layer(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0] if path.parent != PACKAGE else None
    if own is None or own not in RANK:
        return
    upward = sorted(
        module
        for module in imports_of(path)
        if (target := package_of(module)) in RANK and RANK[target] < RANK[own]
    )
    assert not upward, f"{own} is below these, so may not import them: {upward}"


def test_the_check_notices_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from campaign_engine.cli.app import main\n")
    assert package_of(next(iter(imports_of(bad)))) == "cli"
