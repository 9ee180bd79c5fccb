"""Names vulture reports as unused in pricewatch/ that are used, each with who uses it.

vulture (``make lint``) reads this file beside pricewatch/; it is never imported or run. A
name here counts as used everywhere, so keep entries to names that a library, a protocol or
an embedder calls by name, and say which. Code that only tests call is dead code: remove it
(tests call the real entry point) rather than list it here, unless it is the one way to
observe a state, and then say so. After removing code, drop the entries that name it.

Validators need no entry: ``[tool.vulture] ignore_decorators`` in pyproject.toml covers
pydantic's ``@field_validator`` and ``@model_validator``.
"""

# ruff: noqa: B018  -- bare attribute reads are how a vulture whitelist marks a name as used
from pricewatch.config.alerts import AlertRulesConfig
from pricewatch.config.types import Model
from pricewatch.db.tables import ExactPrice, UTCDateTime
from pricewatch.fetch.hosts import HostLimiter
from pricewatch.runtime.daemon import Daemon

_ = object()  # stands for objects whose class is not ours (vulture only reads the names)

# __aexit__(exc_type, exc, tb): the async context manager protocol passes all three.
_.exc_type
_.tb

# pydantic reads the model's configuration from this class attribute.
Model.model_config

# The rule fields of one config level: alerts/resolve.py reads each with getattr(layer, name)
# over the rule names, and pydantic fills them from the YAML keys of the same name.
AlertRulesConfig.below
AlertRulesConfig.drop_percent
AlertRulesConfig.rise_percent
AlertRulesConfig.new_low
AlertRulesConfig.back_in_stock
AlertRulesConfig.cheapest_store_changed

# SQLAlchemy's TypeDecorator protocol: the column type, the statement-cache flag and the two
# conversion hooks are looked up by name on every bind and result.
UTCDateTime.impl
UTCDateTime.cache_ok
UTCDateTime.process_bind_param
UTCDateTime.process_result_value
# SQLAlchemy picks the column type per dialect through this TypeDecorator hook.
ExactPrice.load_dialect_impl

# logging.LogRecord.getMessage() formats record.msg: the secrets filter rewrites it.
_.msg

# apprise's throttle between two requests of one service: alerts/channels.py sets it on
# apprise's plugin objects and apprise reads it before each request.
_.request_rate_per_sec

# The embedding API: graceful shutdown of a Daemon run in-process (what SIGTERM does for the
# command line); tests and embedders call it, the CLI never does.
Daemon.stop

# The limiter's read-only view of a host's delay after a robots.txt Crawl-delay raised it
# (tests/integration/fetch/test_fetch_robots.py); the one way to observe that state.
HostLimiter.delay_of

# prometheus_client's Collector protocol: the registry calls collect() on every scrape.
from pricewatch.runtime.metrics import _OfferSeries  # noqa: E402

_OfferSeries.collect

# A visible price's cues are (name, strength) pairs; Weights.score reads each weight with
# getattr(self, name), so these fields are used by the cue names heuristic.py emits.
from pricewatch.extract.heuristic import Weights  # noqa: E402

Weights.current_label
Weights.current_text
Weights.near_heading
Weights.above_heading
Weights.far_from_heading
Weights.other_money_words
Weights.from_price
Weights.text_only
Weights.variant
Weights.price_word
Weights.paired_higher

# SQLAlchemy: @compiles registers the dialect compilers by decorator, and inherit_cache is the
# statement-cache flag every custom FunctionElement declares.
from pricewatch.db.history import epoch  # noqa: E402

epoch.inherit_cache

# The chart's plot edges are read by the Jinja template (the product page template), not by Python.
from pricewatch.runtime.web.chart import Panel  # noqa: E402

Panel.right
Panel.bottom

# Support code, not product code: the web UI's browser tests, screenshots and bench/web.py all
# seed their database with this one generator of demo history (kept in the package so the
# bench and the tests share it). Seeding `pricewatch demo` with it would make it product code.
from pricewatch.demo.history import generate  # noqa: E402

generate

# PEP 562: Python calls a module's __getattr__ for a missing name; pricewatch.extract loads
# its extractors on first use through it.
from pricewatch import extract  # noqa: E402

extract.__getattr__

# The one way to observe the worker pool from outside: the kill tests read which workers run,
# how many pages are in flight and how often a worker was replaced; bench/ reads their pids
# for their peak RSS.
from pricewatch.runtime.workers import ProcessExtractor  # noqa: E402

ProcessExtractor.pids
ProcessExtractor.in_flight
ProcessExtractor.restarts

# Procrastinate calls its periodic tasks by name (pricewatch/cluster/engine.py).
from pricewatch.cluster.engine import build  # noqa: E402

build.stalled  # type: ignore[attr-defined]
