"""The configuration: the only reader of the YAML file and of the environment.

``load(path)`` returns frozen ``Settings``; every problem is a ``ConfigError`` naming the file,
the line and the field path, e.g. ``config.yaml:14: products[2].offers[0].url: not an http(s)
URL``. ``Settings.offers()`` resolves the layered options (global -> store -> product -> offer)
into the domain ``Offer`` objects the rest of the program uses.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pricewatch import __version__, yamlsource
from pricewatch.errors import ConfigError, ConfigErrors
from pricewatch.extract.rules import compile_css, compile_regex, compile_xpath
from pricewatch.models import ExtractSpec, FetchOptions, Offer, Timeouts

DEFAULT_USER_AGENT = f"pricewatch/{__version__} (self-hosted price monitor)"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2,
               "gib": 1024**3}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


def parse_duration(value: Any) -> float:
    """``90``, ``"90s"``, ``"30m"``, ``"1h30m"``, ``"2d"`` -> seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 6h or 1d")
    if isinstance(value, int | float | Decimal):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos, total = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        else:
            if pos == len(text) and pos > 0:
                return total
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError(f"expected a duration like 30s, 15m, 6h or 1d, got {value!r}")


def parse_size(value: Any) -> int:
    """``1048576``, ``"10MB"``, ``"512 KiB"`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            unit = (match.group(2) or "b").lower()
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"expected a size like 10MB or 512KiB, got {value!r}")


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), AfterValidator(_positive)]
Size = Annotated[int, BeforeValidator(parse_size)]
Headers = dict[str, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _check_cron(value: str) -> str:
    # Imported lazily: schedule.py is the only module that may import apscheduler at top level.
    from pricewatch.schedule import validate_cron

    validate_cron(value)
    return value


def _check_currency(value: str | None) -> str | None:
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("expected an ISO 4217 currency code such as EUR or USD")
    return value.upper()


class TimeoutsConfig(_Model):
    """Seconds (or durations) for one request."""

    connect: PositiveDuration = 10.0
    read: PositiveDuration = 30.0
    total: PositiveDuration = 60.0


class PartialTimeouts(_Model):
    connect: PositiveDuration | None = None
    read: PositiveDuration | None = None
    total: PositiveDuration | None = None


class RetryConfig(_Model):
    attempts: int = Field(3, ge=1, le=10)
    backoff_base: PositiveDuration = 1.0
    backoff_max: PositiveDuration = 60.0
    retry_after_max: PositiveDuration = 300.0


class CircuitBreakerConfig(_Model):
    failures: int = Field(5, ge=1)  # consecutive failed checks of one host before pausing it
    pause: PositiveDuration = 1800.0


class HttpConfig(_Model):
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


class StoreConfig(_Model):
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
    currency: str | None = None
    locale: str | None = None

    _currency = field_validator("currency")(_check_currency)


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("expected a time of day as HH:MM, e.g. 22:00")
    return value


class RuleConfig(_Model):
    """Common to every alert rule; ``false`` in the file disables an inherited rule."""

    enabled: bool = True
    # The least time between two alerts of the rule.
    cooldown: Duration | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"enabled": data}
        if isinstance(data, int | float | str | Decimal) and cls._short_field:
            return {cls._short_field: data}
        return data

    _short_field: ClassVar[str | None] = None


class BelowRuleConfig(RuleConfig):
    """Fire when the price is at or below ``target`` (``below: 199`` is short for this)."""

    _short_field: ClassVar[str | None] = "target"
    target: Decimal | None = Field(default=None, gt=0)
    currency: str | None = None  # the target's currency; offers priced in another are skipped
    hysteresis_percent: float = Field(default=0.0, ge=0, le=100)  # re-arm above target + this %

    _currency = field_validator("currency")(_check_currency)

    @model_validator(mode="after")
    def _target(self) -> BelowRuleConfig:
        if self.enabled and self.target is None:
            raise ValueError("give a target price, e.g. `below: 199` or `below: {target: 199}`")
        return self


class ChangeRuleConfig(RuleConfig):
    """A change of at least ``previous`` % against the last price and/or ``median`` % against
    the median of the last ``window`` (``drop_percent: 10`` is short for ``previous: 10``)."""

    _short_field: ClassVar[str | None] = "previous"
    previous: float | None = Field(default=None, gt=0, le=1000)
    median: float | None = Field(default=None, gt=0, le=1000)
    window: PositiveDuration = 30 * 86400.0

    @model_validator(mode="after")
    def _something(self) -> ChangeRuleConfig:
        if self.enabled and self.previous is None and self.median is None:
            raise ValueError("give a percentage: previous, median or both")
        return self


class NewLowRuleConfig(RuleConfig):
    """Fire on a price lower than every earlier one (within ``window`` when given)."""

    window: PositiveDuration | None = None


class FlagRuleConfig(RuleConfig):
    """A rule without parameters (``back_in_stock: true``)."""


class AlertRulesConfig(_Model):
    """Rules at one level (global, product, offer); a rule set lower replaces the one above."""

    below: BelowRuleConfig | None = None
    drop_percent: ChangeRuleConfig | None = None
    rise_percent: ChangeRuleConfig | None = None  # opt-in: price rises are rarely good news
    new_low: NewLowRuleConfig | None = None
    back_in_stock: FlagRuleConfig | None = None
    cheapest_store_changed: FlagRuleConfig | None = None  # product level; needs 2+ offers


class ChannelConfig(_Model):
    """Where alerts go: one apprise URL or one JSON webhook."""

    name: str = Field(min_length=1, max_length=80)
    apprise: str | None = None  # e.g. ntfy://ntfy.sh/${NTFY_TOPIC}, mailto://..., tgram://...
    webhook: str | None = None  # an http(s) URL that receives a JSON POST
    headers: Headers = {}  # webhook only
    timeout: PositiveDuration = 15.0

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data:
            if isinstance(data.get("webhook"), str):
                return {**data, "name": "webhook"}
            if isinstance(data.get("apprise"), str):
                return {**data, "name": data["apprise"].split(":", 1)[0] or "apprise"}
        return data

    @model_validator(mode="after")
    def _one_target(self) -> ChannelConfig:
        if (self.apprise is None) == (self.webhook is None):
            raise ValueError("give exactly one of apprise (a URL) or webhook (an http(s) URL)")
        if self.webhook is not None:
            _check_url(self.webhook)
        if self.headers and self.webhook is None:
            raise ValueError("headers only apply to a webhook")
        return self


class QuietHoursConfig(_Model):
    """Alerts raised between ``start`` and ``end`` are held and sent as one digest at ``end``."""

    start: str
    end: str
    timezone: str = "UTC"

    _clock = field_validator("start", "end")(_check_clock)
    _tz = field_validator("timezone")(_check_timezone)


class NotifyRetryConfig(_Model):
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_base: PositiveDuration = 2.0
    backoff_max: PositiveDuration = 300.0


class AlertsConfig(_Model):
    enabled: bool = True
    channels: list[ChannelConfig] = []
    rules: AlertRulesConfig = AlertRulesConfig()  # the defaults for every offer
    retry: NotifyRetryConfig = NotifyRetryConfig()
    quiet_hours: QuietHoursConfig | None = None

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; give `name:` to {duplicates}")
        return channels


class OfferConfig(_Model):
    url: str
    store: str | None = Field(None, min_length=1, max_length=80)
    selector: str | None = None
    xpath: str | None = None
    attribute: str | None = None
    regex: str | None = None
    json_path: str | None = None
    currency: str | None = None
    locale: str | None = None
    fallback: Literal["none", "auto"] = "none"
    sku: str | None = None
    gtin: str | None = None
    variant_param: str | None = None
    interval: PositiveDuration | None = None
    cron: str | None = None
    timezone: str | None = None
    timeouts: PartialTimeouts = PartialTimeouts()
    headers: Headers = {}
    alerts: AlertRulesConfig | None = None

    _url = field_validator("url")(_check_url)
    _currency = field_validator("currency")(_check_currency)

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None:
            compile_css(value)
        return value

    @field_validator("xpath")
    @classmethod
    def _xpath(cls, value: str | None) -> str | None:
        if value is not None:
            compile_xpath(value)
        return value

    @field_validator("regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            compile_regex(value)
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)

    @model_validator(mode="after")
    def _one_rule(self) -> OfferConfig:
        rules = [n for n in ("selector", "xpath", "json_path") if getattr(self, n)]
        if len(rules) > 1:
            raise ValueError(f"give only one of selector, xpath, json_path (got {rules})")
        if self.attribute and not (self.selector or self.xpath):
            raise ValueError("attribute needs a selector or an xpath")
        return self


class ProductConfig(_Model):
    id: str
    name: str = Field(min_length=1)
    interval: PositiveDuration | None = None
    cron: str | None = None
    timezone: str | None = None
    alerts: AlertRulesConfig | None = None
    offers: list[OfferConfig] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError(
                "must be a slug: lowercase letters, digits, '.', '_' or '-' (at most 80)"
            )
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else _check_cron(value)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str | None) -> str | None:
        return None if value is None else _check_timezone(value)


class DatabaseConfig(_Model):
    url: str | None = None  # default: sqlite file pricewatch.db next to the config file
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("expected a sqlite:/// or postgresql:// URL")
        return value


class ScheduleConfig(_Model):
    interval: PositiveDuration = 3600.0
    jitter: float = Field(0.1, ge=0, le=0.5)  # fraction of the interval
    misfire_grace_time: PositiveDuration = 600.0
    catch_up_window: PositiveDuration = 300.0
    shutdown_timeout: Duration = Field(30.0, ge=0)
    timezone: str = "UTC"

    _tz = field_validator("timezone")(_check_timezone)


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)
    enabled: bool = True


class SettingsModel(_Model):
    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    server: ServerConfig = ServerConfig()
    alerts: AlertsConfig = AlertsConfig()
    stores: dict[str, StoreConfig] = {}
    products: list[ProductConfig] = []



class Settings:
    """A validated configuration and where it came from."""

    def __init__(self, model: SettingsModel, *, source: Path | None) -> None:
        self.model = model
        self.source = source
        self._offers = self._resolve_offers()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with relative SQLite paths resolved against the config's folder."""
        base = self.source.parent if self.source else Path.cwd()
        url = self.model.database.url
        if url is None:
            return f"sqlite:///{(base / 'pricewatch.db').resolve()}"
        if url.startswith("sqlite") and ":///" in url:
            head, path = url.split(":///", 1)
            if path and path != ":memory:" and not Path(path).is_absolute():
                return f"{head}:///{(base / path).resolve()}"
        return url

    @property
    def products(self) -> list[ProductConfig]:
        return self.model.products

    def offers(self) -> list[Offer]:
        """Every offer, resolved; order follows the file."""
        return list(self._offers)

    def capacity_warnings(self) -> list[str]:
        """Hosts whose offers cannot all be checked within their intervals: with a minimum
        delay d between requests to a host, it serves at most one request every d seconds."""
        demand: dict[str, float] = {}  # host -> requests per second the schedule asks for
        delay: dict[str, float] = {}
        for offer in self._offers:
            host = (urlsplit(offer.url).hostname or "").lower()
            demand[host] = demand.get(host, 0.0) + 1 / offer.interval
            delay[host] = max(delay.get(host, 0.0), offer.fetch.per_host_delay)
        warnings = []
        for host, rate in sorted(demand.items()):
            if delay[host] > 0 and rate * delay[host] > 1:
                warnings.append(
                    f"host {host}: the schedule asks for {rate * 3600:.0f} checks/hour but "
                    f"per_host_delay {delay[host]:g}s allows at most {3600 / delay[host]:.0f}; "
                    "checks will fall behind (raise the intervals or lower the delay)"
                )
        return warnings

    def store_of(self, url: str, explicit: str | None) -> str:
        if explicit:
            return explicit
        host = (urlsplit(url).hostname or "").lower()
        for name, store in self.model.stores.items():
            if host in (h.lower() for h in store.hosts) or (not store.hosts and host == name):
                return name
        return host.removeprefix("www.")

    def _resolve_offers(self) -> list[Offer]:
        m = self.model
        offers: list[Offer] = []
        for product in m.products:
            for offer in product.offers:
                store_name = self.store_of(offer.url, offer.store)
                store = m.stores.get(store_name, StoreConfig())
                offers.append(
                    Offer(
                        product_id=product.id,
                        product_name=product.name,
                        store=store_name,
                        url=offer.url,
                        extract=ExtractSpec(
                            selector=offer.selector,
                            xpath=offer.xpath,
                            attribute=offer.attribute,
                            regex=offer.regex,
                            json_path=offer.json_path,
                            currency=offer.currency or store.currency,
                            locale=offer.locale or store.locale,
                            fallback_auto=offer.fallback == "auto",
                            sku=offer.sku,
                            gtin=offer.gtin,
                            variant_param=offer.variant_param,
                        ),
                        fetch=self._fetch_options(store, offer),
                        interval=offer.interval or product.interval or store.interval
                        or m.schedule.interval,
                        cron=offer.cron or product.cron,
                        timezone=offer.timezone or product.timezone or m.schedule.timezone,
                    )
                )
        return offers

    def _fetch_options(self, store: StoreConfig, offer: OfferConfig) -> FetchOptions:
        http = self.model.http

        def timeout(name: str) -> float:
            for layer in (offer.timeouts, store.timeouts):
                value: float | None = getattr(layer, name)
                if value is not None:
                    return value
            default: float = getattr(http.timeouts, name)
            return default

        headers = {**http.headers, **store.headers, **offer.headers}
        return FetchOptions(
            user_agent=store.user_agent or http.user_agent,
            timeouts=Timeouts(timeout("connect"), timeout("read"), timeout("total")),
            headers=tuple(headers.items()),
            cookies=tuple(store.cookies.items()),
            proxy=store.proxy or http.proxy,
            obey_robots=http.obey_robots if store.obey_robots is None else store.obey_robots,
            per_host_concurrency=store.per_host_concurrency or http.per_host_concurrency,
            per_host_delay=http.per_host_delay
            if store.per_host_delay is None
            else store.per_host_delay,
            accept_json=offer.json_path is not None,
        )


def load(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, interpolate and validate a config file."""
    file = Path(path)
    name = str(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=name) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", file=name) from exc
    return loads(text, file=name, environ=os.environ if environ is None else environ,
                 source=file.resolve())


def loads(
    text: str,
    *,
    file: str = "<config>",
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
) -> Settings:
    """Validate config text; ``file`` is the name used in error messages."""
    located = yamlsource.load(text, file=file, environ={} if environ is None else environ)
    data = located.data
    if data is None or data == {}:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of settings", file=file, line=1)
    _apply_env_overrides(data, {} if environ is None else environ)
    try:
        model = SettingsModel.model_validate(data)
    except ValidationError as exc:
        raise _convert(exc, located, file) from None
    settings = Settings(model, source=source)
    _check_offer_keys(settings, located, file)
    return settings


def _check_offer_keys(settings: Settings, located: yamlsource.Located, file: str) -> None:
    ids: set[str] = set()
    for p, product in enumerate(settings.products):
        if product.id in ids:
            path: yamlsource.Path = ("products", p, "id")
            raise ConfigError(f"duplicate product id {product.id!r}", file=file,
                              line=located.line_of(path), field=yamlsource.format_path(path))
        ids.add(product.id)
    seen: set[str] = set()
    resolved = iter(settings.offers())
    for p, product in enumerate(settings.products):
        for o, _ in enumerate(product.offers):
            key = next(resolved).key
            if key in seen:
                path = ("products", p, "offers", o)
                raise ConfigError(
                    f"product {product.id!r} already has an offer at store "
                    f"{key.split('@', 1)[1]!r}; give one of them a distinct `store:` name",
                    file=file,
                    line=located.line_of(path),
                    field=yamlsource.format_path(path),
                )
            seen.add(key)


def _convert(exc: ValidationError, located: yamlsource.Located, file: str) -> ConfigError:
    problems: list[ConfigError] = []
    for error in exc.errors():
        path = tuple(error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting"
        elif error["type"] == "missing":
            message = "required setting is missing"
        problems.append(
            ConfigError(
                message,
                file=file,
                line=located.line_of(path),
                field=yamlsource.format_path(path) or None,
            )
        )
    problems.sort(key=lambda p: p.line or 0)
    if len(problems) == 1:
        return problems[0]
    return ConfigErrors(problems)



# Settings a deployment (a container, a systemd unit) sets from outside the file. They win
# over the file, so one config.yaml works on a laptop and in the container unchanged.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "PRICEWATCH_DATABASE_URL": ("database", "url"),
    "PRICEWATCH_SERVER_HOST": ("server", "host"),
    "PRICEWATCH_SERVER_PORT": ("server", "port"),
}


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for variable, (section, key) in ENV_OVERRIDES.items():
        value = environ.get(variable)
        if value:
            block = data.setdefault(section, {})
            if isinstance(block, dict):
                block[key] = value


def default_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$PRICEWATCH_CONFIG`` or ``./config.yaml``."""
    env = os.environ if environ is None else environ
    return Path(env.get("PRICEWATCH_CONFIG", "config.yaml"))
