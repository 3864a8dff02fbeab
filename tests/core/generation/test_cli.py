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


def test_batch_makes_one_model_per_image_and_goes_on_after_a_bad_one(tmp_path, capsys) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(builders.png(builders.rgba(builders.figure_mask(96))))
    (src / "b.PNG").write_bytes(builders.png(builders.rgba(builders.disk_mask(96, 30))))
    (src / "c.png").write_bytes(b"")  # refused, the others still made
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    code = main(["--batch", str(src), "-o", str(out), "--format", "stl", "--faces", "2000", "--resolution", "96"])
    captured = capsys.readouterr()
    assert code == 2
    assert sorted(p.name for p in out.iterdir()) == ["a.stl", "b.stl"]
    assert all(trimesh.load(p).is_watertight for p in out.iterdir())
    assert "error: c.png: The file is empty." in captured.err
    assert "3/3" in captured.err and "images/s" in captured.err
    assert captured.out.startswith("batch: 2 written, 1 refused, 0 failed")
    assert not list(out.glob(".*part"))


def test_batch_with_two_processes_makes_the_same_models(tmp_path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        (src / f"{i}.png").write_bytes(builders.png(builders.rgba(builders.disk_mask(96, 20 + 5 * i))))
    (src / "bad.png").write_bytes(b"not a png")
    runs = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        proc = subprocess.run([sys.executable, "-m", "core.generation", "--batch", str(src), "-o", str(out),
                               "--format", "stl", "--faces", "2000", "--resolution", "96", "--jobs", str(jobs)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout.startswith("batch: 4 written, 1 refused, 0 failed"), proc.stdout
        assert "error: bad.png:" in proc.stderr
        runs[jobs] = {p.name: trimesh.load(p) for p in sorted(out.iterdir())}
    assert sorted(runs[2]) == sorted(runs[1]) == [f"{i}.stl" for i in range(4)]
    for name, mesh in runs[2].items():
        assert mesh.is_watertight and abs(mesh.volume - runs[1][name].volume) < 1e-6 * abs(runs[1][name].volume)


def test_batch_refuses_a_missing_folder_and_carve(tmp_path, capsys) -> None:
    assert main(["--batch", str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")]) == 2
    (tmp_path / "a.png").write_bytes(builders.png(builders.rgba(builders.disk_mask(64, 20))))
    assert main(["--batch", str(tmp_path), "-o", str(tmp_path / "out"), "--mode", "carve"]) == 2
    assert main(["--batch", str(tmp_path), "-o", str(tmp_path / "out"), "--jobs", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("error: ") == 3 and not (tmp_path / "out").exists()


_HEAVY = "import sys; heavy = {'torch', 'trimesh', 'scipy', 'skimage', 'cv2'} & set(sys.modules); print(sorted(heavy))"


@pytest.mark.parametrize("args", [["--help"], ["{empty}", "-o", "{out}"], ["{good}", "{good}", "-o", "{out}"]])
def test_help_and_input_errors_import_nothing_heavy(tmp_path, args: list[str]) -> None:
    """--help and bad input answer before torch, trimesh and SciPy load (the CLI's start-up time)."""
    empty, good = tmp_path / "empty.png", tmp_path / "good.png"
    empty.write_bytes(b"")
    good.write_bytes(builders.png(builders.rgba(builders.disk_mask(64, 20))))
    argv = [a.format(empty=empty, good=good, out=tmp_path / "o.glb") for a in args] + ["--mode", "inflate"]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['core.generation', *{argv!r}]\n"
        "try:\n    runpy.run_module('core.generation', run_name='__main__')\n"
        "except SystemExit as e:\n    print('exit', e.code)\n"
        f"{_HEAVY}\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]", done.stdout + done.stderr
    assert lines[-2] == ("exit 0" if args == ["--help"] else "exit 2")


def test_an_inflate_on_the_cpu_needs_no_torch_or_trimesh(tmp_path) -> None:
    """One inflate on the CPU runs on NumPy and writes its GLB itself: torch's and trimesh's imports would
    take longer than the whole run."""
    good = tmp_path / "good.png"
    good.write_bytes(builders.png(builders.rgba(builders.disk_mask(64, 20))))
    argv = [str(good), "-o", str(tmp_path / "o.glb"), "--device", "cpu", "--faces", "2000"]
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['core.generation', *{argv!r}]\n"
        "try:\n    runpy.run_module('core.generation', run_name='__main__')\n"
        "except SystemExit as e:\n    print('exit', e.code)\n"
        "print(sorted({'torch', 'trimesh', 'skimage.morphology', 'scipy.signal'} & set(sys.modules)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "[]" and (tmp_path / "o.glb").exists(), done.stdout + done.stderr
