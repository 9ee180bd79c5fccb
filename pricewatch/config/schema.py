"""The config file's schema: database, http, schedule, server, stores, products and offers."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from pricewatch.config.alerts import (
    AlertRulesConfig,
    AlertsConfig,
)
from pricewatch.config.browser import BrowserConfig, OfferBrowserKeys, StoreBrowserKeys
from pricewatch.config.types import (
    DEFAULT_USER_AGENT,
    SLUG,
    Crontab,
    CssSelector,
    Currency,
    Duration,
    Headers,
    HttpURL,
    Model,
    PositiveDuration,
    PriceRegex,
    Size,
    TimeZone,
    XPathExpr,
)

# Checking a real shop more often than this needs ``allow_short_interval: true``: it is
# impolite and gets the checker blocked. Loopback hosts (the demo, tests) are exempt.
MIN_INTERVAL = 60.0


class TimeoutsConfig(Model):
    """Seconds (or durations) for one request."""

    connect: PositiveDuration = 10.0
    read: PositiveDuration = 30.0
    total: PositiveDuration = 60.0


class PartialTimeouts(Model):
    connect: PositiveDuration | None = None
    read: PositiveDuration | None = None
    total: PositiveDuration | None = None


class RetryConfig(Model):
    attempts: int = Field(3, ge=1, le=10)
    backoff_base: PositiveDuration = 1.0
    backoff_max: PositiveDuration = 60.0
    retry_after_max: PositiveDuration = 300.0


class CircuitBreakerConfig(Model):
    failures: int = Field(5, ge=1)  # consecutive failed checks of one host before pausing it
    pause: PositiveDuration = 1800.0


class HttpConfig(Model):
    user_agent: str = DEFAULT_USER_AGENT
    concurrency: int = Field(50, ge=1, le=10_000)
    per_host_concurrency: int = Field(2, ge=1, le=1000)
    per_host_delay: Duration = Field(1.0, ge=0)
    timeouts: TimeoutsConfig = TimeoutsConfig()
    retries: RetryConfig = RetryConfig()
    circuit_breaker: CircuitBreakerConfig = CircuitBreakerConfig()
    max_bytes: Size = Field(10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(10, ge=0, le=50)
    obey_robots: bool = True
    robots_ttl: PositiveDuration = 86400.0
    headers: Headers = {}
    proxy: str | None = None


class StoreConfig(StoreBrowserKeys):
    """Settings shared by every offer at one store; ``hosts`` says which URLs belong to it."""

    hosts: list[str] = []
    per_host_concurrency: int | None = Field(None, ge=1, le=1000)
    per_host_delay: Duration | None = Field(None, ge=0)
    obey_robots: bool | None = None
    user_agent: str | None = None
    headers: Headers = {}
    cookies: dict[str, str] = {}
    proxy: str | None = None
    timeouts: PartialTimeouts = PartialTimeouts()
    interval: PositiveDuration | None = None
    currency: Currency | None = None
    locale: str | None = None


class _Scheduled(Model):
    """When checks run; set on a product, an offer, or both (the offer wins)."""

    interval: PositiveDuration | None = None
    cron: Crontab | None = None
    timezone: TimeZone | None = None
    alerts: AlertRulesConfig | None = None
    allow_short_interval: bool | None = None  # below MIN_INTERVAL at a real shop: say so


class OfferConfig(_Scheduled, OfferBrowserKeys):
    url: HttpURL
    store: str | None = Field(None, min_length=1, max_length=80)
    selector: CssSelector | None = None
    xpath: XPathExpr | None = None
    attribute: str | None = None
    regex: PriceRegex | None = None
    json_path: str | None = None
    currency: Currency | None = None
    locale: str | None = None
    fallback: Literal["none", "auto"] = "none"
    sku: str | None = None
    gtin: str | None = None
    variant_param: str | None = None
    timeouts: PartialTimeouts = PartialTimeouts()
    headers: Headers = {}

    @model_validator(mode="after")
    def _one_rule(self) -> OfferConfig:
        rules = [n for n in ("selector", "xpath", "json_path") if getattr(self, n)]
        if len(rules) > 1:
            raise ValueError(f"give only one of selector, xpath, json_path (got {rules})")
        if self.attribute and not (self.selector or self.xpath):
            raise ValueError("attribute needs a selector or an xpath")
        return self


# --- listings: a product entry with `discover:` instead of `offers:` (runtime/listings.py) ---
class ListingConfig(Model):
    """A listing (category, search page, sitemap) the daemon re-crawls on the product's
    interval, raising a ``new_product`` alert for each product page it has not seen."""

    url: HttpURL
    depth: int = Field(1, ge=0, le=10)
    max_pages: int = Field(200, ge=1, le=100_000)
    per_pattern: int = Field(50, ge=1, le=100_000)
    same_site: bool = False
    sitemaps: bool = False
    match: PriceRegex | None = None  # a regular expression, compiled like the offers' regex


class ProductConfig(_Scheduled):
    id: str
    name: str = Field(min_length=1)
    offers: list[OfferConfig] = []
    discover: ListingConfig | None = None

    @model_validator(mode="after")
    def _offers_or_listing(self) -> ProductConfig:
        if self.discover is not None and self.offers:
            raise ValueError("give `offers:` (pages to check) or `discover:` (a listing to "
                             "watch for new products), not both")
        if self.discover is None and not self.offers:
            raise ValueError("needs `offers:` (at least one page to check) or `discover:` "
                             "(a listing to watch for new products)")
        return self

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not SLUG.match(value):
            raise ValueError(
                "must be a slug: lowercase letters, digits, '.', '_' or '-' (at most 80)"
            )
        return value


class DatabaseConfig(Model):
    url: str | None = None  # default: sqlite file pricewatch.db next to the config file
    echo: bool = False
    # Bounds every statement (PostgreSQL) or lock wait (SQLite): a silent connection or a
    # stuck lock becomes an error the writer retries, never a write that waits forever.
    statement_timeout: PositiveDuration = 30.0

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value


class ScheduleConfig(Model):
    interval: PositiveDuration = 3600.0
    allow_short_interval: bool = False  # for every offer; see MIN_INTERVAL
    jitter: float = Field(0.1, ge=0, le=0.5)  # fraction of the interval
    misfire_grace_time: PositiveDuration = 600.0
    catch_up_window: PositiveDuration = 300.0
    shutdown_timeout: Duration = Field(30.0, ge=0)
    timezone: TimeZone = "UTC"


class ServerAuthConfig(Model):
    """HTTP basic auth for the web UI and its API (give the password as ``${ENV}``)."""

    username: str = Field(min_length=1)
    password: SecretStr = Field(min_length=1)
    metrics: bool = False  # also ask for it on /metrics (Prometheus then needs basic_auth)


class ServerConfig(Model):
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)
    enabled: bool = True
    auth: ServerAuthConfig | None = None


class ClusterConfig(Model):
    """Several replicas on one PostgreSQL sharing one schedule (docs/cluster.md).
    ``cluster: true`` is short for ``cluster: {enabled: true}``."""

    enabled: bool = False
    # Each planning run turns one window of this length into check jobs, once for the whole
    # cluster; a whole number of seconds that divides a minute, or of minutes an hour.
    plan_every: PositiveDuration = 60.0
    heartbeat: PositiveDuration = 10.0  # how often a replica tells it is alive
    # A replica silent this long is dead: its running checks are given to the others.
    stalled_after: PositiveDuration = 30.0
    poll: PositiveDuration = 1.0  # how often an idle replica looks for due jobs

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: object) -> object:
        return {"enabled": value} if isinstance(value, bool) else value

    @field_validator("plan_every")
    @classmethod
    def _divides(cls, value: float) -> float:
        seconds = int(value)
        if seconds != value or not (
            (seconds < 60 and 60 % seconds == 0) or (seconds % 60 == 0 and 60 % (seconds // 60)
                                                     == 0)):
            raise ValueError("must be whole seconds dividing a minute (1s, 2s, 5s, 30s...) or "
                             "whole minutes dividing an hour (1m, 5m, 15m, 60m)")
        return value

    @model_validator(mode="after")
    def _stall_after_heartbeat(self) -> ClusterConfig:
        if self.stalled_after < 2 * self.heartbeat:
            raise ValueError("stalled_after must be at least twice the heartbeat, or a live "
                             "replica's checks would be given away")
        return self


class GlobalConfig(Model):
    """Every top-level section but ``products``: what ``Settings.model`` holds. Products are
    validated one at a time and kept only as resolved offers (see config/settings.py)."""

    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    server: ServerConfig = ServerConfig()
    alerts: AlertsConfig = AlertsConfig()
    stores: dict[str, StoreConfig] = {}
    browser: BrowserConfig = BrowserConfig()  # the browser fetcher (config/browser.py)
    # Extraction worker processes; None: one per core (none on one core); 0: extract in
    # threads of the main process. See docs/performance.md.
    workers: int | None = Field(None, ge=0, le=64)
    cluster: ClusterConfig = ClusterConfig()


class SettingsModel(GlobalConfig):
    """The whole file's schema (for documentation; loading never builds one)."""

    products: list[ProductConfig] = []
