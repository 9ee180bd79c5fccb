"""One request to one URL: conditional headers, the status, content type and size checks,
decoding, and bot-wall detection.

Returns an ``Attempt`` saying what happened, whether trying again could help, and where a
redirect points; the caller (client.py) owns retries, slots, robots.txt and following
redirects (each hop is a request to its own host, under that host's rules).
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, replace

import aiohttp
from yarl import URL

from pricewatch.fetch.classify import (
    looks_blocked,
    outcome_for_exception,
    outcome_for_status,
    temporary_exception,
)
from pricewatch.fetch.decode import decode, not_text
from pricewatch.fetch.retry import is_temporary, parse_retry_after
from pricewatch.models import FetchOptions, FetchResult, Outcome

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
JSON_TYPES = ("application/json", "application/ld+json", "text/json")
# What servers label sitemaps with: XML, or a .xml.gz file as gzip or bytes.
XML_TYPES = ("application/xml", "text/xml", "application/gzip", "application/x-gzip",
             "application/octet-stream")
_GZIP_MAGIC = b"\x1f\x8b"
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    result: FetchResult
    retryable: bool = False
    retry_after: float | None = None  # the server's Retry-After, in seconds
    redirect: URL | None = None  # a redirect's target, to be followed by the caller


class _TooLarge(Exception):
    pass


def request_headers(
    options: FetchOptions, etag: str | None, last_modified: str | None
) -> dict[str, str]:
    headers = {
        "User-Agent": options.user_agent,
        "Accept-Encoding": "gzip, deflate, br",
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
        **dict(options.headers),
    }
    if options.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in options.cookies)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


async def attempt(
    session: aiohttp.ClientSession,
    url: str,
    options: FetchOptions,
    *,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
) -> Attempt:
    """Make one request; never raises for anything the server does."""
    t = options.timeouts
    # aiohttp's own total timeout would not bound a body that trickles in forever.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=t.connect, sock_read=t.read)
    headers = request_headers(options, etag, last_modified)
    try:
        async with asyncio.timeout(t.total):
            async with session.get(url, headers=headers, timeout=timeout,
                                   proxy=options.proxy, allow_redirects=False) as response:
                target = _redirect_target(response)
                if target is None:
                    return await _read(response, options, max_bytes, etag, last_modified)
                result = FetchResult(Outcome.HTTP_ERROR, url, status=response.status)
                if target.scheme not in ("http", "https"):
                    return Attempt(replace(result, error=f"redirect to a non-HTTP URL: {target}"))
                return Attempt(result, redirect=target)
    except Exception as exc:
        outcome, message = outcome_for_exception(exc)
        return Attempt(FetchResult(outcome, url, error=message),
                       retryable=temporary_exception(exc))


def _redirect_target(response: aiohttp.ClientResponse) -> URL | None:
    location = response.headers.get("Location")
    if response.status not in _REDIRECTS or not location:
        return None
    return response.url.join(URL(location, encoded=False))


async def _read(
    response: aiohttp.ClientResponse,
    options: FetchOptions,
    max_bytes: int,
    etag: str | None,
    last_modified: str | None,
) -> Attempt:
    final_url, status = str(response.url), response.status
    if status == 304:
        # The validators stay the same unless the server sends new ones.
        return Attempt(FetchResult(
            Outcome.OK, final_url, status=status, not_modified=True,
            etag=response.headers.get("ETag") or etag,
            last_modified=response.headers.get("Last-Modified") or last_modified))
    failed = outcome_for_status(status)
    if failed is not None:
        retryable = is_temporary(failed, status)
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if retryable else None
        return Attempt(
            FetchResult(failed, final_url, status=status,
                        error=f"HTTP {status} {response.reason or ''}".strip()),
            retryable=retryable, retry_after=retry_after)
    ctype = response.content_type.lower()
    is_json = options.accept_json and ctype in JSON_TYPES
    is_xml = options.accept_xml and ctype in XML_TYPES
    if ctype not in HTML_TYPES and not is_json and not is_xml:
        return Attempt(FetchResult(Outcome.NOT_HTML, final_url, status=status,
                                   content_type=ctype, error=f"content type {ctype}"))
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        return Attempt(FetchResult(Outcome.TOO_LARGE, final_url, status=status,
                                   error=f"Content-Length {declared} > {max_bytes}"))
    try:
        body = await read_capped(response, max_bytes)
    except _TooLarge:
        return Attempt(FetchResult(Outcome.TOO_LARGE, final_url, status=status,
                                   error=f"body over {max_bytes} bytes (decompressed)"))
    if options.accept_xml and body.startswith(_GZIP_MAGIC):
        try:
            body = gunzip_capped(body, max_bytes)
        except _TooLarge:
            return Attempt(FetchResult(Outcome.TOO_LARGE, final_url, status=status,
                                       error=f"gzipped file over {max_bytes} bytes inflated"))
        except (zlib.error, EOFError) as exc:
            return Attempt(FetchResult(Outcome.NOT_HTML, final_url, status=status,
                                       content_type=ctype, error=f"broken gzip file: {exc}"))
    text, _charset = decode(body, response.charset)
    binary = not_text(text)
    if binary is not None:
        return Attempt(FetchResult(Outcome.NOT_HTML, final_url, status=status,
                                   content_type=ctype, error=binary))
    marker = None if is_json or options.accept_xml else looks_blocked(text)
    if marker is not None:
        return Attempt(FetchResult(Outcome.BLOCKED, final_url, status=status,
                                   error=f"bot wall: {marker!r}"))
    return Attempt(FetchResult(Outcome.OK, final_url, status=status, text=text,
                               content_type=ctype, etag=response.headers.get("ETag"),
                               last_modified=response.headers.get("Last-Modified")))


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The decompressed body, or ``_TooLarge`` as soon as it passes ``max_bytes``.

    aiohttp (>= 3.13.3) inflates at most one chunk's worth per read, so counting what arrives
    bounds memory even for a gzip bomb (tests/integration/fetch measures it)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """A gzipped file's contents, or ``_TooLarge`` once they pass ``max_bytes``: inflating
    stops there, so a gzip bomb costs ``max_bytes`` of memory, never its inflated size."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, max_bytes + 1)
    if len(out) > max_bytes:
        raise _TooLarge
    if not inflater.eof:
        raise EOFError("the file ends inside the compressed data")
    return out
