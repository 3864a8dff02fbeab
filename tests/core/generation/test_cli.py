"""The command line: every mode and format, and bad input with one line and no partial file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh

from core.generation.__main__ import main
from tests.core.generation import builders

ROOT = Path(__file__).resolve().parents[3]
QUICK = ["--faces", "3000", "--resolution", "128"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, list[Path]]:
    d = tmp_path_factory.mktemp("inputs")
    one = d / "figure.png"
    one.write_bytes(builders.png(builders.rgba(builders.figure_mask(128))))
    views = []
    for i, view in enumerate(builders.turntable_views(6, 128, [(0, 0, 0, 40), (30, 20, 10, 18)])):
        p = d / f"view{i}.png"
        p.write_bytes(builders.png(view))
        views.append(p)
    return {"one": [one], "views": views}


@pytest.mark.parametrize("fmt", ["glb", "obj", "stl", "ply", "3mf"])
@pytest.mark.parametrize("mode", ["inflate", "relief", "carve", "auto"])
def test_every_mode_and_format(inputs, tmp_path, capsys, mode: str, fmt: str) -> None:
    src = inputs["views"] if mode in ("carve",) else inputs["one"]
    out = tmp_path / f"result.{fmt}"
    code = main([*map(str, src), "--mode", mode, "-o", str(out), *QUICK])
    assert code == 0, capsys.readouterr().err
    mesh = trimesh.load(out, force="mesh")
    assert len(mesh.faces) > 100 and mesh.is_watertight
    assert abs(mesh.extents.max() - 1.0) < 1e-3
    if fmt == "obj":
        assert (tmp_path / "result.mtl").exists()
    assert not list(tmp_path.glob("*.part"))


def test_size_and_thumbnails(inputs, tmp_path, capsys) -> None:
    out = tmp_path / "print.stl"
    thumbs = tmp_path / "thumbs"
    code = main([str(inputs["one"][0]), "-o", str(out), "--size-mm", "60", "--thumbnails", str(thumbs), *QUICK])
    assert code == 0
    assert abs(trimesh.load(out).extents.max() - 60.0) < 1e-3
    assert {p.name for p in thumbs.iterdir()} >= {"front.png", "three_quarter.png", "side.png"}


def _bad(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    "case",
    ["truncated", "empty", "text", "bomb", "empty_alpha", "all_white", "mismatch", "too_many", "format"],
)
def test_bad_input_one_line_and_no_output(tmp_path, capsys, case: str) -> None:
    good = builders.png(builders.rgba(builders.disk_mask(64, 20)))
    extra: list[str] = []
    out = tmp_path / "out.glb"
    if case == "truncated":
        srcs = [_bad(tmp_path, "a.png", good[: len(good) // 2])]
    elif case == "empty":
        srcs = [_bad(tmp_path, "a.png", b"")]
    elif case == "text":
        srcs = [_bad(tmp_path, "a.png", b"just some words\n")]
    elif case == "bomb":
        srcs = [_bad(tmp_path, "a.png", builders.bomb_png())]
    elif case == "empty_alpha":
        srcs = [_bad(tmp_path, "a.png", builders.png(np.zeros((64, 64, 4), np.uint8)))]
    elif case == "all_white":
        srcs = [_bad(tmp_path, "a.png", builders.png(np.full((64, 64, 3), 255, np.uint8)))]
    elif case == "mismatch":
        other = builders.png(builders.rgba(builders.disk_mask(80, 20)))
        srcs = [_bad(tmp_path, "a.png", good), _bad(tmp_path, "b.png", other)]
        extra = ["--mode", "carve"]
    elif case == "too_many":
        srcs = [_bad(tmp_path, f"v{i}.png", good) for i in range(65)]
    else:
        srcs = [_bad(tmp_path, "a.png", good)]
        out = tmp_path / "out.fbx"
    code = main([*map(str, srcs), "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*part"))


def test_real_process(tmp_path) -> None:
    """One run as a separate process: the module entry point, exit codes and stderr."""
    src = tmp_path / "in.png"
    src.write_bytes(builders.png(builders.rgba(builders.figure_mask(96))))
    out = tmp_path / "out.glb"
    ok = subprocess.run(
        [sys.executable, "-m", "core.generation", str(src), "-o", str(out), "--faces", "2000"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert out.read_bytes()[:4] == b"glTF"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    fail = subprocess.run(
        [sys.executable, "-m", "core.generation", str(bad), "-o", str(tmp_path / "no.glb")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert fail.returncode == 2 and fail.stderr.strip().count("\n") == 0 and fail.stderr.startswith("error:")
    assert not (tmp_path / "no.glb").exists()
