"""check slots: cluster mode stores each check's slot; one check per (offer, slot)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'uq_checks_offer_slot'


def upgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('slot', sa.BigInteger(), nullable=True))
    # Partial: the single-process daemon's checks have no slot and pay nothing for it.
    op.create_index(NAME, 'checks', ['offer_id', 'slot'], unique=True,
                    postgresql_where=sa.text('slot IS NOT NULL'),
                    sqlite_where=sa.text('slot IS NOT NULL'))


def downgrade() -> None:
    op.drop_index(NAME, table_name='checks')
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_column('slot')
