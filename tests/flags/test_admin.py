"""The admin dashboard through Django's test client: every save is audited and published."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags import services
from flags.api_keys import authenticate_bearer
from flags.models import ApiKey, ChangeRecord, Flag
from flags.selectors import flag_get_wire
from tests.flags.conftest import stored_state

pytestmark = pytest.mark.django_db(transaction=True)

ADD_URL = "/admin/flags/flag/add/"


@pytest.fixture
def browser(db: None) -> Client:
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    client = Client()
    client.force_login(user)
    return client


def rule_forms(rules: list[dict[str, Any]], initial: int = 0) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": str(initial),
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "100",
    }
    for index, rule in enumerate(rules):
        for name, value in rule.items():
            data[f"rules-{index}-{name}"] = value
    return data


def change_url(key: str) -> str:
    return f"/admin/flags/flag/{Flag.objects.get(key=key).pk}/change/"


def test_add_a_flag_with_inline_rules_in_order(browser, published) -> None:
    response = browser.post(
        ADD_URL,
        {
            "key": "checkout",
            "is_enabled": "on",
            "rollout_percentage": "25",
            "description": "",
            **rule_forms(
                [
                    {
                        "position": "2",
                        "attribute": "plan",
                        "operator": "Equals",
                        "values": "pro\r\nteam\r\n",
                    },
                    {
                        "position": "1",
                        "attribute": "email",
                        "operator": "EndsWith",
                        "values": "@acme.com",
                    },
                ]
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    flag = flag_get_wire(key="checkout")
    assert flag is not None
    assert flag["is_enabled"] is True
    assert flag["rollout_percentage"] == 25
    assert flag["description"] is None
    assert flag["rules"] == [
        {"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]},
        {"attribute": "plan", "operator": "Equals", "values": ["pro", "team"]},
    ]
    record = ChangeRecord.objects.get()
    assert record.action == "create" and record.actor == "user:root" and record.after == flag
    assert published == [{"type": "UPSERT", "flag": flag}]


def test_edit_rules_inline_is_a_patch_through_the_service(browser, published) -> None:
    services.flag_upsert(
        data={
            "key": "checkout",
            "description": "keep me",
            "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
        },
        actor="t",
    )
    flag = Flag.objects.get(key="checkout")
    rule = flag.rules.get()
    page = browser.get(change_url("checkout"))
    assert page.status_code == 200
    assert "@acme.com" in page.content.decode()
    response = browser.post(
        change_url("checkout"),
        {
            "is_enabled": "on",
            "rollout_percentage": "",
            "description": "keep me",
            "expected_version": str(flag.version),
            **rule_forms(
                [
                    {
                        "id": str(rule.pk),
                        "flag": str(flag.pk),
                        "position": "0",
                        "attribute": "email",
                        "operator": "Contains",
                        "values": "acme\nexample",
                    },
                    {
                        "position": "",
                        "attribute": "country",
                        "operator": "NotEquals",
                        "values": "FR",
                    },
                ],
                initial=1,
            ),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    after = flag_get_wire(key="checkout")
    assert after is not None
    assert after["version"] == 2
    assert after["is_enabled"] is True
    assert after["description"] == "keep me"
    assert after["rules"] == [
        {"attribute": "email", "operator": "Contains", "values": ["acme", "example"]},
        {"attribute": "country", "operator": "NotEquals", "values": ["FR"]},
    ]
    record = ChangeRecord.objects.order_by("-id").first()
    assert record is not None and record.action == "update" and record.actor == "user:root"
    assert published[-1] == {"type": "UPSERT", "flag": after}


def test_invalid_admin_input_is_refused_and_changes_nothing(browser, published) -> None:
    services.flag_upsert(data={"key": "checkout"}, actor="t")
    published.clear()
    before = stored_state()
    response = browser.post(
        change_url("checkout"),
        {
            "rollout_percentage": "101",
            "description": "",
            **rule_forms([{"position": "0", "attribute": "", "operator": "Equals", "values": "a"}]),
        },
    )
    assert response.status_code == 200  # the form again, with its errors
    assert response.context["errors"]
    response = browser.post(ADD_URL, {"key": "bad key", "description": "", **rule_forms([])})
    assert response.status_code == 200
    assert stored_state() == before
    assert published == []


def test_list_toggle_bulk_actions_and_delete(browser, published) -> None:
    for key in ("a", "b", "c"):
        services.flag_upsert(data={"key": key}, actor="t")
    published.clear()
    flags = {flag.key: flag for flag in Flag.objects.all()}

    listing = browser.get("/admin/flags/flag/")
    assert listing.status_code == 200
    content = listing.content.decode()
    assert "Rules" in content and "Version" in content

    response = browser.post(
        "/admin/flags/flag/",
        {
            "form-TOTAL_FORMS": "3",
            "form-INITIAL_FORMS": "3",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(flags["a"].pk),
            "form-0-is_enabled": "on",
            "form-0-expected_version": "1",
            "form-1-id": str(flags["b"].pk),
            "form-1-expected_version": "1",
            "form-2-id": str(flags["c"].pk),
            "form-2-expected_version": "1",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    assert Flag.objects.get(key="a").is_enabled
    assert [event["flag"]["key"] for event in published] == ["a"]
    assert ChangeRecord.objects.filter(flag_key="a", version=2, actor="user:root").exists()

    response = browser.post(
        "/admin/flags/flag/",
        {"action": "enable_flags", "_selected_action": [str(flags["b"].pk), str(flags["c"].pk)]},
    )
    assert response.status_code == 302
    assert set(Flag.objects.filter(is_enabled=True).values_list("key", flat=True)) == {
        "a",
        "b",
        "c",
    }
    assert [event["flag"]["key"] for event in published[1:]] == ["b", "c"]

    response = browser.post(
        "/admin/flags/flag/", {"action": "disable_flags", "_selected_action": [str(flags["a"].pk)]}
    )
    assert response.status_code == 302
    assert not Flag.objects.get(key="a").is_enabled

    response = browser.post(f"/admin/flags/flag/{flags['c'].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Flag.objects.filter(key="c").exists()
    assert published[-1] == {"type": "DELETE", "key": "c", "version": 3}
    assert ChangeRecord.objects.filter(flag_key="c", action="delete", actor="user:root").exists()


def test_try_a_user_box_shows_the_core_answer(browser) -> None:
    services.flag_upsert(
        data={
            "key": "beta",
            "is_enabled": True,
            "rollout_percentage": 0,
            "rules": [{"attribute": "email", "operator": "EndsWith", "values": ["@acme.com"]}],
        },
        actor="t",
    )
    url = change_url("beta")
    matched = browser.get(url, {"try_user": "u1", "try_attributes": '{"email": "x@acme.com"}'})
    assert matched.context["try_result"].reason == "RULE_MATCH"
    assert matched.context["try_result"].rule_index == 0
    assert 'id="try-reason">RULE_MATCH<' in matched.content.decode()
    lines = browser.get(url, {"try_user": "u1", "try_attributes": "email=x@other.com"})
    assert lines.context["try_result"].reason == "ROLLOUT"
    assert lines.context["try_result"].enabled is False
    bad = browser.get(url, {"try_user": "u1", "try_attributes": "{nope"})
    assert "try_result" not in bad.context
    assert bad.context["try_form"].errors


def test_history_is_read_only(browser) -> None:
    services.flag_upsert(data={"key": "h"}, actor="t")
    services.flag_patch(key="h", data={"is_enabled": True}, actor="t")
    response = browser.get(f"/admin/flags/flag/{Flag.objects.get(key='h').pk}/history/")
    assert response.status_code == 302
    history = browser.get(response["Location"])
    assert history.status_code == 200
    assert history.context["cl"].result_count == 2
    record = ChangeRecord.objects.first()
    assert record is not None
    assert browser.get("/admin/flags/changerecord/add/").status_code == 403
    detail = browser.get(f"/admin/flags/changerecord/{record.pk}/change/")
    assert detail.status_code == 200
    assert (
        browser.post(f"/admin/flags/changerecord/{record.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert ChangeRecord.objects.count() == 2


def test_api_key_created_in_the_admin_is_shown_once_and_works(browser) -> None:
    response = browser.post(
        "/admin/flags/apikey/add/", {"name": "mobile app", "role": "client"}, follow=True
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    found = [m for text in messages for m in re.findall(r"sk_client_[A-Za-z0-9_-]+", text)]
    # The full secret once; the "added" message names the key by its short prefix only.
    secrets = [secret for secret in found if len(secret) > len(ApiKey.objects.get().prefix)]
    assert len(secrets) == 1
    key = ApiKey.objects.get()
    principal = authenticate_bearer(secrets[0])
    assert principal is not None and principal.role == "client" and principal.key_id == key.pk
    listing = browser.get("/admin/flags/apikey/").content.decode()
    assert key.prefix in listing and secrets[0] not in listing
    assert secrets[0] not in browser.get(f"/admin/flags/apikey/{key.pk}/change/").content.decode()

    response = browser.post(
        "/admin/flags/apikey/", {"action": "revoke_keys", "_selected_action": [str(key.pk)]}
    )
    assert response.status_code == 302
    assert authenticate_bearer(secrets[0]) is None


def test_the_dashboard_styles_are_served_without_collectstatic(settings) -> None:
    settings.DEBUG = False
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert Client().get("/static/../sidekick/settings.py").status_code in (400, 404)


def test_saving_a_page_opened_before_someone_elses_change_is_refused(browser, published) -> None:
    services.flag_upsert(data={"key": "shared", "description": "v1"}, actor="t")
    page = browser.get(change_url("shared"))
    opened_at = page.context["adminform"].form.initial["expected_version"]
    assert opened_at == 1
    services.flag_patch(key="shared", data={"description": "by someone else"}, actor="t")
    published.clear()
    before = stored_state()
    form = {"description": "mine", "expected_version": str(opened_at), **rule_forms([])}
    response = browser.post(change_url("shared"), form, follow=True)
    messages = [str(message) for message in response.context["messages"]]
    assert any("someone changed this flag" in message for message in messages)
    assert stored_state() == before
    assert published == []

    fresh = {**form, "expected_version": "2"}
    assert browser.post(change_url("shared"), fresh).status_code == 302
    after = flag_get_wire(key="shared")
    assert after is not None and after["description"] == "mine" and after["version"] == 3


CHANGELIST_URL = "/admin/flags/flag/"


def changelist_form_data(page: Any) -> dict[str, str]:
    """What a browser would send back from the flag list: every input the page rendered."""
    html = page.content.decode()
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or not name.group(1).startswith("form-"):
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else "on"
    return data


def _row_prefix(data: dict[str, str], flag_key: str) -> str:
    pk = str(Flag.objects.get(key=flag_key).pk)
    return next(name.removesuffix("-id") for name, value in data.items() if value == pk)


def test_a_stale_flag_list_cannot_turn_a_kill_switch_back_on(browser, published) -> None:
    services.flag_upsert(data={"key": "kill_switch", "is_enabled": True}, actor="t")
    services.flag_upsert(data={"key": "other", "is_enabled": False}, actor="t")
    page = browser.get(CHANGELIST_URL)
    data = changelist_form_data(page)
    assert f"{_row_prefix(data, 'kill_switch')}-expected_version" in data
    # A colleague turns the kill switch off after the list was opened.
    services.flag_patch(key="kill_switch", data={"is_enabled": False}, actor="colleague")
    published.clear()
    before = stored_state()

    # The operator enables another row and saves the whole (stale) list.
    data[f"{_row_prefix(data, 'other')}-is_enabled"] = "on"
    response = browser.post(CHANGELIST_URL, {**data, "_save": "Save"}, follow=True)

    messages = [str(message) for message in response.context["messages"]]
    assert any("Nothing saved" in message and "kill_switch" in message for message in messages)
    assert stored_state() == before
    assert published == []
    assert flag_get_wire(key="kill_switch")["is_enabled"] is False


def test_a_flag_list_post_without_versions_is_refused(browser, published) -> None:
    services.flag_upsert(data={"key": "unversioned", "is_enabled": True}, actor="t")
    data = changelist_form_data(browser.get(CHANGELIST_URL))
    prefix = _row_prefix(data, "unversioned")
    del data[f"{prefix}-expected_version"]
    del data[f"{prefix}-is_enabled"]
    before = stored_state()
    response = browser.post(CHANGELIST_URL, {**data, "_save": "Save"})
    assert response.status_code == 200
    assert "reload it before saving" in response.content.decode()
    assert stored_state() == before


def test_a_fresh_flag_list_saves_with_its_versions(browser, published) -> None:
    services.flag_upsert(data={"key": "fresh_row", "is_enabled": True}, actor="t")
    data = changelist_form_data(browser.get(CHANGELIST_URL))
    del data[f"{_row_prefix(data, 'fresh_row')}-is_enabled"]
    response = browser.post(CHANGELIST_URL, {**data, "_save": "Save"})
    assert response.status_code == 302
    after = flag_get_wire(key="fresh_row")
    assert after is not None and after["is_enabled"] is False and after["version"] == 2
