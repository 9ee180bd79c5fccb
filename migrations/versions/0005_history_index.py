"""history index: the web UI's per-offer price look-ups

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01 10:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ix_checks_history'


def upgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.create_index(NAME, ['offer_id', 'outcome', 'currency', 'price', 'observed_at', 'in_stock'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('checks', schema=None) as batch_op:
        batch_op.drop_index(NAME)
