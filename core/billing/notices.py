"""Mails about the plan, through the outbox, in the account's language: premium began, a cancellation
is scheduled, premium ended.

They are enqueued in the caller's transaction, so a mail goes out exactly when the change it
announces is committed (a webhook applied twice changes nothing the second time, and mails nothing).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from core.config import get_settings, public_url
from core.i18n import format_date, format_number, translate
from core.mail import enqueue_mail
from core.models import Plan, User


def _greeting(user: User) -> str:
    return translate("Hello {name},", user.locale, name=user.name or user.email)


def _send(session: Session, user: User, *, kind: str, subject: str, body: str) -> None:
    lang = user.locale
    text = "\n\n".join([_greeting(user), body, translate("Your account: {link}", lang,
                                                         link=f"{public_url()}/account"), "Vorm"])
    enqueue_mail(session, to=user.email, user_id=user.id, kind=kind, subject=subject, body=text)


def premium_started(session: Session, *, user: User, renews_on: datetime | None = None) -> None:
    lang, tier = user.locale, get_settings().tier(Plan.PREMIUM)
    body = translate("Welcome to premium! From now on you can start {n} generations a day, carve with up to {views} "
                     "views, download every format (including PLY and 3MF) at a higher resolution, and your models "
                     "are kept while you subscribe.", lang, n=format_number(tier["daily_generations"], lang),
                     views=format_number(tier["max_views"], lang))
    if renews_on is not None:
        body += "\n\n" + translate("Your subscription renews on {date}.", lang, date=format_date(renews_on, lang))
    _send(session, user, kind="plan_premium", subject=translate("Welcome to Vorm premium", lang), body=body)


def cancellation_scheduled(session: Session, *, user: User, ends_on: datetime | None) -> None:
    lang = user.locale
    body = translate("Your premium subscription is cancelled. You keep premium until {date}; after that your account "
                     "goes to the free plan. Changed your mind? Renew it under “Manage subscription” on the "
                     "Account page before then.",
                     lang, date=format_date(ends_on, lang))
    _send(session, user, kind="plan_cancellation",
          subject=translate("Your Vorm premium subscription is cancelled", lang), body=body)


def premium_ended(session: Session, *, user: User, ended_at: datetime | None = None) -> None:
    lang, settings = user.locale, get_settings()
    free = settings.tier(Plan.FREE)
    body = translate("Your premium plan has ended; your account is on the free plan now, with {n} generations a "
                     "day.", lang, n=format_number(free["daily_generations"], lang))
    if ended_at is not None:
        body += " " + translate("Your uploads and models are kept until {date}; after that, the free plan's rule "
                                "applies: they are deleted {days} days after creation.", lang,
                                date=format_date(ended_at + timedelta(days=settings.retention_days), lang),
                                days=settings.retention_days)
    body += "\n\n" + translate("You can upgrade again at any time on the Account page.", lang)
    _send(session, user, kind="plan_ended", subject=translate("Your Vorm premium plan has ended", lang), body=body)
