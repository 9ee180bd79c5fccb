"""pyproject.toml's hand-written ``packages`` list matches the package directories on disk.

The list is explicit because setuptools' find() cannot map the top-level migrations/ into the
wheel as pricewatch.migrations; the price is that a new subpackage must be added by hand, and
an editable install would hide the omission (only the wheel and the Docker image lose it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"]


def _source_dirs() -> dict[str, Path]:
    """Package name -> directory, for the wheel's roots: pricewatch/ and what package-dir maps."""
    roots = {"pricewatch": ROOT / "pricewatch"}
    roots |= {name: ROOT / path for name, path in SETUPTOOLS["package-dir"].items()}
    return roots


def _packages_on_disk() -> set[str]:
    """Every directory under a wheel root that has an ``__init__.py``, as a dotted name."""
    found: set[str] = set()
    for name, root in _source_dirs().items():
        for init in root.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            relative = init.parent.relative_to(root).parts
            found.add(".".join((name, *relative)))
    return found


def test_every_package_directory_is_listed_in_pyproject() -> None:
    """A directory under pricewatch/ (or migrations/) with an __init__.py is in ``packages``."""
    listed = set(SETUPTOOLS["packages"])
    missing = _packages_on_disk() - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_every_listed_package_exists() -> None:
    """No entry of ``packages`` names a package that is gone (the build would fail)."""
    stale = set(SETUPTOOLS["packages"]) - _packages_on_disk()
    assert not stale, f"remove from [tool.setuptools] packages in pyproject.toml: {sorted(stale)}"


def test_no_directory_of_modules_lacks_an_init() -> None:
    """Python files sit only in real packages: a folder without __init__.py is left out."""
    bare = sorted(
        str(folder.relative_to(ROOT))
        for root in _source_dirs().values()
        for folder in {p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts}
        if not (folder / "__init__.py").exists()
    )
    assert not bare, f"these folders hold modules but no __init__.py: {bare}"
