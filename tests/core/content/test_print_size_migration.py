"""Migration 0010 on a database with models: those made in mm keep their size, "auto" becomes the mode used."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from core.db import alembic_config


def test_existing_models_get_a_print_size_and_their_real_mode(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0006")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user (id, email, password_hash, name, role, plan, locale, failed_logins, "
                             "created_at, updated_at) VALUES (1, 'a@b.example', 'x', '', 'user', 'free', 'en', 0, "
                             "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        rows = [  # (id, mode, extents, stats)
            (1, "auto", [0.569, 1.0, 0.365], {"mode": "inflate", "units": "normalised"}),
            (2, "carve", [40.0, 80.0, 20.0], {"mode": "carve", "units": "mm"}),
            (3, "auto", [1.0, 0.5, 0.5], {}),
        ]
        for model_id, mode, extents, stats in rows:
            conn.execute(sa.text(
                "INSERT INTO model3d (id, user_id, name, mode, storage_prefix, glb_key, thumbnail_keys, faces, "
                "watertight, extents, stats, created_at) VALUES (:id, 1, 'm', :mode, 'p/', 'p/m.glb', '{}', 0, 1, "
                ":extents, :stats, '2026-01-01 00:00:00')"),
                {"id": model_id, "mode": mode, "extents": json.dumps(extents), "stats": json.dumps(stats)})
    command.upgrade(alembic_config(url), "0010")
    with engine.connect() as conn:
        got = conn.execute(sa.text("SELECT id, mode, print_size_mm FROM model3d ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in got] == [(1, "inflate", 100.0), (2, "carve", 80.0), (3, "auto", 100.0)]
