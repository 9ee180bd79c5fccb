"""From the config's three layers (alerts.rules -> product -> offer) to each offer's rules.

A rule set at a lower level replaces the same rule above it as a whole; ``false`` removes it.
``cheapest_store_changed`` compares a product's offers, so it is read at the global and product
levels only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby

from pricewatch.alerts.rules import Kind, Rule
from pricewatch.config import (
    AlertRulesConfig,
    BelowRuleConfig,
    ChangeRuleConfig,
    NewLowRuleConfig,
    RuleConfig,
    Settings,
)

_LAYERED = ("below", "drop_percent", "rise_percent", "new_low", "back_in_stock")


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Every offer's rules, and the products watched for a change of cheapest store. Offers
    that only follow the global rules share ``default`` instead of an entry each."""

    offers: dict[str, tuple[Rule, ...]] = field(default_factory=dict)  # by offer key
    cheapest: dict[str, Rule] = field(default_factory=dict)  # by product id
    default: tuple[Rule, ...] = ()
    default_count: int = 0  # offers using ``default``

    def rules(self, key: str) -> tuple[Rule, ...]:
        return self.offers.get(key, self.default)

    def __len__(self) -> int:
        return (sum(len(r) for r in self.offers.values()) + len(self.cheapest)
                + len(self.default) * self.default_count)


def rule_book(settings: Settings) -> RuleBook:
    defaults = settings.model.alerts.rules
    default = tuple(_layered(defaults))
    offers: dict[str, tuple[Rule, ...]] = {}
    cheapest: dict[str, Rule] = {}
    default_count = 0
    for product_id, group in groupby(settings.offers(), key=lambda o: o.product_id):
        product_offers = list(group)
        layers = settings.alert_layers.get(product_id)
        chosen = _pick("cheapest_store_changed", defaults,
                       None if layers is None else layers.product)
        if chosen is not None and len(product_offers) > 1:
            cheapest[product_id] = Rule(Kind.CHEAPEST_STORE_CHANGED, cooldown=chosen.cooldown)
        if layers is None:
            default_count += len(product_offers)
            continue
        for offer, offer_alerts in zip(product_offers, layers.offers, strict=True):
            offers[offer.key] = tuple(_layered(defaults, layers.product, offer_alerts))
    return RuleBook(offers, cheapest, default, default_count)


def _layered(*layers: AlertRulesConfig | None) -> list[Rule]:
    rules: list[Rule] = []
    for name in _LAYERED:
        picked = _pick(name, *layers)
        if picked is not None:
            rules.extend(_rules(name, picked))
    return rules


def _pick(name: str, *layers: AlertRulesConfig | None) -> RuleConfig | None:
    """The most specific setting of rule ``name``; None when unset or disabled."""
    chosen: RuleConfig | None = None
    for layer in layers:
        value = None if layer is None else getattr(layer, name)
        if value is not None:
            chosen = value
    return chosen if chosen is not None and chosen.enabled else None


def _rules(name: str, config: RuleConfig) -> list[Rule]:
    kind = Kind(name)
    if isinstance(config, BelowRuleConfig):
        return [Rule(kind, threshold=config.target, currency=config.currency,
                     hysteresis_percent=Decimal(str(config.hysteresis_percent)),
                     cooldown=config.cooldown)]
    if isinstance(config, ChangeRuleConfig):
        out = []
        if config.previous is not None:
            out.append(Rule(kind, against="previous", threshold=Decimal(str(config.previous)),
                            cooldown=config.cooldown))
        if config.median is not None:
            out.append(Rule(kind, against="median", threshold=Decimal(str(config.median)),
                            window=config.window, cooldown=config.cooldown))
        return out
    if isinstance(config, NewLowRuleConfig):
        return [Rule(kind, window=config.window, cooldown=config.cooldown)]
    return [Rule(kind, cooldown=config.cooldown)]
