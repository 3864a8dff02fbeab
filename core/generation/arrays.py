"""A finished model as plain arrays, for the paths that need no trimesh.

trimesh takes about half a second to import, a third of a whole command-line
inflate. The engine builds :class:`MeshArrays`; writing the GLB reads them
directly, and :attr:`GenerationResult.mesh` turns them into a ``trimesh.Trimesh``
the first time someone asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import trimesh
    from PIL import Image


@dataclass
class MeshArrays:
    """Vertices and faces with a texture (uv, v up as in trimesh) or per-vertex RGBA colours."""

    vertices: np.ndarray  #: (n, 3) float
    faces: np.ndarray  #: (m, 3) int
    uv: np.ndarray | None = None  #: (n, 2) texture coordinates, v pointing up
    texture: Image.Image | None = None
    vertex_colors: np.ndarray | None = None  #: (n, 4) uint8 RGBA

    def to_trimesh(self) -> trimesh.Trimesh:
        import trimesh

        if self.uv is not None and self.texture is not None:
            material = trimesh.visual.material.PBRMaterial(
                name="vorm", baseColorTexture=self.texture, metallicFactor=0.0, roughnessFactor=0.85
            )
            visual = trimesh.visual.TextureVisuals(uv=self.uv, material=material)
            return trimesh.Trimesh(self.vertices, self.faces, visual=visual, process=False)
        return trimesh.Trimesh(self.vertices, self.faces, vertex_colors=self.vertex_colors, process=False)


def texture_of(mesh: MeshArrays | trimesh.Trimesh) -> tuple[np.ndarray, Image.Image] | None:
    """``(uv, image)`` of a textured mesh (uv with v up), else None."""
    if isinstance(mesh, MeshArrays):
        if mesh.uv is not None and mesh.texture is not None:
            return np.asarray(mesh.uv, np.float64), mesh.texture
        return None
    import trimesh

    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if image is not None:
            return np.asarray(visual.uv, np.float64), image
    return None


def stored_vertex_colors(mesh: MeshArrays | trimesh.Trimesh) -> np.ndarray | None:
    """(n, 3) uint8 per-vertex colours stored on the mesh (not from a texture), else None."""
    if isinstance(mesh, MeshArrays):
        return None if mesh.vertex_colors is None else np.asarray(mesh.vertex_colors)[:, :3].astype(np.uint8)
    import trimesh

    visual = mesh.visual
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        return np.asarray(visual.vertex_colors)[:, :3].astype(np.uint8)
    return None
