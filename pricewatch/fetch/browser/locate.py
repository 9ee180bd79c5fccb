"""Finding a browser to start, and saying exactly which setting to change when there is none."""

from __future__ import annotations

import importlib.util
import shutil

from pricewatch.config.browser import BrowserConfig
from pricewatch.errors import BrowserUnavailable

# Where Debian, Ubuntu and Google put Chromium; the first one found is used.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
EXTRA = "pip install 'pricewatch[browser]'"


def find_executable(config: BrowserConfig) -> str:
    """The Chromium to launch: ``executable_path``, else the first of CANDIDATES on PATH."""
    if config.executable_path is not None:
        path = shutil.which(config.executable_path)
        if path is None:
            raise BrowserUnavailable(f"{config.executable_path}: no such executable",
                                     field="browser.executable_path")
        return path
    for name in CANDIDATES:
        path = shutil.which(name)
        if path is not None:
            return path
    raise BrowserUnavailable(
        f"no Chromium found (looked for {', '.join(CANDIDATES)} on PATH); install one "
        "(Debian: apt-get install chromium), set browser.executable_path, or point "
        "browser.endpoint at a browser service", field="browser.executable_path")


def preflight(config: BrowserConfig) -> str | None:
    """Raise BrowserUnavailable unless a browser can be started: the extra is installed and,
    for a local browser, Chromium is there. Returns the executable (None: remote)."""
    if importlib.util.find_spec("playwright") is None:
        raise BrowserUnavailable(f"offers use fetcher: browser, but Playwright is not "
                                 f"installed ({EXTRA})", field="fetcher")
    return None if config.endpoint is not None else find_executable(config)
