"""`lorakit ui` in a real browser: Debian's Chromium driven by Playwright, headless.

Each test starts the server in a thread on a free port, clicks through a tab
and then checks what reached the disk. Screenshots go to $LORAKIT_UI_SHOTS
(or the test's tmp folder) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lorakit.ui.app import build_state
from lorakit.ui.server import Running, create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="needs Debian's chromium")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-gpu"])
        yield chromium
        chromium.close()


def shot(page, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("LORAKIT_UI_SHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def open_page(browser, state, tab: str = ""):
    running = Running(create_app(state), state.token).__enter__()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(running.url)
    if tab:
        page.click(f'.tabs button[data-tab="{tab}"]')
    return running, page, errors


def shown_lines(page) -> list[str]:
    return [a.get_attribute("data-line") for a in page.locator("article.row").all()]


def test_review_accept_edit_reject(browser, tmp_path):
    from test_ui import read_jsonl, write_messy

    source = write_messy(tmp_path)
    original = source.read_bytes()
    state = build_state(data=source)
    running, page, errors = open_page(browser, state)
    try:
        page.wait_for_selector('article.row[data-line="7"]')
        assert page.locator("article.row").count() == 6
        dup = page.locator('article.row[data-line="4"]')
        assert "exact_duplicate" in dup.locator(".findings").inner_text()
        assert dup.locator(".msg.role-user").count() == 1

        # filter by one check, then by search; then back to everything
        page.check('input[name="check"][value="exact_duplicate"]')
        assert shown_lines(page) == ["4", "7"]
        page.click("#checks-clear")
        page.fill("#search", "jane.doe")
        assert shown_lines(page) == ["2"]
        page.fill("#search", "")
        page.uncheck('input[name="severity"][value="clean"]')
        assert {"4", "5", "6", "7"} <= set(shown_lines(page))  # dups, empty, broken
        assert "1" not in shown_lines(page)
        page.check('input[name="severity"][value="clean"]')
        shot(page, tmp_path, "review-start")

        # accept line 1, fix the empty answer on line 5, reject the duplicate on line 4
        page.click('article.row[data-line="1"] button.accept')
        page.wait_for_selector('article.row[data-line="1"] .badge.accepted')
        page.click('article.row[data-line="5"] button.edit')
        answer = page.locator('article.row[data-line="5"] .msg-edit textarea').nth(1)
        answer.fill("Open Orders in your account to track it.")
        shot(page, tmp_path, "review-editing")
        page.fill('article.row[data-line="5"] .edit-reason', "wrote the missing answer")
        page.click('article.row[data-line="5"] button.save-edit')
        page.wait_for_selector('article.row[data-line="5"] .badge.edited')
        findings = page.locator('article.row[data-line="5"] .findings').inner_text()
        assert "no findings" in findings
        page.click('article.row[data-line="4"] a.related')  # "see line 1" jumps to it
        page.wait_for_selector('article.row[data-line="1"].flash')
        page.click('article.row[data-line="4"] button.reject')
        page.fill('article.row[data-line="4"] .reason-input', "duplicate of line 1")
        page.click('article.row[data-line="4"] button.confirm-reject')
        page.wait_for_selector('article.row[data-line="4"] .badge.rejected')
        shot(page, tmp_path, "review-after")
        assert not errors
    finally:
        page.close()
        running.__exit__()

    # on disk: a new version, the edit log, the rejects; the source as it was
    paths = state.review.paths
    assert source.read_bytes() == original
    version = paths.version.read_text().splitlines()
    assert len(version) == 5
    assert json.loads(version[2])["messages"][1]["content"].startswith("Open Orders")
    log = read_jsonl(paths.log)
    assert [(r["line"], r["action"]) for r in log[1:]] == [(1, "accept"), (5, "edit"),
                                                           (4, "reject")]
    assert log[2]["reason"] == "wrote the missing answer"
    assert [(r["line"], r["reason"]) for r in read_jsonl(paths.rejects)] == [
        (4, "duplicate of line 1")]


def test_runs_draws_curves(browser, tmp_path):
    from test_ui import _fake_run

    _fake_run(tmp_path / "runs", "support-r8", [2.4, 1.9, 1.5, 1.3, 1.2])
    _fake_run(tmp_path / "runs", "support-r16", [2.4, 1.7, 1.3, 1.1, 1.0])
    state = build_state(run_roots=[tmp_path / "runs"])
    running, page, errors = open_page(browser, state, "runs")
    try:
        page.wait_for_selector('svg.curve g.series[data-key="loss"] path')
        series = page.locator('svg.curve[data-title="loss"] g.series')
        assert series.count() == 4  # two runs x (loss, eval_loss)
        line = page.locator('g.series[data-run="support-r8"][data-key="loss"] path')
        d = line.get_attribute("d")
        assert d.startswith("M") and d.count("L") == 4
        table = page.locator("table.runs-table").inner_text()
        assert "support-r16" in table and "rouge_l" in table
        shot(page, tmp_path, "runs")
        assert not errors
    finally:
        page.close()
        running.__exit__()


def test_compare_base_and_two_adapters(browser, tmp_path, tiny_base):
    from test_ui_compare import make_registry

    registry = make_registry(tmp_path, tiny_base)
    state = build_state(registry=registry)
    running, page, errors = open_page(browser, state, "compare")
    try:
        page.wait_for_selector('input[name="adapter"][value="alpha"]')
        page.fill("#prompt", "How do I reset my password?")
        page.fill("#max-tokens", "8")
        page.click("#run-compare")
        page.wait_for_selector(".outputs .output >> nth=2", timeout=60_000)
        names = page.locator(".output h4").all_inner_texts()
        assert names == ["base", "alpha", "beta"]
        texts = page.locator(".output .text").all_inner_texts()
        assert texts[1] != texts[0] and texts[2] != texts[0]  # each adapter changes it
        shot(page, tmp_path, "compare")
        assert not errors
    finally:
        page.close()
        running.__exit__()


SUPPORT = Path(__file__).parent.parent / "examples" / "support" / "raw_messy.jsonl"


@pytest.mark.skipif(not SUPPORT.exists(), reason="needs examples/support/raw_messy.jsonl")
def test_review_the_messy_support_example(browser, tmp_path):
    source = tmp_path / SUPPORT.name
    shutil.copy(SUPPORT, source)  # the review writes beside its file: work on a copy
    state = build_state(data=source)
    rows = len(state.review.rows)
    running, page, errors = open_page(browser, state)
    try:
        page.wait_for_selector("article.row")
        assert f"of {rows} rows match" in page.inner_text("#rows-summary")

        # every row can be reached: page through all of them
        while page.is_visible("#more"):
            page.click("#more")
        assert page.locator("article.row").count() == rows

        # one check at a time shows exactly the rows it flags
        flagged = {f["line"] for r in state.review.rows for f in r.findings
                   if f["check"] == "pii"}
        page.check('input[name="check"][value="pii"]')
        assert set(map(int, shown_lines(page))) == flagged
        page.click("#checks-clear")
        page.uncheck('input[name="severity"][value="clean"]')

        # the keyboard: j selects the first row shown, a accepts it
        first = shown_lines(page)[0]
        page.keyboard.press("j")
        page.keyboard.press("a")
        page.wait_for_selector(f'article.row[data-line="{first}"] .badge.accepted')
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, tmp_path, "support-review")
        assert not errors
    finally:
        page.close()
        running.__exit__()
    log = [json.loads(x) for x in state.review.paths.log.read_text().splitlines()]
    assert (log[-1]["line"], log[-1]["action"]) == (int(first), "accept")
