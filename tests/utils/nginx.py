"""Debian's nginx running the site in deploy/nginx/, for tests: a foreground process with its own prefix.

The site file (deploy/nginx/vorm.conf) is used as it is, through a symlink; only the two files it
leaves to each deployment are the test's own: ``backends.conf`` (the web processes' ports) and
``server.conf`` (the port nginx listens on, and the access log in the prefix). Nothing under
/etc/nginx or /var/log/nginx is read or written, and the system's nginx service is left alone.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

NGINX = "/usr/sbin/nginx"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
SITE = "vorm.conf"
START_TIMEOUT_SECONDS = 15.0
LOG_WAIT_SECONDS = 5.0


def main_config(prefix: Path) -> str:
    """nginx.conf for a non-root-owned prefix: pid, logs and temp folders inside it, the site included."""
    temp = "\n".join(f"    {name}_temp_path {prefix / 'temp' / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private temp folder.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
            f"events {{ worker_connections 512; }}\n"
            f"http {{\n{temp}\n    include vorm/{SITE};\n}}\n")


def write_prefix(prefix: Path, *, port: int, backends: list[int]) -> Path:
    """The prefix folder: nginx.conf, and vorm/ with the deploy site linked and this test's two files."""
    site = prefix / "vorm"
    site.mkdir(parents=True)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / name).mkdir(parents=True)
    (site / SITE).symlink_to(DEPLOY / SITE)
    (site / "backends.conf").write_text("".join(f"server 127.0.0.1:{p};\n" for p in backends))
    (site / "server.conf").write_text(f"listen 127.0.0.1:{port};\nserver_name localhost;\n"
                                      f"access_log {prefix / 'access.log'} vorm;\n")
    (prefix / "nginx.conf").write_text(main_config(prefix))
    return prefix / "nginx.conf"


class Nginx:
    def __init__(self, prefix: Path, *, port: int, backends: list[int]) -> None:
        self.prefix = prefix
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.access_log = prefix / "access.log"
        conf = write_prefix(prefix, port=port, backends=backends)
        self.args = [NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log"), "-g", "daemon off;"]
        self.proc: subprocess.Popen | None = None  # type: ignore[type-arg]

    def check(self) -> str:
        """``nginx -t`` on this configuration; its output."""
        done = subprocess.run([*self.args[:-2], "-t"], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr)
        return done.stderr

    def start(self) -> Nginx:
        self.check()
        with open(self.prefix / "stderr.log", "w") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {(self.prefix / 'error.log').read_text()[-2000:]}")
            try:  # a connection only: a request now would mark backends that are still starting as failed
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                time.sleep(0.1)
                continue
            return self
        raise RuntimeError("nginx did not listen in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # fast shutdown: open websockets are closed
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def upstreams(self, marker: str, *, at_least: int = 0) -> list[str]:
        """The backends ("127.0.0.1:PORT") that answered the logged requests whose line contains ``marker``;
        the last one of each (before it, those that refused the connection).

        nginx logs a request just after its answer has gone out: this waits (a little) for ``at_least`` lines.
        """
        deadline = time.monotonic() + LOG_WAIT_SECONDS
        while True:
            lines = [line for line in self.access_log.read_text().splitlines() if marker in line]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return [re.findall(r"upstream=(\S+(?:, \S+)*)$", line)[0].split(", ")[-1] for line in lines]
            time.sleep(0.02)
