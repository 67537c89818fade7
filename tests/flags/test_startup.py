"""A real daphne refuses to start with debug off and no key, and says why; dev mode warns."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flags.startup import AUTH_DISABLED_REFUSAL, AUTH_OFF_WARNING, REFUSAL, SECRET_REFUSAL

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
ASGI_APP = "sidekick.asgi:application"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database of its own, so the server under test shares nothing."""
    path = tmp_path_factory.mktemp("startup") / "db.sqlite3"
    url = f"sqlite:///{path}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=server_env(url, debug=True),
        check=True,
        timeout=START_TIMEOUT,
    )
    return url


def server_env(
    database_url: str,
    *,
    debug: bool,
    sdk_key: str | None = None,
    secret_key: str | None = "a-test-secret-key-that-is-not-the-development-one",
    auth_disabled: bool = False,
) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name
        not in (
            "SDK_KEY",
            "REDIS_URL",
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_SECRET_KEY",
            "SIDEKICK_AUTH_DISABLED",
        )
    }
    env.update(DATABASE_URL=database_url, SIDEKICK_DEBUG="1" if debug else "0")
    if sdk_key:
        env["SDK_KEY"] = sdk_key
    if secret_key:
        env["DJANGO_SECRET_KEY"] = secret_key
    if auth_disabled:
        env["SIDEKICK_AUTH_DISABLED"] = "1"
    return env


@pytest.fixture
def start_daphne() -> Iterator:
    started: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str], port: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "sidekick.server", "-b", "127.0.0.1", "-p", str(port), ASGI_APP],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=START_TIMEOUT)


def wait_until_listening(process: subprocess.Popen[str], port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # polling a port that is not open yet; the deadline bounds it
    pytest.fail(f"daphne did not listen on {port} within {START_TIMEOUT} s")


def test_debug_off_without_any_key_refuses_to_start(database_url, start_daphne) -> None:
    process = start_daphne(server_env(database_url, debug=False), free_port())
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode != 0
    assert REFUSAL in output


def test_debug_off_with_sdk_key_starts(database_url, start_daphne) -> None:
    port = free_port()
    process = start_daphne(server_env(database_url, debug=False, sdk_key="sk-test"), port)
    wait_until_listening(process, port)


def test_debug_off_without_a_secret_key_refuses_to_start(database_url, start_daphne) -> None:
    env = server_env(database_url, debug=False, sdk_key="sk-test", secret_key=None)
    process = start_daphne(env, free_port())
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode != 0
    assert SECRET_REFUSAL in output


def test_auth_disabled_with_debug_off_refuses_to_start(database_url, start_daphne) -> None:
    env = server_env(database_url, debug=False, sdk_key="sk-test", auth_disabled=True)
    process = start_daphne(env, free_port())
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert process.returncode != 0
    assert AUTH_DISABLED_REFUSAL in output


def test_local_dev_with_auth_disabled_starts_and_says_so(database_url, start_daphne) -> None:
    port = free_port()
    process = start_daphne(server_env(database_url, debug=True, auth_disabled=True), port)
    wait_until_listening(process, port)
    answer = httpx.get(f"http://127.0.0.1:{port}/api/flags", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["X-Sidekick-Auth"] == "disabled"
    with httpx.stream("GET", f"http://127.0.0.1:{port}/stream", timeout=10) as stream:
        assert stream.status_code == 200
        assert stream.headers["X-Sidekick-Auth"] == "disabled"
    process.terminate()
    output, _ = process.communicate(timeout=START_TIMEOUT)
    assert AUTH_OFF_WARNING in output


def test_local_dev_without_a_key_keeps_authentication_on(database_url, start_daphne) -> None:
    port = free_port()
    process = start_daphne(server_env(database_url, debug=True), port)
    wait_until_listening(process, port)
    assert httpx.get(f"http://127.0.0.1:{port}/api/flags", timeout=10).status_code == 401
