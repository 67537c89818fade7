"""Constraints live in the database too: a write that skips validation still cannot store junk."""

from __future__ import annotations

import pytest
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone

from flags.models import ApiKey, Environment, Flag, FlagDefinition, FlagTombstone, Project, Rule
from flags.scopes import default_environment

pytestmark = pytest.mark.django_db


def make_flag(*, description: str | None = None, **fields: object) -> Flag:
    """A definition and its state in the default environment, written straight to the ORM."""
    environment = default_environment()
    key = fields.pop("key", "k")
    with transaction.atomic():
        definition = FlagDefinition.objects.create(
            project=environment.project,
            key=f"def-{len(str(key))}-{abs(hash(key))}",
            description=description,
        )
        return Flag.objects.create(
            environment=environment,
            definition=definition,
            key=key,
            updated_at=timezone.now(),
            **fields,
        )


@pytest.mark.parametrize(
    "key", ["", "has space", "-dash-first", ".dot-first", "new\nline", "trailing\n", "ü"]
)
def test_key_charset_is_a_database_constraint(key: str) -> None:
    with pytest.raises(IntegrityError):
        make_flag(key=key)


@pytest.mark.parametrize("model", [Project, FlagDefinition])
def test_project_and_definition_keys_have_the_same_charset(model: type) -> None:
    project = default_environment().project
    extra = {} if model is Project else {"project": project}
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(key="has space", **extra)


def test_environment_key_charset_and_uniqueness_per_project() -> None:
    project = Project.objects.create(key="other", name="Other")
    Environment.objects.create(project=project, key="production", name="P")
    with pytest.raises(IntegrityError), transaction.atomic():
        Environment.objects.create(project=project, key="production", name="P again")
    with pytest.raises(IntegrityError), transaction.atomic():
        Environment.objects.create(project=project, key="no/slash", name="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Environment.objects.create(project=project, key="e", name="x", revision=-1)


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
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.create(
            environment=flag.environment,
            definition=flag.definition,
            key="A1_.-z",
            updated_at=timezone.now(),
        )
    with pytest.raises(IntegrityError):
        make_flag(key="long", description="é" * 1001)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rule.objects.create(flag=flag, position=0, attribute="a", operator="Regex", values=[])
    with pytest.raises(IntegrityError), transaction.atomic():
        Rule.objects.create(flag=flag, position=0, attribute="", operator="Equals", values=[])
    FlagTombstone.objects.create(
        environment=flag.environment, key="gone", version=2, deleted_at=timezone.now()
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        FlagTombstone.objects.create(
            environment=flag.environment, key="gone", version=3, deleted_at=timezone.now()
        )


def test_server_and_client_keys_need_an_environment_and_admin_keys_have_none() -> None:
    environment = default_environment()

    def make(role: str, bound: Environment | None, prefix: str) -> ApiKey:
        with transaction.atomic():
            return ApiKey.objects.create(
                name="k", role=role, prefix=prefix, secret_sha256=prefix, environment=bound
            )

    make("server", environment, "p1")
    make("admin", None, "p2")
    with pytest.raises(IntegrityError):
        make("client", None, "p3")
    with pytest.raises(IntegrityError):
        make("admin", environment, "p4")
