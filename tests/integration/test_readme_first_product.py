"""Docs as tests: the README's "Your first real product" steps, run as written against the demo
shop (its URL in place of the example shop's), leave a config with the product and a stored
check."""

from __future__ import annotations

import asyncio
import re
import shlex
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pricewatch import config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_URL = "https://www.example-shop.com/p/espresso-machine-42"

pytestmark = pytest.mark.slow


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Your first real product\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match is not None, "README has no '## Your first real product' section"
    return match.group(1)


def blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)


def steps(text: str) -> list[list[str]]:
    """Every `pricewatch ...` command of the section's shell blocks, in order, comments cut."""
    out = []
    for lang, body in blocks(text):
        if lang == "yaml":
            continue
        for raw in body.splitlines():
            line = raw.removeprefix("$ ").split("#", 1)[0].strip()
            if line.startswith("pricewatch "):
                out.append(shlex.split(line))
    return out


@pytest.fixture
async def demo() -> AsyncIterator[str]:
    runner, base = await shop.start(size=6)
    yield base
    await runner.cleanup()


async def run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch", *argv[1:], cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_first_product_steps_work_as_written(demo: str, tmp_path: Path) -> None:
    """`pricewatch add URL` creates config.yaml with the product, and `check`, `validate` and
    `once` as the README lists them succeed and store an ok check; `run` is the last step."""
    text = section()
    commands = steps(text)
    names = [c[1] for c in commands]
    assert names[0] == "add", names
    assert names[-1] == "run", names
    url = f"{demo}{catalog(6)[0].path}"
    for written in commands[:-1]:  # `run` is the daemon: covered by the daemon tests
        argv = [url if a == EXAMPLE_URL else a for a in written]
        code, out = await run(argv, tmp_path)
        assert code == 0, f"{shlex.join(argv)} exited {code}:\n{out}"
    settings = config.load(tmp_path / "config.yaml")
    assert [o.url for o in settings.offers()] == [url]
    with sqlite3.connect(tmp_path / "pricewatch.db") as db:
        outcomes = [row[0] for row in db.execute("SELECT outcome FROM checks")]
    assert outcomes == ["ok"]


def test_the_hand_written_product_is_a_valid_config(tmp_path: Path) -> None:
    """The five-line YAML product of the section loads as one offer at the example URL."""
    yaml_blocks = [body for lang, body in blocks(section()) if lang == "yaml"]
    assert yaml_blocks, "the section shows no YAML"
    path = tmp_path / "config.yaml"
    path.write_text(yaml_blocks[0], encoding="utf-8")
    offers = config.load(path).offers()
    assert [o.url for o in offers] == [EXAMPLE_URL]
