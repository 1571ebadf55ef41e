"""A real browser: headless Chromium (Debian's package) driven by Python Playwright against the
real app served by uvicorn on loopback (in a thread of this process, so the product's clock is
the frozen test clock). Ada signs in with a `freshness person link` URL, checks in with a real
photo, sees the verdict on the dashboard and the new point on the history chart, and
acknowledges a reminder: at a desktop width and at a 375 px phone width.

Screenshots go to test-artifacts/browser/ (git-ignored). Under CI (CI=true) a missing
Chromium or Playwright fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freshness.config import reset_settings_cache
from tests.clitools import run
from tests.conftest import IN_CI, REPO

pytestmark = pytest.mark.faces

CHROMIUM = os.environ.get("FRESHNESS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts" / "browser"
ADA = "Ada Lovelace"
#: (name, viewport, the selfie checked in, the reminder acknowledged)
RUNS = [
    ("desktop", {"width": 1280, "height": 900}, "ai/scarlett_johansson/real/photomaker-scarlett_1.jpg",
     "AI headshot not disclosed"),
    ("phone", {"width": 375, "height": 812}, "ai/scarlett_johansson/real/withanyone-ref.jpg",
     "Headshot due for a refresh"),
]


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {reason} (.ci/run installs chromium with apt; `make test` installs playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        _missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Python Playwright is not installed (uv sync installs the dev group)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(ready: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`freshness serve`'s app (without the scheduler) on a loopback port, in a thread."""
    import uvicorn

    from freshness.web import create_app

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("FRESHNESS_BASE_URL", base)  # the address `person link` prints
    reset_settings_cache()
    srv = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield base
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def ada(server: str, faces: Path) -> str:
    """Ada (London, finance) with an undisclosed AI LinkedIn headshot published 2025-03-01 (due for
    a refresh, and undisclosed where trust matters: two reminders) and two earlier check-ins."""
    run("person", "add", ADA, "--consent", "--timezone", "Europe/London", "--sector", "finance")
    run("headshot", "add", ADA, faces / "ai/scarlett_johansson/generated/withanyone-3.jpg", "--platform", "linkedin",
        "--published", "2025-03-01", "--ai")
    run("checkin", ADA, faces / "ai/scarlett_johansson/real/photomaker-scarlett_0.jpg", "--taken", "2026-07-01")
    run("checkin", ADA, faces / "ai/scarlett_johansson/real/photomaker-scarlett_2.jpg", "--taken", "2026-09-15")
    return server


def _too_wide(page) -> list[str]:  # noqa: ANN001
    """The elements that stick out on the right (to say what to fix)."""
    return page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1
                     && e.parentElement.getBoundingClientRect().right <= document.documentElement.clientWidth + 1)
        .slice(0, 8).map(e => e.tagName + '.' + e.className + ' in ' + e.parentElement.tagName + '.'
                     + e.parentElement.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


def test_a_person_signs_in_checks_in_and_acts_on_a_reminder_in_a_real_browser(
    chromium, ada: str, faces: Path
) -> None:
    from playwright.sync_api import expect

    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    started = time.monotonic()
    for n, (name, viewport, selfie, reminder) in enumerate(RUNS, start=1):
        link = run("person", "link", ADA).stdout.strip().splitlines()[-1]
        assert link.startswith(ada + "/signin/frlink_")
        context = chromium.new_context(viewport=viewport, is_mobile=name == "phone", has_touch=name == "phone",
                                       device_scale_factor=2 if name == "phone" else 1)
        problems: list[str] = []
        page = context.new_page()
        page.on("console", lambda m, problems=problems: problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e, problems=problems: problems.append(f"page error: {e}"))
        page.set_default_timeout(30_000)

        def shot(step: str, page=page, name=name) -> None:  # noqa: ANN001
            page.screenshot(path=str(ARTIFACTS / f"{name}-{step}.png"), full_page=True)

        # sign in with the one-time link
        page.goto(link)
        shot("01-signin-link")
        page.get_by_role("button", name="Sign in to freshness").click()
        expect(page).to_have_url(ada + "/me")
        expect(page.get_by_role("heading", name="Your headshots")).to_be_visible()
        expect(page.get_by_text(ADA, exact=True)).to_be_visible()
        shot("02-dashboard")
        # the link is spent
        again = context.new_page()
        again.goto(link)
        expect(again.get_by_text("This sign-in link has expired or was already used")).to_be_visible()
        again.close()

        # check in with a real photo
        page.get_by_role("link", name="Check in", exact=True).click()
        expect(page.get_by_role("heading", name="Check in")).to_be_visible()
        shot("03-checkin")
        photos = [str(faces / selfie)]
        if name == "phone":  # and a photo taken too far away, and someone else: refused, with what to do
            photos += [str(faces / "edge/obama-240p.jpg"), str(faces / "people/barack_obama/obama.jpg")]
        page.get_by_label("Selfie (one or more photos)").set_input_files(photos)
        page.get_by_role("button", name="Check in", exact=True).click()
        expect(page.get_by_role("heading", name="Check-in results")).to_be_visible()
        checkin_id = n + 2
        name_shown = Path(selfie).name
        expect(page.get_by_text(f"{name_shown}: accepted as check-in #{checkin_id}")).to_be_visible()
        if name == "phone":
            far, other = page.locator(".result.refused").all()
            expect(far).to_contain_text("obama-240p.jpg: refused.")
            expect(far.locator(".hints")).to_contain_text("move closer to the camera")
            expect(other).to_contain_text("This selfie does not look like your earlier check-ins")
            expect(other.get_by_role("button", name="It is me: check in")).to_be_visible()
        verdict = page.locator(".verdict").first
        expect(verdict).to_contain_text("Your LinkedIn headshot")
        verdict_text = verdict.inner_text().strip()
        chart = page.get_by_role("img", name="Chart of the distance between each of your headshots")
        expect(chart).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 600", arg=chart.element_handle())
        shot("04-checkin-result")

        # the verdict on the dashboard, as `freshness status` says it
        page.get_by_role("link", name="Dashboard", exact=True).click()
        cli_verdict = run("status", ADA).stdout.splitlines()[0]
        expect(page.locator(".verdict").first).to_contain_text(cli_verdict)
        assert cli_verdict.split(" (")[0] in verdict_text
        expect(page.get_by_text("Last check-in 2026-11-28 15:30 GMT.", exact=False)).to_be_visible()

        # acknowledge a reminder
        item = page.locator(".reminder", has_text=reminder)
        item.get_by_role("button", name=f"Acknowledge: {reminder}").click()
        expect(page.get_by_role("status")).to_contain_text("acknowledged")
        expect(page.locator(".reminder", has_text=reminder).locator(".state")).to_have_text("acknowledged")
        assert f"{reminder}" in page.get_by_role("status").inner_text()
        shot("05-dashboard-acknowledged")

        # the history: the chart with the new point, the timeline and the table
        page.get_by_role("link", name="History", exact=True).click()
        chart = page.get_by_role("img", name="Chart of the distance between each of your headshots")
        page.wait_for_function("img => img.complete && img.naturalWidth > 600", arg=chart.element_handle())
        svg = page.request.get(ada + "/me/history.svg").text()
        assert svg.count('id="line2d_') > 0 and "2026-11-28" in svg  # "as of" the day of the new check-in
        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(checkin_id)
        expect(rows.last).to_contain_text(f"#{checkin_id}")
        expect(rows.last).to_contain_text("2026-11-28 15:30 GMT")
        expect(page.get_by_role("img", name=f"check-in #{checkin_id})")).to_be_visible()
        box = page.locator(".chart")
        if name == "phone":  # the chart scrolls sideways, starting at the latest check-ins
            page.wait_for_function("box => box.scrollLeft > 0", arg=box.element_handle())
        else:  # the whole chart, wider than the text column
            assert box.evaluate("b => b.scrollWidth <= b.clientWidth && b.clientWidth > 1100")
        shot("06-history")

        # keyboard: the first Tab reaches the skip link, and it is visible when focused
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
        expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()

        # nothing wider than the screen (no sideways scrolling of the whole page)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (name, _too_wide(page))
        for path in ("/me", "/me/checkin", "/me/rank", "/me/settings"):
            page.goto(ada + path)
            if path in ("/me/rank", "/me/settings"):
                shot(f"07-{path.rsplit('/', 1)[1]}")
            assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], \
                (name, path, _too_wide(page))

        # before publishing: rank candidates, best first
        if name == "desktop":
            page.goto(ada + "/me/rank")
            page.get_by_label("Candidate headshots").set_input_files(
                [str(faces / "ai/rihanna/generated/withanyone-2.jpg"),
                 str(faces / "ai/scarlett_johansson/generated/withanyone-1.jpg")])
            page.get_by_role("button", name="Rank them").click()
            expect(page.get_by_role("heading", name="Ranking: most like you first")).to_be_visible()
            expect(page.locator(".candidate h3").first).to_have_text("1. withanyone-1.jpg")
            expect(page.locator(".candidate").nth(1)).to_contain_text("unlike you today")
            shot("08-ranking")

        # the API docs still work under their own (looser) CSP
        if name == "desktop":
            page.goto(ada + "/docs")
            expect(page.locator(".swagger-ui .info .title")).to_contain_text("freshness")

        assert not problems, problems  # no CSP violation, no script error
        context.close()
    print(f"browser test: {time.monotonic() - started:.1f} s for {len(RUNS)} widths")
