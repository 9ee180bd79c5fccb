"""Turning what happened to a request into one Outcome from the closed set."""

from __future__ import annotations

import asyncio
import re
import ssl

import aiohttp

from pricewatch.models import Outcome

# Phrases of the bot walls seen most often (Cloudflare, Akamai, Imperva/Incapsula, PerimeterX,
# DataDome, Amazon, hCaptcha, reCAPTCHA) and generic "enable JavaScript" interstitials. They are
# looked for only in the <title> or on short pages: a real product page may well load a
# reCAPTCHA for its review form or Cloudflare's challenge script, and must not read as blocked.
_BLOCK_MARKERS = re.compile(
    r"(captcha|are you a robot|are you (a )?human|verify you are (a )?human|robot check|"
    r"human verification|access denied|attention required|just a moment\.\.\.|"
    r"checking your browser|checking if the site connection is secure|one more step|"
    r"pardon our interruption|px-captcha|captcha-delivery\.com|incapsula incident|"
    r"_incapsula_resource|request unsuccessful|you have been blocked|request blocked|"
    r"type the characters you see|enable javascript and cookies to continue|"
    r"please enable (javascript|js)|javascript is (disabled|required)|bot detection|"
    r"unusual traffic|press (&|&amp;|and) hold|ddos protection by)",
    re.IGNORECASE,
)
# Interstitials are a few KB; the smallest real product page in the test corpus is far larger.
_SHORT_PAGE = 15_000
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


def temporary_exception(exc: BaseException) -> bool:
    """Whether a failed request may succeed if tried again (TLS and URL errors will not)."""
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError | aiohttp.InvalidURL
                  | aiohttp.TooManyRedirects):
        return False
    return isinstance(exc, asyncio.TimeoutError | TimeoutError | aiohttp.ClientError | OSError)


def looks_blocked(text: str) -> str | None:
    """The marker that makes a 200 page a bot wall, or None for an ordinary page."""
    title = _TITLE.search(text[:20000])
    if title:
        found = _BLOCK_MARKERS.search(title.group(1))
        if found:
            return found.group(0)
    if len(text) < _SHORT_PAGE:
        found = _BLOCK_MARKERS.search(text)
        if found:
            return found.group(0)
    return None
