"""What an OpenFeature call costs over the bare SDK call, in ns per evaluation.

Run with `make bench-python` (after eval_python.py, in benchmarks/.venv-peers). Same flags, users
and per-user attribute dicts as eval_python.py (scenarios S1-S4); each OpenFeature row calls the
OpenFeature client's `get_boolean_value` with one prebuilt EvaluationContext per user, through:

  sidekick_sdk.openfeature.SidekickProvider over a SidekickClient (bootstrapped, no network)
  the peers' own OpenFeature providers, where they evaluate offline: LaunchDarkly's
  (launchdarkly-openfeature-server over the file data source) and Unleash's
  (openfeature-provider-unleash over a bootstrapped cache)

next to `SidekickClient.is_enabled` and `SidekickClient.evaluate` (the bare SDK calls) and each
peer's bare call. The rows of one scenario are timed in turn each repeat, as eval_python.py does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from eval_python import (
    SCENARIOS,
    USERS,
    Candidate,
    Scenario,
    launchdarkly_candidate,
    launchdarkly_config,
    time_interleaved,
    unleash_cache,
    unleash_candidate,
)


def openfeature_client(provider: Any) -> Any:
    from openfeature import api

    domain = f"bench-{uuid.uuid4().hex}"
    api.set_provider_and_wait(provider, domain)
    return api.get_client(domain)


def contexts_for(scenario: Scenario) -> list[Any]:
    from openfeature.evaluation_context import EvaluationContext

    return [
        EvaluationContext(targeting_key=user, attributes=dict(attributes))
        for user, attributes in scenario.users_with_attributes()
    ]


def openfeature_row(name: str, client: Any, scenario: Scenario, note: str = "") -> Candidate:
    key, get_boolean_value = scenario.flag["key"], client.get_boolean_value
    contexts = contexts_for(scenario)

    def loop(contexts: list[Any] = contexts) -> None:
        for context in contexts:
            get_boolean_value(key, False, context)

    return Candidate(
        name,
        loop,
        lambda: [get_boolean_value(key, False, context) for context in contexts],
        note=note,
    )


def sidekick_rows(scenario: Scenario) -> list[Candidate]:
    from sidekick_sdk import SidekickClient
    from sidekick_sdk.openfeature import SidekickProvider

    # Bootstrapped and never started: evaluations only, as in a process whose stream is up.
    sidekick = SidekickClient("http://127.0.0.1:9", "bench", bootstrap=[scenario.flag])
    key, pairs = scenario.flag["key"], scenario.users_with_attributes()
    is_enabled, evaluate = sidekick.is_enabled, sidekick.evaluate

    def is_enabled_loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            is_enabled(key, user, attributes)

    def evaluate_loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            evaluate(key, user, attributes)

    provider = SidekickProvider(sidekick)
    provider_truth = provider.resolve_boolean_details
    contexts = contexts_for(scenario)

    def provider_loop(contexts: list[Any] = contexts) -> None:
        for context in contexts:
            provider_truth(key, False, context)

    client = openfeature_client(provider)
    sidekick.close(timeout=0)  # initialize started the stream; no network in the timed loops
    return [
        Candidate(
            "sidekick: client.is_enabled",
            is_enabled_loop,
            lambda: [is_enabled(key, user, attributes) for user, attributes in pairs],
        ),
        Candidate(
            "sidekick: client.evaluate",
            evaluate_loop,
            lambda: [evaluate(key, user, attributes).enabled for user, attributes in pairs],
        ),
        Candidate(
            "sidekick: provider.resolve_boolean",
            provider_loop,
            lambda: [provider_truth(key, False, context).value for context in contexts],
        ),
        openfeature_row("sidekick: OpenFeature get_boolean", client, scenario),
    ]


def launchdarkly_rows(scenario: Scenario) -> list[Candidate]:
    from ld_openfeature import LaunchDarklyProvider

    bare = launchdarkly_candidate(scenario)
    bare.name = "launchdarkly: client.variation"
    provider = LaunchDarklyProvider(launchdarkly_config(scenario), start_wait=10)
    client = openfeature_client(provider)
    return [bare, openfeature_row("launchdarkly: OpenFeature get_boolean", client, scenario)]


def unleash_rows(scenario: Scenario) -> list[Candidate]:
    from openfeature.contrib.provider.unleash import UnleashProvider
    from UnleashClient import UnleashClient
    from UnleashClient.utils import InstanceAllowType

    bare = unleash_candidate(scenario)
    bare.name = "unleash: client.is_enabled"
    provider = UnleashProvider(
        url="http://127.0.0.1:9",
        app_name="sidekick-bench",
        api_token="bench",
        fetch_toggles=False,
        cache=unleash_cache(scenario),
    )
    # The provider's own client would register and send metrics to the (absent) server from
    # background threads; the bare row's quiet configuration keeps the two rows comparable.
    provider.client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="sidekick-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=unleash_cache(scenario),
        refresh_interval=3600,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    client = openfeature_client(provider)
    return [bare, openfeature_row("unleash: OpenFeature get_boolean", client, scenario)]


ROW_BUILDERS: list[tuple[str, Callable[[Scenario], list[Candidate]]]] = [
    ("sidekick", sidekick_rows),
    ("launchdarkly", launchdarkly_rows),
    ("unleash", unleash_rows),
]


def rows_for(scenario: Scenario) -> list[Candidate]:
    rows: list[Candidate] = []
    for name, build in ROW_BUILDERS:
        try:
            rows.extend(build(scenario))
        except ImportError as error:
            rows.append(Candidate(name, note=f"not installed ({error.name})"))
        except Exception as error:  # a peer that cannot run offline is reported, never dropped
            rows.append(Candidate(name, note=f"could not be configured: {error!r}"[:120]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per timing (about)")
    options = parser.parse_args()

    import evalcore

    print(f"Python {sys.version.split()[0]}, evalcore.IMPLEMENTATION = {evalcore.IMPLEMENTATION}")
    table: dict[str, list[Candidate]] = {}
    for scenario in SCENARIOS:
        rows = rows_for(scenario)
        timed = [row for row in rows if row.loop is not None]
        samples = time_interleaved(timed, len(USERS), options.repeats, options.budget)
        for row, row_samples in zip(timed, samples, strict=True):
            ratio = sum(bool(answer) for answer in row.truth()) / len(USERS) if row.truth else 0
            row.results[scenario.name] = (statistics.median(row_samples), ratio)
        table[scenario.name] = rows
    print_table(table)


def print_table(table: dict[str, list[Candidate]]) -> None:
    names = [row.name for row in next(iter(table.values()))]
    header = f"{'ns per call (true-ratio)':<40}" + "".join(f"{name:>16}" for name in table)
    print(header)
    print("-" * len(header))
    for name in names:
        cells = []
        for scenario, rows in table.items():
            row = next(row for row in rows if row.name == name)
            if scenario not in row.results:
                cells.append(f"{'n/a':>16}")
                continue
            nanoseconds, ratio = row.results[scenario]
            cells.append(f"{nanoseconds:>9.0f} ({ratio:.2f})")
        print(f"{name:<40}" + "".join(cells))
    for row in next(iter(table.values())):
        if row.note:
            print(f"  {row.name}: {row.note}")
    print("\nOpenFeature get_boolean / the same SDK's bare call, per scenario:")
    for prefix, bare in BARE_CALLS:
        ratios = []
        for scenario, rows in table.items():
            by_name = {row.name: row for row in rows}
            wrapped = by_name.get(f"{prefix}: OpenFeature get_boolean")
            direct = by_name.get(bare)
            if wrapped and direct and scenario in wrapped.results and scenario in direct.results:
                ratios.append(wrapped.results[scenario][0] / direct.results[scenario][0])
        shown = "  ".join(f"{ratio:5.1f}x" for ratio in ratios) if ratios else "n/a"
        print(f"  {prefix:<14}{shown}")


BARE_CALLS = (
    ("sidekick", "sidekick: client.is_enabled"),
    ("launchdarkly", "launchdarkly: client.variation"),
    ("unleash", "unleash: client.is_enabled"),
)


if __name__ == "__main__":
    main()
