"""Installing, listing and removing segmenter files in ``MODELS_DIR`` (the ``models`` operator commands).

A download goes to ``FILE.part`` and becomes ``FILE`` only when its MD5 matches the pinned checksum,
with one rename, so the engine (which looks only for ``FILE``) never sees half a file. A cut
connection is resumed with an HTTP Range request (a few times within one command; the ``.part`` is
kept for the next command otherwise); a wrong checksum deletes the ``.part``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import TransientError, ValidationError
from core.generation.learned import MODELS, SegmenterSpec

CHUNK_BYTES = 1 << 20
RESUME_ATTEMPTS = 3  # tries within one pull before the .part is left for the next run
PART_SUFFIX = ".part"


class UnknownModel(ValidationError):
    """No segmenter of that name is known."""


class ChecksumMismatch(ValidationError):
    """The downloaded file does not match its pinned checksum; it was deleted."""


class DownloadFailed(TransientError):
    """The model file could not be downloaded."""


@dataclass(frozen=True)
class Installed:
    name: str
    filename: str
    size_bytes: int
    licence: str


def spec(name: str) -> SegmenterSpec:
    if name not in MODELS:
        raise UnknownModel(f"No segmenter is named {name!r}; known: {', '.join(sorted(MODELS))}.")
    return MODELS[name]


def checksum(name: str) -> str:
    """The MD5 a file must have: the pinned one, unless MODELS_CHECKSUMS replaces it."""
    from core.config import get_settings

    return get_settings().models_checksums.get(name, spec(name).md5).lower()


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def pull(name: str, *, directory: Path, base_url: str, timeout: float, attempts: int = RESUME_ATTEMPTS,
         say: Callable[[str], object] = print) -> Path:
    """Download ``name`` into ``directory`` and verify it; returns the installed file's path."""
    model = spec(name)
    expected = checksum(name)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / model.filename
    if target.is_file() and _md5(target) == expected:
        say(f"{name} is already installed ({target}).")
        return target
    part = target.with_name(target.name + PART_SUFFIX)
    url = base_url.rstrip("/") + "/" + model.filename
    last_error: BaseException | None = None
    for _ in range(attempts):
        try:
            _fetch(url, part, timeout)
            last_error = None
            break
        except (urllib.error.URLError, OSError, http.client.HTTPException, _Short) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code not in (408, 429, 500, 502, 503, 504):
                part.unlink(missing_ok=True)
                raise DownloadFailed(f"Could not download {name} from {url}: HTTP {exc.code}.") from exc
            last_error = exc
    if last_error is not None:
        kept = part.stat().st_size if part.exists() else 0
        raise DownloadFailed(f"Could not download {name} from {url} ({_reason(last_error)}); "
                             f"{kept} bytes are kept in {part.name} and the next pull resumes from there.")
    got = _md5(part)
    if got != expected:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{model.filename} has MD5 {got}, not the pinned {expected}: it was deleted "
                               "and nothing was installed.")
    os.replace(part, target)
    say(f"Installed {name} ({target}, {target.stat().st_size} bytes).")
    return target


class _Short(Exception):
    """The connection ended before the announced length."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _fetch(url: str, part: Path, timeout: float) -> None:
    """Fetch ``url`` into ``part``, continuing what is there with a Range request."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "vorm-models/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - an operator's https URL
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already whole (or longer): start it again
            part.unlink()
        raise
    with response:
        resumed = have and response.status == 206
        mode = "ab" if resumed else "wb"
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isascii() and length.isdigit() else None
        received = 0
        with part.open(mode) as fh:
            while True:
                try:
                    block = response.read(CHUNK_BYTES)
                except (TimeoutError, http.client.IncompleteRead, ConnectionError) as exc:
                    raise _Short(str(exc) or "connection cut") from exc
                if not block:
                    break
                fh.write(block)
                received += len(block)
    if expected is not None and received < expected:
        raise _Short(f"connection cut after {received} of {expected} bytes")


def listing(directory: Path) -> list[Installed]:
    """The installed models, best first."""
    out = []
    for model in MODELS.values():
        path = directory / model.filename
        if path.is_file():
            out.append(Installed(model.name, model.filename, path.stat().st_size, model.licence))
    return out


def remove(name: str, *, directory: Path) -> bool:
    """Delete ``name``'s file (and any partial download); whether there was one."""
    model = spec(name)
    target = directory / model.filename
    part = target.with_name(target.name + PART_SUFFIX)
    existed = target.exists() or part.exists()
    target.unlink(missing_ok=True)
    part.unlink(missing_ok=True)
    return existed
