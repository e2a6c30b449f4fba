"""Console accounts (staff): argon2 password hashes, roles, departments.

Passwords are hashed with argon2id (argon2-cffi); a hash made with older parameters is
re-hashed on the next successful login. Usernames are case-insensitive ASCII handles;
display names are what the enterprise and colleagues see (Chinese is fine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline.models import Department, Staff, StaffRole

_HASHER = PasswordHasher()  # parameters only: hashing happens on use
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,49}$")
MIN_PASSWORD = 10


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so timing does not tell.
    Made on the first login, not at import (argon2 takes tens of milliseconds)."""
    return _HASHER.hash("not-a-real-password")


class StaffError(ValueError):
    """Bad account input; ``str(error)`` is a Chinese sentence for the admin."""


@dataclass(frozen=True)
class StaffView:
    id: int
    username: str
    display_name: str
    role: StaffRole
    department_id: int | None
    department: str | None
    active: bool
    last_login_at: datetime | None
    telegram_user_id: int | None = None


def view(staff: Staff) -> StaffView:
    return StaffView(staff.id, staff.username, staff.display_name, StaffRole(staff.role),
                     staff.department_id, staff.department.name if staff.department else None,
                     staff.active, staff.last_login_at, staff.telegram_user_id)


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"密码至少 {MIN_PASSWORD} 位。")
    if password.isdigit() or password.isalpha():
        raise StaffError("密码需同时包含字母和数字（或符号）。")
    if len(password) > 200:
        raise StaffError("密码过长（最多 200 位）。")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password(password))


def _clean_username(raw: str) -> str:
    username = (raw or "").strip().lower()
    if not USERNAME.match(username):
        raise StaffError("用户名需以字母开头，3–50 位，只含小写字母、数字和 _ . -")
    return username


def _clean_display(raw: str) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise StaffError("请填写姓名。")
    if len(name) > 50:
        raise StaffError("姓名最多 50 个字。")
    return name


def create_staff(
    session: Session, username: str, display_name: str, password: str, role: StaffRole | str,
    department_id: int | None = None,
) -> Staff:
    """Add an account (in the caller's transaction); department users need a department."""
    username = _clean_username(username)
    display_name = _clean_display(display_name)
    try:
        role = StaffRole(role)
    except ValueError:
        raise StaffError("未知的角色。") from None
    if role is StaffRole.DEPARTMENT:
        if department_id is None or session.get(Department, department_id) is None:
            raise StaffError("部门工作人员必须选择所属部门。")
    else:
        department_id = None
    if session.scalar(select(Staff.id).where(func.lower(Staff.username) == username)):
        raise StaffError(f"用户名 {username} 已被使用。")
    staff = Staff(username=username, display_name=display_name,
                  password_hash=hash_password(password), role=role.value,
                  department_id=department_id, active=True)
    session.add(staff)
    session.flush()
    return staff


def authenticate(session: Session, username: str, password: str,
                 now: datetime | None = None) -> Staff | None:
    """The active account with this username and password, else None (same time either way)."""
    staff = session.scalar(
        select(Staff).where(func.lower(Staff.username) == (username or "").strip().lower())
    )
    try:
        _HASHER.verify(staff.password_hash if staff else _dummy_hash(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if staff is None or not staff.active:
        return None
    if _HASHER.check_needs_rehash(staff.password_hash):
        staff.password_hash = _HASHER.hash(password)
    staff.last_login_at = now or datetime.now(timezone.utc)
    return staff


def set_password(session: Session, staff_id: int, password: str) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise StaffError("账号不存在。")
    staff.password_hash = hash_password(password)
    return staff


def set_active(session: Session, staff_id: int, active: bool) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise StaffError("账号不存在。")
    if not active and staff.role == StaffRole.ADMIN.value:
        admins = session.scalar(select(func.count()).select_from(Staff).where(
            Staff.role == StaffRole.ADMIN.value, Staff.active.is_(True)))
        if (admins or 0) <= 1:
            raise StaffError("不能停用最后一个管理员账号。")
    staff.active = active
    return staff


def all_staff(session: Session) -> list[Staff]:
    return list(session.scalars(select(Staff).order_by(Staff.role, Staff.username)))


CHAT_ROLES = (StaffRole.OPERATOR, StaffRole.SUPERVISOR, StaffRole.ADMIN)


def set_telegram(session: Session, staff_id: int, raw: str) -> Staff:
    """Link (or with an empty ``raw``, unlink) the account to a Telegram user id."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise StaffError("账号不存在。")
    raw = (raw or "").strip()
    if not raw:
        staff.telegram_user_id = None
        return staff
    if not raw.isdigit() or not 0 < int(raw) < 10**15:
        raise StaffError("Telegram 用户 ID 是一串数字：在值班群里发送 /whoami 即可看到。")
    if StaffRole(staff.role) not in CHAT_ROLES:
        raise StaffError("只有话务员、督办人员和管理员可以在值班群接待会话。")
    other = session.scalar(select(Staff).where(Staff.telegram_user_id == int(raw),
                                               Staff.id != staff_id))
    if other is not None:
        raise StaffError(f"该 Telegram 用户已绑定账号 {other.username}。")
    staff.telegram_user_id = int(raw)
    return staff


def staff_for_telegram(session: Session, telegram_user_id: int) -> Staff | None:
    """The active chat-handling account linked to this Telegram user, if any."""
    staff = session.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))
    if staff is None or not staff.active or StaffRole(staff.role) not in CHAT_ROLES:
        return None
    return staff
