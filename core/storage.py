"""Object storage: a local folder (the default) or S3 through boto3.

Objects are private. Readers get short-lived signed URLs: S3 presigns them;
the local backend signs a token that the web process serves at ``/files/<token>``.
Keys are laid out per user (``users/<id>/...``) so that erasure is a prefix delete.

Failures are classified here, where the backend is known, not guessed by callers:

- :class:`FileMissing` (a ``NotFound``): the object is not there;
- :class:`StorageUnavailable` (a ``TransientError``): the store cannot be reached or refuses
  for now (a local folder that is unmounted or read-only, a full disk, S3 connection errors,
  throttling and 5xx answers). Worth retrying later; the worker backs off without using up
  an attempt. Its message never carries the path or the backend's text, which go to the log
  through ``__cause__`` and :attr:`StorageUnavailable.detail`;
- anything else (a bad key, S3 access denied) is a bug or a configuration error and propagates.
"""

from __future__ import annotations

import errno
import functools
import logging
import mimetypes
import os
import stat
import tempfile
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core import config
from core.config import Settings, get_settings
from core.errors import NotFound, TransientError, VormError

log = logging.getLogger(__name__)

S3_DELETE_BATCH = 1000  # the most keys one DeleteObjects request takes
LOCAL_TEMP_PREFIX = ".tmp-"  # a local write in progress (or one killed half-way)
#: S3 error codes that mean "not now" rather than "never".
S3_TRANSIENT_CODES = frozenset({"SlowDown", "RequestTimeout", "RequestTimeTooSkewed", "InternalError",
                                "ServiceUnavailable", "Throttling", "ThrottlingException", "RequestLimitExceeded",
                                "TooManyRequests", "BandwidthLimitExceeded", "OperationAborted"})


class FileMissing(NotFound):
    """The file does not exist (any more)."""

    code = "file_missing"


class StorageUnavailable(TransientError):
    """The file storage is temporarily unavailable. Please try again in a few minutes."""

    code = "storage_unavailable"

    def __init__(self, detail: str = "") -> None:
        super().__init__()
        #: For operators and logs only (it may name server paths); never shown to users.
        self.detail = detail


@dataclass(frozen=True)
class StoredObject:
    """One object as listed, with its last-modified time (the orphan sweep's age)."""

    key: str
    modified_at: datetime


class Storage(Protocol):
    def put(self, key: str, data: bytes, content_type: str | None = None) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> Iterator[str]: ...
    def list_objects(self, prefix: str) -> Iterator[StoredObject]: ...
    def delete_many(self, keys: Iterable[str]) -> int: ...
    def url(self, key: str, *, expires_seconds: int | None = None, filename: str | None = None) -> str: ...


def user_prefix(user_id: int) -> str:
    return f"users/{int(user_id)}/"


def delete_prefix(storage: Storage, prefix: str) -> int:
    return storage.delete_many(storage.list(prefix))


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"invalid storage key: {key!r}")
    return key


def _content_type(key: str, given: str | None) -> str:
    return given or mimetypes.guess_type(key)[0] or "application/octet-stream"


class LocalStorage:
    """Files under one folder. Writes are atomic (temp file, then rename).

    The folder may be a mount; when it is gone or refuses writes, every operation raises
    StorageUnavailable rather than reporting objects as missing or a listing as empty.
    """

    def __init__(self, root: Path, *, public_url: str | None = None, presign_seconds: int = 300) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        # None: core.config.public_url() at each link, which follows the web process's real address.
        self.public_url = public_url.rstrip("/") if public_url is not None else None
        self.presign_seconds = presign_seconds

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _unavailable(self, exc: OSError) -> StorageUnavailable:
        return StorageUnavailable(f"local storage {self.root}: {type(exc).__name__}: {exc}")

    def _root_gone(self) -> bool:
        try:
            return not self.root.is_dir()
        except OSError:
            return True

    def _missing_or_unavailable(self, exc: OSError) -> VormError:
        # A missing file under a present root is missing (so is a folder, or a name no file can have);
        # a missing root is an unmounted store.
        no_such_file = isinstance(exc, FileNotFoundError | NotADirectoryError | IsADirectoryError) or (
            exc.errno == errno.ENAMETOOLONG)
        if no_such_file and not self._root_gone():
            return FileMissing()
        return self._unavailable(exc)

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        path = self._path(key)
        try:
            if self._root_gone():
                raise FileNotFoundError(f"the storage folder {self.root} is not there")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=LOCAL_TEMP_PREFIX)
        except OSError as exc:
            raise self._unavailable(exc) from exc
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise self._unavailable(exc) from exc
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise self._missing_or_unavailable(exc) from exc

    def exists(self, key: str) -> bool:
        try:
            return stat.S_ISREG(self._path(key).stat().st_mode)
        except OSError as exc:
            error = self._missing_or_unavailable(exc)
            if isinstance(error, FileMissing):
                return False
            raise error from exc

    def list(self, prefix: str) -> Iterator[str]:
        for obj in self._walk(prefix, temp=False):
            yield obj.key

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every object under ``prefix`` with its age, including abandoned temp files of killed writes."""
        return self._walk(prefix, temp=True)

    def _walk(self, prefix: str, *, temp: bool) -> Iterator[StoredObject]:
        if self._root_gone():
            raise self._unavailable(FileNotFoundError(f"the storage folder {self.root} is not there"))
        base = self.root / prefix if prefix else self.root
        start = base if base.is_dir() else base.parent
        if not start.exists():
            return

        def fail(exc: OSError) -> None:
            if isinstance(exc, FileNotFoundError) and not self._root_gone():
                return  # a folder deleted while we walk it (a concurrent delete): nothing to list there
            raise self._unavailable(exc) from exc

        for dirpath, dirs, files in os.walk(start, onerror=fail):
            dirs.sort()
            for name in sorted(files):
                if name.startswith(LOCAL_TEMP_PREFIX) and not temp:
                    continue
                path = Path(dirpath, name)
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    mtime = path.stat().st_mtime
                except FileNotFoundError:
                    continue  # deleted (or renamed into place) since os.walk saw it
                except OSError as exc:
                    raise self._unavailable(exc) from exc
                yield StoredObject(key, datetime.fromtimestamp(mtime, UTC))

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        parents: set[Path] = set()
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
                count += 1
                parents.add(path.parent)
            except OSError as exc:
                if isinstance(self._missing_or_unavailable(exc), StorageUnavailable):
                    raise self._unavailable(exc) from exc
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):
            # Empty folders are removed so that a user's erased prefix leaves nothing behind.
            while parent != self.root and parent.is_dir():
                try:
                    parent.rmdir()
                except OSError:
                    break
                parent = parent.parent
        return count

    def url(self, key: str, *, expires_seconds: int | None = None, filename: str | None = None) -> str:
        from core.signing import sign

        payload: dict[str, Any] = {"k": _check_key(key)}
        if filename:
            payload["f"] = filename
        token = sign(payload, purpose="file", ttl_seconds=expires_seconds or self.presign_seconds)
        base = self.public_url if self.public_url is not None else config.public_url()
        return f"{base}/files/{token}"


class S3Storage:
    """Private objects in one bucket; works with AWS and S3-compatible stores via endpoint_url."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.bucket = settings.s3_bucket
        self.sse = settings.s3_sse
        self.kms_key_id = settings.s3_kms_key_id
        self.presign_seconds = settings.presign_seconds
        self.client = client or self._make_client(settings)

    @staticmethod
    def _make_client(settings: Settings) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            signature_version="s3v4",
            retries={"max_attempts": 5, "mode": "standard"},
            # boto3 >= 1.36 adds CRC checksums by default, which many S3-compatible stores reject.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        )
        return boto3.client(
            "s3",
            region_name=settings.s3_region,
            endpoint_url=settings.s3_endpoint_url or None,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key,
            config=config,
        )

    def _wrap(self, exc: Exception) -> Exception:
        from botocore.exceptions import (
            ClientError,
            ConnectionError,
            HTTPClientError,
            IncompleteReadError,
            ResponseStreamingError,
        )

        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            if code in ("NoSuchKey", "404", "NotFound"):
                return FileMissing()
            if code in S3_TRANSIENT_CODES or code.startswith("5") or status >= 500 or status == 429:
                return StorageUnavailable(f"S3 {code or status}: {error.get('Message', '')}")
            return exc
        # Connection refused or reset, DNS, timeouts, a body cut off: the store, not the request.
        if isinstance(exc, ConnectionError | HTTPClientError | IncompleteReadError | ResponseStreamingError
                      | OSError):
            return StorageUnavailable(f"S3 not reachable: {type(exc).__name__}: {exc}")
        return exc

    def put(self, key: str, data: bytes, content_type: str | None = None) -> None:
        extra: dict[str, Any] = {"ContentType": _content_type(key, content_type)}
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
            if self.sse == "aws:kms" and self.kms_key_id:
                extra["SSEKMSKeyId"] = self.kms_key_id
        try:
            self.client.put_object(Bucket=self.bucket, Key=_check_key(key), Body=data, **extra)
        except Exception as exc:
            raise self._wrap(exc) from exc

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=_check_key(key))["Body"].read()
        except Exception as exc:
            raise self._wrap(exc) from exc

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=_check_key(key))
            return True
        except Exception as exc:
            wrapped = self._wrap(exc)
            if isinstance(wrapped, NotFound):
                return False
            raise wrapped from exc

    def list(self, prefix: str) -> Iterator[str]:
        for obj in self.list_objects(prefix):
            yield obj.key

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    yield StoredObject(obj["Key"], obj["LastModified"])
        except Exception as exc:
            raise self._wrap(exc) from exc

    def delete_many(self, keys: Iterable[str]) -> int:
        count = 0
        batch: list[str] = []
        for key in keys:
            batch.append(key)
            if len(batch) == S3_DELETE_BATCH:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, keys: Sequence[str]) -> int:
        try:
            resp = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
            )
        except Exception as exc:
            raise self._wrap(exc) from exc
        errors = resp.get("Errors", [])
        if errors:
            raise StorageUnavailable(f"S3 refused to delete {len(errors)} objects ({errors[0].get('Code')})")
        return len(keys)

    def url(self, key: str, *, expires_seconds: int | None = None, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": _check_key(key)}
        if filename:
            quoted = urllib.parse.quote(filename)
            params["ResponseContentDisposition"] = f"attachment; filename*=UTF-8''{quoted}"
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_seconds or self.presign_seconds
        )


def make_storage(settings: Settings | None = None) -> Storage:
    settings = settings or get_settings()
    if settings.storage_backend == "s3":
        return S3Storage(settings)
    return LocalStorage(settings.local_storage_dir, presign_seconds=settings.presign_seconds)


@functools.cache
def _storage_for(_key: tuple[Any, ...]) -> Storage:
    return make_storage()


def get_storage() -> Storage:
    """The process-wide storage client, built once per configuration."""
    s = get_settings()
    return _storage_for((s.storage_backend, str(s.local_storage_dir), s.s3_bucket, s.s3_endpoint_url))


def reset_storage() -> None:
    _storage_for.cache_clear()
