"""Headless Chromium for tests of the HTML pages users open (history, analysis report).

``chromium_page`` (a fixture registered in conftest.py) opens a page at a phone width and
collects console errors; it skips, saying why, only where no browser can be started."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

CHROMIUM = os.environ.get("MYOTWITCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
PHONE = {"width": 390, "height": 844}


class BrowserPage:
    """A loaded page plus what the browser complained about while loading it."""

    def __init__(self, page, errors: list[str]) -> None:
        self.page = page
        self.errors = errors

    def scroll_width(self) -> int:
        return int(self.page.evaluate("document.scrollingElement.scrollWidth"))

    def broken_images(self) -> list[str]:
        """alt texts of images that did not decode."""
        return list(self.page.evaluate(
            "Promise.all([...document.images].map(i => i.decode().then(() => i.naturalWidth > 0 ? null : i.alt,"
            " () => i.alt))).then(r => r.filter(x => x !== null))"))

    def smallest_font_px(self) -> float:
        return float(self.page.evaluate(
            "Math.min(...[...document.querySelectorAll('p,td,th,div,li')].filter(e => e.innerText.trim())"
            ".map(e => parseFloat(getComputedStyle(e).fontSize)))"))


@contextmanager
def open_chromium() -> Iterator:
    """A Playwright Chromium browser on the system's chromium, or pytest.skip with the reason."""
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'myotwitch[dev]')")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except Error as e:
            pytest.skip(f"chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page():
    """``open(path, width=390) -> BrowserPage``: load a local HTML file in headless Chromium."""
    with open_chromium() as browser:
        pages = []

        def _open(path: str | os.PathLike, width: int = PHONE["width"]) -> BrowserPage:
            page = browser.new_page(viewport={"width": width, "height": PHONE["height"]})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(f"file://{os.path.abspath(path)}")
            page.wait_for_load_state("load")
            pages.append(page)
            return BrowserPage(page, errors)

        yield _open
        for page in pages:
            page.close()
