"""A real ``python app.py`` process on 127.0.0.1 for load and fault tests: start, wait, measure, stop."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Debian's Chromium, driven by Playwright in the browser tests (no browser download), and how they start it.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def resident_mib(pid: int) -> float:
    """The resident set size of a process in MiB, from /proc (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, flags=re.MULTILINE).group(1)) / 1024


def free_port() -> int:
    """A TCP port free on the loopback address now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served_in_this_process(demo) -> Iterator[str]:
    """``demo`` served by this process (a thread) on a free loopback port: yields its URL, closes it after."""
    import app

    port = free_port()
    app.launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def start_app_process(port: int, weights: Path, data: Path, log: Path, **variables: str) -> subprocess.Popen:
    """``python app.py`` on 127.0.0.1:``port`` with the given weights and data folders, logging to ``log``."""
    environment = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "SR_STUDIO_WEIGHTS_DIR": str(weights),
        "SR_STUDIO_DATA_DIR": str(data),
        "SR_STUDIO_CPU_BF16": "0",
        **variables,
    }
    with open(log, "ab") as handle:
        return subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT
        )


def wait_until_serving(server: subprocess.Popen, port: int, log: Path, limit_s: float = 180) -> None:
    """Return once the app answers on ``port``; fail with its log if it exits, or after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"the app did not answer within {limit_s} s"
            time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    """SIGTERM (the way Docker stops a container), then SIGKILL if it has not exited within 30 s."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
