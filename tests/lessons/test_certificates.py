"""Certificates: verification page and JSON, revocation, the PDF, the signed badge, the key."""

from __future__ import annotations

import base64
import copy
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from litestar.testing import TestClient
from pypdf import PdfReader

from lessons.certificates import pdf
from lessons.certificates.signing import public_key_from_multikey, verify
from marketplace.app import create_app
from marketplace.settings import ConfigError, Settings
from tests.helpers import account
from tests.lessons.helpers import finish_course as _finish
from tests.lessons.helpers import published_course, user


def _certificate(client: TestClient[Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    _, tutor = user(client, "tutor")
    built = published_course(client, tutor)
    _, student = user(client, "student")
    client.post(f"/api/v1/courses/{built['course']['id']}/enrol", headers=student)
    _finish(client, student, built)
    code = client.get("/api/v1/me/courses", headers=student).json()[0]["certificate_code"]
    return code, tutor, student


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_verification_page_valid_revoked_unknown(client: TestClient[Any]) -> None:
    code, tutor, student = _certificate(client)
    valid = client.get(f"/certificates/{code}")
    assert valid.status_code == 200 and "Valid" in valid.text and "Student Number" in valid.text
    unknown = client.get("/certificates/NOSUCHCODE123")
    assert unknown.status_code == 404 and "Unknown" in unknown.text
    assert client.get("/api/v1/certificates/NOSUCHCODE123").json()["status"] == "unknown"
    assert client.get("/api/v1/certificates/<script>").json()["status"] == "unknown"
    # Only the course's tutor or an admin may revoke, with a reason.
    path = f"/api/v1/certificates/{code}/revoke"
    assert client.post(path, json={"reason": "I want to"}, headers=student).status_code == 403
    _, other_tutor = user(client, "tutor")
    assert client.post(path, json={"reason": "Not mine"}, headers=other_tutor).status_code == 403
    assert client.post(path, json={"reason": "no"}, headers=tutor).status_code == 422
    admin = account(client, "admin")
    r = client.post(path, json={"reason": "Quiz answers were shared"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    revoked = client.get(f"/certificates/{code}")
    assert "Revoked" in revoked.text and "Quiz answers were shared" in revoked.text
    status = client.get(f"/api/v1/certificates/{code}").json()
    assert status["status"] == "revoked" and status["revoke_reason"] == "Quiz answers were shared"
    pdf = client.get(f"/certificates/{code}/certificate.pdf")
    assert "REVOKED" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()


def test_pdf_has_the_facts_and_the_verification_link(client: TestClient[Any]) -> None:
    code, _, _ = _certificate(client)
    r = client.get(f"/certificates/{code}/certificate.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    number = client.get(f"/api/v1/certificates/{code}").json()["number"]
    for fact in (
        "Student Number",
        "Blues guitar in twelve bars",
        "taught by Ana Sousa",
        number,
        f"/certificates/{code}",
    ):
        assert fact in text, fact
    assert reader.pages[0].images, "the QR code image is missing"


def test_badge_verifies_with_the_published_key_and_fails_when_tampered(
    client: TestClient[Any],
) -> None:
    code, _, _ = _certificate(client)
    credential = client.get(f"/certificates/{code}/credential.json").json()
    assert credential["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json" in credential["@context"]
    assert credential["credentialSubject"]["achievement"]["name"] == "Blues guitar in twelve bars"
    proof = credential["proof"]
    assert proof["cryptosuite"] == "eddsa-jcs-2022" and proof["proofPurpose"] == "assertionMethod"
    # The key named by the proof, from the published issuer document…
    issuer = client.get("/.well-known/duet-issuer.json").json()
    method = next(m for m in issuer["verificationMethod"] if m["id"] == proof["verificationMethod"])
    key = public_key_from_multikey(method["publicKeyMultibase"])
    # …is the same key as in the JWKS.
    jwk = client.get("/.well-known/jwks.json").json()["keys"][0]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert proof["verificationMethod"].endswith("#" + jwk["kid"])
    assert Ed25519PublicKey.from_public_bytes(_b64(jwk["x"])).public_bytes_raw() == (
        key.public_bytes_raw()
    )
    assert verify(credential, key)
    for path, value in [
        (("credentialSubject", "name"), "Someone Else"),
        (("validFrom",), "2020-01-01T00:00:00Z"),
        (("proof", "created"), "2020-01-01T00:00:00Z"),
        (("credentialSubject", "achievement", "name"), "Another course"),
    ]:
        tampered = copy.deepcopy(credential)
        target = tampered
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        assert not verify(tampered, key), path
    broken = copy.deepcopy(credential)
    broken["proof"]["proofValue"] = "z" + "1" * 80
    assert not verify(broken, key)
    check = client.post("/api/v1/certificates/verify", json=credential).json()
    assert check == {"signature_valid": True, "status": "valid", "code": code}
    forged = copy.deepcopy(credential)
    forged["credentialSubject"]["name"] = "Mallory"
    assert (
        client.post("/api/v1/certificates/verify", json=forged).json()["signature_valid"] is False
    )


def test_signing_key_is_required_outside_the_embedded_default(tmp_path: Path) -> None:
    production = Settings.from_env(
        {"DATABASE_URL": "postgresql://duet@db/duet", "SECRET_KEY": "s" * 40}
    )
    with pytest.raises(ConfigError, match="CERTIFICATE_SIGNING_KEY"):
        production.with_embedded_secrets()
    embedded = Settings.from_env({"DUET_VAR_DIR": str(tmp_path)})
    first = embedded.with_embedded_secrets().courses.signing_key
    again = Settings.from_env({"DUET_VAR_DIR": str(tmp_path)}).with_embedded_secrets()
    assert first == again.courses.signing_key and len(_b64(first)) == 32
    assert (tmp_path / "certificate_signing_key").stat().st_mode & 0o777 == 0o600


def test_a_malformed_signing_key_stops_start_up(settings: Settings) -> None:
    bad = replace(settings, courses=replace(settings.courses, signing_key="too-short"))
    with pytest.raises(ConfigError, match="CERTIFICATE_SIGNING_KEY"):
        create_app(bad)


def test_certificate_json_lists_mine(client: TestClient[Any]) -> None:
    code, _, student = _certificate(client)
    notes = client.get("/api/v1/me/notifications", headers=student).json()
    assert any(n["link"] == f"/certificates/{code}" for n in notes["items"]), notes
    mine = client.get("/api/v1/me/certificates", headers=student).json()
    assert [c["code"] for c in mine] == [code]
    assert json.loads(json.dumps(mine))[0]["number"].startswith("DUET-")


def test_a_certificate_is_verified_by_its_printed_number_and_holder(
    client: TestClient[Any],
) -> None:
    code, _, _ = _certificate(client)
    facts = client.get(f"/api/v1/certificates/{code}").json()
    number, holder = facts["number"], facts["student_name"]  # e.g. "Student Number 7"
    form = client.get("/certificates/verify")
    assert form.status_code == 200 and 'name="number"' in form.text
    typed = " " + number.lower().replace("-", " – ", 1) + " "  # as someone might type it
    family = holder.rsplit(" ", 1)[-1]
    found = client.get(
        "/certificates/verify", params={"number": typed, "name": family}, follow_redirects=False
    )
    assert found.status_code == 303 and found.headers["location"] == f"/certificates/{code}"
    # A wrong name answers like an unknown number: sequential numbers must not list holders.
    wrong = client.get("/certificates/verify", params={"number": number, "name": "Smith"})
    assert wrong.status_code == 404 and "No Duet certificate has the number" in wrong.text
    assert holder not in wrong.text
    bad = client.get("/certificates/verify", params={"number": "12345", "name": ""})
    assert bad.status_code == 422
    assert "DUET-2026-000123" in bad.text and "the family name is enough" in bad.text

    api = "/api/v1/certificates/verify"
    ok = client.get(api, params={"number": number, "name": holder.upper()}).json()
    assert ok["status"] == "valid" and ok["code"] == code and ok["signature_valid"] is True
    assert client.get(api, params={"number": number, "name": "Smith"}).json() == {
        "code": "",
        "status": "unknown",
        "number": None,
        "student_name": None,
        "course_title": None,
        "tutor_name": None,
        "issued_at": None,
        "revoked_at": None,
        "revoke_reason": None,
        "signature_valid": None,
    }
    refused = client.get(api, params={"number": "DUET-1", "name": "x"})
    assert refused.status_code == 422 and refused.json()["fields"].keys() == {"number"}


def test_the_pdf_keeps_names_in_any_script() -> None:
    rendered = pdf.render(
        student_name="Zoë Łukasz 李雷 Ørjan",
        course_title="Фортепиано для начинающих — ピアノ入門",
        tutor_name="Κώστας Παπαδόπουλος",
        issued_at=datetime(2026, 12, 6, tzinfo=UTC),
        number="DUET-2026-000042",
        verify_url="https://duet.example/certificates/ABC123",
    )
    text = PdfReader(io.BytesIO(rendered)).pages[0].extract_text()
    for fact in (
        "Zoë Łukasz 李雷 Ørjan",
        "Фортепиано для начинающих — ピアノ入門",
        "taught by Κώστας Παπαδόπουλος",
    ):
        assert fact in text, fact


def test_the_pdf_keeps_emoji_beside_any_script() -> None:
    """Emoji come from the monochrome Symbola subset; every character survives extraction."""
    name = "Zoë 🎸 Łukasz 李雷"
    rendered = pdf.render(
        student_name=name,
        course_title="Blues 🎹 in twelve bars ♫ ✔",
        tutor_name="Ana 😀 Costa",
        issued_at=datetime(2026, 12, 6, tzinfo=UTC),
        number="DUET-2026-000043",
        verify_url="https://duet.example/certificates/ABC124",
    )
    reader = PdfReader(io.BytesIO(rendered))
    text = reader.pages[0].extract_text()
    for fact in (name, "Blues 🎹 in twelve bars ♫ ✔", "taught by Ana 😀 Costa"):
        assert fact in text, fact
    fonts = {
        str(font.get_object()["/BaseFont"])
        for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert any("Symbola" in font for font in fonts), fonts


def test_fallback_fonts_are_loaded_only_when_a_name_needs_them() -> None:
    assert pdf.fallbacks_for("Zoë Łukasz Ørjan") == []
    assert [name for name, _ in pdf.fallbacks_for("Zoë 🎸")] == ["Symbola"]
    assert [name for name, _ in pdf.fallbacks_for("李雷")] == ["DroidFallback"]
    assert [name for name, _ in pdf.fallbacks_for("🎸 李雷")] == ["Symbola", "DroidFallback"]
