"""The HTML report: self-contained and escaped; and rendered in real headless Chromium."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from imdsguard.report import html
from tests.cdp import Browser, chromium_or_skip
from tests.sample import sample_result

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def test_html_makes_no_external_references() -> None:
    page = html.format(sample_result())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "default-src 'none'" in page  # the browser itself refuses any fetch


def test_html_escapes_user_data() -> None:
    page = html.format(sample_result())
    assert "web-&lt;lt&gt;" in page
    assert "web-<lt>" not in page


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "imdsguard.html"
    path.write_text(html.format(sample_result()), encoding="utf-8")
    return path


def test_html_renders_sorts_and_logs_no_errors_in_chromium(rendered: Path) -> None:
    binary = chromium_or_skip()
    with Browser(binary) as browser:
        browser.open(rendered.as_uri())

        assert browser.evaluate("document.title") == "imdsguard IMDS audit"
        assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 2
        assert browser.evaluate("document.querySelectorAll('svg.chart rect.fail').length") > 0
        assert browser.evaluate("document.querySelector('#scope-errors') !== null")
        assert browser.evaluate("document.getElementById('shown').textContent") == "9 of 9 shown"

        resources = (
            "Array.from(document.querySelectorAll('#findings tbody tr'))"
            ".map(r => r.dataset.resource)"
        )
        browser.click("th[data-key=resource]")
        ascending = browser.evaluate(resources)
        assert ascending == sorted(ascending)
        browser.click("th[data-key=resource]")
        assert browser.evaluate(resources) == sorted(ascending, reverse=True)

        browser.send(
            "Runtime.evaluate",
            expression="""
            const s = document.getElementById('status-filter');
            s.value = 'PASS'; s.dispatchEvent(new Event('change'));""",
        )
        assert browser.evaluate("document.getElementById('shown').textContent") == "2 of 9 shown"

        shot = browser.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "html-report.png").write_bytes(base64.b64decode(shot["data"]))

        assert browser.console_errors() == []
        fetched = browser.requested_urls()
        assert all(url.startswith("file://") for url in fetched), fetched


def test_chromium_check_sees_console_errors_and_blocked_fetches(tmp_path: Path) -> None:
    """The control for the test above: a broken page must not pass it."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "script-src 'unsafe-inline'\">"
        '<img src="https://example.invalid/x.png">'
        '<script>console.error("boom"); undefinedFunction();</script>',
        encoding="utf-8",
    )
    with Browser(chromium_or_skip()) as browser:
        browser.open(page.as_uri())
        kinds = {e["method"] for e in browser.console_errors()}
    assert kinds == {"Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded"}
