"""Measures how fast a flag change reaches N connected SSE clients, on one instance and on two.

Starts real daphne servers (PostgreSQL database, a private Redis for the two-instance runs), makes
FLAGS flags, opens N streams from one measuring client (benchmarks/c/sse_receipts.c, built by
`make bench-propagation`), then times every write from the moment its request is sent to the
moment each stream reads the event. Prints, per scenario: bootstrap time of all N streams,
latency percentiles, missed updates, and the server's RSS per idle stream.

    .venv/bin/python -m benchmarks.propagation     # 1,000 and 5,000 clients, 1 and 2 instances
    .venv/bin/python -m benchmarks.propagation --clients 1000 --instances 1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import itertools
import json
import os
import resource
import signal
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

RECEIPT_CLIENT = REPO_ROOT / "build" / "bench" / "sse_receipts"
LAYERS = ("channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer")
WARMUP_STREAMS_PER_WORKER = 20
CONNECT_CONCURRENCY = 100  # streams bootstrapping at once (each reads a 1,000-flag snapshot)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_sockets(pid: int) -> int:
    """How many sockets a process holds (streams, listeners, database and Redis connections)."""
    count = 0
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            count += os.readlink(entry).startswith("socket:")
    return count


def serving_rss_kib(server: SidekickServer) -> int:
    """RSS of the processes holding the streams (the workers, not their idle supervisor)."""
    return sum(rss_kib(pid) for pid in server.serving_pids())


class ReceiptClient:
    """The measuring client (benchmarks/c/sse_receipts.c): N streams read from one epoll in C.

    In C because it shares the machine with the servers it measures: read from Python, 1,000
    streams cost about 30 ms of CPU per write, taken from the same two cores as the servers'
    fan-out. It stamps each receipt with CLOCK_MONOTONIC, which is `time.perf_counter` here.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def open(cls, servers: list[SidekickServer], key: str, streams: int) -> ReceiptClient:
        if not RECEIPT_CLIENT.exists():
            raise SystemExit(f"{RECEIPT_CLIENT} is missing: run `make bench-propagation`")
        process = await asyncio.create_subprocess_exec(
            str(RECEIPT_CLIENT),
            key,
            str(streams),
            str(CONNECT_CONCURRENCY),
            *(f"127.0.0.1:{server.port}" for server in servers),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _line(self, timeout: float) -> list[str]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"the receipt client exited ({await self.process.wait()})")
        return line.decode().split()

    async def _command(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command}\n".encode())
        await self.process.stdin.drain()

    async def ready(self, timeout: float = 300) -> float:
        """Waits until every stream has bootstrapped; returns how long that took, in seconds."""
        word, seconds = await self._line(timeout)
        assert word == "ready", word
        return float(seconds)

    async def count(self) -> int:
        await self._command("count")
        word, count = await self._line(10)
        assert word == "count", word
        return int(count)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def stop(self) -> tuple[list[tuple[int, int, float]], int]:
        """Closes every stream; returns the receipts (stream, write, time) and streams lost."""
        await self._command("stop")
        word, count = await self._line(30)
        assert word == "receipts", word
        assert self.process.stdout is not None
        receipts = []
        for _ in range(int(count)):
            stream, write, at = (await self.process.stdout.readline()).split()
            receipts.append((int(stream), int(write), float(at)))
        word, closed = await self._line(10)
        assert word == "closed", word
        await self.process.wait()
        return receipts, int(closed)


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
    # A few streams first, so that every process (each worker accepts whichever connections it
    # wins) has loaded its store and encoded a snapshot before the RSS baseline is taken.
    warmup = await ReceiptClient.open(
        servers, key, WARMUP_STREAMS_PER_WORKER * sum(server.workers for server in servers)
    )
    await warmup.ready()
    await warmup.stop()
    await asyncio.sleep(1.0)
    baseline = {server.port: serving_rss_kib(server) for server in servers}
    sockets_before = {pid: open_sockets(pid) for s in servers for pid in s.serving_pids()}

    client = await ReceiptClient.open(servers, key, clients_total)
    bootstrap_seconds = await client.ready()

    await asyncio.sleep(2.0)  # let buffers drain and the servers settle before measuring RSS
    rss_per_stream = (
        sum(serving_rss_kib(server) - baseline[server.port] for server in servers) / clients_total
    )

    streams_per_process = sorted(
        open_sockets(pid) - before for pid, before in sockets_before.items()
    )
    # Write numbers never repeat across scenarios: replayed descriptions from an earlier
    # scenario must not count as receipts.
    first = next(_write_numbers)
    client_cpu_before = client.cpu_seconds()
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
    while time.perf_counter() < deadline and await client.count() < clients_total * writes:
        await asyncio.sleep(0.1)
    # The client's CPU while writes are read, per write: on a small machine it competes with
    # the servers for the same cores.
    client_cpu_ms = (client.cpu_seconds() - client_cpu_before) * 1000 / writes
    receipts, streams_lost = await client.stop()
    arrivals: dict[int, list[float]] = {index: [] for index in sent}
    for _stream, index, arrived in receipts:
        if index in arrivals:
            arrivals[index].append(arrived)
    latencies = [(at - sent[index]) * 1000 for index, times in arrivals.items() for at in times]
    missed = clients_total * writes - len(latencies)
    # Per write: its first receipt (the write path up to the commit, plus one stream) and the
    # spread to its last receipt (the fan-out to every stream, plus the client's reading).
    first_ms = [(min(times) - sent[i]) * 1000 for i, times in arrivals.items() if times]
    spread_ms = [(max(times) - min(times)) * 1000 for times in arrivals.values() if times]
    await asyncio.sleep(0.5)
    return {
        "clients": clients_total,
        "instances": len(servers),
        "workers": servers[0].workers,
        "writes": writes,
        "bootstrap_all_s": round(bootstrap_seconds, 2),
        "write_request_p50_ms": round(percentile(request_ms, 0.5), 1),
        "first_receipt_p50_ms": round(percentile(first_ms, 0.5), 1),
        "first_to_last_p50_ms": round(percentile(spread_ms, 0.5), 1),
        "first_to_last_max_ms": round(max(spread_ms), 1),
        "min_ms": round(min(latencies), 1),
        "p50_ms": round(percentile(latencies, 0.50), 1),
        "p90_ms": round(percentile(latencies, 0.90), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "missed": missed,
        "streams_lost": streams_lost,
        "streams_per_process": streams_per_process,
        "client_cpu_ms_per_write": round(client_cpu_ms, 1),
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
        # Several processes (instances, or workers of one instance) follow each other via Redis.
        redis = PrivateRedis() if instances > 1 or args.workers > 1 else None
        if redis is not None:
            redis.start()
        group = ServerGroup(
            redis_url=redis.url if redis else None,
            keepalive_seconds=15.0,
            extra_env={
                "SIDEKICK_LOG_LEVEL": "WARNING",
                **({"SIDEKICK_CHANNEL_LAYER": args.layer} if args.layer else {}),
            },
        )
        try:
            servers = [group.add_server(workers=args.workers) for _ in range(instances)]
            await make_flags(servers[0], group.admin_key, args.flags)
            for clients in args.clients:
                result = await run_scenario(group, servers, clients, args.writes, args.flags)
                result["flags"] = args.flags
                result["layer"] = (args.layer or "pubsub") if redis is not None else "in-memory"
                print(json.dumps(result), flush=True)
                results.append(result)
        finally:
            group.close()
            if redis is not None:
                redis.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="daphne workers per instance (`manage.py serve --workers N`, one shared socket)",
    )
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
        "| instances | workers | clients | bootstrap all | p50 | p90 | p99 | max | missed "
        "| RSS/idle stream |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['instances']} | {r['workers']} | {r['clients']} | {r['bootstrap_all_s']} s "
            f"| {r['p50_ms']} ms "
            f"| {r['p90_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms | {r['missed']} "
            f"| {r['rss_per_idle_stream_kib']} KiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
