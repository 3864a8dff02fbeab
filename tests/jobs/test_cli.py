"""The operator commands for jobs: generate, job --json, jobs, requeue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from core.jobs import claims
from core.manage import main
from core.models import GenerationJob
from tests.core.jobs.test_runner import disk_png
from tests.utils.builders import create_random_user


def test_generate_job_jobs_requeue(session: Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = create_random_user(session)
    image = tmp_path / "vase.png"
    image.write_bytes(disk_png())
    assert main(["generate", "--user", user.email, str(image), "--mode", "inflate"]) == 0
    job_id = int(capsys.readouterr().out.strip())

    assert main(["job", str(job_id), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["status"], info["mode"], info["name"], info["queue_position"]) == ("queued", "inflate", "vase", 0)
    assert info["progress"] == {"stage": None, "percent": 0} and info["error"] is None and info["outputs"] == {}

    assert main(["jobs", "--status", "queued"]) == 0
    assert str(job_id) in capsys.readouterr().out
    assert main(["jobs", "--status", "failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []

    assert main(["requeue", str(job_id)]) == 2
    assert "only failed or cancelled jobs can be requeued" in capsys.readouterr().err
    (claimed,) = claims.claim_jobs(session, worker_id="w")
    claims.fail_job(session, job=claimed, code="crashed", message="boom")
    assert main(["job", str(job_id)]) == 0
    assert "error (crashed): boom" in capsys.readouterr().out
    assert main(["requeue", str(job_id)]) == 0
    assert f"Job {job_id} is queued again." in capsys.readouterr().out
    row = session.get(GenerationJob, job_id, populate_existing=True)
    assert row is not None and (row.status, row.attempts) == ("queued", 0)


def test_bad_input_exits_non_zero_with_a_message(session: Session, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    user = create_random_user(session)
    image = tmp_path / "a.png"
    image.write_bytes(disk_png())
    assert main(["generate", "--user", "nobody@example.org", str(image)]) == 2
    assert "No account" in capsys.readouterr().err
    assert main(["generate", "--user", user.email, str(tmp_path / "missing.png")]) == 2
    assert "No such file" in capsys.readouterr().err
    assert main(["job", "424242"]) == 2
    assert "does not exist" in capsys.readouterr().err
    for _ in range(2):
        assert main(["generate", "--user", user.email, str(image)]) == 0
    assert main(["generate", "--user", user.email, str(image)]) == 2
    assert "queued or running" in capsys.readouterr().err
    assert session.exec(sa.select(sa.func.count()).select_from(GenerationJob)).one()[0] == 2  # type: ignore[call-overload]
