"""GET /metrics over HTTP against the real web process: 404 without a configured token, 401 without
or with a wrong bearer token, and the Prometheus text with it (figures from the database)."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.utils.web_server import ROOT

TOKEN = "scrape-token-0123456789"


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _outbox_rows(url: str, *, pending: int, failed: int) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for status, n in (("pending", pending), ("failed", failed)):
            for i in range(n):
                conn.execute(sa.text("INSERT INTO outbox (to_address, subject, body, kind, status, attempts, "
                                     "created_at) VALUES (:to, 's', 'b', 'k', :status, 1, CURRENT_TIMESTAMP)"),
                             {"to": f"{status}{i}@example.org", "status": status})
    engine.dispose()


def test_metrics_needs_a_configured_token(web_server):
    server = web_server()
    status, _body = _get(server.url + "/metrics", TOKEN)
    assert status == 404


def test_metrics_with_and_without_the_token(web_server):
    server = web_server(METRICS_TOKEN=TOKEN)
    subprocess.run([sys.executable, "-m", "core.manage", "seed-demo", "--users", "10", "--jobs", "120",
                    "--models", "20"], cwd=ROOT, env=server.env, check=True, capture_output=True)
    _outbox_rows(server.env["DATABASE_URL"], pending=3, failed=2)
    assert _get(server.url + "/metrics")[0] == 401
    assert _get(server.url + "/metrics", "wrong-token")[0] == 401
    status, body = _get(server.url + "/metrics", TOKEN)
    assert status == 200
    families = {f.name: f for f in text_string_to_metric_families(body)}
    jobs = {s.labels["status"]: s.value for s in families["vorm_jobs"].samples}
    assert sum(jobs.values()) == 120 and set(jobs) == {"queued", "running", "succeeded", "failed", "cancelled"}
    durations = families["vorm_job_duration_seconds"].samples
    counts = [s for s in durations if s.name.endswith("_count")]
    assert counts and {s.labels["device"] for s in counts} <= {"cpu", "cuda"}
    assert sum(s.value for s in families["vorm_job_failures"].samples if s.name.endswith("_total")) == jobs["failed"]
    assert families["vorm_purge_runs"].samples[0].value == 14
    assert "vorm_workers_alive" in families
    # A mail that can never be sent is counted, apart from the backlog (issue 17 §1).
    assert families["vorm_outbox_pending"].samples[0].value == 3
    assert families["vorm_outbox_failed"].samples[0].value == 2
    assert {s.labels["worker"] for s in families["vorm_worker_heartbeat_age_seconds"].samples} == {
        "demo-worker-1", "demo-worker-2", "demo-worker-3"}
    assert {s.labels["worker"]: s.labels["segmenter"] for s in families["vorm_worker_heartbeat_age_seconds"].samples
            } == {"demo-worker-1": "birefnet-general-lite", "demo-worker-2": "u2netp", "demo-worker-3": "grabcut"}
    assert "refused" in server.log.read_text()  # the refusals were logged with a reason
