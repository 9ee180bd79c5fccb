"""From the config's three layers (alerts.rules -> product -> offer) to each offer's rules.

A rule set at a lower level replaces the same rule above it as a whole; ``false`` removes it.
``cheapest_store_changed`` compares a product's offers, so it is read at the global and product
levels only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

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
    """Every offer's rules, and the products watched for a change of cheapest store."""

    offers: dict[str, tuple[Rule, ...]] = field(default_factory=dict)  # by offer key
    cheapest: dict[str, Rule] = field(default_factory=dict)  # by product id

    def __len__(self) -> int:
        return sum(len(r) for r in self.offers.values()) + len(self.cheapest)


def rule_book(settings: Settings) -> RuleBook:
    defaults = settings.model.alerts.rules
    offers = settings.offers()
    book = RuleBook()
    index = 0
    for product in settings.products:
        chosen = _pick("cheapest_store_changed", defaults, product.alerts)
        if chosen is not None and len(product.offers) > 1:
            book.cheapest[product.id] = Rule(Kind.CHEAPEST_STORE_CHANGED,
                                             cooldown=chosen.cooldown)
        for offer_config in product.offers:
            offer = offers[index]
            index += 1
            rules: list[Rule] = []
            for name in _LAYERED:
                picked = _pick(name, defaults, product.alerts, offer_config.alerts)
                if picked is not None:
                    rules.extend(_rules(name, picked))
            book.offers[offer.key] = tuple(rules)
    return book


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
