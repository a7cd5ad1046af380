"""The timeline page in a real headless Chromium (Debian's ``chromium``, driven by Playwright): the
server list, one server's view, a live update, and attacker-controlled IIS text that must render as
text and run nothing. Screenshots go to ``test-artifacts/`` (ignored by git)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.run_proc import RunProcess, assert_matches, oracle, start_run
from tests.tooling import require_tool

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
SCRIPT_URI = "/SMS_MP/<script>alert(1)</script>"
IMG_QUERY = '"><img+src=x+onerror=alert(1)>'
HOSTILE_IIS = (
    f"2004-12-06 19:30:00 W3SVC1 10.1.1.24 GET {SCRIPT_URI} {IMG_QUERY} 80 - 10.6.6.6 {IMG_QUERY} 500 0 0\r\n"
)
TRAILER = "  $$<SMS_MP_CONTROL_MANAGER><12-06-2004 16:10:00.000+300><thread=2008 (0x7D8)>\r\n"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("page") / "samples"
    shutil.copytree(REPO / "samples", root)
    with open(root / "MGTPOINT4" / "W3SVC1" / "ex041206.log", "ab") as handle:
        handle.write(HOSTILE_IIS.encode())
    return root


@pytest.fixture(scope="module")
def service(samples: Path) -> Iterator[RunProcess]:
    proc = start_run(samples, samples.parent / "state", samples.parent / "run.log")
    try:
        # every sample in its final state, down to the last timeline entry (the page is compared with the
        # API, so the API must have stopped changing: MGTPOINT2's zone-less times wait --hold-seconds)
        assert_matches(proc, oracle(samples))
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = require_tool("chromium")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.dialogs = []  # type: ignore[attr-defined]
    tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.errors = []  # type: ignore[attr-defined]
    tab.on("pageerror", lambda error: tab.errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"), full_page=True)


def test_server_list_shows_every_server_with_state_and_counts(service: RunProcess, page: Any) -> None:
    page.goto(service.url + "/")
    page.wait_for_selector("#servers tbody tr")
    rows = page.locator("#servers tbody tr")
    expected = service.json("/api/servers")
    assert rows.count() == len(expected["servers"]) == 4
    for i, row in enumerate(expected["servers"]):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == row["server"]
        assert cells.nth(1).inner_text() == row["state"]
        for code in row["codes"]:
            assert code in cells.nth(2).inner_text()
    for state, n in expected["counts"].items():
        assert page.locator(f'.count[data-state="{state}"]').inner_text().endswith(str(n))
    page.fill("#filter", "retrying")
    assert page.locator("#servers tbody tr").count() == 1
    page.fill("#filter", "")
    page.click('th[data-sort="state"]')
    first = page.locator("#servers tbody tr").first.locator("td").first.inner_text()
    assert first == "MGTPOINT2"  # failed sorts first (worst state first)
    shot(page, "list")
    assert page.errors == []


def test_one_server_shows_steps_diagnosis_and_timeline_lanes(service: RunProcess, page: Any) -> None:
    page.goto(service.url + "/#/server/MGTPOINT4")
    page.wait_for_selector("#timeline .entry")
    answer = service.json("/api/servers/MGTPOINT4")
    assert page.inner_text("#server-name") == "MGTPOINT4"
    assert page.inner_text("#server-state") == answer["state"]
    assert page.locator("#diagnoses .diagnosis").count() == len(answer["diagnoses"])
    assert answer["diagnoses"][0]["remedy"] in page.inner_text("#diagnoses")
    assert page.locator("#timeline .entry").count() == len(answer["timeline"])
    lanes = sorted({e["host"] for e in answer["timeline"]})
    assert page.locator("#timeline .lane-head").all_inner_texts() == lanes
    assert page.locator("#steps li.reached").count() >= 5
    assert page.locator("#verifications circle").count() > 0
    shot(page, "server")
    assert page.errors == []


def test_log_text_renders_as_text_and_runs_nothing(service: RunProcess, page: Any) -> None:
    page.goto(service.url + "/#/server/MGTPOINT4")
    page.wait_for_selector("#timeline .entry")
    page.wait_for_timeout(500)
    text = page.inner_text("#timeline")
    assert "<script>alert(1)</script>" in text
    assert '"><img+src=x+onerror=alert(1)>' in text
    assert page.locator("#timeline script, #timeline img, img[src=x]").count() == 0
    assert page.dialogs == []
    headers = page.request.get(service.url + "/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    shot(page, "hostile")


def test_page_updates_live(service: RunProcess, samples: Path, page: Any) -> None:
    page.goto(service.url + "/")
    row = page.locator('#servers tbody tr[data-server="MGTPOINT1"] td').nth(4)
    page.wait_for_selector('#servers tbody tr[data-server="MGTPOINT1"]')
    before = int(row.inner_text())
    control = samples / "MGTPOINT1" / "SMS" / "Logs" / "MPControl.log"
    with open(control, "ab") as handle:
        handle.write(
            f"Http verification .sms_aut failed with status code 503, Service Unavailable{TRAILER}".encode()
        )
    page.wait_for_function(
        "n => Number(document.querySelector('#servers tbody tr[data-server=\"MGTPOINT1\"] td:nth-child(5)')"
        ".textContent) > n",
        arg=before,
        timeout=15000,
    )
    shot(page, "live")
