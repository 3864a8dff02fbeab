"""Who processes personal data for us on this installation (policy clause 4), read from the settings.

The processors page and the policy page both show this list, so what they name is what is
configured: a local folder or an S3 store (with its endpoint), Stripe when billing is set up,
an SMTP relay when mail delivery is. Names and details are English msgids (N_), translated by
the page; ``fields`` fill their placeholders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core.config import Settings, get_settings
from core.i18n import N_


@dataclass(frozen=True)
class Processor:
    key: str  #: a stable name for tests and page keys: storage, payments, mail
    name: str  #: who it is, an English msgid with {fields}
    purpose: str  #: what they process for us, an English msgid
    third_party: bool  #: False when the data stays on our own servers
    fields: dict[str, str] = field(default_factory=dict)


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def configured_processors(settings: Settings | None = None) -> list[Processor]:
    from core.billing.client import stripe_configured

    s = settings or get_settings()
    out: list[Processor] = []
    storage_purpose = N_("Your uploaded images, generated models and export files, as private objects reachable "
                         "only through short-lived signed links.")
    if s.storage_backend == "s3":
        if s.s3_endpoint_url:
            out.append(Processor("storage", N_("Object storage: an S3-compatible store at {endpoint}"),
                                 storage_purpose, True, {"endpoint": _host(s.s3_endpoint_url)}))
        else:
            out.append(Processor("storage", N_("Object storage: Amazon S3 (region {region})"), storage_purpose, True,
                                 {"region": s.s3_region}))
    else:
        out.append(Processor("storage", N_("Storage: a folder on our own server (no third party)"), storage_purpose,
                             False))
    if stripe_configured():
        out.append(Processor("payments", N_("Payments: Stripe"),
                             N_("Payment details of premium users. Card data goes to Stripe directly and never "
                                "reaches us; we keep only Stripe's customer, subscription and invoice references."),
                             True))
    else:
        out.append(Processor("payments", N_("Payments: not set up on this installation"),
                             N_("No payment data is processed: premium cannot be bought here."), False))
    if s.smtp_host:
        out.append(Processor("mail", N_("Email delivery: the mail server {host}"),
                             N_("Your email address and the content of transactional emails (password reset, "
                                "export ready, policy notices)."), True, {"host": s.smtp_host}))
    else:
        out.append(Processor("mail", N_("Email delivery: not set up (no email leaves the server)"),
                             N_("Emails wait in our own database until an administrator sets up delivery."), False))
    return out
