"""Rollout statistics: a percentage admits that share of users, and flags bucket independently."""

from __future__ import annotations

from types import ModuleType

import pytest


def share_enabled(core: ModuleType, users: int, percentage: int) -> float:
    store = core.FlagStore()
    store.upsert({"key": "half", "is_enabled": True, "rollout_percentage": percentage})
    return sum(store.is_enabled("half", f"user-{index}") for index in range(users)) / users


@pytest.mark.parametrize(("users", "tolerance"), [(1_000, 0.05), (100_000, 0.01)])
def test_fifty_percent_admits_half(core: ModuleType, users: int, tolerance: float) -> None:
    # Binomial standard deviation at p = 0.5: 0.0158 for 1,000 users, 0.0016 for 100,000, so
    # both tolerances are over three standard deviations wide; the users are fixed, so the
    # outcome is deterministic and the bound only guards against a biased hash or bucketing.
    assert abs(share_enabled(core, users, 50) - 0.5) <= tolerance


@pytest.mark.parametrize("percentage", [1, 10, 25, 75, 99])
def test_other_percentages(core: ModuleType, percentage: int) -> None:
    assert abs(share_enabled(core, 20_000, percentage) - percentage / 100) <= 0.01


def test_buckets_are_uniform(core: ModuleType) -> None:
    users = 100_000
    counts = [0] * 100
    for index in range(users):
        counts[core.bucket("uniform", f"user-{index}")] += 1
    expected = users / 100
    chi_square = sum((count - expected) ** 2 / expected for count in counts)
    # 99 degrees of freedom: the 99.9th percentile of chi-square is 148.2.
    assert chi_square < 148.2


def test_two_flags_bucket_independently(core: ModuleType) -> None:
    # A 10x10 contingency table of (decile under flag A, decile under flag B) over the same
    # users. Independence means every cell expects users / 100. With (10-1)*(10-1) = 81 degrees
    # of freedom the 99.9th percentile of chi-square is 126.3; correlated buckets (e.g. a hash
    # of the user alone) would give thousands.
    users = 50_000
    table = [[0] * 10 for _ in range(10)]
    for index in range(users):
        user = f"user-{index}"
        table[core.bucket("flag_a", user) // 10][core.bucket("flag_b", user) // 10] += 1
    rows = [sum(row) for row in table]
    columns = [sum(row[column] for row in table) for column in range(10)]
    chi_square = 0.0
    for row in range(10):
        for column in range(10):
            expected = rows[row] * columns[column] / users
            chi_square += (table[row][column] - expected) ** 2 / expected
    assert chi_square < 126.3


def test_a_user_keeps_their_bucket_when_the_percentage_grows(core: ModuleType) -> None:
    store = core.FlagStore()
    admitted: set[str] = set()
    users = [f"user-{index}" for index in range(2_000)]
    for percentage in (5, 20, 50, 80):
        store.upsert({"key": "ramp", "is_enabled": True, "rollout_percentage": percentage})
        now = {user for user in users if store.is_enabled("ramp", user)}
        assert admitted <= now
        admitted = now
