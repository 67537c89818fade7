"""The flag page's per-environment sections: each saves its environment only, with the version
it showed, and tries a user against its own environment's state."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags import services
from flags.models import Environment, Flag
from flags.scopes import default_environment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def checkout(db: None) -> None:
    """`checkout` on at 30% in production, off (the default) in development."""
    default_environment()
    services.flag_upsert(
        data={"key": "checkout", "is_enabled": True, "rollout_percentage": 30},
        actor="test",
        environment=Environment.objects.get(project__key="default", key="production"),
    )


def state(environment_key: str) -> Flag:
    return Flag.objects.get(key="checkout", environment__key=environment_key)


def page_url() -> str:
    return f"/admin/flags/flag/{state('development').pk}/change/"


def save_url(environment_key: str) -> str:
    return f"/admin/flags/flag/{state('development').pk}/environment/{environment_key}/save/"


def section_post(environment_key: str, version: int, **fields: object) -> dict[str, object]:
    prefix = f"state-{environment_key}"
    data: dict[str, object] = {f"{prefix}-expected_version": version}
    for name, value in fields.items():
        if value is not False:
            data[f"{prefix}-{name}"] = value
    return data


def test_the_flag_page_has_a_section_with_a_form_for_each_environment(browser) -> None:
    page = browser.get(page_url()).content.decode()
    for key in ("development", "production"):
        assert f'id="env-{key}"' in page
        assert f'action="{save_url(key)}"' in page
    production = page[page.index('id="env-production"') :]
    assert 'name="state-production-rollout_percentage" value="30"' in production


def test_saving_one_section_changes_only_that_environment(browser) -> None:
    development, production = state("development"), state("production")
    rules = [{"attribute": "plan", "operator": "Equals", "values": ["pro"]}]
    response = browser.post(
        save_url("production"),
        section_post(
            "production",
            production.version,
            is_enabled="on",
            rollout_percentage="60",
            rules=json.dumps(rules),
        ),
    )
    assert response.status_code == 302
    saved = state("production")
    assert saved.version == production.version + 1
    assert saved.rollout_percentage == 60 and saved.is_enabled is True
    assert [(r.attribute, r.operator, r.values) for r in saved.rules.order_by("position")] == [
        ("plan", "Equals", ["pro"])
    ]
    untouched = state("development")
    assert (untouched.version, untouched.is_enabled, untouched.rollout_percentage) == (
        development.version,
        development.is_enabled,
        development.rollout_percentage,
    )
    page = browser.get(response["Location"]).content.decode()
    assert "Saved checkout in production." in page


def test_a_stale_section_save_is_refused_and_changes_nothing(browser) -> None:
    shown = state("production").version
    services.flag_patch(
        key="checkout",
        data={"rollout_percentage": 40},
        actor="someone-else",
        environment=state("production").environment,
    )
    current = state("production")
    response = browser.post(
        save_url("production"), section_post("production", shown, rollout_percentage="90")
    )
    after = state("production")
    assert (after.version, after.rollout_percentage) == (current.version, 40)
    page = browser.get(response["Location"]).content.decode()
    assert "Nothing saved in production" in page
    assert f"version {shown} shown, {current.version} now" in page


def test_a_bad_section_is_refused_with_its_error(browser) -> None:
    before = state("development").version
    response = browser.post(
        save_url("development"),
        section_post("development", before, rollout_percentage="101", rules="[{]"),
    )
    assert state("development").version == before
    page = browser.get(response["Location"]).content.decode()
    assert "Nothing saved in development" in page and "rules" in page


def test_try_a_user_in_each_section_answers_for_that_environment(browser) -> None:
    asked = {"try-production-try_user": "u1", "try-development-try_user": "u1"}
    production = browser.get(page_url(), {"try_env": "production", **asked})
    sections = {s["environment"].key: s for s in production.context["environment_sections"]}
    assert sections["production"]["try_result"].reason == "ROLLOUT"
    assert "try_result" not in sections["development"]
    development = browser.get(page_url(), {"try_env": "development", **asked})
    sections = {s["environment"].key: s for s in development.context["environment_sections"]}
    assert sections["development"]["try_result"].reason == "OFF"
    assert sections["development"]["try_result"].enabled is False
    assert "try_result" not in sections["production"]
