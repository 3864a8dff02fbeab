"""Generation jobs: generate, job, jobs, requeue."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from core.accounts import auth
from core.cli import row_id, whole_number
from core.db import get_session
from core.errors import NotFound, ValidationError
from core.jobs import queue
from core.models import GenerationJob, JobStatus, Model3D
from core.text import escape

STATUSES = [s.value for s in JobStatus]
MAX_LIST_LIMIT = 10_000  # ``jobs --limit``: more rows than an operator reads, fewer than exhaust memory


job_id = row_id("job")
list_limit = whole_number(1, MAX_LIST_LIMIT)  # SQLite reads LIMIT -1 as "no limit"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("generate", help="queue a generation as a user; prints the job id")
    p.add_argument("--user", required=True, metavar="EMAIL")
    p.add_argument("--mode", default="auto", choices=list(queue.MODES))
    p.add_argument("--name", default="")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("job", help="one job's status, progress, error and outputs")
    p.add_argument("id", type=job_id)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_job)

    p = sub.add_parser("jobs", help="list jobs, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--limit", type=list_limit, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_jobs)

    p = sub.add_parser("requeue", help="put a failed or cancelled job back in the queue")
    p.add_argument("id", type=job_id)
    p.set_defaults(func=cmd_requeue)


def cmd_generate(args: argparse.Namespace) -> int:
    from core.content.uploads import submit_generation, validate_upload

    paths = [Path(p) for p in args.images]
    images: list[tuple[Path, bytes]] = []
    for path in paths:
        try:
            images.append((path, path.read_bytes()))
        except OSError as exc:  # missing, a folder, unreadable: the operator's input, not our storage
            raise ValidationError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    with get_session() as session:
        user = auth.get_user_by_email(session, args.user)
        if user is None:
            raise NotFound(f"No account with the email address {args.user}.")
        validated = [validate_upload(data, filename=path.name, plan=user.plan) for path, data in images]
        job = submit_generation(session, user=user, images=validated, mode=args.mode, options={},
                                name=args.name or paths[0].stem, actor="operator")
    print(job.id)
    return 0


def describe(job: GenerationJob, model: Model3D | None, position: int | None) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    if model is not None:
        outputs = {"model_id": model.id, "glb": model.glb_key, "preview": model.preview_key,
                   "thumbnails": model.thumbnail_keys}
    return {
        "id": job.id, "user_id": job.user_id, "status": job.status, "mode": job.mode, "name": job.name,
        "priority": job.priority, "queue_position": position,
        "progress": {"stage": job.progress_stage, "percent": job.progress_pct},
        "attempts": job.attempts, "max_attempts": job.max_attempts, "worker_id": job.worker_id,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "outputs": outputs, "stats": job.stats,
        "created_at": _iso(job.created_at), "started_at": _iso(job.started_at), "finished_at": _iso(job.finished_at),
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def cmd_job(args: argparse.Namespace) -> int:
    with get_session() as session:
        job = queue.get_job(session, job_id=args.id, user_id=None)
        model = session.get(Model3D, job.model_id) if job.model_id else None
        info = describe(job, model, queue.queue_position(session, job=job))
    if args.json:
        print(json.dumps(info, sort_keys=True))
        return 0
    print(f"job {info['id']}: {info['status']}  mode {info['mode']}  attempts {info['attempts']}/"
          f"{info['max_attempts']}")
    if info["queue_position"] is not None:
        print(f"  {info['queue_position']} job(s) ahead in the queue")
    if info["progress"]["stage"]:
        print(f"  progress: {info['progress']['stage']} {info['progress']['percent']}%")
    if info["error"]:
        print(f"  error ({info['error']['code']}): {escape(str(info['error']['message']))}")
    for key, value in info["outputs"].items():
        print(f"  {key}: {escape(str(value))}")
    return 0


def cmd_jobs(args: argparse.Namespace) -> int:
    with get_session() as session:
        jobs = queue.list_jobs(session, user_id=None, status=args.status, limit=args.limit)
    if args.json:
        print(json.dumps([{"id": j.id, "user_id": j.user_id, "status": j.status, "mode": j.mode,
                           "attempts": j.attempts, "error_code": j.error_code, "created_at": _iso(j.created_at)}
                          for j in jobs], sort_keys=True))
        return 0
    for j in jobs:
        error = f"  {j.error_code}" if j.error_code else ""
        print(f"{j.id:>8}  {j.status:<10} {j.mode:<8} user {j.user_id:<6} attempts {j.attempts}{error}")
    if not jobs:
        print("No jobs.")
    return 0


def cmd_requeue(args: argparse.Namespace) -> int:
    with get_session() as session:
        job = queue.requeue(session, job_id=args.id)
    print(f"Job {job.id} is queued again.")
    return 0
