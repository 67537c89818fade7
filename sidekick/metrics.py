"""Every Prometheus metric the server exports, defined once, and their exposition.

Names follow Prometheus conventions (`sidekick_…_total` counters, `_seconds` durations) and are
documented in docs/operations.md. Recorded where the thing happens:

- HTTP requests and their durations: `sidekick.middleware.OperationsMiddleware`.
- Evaluations through `/api/evaluate`: the evaluate view (`evaluation_counted`).
- Store figures: the flag store reports them (`report_store`).
- Database pool: sampled from psycopg's pool after each Django request and at each scrape.
- Streams, fan-out, reconciliation and the channel layer: streaming/fanout.py, streaming/hub.py
  and streaming/relay.py (docs/operations.md lists each metric with the place that records it).

Several worker processes behind one socket (`manage.py serve --workers N`) share one view: the
supervisor gives every worker the same directory (`PROMETHEUS_MULTIPROC_DIR`, prometheus-client's
multiprocess mode) and a scrape of any worker sums the counters and histograms of all of them.
A single daphne process keeps its metrics in memory and adds the process collectors (memory,
CPU, open files).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prometheus_multiprocess

MULTIPROCESS_ENVIRONMENT = "PROMETHEUS_MULTIPROC_DIR"

# HTTP ------------------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "sidekick_http_requests_total",
    "HTTP requests answered, by route template (not raw path), method and status.",
    ["route", "method", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "sidekick_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response; /stream is not included.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

# Evaluation, store, database -------------------------------------------------------------------

EVALUATIONS = Counter(
    "sidekick_evaluations_total",
    "Evaluations answered by POST /api/evaluate, by reason (OFF, RULE_MATCH, ROLLOUT, ...).",
    ["reason"],
)
STORE_FLAGS = Gauge(
    "sidekick_store_flags",
    "Flags in the process's flag store.",
    multiprocess_mode="livemax",
)
STORE_REVISION = Gauge(
    "sidekick_store_revision",
    "The process store's revision watermark: changes it has applied since it was loaded.",
    multiprocess_mode="livemax",
)
DB_POOL_CONNECTIONS = Gauge(
    "sidekick_db_pool_connections",
    "PostgreSQL connections held by the process's pool, by state (in_use, idle).",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "sidekick_db_pool_requests_waiting",
    "Requests waiting for a pooled PostgreSQL connection right now.",
    multiprocess_mode="livesum",
)

# Streams (recorded by the stream code) --------------------------------------------------------

STREAMS_OPEN = Gauge(
    "sidekick_streams_open",
    "SSE streams open in this process (all workers summed).",
    multiprocess_mode="livesum",
)
STREAMS_OPENED = Counter("sidekick_streams_opened_total", "SSE streams accepted.")
STREAMS_REFUSED = Counter(
    "sidekick_streams_refused_total",
    "SSE streams refused with 429 because the process was at its stream limit.",
)
STREAMS_CLOSED = Counter(
    "sidekick_streams_closed_total",
    "SSE streams ended, by reason (client_gone, goodbye, revoked, reset, slow_reader, error).",
    ["reason"],
)
STREAM_GOODBYES = Counter(
    "sidekick_stream_goodbyes_total",
    "`goodbye` events sent before closing a stream on purpose, by reason (max_age, shutdown, "
    "revoked, slow_reader).",
    ["reason"],
)
EVENTS_FANNED_OUT = Counter(
    "sidekick_stream_events_fanned_out_total",
    "Change events fanned out to this process's streams (once per event, not per stream).",
)
STREAM_DELIVERIES = Counter(
    "sidekick_stream_deliveries_total",
    "Event writes to individual streams (events fanned out times streams reached).",
)
COMMIT_TO_FIRST_SEND = Histogram(
    "sidekick_stream_commit_to_first_send_seconds",
    "From a change's database commit to its first write to a local stream.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
RECONCILE_REPAIRS = Counter(
    "sidekick_reconcile_repairs_total",
    "Flags the periodic reconciliation repaired from the database (events that were missed).",
)
CHANNEL_LAYER_UP = Gauge(
    "sidekick_channel_layer_up",
    "1 while the process's channel-layer probe round-trips, 0 while it fails.",
    multiprocess_mode="livemin",
)
CHANNEL_LAYER_REJOINS = Counter(
    "sidekick_channel_layer_rejoins_total",
    "Times the process rejoined the updates group after the channel layer came back.",
)
RELAY_MESSAGES_REJECTED = Counter(
    "sidekick_relay_messages_rejected_total",
    "Channel-layer messages dropped unapplied: not signed with this deployment's relay secret, "
    "not this deployment's, or too old (streaming/envelope.py).",
    ["reason"],
)


def evaluation_counted(reason: str) -> None:
    """Counts one `/api/evaluate` answer."""
    EVALUATIONS.labels(reason=reason).inc()


def report_store(*, flags: int, revision: int) -> None:
    """The flag store's figures, reported by the store whenever they change."""
    STORE_FLAGS.set(flags)
    STORE_REVISION.set(revision)


def sample_database_pool() -> None:
    """Copies the connection pool's figures into the gauges (no-op without a pool)."""
    from django.db import connections

    try:
        pool = getattr(connections["default"], "pool", None)
    except Exception:
        return
    if pool is None:
        return
    stats = pool.get_stats()
    size = int(stats.get("pool_size", 0))
    idle = int(stats.get("pool_available", 0))
    DB_POOL_CONNECTIONS.labels(state="in_use").set(size - idle)
    DB_POOL_CONNECTIONS.labels(state="idle").set(idle)
    DB_POOL_WAITING.set(int(stats.get("requests_waiting", 0)))


def multiprocess_directory() -> str | None:
    """The shared directory of multiprocess mode, when this process runs in it."""
    return os.environ.get(MULTIPROCESS_ENVIRONMENT) or None


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric and its content type."""
    sample_database_pool()
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry, path=directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def share_metrics_between_workers(directory: str | None) -> Path:
    """Prepares multiprocess mode for the workers a supervisor is about to start.

    `directory` (SIDEKICK_METRICS_DIR) is emptied, or a fresh one is made: files left by an
    earlier run would add its counts to this one's. The workers inherit the environment.
    """
    if directory:
        path = Path(directory)
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
    else:
        path = Path(tempfile.mkdtemp(prefix="sidekick-metrics-"))
    os.environ[MULTIPROCESS_ENVIRONMENT] = str(path)
    return path


def worker_exited(pid: int) -> None:
    """Drops a dead worker's live gauges (open streams, pool) from the shared view."""
    if multiprocess_directory() is not None:
        prometheus_multiprocess.mark_process_dead(pid)
