"""Servers for the operations tests, started with the image's own command (docker/Dockerfile)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.fixtures import make_server_group, private_redis
from tests.e2e.server import REPO_ROOT, ServerGroup, SidekickServer

__all__ = ["make_server_group", "private_redis"]

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"


def image_command(port: int) -> list[str]:
    """The Dockerfile's CMD, run with this interpreter on a local port."""
    match = re.search(r"^CMD (\[.*\])$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "docker/Dockerfile has no exec-form CMD"
    command = json.loads(match.group(1))
    assert command[0] == "python"
    endpoint = f"tcp:port={port}:interface=127.0.0.1:backlog=4096"
    rest = [endpoint if arg.startswith("tcp:port=") else arg for arg in command[1:]]
    return [sys.executable, *rest]


class ImageCommandServer(SidekickServer):
    """A daphne process started exactly as the image starts it (`-v 0`, proxy headers)."""

    def start(self, timeout: float = 60.0) -> None:
        if self.process is not None:
            raise RuntimeError(f"server on port {self.port} is already running")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                image_command(self.port),
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_ready(timeout)


def add_image_server(group: ServerGroup, env: dict[str, str] | None = None) -> ImageCommandServer:
    """Like `ServerGroup.add_server`, with the image's command."""
    group.prepare()
    server = ImageCommandServer(
        env={**group.env, **(env or {})},
        log_path=group.workdir / f"image-{len(group.servers)}.log",
    )
    group.servers.append(server)
    server.start()
    return server


def log_text(server: SidekickServer) -> str:
    return Path(server.log_path).read_text(errors="replace")


@pytest.fixture
def image_server_group(make_server_group) -> Iterator[ServerGroup]:
    yield make_server_group(keepalive_seconds=1.0)
