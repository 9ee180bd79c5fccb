"""The JSON API under /api/: products, one product, an offer's (or a product's) history with
server-side downsampling, recent alerts; described by the OpenAPI document below.

Prices are exact decimal strings, times ISO 8601 in UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from pricewatch.db import history as h
from pricewatch.db.alerts import Recent
from pricewatch.models import Check
from pricewatch.runtime.web.status import iso
from pricewatch.runtime.web.views import OfferView, ProductView

MAX_POINTS_DEFAULT = 1000
MAX_POINTS_LIMIT = 100_000


def dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def offer_json(o: OfferView) -> dict[str, Any]:
    return {"offer": o.key, "store": o.store, "url": o.url, "title": o.title,
            "price": dec(o.price), "currency": o.currency, "in_stock": o.in_stock,
            "priced_at": iso(o.priced_at), "checked_at": iso(o.checked_at),
            "outcome": o.outcome, "error": o.error, "lowest": dec(o.low),
            "highest": dec(o.high), "cheapest": o.cheapest, "next_check": iso(o.next_check)}


def product_json(p: ProductView) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "offers": [offer_json(o) for o in p.offers]}


def series_json(s: h.Series, store: str, key: str) -> dict[str, Any]:
    return {"offer": key, "store": store, "currency": s.currency, "checks": s.checks,
            "downsampled": s.downsampled, "lowest": str(s.low), "highest": str(s.high),
            "points": [{"at": iso(p.at), "price": str(p.price), "in_stock": p.in_stock}
                       for p in s.points]}


def check_json(c: Check, store: str) -> dict[str, Any]:
    return {"offer": c.offer_key, "store": store, "observed_at": iso(c.observed_at),
            "outcome": c.outcome.value, "price": dec(c.price), "currency": c.currency,
            "in_stock": c.in_stock, "http_status": c.http_status, "unchanged": c.unchanged,
            "extractor": c.extractor, "evidence": c.evidence, "error": c.error}


def alert_json(a: Recent) -> dict[str, Any]:
    return {"id": a.id, "created_at": iso(a.created_at), "rule": a.rule, "subject": a.subject,
            "title": a.title, "hold_until": iso(a.hold_until), "done": a.done,
            "deliveries": [{"channel": d.channel, "status": d.status, "attempts": d.attempts,
                            "error": d.error, "digest": d.digest} for d in a.deliveries]}


class BadRequest(web.HTTPBadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def moment(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name}: not an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def limit(request: web.Request, *, default: int, high: int) -> int:
    raw = request.query.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise BadRequest(f"limit: a whole number from 1 to {high}")
    return int(raw)


def max_points(request: web.Request) -> int:
    raw = request.query.get("max_points", str(MAX_POINTS_DEFAULT))
    if not raw.isdigit() or not 2 <= int(raw) <= MAX_POINTS_LIMIT:
        raise BadRequest(f"max_points: a whole number from 2 to {MAX_POINTS_LIMIT}")
    return int(raw)


def _schema(ref: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{ref}"}


_TIME = {"type": "string", "format": "date-time"}
_PRICE = {"type": ["string", "null"], "description": "exact decimal, e.g. \"1299.99\"",
          "pattern": r"^\d+(\.\d+)?$"}
_RANGE_PARAMS = [
    {"name": "since", "in": "query", "schema": _TIME, "description": "oldest check (ISO 8601)"},
    {"name": "until", "in": "query", "schema": _TIME, "description": "newest check (ISO 8601)"},
    {"name": "max_points", "in": "query",
     "schema": {"type": "integer", "minimum": 2, "maximum": MAX_POINTS_LIMIT,
                "default": MAX_POINTS_DEFAULT},
     "description": "downsample each series to at most this many points, keeping every "
                    "bucket's first, lowest, highest and last price"},
]


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document served at /api/openapi.json."""
    offer = {"type": "object", "properties": {
        "offer": {"type": "string", "description": "product@store"}, "store": {"type": "string"},
        "url": {"type": "string"}, "title": {"type": ["string", "null"]}, "price": _PRICE,
        "currency": {"type": ["string", "null"]}, "in_stock": {"type": ["boolean", "null"]},
        "priced_at": {**_TIME, "type": ["string", "null"]},
        "checked_at": {**_TIME, "type": ["string", "null"]},
        "outcome": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]},
        "lowest": _PRICE, "highest": _PRICE, "cheapest": {"type": "boolean"},
        "next_check": {**_TIME, "type": ["string", "null"]}}}
    product = {"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "offers": {"type": "array", "items": _schema("Offer")}}}
    series = {"type": "object", "properties": {
        "offer": {"type": "string"}, "store": {"type": "string"},
        "currency": {"type": "string"}, "checks": {"type": "integer"},
        "downsampled": {"type": "boolean"}, "lowest": _PRICE, "highest": _PRICE,
        "points": {"type": "array", "items": {"type": "object", "properties": {
            "at": _TIME, "price": _PRICE, "in_stock": {"type": ["boolean", "null"]}}}}}}
    alert = {"type": "object", "properties": {
        "id": {"type": "integer"}, "created_at": _TIME, "rule": {"type": "string"},
        "subject": {"type": "string"}, "title": {"type": "string"},
        "hold_until": {**_TIME, "type": ["string", "null"]}, "done": {"type": "boolean"},
        "deliveries": {"type": "array", "items": {"type": "object", "properties": {
            "channel": {"type": "string"}, "status": {"type": "string"},
            "attempts": {"type": "integer"}, "error": {"type": ["string", "null"]},
            "digest": {"type": "boolean"}}}}}}

    check = {"type": "object", "properties": {
        "offer": {"type": "string"}, "store": {"type": "string"}, "observed_at": _TIME,
        "outcome": {"type": "string", "description": "ok, no_price, http_error, timeout, ..."},
        "price": _PRICE, "currency": {"type": ["string", "null"]},
        "in_stock": {"type": ["boolean", "null"]},
        "http_status": {"type": ["integer", "null"]},
        "unchanged": {"type": "boolean", "description": "a 304 reused the last extraction"},
        "extractor": {"type": ["string", "null"]},
        "evidence": {"type": ["string", "null"],
                     "description": "why this price (or why none), in the extractor's words; "
                                    "at most 200 characters"},
        "error": {"type": ["string", "null"]}}}

    def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"200": {"description": description,
                        "content": {"application/json": {"schema": schema}}},
                "503": {"description": "the database is unreachable"}}

    history = {"type": "object", "properties": {
        "series": {"type": "array", "items": _schema("Series")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "pricewatch", "version": "1",
                 "description": "Read-only access to pricewatch's price history."},
        "paths": {
            "/api/products": {"get": {
                "summary": "Every active product with its offers' current and extreme prices",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": ok("products", {"type": "object", "properties": {
                    "products": {"type": "array", "items": _schema("Product")}}})}},
            "/api/products/{product_id}": {"get": {
                "summary": "One product",
                "parameters": [{"name": "product_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {**ok("the product", _schema("Product")),
                              "404": {"description": "no such product"}}}},
            "/api/products/{product_id}/history": {"get": {
                "summary": "The price history of each of the product's offers",
                "parameters": [{"name": "product_id", "in": "path", "required": True,
                                "schema": {"type": "string"}}, *_RANGE_PARAMS],
                "responses": {**ok("one series per offer and currency", history),
                              "400": {"description": "a bad parameter"},
                              "404": {"description": "no such product"}}}},
            "/api/products/{product_id}/checks": {"get": {
                "summary": "The product's recent checks, every outcome, newest first",
                "parameters": [{"name": "product_id", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 500,
                                           "default": 50}}],
                "responses": {**ok("checks", {"type": "object", "properties": {
                    "checks": {"type": "array", "items": _schema("Check")}}}),
                              "400": {"description": "a bad parameter"},
                              "404": {"description": "no such product"}}}},
            "/api/offers/{offer}/history": {"get": {
                "summary": "One offer's price history",
                "parameters": [{"name": "offer", "in": "path", "required": True,
                                "schema": {"type": "string"},
                                "description": "the offer key, product@store"},
                               *_RANGE_PARAMS],
                "responses": {**ok("one series per currency", history),
                              "400": {"description": "a bad parameter"},
                              "404": {"description": "no such offer"}}}},
            "/api/alerts": {"get": {
                "summary": "Recent alerts and their delivery per channel",
                "parameters": [{"name": "limit", "in": "query",
                                "schema": {"type": "integer", "minimum": 1, "maximum": 1000,
                                           "default": 100}}],
                "responses": ok("alerts, newest first", {"type": "object", "properties": {
                    "alerts": {"type": "array", "items": _schema("Alert")}}})}},
        },
        "components": {"schemas": {"Offer": offer, "Product": product, "Series": series,
                                   "Alert": alert, "Check": check}},
    }
