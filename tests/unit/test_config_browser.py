"""The browser fetcher's config keys: how `fetcher`, `wait_for` and `steps` resolve into an
offer's BrowserPlan, and every mistake in them named by file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pricewatch import config
from pricewatch.config.browser import BrowserConfig
from pricewatch.errors import BrowserUnavailable, ConfigError
from pricewatch.fetch.browser.locate import find_executable, preflight
from pricewatch.models import Step

BASE = """\
stores:
  js:
    hosts: [js.example]
    fetcher: browser
products:
  - id: kettle
    name: Kettle
    offers:
"""


def load(tmp_path: Path, offers: str, head: str = BASE) -> config.Settings:
    path = tmp_path / "config.yaml"
    path.write_text(head + offers, encoding="utf-8")
    return config.load(path, environ={})


def error(tmp_path: Path, offers: str, head: str = BASE) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, offers, head)
    return str(info.value)


def test_fetcher_resolves_offer_over_store_over_http(tmp_path: Path) -> None:
    """A store's fetcher: browser applies to its offers; an offer's own fetcher wins; other
    stores stay on HTTP. The plan waits for the offer's selector (for a digit in it, or for
    the element when the price is an attribute), or for wait_for, and keeps the steps."""
    settings = load(tmp_path, """\
      - url: https://js.example/a
        selector: .price
        steps: [{click: "#cookies"}, {select: "#size", value: M}, {pause: 250ms}]
      - url: https://plain.example/c
        fetcher: browser
        selector: "meta[itemprop=price]"
        attribute: content
      - url: https://other.example/d
        fetcher: browser
        wait_for: "#ready"
        xpath: "//span"
  - id: kettle-http
    name: Kettle over HTTP
    offers:
      - url: https://js.example/b
        fetcher: http
""")
    first, third, fourth, second = (o.fetch.browser for o in settings.offers())
    assert first is not None
    assert first.context == "js"
    assert first.wait_for == ".price"
    assert first.wait_text
    assert first.steps == (Step("click", "#cookies"), Step("select", "#size", "M"),
                           Step("pause", seconds=0.25))
    assert second is None
    assert third is not None
    assert third.context == "plain.example"
    assert not third.wait_text
    assert fourth is not None
    assert (fourth.wait_for, fourth.wait_text) == ("#ready", False)


@pytest.mark.parametrize(("offers", "expected"), [
    ("      - url: https://plain.example/a\n        wait_for: .p\n",
     "config.yaml:10: products[0].offers[0].wait_for: wait_for needs fetcher: browser"),
    ("      - url: https://plain.example/a\n        steps: [{click: .x}]\n",
     "config.yaml:10: products[0].offers[0].steps: steps needs fetcher: browser"),
    ("      - url: https://js.example/a\n        json_path: data.price\n",
     "config.yaml:10: products[0].offers[0].json_path: json_path reads a JSON document"),
    ("      - url: https://js.example/a\n        steps: [{click: .x, fill: .y}]\n",
     "config.yaml:10: products[0].offers[0].steps[0]: a step is exactly one of click, fill"),
    ("      - url: https://js.example/a\n        steps:\n          - fill: '#zip'\n",
     "config.yaml:11: products[0].offers[0].steps[0]: fill and select need a value"),
    ("      - url: https://js.example/a\n        steps: [{click: 'a[['}]\n",
     "config.yaml:10: products[0].offers[0].steps[0].click: invalid CSS selector"),
    ("      - url: https://js.example/a\n        fetcher: selenium\n",
     "config.yaml:10: products[0].offers[0].fetcher: Input should be 'http' or 'browser'"),
])
def test_offer_key_mistakes_name_line_and_field(tmp_path: Path, offers: str,
                                                expected: str) -> None:
    """Browser keys where they cannot apply, and malformed steps, are config errors."""
    assert expected in error(tmp_path, offers)


@pytest.mark.parametrize(("section", "expected"), [
    ("browser:\n  block: [images]\n", "config.yaml:2: browser.block[0]: Input should be"),
    ("browser:\n  pages: 0\n", "config.yaml:2: browser.pages: Input should be greater"),
    ("browser:\n  endpoint: ws://b:3000/\n  executable_path: /usr/bin/chromium\n",
     "config.yaml:1: browser: give executable_path (a local Chromium) or endpoint"),
    ("browser:\n  endpoint: browser:3000\n", "endpoint must be a ws://"),
    ("browser:\n  max_memory: 1MB\n", "config.yaml:2: browser.max_memory: Input should be"),
    ("browser:\n  restart_afte: 5\n", "unknown setting; did you mean 'restart_after'?"),
])
def test_browser_section_mistakes_name_line_and_field(tmp_path: Path, section: str,
                                                      expected: str) -> None:
    """The browser: section is validated like every other section."""
    assert expected in error(tmp_path, "      - url: https://js.example/a\n",
                             head=section + BASE)


def test_screenshots_folder_is_relative_to_the_config(tmp_path: Path) -> None:
    """browser.screenshots resolves against the config file's folder; unset means none."""
    offers = "      - url: https://js.example/a\n"
    assert load(tmp_path, offers).screenshots is None
    settings = load(tmp_path, offers, head="browser: {screenshots: shots}\n" + BASE)
    assert settings.screenshots == (tmp_path / "shots").resolve()


def test_no_browser_is_an_error_naming_the_setting(tmp_path: Path) -> None:
    """A missing executable_path, or no Chromium on PATH, is BrowserUnavailable (a config
    error) that says which setting to change."""
    with pytest.raises(BrowserUnavailable, match=r"browser\.executable_path: /nope/chrome"):
        find_executable(BrowserConfig(executable_path="/nope/chrome"))
    empty = tmp_path / "bin"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", str(empty))
        with pytest.raises(BrowserUnavailable, match="no Chromium found"):
            preflight(BrowserConfig())
        assert preflight(BrowserConfig(endpoint="ws://browser:3000/")) is None


def test_a_plain_install_never_imports_playwright() -> None:
    """Loading a config, building a Fetcher and the daemon's modules leave Playwright
    unimported (it loads only for the first browser page)."""
    code = ("import sys\n"
            "import pricewatch.cli, pricewatch.runtime.daemon, pricewatch.runtime.rounds\n"
            "from pricewatch.config import HttpConfig\n"
            "from pricewatch.fetch import Fetcher\n"
            "Fetcher(HttpConfig())\n"
            "print(sorted(m for m in sys.modules if m.startswith('playwright')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
