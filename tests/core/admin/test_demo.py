"""seed-demo: fills a database for the admin page, and refuses production."""

from __future__ import annotations

from sqlmodel import select

from core.manage import main
from core.models import GenerationJob, User
from tests.conftest import _apply_env


def test_seed_demo_fills_every_job_state_and_prints_the_demo_admin(session, capsys):
    assert main(["seed-demo", "--users", "12", "--jobs", "150", "--models", "20"]) == 0
    out = capsys.readouterr().out
    assert "Seeded 12 users, 150 jobs, 20 models" in out and "demo-admin@example.org" in out
    statuses = {j.status for j in session.exec(select(GenerationJob))}
    assert statuses == {"queued", "running", "succeeded", "failed", "cancelled"}
    assert main(["seed-demo", "--users", "6", "--jobs", "10", "--models", "2"]) == 0  # twice: no clashes
    assert len(session.exec(select(User)).all()) == 12 + 6 + 1


def test_seed_demo_refuses_production(session, monkeypatch, capsys):
    _apply_env(monkeypatch, ENVIRONMENT="production", SECRET_KEY="a-real-secret-0123456789abcdef",
               STRIPE_SECRET_KEY="sk_live_real_0123456789", STRIPE_WEBHOOK_SECRET="whsec_real_0123456789",
               PUBLIC_URL="https://vorm.example.org")
    assert main(["seed-demo"]) == 2
    err = capsys.readouterr().err
    assert "ENVIRONMENT=production" in err and "Traceback" not in err
    assert session.exec(select(User)).all() == []
