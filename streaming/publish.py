"""Publishing a committed flag change: to this process's store, then to every instance."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming.flag_store import ChangeEvent, encode_json, process_flag_store

logger = logging.getLogger(__name__)

# The channel-layer group every instance's store listener and every SSE consumer joins.
UPDATES_GROUP = "sidekick_updates"
# The channel-layer message type; Channels dispatches it to a consumer's `flag_change` method.
CHANGE_MESSAGE_TYPE = "flag.change"


def change_message(event: ChangeEvent) -> dict:
    """The group message for an event; `data` is the SSE payload, encoded once for all readers."""
    return {"type": CHANGE_MESSAGE_TYPE, "event": event, "data": encode_json(event)}


def publish_flag_change(event: ChangeEvent) -> None:
    """Applies a committed change locally and broadcasts it; call it from `transaction.on_commit`.

    A broadcast that fails (Redis down) is logged, not raised: the write is already committed and
    every store repairs itself from the database by version.
    """
    process_flag_store().apply(event)
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(UPDATES_GROUP, change_message(event))
    except Exception:
        logger.exception("broadcast of %s failed; stores will reconcile from the database", event)
