"""Canonical URLs, the crawl's scope, URL patterns and pagination links.

A URL is canonical when two links to the same page spell it the same way: scheme and host in
lower case, no default port, no fragment, no tracking parameters (``utm_*``, ``gclid``,
``fbclid`` ...), the other query parameters sorted but kept as written (a ``?color=red`` selects
a variant, and a shop's own encoding of a value is what its server expects).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

# Parameters that only say where a visitor came from; they never select what a page shows.
_TRACKING = frozenset({
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid",
    "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi",
    "__hssc", "__hstc", "__hsfp", "mkt_tok", "s_kwcid", "ef_id", "srsltid", "spm",
    "phpsessid", "jsessionid", "sessionid", "affiliate_id", "aff_id", "campaign_id",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "piwik_", "matomo_")
# Query parameters that page through a listing: a link that changes only these is the
# next page of the same listing, followed at the listing's own depth.
_PAGE_KEYS = frozenset({"page", "pg", "paged", "pagenum", "page_number", "offset", "start"})
_PAGE_PATH = re.compile(r"/(?:page|seite|pagina|p)/\d+/?$", re.IGNORECASE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DIGITS = re.compile(r"\d+")
MAX_URL_LENGTH = 2048  # longer links are session junk or traps, not product pages
_MAX_REPEATS = 2  # a path segment seen more often than this is a relative-link loop


def canonical(url: str) -> str | None:
    """The canonical form of an absolute http(s) URL, or None for anything else (mailto:,
    javascript:, a malformed or over-long URL, a path that repeats itself)."""
    if len(url) > MAX_URL_LENGTH:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if ":" in host:  # an IPv6 literal keeps its brackets
        netloc = f"[{host}]" if port is None or port == _DEFAULT_PORTS[scheme] \
            else f"[{host}]:{port}"
    path = parts.path or "/"
    if _loops(path):
        return None
    query = "&".join(sorted(p for p in parts.query.split("&") if p and not _tracking(p)))
    return urlunsplit((scheme, netloc, path, query, ""))


def _tracking(pair: str) -> bool:
    key = unquote(pair.split("=", 1)[0]).lower()
    return key in _TRACKING or key.startswith(_TRACKING_PREFIXES)


def _loops(path: str) -> bool:
    segments = [s for s in path.split("/") if s]
    counts: dict[str, int] = {}
    for segment in segments:
        counts[segment] = counts.get(segment, 0) + 1
        if counts[segment] > _MAX_REPEATS:
            return True
    return False


def pattern(url: str) -> str:
    """The shape of a URL: host and path with digit runs as ``0``, query ignored. Calendar
    pages, numbered trap links and every facet combination of one listing share one."""
    parts = urlsplit(url)
    return f"{parts.netloc}{_DIGITS.sub('0', parts.path)}"


def is_pagination(page: str, link: str) -> bool:
    """Whether ``link`` is another page of the listing ``page`` (both canonical): the same
    path with only a page parameter changed, or a ``/page/N`` path under the same listing."""
    a, b = urlsplit(page), urlsplit(link)
    if a.netloc != b.netloc:
        return False
    if a.path == b.path:
        rest_a = {p for p in a.query.split("&") if p and _key(p) not in _PAGE_KEYS}
        rest_b = {p for p in b.query.split("&") if p and _key(p) not in _PAGE_KEYS}
        return rest_a == rest_b and a.query != b.query
    if a.query != b.query:
        return False
    base_a, base_b = _PAGE_PATH.sub("", a.path), _PAGE_PATH.sub("", b.path)
    return base_a.rstrip("/") == base_b.rstrip("/") and (base_a != a.path or base_b != b.path)


def _key(pair: str) -> str:
    return unquote(pair.split("=", 1)[0]).lower()


@dataclass(frozen=True, slots=True)
class Scope:
    """Which hosts a crawl may visit: the start's host (and the host it redirects to), or,
    with ``site``, every host of the start's registrable domain (www., m., shop. ...)."""

    hosts: frozenset[str]
    site: str | None = None  # the registrable domain, when the whole site is in scope

    @classmethod
    def of(cls, url: str, *, same_site: bool) -> Scope:
        host = (urlsplit(url).hostname or "").lower()
        return cls(frozenset({host}), registrable_domain(host) if same_site else None)

    def widened(self, url: str) -> Scope:
        """This scope plus ``url``'s host (the start page redirected there)."""
        host = (urlsplit(url).hostname or "").lower()
        if self.site is not None:
            return self
        return Scope(self.hosts | {host}, self.site)

    def allows(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        if host in self.hosts:
            return True
        return self.site is not None and (host == self.site or host.endswith("." + self.site))


@lru_cache(maxsize=64)
def registrable_domain(host: str) -> str:
    """``www.shop.co.uk`` -> ``shop.co.uk`` (the Public Suffix List, bundled with
    publicsuffixlist); an IP address or a single-label host is its own site."""
    if not host or "." not in host or _is_ip(host):
        return host
    found: str | None = _suffix_list().privatesuffix(host)
    return found or host


@lru_cache(maxsize=1)
def _suffix_list() -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList  # its list loads once, on first use

    return PublicSuffixList()


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
