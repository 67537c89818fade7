"""The project page of the dashboard: one column per environment and a one-click switch that
goes through the service layer carrying the version it showed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags import services
from flags.models import ChangeRecord, Environment, Flag
from flags.scopes import default_environment

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_URL = "/admin/flags/flag/project/default/"
TOGGLE_URL = "/admin/flags/flag/project/default/toggle/"


@pytest.fixture
def browser(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def starter_project(db: None) -> None:
    """Project `default` with `development` and `production`, as a fresh install has it."""
    default_environment()


def environment(key: str) -> Environment:
    return Environment.objects.get(project__key="default", key=key)


def state(key: str, environment_key: str) -> Flag:
    return Flag.objects.get(key=key, environment=environment(environment_key))


def make_flag(key: str) -> None:
    services.flag_upsert(
        data={"key": key, "is_enabled": True, "rollout_percentage": 30},
        actor="test",
        environment=environment("production"),
    )


def test_the_project_page_shows_each_environment_as_a_column(browser) -> None:
    make_flag("checkout")
    page = browser.get(PROJECT_URL).content.decode()
    assert "development" in page and "production" in page
    assert page.count('data-environment="production"') == 1
    # Production is on at 30%; development was created off with no rollout (100%).
    assert "30%" in page and "100%" in page
    assert "100% (all)" not in page


def test_one_click_turns_a_flag_off_in_one_environment_only(browser, published) -> None:
    make_flag("checkout")
    before = state("checkout", "production")
    response = browser.post(
        TOGGLE_URL,
        {
            "flag": "checkout",
            "environment": "production",
            "enabled": "false",
            "expected_version": str(before.version),
        },
        follow=True,
    )
    assert "Turned checkout off in production" in response.content.decode()
    after = state("checkout", "production")
    assert after.is_enabled is False and after.version == before.version + 1
    assert state("checkout", "development").is_enabled is False
    record = ChangeRecord.objects.filter(flag_key="checkout").first()
    assert record is not None and record.actor == "user:root"
    assert record.environment.key == "production"


def test_a_stale_click_is_refused_and_changes_nothing(browser, published) -> None:
    make_flag("checkout")
    shown = state("checkout", "production").version
    services.flag_patch(
        key="checkout",
        data={"rollout_percentage": 10},
        actor="someone-else",
        environment=environment("production"),
    )
    response = browser.post(
        TOGGLE_URL,
        {
            "flag": "checkout",
            "environment": "production",
            "enabled": "false",
            "expected_version": str(shown),
        },
        follow=True,
    )
    page = response.content.decode()
    assert "Nothing changed" in page and "changed by someone else" in page
    current = state("checkout", "production")
    assert current.is_enabled is True and current.version == shown + 1


def test_a_click_without_a_version_is_refused(browser) -> None:
    make_flag("checkout")
    before = state("checkout", "production")
    response = browser.post(
        TOGGLE_URL,
        {"flag": "checkout", "environment": "production", "enabled": "false"},
        follow=True,
    )
    assert "Nothing changed" in response.content.decode()
    assert state("checkout", "production").version == before.version


def test_the_toggle_accepts_only_post(browser) -> None:
    assert browser.get(TOGGLE_URL).status_code == 405
