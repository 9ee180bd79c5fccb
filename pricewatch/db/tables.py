"""The database schema: one definition for SQLite and PostgreSQL.

Alembic's migrations in ``migrations/versions`` must produce exactly this; a test compares them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

from pricewatch.models import PRICE_LIMIT

# Constraint names are fixed so migrations are identical on both databases.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; Postgres gets a 64-bit identity.
BigID = BigInteger().with_variant(Integer(), "sqlite")

# Prices below 10^14 with 6 decimals: enough for any currency (3-decimal dinars, crypto-like
# price-per-unit listings) without ever going through float.
PRICE_SCALE = 6
_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
_TEXT_WIDTH = 14 + 1 + PRICE_SCALE


class ExactPrice(TypeDecorator[Decimal]):
    """A price, exact on both databases: NUMERIC(20, 6) on PostgreSQL; on SQLite, whose NUMERIC
    is a float (99999999999999.99 read back as 99999999999999.984375), fixed-width text,
    ``00000000000024.990000``. Prices are never negative, so the zero-padded text sorts like
    the number: ``ORDER BY``, ``min()``, ``max()`` and comparisons stay right in SQL (a scaled
    integer would not fit: 10^14 x 10^6 is past SQLite's 64-bit INTEGER)."""

    impl = Numeric(20, PRICE_SCALE, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(_TEXT_WIDTH))
        return dialect.type_descriptor(Numeric(20, PRICE_SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        if not amount.is_finite() or amount < 0 or amount >= PRICE_LIMIT:
            # The last line of defence: the writer stores such a row as a failed check.
            raise ValueError(f"price {amount} outside 0 <= price < 10^14")
        amount = amount.quantize(_QUANTUM, rounding=ROUND_HALF_UP)  # as NUMERIC(20, 6) does
        if dialect.name == "sqlite":
            return f"{amount:0{_TEXT_WIDTH}.{PRICE_SCALE}f}"
        return amount

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):  # a REAL left by a database from before migration 0003
            return Decimal(repr(value))
        return value if isinstance(value, Decimal) else Decimal(str(value))


Price = ExactPrice()

products = Table(
    "products",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

offers = Table(
    "offers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False, unique=True),  # "product@store"
    Column("product_id", String(80), ForeignKey("products.id"), nullable=False, index=True),
    Column("store", String(80), nullable=False),
    Column("url", Text, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("title", Text),  # the product's name as the shop shows it, from the last good check
    Column("image_url", Text),  # the product's image (absolute http(s) URL), likewise
    # Validators for conditional requests; a 304 reuses the last good extraction.
    Column("etag", Text),
    Column("last_modified", Text),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

checks = Table(
    "checks",
    metadata,
    Column("id", BigID, primary_key=True, autoincrement=True),
    Column("offer_id", Integer, ForeignKey("offers.id"), nullable=False),
    Column("observed_at", UTCDateTime, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("price", Price),
    Column("currency", CHAR(3)),
    Column("in_stock", Boolean),
    Column("http_status", Integer),
    Column("duration_ms", Integer, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("extractor", String(40)),
    Column("unchanged", Boolean, nullable=False, default=False),
    Column("error", Text),
    # Why this price (or why none): the extractor's words, shared through ``evidence``, so a
    # check pays an integer for it, not the text. No foreign key: adding one would make
    # SQLite rebuild the whole checks table in the migration.
    Column("evidence_id", BigID),
    # Cluster mode: the slot (epoch milliseconds) this check was planned for; None otherwise.
    Column("slot", BigInteger),
)

# Cluster mode: a slot retried after its replica died is never stored twice.
Index("uq_checks_offer_slot", checks.c.offer_id, checks.c.slot, unique=True,
      postgresql_where=checks.c.slot.isnot(None), sqlite_where=checks.c.slot.isnot(None))
# "History of one offer over time" is the query every chart, alert and status page makes.
Index("ix_checks_offer_id_observed_at", checks.c.offer_id, checks.c.observed_at)
# The web UI (pricewatch.db.history): lowest/highest ever and when they were seen are seeks,
# the median an index-only walk in price order, a chart's time buckets an index-only pass
# over one offer's good checks.
Index("ix_checks_history", checks.c.offer_id, checks.c.outcome, checks.c.currency,
      checks.c.price, checks.c.observed_at, checks.c.in_stock)

# Each distinct evidence text once (pricewatch.db.evidence writes it with the checks).
EVIDENCE_LIMIT = 200
evidence = Table(
    "evidence",
    metadata,
    Column("id", BigID, primary_key=True, autoincrement=True),
    Column("text", String(EVIDENCE_LIMIT), nullable=False, unique=True),
)

# Each offer's good checks per UTC day and currency, kept in the same transaction as the
# checks (pricewatch.db.rollup): a chart over a year reads days, not every check. Every
# day keeps its lowest and highest price and its first and last check.
check_days = Table(
    "check_days",
    metadata,
    Column("offer_id", Integer, ForeignKey("offers.id"), primary_key=True),
    Column("currency", CHAR(3), primary_key=True),
    Column("day", Integer, primary_key=True),  # whole days since 1970-01-01 UTC
    Column("checks", Integer, nullable=False),
    Column("low", Price, nullable=False),
    Column("high", Price, nullable=False),
    Column("first_at", UTCDateTime, nullable=False),
    Column("first_price", Price, nullable=False),
    Column("last_at", UTCDateTime, nullable=False),
    Column("last_price", Price, nullable=False),
    Column("sold_out", Integer, nullable=False),  # good checks that said out of stock
)

# --- alerts (pricewatch.alerts) ---
# Each rule of each offer (or product, for cheapest_store_changed) remembers whether it is
# armed, so a restart neither repeats nor forgets an alert.
alert_states = Table(
    "alert_states",
    metadata,
    Column("subject", String(200), primary_key=True),  # offer key, or product id
    Column("rule", String(40), primary_key=True),  # e.g. "below", "drop_percent.median"
    Column("armed", Boolean, nullable=False),
    Column("memo", Text),  # rule-specific memory, e.g. the cheapest store last seen
    Column("last_fired_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
)

# An alert is written in the same transaction as the state change that raised it; the
# dispatcher delivers from this table, so an alert survives a crash before delivery.
alerts = Table(
    "alerts",
    metadata,
    Column("id", BigID, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rule", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("product_id", String(80), nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", Text, nullable=False),  # JSON, the webhook's "alert" object
    Column("hold_until", UTCDateTime),  # quiet hours: deliver in the digest after this
    Column("done", Boolean, nullable=False, default=False),  # every channel sent or failed
)
Index("ix_alerts_done_created_at", alerts.c.done, alerts.c.created_at)

# One row per delivery attempt: status "sent", "retry" (failed, will try again) or "failed"
# (failed for good).
notifications = Table(
    "notifications",
    metadata,
    Column("id", BigID, primary_key=True, autoincrement=True),
    Column("alert_id", BigID, ForeignKey("alerts.id"), nullable=False, index=True),
    Column("channel", String(80), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("digest", Boolean, nullable=False, default=False),
    Column("error", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

# --- listings (`discover:` products, runtime/listings.py) ---
# Every product page a watched listing has shown, by the listing's product id: a crawl that
# finds a URL not here raises a `new_product` alert. The first crawl of a listing only fills it.
listing_items = Table(
    "listing_items",
    metadata,
    Column("listing", String(80), primary_key=True),
    Column("url", Text, primary_key=True),  # canonical (pricewatch.discover.urls)
    Column("title", Text),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
)
