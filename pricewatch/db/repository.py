"""Queries: each takes an open connection and returns domain types.

Callers own transactions; these functions never commit, so a caller can group them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.db.engine import dialect_insert
from pricewatch.db.evidence import bounded, evidence_ids
from pricewatch.db.ids import OfferIds
from pricewatch.db.rollup import add_days
from pricewatch.db.tables import checks, offers, products
from pricewatch.models import Check, Offer, Outcome, plain

# Rows per INSERT batch in the catalogue sync: a list of every row dict (and the driver's copy
# of it) grows with the catalogue; batches keep it small and constant (bench/scale.py).
SYNC_BATCH = 2000


async def _insert_batched(conn: AsyncConnection, table: Table,
                          rows: Iterable[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == SYNC_BATCH:
            await conn.execute(insert(table), batch)
            batch = []
    if batch:
        await conn.execute(insert(table), batch)


async def stored_slots(conn: AsyncConnection, wanted: Sequence[tuple[int, int]]
                       ) -> set[tuple[int, int]]:
    """Which (offer id, slot) pairs have a stored check (cluster mode)."""
    found = await conn.execute(select(checks.c.offer_id, checks.c.slot).where(
        tuple_(checks.c.offer_id, checks.c.slot).in_(list(wanted))))
    return {(int(row[0]), int(row[1])) for row in found}


async def removed_offer_ids(conn: AsyncConnection) -> set[int]:
    """The ids of offers the catalogue marks removed (``active`` false)."""
    found = await conn.execute(select(offers.c.id).where(offers.c.active.is_(False)))
    return {int(row[0]) for row in found}


async def sync_catalog(conn: AsyncConnection, wanted: Sequence[Offer], now: datetime
                       ) -> OfferIds:
    """Make products/offers match the config: add new ones, update changed ones, mark the rest
    inactive (their history stays). Returns ``offer key -> offer id`` for the wanted offers."""
    names: dict[str, str] = {}
    for offer in wanted:
        names.setdefault(offer.product_id, offer.product_name)

    existing_products = {
        row.id: (row.name, row.active)
        for row in await conn.execute(
            select(products.c.id, products.c.name, products.c.active))
    }
    await _insert_batched(conn, products, (
        {"id": pid, "name": name, "active": True, "created_at": now, "updated_at": now}
        for pid, name in names.items()
        if pid not in existing_products
    ))
    for pid, (old_name, old_active) in existing_products.items():
        active = pid in names
        if old_active != active or (active and old_name != names[pid]):
            await conn.execute(
                update(products)
                .where(products.c.id == pid)
                .values(active=active, name=names.get(pid, old_name), updated_at=now)
            )
    del existing_products, names

    existing = {
        row.key: (row.id, row.url, row.active)
        for row in await conn.execute(
            select(offers.c.key, offers.c.id, offers.c.url, offers.c.active))
    }
    await _insert_batched(conn, offers, (
        {
            "key": offer.key,
            "product_id": offer.product_id,
            "store": offer.store,
            "url": offer.url,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for offer in wanted
        if offer.key not in existing
    ))
    found = OfferIds(wanted)  # also the set of wanted keys, until it has the ids
    for offer in wanted:
        key = offer.key
        old = existing.get(key)
        if old is None:
            continue
        oid, old_url, old_active = old
        if not old_active or old_url != offer.url:
            values: dict[str, Any] = {"active": True, "url": offer.url, "updated_at": now}
            if old_url != offer.url:  # validators of the old page say nothing about the new one
                values.update(etag=None, last_modified=None)
            await conn.execute(update(offers).where(offers.c.id == oid).values(**values))
    for key, (oid, _url, old_active) in existing.items():
        if old_active and found.position(key) < 0:
            await conn.execute(
                update(offers).where(offers.c.id == oid).values(active=False, updated_at=now)
            )
    del existing

    # Every row, filtered here: an IN list of all wanted keys breaks past 32,767 offers on
    # Postgres (asyncpg's bind-parameter limit). Read in pages, not one 100,000-row result.
    last = 0
    while True:
        page = (await conn.execute(
            select(offers.c.key, offers.c.id).where(offers.c.id > last)
            .order_by(offers.c.id).limit(SYNC_BATCH * 5))).all()
        for key, oid in page:
            position = found.position(key)
            if position >= 0:
                found.assign(position, oid)
        if len(page) < SYNC_BATCH * 5:
            return found
        last = page[-1][1]


async def validators(
    conn: AsyncConnection, *, every_offer: bool = False
) -> dict[int, tuple[str | None, str | None, str | None]]:
    """``offer id -> (title, etag, last_modified)`` of the active offers that have an ETag or
    a Last-Modified to send (``every_offer``: of every active offer)."""
    query = select(offers.c.id, offers.c.title, offers.c.etag, offers.c.last_modified).where(
        offers.c.active.is_(True))
    if not every_offer:
        query = query.where(offers.c.etag.is_not(None) | offers.c.last_modified.is_not(None))
    return {row.id: (row.title, row.etag, row.last_modified)
            for row in await conn.execute(query)}


@dataclass(frozen=True, slots=True)
class PendingCheck:
    """A check waiting to be written, with the offer state it updates."""

    offer_id: int
    check: Check
    etag: str | None = None
    last_modified: str | None = None
    slot: int | None = None  # cluster mode: the slot it was planned for (epoch ms)


def _insert_checks(conn: AsyncConnection, slotted: bool) -> Any:
    """INSERT INTO checks; for slotted checks (cluster mode) a second row for an (offer, slot)
    already stored is dropped, as a check retried after its replica was thought dead."""
    if not slotted:
        return insert(checks)
    return dialect_insert(conn.dialect.name)(checks).on_conflict_do_nothing(
        index_elements=[checks.c.offer_id, checks.c.slot],
        index_where=checks.c.slot.isnot(None))


async def _slots_not_stored(conn: AsyncConnection,
                            pending: Sequence[PendingCheck]) -> Sequence[PendingCheck]:
    """The batch without checks whose (offer, slot) is stored already (a slice retried after
    its replica died): dropped before the insert so that the per-day rollup, written from
    the same batch, never counts a check the table did not take. ON CONFLICT still guards
    against two replicas racing on one slot."""
    stored = await stored_slots(conn, [(p.offer_id, p.slot) for p in pending
                                       if p.slot is not None])
    if not stored:
        return pending
    return [p for p in pending if p.slot is None or (p.offer_id, p.slot) not in stored]


async def insert_checks(conn: AsyncConnection, pending: Sequence[PendingCheck]) -> None:
    """Write checks in one executemany, and the offers' validators/titles they carry."""
    if not pending:
        return
    slotted = any(p.slot is not None for p in pending)
    if slotted:
        pending = await _slots_not_stored(conn, pending)
        if not pending:
            return
    texts = {p.check.evidence: bounded(p.check.evidence) for p in pending if p.check.evidence}
    ids = await evidence_ids(conn, {t for t in texts.values() if t})
    await conn.execute(
        _insert_checks(conn, slotted),
        [
            {
                "offer_id": p.offer_id,
                "observed_at": p.check.observed_at,
                "outcome": p.check.outcome.value,
                "price": p.check.price,
                "currency": p.check.currency,
                "in_stock": p.check.in_stock,
                "http_status": p.check.http_status,
                "duration_ms": p.check.duration_ms,
                "attempts": p.check.attempts,
                "extractor": p.check.extractor,
                "unchanged": p.check.unchanged,
                "error": p.check.error,
                "evidence_id": ids.get(texts.get(p.check.evidence) or "")
                if p.check.evidence else None,
                "slot": p.slot,
            }
            for p in pending
        ],
    )
    await add_days(conn, ((p.offer_id, p.check) for p in pending))
    # Only the latest state per offer matters; one UPDATE per offer in the batch.
    state: dict[int, dict[str, Any]] = {}
    for p in pending:
        if p.check.outcome is Outcome.OK:
            entry = state.setdefault(p.offer_id, {})
            entry["etag"] = p.etag
            entry["last_modified"] = p.last_modified
            if p.check.title:
                entry["title"] = p.check.title
            if p.check.image:
                entry["image_url"] = p.check.image
    # One executemany per set of columns present (an offer without a title or an image in its
    # latest ok check keeps the stored one).
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for oid, values in state.items():
        groups.setdefault(frozenset(values), []).append({"oid": oid, **values})
    for columns, params in groups.items():
        if params:
            await conn.execute(
                update(offers)
                .where(offers.c.id == bindparam("oid"))
                .values({c: bindparam(c) for c in columns}),
                params,
            )


def _check(key: str, row: Row[Any]) -> Check:
    return Check(
        offer_key=key,
        observed_at=row.observed_at,
        outcome=Outcome(row.outcome),
        price=None if row.price is None else plain(Decimal(row.price)),
        currency=row.currency,
        in_stock=row.in_stock,
        http_status=row.http_status,
        duration_ms=row.duration_ms,
        attempts=row.attempts,
        extractor=row.extractor,
        error=row.error,
        unchanged=row.unchanged,
        evidence=row._mapping.get("evidence"),
    )


async def history(
    conn: AsyncConnection, offer_key: str, *, limit: int = 50, since: datetime | None = None
) -> list[Check]:
    """The offer's checks, newest first."""
    query = (
        select(checks)
        .join(offers, offers.c.id == checks.c.offer_id)
        .where(offers.c.key == offer_key)
        .order_by(checks.c.observed_at.desc(), checks.c.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(checks.c.observed_at >= since)
    return [_check(offer_key, row) for row in (await conn.execute(query)).all()]


async def stream_checks(
    conn: AsyncConnection,
    *,
    since: datetime | None = None,
    offer_keys: Sequence[str] | None = None,
    chunk: int = 5000,
) -> AsyncIterator[Check]:
    """Every stored check (of ``offer_keys``, since ``since``), oldest first, streamed in
    chunks so an export of millions of rows runs in constant memory."""
    last_id = 0
    while True:
        query = (
            select(checks, offers.c.key)
            .join(offers, offers.c.id == checks.c.offer_id)
            .where(checks.c.id > last_id)
            .order_by(checks.c.id)
            .limit(chunk)
        )
        if since is not None:
            query = query.where(checks.c.observed_at >= since)
        if offer_keys is not None:
            query = query.where(offers.c.key.in_(list(offer_keys)))
        rows = (await conn.execute(query)).all()
        for row in rows:
            yield _check(row.key, row)
        if len(rows) < chunk:
            return
        last_id = rows[-1].id


async def latest_checks(
    conn: AsyncConnection, offer_ids: Iterable[int] | None = None, *, ok_only: bool = False
) -> dict[int, Check]:
    """The newest check (or newest ok check) of each offer, keyed by offer id."""
    newest = select(checks.c.offer_id, func.max(checks.c.id).label("id"))
    if ok_only:
        newest = newest.where(checks.c.outcome == Outcome.OK.value)
    if offer_ids is not None:
        newest = newest.where(checks.c.offer_id.in_(list(offer_ids)))
    sub = newest.group_by(checks.c.offer_id).subquery()
    query = (
        select(checks, offers.c.key)
        .join(sub, sub.c.id == checks.c.id)
        .join(offers, offers.c.id == checks.c.offer_id)
    )
    return {row.offer_id: _check(row.key, row) for row in (await conn.execute(query)).all()}
