"""Publishing a committed flag change: to this process's store and streams, then everywhere."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from streaming.flag_store import ChangeEvent, process_flag_store
from streaming.hub import (
    CHANGE_MESSAGE_TYPE,
    REVOKED_MESSAGE_TYPE,
    UPDATES_GROUP,
    change_message,
    update_hub,
)

__all__ = [
    "CHANGE_MESSAGE_TYPE",
    "UPDATES_GROUP",
    "change_message",
    "publish_flag_change",
    "publish_key_revoked",
]

logger = logging.getLogger(__name__)


def publish_flag_change(event: ChangeEvent) -> None:
    """Applies a committed change locally and broadcasts it; call it from `transaction.on_commit`.

    This process's streams get the change straight from here, so they do not depend on Redis;
    other instances get it through the group (their hubs apply and forward it). A broadcast that
    fails (Redis down) is logged, not raised: the write is already committed and every other
    instance repairs itself from the database by version.
    """
    hub = update_hub()
    if process_flag_store().apply(event):
        hub.emit_threadsafe(event)
    _broadcast(change_message(event))


def publish_key_revoked(key_id: int) -> None:
    """Ends every stream opened with a revoked key, here and on every instance; call on commit.

    Revocation is immediate for new requests (each checks the database); this also closes the
    streams the key already holds open. A broadcast that fails is logged: another instance then
    ends such streams only when they reconnect (the reconnect is refused).
    """
    update_hub().revoke_threadsafe(key_id)
    _broadcast({"type": REVOKED_MESSAGE_TYPE, "key_id": key_id})


def _broadcast(message: dict) -> None:
    if update_hub().broadcast_threadsafe(message):
        return
    # No hub in this process (a management command, a script): send and wait.
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(UPDATES_GROUP, message)
    except Exception:
        logger.exception("broadcast of %s failed; other instances catch up from the DB", message)
