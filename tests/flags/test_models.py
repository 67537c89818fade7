"""Constraints live in the database too: a write that skips validation still cannot store junk."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from flags.models import Flag, Rule

pytestmark = pytest.mark.django_db


def make_flag(**fields: object) -> Flag:
    with transaction.atomic():
        return Flag.objects.create(**{"key": "k", "updated_at": timezone.now(), **fields})


@pytest.mark.parametrize(
    "key", ["", "has space", "-dash-first", ".dot-first", "new\nline", "trailing\n", "ü"]
)
def test_key_charset_is_a_database_constraint(key: str) -> None:
    with pytest.raises(IntegrityError):
        make_flag(key=key)


def test_key_length_is_enforced_by_the_database() -> None:
    make_flag(key="k" * 100)
    with pytest.raises((IntegrityError, DataError)):
        make_flag(key="q" * 101)


@pytest.mark.parametrize("rollout", [101, 1000])
def test_rollout_range_is_a_database_constraint(rollout: int) -> None:
    with pytest.raises(IntegrityError):
        make_flag(rollout_percentage=rollout)


def test_valid_rows_and_the_other_constraints() -> None:
    flag = make_flag(key="A1_.-z", rollout_percentage=100, description="é" * 1000)
    make_flag(key="b", rollout_percentage=None)
    with pytest.raises(IntegrityError):
        make_flag(key="A1_.-z")
    with pytest.raises(IntegrityError):
        make_flag(key="long", description="é" * 1001)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rule.objects.create(flag=flag, position=0, attribute="a", operator="Regex", values=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        Rule.objects.create(flag=flag, position=0, attribute="", operator="Equals", values=[])
