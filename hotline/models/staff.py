"""Console accounts and their roles."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.models.base import Base, utcnow
from hotline.models.tickets import Department


class StaffRole(str, enum.Enum):
    OPERATOR = "operator"  # 话务员: takes escalated chats
    DEPARTMENT = "department"  # 承办部门工作人员: its department's tickets only
    SUPERVISOR = "supervisor"  # 督办: everything, read and figures
    ADMIN = "admin"  # 管理员: accounts

    @property
    def zh(self) -> str:
        return {"operator": "话务员", "department": "部门工作人员", "supervisor": "督办人员",
                "admin": "管理员"}[self.value]


class Staff(Base):
    """A console account; the password is an argon2 hash (never the password)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # Links the account to a member of the Telegram operator group (acts there as this staff).
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)

    department: Mapped[Department | None] = relationship()
