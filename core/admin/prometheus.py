"""Prometheus metrics, computed from the database at scrape time (the web process runs no jobs).

``GET /metrics`` (core.routes) answers only with ``Authorization: Bearer <METRICS_TOKEN>``; without
a configured token the route does not exist (404), so nothing leaks by default.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from core.admin import metrics
from core.db import get_session
from core.models import AuditLog, GenerationJob, JobStatus, utcnow

#: Job duration buckets (engine seconds); the last is +Inf.
DURATION_BUCKETS_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
JOBS = GenerationJob.__table__  # type: ignore[attr-defined]


def authorised(header: str | None, token: str) -> bool:
    """Constant-time comparison of ``Bearer <token>``."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer "):].encode(), token.encode())


class DatabaseCollector:
    """Every figure from one short database session per scrape."""

    def collect(self) -> Iterator[Metric]:
        with get_session() as session:
            conn = session.connection()
            depth = GaugeMetricFamily("vorm_jobs", "Generation jobs by status", labels=["status"])
            counts: dict[str, int] = dict(conn.execute(  # type: ignore[arg-type]
                sa.select(JOBS.c.status, sa.func.count()).group_by(JOBS.c.status)).all())
            for status in JobStatus:
                depth.add_metric([status.value], int(counts.get(status.value, 0)))
            yield depth

            yield self._durations(conn)

            failures = CounterMetricFamily("vorm_job_failures", "Failed jobs by error code", labels=["code"])
            for code, n in conn.execute(sa.select(JOBS.c.error_code, sa.func.count())
                                        .where(JOBS.c.status == JobStatus.FAILED).group_by(JOBS.c.error_code)):
                failures.add_metric([code or "unknown"], int(n))
            yield failures

            audit = AuditLog.__table__  # type: ignore[attr-defined]
            purges = CounterMetricFamily("vorm_purge_deleted", "Rows deleted by retention purges", labels=["kind"])
            runs = 0
            totals = {"models": 0, "uploads": 0, "objects": 0}
            for (details,) in conn.execute(sa.select(audit.c.details).where(audit.c.action == "retention.purge")):
                runs += 1
                for key in totals:
                    totals[key] += int((details or {}).get(key, 0))
            for key, value in totals.items():
                purges.add_metric([key], value)
            yield purges
            yield CounterMetricFamily("vorm_purge_runs", "Retention purge runs", value=runs)

            yield GaugeMetricFamily("vorm_outbox_pending", "Emails waiting in the outbox",
                                    value=metrics.outbox_backlog(session))
            yield GaugeMetricFamily("vorm_outbox_failed", "Emails that can never be sent (marked failed, with a "
                                    "reason: the admin page's Outbox tab, core.manage outbox)",
                                    value=metrics.outbox_backlog(session, status="failed"))

            beats = GaugeMetricFamily("vorm_worker_heartbeat_age_seconds", "Seconds since each worker's heartbeat",
                                      labels=["worker", "device", "segmenter"])
            alive = 0
            for w in metrics.workers(session):
                beats.add_metric([w["worker_id"], w["device"], w["segmenter"]], w["age_seconds"])
                alive += int(w["alive"])
            yield beats
            yield GaugeMetricFamily("vorm_workers_alive", "Workers with a fresh heartbeat", value=alive)

    def _durations(self, conn: sa.Connection) -> Metric:
        """A histogram of engine seconds by mode and device, over succeeded jobs of the last 30 days."""
        seconds = metrics.engine_seconds()
        device = JOBS.c.stats["device"].as_string()
        cases = [sa.func.sum(sa.case((seconds <= edge, 1), else_=0)) for edge in DURATION_BUCKETS_SECONDS]
        stmt = (sa.select(JOBS.c.mode, device, sa.func.count(), sa.func.coalesce(sa.func.sum(seconds), 0), *cases)
                .where(JOBS.c.status == JobStatus.SUCCEEDED, seconds.is_not(None),
                       JOBS.c.created_at >= utcnow() - timedelta(days=30))
                .group_by(JOBS.c.mode, device))
        family = HistogramMetricFamily("vorm_job_duration_seconds", "Engine seconds of succeeded jobs (30 days)",
                                       labels=["mode", "device"])
        for mode, dev, n, total, *below in conn.execute(stmt):
            buckets = [(str(edge), int(b or 0)) for edge, b in zip(DURATION_BUCKETS_SECONDS, below, strict=True)]
            family.add_metric([mode, dev or "unknown"], buckets + [("+Inf", int(n))], float(total))
        return family


def render() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector())  # type: ignore[arg-type]
    return generate_latest(registry)
