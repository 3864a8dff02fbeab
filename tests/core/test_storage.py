"""Storage backends: local folder and S3 on moto's server over real HTTP."""

import time
import urllib.error
import urllib.request

import boto3
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.config import public_url
from core.errors import NotFound
from core.routes import ROUTES
from core.storage import S3Storage, delete_prefix, get_storage, user_prefix


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def exercise(storage) -> None:
    storage.put("users/1/uploads/a.png", b"one")
    storage.put("users/1/models/m/model.glb", b"two")
    storage.put("users/2/uploads/b.png", b"three")
    assert storage.get("users/1/uploads/a.png") == b"one"
    assert storage.exists("users/1/models/m/model.glb")
    assert sorted(storage.list(user_prefix(1))) == ["users/1/models/m/model.glb", "users/1/uploads/a.png"]
    assert delete_prefix(storage, user_prefix(1)) == 2
    assert list(storage.list(user_prefix(1))) == []
    assert storage.get("users/2/uploads/b.png") == b"three"
    with pytest.raises(NotFound):
        storage.get("users/1/uploads/a.png")
    for bad in ("../etc/passwd", "/abs", "users//x", "users/1/../2/b.png"):
        with pytest.raises(ValueError):
            storage.put(bad, b"x")


def test_local_storage_round_trip(db):
    exercise(get_storage())


def test_s3_storage_round_trip(s3_env):
    storage = get_storage()
    assert isinstance(storage, S3Storage)
    exercise(storage)


def test_s3_objects_are_private_and_encrypted_when_configured(s3_env, moto_server, monkeypatch):
    monkeypatch.setenv("S3_SSE", "AES256")
    from core.config import reset_settings
    from core.storage import reset_storage

    reset_settings()
    reset_storage()
    get_storage().put("users/5/uploads/x.png", b"secret")
    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-1")
    head = client.head_object(Bucket=s3_env, Key="users/5/uploads/x.png")
    assert head["ServerSideEncryption"] == "AES256"
    # Not readable without a signature.
    status, _ = fetch(f"{moto_server}/{s3_env}/users/5/uploads/x.png")
    assert status == 403


def test_s3_presigned_url_returns_bytes_and_expires(s3_env):
    storage = get_storage()
    storage.put("users/7/models/m/model.glb", b"glTF-bytes")
    status, body = fetch(storage.url("users/7/models/m/model.glb", filename="model.glb"))
    assert (status, body) == (200, b"glTF-bytes")
    short = storage.url("users/7/models/m/model.glb", expires_seconds=1)
    time.sleep(2.1)
    status, body = fetch(short)
    assert status == 403 and b"expired" in body.lower()


def test_s3_deletes_go_in_batches_of_1000(s3_env):
    storage = get_storage()
    keys = [f"users/9/uploads/{i:05d}.png" for i in range(2345)]
    calls = []
    real = storage.client.delete_objects

    def counting(**kwargs):
        calls.append(len(kwargs["Delete"]["Objects"]))
        return real(**kwargs)

    storage.client.delete_objects = counting
    for key in keys[:5]:
        storage.put(key, b"x")
    assert storage.delete_many(iter(keys)) == 2345
    assert calls == [1000, 1000, 345]
    assert list(storage.list("users/9/")) == []


def test_local_signed_url_is_served_and_refused_when_tampered_or_expired(db):
    storage = get_storage()
    storage.put("users/3/models/m/model.glb", b"local-glb")
    client = TestClient(Starlette(routes=ROUTES))
    url = storage.url("users/3/models/m/model.glb", filename="model.glb")
    assert url.startswith(public_url() + "/files/")
    path = url.removeprefix(public_url())
    resp = client.get(path)
    assert resp.status_code == 200 and resp.content == b"local-glb"
    assert resp.headers["content-type"] == "model/gltf-binary"
    assert client.get(path[:-3] + "abc").status_code == 403
    # A token for one key cannot be edited to name another user's key.
    token = path.split("/files/")[1]
    body, mac = token.split(".")
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["k"] = "users/4/models/m/model.glb"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert client.get(f"/files/{forged}.{mac}").status_code == 403
    expired = storage.url("users/3/models/m/model.glb", expires_seconds=-1).removeprefix(public_url())
    assert client.get(expired).status_code == 403
