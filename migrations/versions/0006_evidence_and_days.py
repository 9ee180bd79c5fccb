"""evidence per check (shared texts) and check_days, the per-day summary of good checks

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 13:00:00

``check_days`` is filled from the stored checks here; from then on ``insert_checks`` keeps it
in the same transaction as the checks.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As pricewatch.db.tables stores them: NUMERIC(20, 6) on PostgreSQL, zero-padded text on
# SQLite (its NUMERIC is a float); timestamps as 0001 made them.
PRICE = sa.Numeric(precision=20, scale=6).with_variant(sa.String(length=21), 'sqlite')
TIME = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# One statement per database: the UTC day of a check, then each day's first and last check
# by (observed_at, id), as the writer keeps them.
_DAY = {
    'sqlite': "CAST(strftime('%s', observed_at) AS INTEGER) / 86400",
    'postgresql': 'CAST(floor(extract(epoch FROM observed_at) / 86400) AS INTEGER)',
}
_FILL = """
INSERT INTO check_days (offer_id, currency, day, checks, low, high, first_at, first_price,
                        last_at, last_price, sold_out)
SELECT offer_id, currency, day, count(*), min(price), max(price), min(observed_at),
       max(CASE WHEN first_rank = 1 THEN price END), max(observed_at),
       max(CASE WHEN last_rank = 1 THEN price END),
       sum(CASE WHEN in_stock IS NOT NULL AND NOT in_stock THEN 1 ELSE 0 END)
FROM (SELECT offer_id, currency, price, observed_at, in_stock, {day} AS day,
             row_number() OVER (PARTITION BY offer_id, currency, {day}
                                ORDER BY observed_at, id) AS first_rank,
             row_number() OVER (PARTITION BY offer_id, currency, {day}
                                ORDER BY observed_at DESC, id DESC) AS last_rank
      FROM checks
      WHERE outcome = 'ok' AND price IS NOT NULL AND currency IS NOT NULL) AS good
GROUP BY offer_id, currency, day
"""


def upgrade() -> None:
    op.create_table(
        'evidence',
        sa.Column('id', BIG_ID, nullable=False, autoincrement=True),
        sa.Column('text', sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence')),
        sa.UniqueConstraint('text', name=op.f('uq_evidence_text')),
    )
    with op.batch_alter_table('checks') as batch:
        batch.add_column(sa.Column('evidence_id', BIG_ID, nullable=True))
    op.create_table(
        'check_days',
        sa.Column('offer_id', sa.Integer(), nullable=False),
        sa.Column('currency', sa.CHAR(length=3), nullable=False),
        sa.Column('day', sa.Integer(), nullable=False),
        sa.Column('checks', sa.Integer(), nullable=False),
        sa.Column('low', PRICE, nullable=False),
        sa.Column('high', PRICE, nullable=False),
        sa.Column('first_at', TIME, nullable=False),
        sa.Column('first_price', PRICE, nullable=False),
        sa.Column('last_at', TIME, nullable=False),
        sa.Column('last_price', PRICE, nullable=False),
        sa.Column('sold_out', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['offer_id'], ['offers.id'],
                                name=op.f('fk_check_days_offer_id_offers')),
        sa.PrimaryKeyConstraint('offer_id', 'currency', 'day', name=op.f('pk_check_days')),
    )
    day = _DAY[op.get_bind().dialect.name]
    op.execute(_FILL.format(day=day))


def downgrade() -> None:
    op.drop_table('check_days')
    with op.batch_alter_table('checks') as batch:
        batch.drop_column('evidence_id')
    op.drop_table('evidence')
