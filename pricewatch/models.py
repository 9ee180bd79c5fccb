"""Domain types shared by every part of pricewatch.

These are plain frozen dataclasses: config builds them, fetch/extract/store/alerts consume
them, and nothing here imports a library that talks to the outside world.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

# A price is below this (the checks column is NUMERIC(20, 6)): larger is never a real price,
# and on PostgreSQL it would fail the write.
PRICE_LIMIT = Decimal(10) ** 14


class Outcome(StrEnum):
    """How one check ended. Only ``OK`` carries a price."""

    OK = "ok"
    NO_PRICE = "no_price"  # the page loaded but no price was found
    HTTP_ERROR = "http_error"  # a 4xx/5xx other than the ones below
    TIMEOUT = "timeout"
    NETWORK_ERROR = "network_error"  # DNS, refused, reset, TLS
    BLOCKED = "blocked"  # 403, captcha, bot wall, "enable JavaScript" interstitial
    RATE_LIMITED = "rate_limited"  # 429 (after the retries the policy allows)
    ROBOTS_DISALLOWED = "robots_disallowed"
    TOO_LARGE = "too_large"
    NOT_HTML = "not_html"
    HOST_PAUSED = "host_paused"  # the host's circuit breaker is open; no request was made
    CANCELLED = "cancelled"  # shutdown cut the check short
    ERROR = "error"  # a bug in pricewatch, recorded instead of crashing the round

    @property
    def failed(self) -> bool:
        return self is not Outcome.OK


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; ``read`` bounds the gap between two chunks of a response."""

    connect: float = 10.0
    read: float = 30.0
    total: float = 60.0


@dataclass(frozen=True, slots=True)
class Step:
    """One browser action before the price is read: ``action`` is click, fill, select,
    wait_for or pause; ``selector``/``value``/``seconds`` as the action needs."""

    action: str
    selector: str | None = None
    value: str | None = None
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class BrowserPlan:
    """How the browser fetcher loads one offer's page: in the ``context`` of its store (cookies
    never cross stores), after ``steps``, waiting for ``wait_for`` (else network idle)."""

    context: str
    wait_for: str | None = None
    wait_text: bool = False  # wait_for is the offer's own selector: wait for a digit in it
    steps: tuple[Step, ...] = ()
    screenshot: str | None = None  # always save one here (`pricewatch check --screenshot`)


@dataclass(frozen=True, slots=True)
class FetchOptions:
    """Everything the fetcher needs to know about one offer's requests, already resolved from
    the global defaults, the store's settings and the offer's own overrides."""

    user_agent: str
    timeouts: Timeouts = field(default_factory=Timeouts)
    headers: tuple[tuple[str, str], ...] = ()
    cookies: tuple[tuple[str, str], ...] = ()
    proxy: str | None = None
    obey_robots: bool = True
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0
    accept_json: bool = False  # the offer extracts from a JSON document, so not_html is wrong
    # A sitemap: XML is the document, and a gzipped file (sitemap.xml.gz) is inflated, capped.
    accept_xml: bool = False
    browser: BrowserPlan | None = None  # fetcher: browser (None: plain HTTP)


@dataclass(frozen=True, slots=True)
class ExtractSpec:
    """How to find an offer's price. All empty means automatic extraction."""

    selector: str | None = None  # CSS
    xpath: str | None = None
    attribute: str | None = None  # read this attribute of the matched element, not its text
    regex: str | None = None  # applied to the matched text; group 1 (or the match) is the price
    json_path: str | None = None  # dotted path into a JSON document (e.g. "data.price")
    currency: str | None = None  # ISO 4217 hint
    locale: str | None = None  # e.g. "de_DE": decides decimal and thousands separators
    fallback_auto: bool = False  # explicit rule found nothing: try automatic extraction
    sku: str | None = None  # pin a variant
    gtin: str | None = None
    variant_param: str | None = None  # URL query parameter that selects the variant


@dataclass(frozen=True, slots=True)
class Offer:
    """One product at one store: the unit that is scheduled, fetched and stored."""

    product_id: str
    product_name: str
    store: str
    url: str
    extract: ExtractSpec
    fetch: FetchOptions
    interval: float  # seconds between checks
    cron: str | None = None  # a crontab expression; replaces interval when set
    timezone: str = "UTC"  # for cron

    @property
    def key(self) -> str:
        return f"{self.product_id}@{self.store}"


# --- listings (`discover:` products; pricewatch/discover, runtime/listings.py) ---
@dataclass(frozen=True, slots=True)
class Listing:
    """A shop listing the daemon re-crawls for products it has not seen before: a product
    entry with ``discover:`` instead of ``offers:``."""

    product_id: str
    name: str
    url: str
    fetch: FetchOptions
    interval: float  # seconds between crawls
    depth: int = 1
    max_pages: int = 200
    per_pattern: int = 50
    same_site: bool = False
    sitemaps: bool = False
    match: str | None = None  # a regular expression, validated by the config


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What the fetcher returns for one offer: a page (``outcome`` OK) or a classified failure."""

    outcome: Outcome
    url: str  # the final URL after redirects
    status: int | None = None
    text: str = ""  # decoded body; empty on failure
    content_type: str | None = None
    error: str | None = None
    attempts: int = 1
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304 answered our conditional request
    elapsed_ms: int = 0


@dataclass(frozen=True, slots=True)
class Extraction:
    """What the extractors concluded about one page."""

    price: Decimal | None
    currency: str | None
    in_stock: bool | None
    title: str | None = None
    extractor: str | None = None  # which extractor produced the price ("selector", "jsonld", ...)
    evidence: str | None = None  # human-readable: which element / markup gave the answer
    error: str | None = None  # why there is no price, when there is none
    # One word for why there is no price when a person could settle it: "ambiguous" (several
    # amounts, none clearly the product's: the candidates are in ``evidence``).
    detail: str | None = None
    image: str | None = None  # the product's main image, an absolute http(s) URL


@dataclass(frozen=True, slots=True)
class Check:
    """One attempt to read an offer's price; stored whatever happened."""

    offer_key: str
    observed_at: datetime  # UTC, timezone-aware
    outcome: Outcome
    price: Decimal | None = None
    currency: str | None = None
    in_stock: bool | None = None
    http_status: int | None = None
    duration_ms: int = 0
    attempts: int = 1
    extractor: str | None = None
    error: str | None = None
    title: str | None = None
    unchanged: bool = False  # 304 Not Modified: the previous extraction was reused
    image: str | None = None  # the product's image URL, stored on the offer by an ok check
    evidence: str | None = None  # why this price (or why none), in the extractor's words

    def __post_init__(self) -> None:
        # The invariant that keeps a failed scrape from ever reading as a price (or a price of 0).
        if self.outcome is Outcome.OK:
            if (self.price is None or not self.price.is_finite() or self.price <= 0
                    or self.price >= PRICE_LIMIT):
                raise ValueError(f"an ok check needs a price with 0 < price < 10^14, "
                                 f"got {self.price!r}")
        elif self.price is not None:
            raise ValueError(f"a {self.outcome} check cannot carry a price")
        if self.observed_at.tzinfo is None:
            raise ValueError("observed_at must be timezone-aware (UTC)")



@dataclass(frozen=True, slots=True)
class Previous:
    """What the last good check left behind, for conditional requests."""

    etag: str | None = None
    last_modified: str | None = None
    check: Check | None = None  # the last ok check, reused when the server answers 304

def plain(value: Decimal) -> Decimal:
    """Drop trailing zeros a NUMERIC(20, 6) column adds, without switching to exponent form:
    ``1226.000000`` -> ``1226``, ``24.990000`` -> ``24.99``."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        return normalized.quantize(Decimal(1))
    return normalized
