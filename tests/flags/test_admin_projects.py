"""The dashboard's project page: an operator marks an environment protected there."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags.models import Environment, Project
from flags.scopes import default_environment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def browser(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def protected_by_key() -> dict[str, bool]:
    return {e.key: e.protected for e in Environment.objects.filter(project__key="default")}


def inline_post(project: Project, protected: set[str]) -> dict[str, str]:
    """The change form as a browser submits it, with `protected` ticked for those keys."""
    environments = list(project.environments.order_by("position", "id"))
    data = {
        "name": project.name,
        "environments-TOTAL_FORMS": str(len(environments)),
        "environments-INITIAL_FORMS": str(len(environments)),
        "environments-MIN_NUM_FORMS": "0",
        "environments-MAX_NUM_FORMS": "1000",
    }
    for index, environment in enumerate(environments):
        data[f"environments-{index}-id"] = str(environment.pk)
        data[f"environments-{index}-project"] = str(project.pk)
        data[f"environments-{index}-name"] = environment.name
        if environment.key in protected:
            data[f"environments-{index}-protected"] = "on"
    return data


def test_an_operator_marks_an_environment_protected_on_the_project_page(browser) -> None:
    default_environment()
    project = Project.objects.get(key="default")
    before = protected_by_key()
    url = f"/admin/flags/project/{project.pk}/change/"
    page = browser.get(url)
    assert page.status_code == 200
    assert b'name="environments-0-protected"' in page.content

    unprotected = {key for key, value in before.items() if not value}
    target = sorted(unprotected)[0]
    wanted = {key for key, value in before.items() if value} | {target}
    response = browser.post(url, inline_post(project, wanted))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert protected_by_key() == {**before, target: True}

    listing = browser.get("/admin/flags/project/")
    assert f"{target} (protected)" in listing.content.decode()

    browser.post(url, inline_post(project, wanted - {target}))
    assert protected_by_key() == before


def test_projects_and_environments_are_not_added_or_deleted_here(browser) -> None:
    default_environment()
    project = Project.objects.get(key="default")
    assert browser.get("/admin/flags/project/add/").status_code == 403
    assert browser.get(f"/admin/flags/project/{project.pk}/delete/").status_code == 403
