"""An edit made in the Django admin, through a logged-in browser session, reaches an SDK."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode

import httpx
import pytest

from tests.e2e.clients import admin_client, sdk_client
from tests.e2e.sse import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


class FormFields(HTMLParser):
    """The fields a browser would submit from the page's form: inputs, checked boxes, selects."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._select_value: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        name = attr.get("name")
        if tag == "input" and name:
            kind = attr.get("type", "text")
            if kind in ("submit", "button", "image", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            self.fields.append((name, attr.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_value = name, None
        elif tag == "option" and self._select is not None:
            if "selected" in attr or self._select_value is None:
                self._select_value = attr.get("value", "")
        elif tag == "textarea" and name:
            self._textarea, self._text = name, []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            self.fields.append((self._select, self._select_value or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, "".join(self._text).lstrip("\n")))
            self._textarea = None


def form_fields(html: str) -> list[tuple[str, str]]:
    parser = FormFields()
    parser.feed(html)
    return parser.fields


def test_an_admin_edit_reaches_a_connected_sdk(server_group, server):
    with admin_client(server_group, server) as rest:
        rest.post("/api/flags", json={"key": "admin_edited", "is_enabled": True})
    with (
        sdk_client(server_group, server) as sdk,
        httpx.Client(base_url=server.url, timeout=20, follow_redirects=False) as browser,
    ):
        sdk.init(timeout=15)
        assert sdk.is_enabled("admin_edited", "u")

        login_page = browser.get("/admin/login/")
        fields = dict(form_fields(login_page.text))
        fields.update(username="admin", password=server_group.admin_password, next="/admin/")
        logged_in = browser.post("/admin/login/", data=fields)
        assert logged_in.status_code == 302, logged_in.text[:500]

        listing = browser.get("/admin/flags/flag/", params={"q": "admin_edited"})
        # One row per environment: edit the flag in the one the SDK's key is bound to.
        rows = re.findall(r"<tr.*?</tr>", listing.text, flags=re.S)
        production = [row for row in rows if "default/production" in row]
        assert len(production) == 1, listing.text[:2000]
        change_url = re.search(r'href="(/admin/flags/flag/\d+/change/)[^"]*"', production[0])
        assert change_url is not None, listing.text[:1000]
        page = browser.get(change_url.group(1))
        submitted = [
            (name, value) for name, value in form_fields(page.text) if name != "is_enabled"
        ]
        submitted.append(("_save", "Save"))
        saved = browser.post(
            change_url.group(1),
            content=urlencode(submitted),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert saved.status_code == 302, saved.text[:2000]

        wait_until(lambda: not sdk.is_enabled("admin_edited", "u"), 10, "admin edit not streamed")
        assert sdk.get("admin_edited")["version"] == 2
