"""The privacy policy's published versions, read from ``core/privacy/policies/`` (or ``POLICY_DIR``).

``versions.toml`` is re-read when it changes, so a new version added on a running
server is seen by the next page run and the next worker tick without a restart.
"""

from __future__ import annotations

import functools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent / "policies"


def policy_dir() -> Path:
    return Path(os.environ.get("POLICY_DIR") or DEFAULT_POLICY_DIR)


@dataclass(frozen=True)
class PolicyDoc:
    version: str
    last_updated: str
    material: bool
    files: dict[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        name = self.files.get(lang) or self.files.get("nl") or next(iter(self.files.values()))
        return (policy_dir() / name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def _load(path: Path, _mtime_ns: int) -> tuple[PolicyDoc, ...]:
    data = tomllib.loads(path.read_text())
    return tuple(PolicyDoc(**v) for v in data["version"])


def all_versions() -> tuple[PolicyDoc, ...]:
    path = policy_dir() / "versions.toml"
    return _load(path, path.stat().st_mtime_ns)


def current() -> PolicyDoc:
    return all_versions()[-1]
