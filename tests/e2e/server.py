"""Runs real Sidekick servers (daphne processes) on a private database for end-to-end tests.

A `ServerGroup` owns one fresh database (a new PostgreSQL database when PostgreSQL answers, a
SQLite file otherwise, never SQLite when SIDEKICK_REQUIRE_SERVICES=1) and the API keys made in it;
it starts any number of `SidekickServer` instances on that database, optionally joined through
Redis. Used by the pytest fixtures in tests/e2e/conftest.py and, for the Node and browser test
suites, from the command line:

    .venv/bin/python -m tests.e2e.server [--instances N] [--redis URL] [--keepalive SECONDS]

prints one JSON line once every instance answers,
`{"url": ..., "urls": [...], "admin_key": ..., "server_key": ..., "client_key": ..., ...}`,
then serves until its stdin closes or it receives SIGTERM/SIGINT, and drops its database. A
`restart` line on stdin restarts every instance on its port and prints `{"restarted": true, ...}`.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from tests.service_env import POSTGRES_URL, REQUIRE_SERVICES, reachable

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_USERNAME = "admin"

# Runs in a subprocess against the group's database: migrate, make the admin user and one API
# key per role, print them as one JSON line. One interpreter start instead of five.
_PREPARE_SCRIPT = r"""
import io, json, sys
import django
django.setup()
from django.core.management import call_command, get_commands

call_command("migrate", interactive=False, verbosity=0)
from django.contrib.auth import get_user_model
User = get_user_model()
username, password = sys.argv[1], sys.argv[2]
if not User.objects.filter(username=username).exists():
    User.objects.create_superuser(username=username, email="admin@example.com", password=password)
keys = {}
if "create_api_key" in get_commands():
    for role in ("admin", "server", "client"):
        out = io.StringIO()
        options = ("--role", role, "--name", f"e2e-{role}", "--quiet-secret-only")
        call_command("create_api_key", *options, stdout=out)
        lines = [line.strip() for line in out.getvalue().splitlines() if line.strip()]
        keys[role] = lines[-1] if lines else None
print(json.dumps(keys))
"""


def free_port() -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class Database:
    """A fresh database for one server group: PostgreSQL when reachable, else a SQLite file."""

    def __init__(self, workdir: Path, *, postgres_url: str | None = None) -> None:
        self.workdir = workdir
        admin_url = postgres_url or POSTGRES_URL
        use_postgres = postgres_url is not None or REQUIRE_SERVICES or reachable(admin_url)
        self.name = f"sidekick_e2e_{secrets.token_hex(6)}"
        self._admin_url: str | None = None
        if use_postgres:
            self._admin_url = _with_database(admin_url, "postgres")
            self.url = _with_database(admin_url, self.name)
        else:
            self.url = f"sqlite:///{workdir / 'sidekick.sqlite3'}"

    @property
    def is_postgres(self) -> bool:
        return self._admin_url is not None

    def _execute_admin(self, sql: str) -> None:
        import psycopg

        assert self._admin_url is not None
        with psycopg.connect(self._admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def create(self) -> None:
        if self.is_postgres:
            self._execute_admin(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        if self.is_postgres:
            # FORCE ends the sessions of servers that did not exit cleanly.
            self._execute_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class SidekickServer:
    """One daphne process serving `sidekick.asgi:application` on a fixed port."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # More than one: `manage.py serve --workers N` (one socket, N daphne processes; needs Redis).
    workers: int = 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Starts daphne and returns once it answers HTTP; raises with its log tail otherwise."""
        if self.process is not None:
            raise RuntimeError(f"server on port {self.port} is already running")
        log = self.log_path.open("ab")
        if self.workers > 1:
            command = [sys.executable, "manage.py", "serve", "--workers", str(self.workers)]
            command += ["--bind", "127.0.0.1", "--port", str(self.port)]
        else:
            # As deployed (docs/deploy.md): a listen backlog for thousands of reconnecting SDKs.
            endpoint = f"tcp:port={self.port}:interface=127.0.0.1:backlog=4096"
            command = [sys.executable, "-m", "sidekick.server", "-e", endpoint]
            command.append("sidekick.asgi:application")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_ready(timeout)

    def _wait_until_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                raise RuntimeError(f"daphne exited with {code}:\n{self.log_tail()}")
            try:
                # Any HTTP answer means the application is loaded; this first request also
                # starts the process's store and its channel-layer subscription.
                httpx.get(f"{self.url}/api/flags", timeout=5.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"daphne on port {self.port} did not answer in {timeout} s:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stops daphne with SIGTERM (SIGKILL if it does not exit in time)."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)

    def kill(self) -> None:
        """Stops daphne abruptly (SIGKILL), like a crashed instance."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def restart(self, timeout: float = 60.0) -> None:
        """Stops and starts again on the same port."""
        self.stop()
        self.start(timeout)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def serving_pids(self) -> list[int]:
        """The processes that serve requests: daphne itself, or the supervisor's workers."""
        pid = self.pid
        if pid is None:
            return []
        if self.workers == 1:
            return [pid]
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ServerGroup:
    """A database, its admin user and API keys, and the servers running on it."""

    def __init__(
        self,
        *,
        redis_url: str | None = None,
        keepalive_seconds: float = 1.0,
        reconcile_seconds: float = 30.0,
        postgres_url: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="sidekick-e2e-"))
        self.database = Database(self.workdir, postgres_url=postgres_url)
        self.redis_url = redis_url
        self.admin_password = secrets.token_urlsafe(12)
        # The seed-compatible full-access key, also what lets a non-debug server start.
        self.sdk_key = "sk-e2e-" + secrets.token_urlsafe(16)
        self.keys: dict[str, str | None] = {}
        self.servers: list[SidekickServer] = []
        self.env = self._environment(keepalive_seconds, reconcile_seconds, extra_env or {})
        self._prepared = False

    def _environment(
        self, keepalive: float, reconcile: float, extra: dict[str, str]
    ) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("REDIS_URL", None)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "sidekick.settings",
                "DATABASE_URL": self.database.url,
                "SIDEKICK_DEBUG": "0",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(32),
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SDK_KEY": self.sdk_key,
                "SIDEKICK_KEEPALIVE_SECONDS": str(keepalive),
                "SIDEKICK_RECONCILE_SECONDS": str(reconcile),
                "SIDEKICK_VAR_DIR": str(self.workdir / "var"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    @property
    def admin_key(self) -> str:
        """An admin API key, or the full-access SDK_KEY while database keys do not exist."""
        return self.keys.get("admin") or self.sdk_key

    @property
    def server_key(self) -> str | None:
        return self.keys.get("server")

    @property
    def client_key(self) -> str | None:
        return self.keys.get("client")

    def prepare(self) -> None:
        """Creates the database, migrates it, makes the admin user and the API keys (once)."""
        if self._prepared:
            return
        self.database.create()
        done = subprocess.run(
            [sys.executable, "-c", _PREPARE_SCRIPT, ADMIN_USERNAME, self.admin_password],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"preparing the database failed:\n{done.stdout}\n{done.stderr}")
        self.keys = json.loads(done.stdout.strip().splitlines()[-1])
        self._prepared = True

    def add_server(
        self, *, start: bool = True, env: dict[str, str] | None = None, workers: int = 1
    ) -> SidekickServer:
        """A new instance on the group's database (and Redis); started unless told otherwise."""
        self.prepare()
        index = len(self.servers)
        server = SidekickServer(
            env={**self.env, **(env or {})},
            log_path=self.workdir / f"daphne-{index}.log",
            workers=workers,
        )
        self.servers.append(server)
        if start:
            server.start()
        return server

    def close(self) -> None:
        """Stops every server, drops the database and removes the working directory."""
        for server in self.servers:
            server.stop()
        try:
            self.database.drop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def summary(self) -> dict[str, object]:
        return {
            "url": self.servers[0].url if self.servers else None,
            "urls": [server.url for server in self.servers],
            "admin_key": self.admin_key,
            "server_key": self.server_key,
            "client_key": self.client_key,
            "sdk_key": self.sdk_key,
            "admin_username": ADMIN_USERNAME,
            "admin_password": self.admin_password,
            "database": "postgresql" if self.database.is_postgres else "sqlite",
            "logs": [str(server.log_path) for server in self.servers],
        }


def _serve_until_told(group: ServerGroup, stop_on_stdin_close: bool) -> None:
    """Serves until a signal or the end of stdin; stdin lines are commands.

    `restart` stops and starts every instance on its port, then prints `{"restarted": true, ...}`.
    """
    stop = threading.Event()
    commands: queue.Queue[str] = queue.Queue()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if stop_on_stdin_close:

        def watch_stdin() -> None:
            # The loop ends when the parent closes our stdin (or exits).
            for line in sys.stdin:
                commands.put(line.strip())
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.is_set():
        try:
            command = commands.get(timeout=0.5)
        except queue.Empty:
            continue
        if command == "restart":
            for server in group.servers:
                server.restart()
            print(
                json.dumps({"restarted": True, "urls": [s.url for s in group.servers]}), flush=True
            )
        elif command:
            print(json.dumps({"error": f"unknown command {command!r}"}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1, help="daphne processes on one database")
    parser.add_argument("--redis", default=None, help="redis:// URL joining the instances")
    parser.add_argument("--keepalive", type=float, default=1.0, help="keep-alive period, seconds")
    parser.add_argument("--reconcile", type=float, default=30.0, help="reconcile period, seconds")
    parser.add_argument(
        "--ignore-stdin", action="store_true", help="serve until a signal even if stdin closes"
    )
    args = parser.parse_args(argv)
    if args.instances > 1 and not args.redis:
        parser.error("several instances need --redis to share changes")
    group = ServerGroup(
        redis_url=args.redis, keepalive_seconds=args.keepalive, reconcile_seconds=args.reconcile
    )
    try:
        for _ in range(args.instances):
            group.add_server()
        print(json.dumps(group.summary()), flush=True)
        _serve_until_told(group, stop_on_stdin_close=not args.ignore_stdin)
    finally:
        group.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
