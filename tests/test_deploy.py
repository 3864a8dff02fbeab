"""deploy/: the nginx site is valid for Debian's nginx as shipped, and its limits and the systemd units'
stop timeouts follow the app's own numbers, so raising one without the other fails here.

The site is run for real in tests/e2e/test_scale_out.py.
"""

from __future__ import annotations

import configparser
import math
import re
import tomllib
from pathlib import Path

from core.api.jobs import MAX_IMAGES
from core.config import Settings
from jobs.worker import EXIT_WAIT_SECONDS, SHUTDOWN_GRACE_SECONDS
from tests.utils.nginx import DEPLOY, NGINX, main_config

ROOT = Path(__file__).resolve().parents[1]
SYSTEMD = ROOT / "deploy" / "systemd"
SITE = (DEPLOY / "vorm.conf").read_text()


def _megabytes(size: str) -> float:
    return float(size[:-1]) * {"k": 1 / 1024, "m": 1, "g": 1024}[size[-1].lower()]


def _body_limits() -> dict[str, float]:
    """client_max_body_size per block: "server" and each location's path."""
    limits, where = {}, "server"
    for line in SITE.splitlines():
        line = line.split("#", 1)[0].strip()
        if m := re.match(r"location\s+(?:=\s+)?(\S+)\s*\{", line):
            where = m.group(1)
        elif line == "}":
            where = "server"
        elif m := re.match(r"client_max_body_size\s+(\S+);", line):
            limits[where] = _megabytes(m.group(1))
    return limits


def test_the_shipped_site_passes_nginx_t(tmp_path: Path) -> None:
    import subprocess

    site = tmp_path / "vorm"
    site.mkdir()
    (site / "vorm.conf").symlink_to(DEPLOY / "vorm.conf")
    (site / "backends.conf").symlink_to(DEPLOY / "backends.conf")
    server = (DEPLOY / "server.conf").read_text()
    assert "/var/log/nginx/" in server
    # Its own logs in tmp_path, so that the check writes nothing under /var/log/nginx.
    (site / "server.conf").write_text(server.replace("/var/log/nginx/", f"{tmp_path}/"))
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / "temp" / name).mkdir(parents=True)
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path))
    done = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


def test_body_limits_fit_the_largest_upload_and_api_request() -> None:
    streamlit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    premium = Settings.model_fields["premium_max_upload_mb"].default
    free = Settings.model_fields["free_max_upload_mb"].default
    limits = _body_limits()
    # Streamlit takes one file per request, up to its own maxUploadSize (above the plans' limits).
    assert limits["server"] == streamlit >= premium >= free
    # An API post carries up to MAX_IMAGES images of the premium size, plus the multipart framing.
    assert math.ceil(MAX_IMAGES * premium) < limits["/api/"] <= MAX_IMAGES * premium * 1.05
    assert set(limits) == {"server", "/api/"}


def test_the_websocket_and_uploads_stay_with_their_process() -> None:
    assert re.search(r"upstream vorm_web \{\s*hash \$vorm_key consistent;", SITE)
    assert re.search(r"set \$vorm_key \$vorm_sticky;", SITE)
    stream = re.search(r"location = /_stcore/stream \{(.*?)\}", SITE, re.S)
    assert stream and "proxy_buffering off;" in stream.group(1) and "proxy_read_timeout 1d;" in stream.group(1)
    # Only paths without a Streamlit session spread over the processes.
    spread = re.findall(r"location (\S+) \{\s*set \$vorm_key \$vorm_spread;", SITE)
    assert spread == ["/api/", "/files/", "/webhooks/"]


def _unit(name: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser["Service"]


def _seconds(value: str) -> float:
    m = re.fullmatch(r"(\d+)(s|min)?", value)
    assert m, value
    return float(m.group(1)) * (60 if m.group(2) == "min" else 1)


def test_the_worker_unit_gives_running_jobs_their_grace_before_sigkill() -> None:
    worker = _unit("vorm-worker@.service")
    assert worker["KillSignal"] == "SIGTERM" and worker["KillMode"] == "mixed"
    assert _seconds(worker["TimeoutStopSec"]) > SHUTDOWN_GRACE_SECONDS + EXIT_WAIT_SECONDS
    assert worker["ExecStart"].endswith("/bin/python -m jobs.worker")


def test_the_units_share_the_environment_file_and_keep_their_own_data_dir() -> None:
    for name in ("vorm-web@.service", "vorm-worker@.service"):
        unit = _unit(name)
        assert unit["EnvironmentFile"] == "/etc/vorm/vorm.env"
        assert "DATA_DIR=/var/lib/vorm" in unit["Environment"] and unit["StateDirectory"] == "vorm"
        assert unit["Restart"] == "always"
    web = _unit("vorm-web@.service")
    assert "--server.port %i --server.address 127.0.0.1" in web["ExecStart"]
    example = (SYSTEMD / "vorm.env.example").read_text()
    for setting in ("DATABASE_URL=", "SECRET_KEY=", "PUBLIC_URL=", "STORAGE_BACKEND=s3"):
        assert f"\n{setting}" in example


def test_nginx_drops_idle_upstream_connections_before_the_web_process_does() -> None:
    import inspect

    import uvicorn

    uvicorn_idle = inspect.signature(uvicorn.Config).parameters["timeout_keep_alive"].default
    m = re.search(r"upstream vorm_web \{[^}]*keepalive_timeout (\d+)s;", SITE)
    assert m and int(m.group(1)) < uvicorn_idle
