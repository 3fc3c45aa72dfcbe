"""Domain errors: a machine-readable code, a human message, an HTTP status and field details.

Services raise these; ``marketplace.web.errors`` turns them into JSON for the API and into
pages for the browser.
"""

from __future__ import annotations

from collections.abc import Mapping

from marketplace.labels import correction_message


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields: dict[str, str] = dict(fields or {})


class BadRequest(DomainError):
    status_code = 400
    code = "bad_request"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(DomainError):
    status_code = 422
    code = "validation_failed"

    def __init__(self, fields: Mapping[str, str], message: str | None = None) -> None:
        # The headline names fields by their labels ("Amount"), never by identifiers.
        super().__init__(message or correction_message(dict(fields)), fields=fields)


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FieldErrors:
    """Collects per-field problems so a form reports all of them at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)
