"""The configuration: the only reader of the YAML file and of the environment.

``load(path)`` returns frozen ``Settings``; every problem is a ``ConfigError`` naming the file,
the line and the field path, e.g. ``config.yaml:14: products[2].offers[0].url: not an http(s)
URL``. ``Settings.offers()`` resolves the layered options (global -> store -> product -> offer)
into the domain ``Offer`` objects the rest of the program uses.

Modules: ``types`` (durations, sizes, URLs, crontab lines ...), ``schema`` (the file's sections),
``alerts`` (the alerts section), ``settings`` (loading, errors with lines, resolution).
"""

from pricewatch.config.alerts import (
    AlertRulesConfig,
    AlertsConfig,
    BelowRuleConfig,
    ChangeRuleConfig,
    ChannelConfig,
    FlagRuleConfig,
    NewLowRuleConfig,
    NotifyRetryConfig,
    QuietHoursConfig,
    RuleConfig,
)
from pricewatch.config.schema import (
    CircuitBreakerConfig,
    ClusterConfig,
    DatabaseConfig,
    GlobalConfig,
    HttpConfig,
    ListingConfig,
    OfferConfig,
    PartialTimeouts,
    ProductConfig,
    RetryConfig,
    ScheduleConfig,
    ServerConfig,
    SettingsModel,
    StoreConfig,
    TimeoutsConfig,
)
from pricewatch.config.settings import (
    ENV_OVERRIDES,
    AlertLayers,
    Settings,
    default_config_path,
    fetch_options_for,
    load,
    loads,
)
from pricewatch.config.types import DEFAULT_USER_AGENT, parse_duration, parse_size

__all__ = [
    "DEFAULT_USER_AGENT",
    "ENV_OVERRIDES",
    "AlertLayers",
    "AlertRulesConfig",
    "AlertsConfig",
    "BelowRuleConfig",
    "ChangeRuleConfig",
    "ChannelConfig",
    "CircuitBreakerConfig",
    "ClusterConfig",
    "DatabaseConfig",
    "FlagRuleConfig",
    "GlobalConfig",
    "HttpConfig",
    "ListingConfig",
    "NewLowRuleConfig",
    "NotifyRetryConfig",
    "OfferConfig",
    "PartialTimeouts",
    "ProductConfig",
    "QuietHoursConfig",
    "RetryConfig",
    "RuleConfig",
    "ScheduleConfig",
    "ServerConfig",
    "Settings",
    "SettingsModel",
    "StoreConfig",
    "TimeoutsConfig",
    "default_config_path",
    "fetch_options_for",
    "load",
    "loads",
    "parse_duration",
    "parse_size",
]
