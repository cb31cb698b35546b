"""Debian's chromium driven by Playwright, shared by the browser tests."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# The machine's network is closed: without the background-networking flags Chromium keeps
# trying to reach Google's hosts at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser, closed on exit; screenshots go to ARTIFACTS."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's event loop runs in this thread, asgiref keys Django's
            # connections by context: the ORM calls a test makes here open connections of
            # their own, which would outlive the test database (PostgreSQL then refuses to
            # drop it). Close them before the loop stops and they become unreachable.
            connections.close_all()
