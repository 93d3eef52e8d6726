"""The HTML report where it is read: headless Chromium (Debian's `chromium`, driven by
Playwright). No console errors (CSP violations included), every image decodes, no sideways
page scrolling at a 390 px phone width, tables scroll inside their own box, text readable."""

import copy
import os
import shutil

import pytest

pytest.importorskip("matplotlib")

from myotwitch.dsp import DetectorConfig  # noqa: E402
from myotwitch.host.analysis import analyze_file  # noqa: E402
from myotwitch.host.paths import data_dir  # noqa: E402
from myotwitch.host.report import write_report  # noqa: E402


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def page_at_phone_width(tmp_path_factory):
    browser_path = _browser()
    if browser_path is None:
        pytest.skip("no Chromium on this machine (scripts/test installs Debian's chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    folder = tmp_path_factory.mktemp("report")
    long_name = folder / ("a-very-long-recording-name-without-any-break-" + "x" * 80 + ".csv")
    shutil.copy(data_dir() / "examples" / "calf-30s.csv", long_name)
    s = analyze_file(str(long_name), DetectorConfig())
    a, b = copy.deepcopy(s), copy.deepcopy(s)
    a["start"], b["start"] = "2026-11-01T22:00:00", "2026-11-03T23:00:00"
    report = folder / "report.html"
    write_report(str(report), [a, b])
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(report.as_uri())
            page.wait_for_load_state("load")
            yield page, problems
        finally:
            browser.close()


def test_no_console_errors(page_at_phone_width):
    page, problems = page_at_phone_width
    assert problems == []


def test_every_image_decodes(page_at_phone_width):
    page, _ = page_at_phone_width
    result = page.evaluate("""async () => Promise.all(Array.from(document.images).map(async img => {
        try { await img.decode(); return img.naturalWidth > 0 && img.naturalHeight > 0; } catch (e) { return false; }
    }))""")
    assert len(result) >= 6 and all(result), result


def test_no_horizontal_page_scroll_at_phone_width(page_at_phone_width):
    page, _ = page_at_phone_width
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport == 390


def test_tables_wrap_or_scroll_inside_themselves(page_at_phone_width):
    page, _ = page_at_phone_width
    boxes = page.evaluate("""Array.from(document.querySelectorAll('table')).map(t => {
        const box = t.parentElement, r = box.getBoundingClientRect();
        return {right: r.right, fits: t.scrollWidth <= box.clientWidth + 1,
                scrolls: ['auto', 'scroll'].includes(getComputedStyle(box).overflowX)};
    })""")
    assert boxes
    for b in boxes:
        assert b["right"] <= 390 and (b["fits"] or b["scrolls"]), b


def test_text_is_readable(page_at_phone_width):
    page, _ = page_at_phone_width
    sizes = page.evaluate("""Array.from(document.querySelectorAll('p, td, th, h1, h2, h3, div'))
        .filter(e => Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert sizes and min(sizes) >= 11, min(sizes)
    line_height = page.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)")
    assert line_height >= 1.3 * 16 * 0.95


def test_wide_plots_keep_a_readable_size_and_scroll_in_their_own_box(page_at_phone_width):
    """Squeezed to a 366 px column, the timeline's axis text was ~4 px tall."""
    page, _ = page_at_phone_width
    boxes = page.evaluate("""Array.from(document.querySelectorAll('.wide')).map(b => {
        const img = b.querySelector('img'), r = b.getBoundingClientRect();
        return {img: img.getBoundingClientRect().width, right: r.right, scrolls: getComputedStyle(b).overflowX};
    })""")
    assert len(boxes) >= 3
    for b in boxes:
        assert b["img"] >= 600 and b["right"] <= 390 and b["scrolls"] == "auto", b
