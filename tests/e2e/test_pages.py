"""Pages in a real browser (Debian's chromium driven by Playwright) against a real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import served

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'pages.db'}") as base:
        yield base


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("OMNIRETAIL_REQUIRE_BROWSER") == "1":
            pytest.fail("OMNIRETAIL_REQUIRE_BROWSER=1 but chromium is not installed")
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def test_the_api_documentation_renders_offline_with_every_catalogue_operation(server, browser, tmp_path):
    page = browser.new_page()
    external: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server) else external.append(r.url))
    page.goto(f"{server}/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
    assert page.inner_text(".swagger-ui .info .title").startswith("omniretail")
    page.wait_for_selector("#operations-catalogue-create_product_api_v1_products_post", timeout=15_000)
    for operation in ("list_products_api_v1_products_get", "get_alternatives_api_v1_products__sku__alternatives_get"):
        assert page.locator(f"#operations-catalogue-{operation}").count() == 1
    page.screenshot(path=str(tmp_path / "docs.png"))
    assert external == []


def test_the_start_page_links_to_the_documentation(server, browser):
    page = browser.new_page()
    page.goto(f"{server}/")
    assert page.title() == "omniretail"
    page.click("text=Interactive API documentation")
    page.wait_for_url(f"{server}/docs")
