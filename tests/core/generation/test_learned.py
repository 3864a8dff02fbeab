"""The learned segmenter: rembg's preprocessing, the ``models`` commands over real HTTP, and a job whose
mask comes from an installed model.

No real weights can be fetched here, so the model is a tiny ONNX graph with u2netp's signature
(1×3×320×320 float in; a first output of 1×1×320×320) that draws a centred disk whatever it is shown:
a mask shaped like that disk can only have come from the model.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from core.generation import learned
from core.generation.learned import MODELS
from core.manage import main

SIDE = 320
DISK_RADIUS = 0.3  # of the side


def disk(side: int = SIDE, radius: float = DISK_RADIUS) -> np.ndarray:
    yy, xx = np.mgrid[0:side, 0:side]
    centre = (side - 1) / 2.0
    return ((xx - centre) ** 2 + (yy - centre) ** 2 <= (radius * side) ** 2)


def tiny_model() -> bytes:
    """An ONNX graph like u2netp's: the first output a centred disk (and a trace of the input), then its inverse."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = disk().astype(np.float32)[None, None] * 4.0 - 2.0  # logits-like: -2 outside, +2 inside
    nodes = [
        helper.make_node("ReduceMean", ["input.1"], ["mean"], keepdims=1),
        helper.make_node("Mul", ["mean", "tiny"], ["trace"]),
        helper.make_node("Add", ["disk", "trace"], ["d0"]),
        helper.make_node("Neg", ["d0"], ["d1"]),
    ]
    graph = helper.make_graph(
        nodes, "disk",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("d0", TensorProto.FLOAT, [1, 1, SIDE, SIDE]),
         helper.make_tensor_value_info("d1", TensorProto.FLOAT, [1, 1, SIDE, SIDE])],
        [numpy_helper.from_array(shape, "disk"), numpy_helper.from_array(np.float32([1e-3]), "tiny")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


@pytest.fixture(autouse=True)
def _no_model_left_behind() -> Iterator[None]:
    """Settings stay cached after a test; a model installed under them would serve the next tests' masks."""
    yield
    import shutil
    import tempfile

    from core.config import get_settings, reset_settings

    directory = get_settings().models_path
    if directory.resolve().is_relative_to(Path(tempfile.gettempdir()).resolve()):  # never a developer's own
        shutil.rmtree(directory, ignore_errors=True)
    reset_settings()


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return tiny_model()


@pytest.fixture
def models_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer, model_bytes: bytes) -> Path:
    """MODELS_DIR in tmp, the base URL on the local server, and the test model's checksum for u2netp."""
    from core.config import reset_settings

    directory = tmp_path / "models"
    monkeypatch.setenv("MODELS_DIR", str(directory))
    monkeypatch.setenv("MODELS_BASE_URL", httpserver.url_for("/release/"))
    monkeypatch.setenv("MODELS_CHECKSUMS", json.dumps({"u2netp": hashlib.md5(model_bytes).hexdigest()}))
    monkeypatch.setenv("MODELS_DOWNLOAD_TIMEOUT_SECONDS", "5")
    reset_settings()
    yield directory
    reset_settings()


# --- rembg's preprocessing -----------------------------------------------------------------


def rembg_normalize(img: Image.Image, mean, std, size) -> np.ndarray:  # type: ignore[no-untyped-def]
    """rembg's BaseSession.normalize, step by step as its source defines it."""
    im = img.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    im_ary = np.array(im)
    im_ary = im_ary / max(np.max(im_ary), 1e-6)
    tmp = np.zeros((im_ary.shape[0], im_ary.shape[1], 3))
    for c in range(3):
        tmp[:, :, c] = (im_ary[:, :, c] - mean[c]) / std[c]
    return np.expand_dims(tmp.transpose((2, 0, 1)), 0).astype(np.float32)


def rembg_predict_mask(out0: np.ndarray, img_size: tuple[int, int], sigmoid: bool) -> np.ndarray:
    """rembg's u2net/isnet/birefnet ``predict`` after the session run: the mask as 8-bit grey."""
    pred = out0[:, 0, :, :]
    if sigmoid:
        pred = 1 / (1 + np.exp(-pred))
    ma, mi = np.max(pred), np.min(pred)
    pred = np.squeeze((pred - mi) / (ma - mi))
    mask = Image.fromarray((pred * 255).astype("uint8"), mode="L")
    return np.asarray(mask.resize(img_size, Image.Resampling.LANCZOS))


def fixed_photo() -> np.ndarray:
    """A fixed, non-square photo (skimage's coffee), shrunk to keep the 1024² families quick."""
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((150, 100), Image.Resampling.BILINEAR))


@pytest.mark.parametrize("name", list(MODELS))
def test_preprocessing_and_output_follow_rembg(name: str) -> None:
    spec = MODELS[name]
    photo = fixed_photo()
    ours = learned.prepare(photo, spec)
    theirs = rembg_normalize(Image.fromarray(photo), spec.mean, spec.std, (spec.side, spec.side))
    assert ours.shape == (1, 3, spec.side, spec.side) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    rng = np.random.default_rng(7)
    raw = rng.normal(size=(1, 2, spec.side, spec.side)).astype(np.float32)
    raw[0, 0, spec.side // 4:spec.side // 2, spec.side // 3:] += 4.0  # an object to scale back
    coverage = learned.to_coverage(raw, spec, (photo.shape[1], photo.shape[0]))
    expected = rembg_predict_mask(raw, (photo.shape[1], photo.shape[0]), spec.sigmoid)
    assert coverage.shape == photo.shape[:2]
    np.testing.assert_array_equal(np.round(coverage * 255).astype(np.uint8), expected)


def test_normalisation_constants_match_the_issue_table() -> None:
    assert {n: (s.filename, s.md5, s.side, s.mean, s.std, s.sigmoid) for n, s in MODELS.items()} == {
        "u2netp": ("u2netp.onnx", "8e83ca70e441ab06c318d82300c84806", 320, learned.IMAGENET_MEAN,
                   learned.IMAGENET_STD, False),
        "u2net": ("u2net.onnx", "60024c5c889badc19c04ad937298a77b", 320, learned.IMAGENET_MEAN,
                  learned.IMAGENET_STD, False),
        "isnet-general-use": ("isnet-general-use.onnx", "fc16ebd8b0c10d971d3513d564d01e29", 1024,
                              (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), False),
        "birefnet-general-lite": ("BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx",
                                  "4fab47adc4ff364be1713e97b7e66334", 1024, learned.IMAGENET_MEAN,
                                  learned.IMAGENET_STD, True),
    }


# --- the models commands over real HTTP ----------------------------------------------------------


def test_pull_list_remove(models_env: Path, httpserver: HTTPServer, model_bytes: bytes,
                          capsys: pytest.CaptureFixture[str]) -> None:
    httpserver.expect_request("/release/u2netp.onnx").respond_with_data(model_bytes)
    assert main(["models", "list"]) == 0
    assert "No segmenter installed" in capsys.readouterr().out
    assert main(["models", "pull", "u2netp"]) == 0
    assert sorted(p.name for p in models_env.iterdir()) == ["u2netp.onnx"]
    assert (models_env / "u2netp.onnx").read_bytes() == model_bytes
    assert main(["models", "list"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("u2netp") and "Apache-2.0" in line and "MB" in line and "(in use)" in line
    assert main(["models", "pull", "u2netp"]) == 0  # installed and verified: no second download
    assert "already installed" in capsys.readouterr().out
    assert len(httpserver.log) == 1
    assert main(["models", "remove", "u2netp"]) == 0
    assert list(models_env.iterdir()) == []


def test_a_wrong_checksum_is_refused_and_leaves_nothing(models_env: Path, httpserver: HTTPServer,
                                                        model_bytes: bytes, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from core.config import reset_settings

    monkeypatch.delenv("MODELS_CHECKSUMS")  # the pinned u2netp checksum, which the test model lacks
    reset_settings()
    httpserver.expect_request("/release/u2netp.onnx").respond_with_data(model_bytes)
    assert main(["models", "pull", "u2netp"]) == 2
    err = capsys.readouterr().err
    assert "8e83ca70e441ab06c318d82300c84806" in err and "deleted" in err and len(err.strip().splitlines()) == 1
    assert list(models_env.iterdir()) == []
    assert learned.active() is None


def test_an_unknown_name_is_bad_input(models_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "sam-huge"]) == 2
    assert "u2netp" in capsys.readouterr().err


def test_a_cut_connection_is_resumed_with_a_range_request(models_env: Path, httpserver: HTTPServer,
                                                          model_bytes: bytes) -> None:
    half = len(model_bytes) // 2
    ranges: list[str | None] = []

    def handler(request: Request) -> Response:
        ranges.append(request.headers.get("Range"))
        if len(ranges) == 1:  # the first answer promises everything and stops halfway
            return Response(_cut_after(model_bytes, half), headers={"Content-Length": str(len(model_bytes))},
                            direct_passthrough=True)
        start = int(request.headers["Range"].split("=")[1].rstrip("-"))
        return Response(model_bytes[start:], status=206,
                        headers={"Content-Range": f"bytes {start}-{len(model_bytes) - 1}/{len(model_bytes)}"})

    httpserver.expect_request("/release/u2netp.onnx").respond_with_handler(handler)
    assert main(["models", "pull", "u2netp"]) == 0
    assert ranges[0] is None and ranges[1] is not None and int(ranges[1].split("=")[1].rstrip("-")) > 0
    assert (models_env / "u2netp.onnx").read_bytes() == model_bytes
    assert sorted(p.name for p in models_env.iterdir()) == ["u2netp.onnx"]


def _cut_after(data: bytes, n: int):  # type: ignore[no-untyped-def]
    yield data[:n]
    raise ConnectionResetError("cut")  # werkzeug closes the connection mid-body


def test_an_interrupted_download_is_never_used_and_the_next_pull_finishes_it(
        models_env: Path, model_bytes: bytes, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from core.config import reset_settings

    port, stop = _cutting_server(model_bytes, len(model_bytes) // 3)
    try:
        monkeypatch.setenv("MODELS_BASE_URL", f"http://127.0.0.1:{port}/release/")
        reset_settings()
        assert main(["models", "pull", "u2netp"]) == 3  # every try is cut: transient, kept for later
    finally:
        stop()
    assert "resumes" in capsys.readouterr().err
    assert [p.name for p in models_env.iterdir()] == ["u2netp.onnx.part"]
    assert learned.installed() == [] and learned.active() is None  # half a file is never used

    # The next pull, with the network back, continues from the kept bytes.
    server = HTTPServer(port=0)
    server.start()
    try:
        def rest(request: Request) -> Response:
            start = int(request.headers["Range"].split("=")[1].rstrip("-"))
            return Response(model_bytes[start:], status=206)

        server.expect_request("/release/u2netp.onnx").respond_with_handler(rest)
        monkeypatch.setenv("MODELS_BASE_URL", server.url_for("/release/"))
        reset_settings()
        assert main(["models", "pull", "u2netp"]) == 0
    finally:
        server.stop()
    assert (models_env / "u2netp.onnx").read_bytes() == model_bytes
    assert [p.name for p in models_env.iterdir()] == ["u2netp.onnx"]


def _cutting_server(data: bytes, cut: int) -> tuple[int, object]:
    """A raw socket server that announces the whole file, sends ``cut`` bytes and hangs up, every time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data) + data[:cut])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join()
        listener.close()

    return int(listener.getsockname()[1]), stop


def test_offline_make_run_pull_says_one_line_and_goes_on(models_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from core.config import reset_settings
    from tests.conftest import free_port

    monkeypatch.setenv("MODELS_BASE_URL", f"http://127.0.0.1:{free_port()}/release/")  # nobody listens
    reset_settings()
    assert main(["models", "pull", "--if-missing", "--quiet-offline", "--timeout", "2"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    assert "using GrabCut" in captured.err and "models pull u2netp" in captured.err


# --- the mask order, end to end ------------------------------------------------------------------


def busy_photo(size: int = 200) -> bytes:
    """A red square off-centre on noise: the disk the model draws is nowhere in it."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    rgb[20:90, 110:180] = (220, 30, 30)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_mask_order_with_an_installed_model(models_env: Path, httpserver: HTTPServer, model_bytes: bytes) -> None:
    from core.generation.images import foreground_method, load_image

    httpserver.expect_request("/release/u2netp.onnx").respond_with_data(model_bytes)
    picture = load_image(busy_photo())
    mask, _, method = foreground_method(picture)  # without a model: GrabCut finds the red square
    assert method == "grabcut" and iou(mask, disk(200)) < 0.2
    assert main(["models", "pull", "u2netp"]) == 0
    mask, _, method = foreground_method(picture)
    assert method == "learned" and iou(mask, disk(200)) > 0.97
    # With a box the model runs on the box's crop, and nothing leaves the box.
    mask, _, method = foreground_method(picture, [0.5, 0.0, 1.0, 0.5])
    assert method == "learned_box" and not mask[:, :100].any() and not mask[100:].any()
    box_disk = np.zeros((200, 200), bool)
    box_disk[:100, 100:] = disk(100)
    assert iou(mask, box_disk) > 0.95
    # An alpha channel still wins.
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[50:150, 20:60] = 255
    mask, _, method = foreground_method(Image.fromarray(rgba, "RGBA"))
    assert method == "alpha" and mask[50:150, 20:60].all() and mask.sum() == 4000
    # SEGMENTER=none turns the learned path off.
    import os

    os.environ["SEGMENTER"] = "none"
    try:
        from core.config import reset_settings

        reset_settings()
        assert learned.active() is None
    finally:
        del os.environ["SEGMENTER"]
        reset_settings()


def test_a_job_takes_its_mask_from_the_pulled_model(session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                    httpserver: HTTPServer, model_bytes: bytes) -> None:
    from core.config import get_settings, reset_settings
    from core.jobs import runner
    from core.models import Model3D
    from tests.core.jobs.test_runner import claim, make_job, reload

    monkeypatch.setenv("MODELS_BASE_URL", httpserver.url_for("/release/"))
    monkeypatch.setenv("MODELS_CHECKSUMS", json.dumps({"u2netp": hashlib.md5(model_bytes).hexdigest()}))
    reset_settings()
    httpserver.expect_request("/release/u2netp.onnx").respond_with_data(model_bytes)
    assert main(["models", "pull", "u2netp"]) == 0
    assert (get_settings().models_path / "u2netp.onnx").is_file()  # under DATA_DIR/models by default
    job = make_job(session, busy_photo())
    assert runner.process(claim(session)) == "succeeded"
    done = reload(session, job.id)
    model = session.get(Model3D, done.model_id)
    for stats in (done.stats, model.stats):
        assert stats["mask_method"] == "learned" and stats["segmenter"] == "u2netp"
    # The model's outline is the disk: as wide as it is tall (the red square is not).
    x, y, _ = model.extents
    assert x == pytest.approx(y, rel=0.05)


def test_the_worker_heartbeat_names_its_segmenter(session, model_bytes: bytes) -> None:  # type: ignore[no-untyped-def]
    from core.admin import metrics
    from core.config import get_settings
    from core.generation.learned import MODELS
    from jobs.worker import Worker

    worker = Worker(warm=False, maintenance=False)
    worker.beat()
    assert {w["worker_id"]: w["segmenter"] for w in metrics.workers(session)} == {worker.worker_id: "grabcut"}
    directory = get_settings().models_path  # an operator pulls a model while the worker runs
    directory.mkdir(parents=True)
    (directory / MODELS["u2netp"].filename).write_bytes(model_bytes)
    worker.beat()
    session.expire_all()
    assert {w["worker_id"]: w["segmenter"] for w in metrics.workers(session)} == {worker.worker_id: "u2netp"}
