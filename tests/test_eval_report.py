"""The HTML report: self-contained, and it renders in headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lorakit.eval.report import write_report
from lorakit.eval.run import evaluate
from test_eval_helpers import make_adapter, write_rows

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def report(tiny_base, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    adapters = [
        make_adapter(tiny_base, root / "zero"),
        make_adapter(tiny_base, root / "changed", scale=0.5),
    ]
    result = evaluate(
        adapters,
        write_rows(root / "heldout.jsonl"),
        max_new_tokens=6,
        progress=False,
        record=False,
        dtype="float32",
    )
    return write_report(result, root / "report.html")


def test_report_is_self_contained(report):
    text = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched
    assert text.count("<svg") >= 2  # training curves and per-example deltas
    assert 'id="metrics"' in text and "never trained" in text


@pytest.mark.browser
def test_report_renders_in_chromium(report):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        header = page.locator("#metrics tr").first.inner_text()
        models = page.locator("#metrics tr td:first-child").all_inner_texts()
        training = page.locator("#plot-training svg").count()
        deltas = page.locator("#plot-deltas svg").count()
        box = page.locator("#plot-deltas svg").bounding_box()
        outputs = page.locator("#outputs tr").count()
        flags = page.locator("#flags .flag.error").all_inner_texts()
        page.screenshot(path=str(report.with_suffix(".png")), full_page=True)
        browser.close()
    assert "held-out loss" in header and models == ["base", "zero", "changed"]
    assert training == 1 and deltas == 1 and box["width"] > 300 and box["height"] > 150
    assert outputs == 1 + 6  # header + one row per example
    assert any("zero" in f and "unchanged" in f for f in flags)
    assert [u for u in requests if not u.startswith("file://")] == []
