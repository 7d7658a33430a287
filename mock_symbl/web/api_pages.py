"""The API's own page, /docs (Swagger UI), with its script and style served by the mock:
FastAPI's default loads them from a CDN, so offline the page renders blank. FastAPI's /redoc is
left off: ReDoc loads its logo from its CDN whatever it is told."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI writes; the `swagger-ui-bundle` wheel's
# 4.15 does not), as the `fastapi-offline` wheel ships it; only its files are used.
ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSETS_URL = "/docs-assets"


def install_api_pages(app: FastAPI) -> None:
    """Serve /docs from the assets above; the app must be built with `docs_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect_url,
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    @app.get(redirect_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
