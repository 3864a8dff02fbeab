"""The API's own refusals, and how every VormError becomes an RFC 9457 problem.

    VormError
    ├── AuthError
    │   └── ApiKeyInvalid          401: missing, unknown or revoked key
    ├── PermissionDenied
    │   └── ApiNotInPlan           403: the plan has no API access
    ├── QuotaExceeded
    │   └── RateLimited            429: too many requests for this key
    └── ValidationError
        ├── IdempotencyKeyReused   422: same Idempotency-Key, another body
        └── RequestTooLarge        413: more bytes than any plan accepts
"""

from __future__ import annotations

from core.errors import AuthError, NotFound, PermissionDenied, QuotaExceeded, TransientError, ValidationError, VormError


class ApiKeyInvalid(AuthError):
    """A valid API key is required: send it as "Authorization: Bearer vorm_...". Keys are made on the Account page."""

    code = "api_key_invalid"


class ApiNotInPlan(PermissionDenied):
    """Your plan does not include API access."""

    code = "api_not_in_plan"


class RateLimited(QuotaExceeded):
    """Too many requests for this API key: at most {limit} a minute. Try again in {retry_after} seconds."""

    code = "rate_limited"


class IdempotencyKeyReused(ValidationError):
    """This Idempotency-Key was already used with a different request. Use a new key for a new request."""

    code = "idempotency_key_reused"


class RequestTooLarge(ValidationError):
    """The request is too large."""

    code = "request_too_large"


class JobNotCancelable(ValidationError):
    """This job has already ended ({status}); only a queued or running job can be canceled."""

    code = "job_not_cancelable"


class RouteNotFound(NotFound):
    """There is no such API endpoint. See /api/v1/docs for the ones there are."""

    code = "no_such_endpoint"


class MethodNotAllowed(ValidationError):
    """This endpoint does not take that HTTP method."""

    code = "method_not_allowed"


class InvalidRequest(ValidationError):
    """The request is not valid: {detail}"""

    code = "invalid_request"


class ApiUnavailable(TransientError):
    """The service is temporarily unavailable. Please try again in a minute."""

    code = "unavailable"


class InternalError(VormError):
    """Something went wrong on our side. It has been logged; please try again."""

    code = "internal_error"


def status_for(exc: VormError) -> int:
    """The HTTP status of an error: by its code first (uploads), then by its family."""
    by_code = {"upload_too_large": 413, "request_too_large": 413, "image_too_large": 413,
               "unsupported_image_type": 415,
               "corrupt_image": 415, "method_not_allowed": 405,
               "idempotency_in_progress": 409}
    if exc.code in by_code:
        return by_code[exc.code]
    for cls, status in ((AuthError, 401), (NotFound, 404), (PermissionDenied, 403), (QuotaExceeded, 429),
                        (ValidationError, 422), (TransientError, 503)):
        if isinstance(exc, cls):
            return status
    return 500
