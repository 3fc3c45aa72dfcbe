"""Issuing, finding, revoking and verifying certificates."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lessons.certificates import badge, pdf
from lessons.certificates.models import Certificate
from lessons.certificates.signing import Signer, verify
from lessons.courses.models import Course, Enrolment
from lessons.courses.service import tutor_name
from marketplace.accounts.models import User
from marketplace.audit import service as audit
from marketplace.errors import Forbidden, NotFound, ValidationFailed
from marketplace.notifications import service as notifications
from marketplace.uow import emit
from marketplace.vocab import normalize_key

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud


@dataclass(frozen=True)
class CertificateIssued:
    """A student earned a certificate (notifications may subscribe)."""

    certificate_id: int
    student_id: int
    course_id: int


def new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))


async def issue(
    session: AsyncSession, signer: Signer, course: Course, enrolment: Enrolment, now: datetime
) -> Certificate:
    """The enrolment's certificate, issued once (a second call returns the first)."""
    existing = await session.scalar(
        select(Certificate).where(Certificate.enrolment_id == enrolment.id)
    )
    if existing is not None:
        return existing
    student = await session.get(User, enrolment.student_id)
    assert student is not None
    tutor = await tutor_name(session, course.tutor_id)
    serial = await session.scalar(text("SELECT nextval('certificate_numbers')"))
    number = f"DUET-{now.year}-{serial:06d}"
    code = new_code()
    credential = badge.credential(
        signer,
        code=code,
        number=number,
        course_id=course.id,
        course_title=course.title,
        course_summary=course.summary,
        tutor_name=tutor,
        student_name=student.full_name,
        issued_at=now,
    )
    certificate = Certificate(
        code=code,
        number=number,
        enrolment_id=enrolment.id,
        course_id=course.id,
        student_id=student.id,
        tutor_id=course.tutor_id,
        student_name=student.full_name,
        course_title=course.title,
        tutor_name=tutor,
        issued_at=now,
        credential=json.dumps(credential, ensure_ascii=False),
        key_id=signer.key_id,
    )
    session.add(certificate)
    await session.flush()
    await notifications.notify(
        session,
        student.id,
        kind="certificate_issued",
        title=f"You completed “{course.title}”",
        body=f"Your certificate {number} is ready to download and share.",
        link=f"/certificates/{code}",
    )
    emit(session, CertificateIssued(certificate.id, student.id, course.id))
    return certificate


async def by_code(session: AsyncSession, code: str) -> Certificate | None:
    if not code.isalnum() or len(code) > 32:
        return None
    return await session.scalar(select(Certificate).where(Certificate.code == code.upper()))


NUMBER_PATTERN = re.compile(r"DUET-\d{4}-\d{6}")


def clean_number(raw: str) -> str | None:
    """The number as printed ("DUET-2026-000123"), forgiving case, spaces and dash styles."""
    text = re.sub(r"[\s\u2010-\u2015]+", "-", raw.strip().upper()).strip("-")
    text = re.sub(r"-+", "-", text)
    return text if NUMBER_PATTERN.fullmatch(text) else None


def _name_matches(given: str, holder: str) -> bool:
    """The whole name as printed, or the family name (the last word), ignoring case/accents."""
    wanted = normalize_key(given)
    full = normalize_key(holder)
    return bool(wanted) and (wanted == full or wanted == full.rsplit(" ", 1)[-1])


async def by_number(session: AsyncSession, number: str, holder_name: str) -> Certificate | None:
    """The certificate with this number *and* this holder. Numbers are sequential, so the
    name is asked too: guessing numbers must not list who earned what. A wrong name answers
    like an unknown number."""
    certificate = await session.scalar(select(Certificate).where(Certificate.number == number))
    if certificate is None or not _name_matches(holder_name, certificate.student_name):
        return None
    return certificate


async def for_owner(session: AsyncSession, code: str, user_id: int, is_admin: bool) -> Certificate:
    """The certificate for its student, the course's tutor or an admin; 404 for others."""
    certificate = await by_code(session, code)
    if certificate is None or not (
        is_admin or user_id in (certificate.student_id, certificate.tutor_id)
    ):
        raise NotFound("No such certificate.", code="certificate_not_found")
    return certificate


async def revoke(
    session: AsyncSession, code: str, user_id: int, is_admin: bool, reason: str, now: datetime
) -> Certificate:
    certificate = await by_code(session, code)
    if certificate is None:
        raise NotFound("No such certificate.", code="certificate_not_found")
    if not (is_admin or user_id == certificate.tutor_id):
        raise Forbidden(
            "Only the course's tutor or an admin can revoke a certificate.", code="not_issuer"
        )
    reason = reason.strip()
    if not 5 <= len(reason) <= 1000:
        raise ValidationFailed({"reason": "Say why it is revoked (5 to 1000 characters)."})
    locked = await session.get(Certificate, certificate.id, with_for_update=True)
    assert locked is not None
    if locked.revoked_at is None:
        locked.revoked_at = now
        locked.revoked_by = user_id
        locked.revoke_reason = reason
        await audit.record(
            session,
            action="certificate.revoke",
            actor_role="tutor" if user_id == certificate.tutor_id else "admin",
            actor_id=user_id,
            subject_kind="certificate",
            subject_id=certificate.code,
            reason=reason,
        )
    return locked


async def of_student(session: AsyncSession, student_id: int) -> list[Certificate]:
    return list(
        await session.scalars(
            select(Certificate)
            .where(Certificate.student_id == student_id)
            .order_by(Certificate.issued_at.desc())
        )
    )


def credential_of(certificate: Certificate) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(certificate.credential)
    return loaded


def status_of(certificate: Certificate | None) -> str:
    if certificate is None:
        return "unknown"
    return "revoked" if certificate.revoked_at else "valid"


def signature_ok(certificate: Certificate, signer: Signer) -> bool:
    return verify(credential_of(certificate), signer.public_key)


def verify_url(signer: Signer, certificate: Certificate) -> str:
    return f"{signer.base_url}/certificates/{certificate.code}"


def render_pdf(signer: Signer, certificate: Certificate) -> bytes:
    return pdf.render(
        student_name=certificate.student_name,
        course_title=certificate.course_title,
        tutor_name=certificate.tutor_name,
        issued_at=certificate.issued_at,
        number=certificate.number,
        verify_url=verify_url(signer, certificate),
        revoked=certificate.revoked_at is not None,
    )
