"""exact prices: SQLite keeps checks.price as fixed-width decimal text, not a float

PostgreSQL's NUMERIC(20, 6) is exact already and is left alone. SQLite's NUMERIC column has
REAL affinity: every stored price went through a float. Each one becomes zero-padded text
(``00000000000024.990000``, see ``pricewatch.db.tables.ExactPrice``), printed from the stored
value with six decimals: exact for any price of up to 15 significant digits, and as close as a
float could hold for longer ones (their digits were lost when they were written).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_PRICE = sa.String(length=21)
OLD_PRICE = sa.Numeric(precision=20, scale=6)


def _swap(new_type: sa.types.TypeEngine[object], convert: str) -> None:
    # A new column filled by SQL, then put in the old one's place: a batch ALTER would copy
    # the values through CAST, which prints a REAL with 15 digits (99999999999999.98 -> 1e14).
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_new', new_type, nullable=True))
    op.execute(f"UPDATE checks SET price_new = {convert} WHERE price IS NOT NULL")
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_column('price')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.alter_column('price_new', new_column_name='price', existing_type=new_type)


def upgrade() -> None:
    if op.get_context().dialect.name != 'sqlite':
        return
    _swap(TEXT_PRICE, "printf('%021.6f', price)")


def downgrade() -> None:
    if op.get_context().dialect.name != 'sqlite':
        return
    _swap(OLD_PRICE, "CAST(price AS REAL)")
