"""Who a chat may act as (企业身份核验).

A 统一社会信用代码 is public, so typing one only *claims* an enterprise. A claim lets the chat
file tickets for the enterprise and follow the tickets it filed itself. Acting as the
enterprise — seeing its other tickets, rating them, using the contacts on file — needs the
chat to be *verified*: by a one-time code sent to a chat already verified for the
enterprise, or by staff in the console (after calling the contact on file). A chat never
overwrites the file: a differing name or contact becomes a proposed change for staff.
Every step is an :class:`EnterpriseEvent`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline import channels, outbox
from hotline.models import (
    ChannelIdentity,
    Enterprise,
    EnterpriseChange,
    EnterpriseEvent,
    IdentityChallenge,
    Ticket,
)

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 3
CODE_DIGITS = 6


@dataclass(frozen=True)
class Claim:
    """The enterprise a chat is linked to and whether the link is verified."""

    enterprise_id: int
    uscc: str
    name: str
    verified: bool
    verified_by: str | None


def _event(session: Session, enterprise_id: int, kind: str, actor: str, now: datetime,
           conversation_id: str | None = None, note: str | None = None) -> None:
    session.add(EnterpriseEvent(enterprise_id=enterprise_id, at=now, actor=actor, kind=kind,
                                conversation_id=conversation_id, note=note))


def _identity(session: Session, conversation_id: str) -> ChannelIdentity | None:
    return session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.conversation_id == conversation_id)
    )


def claim_of(session: Session, conversation_id: str) -> Claim | None:
    identity = _identity(session, conversation_id)
    if identity is None:
        return None
    enterprise = identity.enterprise
    return Claim(enterprise.id, enterprise.uscc, enterprise.name,
                 identity.verified_at is not None, identity.verified_by)


def verified_enterprise(session: Session, conversation_id: str) -> int | None:
    """The enterprise this chat may act as, or None (no link, or only a claim)."""
    return session.scalar(
        select(ChannelIdentity.enterprise_id).where(
            ChannelIdentity.conversation_id == conversation_id,
            ChannelIdentity.verified_at.is_not(None),
        )
    )


def claim(
    session: Session,
    conversation_id: str,
    *,
    uscc: str,
    name: str,
    contact_name: str | None,
    contact_phone: str | None,
    actor: str,
    now: datetime | None = None,
) -> Enterprise:
    """Link the chat to the enterprise with ``uscc`` (创建档案 when none is on file).

    An enterprise already on file keeps its data: what differs is proposed for staff. The
    link stays verified only if it was verified for this same enterprise.
    """
    now = now or datetime.now(timezone.utc)
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if enterprise is None:
        enterprise = Enterprise(uscc=uscc, name=name, contact_name=contact_name,
                                contact_phone=contact_phone, created_at=now)
        session.add(enterprise)
        session.flush()
        _event(session, enterprise.id, "created", actor, now, conversation_id,
               "由会话首次登记建档")
    else:
        propose_change(session, enterprise, conversation_id, name=name,
                       contact_name=contact_name, contact_phone=contact_phone, now=now)
    identity = _identity(session, conversation_id)
    if identity is None:
        session.add(ChannelIdentity(conversation_id=conversation_id, enterprise_id=enterprise.id,
                                    linked_at=now))
        _event(session, enterprise.id, "claimed", actor, now, conversation_id)
    elif identity.enterprise_id != enterprise.id:
        _event(session, enterprise.id, "claimed", actor, now, conversation_id,
               f"此前关联企业编号 {identity.enterprise_id}")
        identity.enterprise_id = enterprise.id
        identity.linked_at = now
        identity.verified_at = None
        identity.verified_by = None
    session.flush()
    return enterprise


def propose_change(
    session: Session, enterprise: Enterprise, conversation_id: str, *, name: str | None,
    contact_name: str | None, contact_phone: str | None, now: datetime,
) -> EnterpriseChange | None:
    """Record what the chat gave that differs from the file (None when nothing differs or
    the same change is already pending)."""
    differs = {
        "name": name if name and name != enterprise.name else None,
        "contact_name": contact_name if contact_name and contact_name != enterprise.contact_name
        else None,
        "contact_phone": contact_phone
        if contact_phone and contact_phone != enterprise.contact_phone else None,
    }
    if not any(differs.values()):
        return None
    pending = session.scalars(select(EnterpriseChange).where(
        EnterpriseChange.enterprise_id == enterprise.id,
        EnterpriseChange.conversation_id == conversation_id,
        EnterpriseChange.status == "pending",
    )).all()
    for change in pending:
        if (change.name, change.contact_name, change.contact_phone) == tuple(differs.values()):
            return None
    change = EnterpriseChange(enterprise_id=enterprise.id, conversation_id=conversation_id,
                              status="pending", proposed_at=now, **differs)
    session.add(change)
    _event(session, enterprise.id, "change_proposed", f"enterprise:{conversation_id}", now,
           conversation_id, "；".join(f"{k}={v}" for k, v in differs.items() if v))
    session.flush()
    return change


def pending_changes(session: Session, enterprise_id: int) -> list[EnterpriseChange]:
    return list(session.scalars(select(EnterpriseChange).where(
        EnterpriseChange.enterprise_id == enterprise_id, EnterpriseChange.status == "pending",
    ).order_by(EnterpriseChange.id)))


class IdentityError(Exception):
    """A refused staff action; the message is for the console user (Chinese)."""


def decide_change(session: Session, change_id: int, *, approve: bool, actor: str,
                  now: datetime | None = None) -> EnterpriseChange:
    now = now or datetime.now(timezone.utc)
    change = session.get(EnterpriseChange, change_id)
    if change is None or change.status != "pending":
        raise IdentityError("该变更不存在或已处理。")
    change.status = "approved" if approve else "rejected"
    change.decided_by, change.decided_at = actor, now
    if approve:
        enterprise = change.enterprise
        enterprise.name = change.name or enterprise.name
        enterprise.contact_name = change.contact_name or enterprise.contact_name
        enterprise.contact_phone = change.contact_phone or enterprise.contact_phone
    _event(session, change.enterprise_id, "change_approved" if approve else "change_rejected",
           actor, now, change.conversation_id, f"变更 #{change.id}")
    session.flush()
    return change


def staff_verify(session: Session, conversation_id: str, *, actor: str,
                 now: datetime | None = None, note: str | None = None) -> Claim:
    """Staff confirmed (e.g. by calling the contact on file) that this chat is the enterprise."""
    now = now or datetime.now(timezone.utc)
    identity = _identity(session, conversation_id)
    if identity is None:
        raise IdentityError("该会话尚未关联企业，无法核验。")
    identity.verified_at, identity.verified_by = now, actor
    _event(session, identity.enterprise_id, "verified", actor, now, conversation_id,
           note or "工作人员核实身份")
    session.flush()
    claim_ = claim_of(session, conversation_id)
    assert claim_ is not None
    return claim_


def revoke(session: Session, conversation_id: str, *, actor: str,
           now: datetime | None = None) -> None:
    now = now or datetime.now(timezone.utc)
    identity = _identity(session, conversation_id)
    if identity is None or identity.verified_at is None:
        raise IdentityError("该会话没有已核验的企业身份。")
    identity.verified_at, identity.verified_by = None, None
    _event(session, identity.enterprise_id, "revoked", actor, now, conversation_id)
    session.flush()


def verified_conversations(session: Session, enterprise_id: int) -> list[str]:
    return list(session.scalars(select(ChannelIdentity.conversation_id).where(
        ChannelIdentity.enterprise_id == enterprise_id,
        ChannelIdentity.verified_at.is_not(None),
    ).order_by(ChannelIdentity.id)))


# --- one-time codes ---------------------------------------------------------------------


class ChallengeResult(str, Enum):
    SENT = "sent"
    NO_CLAIM = "no_claim"  # the chat has not named an enterprise yet
    ALREADY_VERIFIED = "already_verified"
    NO_CHANNEL = "no_channel"  # no verified chat to send the code to: staff must verify
    TOO_MANY = "too_many"


class CodeResult(str, Enum):
    VERIFIED = "verified"
    WRONG = "wrong"
    EXPIRED = "expired"  # also: too many wrong tries
    NONE = "none"  # no code pending for this chat


def _hash(code: str, salt: str) -> str:
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


def start_challenge(session: Session, conversation_id: str, *,
                    now: datetime | None = None) -> tuple[ChallengeResult, int]:
    """Send a code to the enterprise's verified chats; ``(result, how many chats)``."""
    now = now or datetime.now(timezone.utc)
    identity = _identity(session, conversation_id)
    if identity is None:
        return ChallengeResult.NO_CLAIM, 0
    if identity.verified_at is not None:
        return ChallengeResult.ALREADY_VERIFIED, 0
    targets = [c for c in verified_conversations(session, identity.enterprise_id)
               if c != conversation_id and outbox.channel_of(c)]
    if not targets:
        return ChallengeResult.NO_CHANNEL, 0
    recent = session.scalar(select(func.count(IdentityChallenge.id)).where(
        IdentityChallenge.conversation_id == conversation_id,
        IdentityChallenge.created_at > now - timedelta(hours=1),
    )) or 0
    if recent >= MAX_CODES_PER_HOUR:
        return ChallengeResult.TOO_MANY, 0
    for old in session.scalars(select(IdentityChallenge).where(
            IdentityChallenge.conversation_id == conversation_id,
            IdentityChallenge.used_at.is_(None))):
        old.used_at = now  # a new code voids the previous one
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    session.add(IdentityChallenge(
        conversation_id=conversation_id, enterprise_id=identity.enterprise_id,
        code_hash=_hash(code, salt), salt=salt, created_at=now, expires_at=now + CODE_TTL,
        attempts=0,
    ))
    name = identity.enterprise.name
    text = (f"【企业身份验证】有一个{channels.channel_zh(conversation_id)}会话申请以“{name}”的身份办理业务"
            f"（查看、评价本企业诉求）。验证码：{code}，{int(CODE_TTL.total_seconds() // 60)}分钟内有效。"
            "如是本企业同事申请，请把验证码告诉对方；如非本企业人员，请勿告知任何人，"
            "并发送“转人工”向我们反映。")
    for target in targets:
        outbox.enqueue(session, target, "identity.code", text, now=now)
    _event(session, identity.enterprise_id, "code_sent", f"enterprise:{conversation_id}", now,
           conversation_id, f"发往 {len(targets)} 个已核验会话")
    session.flush()
    return ChallengeResult.SENT, len(targets)


def pending_challenge(session: Session, conversation_id: str,
                      now: datetime | None = None) -> IdentityChallenge | None:
    now = now or datetime.now(timezone.utc)
    return session.scalar(select(IdentityChallenge).where(
        IdentityChallenge.conversation_id == conversation_id,
        IdentityChallenge.used_at.is_(None),
        IdentityChallenge.expires_at > now,
    ).order_by(IdentityChallenge.id.desc()))


def check_code(session: Session, conversation_id: str, code: str, *,
               now: datetime | None = None) -> tuple[CodeResult, int]:
    """``(result, tries left)``; a right code verifies the chat for the enterprise."""
    now = now or datetime.now(timezone.utc)
    challenge = pending_challenge(session, conversation_id, now)
    if challenge is None:
        return CodeResult.NONE, 0
    challenge.attempts += 1
    if hmac.compare_digest(challenge.code_hash, _hash(code.strip(), challenge.salt)):
        challenge.used_at = now
        identity = _identity(session, conversation_id)
        if identity is None or identity.enterprise_id != challenge.enterprise_id:
            return CodeResult.EXPIRED, 0  # the chat claimed another enterprise meanwhile
        identity.verified_at, identity.verified_by = now, "otp"
        _event(session, identity.enterprise_id, "verified", f"enterprise:{conversation_id}",
               now, conversation_id, "验证码核验")
        session.flush()
        return CodeResult.VERIFIED, 0
    left = MAX_ATTEMPTS - challenge.attempts
    _event(session, challenge.enterprise_id, "code_wrong", f"enterprise:{conversation_id}", now,
           conversation_id, f"剩余 {max(left, 0)} 次")
    if left <= 0:
        challenge.used_at = now
        session.flush()
        return CodeResult.EXPIRED, 0
    session.flush()
    return CodeResult.WRONG, left


def events_of(session: Session, enterprise_id: int, limit: int = 50) -> list[EnterpriseEvent]:
    return list(session.scalars(select(EnterpriseEvent).where(
        EnterpriseEvent.enterprise_id == enterprise_id,
    ).order_by(EnterpriseEvent.id.desc()).limit(limit)))


def last_contact_of(session: Session, conversation_id: str) -> tuple[str | None, str | None]:
    """The contact this chat gave on its latest ticket (what an unverified chat may reuse)."""
    row = session.execute(select(Ticket.contact_name, Ticket.contact_phone).where(
        Ticket.conversation_id == conversation_id,
    ).order_by(Ticket.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (None, None)
