"""Turning what happened to a request into one Outcome from the closed set."""

from __future__ import annotations

import asyncio
import re
import ssl

import aiohttp

from pricewatch.models import Outcome

# Phrases of the bot walls seen most often (Cloudflare, Akamai, PerimeterX, DataDome, hCaptcha,
# reCAPTCHA) and generic "enable JavaScript" interstitials. Checked only on short pages or in
# the <title>, so a product page that merely mentions "captcha" in a script is not blocked.
_BLOCK_MARKERS = re.compile(
    r"(captcha|are you a robot|verify you are (a )?human|access denied|attention required|"
    r"just a moment\.\.\.|checking your browser|pardon our interruption|px-captcha|"
    r"request unsuccessful|enable javascript and cookies to continue|"
    r"please enable (javascript|js)|bot detection|unusual traffic)",
    re.IGNORECASE,
)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def outcome_for_status(status: int) -> Outcome | None:
    """None for success statuses, else the failure outcome."""
    if status < 400:
        return None
    if status == 429:
        return Outcome.RATE_LIMITED
    if status in (401, 403, 451):
        return Outcome.BLOCKED
    return Outcome.HTTP_ERROR


def outcome_for_exception(exc: BaseException) -> tuple[Outcome, str]:
    """Classify an exception raised while fetching."""
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | aiohttp.ServerTimeoutError):
        return Outcome.TIMEOUT, "timed out"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Outcome.HTTP_ERROR, "too many redirects"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return Outcome.NETWORK_ERROR, f"TLS error: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Outcome.NETWORK_ERROR, f"cannot connect: {exc.os_error or exc}"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return Outcome.NETWORK_ERROR, f"connection broken: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return Outcome.NETWORK_ERROR, f"invalid URL: {exc}"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Outcome.NETWORK_ERROR, f"{type(exc).__name__}: {exc}"
    return Outcome.ERROR, f"{type(exc).__name__}: {exc}"


def looks_blocked(text: str) -> str | None:
    """The marker that makes a 200 page a bot wall, or None for an ordinary page."""
    title = _TITLE.search(text[:20000])
    if title:
        found = _BLOCK_MARKERS.search(title.group(1))
        if found:
            return found.group(0)
    if len(text) < 15000:  # interstitials are small; real product pages rarely are
        found = _BLOCK_MARKERS.search(text)
        if found:
            return found.group(0)
    return None
