"""A write the server never hears about (another process, no shared Redis) reaches its SDKs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.clients import sdk_client
from tests.e2e.server import REPO_ROOT
from tests.e2e.sse import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WRITE = (
    "import django; django.setup()\n"
    "from flags.services import flag_upsert\n"
    "flag_upsert(data={'key': 'written_elsewhere', 'is_enabled': True}, actor='script')\n"
)


def test_periodic_reconciliation_delivers_a_missed_write_to_connected_sdks(make_server_group):
    # No REDIS_URL: the writing process's relay goes nowhere, as if the event were lost; the
    # watermark poll, which would catch it up first, is slowed down so the reconciliation does.
    group = make_server_group(
        keepalive_seconds=1.0,
        reconcile_seconds=1.0,
        extra_env={"SIDEKICK_WATERMARK_POLL_SECONDS": "3600"},
    )
    server = group.add_server()
    with sdk_client(group, server) as sdk:
        sdk.init(timeout=15)
        assert sdk.get("written_elsewhere") is None
        subprocess.run(
            [sys.executable, "-c", WRITE], cwd=REPO_ROOT, env=group.env, check=True, timeout=60
        )
        wait_until(lambda: sdk.is_enabled("written_elsewhere", "u"), 15, "not reconciled")
