"""transcript_messages.source_ref: a channel's own message id, so a replay records once

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transcript_messages') as batch:
        batch.add_column(sa.Column('source_ref', sa.String(60), nullable=True))
    op.create_index('ux_transcript_source', 'transcript_messages',
                    ['conversation_id', 'source_ref'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_transcript_source', 'transcript_messages')
    with op.batch_alter_table('transcript_messages') as batch:
        batch.drop_column('source_ref')
