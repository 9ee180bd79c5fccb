"""Loading and resolving: YAML -> validated models -> ``Settings`` -> domain ``Offer``s."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    ValidationError,
)

from pricewatch import yamlsource
from pricewatch.config.schema import (
    OfferConfig,
    ProductConfig,
    SettingsModel,
    StoreConfig,
)
from pricewatch.errors import ConfigError, ConfigErrors
from pricewatch.models import ExtractSpec, FetchOptions, Offer, Timeouts


class Settings:
    """A validated configuration and where it came from."""

    def __init__(self, model: SettingsModel, *, source: Path | None) -> None:
        self.model = model
        self.source = source
        self._shared: dict[FetchOptions, FetchOptions] = {}
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
        options = FetchOptions(
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
        # A store's offers mostly share one set of options: keep one object, not 100,000.
        return self._shared.setdefault(options, options)


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

