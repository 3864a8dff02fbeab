"""Policy versions for users (clause 7): the banner until acknowledged, and a notice mail per user
when a new material version is published."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from core.audit import audit, user_actor
from core.config import public_url
from core.errors import NotFound
from core.i18n import N_, translate
from core.mail import enqueue_mail
from core.models import (
    PolicyAcceptance,
    PolicyVersion,
    User,
)
from core.privacy import policy
from core.privacy.erasure import ERASED_PASSWORD_HASH

# --- policy versions ----------------------------------------------------------------


def _date_start(iso_date: str) -> datetime:
    return datetime.fromisoformat(iso_date).replace(tzinfo=UTC)


def _current_material() -> policy.PolicyDoc | None:
    material = [v for v in policy.all_versions() if v.material]
    return material[-1] if material else None


def needs_policy_banner(session: Session, *, user: User) -> policy.PolicyDoc | None:
    """The current policy, when the user has not acknowledged its latest material change; else None."""
    latest = _current_material()
    if latest is None:
        return None
    order = [v.version for v in policy.all_versions()]
    seen = user.policy_acknowledged_version
    if seen is None and user.created_at.date().isoformat() >= latest.last_updated:
        # Accounts made by an operator accepted nothing, but nothing changed since they were made either.
        return None
    if seen in order and order.index(seen) >= order.index(latest.version):
        return None
    return policy.current()


def acknowledge_policy(session: Session, *, user: User) -> None:
    """The user has read the current policy: the banner goes, and the acceptance is recorded."""
    current = policy.current()
    fresh = session.get(User, user.id)
    if fresh is None:
        raise NotFound(N_("This account no longer exists."))
    fresh.policy_acknowledged_version = current.version
    session.add(fresh)
    session.add(PolicyAcceptance(user_id=int(fresh.id or 0), version=current.version))
    audit(session, "policy.acknowledged", user_id=fresh.id, actor=user_actor(fresh.id), version=current.version)
    session.commit()
    user.policy_acknowledged_version = current.version


def publish_policies(session: Session) -> list[dict[str, Any]]:
    """Record every version in versions.toml not yet published; a material one mails each user a notice.

    Safe to run on every start: a version is published (and announced) once.
    """
    published = []
    known = set(session.exec(select(PolicyVersion.version)).all())
    for doc in policy.all_versions():
        if doc.version in known:
            continue
        session.add(PolicyVersion(version=doc.version, last_updated=doc.last_updated, material=doc.material))
        session.flush()
        # Only the latest material change is announced: one published with minor ones after it
        # in the same run (a fresh install) still is, an older one superseded in that run is not.
        latest_material = _current_material()
        mails = _announce(session, doc) if latest_material and doc.version == latest_material.version else 0
        audit(session, "policy.published", version=doc.version, material=doc.material, notices=mails)
        session.commit()
        published.append({"version": doc.version, "material": doc.material, "notices": mails})
    return published


def _announce(session: Session, doc: policy.PolicyDoc) -> int:
    url = f"{public_url()}/privacy-policy"  # the page's url_path in app.py
    usr = User.__table__  # type: ignore[attr-defined]
    count, after = 0, 0
    while True:
        users = session.connection().execute(
            sa.select(usr.c.id, usr.c.email, usr.c.name, usr.c.locale)
            .where(usr.c.id > after, usr.c.password_hash != ERASED_PASSWORD_HASH)
            .where(sa.or_(sa.and_(usr.c.policy_acknowledged_version.is_(None),
                                  usr.c.created_at < _date_start(doc.last_updated)),
                          usr.c.policy_acknowledged_version != doc.version))
            .order_by(usr.c.id).limit(1000)
        ).all()
        if not users:
            return count
        after = users[-1].id
        for u in users:
            enqueue_mail(session, to=u.email, user_id=u.id, kind="policy_notice",
                         subject=translate("We have updated our privacy policy", u.locale),
                         body=translate("Hello {name},\n\nWe have made a material change to our privacy policy (last "
                                        "updated {date}). Please read it here:\n\n{link}\n\nYou will see a notice in "
                                        "the app until you confirm you have read it.\n\nVorm",
                                        u.locale, name=u.name or u.email,
                                date=doc.last_updated, link=url))
            count += 1
        session.flush()
