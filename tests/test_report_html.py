"""The HTML report: self-contained and escaped; and rendered in real headless Chromium.

Screenshots at 1400 and 800 px go to $IMDSGUARD_ARTIFACTS (else a pytest temporary
directory); the test prints where.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from imdsguard.model.findings import FindingList
from imdsguard.model.scan import Finding, ScanResult, Scope, ScopeOutcome
from imdsguard.report import fixes, html
from tests.cdp import Browser, chromium_or_skip
from tests.sample import A, instance, judged, launch_template, sample_result

WIDTHS = (1400, 800)
ROW_MAX_PX = 36  # one line of 13 px text plus the open button: controls stay collapsed
EVIL = "</script><img src=x onerror=alert(1)><!--"


def test_html_makes_no_external_references() -> None:
    page = html.format(sample_result())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "default-src 'none'" in page  # the browser itself refuses any fetch


def test_html_escapes_user_data() -> None:
    page = html.format(sample_result())
    assert "web-\\u003clt\\u003e" in page  # the name, inside the embedded JSON
    assert "web-<lt>" not in page


def _with(result: ScanResult, *extra: Finding) -> ScanResult:
    return dataclasses.replace(result, findings=FindingList((*result.findings, *extra)))


def test_embedded_json_cannot_end_its_script_element() -> None:
    evil = judged(Scope(A, "eu-west-1"), instance("i-0evil000000000001", "optional", EVIL))
    page = html.format(_with(sample_result(), evil))
    data = page.split('id="findings-data">', 1)[1].split("</script>", 1)[0]
    assert not {"<", ">", "&"} & set(data)
    names = [f["name"] for f in json.loads(data)["findings"]]
    assert EVIL in names  # JSON.parse (and json.loads) read the escapes back exactly


def test_generated_time_is_for_people_with_its_zone() -> None:
    assert html.human_time(datetime(2026, 12, 1, 22, 5, 7, 123456, tzinfo=UTC)) == (
        "1 December 2026, 22:05 UTC"
    )
    plus_one = timezone(timedelta(hours=1))
    assert html.human_time(datetime(2026, 1, 2, 3, 4, tzinfo=plus_one)) == (
        "2 January 2026, 03:04 UTC+01:00"
    )
    assert 'generated <time datetime="2026-01-02T03:04:05+00:00">2 January 2026, 03:04 UTC<' in (
        html.format(sample_result())
    )


def test_scope_errors_name_each_failed_kind_and_why() -> None:
    error = (
        "instances: UnauthorizedOperation on DescribeInstances: denied; "
        "launch-templates,auto-scaling-groups: Throttling on DescribeLaunchTemplates: slow down"
    )
    scope = Scope(A, "eu-west-1")
    read = [judged(scope, instance("i-1", "required")), judged(scope, launch_template())]
    failed = html.failures(ScopeOutcome(A, "eu-west-1", error), FindingList(read))
    assert [(f.kinds, f.why) for f in failed] == [
        ("instances", "UnauthorizedOperation on DescribeInstances: denied"),
        (
            "launch templates, Auto Scaling groups",
            "Throttling on DescribeLaunchTemplates: slow down",
        ),
    ]
    assert {f.known for f in failed} == {"2 finding(s) of the other kinds are shown"}
    whole = html.failures(
        ScopeOutcome(A, "ap-south-1", "OptInRequired: not enabled"), FindingList(read)
    )
    assert [(f.kinds, f.known) for f in whole] == [("every kind", "nothing was read here")]


def test_fix_commands_are_exact_and_quoted() -> None:
    scope = Scope(A, "eu-west-1")
    failing = judged(scope, instance("i-0aaa00000000000a2", "optional"))
    label, cli = (c.text for c in fixes.commands(failing))
    assert cli == (
        "aws ec2 modify-instance-metadata-options --instance-id i-0aaa00000000000a2 "
        "--http-tokens required --http-endpoint enabled --region eu-west-1"
    )
    assert label.startswith(f"imdsguard plan --accounts {A} --regions eu-west-1 ")
    assert fixes.commands(judged(scope, instance("i-2", "required"))) == ()
    template = fixes.commands(judged(scope, launch_template()))[1].text
    assert "create-launch-template-version --launch-template-id lt-0aaa0000000000001 " in template
    assert "--source-version 1 " in template
    assert '--default-version "$v"' in template
    odd = judged(scope, instance("i-1; rm -rf ~", "optional"))
    assert "--instance-id 'i-1; rm -rf ~' " in fixes.commands(odd)[1].text


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("IMDSGUARD_ARTIFACTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("html-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nHTML report screenshots and PDF: {path}")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(chromium_or_skip()) as b:
        yield b


def _open(browser: Browser, path: Path, width: int) -> None:
    browser.events.clear()
    browser.open(path.as_uri())
    browser.viewport(width)


def _screenshot(browser: Browser, target: Path, width: int) -> None:
    height = browser.evaluate("document.documentElement.scrollHeight")
    browser.viewport(width, min(height, 8000))
    shot = browser.send("Page.captureScreenshot", format="png")
    target.write_bytes(base64.b64decode(shot["data"]))
    browser.viewport(width)


CLIPPED_TEXT = """Array.from(document.querySelectorAll('svg.chart')).flatMap(svg => {
  const box = svg.getBoundingClientRect();
  return Array.from(svg.querySelectorAll('text')).filter(t => {
    const r = t.getBoundingClientRect();
    return r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
      r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
  }).map(t => t.textContent);
})"""
ROW_HEIGHTS = (
    "Array.from(document.querySelectorAll('#findings tr.row'))"
    ".map(r => r.getBoundingClientRect().height)"
)


@pytest.mark.parametrize("width", WIDTHS)
def test_html_layout_in_chromium(browser: Browser, artifacts: Path, width: int) -> None:
    path = artifacts / "imdsguard.html"
    result = sample_result()
    path.write_text(html.format(result), encoding="utf-8")
    _open(browser, path, width)

    assert browser.evaluate("document.title") == "imdsguard IMDS audit"
    assert browser.evaluate("document.querySelectorAll('svg.chart').length") == 3
    assert browser.evaluate("document.querySelectorAll('svg.chart .legend text').length") == 9
    assert browser.evaluate(CLIPPED_TEXT) == []
    assert browser.evaluate(
        "Array.from(document.querySelectorAll('svg.chart')).every(s => "
        "s.getBoundingClientRect().right <= document.documentElement.clientWidth)"
    )
    heights = browser.evaluate(ROW_HEIGHTS)
    assert len(heights) == len(result.findings)
    assert max(heights) <= ROW_MAX_PX, heights
    assert browser.evaluate(
        "document.querySelector('#findings').getBoundingClientRect().right"
        " <= document.documentElement.clientWidth"
    ), "the findings table must fit the window"
    assert browser.evaluate("document.querySelector('td.controls').textContent") == (
        "CIS 5.7 · FSBP EC2.8 · +9"
    )

    # Every finding's evidence is one real click away: every key and every scalar value.
    findings = browser.evaluate("JSON.parse(document.getElementById('findings-data').textContent)")
    for index, finding in enumerate(findings["findings"]):
        browser.click(f"tr.row[data-index='{index}'] button.open")
        panel = browser.evaluate(
            f"document.querySelector(\"tr.evidence[data-index='{index}']\").innerText"
        )
        for key, value in finding["evidence"].items():
            assert key in panel
            if isinstance(value, str | int) and not isinstance(value, bool):
                assert str(value) in panel, (key, value)
        for _, command in finding["fixes"]:
            assert command in panel
    assert browser.evaluate(CLIPPED_TEXT) == []
    _screenshot(browser, artifacts / f"html-report-{width}.png", width)
    assert browser.console_errors() == []
    fetched = browser.requested_urls()
    assert all(url.startswith("file://") for url in fetched), fetched


def test_html_sorts_filters_and_prints(browser: Browser, artifacts: Path) -> None:
    path = artifacts / "imdsguard.html"
    path.write_text(html.format(sample_result()), encoding="utf-8")
    _open(browser, path, 1400)
    assert browser.evaluate("document.getElementById('shown').textContent") == "9 of 9 shown"
    resources = (
        "Array.from(document.querySelectorAll('#findings tr.row')).map(r => r.dataset.resource)"
    )
    browser.click("th[data-key=resource]")
    ascending = browser.evaluate(resources)
    assert ascending == sorted(ascending)
    browser.click("th[data-key=resource]")
    assert browser.evaluate(resources) == sorted(ascending, reverse=True)
    browser.evaluate(
        "const s = document.getElementById('status-filter');"
        "s.value = 'PASS'; s.dispatchEvent(new Event('change'));"
    )
    assert browser.evaluate("document.getElementById('shown').textContent") == "2 of 9 shown"
    # The scope-errors box names the kind that failed and the reason.
    assert "UnauthorizedOperation on DescribeInstances" in browser.evaluate(
        "document.getElementById('scope-errors').innerText"
    )

    browser.send("Emulation.setEmulatedMedia", media="print")
    hidden = (
        "['.filters', '.pager', 'button.open']"
        ".map(s => getComputedStyle(document.querySelector(s)).display)"
    )
    assert browser.evaluate(hidden) == ["none", "none", "none"]
    browser.send("Emulation.setEmulatedMedia", media="")
    pdf = base64.b64decode(browser.send("Page.printToPDF", printBackground=False)["data"])
    assert pdf.startswith(b"%PDF")
    (artifacts / "html-report.pdf").write_bytes(pdf)
    assert browser.console_errors() == []


def test_hostile_names_stay_text_in_chromium(browser: Browser, artifacts: Path) -> None:
    evil = judged(Scope(A, "eu-west-1"), instance("i-0evil000000000001", "optional", EVIL))
    path = artifacts / "hostile.html"
    path.write_text(html.format(_with(sample_result(), evil)), encoding="utf-8")
    _open(browser, path, 1400)
    names = browser.evaluate(
        "Array.from(document.querySelectorAll('td.name')).map(t => t.textContent)"
    )
    assert EVIL in names
    assert browser.evaluate("document.querySelectorAll('img').length") == 0
    assert browser.console_errors() == []


def large_result(count: int) -> ScanResult:
    """``count`` instances over 10 accounts and 5 Regions, a third of them failing."""
    regions = ("eu-west-1", "us-east-1", "us-west-2", "ap-south-1", "sa-east-1")
    accounts = [f"{n:012d}" for n in range(100000000001, 100000000011)]
    findings = tuple(
        judged(
            Scope(accounts[i % 10], regions[i // 10 % 5]),
            instance(f"i-{i:017x}", "optional" if i % 3 == 0 else "required", f"host-{i}"),
        )
        for i in range(count)
    )
    scopes = tuple(
        ScopeOutcome(a, r, counts={"AwsEc2Instance": 1}) for a in accounts for r in regions
    )
    return dataclasses.replace(sample_result(), scopes=scopes, findings=FindingList(findings))


def test_five_thousand_findings_load_fast_and_filter_fast(
    browser: Browser, artifacts: Path
) -> None:
    path = artifacts / "large.html"
    path.write_text(html.format(large_result(5000)), encoding="utf-8")
    _open(browser, path, 1400)
    # The browser's own clock: navigation start to the table being interactive, and to load.
    interactive = browser.evaluate(
        "performance.getEntriesByName('imdsguard-interactive')[0].startTime"
    )
    loaded = browser.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    assert interactive < 2000, interactive
    assert loaded < 2000, loaded
    assert browser.evaluate("document.getElementById('shown').textContent") == "5000 of 5000 shown"
    assert browser.evaluate("document.querySelectorAll('#findings tr.row').length") == 100

    keystroke = """(() => {
      const input = document.getElementById('filter');
      const start = performance.now();
      input.value = 'i-00000000000001387'; input.dispatchEvent(new Event('input'));
      return performance.now() - start; })()"""
    assert browser.evaluate(keystroke) < 150
    assert browser.evaluate("document.getElementById('shown').textContent") == "1 of 5000 shown"
    browser.click("tr.row button.open")
    assert "host-4999" in browser.evaluate("document.querySelector('tr.evidence').innerText")
    sort = """(() => { const start = performance.now();
      document.getElementById('filter').value = ''; document.getElementById('filter')
        .dispatchEvent(new Event('input'));
      document.querySelector('th[data-key=name]').click();
      return performance.now() - start; })()"""
    assert browser.evaluate(sort) < 500
    assert browser.console_errors() == []


def test_clipped_text_check_sees_clipped_text(browser: Browser, tmp_path: Path) -> None:
    """The control for the layout test: a label drawn past its SVG's edge is caught."""
    page = tmp_path / "clipped.html"
    page.write_text(
        '<svg class="chart" width="60" height="20"><text x="0" y="14">per-account label '
        'that runs past the edge</text><text x="2" y="14">ok</text></svg>',
        encoding="utf-8",
    )
    _open(browser, page, 1400)
    assert browser.evaluate(CLIPPED_TEXT) == ["per-account label that runs past the edge"]
