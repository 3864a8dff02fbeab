"""Scale-out with the real parts: nginx running deploy/nginx/vorm.conf in front of two web processes,
three workers, one PostgreSQL database and S3 (moto's server over HTTP). Each process has its own
DATA_DIR, as on separate machines: what they share is only what the README says a deployment shares
(PostgreSQL, S3, SECRET_KEY, PUBLIC_URL, the nginx address).

Which web process answered a request is read from nginx's access log (the site's ``vorm`` format logs
``upstream=``); which worker ran a job, from the job's row (``worker_id`` holds the worker's pid).
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.conftest import REQUIRE_PG, _pg_available, create_pg_database, drop_pg_database, free_port
from tests.core.api.conftest import photo
from tests.e2e.conftest import shot
from tests.e2e.test_journey import PASSWORD, log_in, object_png, wait_app
from tests.utils.nginx import Nginx
from tests.utils.processes import LOGS, TEST_SETTINGS, api_account, manage, start_web, start_worker, stop, wait_healthy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOB_LEASE_SECONDS = 6  # a killed worker's job is back in the queue within this plus the recovery interval
RATE_LIMIT_PER_MINUTE = 8  # the free plan's API requests per minute in this stack
SPREAD_JOBS = 9
JOB_TIMEOUT_SECONDS = 180.0  # a few 192 px jobs on a busy machine, plus a lease recovery
EXPORT_TIMEOUT_SECONDS = 90.0  # the worker's privacy tick runs every 10 s
ROUTE_PROBES = 64  # cookie values tried to find one per web process (each misses a process with p = 1/2)
S3 = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
#: A session of this database waits for a lock on model3d (other databases on the server are other tests').
WAITING_ON_MODEL3D = ("SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'model3d'::regclass "
                      "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


@dataclass
class Scale:
    nginx: Nginx
    env: dict[str, str]
    webs: dict[str, subprocess.Popen]  # type: ignore[type-arg]  # "127.0.0.1:PORT" -> its process
    workers: list[subprocess.Popen]  # type: ignore[type-arg]
    db: sa.Engine
    route: dict[str, str]  # "127.0.0.1:PORT" -> a vorm_route cookie value that nginx sends there
    accounts: dict[str, tuple[str, str]]  # plan -> (email, API key); the free user also logs in with the browser

    def upstream(self, marker: str) -> str:
        """The web process that answered the one logged request containing ``marker``."""
        found = self.nginx.upstreams(marker, at_least=1)
        assert len(found) == 1, (marker, found)
        return found[0]

    def jobs(self, *ids: int) -> list[dict[str, Any]]:
        with self.db.connect() as c:
            rows = c.execute(sa.text("SELECT id, status, worker_id, attempts, user_id FROM generation_job "
                                     "WHERE id = ANY(:ids) ORDER BY id"), {"ids": list(ids)}).mappings().all()
        return [dict(r) for r in rows]

    def wait_jobs(self, ids: list[int], *, until: tuple[str, ...] = ("succeeded", "failed", "canceled"),
                  timeout: float = JOB_TIMEOUT_SECONDS) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.jobs(*ids)
            if all(r["status"] in until for r in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)

    def worker_of(self, job: dict[str, Any]) -> subprocess.Popen:  # type: ignore[type-arg]
        pid = int(job["worker_id"].split(":")[1])  # hostname:pid:nonce (jobs/worker.py)
        return next(w for w in self.workers if w.pid == pid)

    def wait_row(self, query: str, timeout: float, **params: Any) -> Any:
        """The first non-null value ``query`` returns within ``timeout`` seconds (None if none)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.db.connect() as c:
                value = c.execute(sa.text(query), params).scalar()
            if value is not None:
                return value
            time.sleep(0.05)
        return None


def _find_routes(nginx: Nginx, backends: list[str]) -> dict[str, str]:
    route: dict[str, str] = {}
    for i in range(ROUTE_PROBES):
        value = f"route-{i:03d}"
        assert httpx.get(f"{nginx.url}/healthz?probe={value}", cookies={"vorm_route": value}).status_code == 200
        route.setdefault(nginx.upstreams(f"probe={value} ", at_least=1)[0], value)
        if len(route) == len(backends):
            return route
    raise AssertionError(f"no cookie value reached every web process: {route}")


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory, moto_server: str) -> Iterator[Scale]:
    import boto3

    if not _pg_available():
        if REQUIRE_PG:
            pytest.fail("PostgreSQL is required (CI) but not reachable")
        pytest.skip("PostgreSQL is not reachable")
    if not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: apt-get install -y nginx")
    base = tmp_path_factory.mktemp("scale")
    bucket = f"vorm-scale-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    db_url = create_pg_database("vorm_scale")
    ports = [free_port(), free_port()]
    nginx = Nginx(base / "nginx", port=free_port(), backends=ports)
    env = {**os.environ, **TEST_SETTINGS, **S3, "DATABASE_URL": db_url, "PUBLIC_URL": nginx.url,
           "SECRET_KEY": "scale-e2e-secret-key-0123456789abcdef", "STORAGE_BACKEND": "s3", "S3_BUCKET": bucket,
           "S3_ENDPOINT_URL": moto_server, "S3_REGION": "eu-west-1", "S3_ACCESS_KEY_ID": "testing",
           "S3_SECRET_ACCESS_KEY": "testing", "JOB_LEASE_SECONDS": str(JOB_LEASE_SECONDS),
           "FREE_API_REQUESTS_PER_MINUTE": str(RATE_LIMIT_PER_MINUTE), "PREMIUM_API_REQUESTS_PER_MINUTE": "100000",
           "PREMIUM_DAILY_GENERATIONS": "100000", "FREE_DAILY_GENERATIONS": "100000",
           "MAX_RUNNING_JOBS_PER_USER": "1000"}
    env.pop("STORAGE_DIR", None)

    def own(name: str) -> dict[str, str]:  # each process's DATA_DIR is its own, as on its own machine
        (base / name).mkdir()
        return {**env, "DATA_DIR": str(base / name)}

    webs: dict[str, subprocess.Popen] = {}  # type: ignore[type-arg]
    workers: list[subprocess.Popen] = []  # type: ignore[type-arg]
    engine = sa.create_engine(db_url)
    pool = ThreadPoolExecutor(2)
    try:
        operator = own("manage")
        manage(operator, "migrate")
        nginx.start()
        for i, port in enumerate(ports):
            webs[f"127.0.0.1:{port}"] = start_web(port, env=own(f"web{i}"), log=LOGS / f"scale-web{i}.log")
        for i in range(3):
            workers.append(start_worker(env=own(f"worker{i}"), log=LOGS / f"scale-worker{i}.log"))
        procs = [*webs.values(), *workers]
        # The accounts are made by the operator command while the processes start (each takes seconds).
        accounts = {plan: pool.submit(api_account, operator, plan, password=PASSWORD) for plan in ("premium", "free")}
        for address in webs:
            wait_healthy(f"http://{address}", procs, LOGS)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # every worker has warmed up and beats
            with engine.connect() as c:
                if c.execute(sa.text("SELECT count(*) FROM worker_heartbeat")).scalar_one() == len(workers):
                    break
            assert all(w.poll() is None for w in workers), f"a worker exited at start; see {LOGS}"
            time.sleep(0.3)
        else:
            raise AssertionError(f"the workers did not start; see {LOGS}")
        routes = _find_routes(nginx, list(webs))
        yield Scale(nginx, env, webs, workers, engine, routes, {plan: f.result() for plan, f in accounts.items()})
    finally:
        pool.shutdown(wait=True)
        # All at once; a job still running (a failed test) need not get its grace.
        stop([*workers, *webs.values()], timeout=10)
        nginx.stop()
        engine.dispose()
        drop_pg_database(db_url)


def test_jobs_spread_over_three_workers_and_links_work_from_either_web_process(scale: Scale) -> None:
    headers = {"Authorization": f"Bearer {scale.accounts['premium'][1]}"}
    api = f"{scale.nginx.url}/api/v1"
    ids = []
    for i in range(SPREAD_JOBS):
        image = photo(colour=("red", "green", "blue")[i % 3])
        # A client address as a proxy in front of nginx (a load balancer, a CDN) would pass it on.
        made = httpx.post(f"{api}/jobs", headers={**headers, "X-Forwarded-For": f"203.0.113.{i}"}, timeout=60,
                          data={"faces": "600"}, files=[("images", (f"ball{i}.png", image, "image/png"))])
        assert made.status_code == 202, made.text
        ids.append(made.json()["id"])
    with scale.db.connect() as c:  # nginx adds its client to X-Forwarded-For, and the web process believes it
        ips = c.execute(sa.text("SELECT ip FROM access_event WHERE kind = 'upload'")).scalars().all()
    assert sorted(ips) == sorted(f"203.0.113.{i}" for i in range(SPREAD_JOBS))
    jobs = scale.wait_jobs(ids)
    assert [j["status"] for j in jobs] == ["succeeded"] * SPREAD_JOBS, jobs
    ran = {scale.worker_of(j).pid for j in jobs}
    assert ran == {w.pid for w in scale.workers}, f"jobs per worker: {[j['worker_id'] for j in jobs]}"

    # One model as each web process describes it: its GLB (presigned by that process) and an STL link
    # (signed with the shared SECRET_KEY) opened through the other process.
    job = httpx.get(f"{api}/jobs/{ids[0]}", headers=headers).json()
    links = {}
    for backend, value in scale.route.items():
        marker = f"via={uuid.uuid4().hex}"
        model = httpx.get(f"{api}/models/{job['model_id']}?{marker}", headers=headers, cookies={"vorm_route": value})
        assert model.status_code == 200 and scale.upstream(marker) == backend, model.text
        links[backend] = model.json()["downloads"]
    for backend, downloads in links.items():
        glb = httpx.get(downloads["glb"], timeout=30)
        assert glb.status_code == 200 and glb.content[:4] == b"glTF", glb.text[:200]
        other = next(b for b in scale.route if b != backend)
        marker = f"via={uuid.uuid4().hex}"
        stl = httpx.get(f"{downloads['stl']}?{marker}", cookies={"vorm_route": scale.route[other]}, timeout=60)
        assert stl.status_code == 303 and scale.upstream(marker) == other, stl.text
        body = httpx.get(stl.headers["location"], timeout=60)
        assert body.status_code == 200 and len(body.content) > 84  # a binary STL's header and count, then triangles


def test_the_rate_limit_holds_across_both_web_processes_behind_nginx(scale: Scale) -> None:
    headers = {"Authorization": f"Bearer {scale.accounts['free'][1]}"}
    if time.time() % 60 > 55:  # one fixed window for the whole test (its requests take a second or two)
        time.sleep(61 - time.time() % 60)
    backends = list(scale.route)
    answers, served = [], []
    for i in range(RATE_LIMIT_PER_MINUTE + 2):
        backend = backends[i % 2]
        marker = f"n={uuid.uuid4().hex}"
        answers.append(httpx.get(f"{scale.nginx.url}/api/v1/account?{marker}", headers=headers,
                                 cookies={"vorm_route": scale.route[backend]}))
        served.append(scale.upstream(marker))
    assert served == [backends[i % 2] for i in range(RATE_LIMIT_PER_MINUTE + 2)]  # both, in turn
    assert [a.status_code for a in answers] == [200] * RATE_LIMIT_PER_MINUTE + [429, 429]
    for refused in answers[-2:]:  # one from each process
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "rate_limited" and 1 <= int(refused.headers["retry-after"]) <= 60


def test_killing_a_worker_and_a_web_process_mid_job_loses_nothing(scale: Scale, browser: Any,
                                                                  tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1360, "height": 1000}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        email = scale.accounts["free"][0]
        log_in(page, scale.nginx.url, email)
        assert any(c["name"] == "vorm_route" for c in context.cookies())

        def serving() -> str:  # the web process nginx sends this browser to now
            marker = f"tab={uuid.uuid4().hex}"
            assert context.request.get(f"{scale.nginx.url}/healthz?{marker}").status == 200
            return scale.upstream(marker)

        first = serving()
        # An upload goes to the process that holds the tab's websocket session, or Streamlit refuses it.
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            str(object_png(tmp_path / "vase.png")))
        page.get_by_text("What will be modelled").wait_for()
        wait_app(page)
        assert set(scale.nginx.upstreams("PUT /_stcore/upload_file/")) == {first}

        # Mid-job, whatever the machine's speed: the worker's last step (one transaction that marks the job
        # succeeded and adds its model) waits on this lock, and the worker is killed while it waits.
        hold = scale.db.connect()
        hold.begin()
        hold.execute(sa.text("LOCK TABLE model3d IN SHARE MODE"))
        try:
            page.get_by_role("button", name="Make my 3D model").click()
            user_id = scale.wait_row('SELECT id FROM "user" WHERE email = :e', 5, e=email)
            assert scale.wait_row(WAITING_ON_MODEL3D, JOB_TIMEOUT_SECONDS), "no worker reached the job's end"
            [job] = scale.jobs(scale.wait_row("SELECT id FROM generation_job WHERE user_id = :u", 1, u=user_id))
            assert job["status"] == "running" and job["attempts"] == 1, job
            killed = scale.worker_of(job)
            os.killpg(killed.pid, signal.SIGKILL)  # its lease will expire
            os.killpg(scale.webs[first].pid, signal.SIGKILL)  # and the process that holds the tab
            killed.wait()
            scale.webs[first].wait()
        finally:
            hold.rollback()  # the killed worker's transaction ends without its commit
            hold.close()

        # The tab is served by the other process, still logged in: the cookie is checked in PostgreSQL.
        page.reload()
        page.get_by_role("heading", name="New model").wait_for()
        second = serving()
        assert second != first

        # The data export: requested on the remaining process, built by a worker, downloaded from S3.
        page.goto(scale.nginx.url + "/my-data")
        wait_app(page)
        page.get_by_role("button", name="Request export").click()
        wait_app(page)
        assert scale.wait_row("SELECT id FROM privacy_request WHERE user_id = :u AND kind = 'access' "
                              "AND status = 'done'", EXPORT_TIMEOUT_SECONDS, u=user_id), "no export was built"
        page.reload()
        link = page.get_by_role("link", name="Download ZIP")
        link.wait_for()
        zipped = httpx.get(link.get_attribute("href") or "", timeout=60)
        assert zipped.status_code == 200
        with zipfile.ZipFile(io.BytesIO(zipped.content)) as zf:
            assert zf.testzip() is None and any(email in zf.read(n).decode("utf-8", "replace")
                                                for n in zf.namelist() if n.endswith(".json"))

        [job] = scale.wait_jobs([job["id"]])
        assert job["status"] == "succeeded" and job["attempts"] == 2, job
        assert scale.worker_of(job).pid != killed.pid
        with scale.db.connect() as c:  # one model: the killed worker's never committed
            assert c.execute(sa.text("SELECT count(*) FROM model3d WHERE user_id = :u"), {"u": user_id}).scalar() == 1
    except BaseException:
        shot(page, "failed-scale-out")
        raise
    finally:
        context.close()
