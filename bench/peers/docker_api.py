"""A Docker Engine API for Airflow's DockerOperator: DOCKER_HOST, or podman's compatible one."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

SOCKET_WAIT_S = 15.0

PROBE = """
import importlib.metadata, sys
try:
    import airflow.providers.docker, docker
except ImportError as error:
    sys.exit(f"{error}: apache-airflow-providers-docker is not installed in {sys.prefix}")
client = docker.DockerClient(base_url=sys.argv[1], version="auto")
client.ping()
client.images.get(sys.argv[2])
engine = client.version()
name = engine.get("Components", [{}])[0].get("Name", "Docker Engine")
provider = importlib.metadata.version("apache-airflow-providers-docker")
print(f"apache-airflow-providers-docker {provider} on {name} {engine.get('Version')}"
      f" (API {engine.get('ApiVersion')})")
"""


def start_docker_api(folder: Path) -> tuple[str | None, subprocess.Popen | None, str]:
    """(the API's URL, the podman service started for it or None, why there is none).

    DOCKER_HOST when set; else `podman system service` on a socket in folder, which the caller
    stops with stop() when done."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"], None, ""
    if shutil.which("podman") is None:
        return None, None, "no Docker Engine API: DOCKER_HOST is not set and podman is missing"
    socket = folder / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The service has no readiness signal but its socket file: poll for it, briefly.
    deadline = time.monotonic() + SOCKET_WAIT_S
    while not socket.exists() and service.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if not socket.exists():
        stop(service)
        why = f"`podman system service` did not open its socket within {SOCKET_WAIT_S:.0f} s"
        return None, None, why
    return f"unix://{socket}", service, ""


def stop(service: subprocess.Popen | None) -> None:
    if service is not None:
        service.terminate()
        service.wait(timeout=30)


def probe_docker(python: Path, docker_host: str, image: str) -> tuple[str, str]:
    """(what answered, why the Docker provider of that interpreter cannot use the image there).

    One is empty: the provider imports, the API answers a ping and has the image."""
    done = subprocess.run(
        [str(python), "-c", PROBE, docker_host, image],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        tail = " / ".join(done.stderr.strip().splitlines()[-2:])
        return "", f"it cannot run {image} through the Docker API at {docker_host}: {tail}"
    return done.stdout.strip(), ""


def podman_image_problem(image: str) -> str:
    """Why podman cannot run the image here, or ""."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    found = subprocess.run(["podman", "image", "exists", image], capture_output=True)
    if found.returncode != 0:
        return f"the image {image} is missing: build it with .ci/container-image.sh"
    return ""
