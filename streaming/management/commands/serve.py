"""`manage.py serve`: one listening socket, N daphne worker processes accepting from it.

One daphne process runs on one core, and the stream fan-out (one socket write per stream per
change) is CPU-bound, so a host serves its streams fastest with one worker per core. The socket
is bound here, once, and every worker adopts it (`daphne --fd`): the kernel hands each new
connection to whichever worker accepts it first, so no balancer is needed inside the host.
Each worker has its own hub and flag store and follows the others through the channel layer,
exactly as separate instances do; that is why more than one worker needs REDIS_URL.

A worker that dies is started again on the same socket. SIGTERM or SIGINT stops them all
gracefully: the supervisor closes its copy of the socket, forwards SIGTERM to every worker (each
drains as `sidekick.shutdown` describes) and waits for them, killing any still running
STOP_MARGIN_SECONDS after SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS (each worker bounds itself first).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from sidekick.metrics import share_metrics_between_workers, worker_exited
from streaming.libc import libc

ASGI_APPLICATION = "sidekick.asgi:application"
RESTART_DELAY_SECONDS = 1.0
# Past the workers' own shutdown bound, before the supervisor kills them.
STOP_MARGIN_SECONDS = 5.0
# Enough for a reconnect storm of thousands of SDKs; the kernel caps it at somaxconn.
LISTEN_BACKLOG = 4096
_PR_SET_PDEATHSIG = 1


def in_memory_layer() -> bool:
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    return backend.endswith("InMemoryChannelLayer")


def bind_listener(host: str, port: int) -> socket.socket:
    """The socket every worker accepts from; inheritable so that children can adopt it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(LISTEN_BACKLOG)
    listener.setblocking(False)
    listener.set_inheritable(True)
    return listener


_LIBC = libc()


def _die_with_parent() -> None:
    """Runs in each child before exec: a supervisor killed with SIGKILL takes its workers along."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def worker_command(fd: int, proxy_headers: bool) -> list[str]:
    # The protected entry point (request bounds, docs/security.md), as every other start uses;
    # -v 0: daphne's access log off (unredacted query strings); Sidekick logs each request.
    command = [sys.executable, "-m", "sidekick.server", "-v", "0", "--fd", str(fd)]
    if proxy_headers:
        command.append("--proxy-headers")
    return [*command, ASGI_APPLICATION]


class Supervisor:
    """Starts the workers, restarts any that exit, and stops them all on a signal."""

    def __init__(self, listener: socket.socket, workers: int, proxy_headers: bool) -> None:
        self.listener = listener
        self.command = worker_command(listener.fileno(), proxy_headers)
        self.children: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.stopping = False

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command,
            pass_fds=(self.listener.fileno(),),
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if _LIBC is not None else None,
        )

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for index in range(len(self.children)):
            self.children[index] = self._spawn()
        while not self.stopping:
            for index, child in enumerate(self.children):
                if child is not None and child.poll() is not None and not self.stopping:
                    worker_exited(child.pid)  # ops: its live gauges leave /metrics
                    print(
                        f"worker {child.pid} exited with {child.returncode}; starting another",
                        file=sys.stderr,
                        flush=True,
                    )
                    time.sleep(RESTART_DELAY_SECONDS)
                    self.children[index] = self._spawn()
            time.sleep(0.2)
        return self.stop()

    def stop(self) -> int:
        """Stops every worker gracefully; 0 when each exited 0 within the bound."""
        # First, so that once the workers stop listening the socket is closed and new
        # connections are refused instead of waiting in its backlog.
        self.listener.close()
        running = [child for child in self.children if child is not None]
        for child in running:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        timeout = float(settings.SIDEKICK_SHUTDOWN_TIMEOUT_SECONDS) + STOP_MARGIN_SECONDS
        deadline = time.monotonic() + timeout
        code = 0
        for child in running:
            try:
                returncode = child.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                returncode = child.wait()
            if returncode != 0:
                print(f"worker {child.pid} exited with {returncode}", file=sys.stderr, flush=True)
                code = 1
        return code


class Command(BaseCommand):
    help = "Serves HTTP and /stream with N daphne worker processes sharing one listening socket."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=os.cpu_count() or 1,
            help="daphne processes (default: one per CPU); more than one needs REDIS_URL",
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="trust X-Forwarded-For / X-Forwarded-Port from the proxy in front",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        workers = int(options["workers"])
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and in_memory_layer():
            raise CommandError(
                "more than one worker needs REDIS_URL: each worker keeps its own flags and "
                "follows the others' changes through the channel layer"
            )
        try:
            listener = bind_listener(options["bind"], int(options["port"]))
        except OSError as error:
            address = f"{options['bind']}:{options['port']}"
            raise CommandError(f"cannot listen on {address}: {error}") from error
        self.stdout.write(
            f"serving on {options['bind']}:{listener.getsockname()[1]} with {workers} worker(s)"
        )
        self.stdout.flush()
        share_metrics_between_workers(settings.SIDEKICK_METRICS_DIR)  # ops: one /metrics view
        code = Supervisor(listener, workers, bool(options["proxy_headers"])).run()
        if code:
            sys.exit(code)
