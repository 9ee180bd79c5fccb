"""Evidence texts (why this price, or why none), each distinct text stored once in
``evidence``; a check refers to its text by id. The texts repeat from check to check of an
offer, so a check pays an integer for them, not a hundred bytes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.db.engine import dialect_insert
from pricewatch.db.tables import EVIDENCE_LIMIT, evidence


def bounded(text: str | None) -> str | None:
    """The text as stored: stripped, at most ``EVIDENCE_LIMIT`` characters, None if empty."""
    if not text:
        return None
    text = " ".join(text.split())
    if len(text) > EVIDENCE_LIMIT:
        text = text[:EVIDENCE_LIMIT - 1] + "…"
    return text or None


async def evidence_ids(conn: AsyncConnection, texts: Iterable[str]) -> dict[str, int]:
    """``text -> id`` for these (bounded) texts, adding the new ones: one read, and an insert
    when some are new. Inserting skips texts another writer added meanwhile."""
    wanted = set(texts)
    if not wanted:
        return {}
    found = await _known(conn, wanted)
    missing = wanted - found.keys()
    if missing:
        await conn.execute(dialect_insert(conn.dialect.name)(evidence).on_conflict_do_nothing(),
                           [{"text": t} for t in sorted(missing)])
        found.update(await _known(conn, missing))
    return found


async def _known(conn: AsyncConnection, texts: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    ordered = sorted(texts)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start:start + 1000]
        rows = await conn.execute(select(evidence.c.text, evidence.c.id)
                                  .where(evidence.c.text.in_(chunk)))
        out.update({text: int(eid) for text, eid in rows.all()})
    return out
