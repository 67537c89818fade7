"""The relay: what `flags` publishes after a commit reaches the channel layer group."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from flags import services
from flags.deployment import deployment_identity
from flags.scopes import default_environment
from streaming.envelope import open_envelope
from streaming.relay import CHANGE_MESSAGE_KIND, REVOKED_MESSAGE_KIND, updates_group

pytestmark = pytest.mark.django_db(transaction=True)


def test_published_changes_and_revocations_reach_the_group() -> None:
    layer = get_channel_layer()
    assert layer is not None
    identity = deployment_identity()
    group = updates_group(identity)

    async def join() -> str:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        return channel

    async def receive(channel: str) -> dict:
        return open_envelope(identity, await asyncio.wait_for(layer.receive(channel), timeout=10))

    channel = async_to_sync(join)()
    try:
        production = default_environment()
        before = time.time()
        flag = services.flag_upsert(data={"key": "broadcast", "is_enabled": True}, actor="t").flag
        # A new flag is created in every environment of the project: one message each, in
        # environment order, each naming its environment and the revision it brought, with the
        # commit time for the other processes' commit-to-first-send metric.
        environments = list(production.project.environments.order_by("pk"))
        for environment in environments:
            message = async_to_sync(receive)(channel)
            assert message["kind"] == CHANGE_MESSAGE_KIND
            assert message["environment_id"] == environment.pk
            assert message["revision"] == 1
            assert before <= message["committed_at"] <= time.time()
            if environment.pk == production.pk:
                assert message["event"] == {"type": "UPSERT", "flag": flag}
            else:  # off in the others
                assert message["event"]["flag"]["is_enabled"] is False
        key, _ = services.api_key_create(name="gone", role="client")
        services.api_key_revoke(api_key=key)
        message = async_to_sync(receive)(channel)
        assert message == {"kind": REVOKED_MESSAGE_KIND, "key_id": key.pk}
    finally:
        async_to_sync(layer.group_discard)(group, channel)
