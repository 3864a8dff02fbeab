"""The public API through HTTP (in process, both database engines): keys, jobs, models, errors, limits."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from sqlmodel import select

from core.api import keys
from core.models import ApiKey, AuditLog, GenerationJob, JobStatus
from tests.core.api.conftest import photo
from tests.core.privacy.conftest import add_model


def _is_problem(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code and body["detail"] and body["type"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


def test_a_key_is_shown_once_stored_as_a_hash_and_audited(session, alice, client):
    row = session.exec(select(ApiKey).where(ApiKey.user_id == alice.user.id)).one()
    assert alice.key.startswith("vorm_") and len(alice.key) > 40
    assert row.key_hash == hashlib.sha256(alice.key.encode()).hexdigest() and alice.key not in str(row.model_dump())
    assert alice.key.startswith(row.prefix)
    assert client.get("/account", headers=alice.headers).status_code == 200
    session.refresh(row)
    assert row.last_used_at is not None
    actions = session.exec(select(AuditLog.action).where(AuditLog.user_id == alice.user.id)).all()
    assert "api_key.created" in actions


def test_a_revoked_key_is_refused_at_once(session, alice, client):
    assert client.get("/account", headers=alice.headers).status_code == 200
    row = session.exec(select(ApiKey).where(ApiKey.user_id == alice.user.id)).one()
    keys.revoke_key(session, user_id=alice.user.id, key_id=row.id)
    _is_problem(client.get("/account", headers=alice.headers), 401, "api_key_invalid")
    assert "api_key.revoked" in session.exec(select(AuditLog.action)).all()


def test_missing_or_bad_keys_get_401_in_the_asked_language(client):
    body = _is_problem(client.get("/jobs"), 401, "api_key_invalid")
    assert "API key" in body["detail"]
    dutch = client.get("/jobs", headers={"Authorization": "Bearer vorm_nope", "Accept-Language": "nl-NL,en;q=0.5"})
    body = _is_problem(dutch, 401, "api_key_invalid")
    assert dutch.headers["content-language"] == "nl" and "sleutel" in body["detail"].lower()
    assert dutch.headers["www-authenticate"].startswith("Bearer")


def test_unknown_paths_and_framework_validation_errors_are_problems(client, alice):
    _is_problem(client.get("/no/such/thing", headers=alice.headers), 404, "no_such_endpoint")
    body = _is_problem(client.get("/jobs/abc", headers=alice.headers), 422, "invalid_input")
    assert body["errors"] and body["errors"][0]["loc"][-1] == "job_id"
    _is_problem(client.put("/jobs", headers=alice.headers), 405, "method_not_allowed")
    wrong_method = client.put("/jobs/1", headers=alice.headers)
    _is_problem(wrong_method, 405, "method_not_allowed")
    assert wrong_method.headers["allow"] == "DELETE, GET"  # every method of the path, not only the first route's
    _is_problem(client.get("/jobs/99999999999", headers=alice.headers), 422, "invalid_input")


def test_post_a_job_then_read_list_and_cancel_it(session, alice, client):
    response = client.post("/jobs", headers=alice.headers, files=[("images", ("ball.png", photo(), "image/png"))],
                           data={"faces": "800", "name": "Ball"})
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued" and job["queue_position"] == 0 and job["name"] == "Ball"
    assert response.headers["location"] == f"/api/v1/jobs/{job['id']}"
    row = session.get(GenerationJob, job["id"])
    assert row.options["faces"] == 800 and len(row.upload_ids) == 1
    assert client.get(f"/jobs/{job['id']}", headers=alice.headers).json()["id"] == job["id"]
    listed = client.get("/jobs", headers=alice.headers, params={"status": "queued"}).json()
    assert [j["id"] for j in listed["data"]] == [job["id"]] and listed["next_cursor"] is None
    canceled = client.delete(f"/jobs/{job['id']}", headers=alice.headers)
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    _is_problem(client.delete(f"/jobs/{job['id']}", headers=alice.headers), 409, "job_not_cancelable")
    assert client.get("/jobs", headers=alice.headers, params={"status": "queued"}).json()["data"] == []


def test_jobs_are_paged_newest_first_with_a_cursor(session, alice, client):
    from core.jobs import queue

    ids = [queue.insert_job(session, user_id=alice.user.id, upload_ids=[]).id for _ in range(5)]
    session.commit()
    seen, cursor = [], None
    while True:
        page = client.get("/jobs", headers=alice.headers, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += [j["id"] for j in page.json()["data"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)


def test_idempotency_key_same_body_same_job_other_body_422(session, alice, client):
    files = [("images", ("ball.png", photo(), "image/png"))]
    headers = {**alice.headers, "Idempotency-Key": "order-17"}
    first = client.post("/jobs", headers=headers, files=files, data={"faces": "800"})
    again = client.post("/jobs", headers=headers, files=files, data={"faces": "800"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] and again.headers["idempotent-replayed"] == "true"
    _is_problem(client.post("/jobs", headers=headers, files=files, data={"faces": "900"}), 422,
                "idempotency_key_reused")
    assert session.exec(select(sa.func.count()).select_from(GenerationJob)).one() == 1


def test_a_refused_request_frees_its_idempotency_key(alice, client):
    headers = {**alice.headers, "Idempotency-Key": "retry-me"}
    files = [("images", ("ball.png", photo(), "image/png"))]
    _is_problem(client.post("/jobs", headers=headers, files=files, data={"faces": "3"}), 422, "invalid_option")
    assert client.post("/jobs", headers=headers, files=files, data={"faces": "3000"}).status_code == 202


def test_uploads_413_415_and_bad_options_422(monkeypatch, alice, client):
    from core.config import reset_settings

    _is_problem(client.post("/jobs", headers=alice.headers, files=[("images", ("a.txt", b"hello", "text/plain"))]),
                415, "unsupported_image_type")
    _is_problem(client.post("/jobs", headers=alice.headers, files=[("images", ("ball.png", photo(), "image/png"))],
                            data={"mode": "sculpt"}), 422, "unknown_mode")
    _is_problem(client.post("/jobs", headers=alice.headers, files=[("images", ("ball.png", photo(), "image/png"))],
                            data={"box": "0.9,0.9,0.1,0.1"}), 422, "invalid_option")
    _is_problem(client.post("/jobs", headers=alice.headers, data={"mode": "auto"}), 422, "invalid_input")
    monkeypatch.setenv("FREE_MAX_UPLOAD_MB", "0.001")
    reset_settings()
    _is_problem(client.post("/jobs", headers=alice.headers, files=[("images", ("ball.png", photo(400), "image/png"))]),
                413, "upload_too_large")


def test_the_daily_quota_is_the_uis_and_answers_429_with_retry_after(session, monkeypatch, alice, client):
    from core.config import reset_settings
    from core.jobs import queue

    monkeypatch.setenv("FREE_DAILY_GENERATIONS", "1")
    reset_settings()
    job = queue.insert_job(session, user_id=alice.user.id, upload_ids=[])
    job.status = JobStatus.SUCCEEDED
    session.commit()
    refused = client.post("/jobs", headers=alice.headers, files=[("images", ("ball.png", photo(), "image/png"))])
    _is_problem(refused, 429, "daily_quota")
    assert 1 <= int(refused.headers["retry-after"]) <= 86400  # until midnight UTC
    account = client.get("/account", headers=alice.headers).json()
    assert account["quota"] == {"daily_limit": 1, "used_today": 1, "left_today": 0}


def test_rate_limit_per_key_with_headers(monkeypatch, alice, bob, client):
    from core.config import reset_settings

    monkeypatch.setenv("FREE_API_REQUESTS_PER_MINUTE", "3")
    reset_settings()
    answers = [client.get("/account", headers=alice.headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["ratelimit-policy"] == '"minute";q=3;w=60'
    assert answers[2].headers["ratelimit"].startswith('"minute";r=0;t=')
    limited = _is_problem(answers[3], 429, "rate_limited")
    assert 1 <= int(answers[3].headers["retry-after"]) <= 60 and "3" in limited["detail"]
    assert client.get("/account", headers=bob.headers).status_code == 200  # per key, not global


def test_another_users_objects_are_404_never_403(session, alice, bob, client):
    from core.jobs import queue

    job = queue.insert_job(session, user_id=bob.user.id, upload_ids=[])
    session.commit()
    model = add_model(session, bob.user)
    for method, path in (("GET", f"/jobs/{job.id}"), ("DELETE", f"/jobs/{job.id}"), ("GET", f"/jobs/{job.id}/events"),
                         ("GET", f"/models/{model.id}"), ("DELETE", f"/models/{model.id}")):
        _is_problem(client.request(method, path, headers=alice.headers), 404, "not_found" if "models" in path else
                    "job_not_found")
    _is_problem(client.patch(f"/models/{model.id}", headers=alice.headers, json={"name": "mine"}), 404, "not_found")
    assert client.get(f"/models/{model.id}", headers=bob.headers).status_code == 200


def test_models_read_rename_list_and_delete_with_plan_formats(session, alice, client):
    model = add_model(session, alice.user, name="vase")
    got = client.get(f"/models/{model.id}", headers=alice.headers).json()
    assert set(got["downloads"]) == {"glb", "obj", "stl"}  # the free plan's formats
    assert "/files/" in got["downloads"]["glb"] and "/api/v1/downloads/" in got["downloads"]["stl"]
    renamed = client.patch(f"/models/{model.id}", headers=alice.headers, json={"name": "  Big vase "})
    assert renamed.json()["name"] == "Big vase"
    assert [m["id"] for m in client.get("/models", headers=alice.headers).json()["data"]] == [model.id]
    assert client.delete(f"/models/{model.id}", headers=alice.headers).status_code == 204
    _is_problem(client.get(f"/models/{model.id}", headers=alice.headers), 404, "not_found")


def test_sse_streams_progress_until_the_job_ends(session, alice, client):
    from core.jobs import queue

    job = queue.insert_job(session, user_id=alice.user.id, upload_ids=[])
    job.status, job.progress_pct, job.model_id = JobStatus.SUCCEEDED, 100, None
    session.commit()
    with client.stream("GET", f"/jobs/{job.id}/events", headers=alice.headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert "event: progress" in text and "event: end" in text and '"status":"succeeded"' in text


def test_the_openapi_document_and_the_docs_page_load_nothing_from_other_hosts(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/models", "/models/{model_id}", "/account",
                 "/webhooks"):
        assert path in doc["paths"]
    page = client.get("/docs").text
    assert "openapi.json" in page and "http://" not in page and "https://" not in page and "//cdn" not in page


def test_webhooks_are_registered_with_a_secret_shown_once_and_ssrf_refused(alice, bob, client):
    for url in ("http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/"):
        body = _is_problem(client.post("/webhooks", headers=alice.headers,
                                       json={"url": url, "event_types": ["job.succeeded"]}), 422, "webhook_url_refused")
        assert "public addresses" in body["detail"]
    made = client.post("/webhooks", headers=alice.headers,
                       json={"url": "https://93.184.215.14/hook", "event_types": ["job.succeeded", "webhook.test"]})
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    listed = client.get("/webhooks", headers=alice.headers).json()["data"]
    assert [w["id"] for w in listed] == [made.json()["id"]] and "secret" not in listed[0]
    _is_problem(client.delete(f"/webhooks/{made.json()['id']}", headers=bob.headers), 404, "not_found")
    assert client.delete(f"/webhooks/{made.json()['id']}", headers=alice.headers).status_code == 204
