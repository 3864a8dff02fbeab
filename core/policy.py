"""The privacy policy's published versions, read from ``core/policies/``."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

POLICY_DIR = Path(__file__).resolve().parent / "policies"


@dataclass(frozen=True)
class PolicyDoc:
    version: str
    last_updated: str
    material: bool
    files: dict[str, str] = field(default_factory=dict)

    def text(self, lang: str) -> str:
        name = self.files.get(lang) or self.files.get("nl") or next(iter(self.files.values()))
        return (POLICY_DIR / name).read_text(encoding="utf-8")


@functools.cache
def all_versions() -> tuple[PolicyDoc, ...]:
    data = tomllib.loads((POLICY_DIR / "versions.toml").read_text())
    return tuple(PolicyDoc(**v) for v in data["version"])


def current() -> PolicyDoc:
    return all_versions()[-1]
