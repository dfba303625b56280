"""The API's documentation pages work offline: every asset they load comes from the server itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database


@pytest.fixture
def client(sqlite_db: Database) -> Iterator[TestClient]:
    with TestClient(OrchestratorCore(database=sqlite_db)) as c:
        yield c


def _referenced(html: str) -> list[str]:
    """The URLs a page loads: scripts, stylesheets, icons, and the OpenAPI document its script fetches."""
    return re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize(("page", "kinds"), [("/api/docs", {".js", ".css", ".png"}), ("/api/redoc", {".js", ".png"})])
def test_docs_pages_load_only_local_assets(client: TestClient, page: str, kinds: set[str]) -> None:
    shown = client.get(page)
    assert shown.status_code == 200 and "text/html" in shown.headers["content-type"]
    urls = {url for pair in _referenced(shown.text) for url in pair if url}
    assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert "/api/openapi.json" in urls and "http" not in shown.text  # nothing from another host
    assets = {url for url in urls if url.startswith("/api/docs-assets/")}
    assert {re.sub(r".*(\.[a-z]+)$", r"\1", url) for url in assets} == kinds
    for url in urls:
        loaded = client.get(url)
        assert loaded.status_code == 200 and len(loaded.content) > 1000, url


def test_swagger_ui_oauth2_redirect_is_served(client: TestClient) -> None:
    redirect = client.get("/docs/oauth2-redirect")
    assert redirect.status_code == 200 and "oauth2" in redirect.text
