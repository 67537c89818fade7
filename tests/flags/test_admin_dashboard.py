"""The project page of the dashboard: one column per environment and a one-click switch that
goes through the service layer carrying the version it showed."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags import services
from flags.models import ApiKey, ChangeRecord, Environment, Flag
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
            "confirmed": "on",  # production is protected on a fresh install
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
            "confirmed": "on",  # production is protected on a fresh install
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


def test_the_flag_list_links_to_the_project_page(browser) -> None:
    page = browser.get("/admin/flags/flag/").content.decode()
    assert f'href="{PROJECT_URL}"' in page


def test_the_toggle_accepts_only_post(browser) -> None:
    assert browser.get(TOGGLE_URL).status_code == 405


def change_url(key: str, environment_key: str) -> str:
    return f"/admin/flags/flag/{state(key, environment_key).pk}/change/"


def test_copy_shows_the_difference_first_and_writes_only_on_confirmation(browser) -> None:
    make_flag("checkout")
    target = state("checkout", "development")
    preview = browser.get(change_url("checkout", "development") + "?copy_from=production")
    page = preview.content.decode()
    assert 'id="copy-diff"' in page
    assert "is_enabled" in page and "rollout_percentage" in page and "30%" in page
    # The dry run wrote nothing.
    assert state("checkout", "development").version == target.version
    assert ChangeRecord.objects.filter(environment=target.environment).count() == 1

    confirmed = browser.post(
        f"/admin/flags/flag/{target.pk}/copy/",
        {"source": "production", "expected_version": str(target.version)},
        follow=True,
    )
    assert "Copied 2 field(s) from production to development" in confirmed.content.decode()
    copied = state("checkout", "development")
    assert copied.is_enabled is True and copied.rollout_percentage == 30
    assert copied.version == target.version + 1


def test_a_copy_confirmed_after_someone_elses_change_is_refused(browser) -> None:
    make_flag("checkout")
    shown = state("checkout", "development").version
    services.flag_patch(
        key="checkout",
        data={"rollout_percentage": 5},
        actor="someone-else",
        environment=environment("development"),
    )
    response = browser.post(
        f"/admin/flags/flag/{state('checkout', 'development').pk}/copy/",
        {"source": "production", "expected_version": str(shown)},
        follow=True,
    )
    assert "Nothing copied" in response.content.decode()
    current = state("checkout", "development")
    assert current.is_enabled is False and current.rollout_percentage == 5


def test_history_reads_as_a_diff_with_environment_and_actor(browser) -> None:
    make_flag("checkout")
    services.flag_patch(
        key="checkout",
        data={"rollout_percentage": 60},
        actor="user:alice",
        environment=environment("production"),
    )
    page = browser.get(change_url("checkout", "production")).content.decode()
    assert 'id="full-history"' in page
    assert "<del>30%</del>" in page and "<ins>60%</ins>" in page
    history = browser.get("/admin/flags/changerecord/?flag_key=checkout").content.decode()
    assert "user:alice" in history and str(environment("production")) in history
    assert "<del>30%</del>" in history and "<ins>60%</ins>" in history
    assert '"is_enabled": ' not in history  # no raw JSON dump


def test_the_api_key_page_binds_to_an_environment_and_revokes_with_a_button(browser) -> None:
    development = environment("development")
    browser.post(
        "/admin/flags/apikey/add/",
        {"name": "staging server", "role": "server", "environment": str(development.pk)},
    )
    key = ApiKey.objects.get(name="staging server")
    assert key.environment_id == development.pk
    page = browser.get(f"/admin/flags/apikey/{key.pk}/change/").content.decode()
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "Revoke this key" in page
    assert browser.get(f"/admin/flags/apikey/{key.pk}/revoke/").status_code == 405
    response = browser.post(f"/admin/flags/apikey/{key.pk}/revoke/", follow=True)
    assert "revoked" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert (
        "Revoke this key"
        not in browser.get(f"/admin/flags/apikey/{key.pk}/change/").content.decode()
    )
    listing = browser.get("/admin/flags/apikey/?status=revoked").content.decode()
    assert "By Status" in listing and "staging server" in listing
    assert (
        "staging server" not in browser.get("/admin/flags/apikey/?status=active").content.decode()
    )


def test_flags_come_before_users_and_groups_on_the_index(browser) -> None:
    page = browser.get("/admin/").content.decode()
    assert page.index("API keys") < page.index("Groups")
    assert page.index("Flags") < page.index("Users")


def test_dates_are_iso_8601_with_their_offset(browser) -> None:
    make_flag("checkout")
    listing = browser.get("/admin/flags/flag/").content.decode()
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", listing)


def test_a_protected_environment_asks_before_a_one_click_change(browser) -> None:
    Environment.objects.filter(pk=environment("production").pk).update(protected=True)
    make_flag("checkout")
    before = state("checkout", "production")
    click = {
        "flag": "checkout",
        "environment": "production",
        "enabled": "false",
        "expected_version": str(before.version),
    }
    asked = browser.post(TOGGLE_URL, click)
    assert asked.status_code == 200
    assert 'id="protected-warning"' in asked.content.decode()
    assert state("checkout", "production").version == before.version  # nothing yet

    browser.post(TOGGLE_URL, {**click, "confirmed": "on"})
    after = state("checkout", "production")
    assert after.is_enabled is False and after.version == before.version + 1


def test_the_flag_page_shows_the_flag_in_each_environment(browser) -> None:
    make_flag("checkout")
    page = browser.get(change_url("checkout", "development")).content.decode()
    section = page[page.index('id="environments"') : page.index('id="try-a-user"')]
    assert "default/production" in section and "30%" in section and "ON" in section
    assert "default/development (this page)" in section
    assert f'href="{change_url("checkout", "production")}"' in section
