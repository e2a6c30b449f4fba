"""enterprise identity: verified chat links, audit events, proposed changes, one-time codes

A chat that types a public 统一社会信用代码 only claims the enterprise; acting as it needs
verification.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild): SQLite would refuse to drop a referenced table.
    op.add_column('channel_identities',
                  sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('channel_identities', sa.Column('verified_by', sa.String(100), nullable=True))
    op.add_column('tickets', sa.Column('applicant_verified', sa.Boolean(), nullable=False,
                                       server_default=sa.false()))
    op.create_table(
        'enterprise_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('enterprise_id', sa.Integer(), sa.ForeignKey('enterprises.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(100), nullable=False),
        sa.Column('kind', sa.String(30), nullable=False),
        sa.Column('conversation_id', sa.String(100), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
    )
    op.create_index('ix_enterprise_events_enterprise_id', 'enterprise_events', ['enterprise_id'])
    op.create_table(
        'enterprise_changes',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('enterprise_id', sa.Integer(), sa.ForeignKey('enterprises.id'), nullable=False),
        sa.Column('conversation_id', sa.String(100), nullable=False),
        sa.Column('name', sa.String(200), nullable=True),
        sa.Column('contact_name', sa.String(50), nullable=True),
        sa.Column('contact_phone', sa.String(30), nullable=True),
        sa.Column('status', sa.String(12), nullable=False),
        sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_by', sa.String(100), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_enterprise_changes_enterprise_id', 'enterprise_changes', ['enterprise_id'])
    op.create_table(
        'identity_challenges',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('conversation_id', sa.String(100), nullable=False),
        sa.Column('enterprise_id', sa.Integer(), sa.ForeignKey('enterprises.id'), nullable=False),
        sa.Column('code_hash', sa.String(64), nullable=False),
        sa.Column('salt', sa.String(32), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_identity_challenges_conversation_id', 'identity_challenges',
                    ['conversation_id'])


def downgrade() -> None:
    op.drop_table('identity_challenges')
    op.drop_table('enterprise_changes')
    op.drop_table('enterprise_events')
    with op.batch_alter_table('tickets') as batch_op:
        batch_op.drop_column('applicant_verified')
    with op.batch_alter_table('channel_identities') as batch_op:
        batch_op.drop_column('verified_by')
        batch_op.drop_column('verified_at')
