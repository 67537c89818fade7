"""Sidekick's hashes against UnleashClient's: the same flags, 10,000 users, the same answers.

The contract promises that a user moving from Unleash keeps both their rollout bucket and their
variant. This configures each case alike in both (Unleash's flexibleRollout with stickiness on
userId and the flag key as group id; its variants with stickiness on userId) and compares, user
by user, Sidekick's split against Unleash's get_variant and Sidekick's rollout against its
is_enabled. Exits non-zero on any difference. `make bench-python` runs it in the benchmark
virtualenv, where UnleashClient is installed (it never enters the project's dependencies).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from typing import Any

import evalcore

USERS = [f"user-{n}" for n in range(10_000)]
SPLITS: dict[str, list[int]] = {
    "halves": [500, 500],
    "thirds": [333, 333, 334],
    "with zero weights": [100, 0, 900, 0],
    "one at 1000": [0, 1000],
    "uneven five": [1, 99, 400, 250, 250],
}
ROLLOUTS = [1, 13, 50, 87, 99]


def unleash_client(features: list[dict[str, Any]]) -> Any:
    from UnleashClient import UnleashClient
    from UnleashClient.cache import FileCache
    from UnleashClient.utils import InstanceAllowType

    cache = FileCache("sidekick-compat", directory=tempfile.mkdtemp(prefix="unleash-compat-"))
    cache.bootstrap_from_dict({"version": 1, "features": features})
    client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="sidekick-compat",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=3600,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    client.initialize_client(fetch_toggles=False)
    return client


def rollout_strategy(key: str, percentage: int) -> dict[str, Any]:
    parameters = {"rollout": str(percentage), "stickiness": "userId", "groupId": key}
    return {"name": "flexibleRollout", "parameters": parameters}


def main() -> int:
    store = evalcore.FlagStore()
    features = []
    for name, weights in SPLITS.items():
        key = "split-" + name.replace(" ", "-")
        variants = [f"v{index}" for index in range(len(weights))]
        store.upsert(
            {
                "key": key,
                "type": "string",
                "is_enabled": True,
                "variants": [{"key": v, "value": v} for v in variants],
                "off_variant": variants[0],
                "fallthrough": {
                    "split": [
                        {"variant": v, "weight": w} for v, w in zip(variants, weights, strict=True)
                    ]
                },
            }
        )
        features.append(
            {
                "name": key,
                "enabled": True,
                "type": "release",
                "strategies": [rollout_strategy(key, 100)],
                "variants": [
                    {"name": v, "weight": w, "weightType": "variable", "stickiness": "userId"}
                    for v, w in zip(variants, weights, strict=True)
                ],
            }
        )
    for percentage in ROLLOUTS:
        key = f"rollout-{percentage}"
        store.upsert({"key": key, "is_enabled": True, "rollout_percentage": percentage})
        features.append(
            {
                "name": key,
                "enabled": True,
                "type": "release",
                "strategies": [rollout_strategy(key, percentage)],
            }
        )
    client = unleash_client(features)
    failures = 0
    print(f"evalcore implementation: {evalcore.IMPLEMENTATION}; {len(USERS):,} users per flag")
    for name, weights in SPLITS.items():
        key = "split-" + name.replace(" ", "-")
        differ = 0
        served: Counter[str] = Counter()
        for user in USERS:
            ours = store.evaluate(key, user).variant
            theirs = client.get_variant(key, {"userId": user})["name"]
            served[str(ours)] += 1
            differ += ours != theirs
        failures += differ
        shares = ", ".join(f"{v} {served[v]}" for v in sorted(served))
        print(f"split {name:18} weights {weights}: {differ} differ ({shares})")
    for percentage in ROLLOUTS:
        key = f"rollout-{percentage}"
        differ = 0
        on = 0
        for user in USERS:
            ours = store.is_enabled(key, user)
            on += ours
            differ += ours != client.is_enabled(key, {"userId": user})
        failures += differ
        print(f"rollout {percentage:3}%: {differ} differ ({on} on)")
    client.destroy()
    print("identical" if failures == 0 else f"{failures} answers differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
