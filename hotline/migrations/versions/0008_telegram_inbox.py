"""telegram_inbox: webhook updates stored before they are acknowledged

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'telegram_inbox',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('bot_id', sa.BigInteger(), nullable=False),
        sa.Column('update_id', sa.BigInteger(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.String(64), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('bot_id', 'update_id', name='uq_telegram_inbox_update'),
    )
    op.create_index('ix_telegram_inbox_pending', 'telegram_inbox', ['done_at', 'claimed_until'])


def downgrade() -> None:
    op.drop_index('ix_telegram_inbox_pending', 'telegram_inbox')
    op.drop_table('telegram_inbox')
