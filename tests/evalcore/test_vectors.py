"""Every shared vector file, replayed against both implementations."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.evalcore.vectors import evaluation_files, load, replay

HAND_WRITTEN = [
    pytest.param(case, id=f"{name}::{case['name']}")
    for name in [*evaluation_files("evaluation"), *evaluation_files("typed")]
    if not name.endswith("generated.json")
    for case in load(name)["cases"]
]


def test_hash_vectors(core: ModuleType) -> None:
    cases = load("hash.json")["cases"]
    assert len(cases) > 100
    for case in cases:
        data = bytes.fromhex(case["input_hex"])
        assert core.murmur3_32(data, case["seed"]) == case["expected"], case["name"]


@pytest.mark.parametrize("case", HAND_WRITTEN)
def test_hand_written_vector(core: ModuleType, case: dict[str, Any]) -> None:
    replay(core, case)


@pytest.mark.parametrize("name", evaluation_files("generated"))
def test_generated_vector_file(core: ModuleType, name: str) -> None:
    for case in load(name)["cases"]:
        replay(core, case)


def test_there_are_enough_generated_cases() -> None:
    total = sum(len(load(name)["cases"]) for name in evaluation_files("generated"))
    assert total >= 2000


def test_typed_generated_vectors(core: ModuleType) -> None:
    cases = load("typed/generated.json")["cases"]
    assert sum(len(case["evaluations"]) for case in cases) >= 3000
    for case in cases:
        replay(core, case)
