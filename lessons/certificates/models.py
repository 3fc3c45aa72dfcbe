"""Certificates: one per enrolment, with the names as they were when it was issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("course_enrolments.id", ondelete="CASCADE"), unique=True
    )
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    tutor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_name: Mapped[str] = mapped_column(String(120))
    course_title: Mapped[str] = mapped_column(String(140))
    tutor_name: Mapped[str] = mapped_column(String(120))
    issued_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # The signed Open Badges 3.0 credential, exactly as issued (JSON text).
    credential: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[int | None] = mapped_column(BigInteger)
    revoke_reason: Mapped[str] = mapped_column(Text, server_default="")
