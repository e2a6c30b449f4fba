"""Database tables (SQLAlchemy 2 declarative, typed). Schema changes go through Alembic.

One module per part of the product; every name is importable from ``hotline.models`` (the
Alembic environment and most modules import it from here), and importing this package
registers every table on :data:`Base.metadata`.
"""

from hotline.models.base import Base, UTCDateTime, utcnow
from hotline.models.enterprises import (
    ChannelIdentity,
    Enterprise,
    EnterpriseChange,
    EnterpriseEvent,
    IdentityChallenge,
)
from hotline.models.hot import HotDoc, HotIssue, HotIssueEvent, HotIssueState
from hotline.models.kb import KbDeclined, KbFeedback
from hotline.models.messages import (
    Attachment,
    NotificationOutbox,
    OutboxStatus,
    ServiceRating,
    TelegramInbox,
    TranscriptMessage,
)
from hotline.models.staff import Staff, StaffRole
from hotline.models.tickets import (
    OPEN_STATUSES,
    RATING_CODES,
    RATING_ZH,
    STATUS_ZH,
    Department,
    Rating,
    RatingLevel,
    ReplyCheck,
    Ticket,
    TicketEvent,
    TicketSequence,
    TicketStatus,
)

__all__ = [
    "OPEN_STATUSES",
    "RATING_CODES",
    "RATING_ZH",
    "STATUS_ZH",
    "Attachment",
    "Base",
    "ChannelIdentity",
    "Department",
    "Enterprise",
    "EnterpriseChange",
    "EnterpriseEvent",
    "HotDoc",
    "HotIssue",
    "HotIssueEvent",
    "HotIssueState",
    "IdentityChallenge",
    "KbDeclined",
    "KbFeedback",
    "NotificationOutbox",
    "OutboxStatus",
    "Rating",
    "RatingLevel",
    "ReplyCheck",
    "ServiceRating",
    "Staff",
    "StaffRole",
    "TelegramInbox",
    "Ticket",
    "TicketEvent",
    "TicketSequence",
    "TicketStatus",
    "TranscriptMessage",
    "UTCDateTime",
    "utcnow",
]
