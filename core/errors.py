"""User-facing errors.

Every failure a user or operator can cause is a subclass of :class:`VormError`
whose docstring is its default message. Pages catch ``VormError`` and show
``str(err)``; the worker records ``err.code`` and ``str(err)`` on the job.

    VormError
    ├── ValidationError          bad input from a person (form, CLI, upload)
    │   ├── InvalidEmail
    │   ├── WeakPassword
    │   ├── DuplicateEmail
    │   └── ...                  (engine input errors live in core.generation.errors)
    ├── AuthError                login, lockout, sessions
    ├── NotFound                 a row or object the caller may not see
    ├── QuotaExceeded            tier limits
    ├── TransientError           worth retrying: storage hiccup, database restart
    └── ConfigError              settings that cannot work
"""

from __future__ import annotations


class VormError(Exception):
    """Something went wrong."""

    #: A short machine-readable reason, recorded in jobs, audit and logs.
    code = "error"

    def __init__(self, message: str | None = None, **context: object) -> None:
        self.context = context
        doc = (type(self).__doc__ or "").strip()
        text = message if message is not None else doc
        if context and message is None:
            try:
                text = doc.format(**context)
            except (KeyError, IndexError, ValueError):
                text = doc
        super().__init__(text)

    @property
    def message(self) -> str:
        return str(self)


class ValidationError(VormError):
    """The input is not valid."""

    code = "invalid_input"


class InvalidEmail(ValidationError):
    """That does not look like an email address."""

    code = "invalid_email"


class WeakPassword(ValidationError):
    """The password is too weak: use at least 10 characters with letters and digits."""

    code = "weak_password"


class DuplicateEmail(ValidationError):
    """An account with this email address already exists."""

    code = "duplicate_email"


class AuthError(VormError):
    """Authentication failed."""

    code = "auth_failed"


class WrongCredentials(AuthError):
    """The email address or password is wrong."""

    code = "wrong_credentials"


class AccountLocked(AuthError):
    """Too many failed logins: this account is locked for a while. Try again later."""

    code = "account_locked"


class SessionInvalid(AuthError):
    """Your session has ended. Please log in again."""

    code = "session_invalid"


class TokenInvalid(AuthError):
    """This link is invalid or has expired."""

    code = "token_invalid"


class PermissionDenied(VormError):
    """You are not allowed to do that."""

    code = "forbidden"


class NotFound(VormError):
    """Not found."""

    code = "not_found"


class QuotaExceeded(VormError):
    """You have reached a limit of your plan."""

    code = "quota_exceeded"


class TransientError(VormError):
    """A temporary problem occurred. It will be retried."""

    code = "transient"


class ConfigError(VormError):
    """The configuration is not valid."""

    code = "config"
