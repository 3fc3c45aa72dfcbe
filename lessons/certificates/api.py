"""Certificates over HTTP: the public verification (page and JSON), the PDF, the signed
credential, the platform's published key, and revocation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from lessons._web import me, services_of, signer_of
from lessons.certificates import service
from lessons.certificates.badge import ISSUER_NAME
from lessons.certificates.models import Certificate
from lessons.certificates.signing import verify
from marketplace.errors import DomainError, FieldErrors, NotFound, ValidationFailed
from marketplace.web.access import Access, principal_of
from marketplace.web.forms import form_data, form_failure, redirect
from marketplace.web.templating import NOTICES, page

NOTICES.update({"certificate_revoked": "The certificate is revoked."})


class StatusOut(msgspec.Struct):
    code: str
    status: str  # valid, revoked or unknown
    number: str | None = None
    student_name: str | None = None
    course_title: str | None = None
    tutor_name: str | None = None
    issued_at: str | None = None
    revoked_at: str | None = None
    revoke_reason: str | None = None
    signature_valid: bool | None = None


class RevokeIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class CredentialCheckOut(msgspec.Struct):
    signature_valid: bool
    status: str
    code: str | None


def status_out(code: str, certificate: Certificate | None, signer: Any) -> StatusOut:
    if certificate is None:
        return StatusOut(code=code, status="unknown")
    return StatusOut(
        code=certificate.code,
        status=service.status_of(certificate),
        number=certificate.number,
        student_name=certificate.student_name,
        course_title=certificate.course_title,
        tutor_name=certificate.tutor_name,
        issued_at=certificate.issued_at.isoformat(),
        revoked_at=certificate.revoked_at.isoformat() if certificate.revoked_at else None,
        revoke_reason=certificate.revoke_reason or None,
        signature_valid=service.signature_ok(certificate, signer),
    )


class CertificateController(Controller):
    path = "/api/v1"
    tags = ["certificates"]

    @get("/certificates/{code:str}", access=Access.PUBLIC)
    async def status(self, request: Request[Any, Any, Any], code: FromPath[str]) -> StatusOut:
        """valid, revoked (with the reason) or unknown; 200 in every case."""
        services = services_of(request)
        async with services.sessions() as session:
            certificate = await service.by_code(session, code)
        return status_out(code, certificate, signer_of(services))

    @post("/certificates/{code:str}/revoke", access=Access.USER, status_code=200)
    async def revoke(
        self, request: Request[Any, Any, Any], code: FromPath[str], data: JSONBody[RevokeIn]
    ) -> StatusOut:
        """The course's tutor or an admin, with a reason."""
        services = services_of(request)
        async with services.transaction() as session:
            certificate = await service.revoke(
                session, code, me(request).id, me(request).is_admin, data.reason, datetime.now(UTC)
            )
        return status_out(code, certificate, signer_of(services))

    @get("/certificates/verify", access=Access.PUBLIC)
    async def verify_number(
        self,
        request: Request[Any, Any, Any],
        number: Annotated[str, QueryParameter(description="As printed: DUET-2026-000123")],
        name: Annotated[str, QueryParameter(description="The holder's name, or family name")],
    ) -> StatusOut:
        """Check a certificate by the number printed on it and its holder's name: valid,
        revoked or unknown (also for a wrong name); 200 in every case."""
        clean = _checked_number(number, name)
        services = services_of(request)
        async with services.sessions() as session:
            certificate = await service.by_number(session, clean, name)
        return status_out(certificate.code if certificate else "", certificate, signer_of(services))

    @post("/certificates/verify", access=Access.PUBLIC, status_code=200)
    async def check_credential(
        self, request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
    ) -> CredentialCheckOut:
        """Send a credential (the JSON document): is its proof ours and intact, and is the
        certificate still valid?"""
        services = services_of(request)
        signer = signer_of(services)
        valid = verify(data, signer.public_key)
        code = None
        status = "unknown"
        if valid:
            evidence = data.get("evidence") or [{}]
            url = str(evidence[0].get("id", "")) if isinstance(evidence, list) else ""
            code = url.rsplit("/", 1)[-1] or None
            async with services.sessions() as session:
                certificate = await service.by_code(session, code or "")
            status = service.status_of(certificate)
        return CredentialCheckOut(signature_valid=valid, status=status, code=code)

    @get("/me/certificates", access=Access.USER)
    async def mine(self, request: Request[Any, Any, Any]) -> list[StatusOut]:
        services = services_of(request)
        async with services.sessions() as session:
            rows = await service.of_student(session, me(request).id)
        return [status_out(c.code, c, signer_of(services)) for c in rows]


@get("/.well-known/jwks.json", access=Access.PUBLIC, include_in_schema=False, cache=3600)
async def jwks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The public key that signs certificate credentials, as a JWK set."""
    return signer_of(services_of(request)).jwks()


@get("/.well-known/duet-issuer.json", access=Access.PUBLIC, include_in_schema=False, cache=3600)
async def issuer(request: Request[Any, Any, Any]) -> Response[Any]:
    """The issuer profile with its verification method (the Multikey named in every proof)."""
    document = signer_of(services_of(request)).controller_document(ISSUER_NAME)
    return Response(document, media_type="application/ld+json")


def _checked_number(number: str, name: str) -> str:
    errors = FieldErrors()
    clean = service.clean_number(number)
    if clean is None:
        errors.add("number", "Enter the number printed on the certificate, e.g. DUET-2026-000123.")
    if not name.strip():
        errors.add("name", "Enter the name on the certificate (the family name is enough).")
    errors.raise_if_any()
    assert clean is not None
    return clean


@get("/certificates/verify", access=Access.PUBLIC, include_in_schema=False)
async def verify_by_number_page(request: Request[Any, Any, Any]) -> Any:
    """A form for the number printed on a certificate; a match opens its check page."""
    number = request.query_params.get("number", "")
    name = request.query_params.get("name", "")
    if not number and not name:
        return page(request, "lessons/certificate_verify.html", number="", name_value="", errors={})
    try:
        clean = _checked_number(number, name)
    except ValidationFailed as exc:
        return page(
            request,
            "lessons/certificate_verify.html",
            status_code=422,
            number=number,
            name_value=name,
            errors=exc.fields,
        )
    async with services_of(request).sessions() as session:
        certificate = await service.by_number(session, clean, name)
    if certificate is None:
        return page(
            request,
            "lessons/certificate_verify.html",
            status_code=404,
            number=clean,
            name_value=name,
            errors={},
            not_found=True,
        )
    return Redirect(f"/certificates/{certificate.code}", status_code=303)


@get("/certificates/{code:str}", access=Access.PUBLIC, include_in_schema=False)
async def verification_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Template:
    """Public: valid, revoked or unknown. The owner also gets the downloads; the course's tutor
    and admins a revoke form."""
    services = services_of(request)
    viewer = principal_of(request)
    async with services.sessions() as session:
        certificate = await service.by_code(session, code)
    status = service.status_of(certificate)
    may_revoke = bool(
        certificate
        and viewer
        and (viewer.is_admin or viewer.id == certificate.tutor_id)
        and not certificate.revoked_at
    )
    return page(
        request,
        "lessons/certificate.html",
        status_code=200 if certificate else 404,
        code=code,
        c=certificate,
        status=status,
        signature_ok=service.signature_ok(certificate, signer_of(services))
        if certificate
        else None,
        is_owner=bool(certificate and viewer and viewer.id == certificate.student_id),
        may_revoke=may_revoke,
    )


@get("/certificates/{code:str}/certificate.pdf", access=Access.PUBLIC, include_in_schema=False)
async def certificate_pdf(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[bytes]:
    """Public like the verification page it points to (it shows the same facts)."""
    services = services_of(request)
    async with services.sessions() as session:
        certificate = await service.by_code(session, code)
    if certificate is None:
        raise NotFound("No such certificate.", code="certificate_not_found")
    data = service.render_pdf(signer_of(services), certificate)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="duet-certificate-{certificate.number}.pdf"'
            )
        },
    )


@get("/certificates/{code:str}/credential.json", access=Access.PUBLIC, include_in_schema=False)
async def credential(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    """The signed Open Badges 3.0 credential, exactly as issued."""
    services = services_of(request)
    async with services.sessions() as session:
        certificate = await service.by_code(session, code)
    if certificate is None:
        raise NotFound("No such certificate.", code="certificate_not_found")
    return Response(
        certificate.credential.encode(),
        media_type="application/ld+json",
        headers={
            "Content-Disposition": f'attachment; filename="duet-badge-{certificate.number}.json"'
        },
    )


@post("/certificates/{code:str}/revoke", access=Access.USER, include_in_schema=False)
async def revoke_page(request: Request[Any, Any, Any], code: FromPath[str]) -> Any:
    form = await form_data(request)
    services = services_of(request)
    try:
        async with services.transaction() as session:
            await service.revoke(
                session,
                code,
                me(request).id,
                me(request).is_admin,
                form.get("reason", ""),
                datetime.now(UTC),
            )
    except DomainError as exc:
        failure = form_failure(exc, "reason")
        async with services.sessions() as session:
            certificate = await service.by_code(session, code)
        return page(
            request,
            "lessons/certificate.html",
            **failure,
            code=code,
            c=certificate,
            status=service.status_of(certificate),
            signature_ok=True,
            is_owner=False,
            may_revoke=True,
        )
    return redirect(f"/certificates/{code}", "certificate_revoked")


ROUTES = [
    CertificateController,
    jwks,
    issuer,
    verify_by_number_page,
    verification_page,
    certificate_pdf,
    credential,
    revoke_page,
]
