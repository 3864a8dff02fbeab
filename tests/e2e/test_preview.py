"""The model page's 3D preview of a robot, a horse and a carve, in headless Chromium.

The canvases go to artifacts/screenshots/preview-*.png: look at them. Curved parts should look
round (smoothed normals), boxy parts keep their edges, and the colours come from the photos.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from tests.core.generation import builders
from tests.e2e.test_journey import canvas_stats, register, wait_app

pytestmark = pytest.mark.e2e


def _models(product, email: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Three real engine results stored as models of this user, with the preview the worker would write."""
    from sqlmodel import select

    from core.generation import GenerationOptions, generate, preview_faces
    from core.models import Model3D, User
    from core.storage import get_storage

    inputs = {
        "robot": ([builders.png(builders.robot())], "inflate"),
        "horse": ([builders.png(builders.horse())], "inflate"),
        "carve": ([builders.png(v) for v in builders.turntable_views(
            8, 256, [(0, -20, 0, 60), (0, 45, 0, 35), (50, 0, 20, 25)])], "carve"),
    }
    out = {}
    with product.db_session() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        for name, (images, mode) in inputs.items():
            result = generate(images, GenerationOptions(mode=mode, faces=20_000, resolution=320))
            prefix = f"users/{user.id}/models/{name}-{uuid.uuid4().hex[:6]}"
            storage = get_storage()
            storage.put(f"{prefix}/model.glb", result.glb, "model/gltf-binary")
            storage.put(f"{prefix}/preview.json", json.dumps(preview_faces(result.mesh, max_faces=6000)).encode())
            model = Model3D(user_id=user.id, name=name, mode=mode, storage_prefix=prefix,
                            glb_key=f"{prefix}/model.glb", preview_key=f"{prefix}/preview.json",
                            faces=result.stats["faces"], watertight=True, extents=result.stats["extents"])
            session.add(model)
            session.commit()
            out[name] = int(model.id)
    return out


def test_preview_of_a_robot_a_horse_and_a_carve(page, product) -> None:  # type: ignore[no-untyped-def]
    email = f"preview-{uuid.uuid4().hex[:8]}@example.com"
    register(page, product.url, email)
    for name, model_id in _models(product, email).items():
        page.goto(f"{product.url}/model?id={model_id}")
        wait_app(page)
        pixels = canvas_stats(page, f"preview-{name}")
        background = pixels[2, 2]
        drawn = np.abs(pixels - background).sum(axis=2) > 30
        assert drawn.mean() > 0.03, f"{name}: the preview is (nearly) empty"
        shades = np.unique(pixels[drawn].reshape(-1, 3) // 8, axis=0)
        assert len(shades) > 40, f"{name}: the preview is flat"
