"""An unhandled error in a plain view: the error shape under /api/, a plain page elsewhere."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def client() -> Client:
    # As a server answers: the exception is handled, not raised into the test.
    return Client(raise_request_exception=False)


@pytest.mark.urls("tests.ops.failing_urls")
def test_unhandled_error_under_api_is_the_error_shape(client, settings):
    settings.DEBUG = False

    response = client.get("/api/failing")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "errors": {}}


@pytest.mark.urls("tests.ops.failing_urls")
def test_unhandled_error_elsewhere_is_a_plain_page(client, settings):
    settings.DEBUG = False

    response = client.get("/failing")

    assert response.status_code == 500
    body = response.content.decode()
    assert "Server Error (500)" in body
    assert "secret internals" not in body and "Traceback" not in body
