"""hot issues (hot_issues, hot_docs, hot_issue_events) and reply checks (reply_checks)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'hot_issues',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('group_key', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('topic', sa.String(40), nullable=True),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('merged_into_id', sa.Integer(), sa.ForeignKey('hot_issues.id'), nullable=True),
        sa.Column('supervise_deadline', sa.DateTime(timezone=True), nullable=True),
        sa.Column('supervise_note', sa.Text(), nullable=True),
        sa.Column('supervised_by', sa.String(100), nullable=True),
        sa.Column('supervised_at', sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint('group_key'),
    )
    op.create_index('ix_hot_issues_state', 'hot_issues', ['state'])
    op.create_table(
        'hot_docs',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id'), nullable=True),
        sa.Column('declined_id', sa.Integer(), sa.ForeignKey('kb_declined.id'), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('topic', sa.String(40), nullable=True),
        sa.Column('reporter', sa.String(120), nullable=False),
        sa.Column('district', sa.String(50), nullable=True),
        sa.Column('department_id', sa.Integer(), sa.ForeignKey('departments.id'), nullable=True),
        sa.Column('terms', sa.JSON(), nullable=False),
        sa.Column('group_key', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), sa.ForeignKey('hot_issues.id'), nullable=True),
        sa.Column('detached', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('ticket_id'),
        sa.UniqueConstraint('declined_id'),
    )
    op.create_index('ix_hot_docs_at', 'hot_docs', ['at'])
    op.create_index('ix_hot_docs_group_key', 'hot_docs', ['group_key'])
    op.create_index('ix_hot_docs_issue_id', 'hot_docs', ['issue_id'])
    op.create_table(
        'hot_issue_events',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('issue_id', sa.Integer(), sa.ForeignKey('hot_issues.id'), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(100), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('doc_id', sa.Integer(), sa.ForeignKey('hot_docs.id'), nullable=True),
        sa.Column('other_issue_id', sa.Integer(), sa.ForeignKey('hot_issues.id'), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
    )
    op.create_index('ix_hot_issue_events_issue_id', 'hot_issue_events', ['issue_id'])
    op.create_table(
        'reply_checks',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('ticket_id', sa.Integer(), sa.ForeignKey('tickets.id'), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), sa.ForeignKey('departments.id'), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(100), nullable=False),
        sa.Column('warnings', sa.JSON(), nullable=False),
        sa.Column('missing_terms', sa.JSON(), nullable=True),
        sa.Column('shown', sa.Boolean(), nullable=False),
        sa.UniqueConstraint('ticket_id', 'round', name='uq_reply_checks_round'),
    )
    op.create_index('ix_reply_checks_ticket_id', 'reply_checks', ['ticket_id'])
    op.create_index('ix_reply_checks_department_id', 'reply_checks', ['department_id'])


def downgrade() -> None:
    op.drop_index('ix_reply_checks_department_id', 'reply_checks')
    op.drop_index('ix_reply_checks_ticket_id', 'reply_checks')
    op.drop_table('reply_checks')
    op.drop_index('ix_hot_issue_events_issue_id', 'hot_issue_events')
    op.drop_table('hot_issue_events')
    op.drop_index('ix_hot_docs_issue_id', 'hot_docs')
    op.drop_index('ix_hot_docs_group_key', 'hot_docs')
    op.drop_index('ix_hot_docs_at', 'hot_docs')
    op.drop_table('hot_docs')
    op.drop_index('ix_hot_issues_state', 'hot_issues')
    op.drop_table('hot_issues')
