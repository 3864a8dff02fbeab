"""What stored values are called in words people read: modes, job states, plans, event kinds.

Values are stored in English code words ("succeeded", "free", "login_failed"); pages show
``label(kind, value, lang)``. Each word is marked with N_ (extracted by ``make i18n``).
An unknown value is shown as it is stored rather than hidden.
"""

from __future__ import annotations

from core.i18n import N_, translate

LABELS: dict[str, dict[str, str]] = {
    "plan": {"free": N_("free"), "premium": N_("premium")},
    "role": {"user": N_("user"), "admin": N_("admin")},
    "language": {"en": N_("English"), "nl": N_("Dutch")},
    "mode": {"auto": N_("Automatic"), "inflate": N_("Inflate (one photo)"), "relief": N_("Relief plate"),
             "carve": N_("Carve (several views)")},
    # The kinds of job a worker takes (core.jobs.kinds.KINDS).
    "job_kind": {"inflate": N_("inflate"), "relief": N_("relief"), "carve": N_("carve"), "large": N_("large jobs")},
    "job_status": {"queued": N_("waiting"), "running": N_("in progress"), "succeeded": N_("ready"),
                   "failed": N_("failed"), "cancelled": N_("cancelled")},
    # The engine's progress stages (core.generation.engine.STAGES) and the runner's own.
    "stage": {"claimed": N_("Starting"), "started": N_("Starting"), "load": N_("Reading the images"),
              "loading": N_("Reading the images"), "mask": N_("Finding the object"),
              "solve": N_("Building the shape"), "shape": N_("Building the shape"), "mesh": N_("Building the mesh"),
              "texture": N_("Colouring"), "export": N_("Writing the files"), "thumbnails": N_("Drawing thumbnails"),
              "store": N_("Saving"), "storing": N_("Saving"), "done": N_("Done")},
    # Thumbnail views (core.generation.render.THUMBNAIL_VIEWS).
    "view": {"front": N_("Front"), "three_quarter": N_("Three-quarter"), "side": N_("Side"), "back": N_("Back"),
             "left": N_("Left"), "right": N_("Right"), "top": N_("Top"), "iso": N_("Three-quarter")},
    # Access log entries (core.accounts.access.record_access).
    "access": {"register": N_("account created"), "login": N_("logged in"), "login_failed": N_("failed login"),
               "logout": N_("logged out"), "reset_requested": N_("password reset requested"),
               "password_reset": N_("password reset"), "upload": N_("upload"),
               "password_changed": N_("password changed")},
    "access_reason": {"locked": N_("account locked"), "unknown_email": N_("unknown address"),
                      "wrong_password": N_("wrong password")},
    "support_topic": {"question": N_("Question"), "billing": N_("Billing"), "bug": N_("Something does not work"),
                      "privacy": N_("Privacy request")},
    "privacy_kind": {"access": N_("Access to my data"), "correction": N_("Correction"), "deletion": N_("Deletion"),
                     "objection": N_("Objection to processing"), "other": N_("Other")},
    "request_status": {"open": N_("open"), "pending": N_("waiting"), "processing": N_("in progress"),
                       "done": N_("done"), "expired": N_("expired"), "closed": N_("closed"),
                       "answered": N_("answered"), "declined": N_("declined"), "failed": N_("failed")},
    "outbox_status": {"pending": N_("waiting to be sent"), "sent": N_("sent"), "failed": N_("cannot be sent")},
    "mail_kind": {"password_reset": N_("password reset"), "email_change": N_("email change: confirmation"),
                  "email_changed": N_("email change: notice"), "export_ready": N_("data export ready"),
                  "policy_notice": N_("privacy policy notice"), "privacy_notice": N_("privacy request (to support)"),
                  "privacy_resolved": N_("privacy request answered"), "support_reply": N_("support reply"),
                  "support_ticket": N_("support ticket (to support)"), "payment_failed": N_("payment failed")},
    "period": {"24h": N_("24 hours"), "7d": N_("7 days"), "30d": N_("30 days")},
    "yes_no": {"yes": N_("yes"), "no": N_("no")},
    # How the object's mask was made (core.generation.images.MASK_METHODS).
    "mask_method": {"alpha": N_("the image's transparency"), "box": N_("your box"),
                    "learned": N_("the learned background remover"),
                    "learned_box": N_("the learned background remover, inside your box"),
                    "backdrop": N_("the plain backdrop"), "grabcut": N_("an automatic cut-out (GrabCut)")},
}


def label(kind: str, value: object, lang: str | None) -> str:
    """``value`` of ``kind`` in words, in ``lang``; unknown values as stored."""
    if value is None:
        return "—"
    key = str(getattr(value, "value", value))
    message = LABELS.get(kind, {}).get(key)
    return translate(message, lang) if message else key
