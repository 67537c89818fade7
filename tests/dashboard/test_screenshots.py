"""The dashboard as a person sees it: headless Chromium at 1280 px renders the project page, the
flag page and the history, saves screenshots under build/dashboard/, and the key elements must
be visible (a real box inside the viewport's width, readable contrast), not merely present.
The API key list is rendered too: its columns must fit at 1280 px."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from flags import services
from flags.models import Environment, Flag
from flags.scopes import default_environment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "build" / "dashboard"
VIEWPORT_WIDTH = 1280
# WCAG 2 AA for normal text.
MIN_CONTRAST = 4.5


def _channel(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def _luminance(css_colour: str) -> float:
    red, green, blue = (float(part) for part in re.findall(r"[\d.]+", css_colour)[:3])
    return 0.2126 * _channel(red) + 0.7152 * _channel(green) + 0.0722 * _channel(blue)


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_contrast_matches_the_wcag_reference_values() -> None:
    assert contrast("rgb(0, 0, 0)", "rgb(255, 255, 255)") == pytest.approx(21.0)
    assert contrast("rgb(121, 174, 200)", "rgb(121, 174, 200)") == pytest.approx(1.0)


def _visible_in_viewport(element: dict[str, Any] | None) -> bool:
    return (
        element is not None
        and element["visible"]
        and not element["clipped"]
        and element["width"] > 0
        and element["height"] > 0
        and element["x"] >= 0
        and element["x"] + element["width"] <= VIEWPORT_WIDTH
    )


@pytest.fixture
def measured(live_server: Any) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None or not (ROOT / "sdks/browser/node_modules/playwright-core").is_dir():
        pytest.fail("needs node and `npm ci` in sdks/browser (playwright-core)")
    production = default_environment()
    Environment.objects.filter(pk=production.pk).update(protected=True)
    for key, rollout in (("checkout", 30), ("dark_mode", None), ("new_search_with_a_long_key", 5)):
        services.flag_upsert(
            data={"key": key, "is_enabled": True, "rollout_percentage": rollout},
            actor="user:alice",
            environment=production,
        )
    services.flag_patch(
        key="checkout", data={"rollout_percentage": 60}, actor="user:bob", environment=production
    )
    services.api_key_create(name="checkout service (production)", role="server")
    user = get_user_model().objects.create_superuser("root", "", "pw-for-tests")
    client = Client()
    client.force_login(user)
    flag = Flag.objects.get(key="checkout", environment=production)
    OUT.mkdir(parents=True, exist_ok=True)
    spec = {
        "base": live_server.url,
        "cookie": client.cookies["sessionid"].value,
        "out": str(OUT),
        "pages": [
            {
                "name": "flag-list",
                "path": "/admin/flags/flag/project/default/",
                "selectors": [
                    "#project-flags",
                    "#project-flags thead th:last-child",
                    "#project-flags td.state[data-environment='production'] button",
                ],
            },
            {
                "name": "flag-page",
                "path": f"/admin/flags/flag/{flag.pk}/change/?copy_from=development",
                "selectors": [
                    "#environments",
                    "#env-development",
                    "#env-production",
                    "#env-development .environment-state input[type=submit]",
                    "#env-production .environment-state input[type=submit]",
                    "#env-production .environment-try input[type=submit]",
                    "#copy-diff",
                    "#try-a-user",
                    "#full-history",
                    "#recent-changes",
                ],
            },
            {
                "name": "api-keys",
                "path": "/admin/flags/apikey/",
                "selectors": ["#result_list", "#changelist-filter"],
            },
            {
                "name": "history",
                "path": "/admin/flags/changerecord/?flag_key=checkout",
                "selectors": ["#result_list", ".field-diff ins"],
            },
        ],
    }
    spec_path = OUT / "spec.json"
    spec_path.write_text(json.dumps(spec))
    finished = subprocess.run(
        [node, str(Path(__file__).with_name("measure.mjs")), str(spec_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_the_key_elements_are_visible_at_1280_px(measured: dict[str, Any]) -> None:
    for name, page in measured.items():
        assert page["status"] == 200, name
        assert (OUT / f"{name}.png").stat().st_size > 0
        # Nothing pushes the page sideways at 1280 px.
        assert page["documentWidth"] <= VIEWPORT_WIDTH, name
        for selector, element in page["elements"].items():
            assert _visible_in_viewport(element), (name, selector, element)


def test_the_full_history_link_stands_out_from_its_background(measured: dict[str, Any]) -> None:
    link = measured["flag-page"]["elements"]["#full-history"]
    assert contrast(link["color"], link["background"]) >= MIN_CONTRAST, link
