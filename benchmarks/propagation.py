"""Measures how fast a flag change reaches N connected SSE clients, on one instance and on two.

Starts real daphne servers (PostgreSQL database, a private Redis for the two-instance runs), makes
FLAGS flags, opens N streams from one asyncio process (raw sockets), then times every write from
the moment its request is sent to the moment each client reads the event. Prints, per scenario:
bootstrap time of all N streams, latency percentiles, missed updates, and the server's RSS per
idle stream.

    .venv/bin/python -m benchmarks.propagation     # 1,000 and 5,000 clients, 1 and 2 instances
    .venv/bin/python -m benchmarks.propagation --clients 1000 --instances 1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import resource
import signal
import socket
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.faults import PrivateRedis  # noqa: E402
from tests.e2e.server import ServerGroup, SidekickServer  # noqa: E402

MARKER = b'"description":"bench-'
LAYERS = ("channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer")
CONNECT_CONCURRENCY = 100  # daphne's listen backlog is small; bursts beyond it stall in SYN retries


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class StreamClient:
    """One raw SSE connection read by a loop callback; records when each write's event arrived.

    No StreamReader and no task per connection: with thousands of streams in one process, the
    measuring client's own per-event overhead would otherwise dominate what it measures.
    """

    __slots__ = ("host", "key", "port", "ready", "received", "sock", "tail")

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port, self.key = host, port, key
        self.ready = asyncio.Event()
        self.received: dict[int, float] = {}
        self.sock: socket.socket | None = None
        self.tail = b""

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        await loop.sock_connect(sock, (self.host, self.port))
        await loop.sock_sendall(
            sock,
            f"GET /stream HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Bearer {self.key}\r\nAccept: text/event-stream\r\n\r\n".encode(),
        )
        self.sock = sock
        loop.add_reader(sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return
        if not chunk:
            self.close()
            return
        now = time.perf_counter()
        data = self.tail + chunk
        if not self.ready.is_set() and b"event: ready" in data:
            self.ready.set()
            data = data[data.index(b"event: ready") :]
        start = 0
        while (found := data.find(MARKER, start)) != -1:
            end = data.find(b'"', found + len(MARKER))
            if end == -1:
                break
            self.received.setdefault(int(data[found + len(MARKER) : end]), now)
            start = end
        self.tail = data[-200:]

    def close(self) -> None:
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None


_write_numbers = itertools.count(0, 1_000_000)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def make_flags(server: SidekickServer, key: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    semaphore = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as client:

        async def create(index: int) -> None:
            body = {
                "key": f"flag_{index:05d}",
                "is_enabled": True,
                "rollout_percentage": index % 101,
                "description": f"benchmark flag {index}",
                "rules": [
                    {"attribute": "email", "operator": "EndsWith", "values": ["@example.com"]}
                ],
            }
            async with semaphore:
                response = await client.post("/api/flags", json=body)
                response.raise_for_status()

        await asyncio.gather(*(create(i) for i in range(count)))


async def run_scenario(
    group: ServerGroup,
    servers: list[SidekickServer],
    clients_total: int,
    writes: int,
    flag_count: int,
) -> dict[str, object]:
    key = group.server_key or group.admin_key
    for server in servers:
        assert server.pid is not None
    baseline = {server.port: rss_kib(server.pid or 0) for server in servers}
    clients = [
        StreamClient("127.0.0.1", servers[i % len(servers)].port, key) for i in range(clients_total)
    ]
    semaphore = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def bootstrap(client: StreamClient) -> None:
        async with semaphore:
            await client.connect()
            await asyncio.wait_for(client.ready.wait(), 120)

    started = time.perf_counter()
    await asyncio.gather(*(bootstrap(c) for c in clients))
    bootstrap_seconds = time.perf_counter() - started

    await asyncio.sleep(2.0)  # let buffers drain and the servers settle before measuring RSS
    rss_per_stream = (
        sum(rss_kib(server.pid or 0) - baseline[server.port] for server in servers) / clients_total
    )

    # Write numbers never repeat across scenarios: replayed descriptions from an earlier
    # scenario must not count as receipts.
    first = next(_write_numbers)
    sent: dict[int, float] = {}
    request_ms: list[float] = []
    async with httpx.AsyncClient(
        base_url=servers[0].url,
        headers={"Authorization": f"Bearer {group.admin_key}"},
        timeout=30,
    ) as admin:
        for index in range(first, first + writes):
            flag = f"flag_{index % min(50, flag_count):05d}"
            sent[index] = time.perf_counter()
            response = await admin.patch(
                f"/api/flags/{flag}", json={"description": f"bench-{index}"}
            )
            response.raise_for_status()
            request_ms.append((time.perf_counter() - sent[index]) * 1000)
            await asyncio.sleep(0.2)

    deadline = time.perf_counter() + 15
    while time.perf_counter() < deadline:
        if all(sum(i in sent for i in c.received) >= writes for c in clients):
            break
        await asyncio.sleep(0.1)
    latencies = [
        (arrived - sent[index]) * 1000
        for client in clients
        for index, arrived in client.received.items()
        if index in sent
    ]
    missed = clients_total * writes - len(latencies)
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)
    return {
        "clients": clients_total,
        "instances": len(servers),
        "writes": writes,
        "bootstrap_all_s": round(bootstrap_seconds, 2),
        "write_request_p50_ms": round(percentile(request_ms, 0.5), 1),
        "min_ms": round(min(latencies), 1),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "missed": missed,
        "rss_per_idle_stream_kib": round(rss_per_stream, 1),
    }


def _layer(path: str, url: str) -> object:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)(hosts=[url])


async def _redis_commands(url: str) -> int:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        stats = await client.info("commandstats")
        return sum(int(v["calls"]) for k, v in stats.items() if k.startswith("cmdstat_"))
    finally:
        await client.aclose()


async def layer_round_trips(path: str, url: str, members: int, sends: int) -> dict[str, object]:
    """group_send latency to `members` channels and Redis commands per send, for one layer."""
    sender, receiver = _layer(path, url), _layer(path, url)
    group = f"bench_{path.rsplit('.', 1)[-1]}_{members}"
    channels = [await receiver.new_channel() for _ in range(members)]  # type: ignore[attr-defined]
    for channel in channels:
        await receiver.group_add(group, channel)  # type: ignore[attr-defined]
    latencies: list[float] = []

    async def drain(channel: str) -> None:
        for _ in range(sends):
            message = await receiver.receive(channel)  # type: ignore[attr-defined]
            latencies.append((time.perf_counter() - message["sent"]) * 1000)

    readers = [asyncio.ensure_future(drain(channel)) for channel in channels]
    await asyncio.sleep(0.5)
    before = await _redis_commands(url)
    for _ in range(sends):
        await sender.group_send(group, {"type": "bench", "sent": time.perf_counter()})  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    commands = await _redis_commands(url) - before
    for layer in (sender, receiver):
        await layer.flush()  # type: ignore[attr-defined]
    return {
        "layer": path.rsplit(".", 1)[-1],
        "group_members": members,
        "sends": sends,
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        # Includes the receivers' polling (BZPOPMIN) for the core layer.
        "redis_commands_per_send": round(commands / sends, 1),
    }


async def compare_layers() -> list[dict[str, object]]:
    redis = PrivateRedis()
    redis.start()
    try:
        results = []
        for path in LAYERS:
            for members in (1, 100):
                result = await layer_round_trips(path, redis.url, members, 200)
                print(json.dumps(result), flush=True)
                results.append(result)
        return results
    finally:
        redis.close()


async def benchmark(args: argparse.Namespace) -> list[dict[str, object]]:
    results = []
    for instances in args.instances:
        redis = PrivateRedis() if instances > 1 else None
        if redis is not None:
            redis.start()
        group = ServerGroup(
            redis_url=redis.url if redis else None,
            keepalive_seconds=15.0,
            # Persistent database connections, as docs/deploy.md recommends for production.
            extra_env={
                "SIDEKICK_LOG_LEVEL": "WARNING",
                "SIDEKICK_DB_CONN_MAX_AGE": "60",
                **({"SIDEKICK_CHANNEL_LAYER": args.layer} if args.layer else {}),
            },
        )
        try:
            servers = [group.add_server() for _ in range(instances)]
            await make_flags(servers[0], group.admin_key, args.flags)
            for clients in args.clients:
                result = await run_scenario(group, servers, clients, args.writes, args.flags)
                result["flags"] = args.flags
                result["layer"] = (args.layer or "pubsub") if instances > 1 else "in-memory"
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            import shutil as _sh

            for _s in group.servers:
                _sh.copy(_s.log_path, "/tmp/stream-dev/daphne.log")
            group.close()
            if redis is not None:
                redis.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=50)
    parser.add_argument(
        "--layer",
        default=None,
        help="channel layer class for the Redis runs (default: the settings' pub/sub layer), "
        "e.g. channels_redis.core.RedisChannelLayer",
    )
    parser.add_argument(
        "--layers-only",
        action="store_true",
        help="only compare the Redis channel layers (group_send latency, commands per send)",
    )
    args = parser.parse_args(argv)
    if args.layers_only:
        asyncio.run(compare_layers())
        return 0
    # SIGTERM ends the run like Ctrl-C, so the servers, Redis and the database are cleaned up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    # Thousands of sockets in this process and in the servers it starts (they inherit it).
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = asyncio.run(benchmark(args))
    print()
    print(
        "| instances | clients | bootstrap all | p50 | p90 | p99 | max | missed | RSS/idle stream |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['instances']} | {r['clients']} | {r['bootstrap_all_s']} s | {r['p50_ms']} ms "
            f"| {r['p90_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms | {r['missed']} "
            f"| {r['rss_per_idle_stream_kib']} KiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
