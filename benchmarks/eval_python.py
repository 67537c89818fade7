"""Measures evalcore's is_enabled in ns per call against the call floor and the Python flag SDKs.

Run with `make bench-python`: it makes benchmarks/.venv-peers, installs the peers listed in
benchmarks/requirements-python-peers.txt and this project (compiled evalcore) into it, and runs
this script there. Every peer is configured offline with the same four logical flags:

  S1  enabled, 100%, no rules
  S2  50% rollout, 10,000 distinct users cycled
  S3  five rules on email/plan/country that do not match, then 50%
  S4  one EndsWith "@acme.com" rule that matches

Each call passes that user's own attributes dict (10,000 users, 10,000 dicts with their own
values, as a server builds one per request), so no SDK can answer from a cache of the last-seen
object. Each cell is the median over repeats of (loop time / calls), timeit-style, the rows timed
in turn each repeat: the garbage collector off, the call's callable and arguments bound to locals,
per-user context objects built before the clock starts (which flatters the peers that need one).
The true-ratio column (share of calls that returned True, from a separate untimed pass) shows
that nobody is measuring an error path.
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import mmh3

USERS = [f"user-{index}" for index in range(10_000)]
MISSED_RULES = [
    {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]},
    {"attribute": "email", "operator": "Equals", "values": ["admin@example.org"]},
    {"attribute": "plan", "operator": "Equals", "values": ["enterprise"]},
    {"attribute": "plan", "operator": "Equals", "values": ["pro"]},
    {"attribute": "country", "operator": "Equals", "values": ["DE"]},
]


def per_user_attributes(domain: str) -> list[dict[str, str]]:
    """One dict per user with its own values; none of them matches a rule outside `domain`."""
    plans, countries = ("free", "team", "starter"), ("US", "GB", "FR", "JP")
    return [
        {
            "email": f"{user}@{domain}",
            "plan": plans[index % len(plans)],
            "country": countries[index % len(countries)],
        }
        for index, user in enumerate(USERS)
    ]


OUTSIDERS = per_user_attributes("example.org")
INSIDERS = per_user_attributes("acme.com")


@dataclass(frozen=True)
class Scenario:
    name: str
    flag: dict[str, Any]
    attributes: list[dict[str, str]]  # USERS[i]'s attributes at index i
    expected_true_ratio: float

    def users_with_attributes(self) -> list[tuple[str, dict[str, str]]]:
        return list(zip(USERS, self.attributes, strict=True))


SCENARIOS = [
    Scenario("S1", {"key": "s1", "is_enabled": True, "rollout_percentage": None}, OUTSIDERS, 1.0),
    Scenario("S2", {"key": "s2", "is_enabled": True, "rollout_percentage": 50}, OUTSIDERS, 0.5),
    Scenario(
        "S3",
        {"key": "s3", "is_enabled": True, "rollout_percentage": 50, "rules": MISSED_RULES},
        OUTSIDERS,
        0.5,
    ),
    Scenario(
        "S4",
        {"key": "s4", "is_enabled": True, "rollout_percentage": 0, "rules": MISSED_RULES[:1]},
        INSIDERS,
        1.0,
    ),
]


@dataclass
class Candidate:
    """One way to answer is_enabled: a timed loop over USERS and an untimed truth pass."""

    name: str
    loop: Callable[[], object] | None = None
    truth: Callable[[], list[bool]] | None = None
    note: str = ""
    results: dict[str, tuple[float, float]] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)


def evalcore_candidate(module_name: str, label: str, scenario: Scenario) -> Candidate:
    module = __import__(module_name, fromlist=["FlagStore"])
    store = module.FlagStore()
    store.upsert(scenario.flag)
    is_enabled, key = store.is_enabled, scenario.flag["key"]
    pairs = scenario.users_with_attributes()

    def loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            is_enabled(key, user, attributes)

    return Candidate(
        label, loop, lambda: [is_enabled(key, user, attributes) for user, attributes in pairs]
    )


def floor_candidates(scenario: Scenario) -> list[Candidate]:
    def empty(flag_key: str, user_key: str, attributes: object) -> None:
        return None

    key, pairs = scenario.flag["key"], scenario.users_with_attributes()

    def empty_loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            empty(key, user, attributes)

    flags = {key: scenario.flag}
    hash_ = mmh3.hash

    def lookup_and_hash(flag_key: str, user_key: str, attributes: object) -> bool:
        flags[flag_key]
        return hash_(f"{flag_key}:{user_key}", 0, signed=False) % 100 < 50

    def hash_loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            lookup_and_hash(key, user, attributes)

    return [
        Candidate("floor: empty 3-argument call", empty_loop),
        Candidate("floor: dict lookup + mmh3.hash", hash_loop),
    ]


# ---- peers -------------------------------------------------------------------------------------


def unleash_cache(scenario: Scenario) -> Any:
    """An Unleash file cache bootstrapped with the scenario's flag as a feature toggle."""
    from UnleashClient.cache import FileCache

    flag = scenario.flag
    operators = {"Equals": "IN", "EndsWith": "STR_ENDS_WITH"}
    strategies = [
        {
            "name": "flexibleRollout",
            "parameters": {"rollout": "100", "stickiness": "userId", "groupId": flag["key"]},
            "constraints": [
                {
                    "contextName": rule["attribute"],
                    "operator": operators[rule["operator"]],
                    "values": rule["values"],
                }
            ],
        }
        for rule in flag.get("rules", [])
    ]
    rollout = flag["rollout_percentage"]
    strategies.append(
        {
            "name": "flexibleRollout",
            "parameters": {
                "rollout": str(100 if rollout is None else rollout),
                "stickiness": "userId",
                "groupId": flag["key"],
            },
        }
    )
    cache = FileCache("sidekick-bench", directory=tempfile.mkdtemp(prefix="unleash-"))
    cache.bootstrap_from_dict(
        {
            "version": 1,
            "features": [
                {"name": flag["key"], "enabled": True, "strategies": strategies, "type": "release"}
            ],
        }
    )
    return cache


def unleash_candidate(scenario: Scenario) -> Candidate:
    from UnleashClient import UnleashClient
    from UnleashClient.utils import InstanceAllowType

    flag = scenario.flag
    cache = unleash_cache(scenario)
    client = UnleashClient(
        url="http://127.0.0.1:9",
        app_name="sidekick-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=3600,
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,  # one client per scenario
    )
    client.initialize_client(fetch_toggles=False)
    key, is_enabled = flag["key"], client.is_enabled
    contexts = [
        {"userId": user, "properties": attributes}
        for user, attributes in scenario.users_with_attributes()
    ]

    def loop(contexts: list[dict[str, Any]] = contexts) -> None:
        for context in contexts:
            is_enabled(key, context)

    return Candidate(
        "UnleashClient", loop, lambda: [is_enabled(key, context) for context in contexts]
    )


def growthbook_candidate(scenario: Scenario) -> Candidate:
    from growthbook import GrowthBook

    flag = scenario.flag
    rules: list[dict[str, Any]] = []
    for rule in flag.get("rules", []):
        if rule["operator"] == "EndsWith":
            condition = {rule["attribute"]: {"$regex": f"{rule['values'][0].replace('.', '[.]')}$"}}
        else:
            condition = {rule["attribute"]: {"$in": rule["values"]}}
        rules.append({"condition": condition, "force": True})
    rollout = flag["rollout_percentage"]
    if rollout is None or rollout == 100:
        rules.append({"force": True})
    elif rollout > 0:
        rules.append({"force": True, "coverage": rollout / 100, "hashAttribute": "id"})
    features = {flag["key"]: {"defaultValue": False, "rules": rules}}
    growthbook = GrowthBook(features=features)
    key, set_attributes, is_on = flag["key"], growthbook.set_attributes, growthbook.is_on
    contexts = [{"id": user, **attributes} for user, attributes in scenario.users_with_attributes()]

    def loop(contexts: list[dict[str, Any]] = contexts) -> None:
        for context in contexts:
            set_attributes(context)
            is_on(key)

    def truth() -> list[bool]:
        answers = []
        for context in contexts:
            set_attributes(context)
            answers.append(is_on(key))
        return answers

    return Candidate("growthbook", loop, truth)


def launchdarkly_config(scenario: Scenario) -> Any:
    """A LaunchDarkly client configuration reading the scenario's flag from a local file."""
    from ldclient.config import Config
    from ldclient.integrations import Files

    flag = scenario.flag
    operators = {"Equals": "in", "EndsWith": "endsWith"}
    rollout = flag["rollout_percentage"]
    if rollout is None or rollout == 100:
        fallthrough: dict[str, Any] = {"variation": 1}
    elif rollout == 0:
        fallthrough = {"variation": 0}
    else:
        weights = [100_000 - rollout * 1000, rollout * 1000]
        variations = [{"variation": index, "weight": weights[index]} for index in (0, 1)]
        fallthrough = {"rollout": {"variations": variations}}
    document = {
        "flags": {
            flag["key"]: {
                "key": flag["key"],
                "version": 1,
                "on": True,
                "variations": [False, True],
                "offVariation": 0,
                "fallthrough": fallthrough,
                "salt": flag["key"],
                "targets": [],
                "prerequisites": [],
                "rules": [
                    {
                        "id": f"rule-{index}",
                        "variation": 1,
                        "clauses": [
                            {
                                "attribute": rule["attribute"],
                                "op": operators[rule["operator"]],
                                "values": rule["values"],
                                "negate": False,
                            }
                        ],
                    }
                    for index, rule in enumerate(flag.get("rules", []))
                ],
            }
        }
    }
    handle, path = tempfile.mkstemp(prefix="launchdarkly-", suffix=".json")
    with os.fdopen(handle, "w") as file:
        json.dump(document, file)
    config = Config(
        sdk_key="sidekick-bench",
        update_processor_class=Files.new_data_source(paths=[path]),
        send_events=False,
        diagnostic_opt_out=True,
    )
    return config


def launchdarkly_candidate(scenario: Scenario) -> Candidate:
    from ldclient import Context, LDClient

    flag = scenario.flag
    config = launchdarkly_config(scenario)
    client = LDClient(config=config, start_wait=10)
    key, variation = flag["key"], client.variation

    def context_for(user: str, attributes: dict[str, str]) -> Any:
        builder = Context.builder(user)
        for name, value in attributes.items():
            builder.set(name, value)
        return builder.build()

    contexts = [context_for(*pair) for pair in scenario.users_with_attributes()]

    def loop(contexts: list[Any] = contexts) -> None:
        for context in contexts:
            variation(key, context, False)

    return Candidate(
        "launchdarkly-server-sdk",
        loop,
        lambda: [variation(key, context, False) is True for context in contexts],
    )


def flipt_candidate(scenario: Scenario) -> Candidate:
    from flipt_client import FliptClient
    from flipt_client.models import ClientOptions, ErrorStrategy

    flag = scenario.flag
    operators = {"Equals": "eq", "EndsWith": "suffix"}
    rollouts: list[dict[str, Any]] = []
    for index, rule in enumerate(flag.get("rules", [])):
        constraint = {
            "type": "STRING_CONSTRAINT_COMPARISON_TYPE",
            "property": rule["attribute"],
            "operator": operators[rule["operator"]],
            "value": rule["values"][0],
        }
        segment = {
            "segment_key": f"rule-{index}",
            "match_type": "ALL_SEGMENT_MATCH_TYPE",
            "constraints": [constraint],
        }
        rollouts.append(
            {
                "rollout_type": "SEGMENT_ROLLOUT_TYPE",
                "rank": index + 1,
                "segment": {
                    "value": True,
                    "segment_operator": "OR_SEGMENT_OPERATOR",
                    "segments": {f"rule-{index}": segment},
                },
            }
        )
    rollout = flag["rollout_percentage"]
    if 0 < (rollout or 0) < 100:
        rollouts.append(
            {
                "rollout_type": "THRESHOLD_ROLLOUT_TYPE",
                "rank": len(rollouts) + 1,
                "threshold": {"percentage": float(rollout), "value": True},
            }
        )
    # The engine's own snapshot format (what its get_snapshot() returns). A boolean flag's
    # `enabled` is its default value, which the rollouts override in rank order.
    key = flag["key"]
    snapshot = {
        "version": 1,
        "namespace": {
            "key": "default",
            "flags": {
                key: {"key": key, "enabled": rollout in (None, 100), "type": "BOOLEAN_FLAG_TYPE"}
            },
            "eval_rules": {key: []},
            "eval_rollouts": {key: rollouts},
            "eval_distributions": {},
        },
    }
    client = FliptClient(
        ClientOptions(
            # Nothing listens there: the engine's initial fetch fails and, with the fallback
            # strategy, it keeps evaluating on the snapshot.
            url="http://127.0.0.1:9",
            update_interval=3600,
            request_timeout=1,
            error_strategy=ErrorStrategy.FALLBACK,
            snapshot=base64.b64encode(json.dumps(snapshot).encode()).decode(),
        )
    )
    evaluate = client.evaluate_boolean
    pairs = scenario.users_with_attributes()

    def loop(pairs: list[tuple[str, dict[str, str]]] = pairs) -> None:
        for user, attributes in pairs:
            evaluate(key, user, attributes)

    return Candidate(
        "flipt-client",
        loop,
        lambda: [evaluate(key, user, attributes).enabled for user, attributes in pairs],
        note="offline: snapshot option, fallback error strategy",
    )


def openfeature_candidate(scenario: Scenario) -> Candidate:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.flag_evaluation import FlagResolutionDetails, Reason
    from openfeature.provider.in_memory_provider import InMemoryFlag, InMemoryProvider

    flag = scenario.flag
    rules = flag.get("rules", [])
    rollout = flag["rollout_percentage"]
    hash_ = mmh3.hash

    # InMemoryProvider has no targeting of its own: an app would write this evaluator itself.
    def evaluate(
        in_memory: InMemoryFlag[bool], context: EvaluationContext
    ) -> FlagResolutionDetails[bool]:
        attributes = context.attributes
        on = False
        for rule in rules:
            value = attributes.get(rule["attribute"])
            if isinstance(value, str) and (
                value.endswith(tuple(rule["values"]))
                if rule["operator"] == "EndsWith"
                else value in rule["values"]
            ):
                on = True
                break
        else:
            if rollout is None or rollout >= 100:
                on = True
            elif rollout > 0:
                digest = hash_(f"{flag['key']}:{context.targeting_key}", 0, signed=False)
                on = digest % 100 < rollout
        variant = "on" if on else "off"
        return FlagResolutionDetails(value=on, variant=variant, reason=Reason.TARGETING_MATCH)

    provider = InMemoryProvider(
        {
            flag["key"]: InMemoryFlag(
                default_variant="off",
                variants={"on": True, "off": False},
                context_evaluator=evaluate,
            )
        }
    )
    api.set_provider(provider)
    client = api.get_client()
    key, get_boolean_value = flag["key"], client.get_boolean_value
    contexts = [
        EvaluationContext(targeting_key=user, attributes=dict(attributes))
        for user, attributes in scenario.users_with_attributes()
    ]

    def loop(contexts: list[Any] = contexts) -> None:
        for context in contexts:
            get_boolean_value(key, False, context)

    return Candidate(
        "openfeature-sdk",
        loop,
        lambda: [get_boolean_value(key, False, context) for context in contexts],
        note="InMemoryProvider + a hand-written evaluator",
    )


PEERS: list[tuple[str, Callable[[Scenario], Candidate]]] = [
    ("UnleashClient", unleash_candidate),
    ("growthbook", growthbook_candidate),
    ("launchdarkly-server-sdk", launchdarkly_candidate),
    ("flipt-client", flipt_candidate),
    ("openfeature-sdk", openfeature_candidate),
]


# ---- measuring ---------------------------------------------------------------------------------


def time_interleaved(
    rows: list[Candidate], calls: int, repeats: int, budget: float
) -> list[list[float]]:
    """ns per call of each row's loop, one sample per repeat, the rows timed in turn each repeat.

    Interleaving spreads any drift in the machine's load over every row alike, so the ratios
    between rows (against the floor above all) stay meaningful on a busy machine.
    """
    passes = []
    for row in rows:
        assert row.loop is not None
        started = time.perf_counter()
        row.loop()
        passes.append(max(1, math.ceil(budget / max(time.perf_counter() - started, 1e-9))))
    samples: list[list[float]] = [[] for _ in rows]
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            for index, row in enumerate(rows):
                loop = row.loop
                assert loop is not None
                started_ns = time.perf_counter_ns()
                for _ in range(passes[index]):
                    loop()
                elapsed = time.perf_counter_ns() - started_ns
                samples[index].append(elapsed / (passes[index] * calls))
    finally:
        if collecting:
            gc.enable()
    return samples


def candidates_for(scenario: Scenario, implementations: Iterable[str]) -> list[Candidate]:
    rows: list[Candidate] = []
    if "c" in implementations:
        rows.append(evalcore_candidate("evalcore._core", "evalcore (compiled)", scenario))
    if "python" in implementations:
        rows.append(
            evalcore_candidate("evalcore._core_py", "evalcore (pure-Python twin)", scenario)
        )
    rows.extend(floor_candidates(scenario))
    for name, build in PEERS:
        try:
            rows.append(build(scenario))
        except ImportError as error:
            rows.append(Candidate(name, note=f"not installed ({error.name})"))
        except Exception as error:  # a peer that cannot run offline is reported, never dropped
            rows.append(Candidate(name, note=f"could not be configured: {error!r}"[:120]))
    return rows


def callgrind_instructions(scenario: Scenario, floor: bool, calls: int = 100_000) -> float | None:
    """Instructions per loop iteration calling is_enabled (or the empty floor), by difference of
    two callgrind runs (calls and none), so start-up and set-up cancel out."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    program = (
        "import sys, evalcore._core as core\n"
        f"store = core.FlagStore(); store.upsert({scenario.flag!r})\n"
        "def empty(flag_key, user_key, attributes): return None\n"
        f"call = empty if {floor!r} else store.is_enabled\n"
        f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
        "from eval_python import SCENARIOS, USERS\n"
        f"scenario = next(s for s in SCENARIOS if s.name == {scenario.name!r})\n"
        "def run(n, call=call, users=USERS, attributes=scenario.attributes,\n"
        f"        key={scenario.flag['key']!r}):\n"
        "    for index in range(n): call(key, users[index % 10000], attributes[index % 10000])\n"
        "run(int(sys.argv[1]))\n"
    )
    totals = []
    command = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    for count in (0, calls):
        completed = subprocess.run(
            [*command, "-c", program, str(count)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        marker = [line for line in completed.stderr.splitlines() if "Collected :" in line]
        if completed.returncode != 0 or not marker:
            return None
        totals.append(int(marker[-1].split(":")[-1].replace(",", "")))
    return (totals[1] - totals[0]) / calls


def print_callgrind() -> None:
    print("\ncallgrind, instructions per loop iteration (stable where timings are noisy):")
    print(f"  {'':4}{'is_enabled':>12}{'empty call':>12}{'difference':>12}{'ratio':>8}")
    for scenario in SCENARIOS:
        compiled = callgrind_instructions(scenario, floor=False)
        empty = callgrind_instructions(scenario, floor=True)
        if compiled is None or empty is None:
            print(f"  {scenario.name}: valgrind unavailable or failed")
            continue
        print(
            f"  {scenario.name:4}{compiled:12,.0f}{empty:12,.0f}{compiled - empty:12,.0f}"
            f"{compiled / empty:8.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per timing (about)")
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--json", help="also write the figures to this file")
    options = parser.parse_args()

    import evalcore

    implementations = {"python"} | ({"c"} if evalcore.IMPLEMENTATION == "c" else set())
    print(f"Python {sys.version.split()[0]}, evalcore.IMPLEMENTATION = {evalcore.IMPLEMENTATION}")
    table: dict[str, list[Candidate]] = {}
    for scenario in SCENARIOS:
        rows = candidates_for(scenario, implementations)
        timed = [row for row in rows if row.loop is not None]
        samples = time_interleaved(timed, len(USERS), options.repeats, options.budget)
        for row, row_samples in zip(timed, samples, strict=True):
            ratio = sum(row.truth()) / len(USERS) if row.truth else math.nan
            row.results[scenario.name] = (statistics.median(row_samples), ratio)
            row.samples[scenario.name] = row_samples
        table[scenario.name] = rows
    print_table(table)
    figures = {
        scenario: {row.name: row.results.get(scenario) for row in rows}
        for scenario, rows in table.items()
    }
    if not options.no_callgrind and "c" in implementations:
        print_callgrind()
    if options.json:
        with open(options.json, "w") as file:
            json.dump(figures, file, indent=2)


def print_table(table: dict[str, list[Candidate]]) -> None:
    names = [row.name for row in next(iter(table.values()))]
    notes = {row.name: row.note for rows in table.values() for row in rows if row.note}
    header = f"{'ns per call (true-ratio)':<34}" + "".join(f"{name:>18}" for name in table)
    print(header)
    print("-" * len(header))
    for name in names:
        cells = []
        for scenario, rows in table.items():
            row = next(row for row in rows if row.name == name)
            if scenario not in row.results:
                cells.append(f"{'n/a':>18}")
                continue
            seconds, ratio = row.results[scenario]
            shown = f"({ratio:.2f})" if not math.isnan(ratio) else ""
            cells.append(f"{seconds:>10.0f} {shown:>7}")
        print(f"{name:<34}" + "".join(cells))
    for name, note in notes.items():
        print(f"  {name}: {note}")
    print_targets(table)


def print_targets(table: dict[str, list[Candidate]]) -> None:
    print("\ntargets: compiled >= 30x faster than the fastest peer, <= 2.5x the empty-call floor")
    print("  (the floor ratio is the median of the per-repeat ratios: both timed back to back)")
    for scenario, rows in table.items():
        by_name = {row.name: row for row in rows}
        compiled = by_name.get("evalcore (compiled)")
        floor = by_name.get("floor: empty 3-argument call")
        if compiled is None or floor is None or scenario not in compiled.results:
            print(f"  {scenario}: the compiled core is not built")
            continue
        peers = [
            by_name[name].results[scenario][0]
            for name, _ in PEERS
            if scenario in by_name[name].results
        ]
        speedup = min(peers, default=math.nan) / compiled.results[scenario][0]
        pairs = zip(compiled.samples[scenario], floor.samples[scenario], strict=True)
        over_floor = statistics.median(ours / empty for ours, empty in pairs)
        verdict = "met" if speedup >= 30 and over_floor <= 2.5 else "MISSED"
        print(
            f"  {scenario}: {speedup:5.0f}x faster than the fastest peer, "
            f"{over_floor:4.2f}x the floor -> {verdict}"
        )


if __name__ == "__main__":
    # The Flipt engine aborts the process when it captures a Rust backtrace (an unwinder
    # incompatibility in its static build); without capture it reports errors normally.
    os.environ.setdefault("RUST_LIB_BACKTRACE", "0")
    main()
