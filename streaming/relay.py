"""Relay: changes and key revocations between server processes, through the channel layer.

Each process holds one channel in its deployment's updates group (not one per stream), so a
change costs one Redis message per process. The group is named after the deployment
(`sidekick_updates.<deployment id>`, `flags.deployment`) and every message is sealed with the
deployment's secret (`streaming.envelope`): deployments sharing one Redis never hear each other,
and a message that is not authentic, not this deployment's, or too old is dropped, counted
(`Relay.rejected`) and logged at most once a minute — never applied. A process sends what it
published (`send_threadsafe`, or `send_and_wait` where no hub runs, as in a management command)
and receives the others' in `Relay.run_receive`, handing each to the hub. The layer is watched:
a probe sent to its own channel every PROBE_SECONDS must come back; when probes fail (Redis down
or restarted) and later succeed again, the relay rejoins the group and asks the hub to reconcile
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from flags.deployment import Identity, deployment_identity, load_deployment_identity
from flags.events import ChangeEvent
from sidekick import metrics, readiness
from streaming.envelope import Rejected, open_envelope, seal

logger = logging.getLogger(__name__)

UPDATES_GROUP_PREFIX = "sidekick_updates"
# What a sealed message carries (its `kind`).
CHANGE_MESSAGE_KIND = "flag.change"
PROBE_MESSAGE_KIND = "probe"
# A revoked API key: every process ends the streams it opened and stops trusting it.
REVOKED_MESSAGE_KIND = "key_revoked"
PROBE_SECONDS = 1.0
PROBE_TIMEOUT_SECONDS = 2.0
# Dropped messages are logged at most this often (a flood must not flood the log).
REJECTED_LOG_SECONDS = 60.0


def updates_group(identity: Identity) -> str:
    """The deployment's group: the processes of other deployments never join it."""
    return f"{UPDATES_GROUP_PREFIX}.{identity.deployment_id}"


def change_message(
    event: ChangeEvent,
    environment_id: int,
    revision: int = 0,
    committed_at: float | None = None,
) -> dict[str, Any]:
    """A change in one environment, the revision it brought that environment to, and its commit
    time (for the other processes' commit-to-first-send)."""
    message: dict[str, Any] = {
        "kind": CHANGE_MESSAGE_KIND,
        "event": event,
        "environment_id": environment_id,
        "revision": revision,
    }
    if committed_at is not None:
        message["committed_at"] = committed_at
    return message


def revoked_message(key_id: int) -> dict[str, Any]:
    return {"kind": REVOKED_MESSAGE_KIND, "key_id": key_id}


class RejectedMessages:
    """Channel-layer messages dropped unapplied, counted by reason (see streaming.envelope).

    `total` and `by_reason` are read in-process; `sidekick_relay_messages_rejected_total` exports
    them. A warning is logged for the first drop and then at most once per REJECTED_LOG_SECONDS,
    with the count since the last one.
    """

    def __init__(self, log_seconds: float = REJECTED_LOG_SECONDS) -> None:
        self.total = 0
        self.by_reason: dict[str, int] = {}
        self._log_seconds = log_seconds
        self._logged_at: float | None = None
        self._unlogged = 0

    def record(self, reason: str, now: float | None = None) -> None:
        self.total += 1
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1
        metrics.RELAY_MESSAGES_REJECTED.labels(reason=reason).inc()
        self._unlogged += 1
        now = time.monotonic() if now is None else now
        if self._logged_at is None or now - self._logged_at >= self._log_seconds:
            logger.warning(
                "dropped %d relay message(s) not authentic for this deployment "
                "(last reason: %s; %d dropped since start)",
                self._unlogged,
                reason,
                self.total,
            )
            self._logged_at = now
            self._unlogged = 0


class Relay:
    """This process's membership of the updates group."""

    def __init__(
        self,
        *,
        on_change: Callable[[ChangeEvent, int, int, float | None], None],
        on_revoked: Callable[[int], Awaitable[None]],
        on_back: Callable[[], Awaitable[Any]],
    ) -> None:
        self.layer: Any = get_channel_layer()
        self.channel_name: str | None = None
        # Read from the database when the relay first joins (`join`), or by the first send.
        self.identity: Identity | None = None
        self.rejected = RejectedMessages()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._on_change = on_change
        self._on_revoked = on_revoked
        self._on_back = on_back
        self._joined = False
        self._healthy = True
        self._probe_seq = 0
        self._probe_seen = 0
        self._probe_arrived: asyncio.Event | None = None

    @property
    def enabled(self) -> bool:
        return self.layer is not None

    async def join(self) -> bool:
        """Joins the group (on the hub's loop); False while the layer is unreachable."""
        self.loop = asyncio.get_running_loop()
        if self._probe_arrived is None:
            self._probe_arrived = asyncio.Event()
        if self.identity is None:  # the database is needed to start anyway: errors propagate
            self.identity = await sync_to_async(load_deployment_identity, thread_sensitive=False)()
        group = updates_group(self.identity)
        try:
            if self.channel_name is None:
                self.channel_name = await self.layer.new_channel()
            await self.layer.group_add(group, self.channel_name)
        except Exception:
            logger.warning("cannot join %s yet; will retry", group, exc_info=True)
            self._joined = False
            self._healthy = False
            return False
        self._joined = True
        readiness.mark_ready(readiness.CHANNEL_LAYER)
        return True

    @property
    def joined(self) -> bool:
        return self._joined

    async def leave(self) -> None:
        if self.channel_name is not None and self._joined and self.identity is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(updates_group(self.identity), self.channel_name)

    # Sending --------------------------------------------------------------------------------

    def send_threadsafe(self, message: dict[str, Any]) -> bool:
        """Schedules a group_send on the hub's loop without waiting; False if no loop runs here.

        A request thread must not wait for the loop (busy fanning out to thousands of streams)
        just to hand a message to Redis; a send that fails is logged, and other processes
        repair themselves from the database.
        """
        loop = self.loop
        if loop is None or self.layer is None:
            return False
        identity = self._identity()
        group, sealed = updates_group(identity), seal(identity, message)

        def start() -> None:
            task = asyncio.ensure_future(self.layer.group_send(group, sealed))
            task.add_done_callback(_log_send_failure)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop closed: the process is exiting
            return False
        return True

    def send_and_wait(self, message: dict[str, Any]) -> None:
        """Sends from a process without a running hub (a management command, a script)."""
        if self.layer is None:
            return
        try:
            identity = self._identity()
            async_to_sync(self.layer.group_send)(updates_group(identity), seal(identity, message))
        except Exception:
            logger.exception("relay of %s failed; other processes catch up from the DB", message)

    def _identity(self) -> Identity:
        """The identity, reading it on this (request or command) thread if not read yet."""
        if self.identity is None:
            self.identity = deployment_identity()
        return self.identity

    # Receiving ------------------------------------------------------------------------------

    async def run_receive(self) -> None:
        while True:
            if self.channel_name is None:  # not created yet: Redis was down at start
                await asyncio.sleep(PROBE_SECONDS)
                continue
            try:
                message = await self.layer.receive(self.channel_name)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("channel layer receive failed; retrying", exc_info=True)
                self._healthy = False
                await asyncio.sleep(PROBE_SECONDS)
                continue
            await self._receive(message)

    async def _receive(self, sealed: dict[str, Any]) -> None:
        """Hands an authentic message of this deployment to the hub; drops anything else."""
        assert self.identity is not None  # joined, so read
        try:
            message = open_envelope(self.identity, sealed)
        except Rejected as rejected:
            self.rejected.record(rejected.reason)
            return
        kind = message.get("kind")
        try:
            if kind == CHANGE_MESSAGE_KIND:
                committed_at = message.get("committed_at")
                self._on_change(
                    message["event"],
                    int(message["environment_id"]),
                    int(message.get("revision") or 0),
                    float(committed_at) if committed_at is not None else None,
                )
            elif kind == REVOKED_MESSAGE_KIND:
                await self._on_revoked(int(message["key_id"]))
            elif kind == PROBE_MESSAGE_KIND:
                self._probe_seen = max(self._probe_seen, int(message["seq"]))
                assert self._probe_arrived is not None
                self._probe_arrived.set()
            else:
                raise ValueError(f"unknown kind {kind!r}")
        except (KeyError, ValueError, TypeError):
            # Signed by this deployment, so a bug (or a version mismatch), not an attack.
            logger.exception("ignoring a malformed relay message %r", message)

    # Watching the layer ---------------------------------------------------------------------

    async def _probe_round_trip(self) -> bool:
        assert self._probe_arrived is not None
        if self.channel_name is None or self.identity is None:
            return False
        self._probe_seq += 1
        seq = self._probe_seq
        try:
            await asyncio.wait_for(
                self.layer.send(
                    self.channel_name,
                    seal(self.identity, {"kind": PROBE_MESSAGE_KIND, "seq": seq}),
                ),
                PROBE_TIMEOUT_SECONDS,
            )
            async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
                while self._probe_seen < seq:
                    self._probe_arrived.clear()
                    await self._probe_arrived.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return True

    async def run_probes(self) -> None:
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            if not self._joined and not await self.join():
                metrics.CHANNEL_LAYER_UP.set(0)
                continue  # still unreachable (Redis down since start, or lost)
            healthy = await self._probe_round_trip()
            metrics.CHANNEL_LAYER_UP.set(1 if healthy else 0)
            if not healthy:
                if self._healthy:
                    logger.warning("channel layer unreachable; serving the last known flags")
                self._healthy = False
                continue
            if self._healthy:
                continue
            # Back after an outage: messages sent meanwhile are gone, so rejoin (the group
            # may have been lost with Redis) and repair from the database.
            if await self.join():
                logger.info("channel layer is back; reconciling from the database")
                metrics.CHANNEL_LAYER_REJOINS.inc()
                self._healthy = True
                await self._on_back()


def _log_send_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error(
            "relay failed; other processes will catch up from the database",
            exc_info=task.exception(),
        )
