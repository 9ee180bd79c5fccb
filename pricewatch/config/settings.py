"""Loading and resolving: YAML -> validated models -> ``Settings`` -> domain ``Offer``s.

Products are read, validated and resolved one at a time (``yamlsource.stream``): a pydantic
model of a product and its offers costs ~3 KB, so 100,000 of them held at once were ~350 MB of
a process that needs ~0.4 KB per offer at run time. What stays is the resolved ``Offer`` (its
``FetchOptions`` and ``ExtractSpec`` shared between offers that resolve alike) and, only where
a product or offer sets ``alerts``, that setting.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from pricewatch.config import source as yamlsource
from pricewatch.config.alerts import AlertRulesConfig
from pricewatch.config.browser import browser_plan, browser_problems
from pricewatch.config.schema import (
    MIN_INTERVAL,
    GlobalConfig,
    OfferConfig,
    ProductConfig,
    SettingsModel,
    StoreConfig,
)
from pricewatch.config.types import FROM_FILE
from pricewatch.errors import ConfigError, ConfigErrors
from pricewatch.models import ExtractSpec, FetchOptions, Listing, Offer, Timeouts

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class AlertLayers:
    """A product's own ``alerts`` and its offers' (in file order), for a product that sets
    any; the rest use the global rules alone."""

    product: AlertRulesConfig | None
    offers: tuple[AlertRulesConfig | None, ...]


class Settings:
    """A validated configuration and where it came from."""

    def __init__(
        self,
        model: GlobalConfig,
        offers: list[Offer],
        *,
        source: Path | None,
        product_count: int,
        alert_layers: dict[str, AlertLayers] | None = None,
        products_line: int | None = None,
        listings: list[Listing] | None = None,
        database_line: int | None = None,
    ) -> None:
        self.model = model
        self.database_line = database_line  # where `database.url` is written, if it is
        # Where `products:` is written (None: the file has no such key). A reload tells an
        # empty or truncated file from a deliberate `products: []` by it.
        self.products_line = products_line
        self.source = source
        self.product_count = product_count
        self.alert_layers: dict[str, AlertLayers] = alert_layers or {}  # by product id
        self._offers = offers
        self._listings = listings or []

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
    def screenshots(self) -> Path | None:
        """The browser's failure screenshots folder, resolved against the config's folder."""
        folder = self.model.browser.screenshots
        if folder is None:
            return None
        base = self.source.parent if self.source else Path.cwd()
        return (base / folder).resolve()

    def cluster_mode(self, *, flag: bool = False) -> bool:
        """Whether to run as a cluster replica (``cluster: true`` or ``--cluster``); raises
        ConfigError naming the database line when the database is not PostgreSQL."""
        if not (flag or self.model.cluster.enabled):
            return False
        if self.database_url.startswith("sqlite"):
            raise ConfigError("--cluster needs PostgreSQL: replicas share one database, and "
                              "this one is SQLite", file=str(self.source or "<config>"),
                              line=self.database_line or 1, field="database.url")
        return True

    def offers(self) -> list[Offer]:
        """Every offer, resolved; order follows the file (a product's offers are adjacent)."""
        return list(self._offers)

    def listings(self) -> list[Listing]:
        """The ``discover:`` products: listings the daemon watches for new products."""
        return list(self._listings)

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


class _Resolver:
    """Global -> store -> product -> offer layers into ``Offer``s. Equal option objects and
    repeated strings are shared: most offers of a store resolve to the same ``FetchOptions``
    and ``ExtractSpec``, and one object serves them all instead of one per offer."""

    def __init__(self, model: GlobalConfig) -> None:
        self.model = model
        self._shared: dict[object, Any] = {}
        self._stores: dict[str, str] = {}  # host -> store name
        self.listings: list[Listing] = []  # the `discover:` products, in file order

    def share(self, value: _T) -> _T:
        found: _T = self._shared.setdefault(value, value)
        return found

    def store_of(self, url: str, explicit: str | None) -> str:
        if explicit:
            return self.share(explicit)
        host = (urlsplit(url).hostname or "").lower()
        name = self._stores.get(host)
        if name is None:
            name = self._stores[host] = self._store_of_host(host)
        return name

    def _store_of_host(self, host: str) -> str:
        for name, store in self.model.stores.items():
            if host in (h.lower() for h in store.hosts) or (not store.hosts and host == name):
                return name
        return host.removeprefix("www.")

    def offers(self, product: ProductConfig) -> list[Offer]:
        """The product's offers; a ``discover:`` product has none and becomes a listing."""
        if product.discover is not None:
            self.listings.append(_listing(self, product))
            return []
        m = self.model
        out = []
        name = self.share(product.name)
        for offer in product.offers:
            store_name = self.store_of(offer.url, offer.store)
            store = m.stores.get(store_name, _NO_STORE)
            extract = ExtractSpec(
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
            )
            out.append(
                Offer(
                    product_id=product.id,
                    product_name=name,
                    store=store_name,
                    url=offer.url,
                    extract=self.share(extract),
                    fetch=self.share(self._fetch_options(store, offer, store_name)),
                    interval=offer.interval or product.interval or store.interval
                    or m.schedule.interval,
                    cron=self.share(offer.cron or product.cron),
                    timezone=self.share(offer.timezone or product.timezone
                                        or m.schedule.timezone),
                )
            )
        return out

    def listing_of(self, product: ProductConfig) -> Listing | None:
        """The listing ``offers`` just made of ``product``, if it is a ``discover:`` one."""
        return self.listings[-1] if product.discover is not None and self.listings else None

    def _fetch_options(self, store: StoreConfig, offer: OfferConfig,
                       store_name: str) -> FetchOptions:
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
            browser=browser_plan(store_name, store, offer, selector=offer.selector,
                                 xpath=offer.xpath, attribute=offer.attribute),
        )


_NO_STORE = StoreConfig()


def fetch_options_for(model: GlobalConfig, url: str) -> FetchOptions:
    """The fetch options an offer at ``url`` without overrides of its own would get (its
    store's settings over the http section), for requests made outside the offers: the
    pages `pricewatch discover` crawls are that store's pages."""
    resolver = _Resolver(model)
    name = resolver.store_of(url, None)
    store = model.stores.get(name, _NO_STORE)
    # Crawls read links and structured data from the served HTML: always over HTTP.
    return replace(resolver._fetch_options(store, OfferConfig(url=url), name), browser=None)


def load(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, interpolate and validate a config file."""
    file = Path(path)
    name = str(path)
    try:
        # Bytes, not text: libyaml parses UTF-8 bytes in place but copies a str, and each
        # copy is the size of the file again (bench/scale.py loads a large one).
        text = file.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError("file not found", file=name) from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"is a directory; give the config file in it, e.g. "
                          f"{file / 'config.yaml'}", file=name) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc}", file=name) from exc
    return loads(text, file=name, environ=os.environ if environ is None else environ,
                 source=file.resolve())


def loads(
    text: str | bytes,
    *,
    file: str = "<config>",
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
) -> Settings:
    """Validate config text; ``file`` is the name used in error messages. Every problem the
    schema finds, in any product, is reported together (``ConfigErrors``), in line order."""
    env = {} if environ is None else environ
    document = yamlsource.stream(text, file=file, environ=env, key="products")
    data = document.top.data
    if data is None or data == {}:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("the top level must be a mapping of settings", file=file, line=1)
    problems: list[ConfigError] = []
    products_line = (document.top.line_of(("products",)) or 1) if "products" in data else None
    products = data.get("products", [])
    data = {k: v for k, v in data.items() if k != "products"}  # items() reads the original
    if not isinstance(products, list):
        problems.append(_problem("Input should be a valid list", ("products",), document.top,
                                 file))
    _apply_env_overrides(data, env)
    model: GlobalConfig | None = None
    try:
        model = GlobalConfig.model_validate(data, context=FROM_FILE)
    except ValidationError as exc:
        problems.extend(_problems(exc, document.top, file, root=SettingsModel))
    resolver = None if model is None else _Resolver(model)
    offers: list[Offer] = []
    layers: dict[str, AlertLayers] = {}
    ids: set[str] = set()
    reported: set[yamlsource.Path] = set()  # store/schedule intervals already complained of
    count = 0
    for index, item in enumerate(document.items()):
        count += 1
        try:
            product = ProductConfig.model_validate(item.data, context=FROM_FILE)
        except ValidationError as exc:
            problems.extend(_problems(exc, item, file, prefix=("products", index),
                                      root=ProductConfig))
            continue
        if product.id in ids:
            problems.append(_problem(f"duplicate product id {product.id!r}",
                                     ("products", index, "id"), item, file))
            continue
        ids.add(product.id)
        if resolver is None:
            continue
        resolved = resolver.offers(product)
        problems.extend(_duplicate_stores(product, resolved, index, item, file))
        problems.extend(_browser_keys(resolver.model, product, resolved, index=index, item=item,
                                      file=file))
        problems.extend(_short_intervals(resolver.model, product, resolved, index=index, item=item,
                                         top=document.top, file=file, reported=reported,
                                         listing=resolver.listing_of(product)))
        offers.extend(resolved)
        if product.alerts is not None or any(o.alerts is not None for o in product.offers):
            layers[product.id] = AlertLayers(product.alerts,
                                             tuple(o.alerts for o in product.offers))
    problems.extend(_cluster_problems(model, document.top, file))
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise problems[0] if len(problems) == 1 else ConfigErrors(problems)
    assert model is not None
    return Settings(model, offers, source=source, product_count=count, alert_layers=layers,
                    products_line=products_line,
                    listings=resolver.listings if resolver is not None else [],
                    database_line=document.top.line_of(("database", "url")))


# --- listings (`discover:` products) ---
def _listing(resolver: _Resolver, product: ProductConfig) -> Listing:
    found = product.discover
    assert found is not None
    model = resolver.model
    name = resolver.store_of(found.url, None)
    store = model.stores.get(name, _NO_STORE)
    fetch = replace(resolver._fetch_options(store, OfferConfig(url=found.url), name), browser=None)
    return Listing(
        product_id=product.id, name=product.name, url=found.url,
        fetch=resolver.share(fetch),
        interval=product.interval or store.interval or model.schedule.interval,
        depth=found.depth, max_pages=found.max_pages, per_pattern=found.per_pattern,
        same_site=found.same_site, sitemaps=found.sitemaps, match=found.match)


def _short_listing_interval(model: GlobalConfig, product: ProductConfig, listing: Listing, *,
                            index: int, item: yamlsource.Located,
                            file: str) -> list[ConfigError]:
    """A listing is crawled page by page: below MIN_INTERVAL at a real shop it needs the
    same opt-in as an offer."""
    host = (urlsplit(listing.url).hostname or "").lower()
    allowed = product.allow_short_interval
    if allowed is None:
        allowed = model.schedule.allow_short_interval
    if listing.interval >= MIN_INTERVAL or allowed or _is_loopback(host):
        return []
    return [_problem(f"interval {listing.interval:g}s is below the {MIN_INTERVAL:g}s floor for "
                     f"a real shop ({host}); crawling a listing that often is impolite. Raise "
                     "it, or set allow_short_interval: true on the product",
                     ("products", index, "interval"), item, file)]


def _cluster_problems(model: GlobalConfig | None, top: yamlsource.Located,
                      file: str) -> list[ConfigError]:
    if model is None or not model.cluster.enabled or (
            model.database.url is not None and not model.database.url.startswith("sqlite")):
        return []
    return [_problem("cluster mode needs PostgreSQL: replicas share one database (set "
                     "database.url to a postgresql:// URL)", ("cluster",), top, file)]


def _duplicate_stores(product: ProductConfig, offers: list[Offer], index: int,
                      item: yamlsource.Located, file: str) -> list[ConfigError]:
    """Offers of one product at one store (keys are product@store, product ids are unique)."""
    seen: set[str] = set()
    problems = []
    for o, offer in enumerate(offers):
        if offer.store in seen:
            problems.append(_problem(
                f"product {product.id!r} already has an offer at store {offer.store!r}; "
                "give one of them a distinct `store:` name",
                ("products", index, "offers", o), item, file))
        seen.add(offer.store)
    return problems


def _browser_keys(model: GlobalConfig, product: ProductConfig, offers: list[Offer], *,
                  index: int, item: yamlsource.Located, file: str) -> list[ConfigError]:
    """Browser keys on an offer that is fetched over HTTP, and the reverse (config/browser)."""
    problems = []
    for o, (config, offer) in enumerate(zip(product.offers, offers, strict=True)):
        store = model.stores.get(offer.store, _NO_STORE)
        for key, message in browser_problems(store, config, config.json_path):
            problems.append(_problem(message, ("products", index, "offers", o, key), item, file))
    return problems


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _short_intervals(model: GlobalConfig, product: ProductConfig, offers: list[Offer], *,
                     index: int, item: yamlsource.Located, top: yamlsource.Located, file: str,
                     reported: set[yamlsource.Path],
                     listing: Listing | None = None) -> list[ConfigError]:
    """Intervals under MIN_INTERVAL at a real (non-loopback) host without the opt-in."""
    if listing is not None:
        return _short_listing_interval(model, product, listing, index=index, item=item,
                                       file=file)
    problems = []
    for o, (config, offer) in enumerate(zip(product.offers, offers, strict=True)):
        if offer.cron is not None or offer.interval >= MIN_INTERVAL:
            continue
        allowed = config.allow_short_interval
        if allowed is None:
            allowed = product.allow_short_interval
        if allowed is None:
            allowed = model.schedule.allow_short_interval
        host = (urlsplit(offer.url).hostname or "").lower()
        if allowed or _is_loopback(host):
            continue
        located = item
        path: yamlsource.Path = ("products", index, "offers", o, "interval")
        if config.interval is None:
            path = ("products", index, "interval")
            if product.interval is None:
                located = top
                store = model.stores.get(offer.store)
                path = (("stores", offer.store, "interval")
                        if store is not None and store.interval is not None
                        else ("schedule", "interval"))
                if path in reported:
                    continue
                reported.add(path)
        problems.append(_problem(
            f"interval {offer.interval:g}s is below the {MIN_INTERVAL:g}s floor for a real "
            f"shop ({host}); checking it that often is impolite and gets you blocked. Raise "
            "it, or, where the shop allows it, set allow_short_interval: true on the offer, "
            "the product or in schedule:", path, located, file))
    return problems


def _problem(message: str, path: yamlsource.Path, located: yamlsource.Located,
             file: str) -> ConfigError:
    return ConfigError(message, file=file, line=located.line_of(path),
                       field=yamlsource.format_path(path) or None)


def _problems(exc: ValidationError, located: yamlsource.Located, file: str,
              prefix: yamlsource.Path = (), *, root: type[BaseModel]) -> list[ConfigError]:
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown setting" + _did_you_mean(root, error["loc"])
        elif error["type"] == "missing":
            message = "required setting is missing"
        problems.append(_problem(message, (*prefix, *error["loc"]), located, file))
    return problems


# Keys people write from memory or from older docs, and what the file calls them.
_RENAMED = {"fallback_auto": "fallback: auto"}


def _did_you_mean(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """``; did you mean 'interval'?`` for a misspelt key, from the fields allowed where it is."""
    key = str(loc[-1])
    if key in _RENAMED:
        return f"; did you mean {_RENAMED[key]!r}?"
    fields = _fields_at(root, loc[:-1])
    close = difflib.get_close_matches(key, sorted(fields), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fields_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> set[str]:
    """The field names of the model(s) at ``loc`` under ``root`` (list items, dict values
    and optional or union members followed)."""
    current: list[Any] = [root]
    for part in loc:
        following: list[Any] = []
        for kind in _members(current):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                field = kind.model_fields.get(str(part))
                if field is not None:
                    following.append(field.annotation)
            elif typing.get_origin(kind) in (list, dict) and isinstance(part, int | str):
                args = typing.get_args(kind)
                if args:
                    following.append(args[-1])
        current = following
    return {name for kind in _members(current)
            if isinstance(kind, type) and issubclass(kind, BaseModel)
            for name in kind.model_fields}


def _members(kinds: list[Any]) -> list[Any]:
    out: list[Any] = []
    for written in kinds:
        kind = written
        while typing.get_origin(kind) is typing.Annotated:
            kind = typing.get_args(kind)[0]
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            out.extend(_members(list(typing.get_args(kind))))
        else:
            out.append(kind)
    return out


# Settings a deployment (a container, a systemd unit) sets from outside the file. They win
# over the file, so one config.yaml works on a laptop and in the container unchanged.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "PRICEWATCH_DATABASE_URL": ("database", "url"),
    "PRICEWATCH_SERVER_HOST": ("server", "host"),
    "PRICEWATCH_SERVER_PORT": ("server", "port"),
    # docker-compose.browser.yml points pricewatch at its browser service with it.
    "PRICEWATCH_BROWSER_ENDPOINT": ("browser", "endpoint"),
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

