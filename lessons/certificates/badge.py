"""The Open Badges 3.0 credential for a certificate (an OpenBadgeCredential, VC data model 2.0)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from lessons.certificates.signing import Signer

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
ISSUER_NAME = "Duet"


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def credential(
    signer: Signer,
    *,
    code: str,
    number: str,
    course_id: int,
    course_title: str,
    course_summary: str,
    tutor_name: str,
    student_name: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The signed credential. The subject is named (not e-mailed): the certificate is public."""
    base = signer.base_url
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "id": f"{base}/certificates/{code}/credential.json",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"{course_title} — certificate of completion",
        "issuer": {
            "id": signer.issuer_id,
            "type": ["Profile"],
            "name": ISSUER_NAME,
            "url": base + "/",
        },
        "validFrom": _iso(issued_at),
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "name": student_name,
            "achievement": {
                "id": f"{base}/courses/{course_id}",
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": course_title,
                "description": course_summary or f"Completed the Duet course “{course_title}”.",
                "criteria": {
                    "narrative": (
                        "Completed every required item of the course and passed its quizzes, "
                        f"taught by {tutor_name}."
                    )
                },
                "creator": {"id": signer.issuer_id, "type": ["Profile"], "name": tutor_name},
            },
        },
        "credentialStatus": {
            "id": f"{base}/api/v1/certificates/{code}",
            "type": "DuetCertificateStatus",
        },
        "evidence": [
            {
                "id": f"{base}/certificates/{code}",
                "type": ["Evidence"],
                "name": f"Certificate {number}",
                "narrative": "The public verification page shows whether it is valid or revoked.",
            }
        ],
    }
    return signer.sign(document, _iso(issued_at))
