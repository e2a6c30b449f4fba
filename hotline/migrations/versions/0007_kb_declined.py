"""kb_declined: policy questions the knowledge base declined to answer

Staff see them, grouped with counts, on the console's knowledge-base page.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'kb_declined',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('normalized', sa.String(200), nullable=False),
        sa.Column('topic', sa.String(40), nullable=True),
        sa.Column('reason', sa.String(60), nullable=False),
        sa.Column('best_entry_id', sa.String(100), nullable=True),
        sa.Column('missing', sa.String(200), nullable=True),
        sa.Column('conversation_id', sa.String(100), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_kb_declined_normalized', 'kb_declined', ['normalized'])
    op.create_index('ix_kb_declined_at', 'kb_declined', ['at'])


def downgrade() -> None:
    op.drop_index('ix_kb_declined_at', 'kb_declined')
    op.drop_index('ix_kb_declined_normalized', 'kb_declined')
    op.drop_table('kb_declined')
