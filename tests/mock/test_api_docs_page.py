"""The mock's API page (/docs) renders offline: its script and style are served by the mock
itself, so no request leaves it."""

from __future__ import annotations

import shutil
from typing import Any

import httpx

from mock_symbl import MockConfig, running_mock


def test_chromium_renders_the_api_page_with_no_request_leaving_the_mock(require: Any) -> None:
    chromium = shutil.which("chromium")
    require("Chromium", chromium is not None, "apt-get install chromium")
    from playwright.sync_api import Route, sync_playwright

    with running_mock(MockConfig()) as mock, sync_playwright() as playwright:
        origin = mock.base_url.rstrip("/") + "/"
        requested: list[str] = []

        def only_the_mock(route: Route) -> None:
            requested.append(route.request.url)
            if route.request.url.startswith(origin):
                route.continue_()
            else:
                route.abort()

        browser = playwright.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-background-networking", "--disable-component-update"],
            # Only guards against a hang: a loaded machine may start Chromium slowly.
            timeout=180_000,
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(180_000)
            page.route("**/*", only_the_mock)
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
        finally:
            browser.close()
    assert [u for u in requested if not u.startswith(origin)] == []


def test_the_mock_serves_no_page_that_would_load_a_cdn() -> None:
    # FastAPI's /redoc page loads ReDoc's logo from its CDN whatever it is told: it is off.
    with running_mock(MockConfig()) as mock:
        origin = mock.base_url.rstrip("/") + "/"
        assert httpx.get(origin + "redoc").status_code == 404
        docs = httpx.get(origin + "docs").text
    assert "https://" not in docs and "http://" not in docs
