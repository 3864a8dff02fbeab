"""User-facing errors.

Every failure a user or operator can cause is a subclass of :class:`VormError`
whose docstring is its default message. Pages catch ``VormError`` and show
``str(err)``; the worker records ``err.code`` and ``str(err)`` on the job.

What a person can do about a refusal can depend on where they are: the upload page has a
box to drag, the engine's CLI a ``--box`` option, the API a field. Such a message names
the remedy by a field (``{box_remedy}``); each interface passes its own wording to
``render`` or ``render_code`` (``remedies=``), and ``REMEDIES`` is the wording that names
no interface (an operator's log, a stored job message).

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

import inspect
from collections.abc import Mapping

from core.i18n import N_, fill

#: The remedies a message may name by a field, in words that name no interface.
REMEDIES: dict[str, str] = {
    "box_remedy": N_("Mark the object with a box"),
}


def _remedies(lang: str | None, remedies: Mapping[str, str] | None) -> dict[str, str]:
    from core.i18n import translate

    return {name: translate(text, lang) for name, text in {**REMEDIES, **(remedies or {})}.items()}


class VormError(Exception):
    """Something went wrong."""

    #: A short machine-readable reason, recorded in jobs, audit and logs.
    code = "error"

    def __init__(self, message: str | None = None, **context: object) -> None:
        # The template is English and a gettext msgid: the class docstring, or a message marked
        # with N_() where it is raised. Its {fields} come from ``context``, so the same error can
        # be shown later, in another language (``render``), from its code and context alone.
        self.template = message if message is not None else self.default_template()
        self.context = context
        super().__init__(fill(self.template, {**REMEDIES, **context}))

    @classmethod
    def default_template(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @property
    def message(self) -> str:
        return str(self)

    def render(self, lang: str | None, *, remedies: Mapping[str, str] | None = None) -> str:
        """The message in ``lang`` (``en`` or ``nl``), with the interface's ``remedies`` (msgids by field)."""
        from core.i18n import translate

        return translate(self.template, lang, **{**_remedies(lang, remedies), **self.context})


def error_class(code: str | None) -> type[VormError] | None:
    """The error class with this code (the most general one when several share it)."""
    if not code:
        return None
    todo: list[type[VormError]] = [VormError]
    while todo:
        cls = todo.pop(0)  # breadth first: a base class wins over its subclasses
        if cls.__dict__.get("code") == code:
            return cls
        todo.extend(cls.__subclasses__())
    return None


def render_code(code: str | None, params: dict[str, object] | None, lang: str | None, *,
                default: type[VormError] | None = None, remedies: Mapping[str, str] | None = None) -> str | None:
    """A stored failure (code and parameters) as a message in ``lang``; None for an unknown code."""
    from core.i18n import translate

    fields = dict(params or {})
    # An error raised with its own message (a marked N_ template) keeps it in the parameters.
    template = fields.pop(TEMPLATE_PARAM, None)
    cls = error_class(code) or default
    if cls is None and template is None:
        return None
    return translate(str(template) if template else cls.default_template(), lang,  # type: ignore[union-attr]
                     **{**_remedies(lang, remedies), **fields})


def stored_params(exc: VormError) -> dict[str, object]:
    """What ``render_code`` needs to show ``exc`` again later: its fields, and its message when not the default."""
    params: dict[str, object] = {k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
                                 for k, v in exc.context.items()}
    if exc.template != exc.default_template():
        params[TEMPLATE_PARAM] = exc.template
    return params


TEMPLATE_PARAM = "_template"


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


class LoginRefused(WrongCredentials):
    """The email address or password is wrong. After several failed attempts, logging in is blocked for a while."""

    # One message for an unknown address, a wrong password and a locked account, so that the login
    # form does not tell which accounts exist; the access log records which it was.
    code = "login_refused"


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
