"""The mock's API page (/docs) renders offline: its script and style are served by the mock
itself, so no request leaves it."""

from __future__ import annotations

import shutil
from typing import Any

import httpx

from mock_symbl import MockConfig, running_mock

from helpers import headless_page


def test_chromium_renders_the_api_page_with_no_request_leaving_the_mock(require: Any) -> None:
    chromium = shutil.which("chromium")
    require("Chromium", chromium is not None, "apt-get install chromium")
    assert chromium is not None
    with running_mock(MockConfig()) as mock:
        origin = mock.base_url.rstrip("/") + "/"
        with headless_page(chromium, lambda url: url.startswith(origin)) as (page, requested):
            reply = page.goto(origin + "docs", wait_until="load")
            assert reply is not None and reply.status == 200
            assert [u for u in requested if not u.startswith(origin)] == []
            page.locator(".opblock").first.wait_for()
            # Swagger UI drew every operation of the API's description.
            shown = {
                text.replace("\u200b", "")
                for text in page.locator(".opblock-summary-path").all_inner_texts()
            }
            assert shown == set(httpx.get(origin + "openapi.json").json()["paths"])
            assert "/oauth2/token:generate" in shown
    assert [u for u in requested if not u.startswith(origin)] == []


def test_the_mock_serves_no_page_that_would_load_a_cdn() -> None:
    # FastAPI's /redoc page loads ReDoc's logo from its CDN whatever it is told: it is off.
    with running_mock(MockConfig()) as mock:
        origin = mock.base_url.rstrip("/") + "/"
        assert httpx.get(origin + "redoc").status_code == 404
        docs = httpx.get(origin + "docs").text
    assert "https://" not in docs and "http://" not in docs
