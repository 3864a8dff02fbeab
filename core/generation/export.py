"""Writing models out (GLB, OBJ+MTL+PNG, STL, PLY, 3MF) and reading our GLB back.

``export_mesh`` returns file names mapped to bytes. Every file is called
``<name>.<ext>`` (``name`` defaults to ``model``); OBJ comes with
``<name>.mtl`` and, when textured, ``<name>.png``, referenced by those relative
names, so the three must be stored side by side.

Coordinates are the mesh's own: normalised (largest extent 1), or millimetres
when a print size was asked for; the library scales downloads to a model's print
size (``scaled_glb`` for GLB, in metres). STL and 3MF carry no colour; PLY carries
vertex colours.
"""

from __future__ import annotations

import io
import json
import struct
from typing import TYPE_CHECKING

import numpy as np

from core.generation.arrays import MeshArrays, texture_of
from core.generation.colors import vertex_colors
from core.generation.errors import UnsupportedFormat
from core.generation.meshing import vertex_normals

if TYPE_CHECKING:
    import trimesh

# trimesh (half a second to import) is loaded for reading GLBs and for STL, PLY and 3MF only.

FORMATS = ("glb", "obj", "stl", "ply", "3mf")
TEXTURE_JPEG_QUALITY = 92

_FLOAT, _UBYTE, _UINT = 5126, 5121, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


def to_glb(mesh: MeshArrays | trimesh.Trimesh, unit: str | None = None) -> bytes:
    """A binary glTF 2.0 with normals, a PBR material, and the texture (JPEG) or vertex colours."""
    vertices = np.ascontiguousarray(mesh.vertices, np.float32)
    faces = np.ascontiguousarray(mesh.faces, np.uint32)
    normals = vertex_normals(np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces)).astype(np.float32)
    chunks: list[bytes] = []
    views: list[dict] = []
    accessors: list[dict] = []
    offset = 0

    def add(data: bytes, target: int | None = None) -> int:
        nonlocal offset
        view = {"buffer": 0, "byteOffset": offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        views.append(view)
        pad = (-len(data)) % 4
        chunks.append(data + b"\0" * pad)
        offset += len(data) + pad
        return len(views) - 1

    def accessor(arr: np.ndarray, ctype: int, kind: str, target: int, normalized: bool = False) -> int:
        acc = {"bufferView": add(arr.tobytes(), target), "componentType": ctype, "count": len(arr), "type": kind}
        if normalized:
            acc["normalized"] = True
        if kind == "VEC3" and ctype == _FLOAT and not normalized:
            acc["min"] = arr.min(axis=0).tolist()
            acc["max"] = arr.max(axis=0).tolist()
        accessors.append(acc)
        return len(accessors) - 1

    attributes = {
        "POSITION": accessor(vertices, _FLOAT, "VEC3", _ARRAY_BUFFER),
        "NORMAL": accessor(normals, _FLOAT, "VEC3", _ARRAY_BUFFER),
    }
    material: dict = {
        "name": "vorm",
        "pbrMetallicRoughness": {"metallicFactor": 0.0, "roughnessFactor": 0.85},
    }
    gltf: dict = {"asset": {"version": "2.0", "generator": "vorm core.generation"}}
    textured = texture_of(mesh)
    if textured is not None:
        uv, image = textured
        # glTF's v runs down the image; trimesh's runs up.
        uv_gltf = np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1).astype(np.float32)
        attributes["TEXCOORD_0"] = accessor(uv_gltf, _FLOAT, "VEC2", _ARRAY_BUFFER)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=TEXTURE_JPEG_QUALITY)
        gltf["images"] = [{"bufferView": add(buf.getvalue()), "mimeType": "image/jpeg"}]
        gltf["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}]
        gltf["textures"] = [{"source": 0, "sampler": 0}]
        material["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}
    else:
        colors = np.concatenate(
            [vertex_colors(mesh), np.full((len(vertices), 1), 255, np.uint8)], axis=1
        ).astype(np.uint8)
        attributes["COLOR_0"] = accessor(colors, _UBYTE, "VEC4", _ARRAY_BUFFER, normalized=True)
    indices = accessor(faces.reshape(-1), _UINT, "SCALAR", _ELEMENT_ARRAY_BUFFER)
    primitive = {"attributes": attributes, "indices": indices, "material": 0}
    gltf.update(
        {
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"mesh": 0, "name": "model"}],
            "meshes": [{"name": "model", "primitives": [primitive]}],
            "materials": [material],
            "accessors": accessors,
            "bufferViews": views,
            "buffers": [{"byteLength": offset}],
        }
    )
    if unit:
        gltf["asset"]["extras"] = {"unit": unit}
    body = b"".join(chunks)
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    total = 12 + 8 + len(text) + 8 + len(body)
    return b"".join(
        [
            struct.pack("<4sII", b"glTF", 2, total),
            struct.pack("<I4s", len(text), b"JSON"),
            text,
            struct.pack("<I4s", len(body), b"BIN\0"),
            body,
        ]
    )


def _glb_chunks(data: bytes) -> tuple[dict, bytes]:
    """A GLB as written by :func:`to_glb`: its JSON and the binary chunk (with its header)."""
    try:
        magic, _version, _total = struct.unpack_from("<4sII", data, 0)
        json_len, kind = struct.unpack_from("<I4s", data, 12)
        if magic != b"glTF" or kind != b"JSON":
            raise ValueError("not a GLB")
        return json.loads(data[20 : 20 + json_len]), data[20 + json_len :]
    except (struct.error, UnicodeDecodeError) as err:
        raise ValueError("not a readable GLB") from err


def glb_extent(data: bytes) -> float:
    """The largest side of the bounding box of a GLB's first mesh, from its POSITION bounds."""
    gltf, _rest = _glb_chunks(data)
    try:
        position = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["POSITION"]]
        return float(max(hi - lo for lo, hi in zip(position["min"], position["max"], strict=True)))
    except (KeyError, IndexError, TypeError, ValueError) as err:
        raise ValueError("the GLB has no POSITION bounds") from err


def scaled_glb(data: bytes, factor: float) -> bytes:
    """The same GLB drawn ``factor`` times larger, through its root nodes' scale (lossless: the
    vertices and the texture are not re-encoded). The unit note of :func:`to_glb` is dropped, since
    the caller scales to glTF's own unit, the metre."""
    gltf, rest = _glb_chunks(data)
    for index in gltf.get("scenes", [{}])[gltf.get("scene", 0)].get("nodes", []):
        node = gltf["nodes"][index]
        # An outer uniform scale: f·M, which for translation, rotation, scale is (f·T, R, f·S).
        if "matrix" in node:  # column-major 4x4; its last row stays (0, 0, 0, 1)
            node["matrix"] = [float(m) * (1.0 if i % 4 == 3 else factor) for i, m in enumerate(node["matrix"])]
        else:
            node["scale"] = [float(s) * factor for s in node.get("scale", [1.0, 1.0, 1.0])]
            if "translation" in node:
                node["translation"] = [float(t) * factor for t in node["translation"]]
    extras = gltf.get("asset", {}).get("extras")
    if isinstance(extras, dict):
        extras.pop("unit", None)
        if not extras:
            del gltf["asset"]["extras"]
    text = json.dumps(gltf, separators=(",", ":")).encode()
    text += b" " * ((-len(text)) % 4)
    total = 12 + 8 + len(text) + len(rest)
    return b"".join([struct.pack("<4sII", b"glTF", 2, total), struct.pack("<I4s", len(text), b"JSON"), text, rest])


def load_glb(data: bytes) -> trimesh.Trimesh:
    """The stored GLB back as one mesh, with its texture or vertex colours, vertices as written."""
    import trimesh

    try:
        loaded = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh", process=False)
    except Exception as err:  # trimesh raises many kinds on bad input
        raise ValueError("not a readable GLB") from err
    if not isinstance(loaded, trimesh.Trimesh):
        raise ValueError("the GLB holds no mesh")
    visual = loaded.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is None:
        # trimesh drops COLOR_0 when the primitive also has a material; read it ourselves.
        colors = _glb_vertex_colors(data)
        if colors is not None and len(colors) == len(loaded.vertices):
            loaded.visual = trimesh.visual.ColorVisuals(loaded, vertex_colors=colors)
    return loaded


def _glb_vertex_colors(data: bytes) -> np.ndarray | None:
    """COLOR_0 of the first primitive of a GLB as written by :func:`to_glb` (uint8 RGBA)."""
    try:
        json_len = struct.unpack_from("<I", data, 12)[0]
        gltf = json.loads(data[20 : 20 + json_len])
        body = data[20 + json_len + 8 :]
        acc = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"]["COLOR_0"]]
        view = gltf["bufferViews"][acc["bufferView"]]
        if acc["componentType"] != _UBYTE or acc["type"] != "VEC4":
            return None
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        raw = np.frombuffer(body, np.uint8, count=acc["count"] * 4, offset=start)
        return raw.reshape(-1, 4).copy()
    except (KeyError, IndexError, ValueError, struct.error):
        return None


def export_mesh(mesh: MeshArrays | trimesh.Trimesh, fmt: str, name: str = "model") -> dict[str, bytes]:
    """File name -> bytes for one format: glb | obj | stl | ply | 3mf (see the module docstring)."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UnsupportedFormat()
    if fmt == "glb":
        return {f"{name}.glb": to_glb(mesh)}
    if fmt == "obj":
        return _obj(mesh, name)
    import trimesh

    plain = trimesh.Trimesh(np.asarray(mesh.vertices), np.asarray(mesh.faces), process=False)
    if fmt == "stl":
        return {f"{name}.stl": trimesh.exchange.stl.export_stl(plain)}
    if fmt == "ply":
        colors = np.concatenate([vertex_colors(mesh), np.full((len(plain.vertices), 1), 255, np.uint8)], axis=1)
        plain.visual = trimesh.visual.ColorVisuals(plain, vertex_colors=colors)
        return {f"{name}.ply": trimesh.exchange.ply.export_ply(plain, encoding="binary")}
    return {f"{name}.3mf": trimesh.exchange.threemf.export_3MF(plain)}


def _obj(mesh: MeshArrays | trimesh.Trimesh, name: str) -> dict[str, bytes]:
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64) + 1
    textured = texture_of(mesh)
    out = io.StringIO()
    out.write(f"# Vorm\nmtllib {name}.mtl\no {name}\n")
    mtl = f"newmtl {name}\nKa 1 1 1\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\n"
    files: dict[str, bytes] = {}
    if textured is not None:
        uv, image = textured
        np.savetxt(out, vertices, fmt="v %.6f %.6f %.6f")
        np.savetxt(out, uv, fmt="vt %.6f %.6f")
        out.write(f"usemtl {name}\n")
        np.savetxt(out, np.repeat(faces, 2, axis=1), fmt="f %d/%d %d/%d %d/%d")
        mtl += f"map_Kd {name}.png\n"
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG", compress_level=3)
        files[f"{name}.png"] = png.getvalue()
    else:
        # Vertex colours as the widely read "v x y z r g b" extension.
        colors = vertex_colors(mesh).astype(np.float64) / 255.0
        np.savetxt(out, np.concatenate([vertices, colors], axis=1), fmt="v %.6f %.6f %.6f %.4f %.4f %.4f")
        out.write(f"usemtl {name}\n")
        np.savetxt(out, faces, fmt="f %d %d %d")
    files[f"{name}.obj"] = out.getvalue().encode()
    files[f"{name}.mtl"] = mtl.encode()
    return dict(sorted(files.items(), key=lambda kv: not kv[0].endswith(".obj")))
