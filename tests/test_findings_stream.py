"""The findings stream (model/findings.py, spill.py) and every report written from it:
order, re-iteration, views, error scopes, byte-identity with the in-memory rendering
(tests/reference_reports.py), and memory that stays flat as the fleet grows."""

from __future__ import annotations

import dataclasses
import io
import random
import re
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from imdsguard import spill as spill_module
from imdsguard.history.rows import scan_rows
from imdsguard.history.store import open_history
from imdsguard.model.findings import FindingList, Findings
from imdsguard.model.launch import Image
from imdsguard.model.scan import Finding, HttpTokens, ScanResult, Scope, ScopeOutcome
from imdsguard.report import FORMATS, html, table, writer
from imdsguard.rules.compliance import filter_result
from imdsguard.spill import ScopeBuffer, Spill
from tests import reference_reports as reference
from tests.sample import instance, judged, launch_template, sample_result

REGIONS = ("eu-west-1", "us-east-1", "ap-south-1")
ACCOUNTS = ("111111111111", "222222222222", "333333333333")


def generated(count: int, seed: int = 11) -> list[Finding]:
    """``count`` findings over 9 scopes and three kinds, in a scrambled order, with some
    resources judged twice in one scope (a tie the order must keep as judged)."""
    rng = random.Random(seed)
    found: list[Finding] = []
    for i in range(count):
        scope = Scope(ACCOUNTS[i % 3], REGIONS[i // 3 % 3])
        if i % 50 == 7:
            found.append(judged(scope, launch_template()))
        elif i % 50 == 9:
            found.append(judged(scope, Image(f"ami-{i:017x}", f"img-{i}", None)))
        else:
            tokens: HttpTokens = "optional" if i % 3 == 0 else "required"
            found.append(judged(scope, instance(f"i-{i % (count - 5):017x}", tokens, f"h-{i}")))
    rng.shuffle(found)
    return found


def spilled(findings: Iterable[Finding], directory: Path | None = None) -> Findings:
    store = Spill(str(directory) if directory else None)
    buffer = store.buffer()
    for f in findings:
        buffer.append(f)
    store.add(buffer)
    return store.seal()


def in_order(findings: Iterable[Finding]) -> list[Finding]:
    """What the scan did before it streamed: a stable sort of everything it judged."""
    return sorted(findings, key=lambda f: (f.scope, f.resource_type, f.resource_id))


def results(findings: list[Finding]) -> tuple[ScanResult, ScanResult]:
    """The same scan streamed from a spill, and held in memory in report order."""
    broken = (ACCOUNTS[1], REGIONS[2])
    scopes = (
        *(
            ScopeOutcome(a, r, "instances: Throttling: slow down" if (a, r) == broken else None)
            for a in ACCOUNTS
            for r in REGIONS
        ),
        ScopeOutcome("444444444444", "*", "AccessDenied on AssumeRole: no"),
    )
    base = dataclasses.replace(sample_result(), scopes=scopes)
    streamed = dataclasses.replace(base, findings=spilled(findings))
    held = dataclasses.replace(base, findings=FindingList(in_order(findings)))
    return streamed, held


SIMPLE = ("json", "csv", "ocsf", "asff", "junit")
REFERENCE = {
    "json": reference.json_text,
    "csv": FORMATS["csv"],  # its rows were always written one at a time, now to a stream
    "ocsf": reference.ocsf_text,
    "asff": reference.asff_text,
    "junit": reference.junit_text,
    "html": reference.html_text,
}


def test_the_spill_yields_report_order_every_time_and_keeps_ties_as_judged() -> None:
    findings = generated(3000)
    stream = spilled(findings)
    assert list(stream) == in_order(findings)
    assert list(stream) == list(stream)  # re-iterable
    assert len(stream) == 3000
    ties = [f for f in findings if f.resource_id == f"i-{0:017x}"]
    assert len(ties) > 1
    assert [f for f in stream if f.resource_id == ties[0].resource_id] == in_order(ties)


def test_views_count_from_the_tally_and_iterate_what_they_count() -> None:
    findings = generated(1200)
    stream = spilled(findings)
    scope = Scope(ACCOUNTS[2], REGIONS[1])
    cases: list[tuple[dict[str, Any], Callable[[Finding], bool]]] = [
        ({"statuses": {"FAIL"}}, lambda f: f.status == "FAIL"),
        ({"types": {"AwsEc2Image"}}, lambda f: f.resource_type == "AwsEc2Image"),
        ({"scope": scope}, lambda f: f.scope == scope),
        (
            {"statuses": {"PASS", "INFO"}, "types": {"AwsEc2Instance"}, "scope": scope},
            lambda f: (
                f.status != "FAIL" and f.resource_type == "AwsEc2Instance" and f.scope == scope
            ),
        ),
    ]
    for narrowing, keep in cases:
        expected = [f for f in in_order(findings) if keep(f)]
        for source in (stream, FindingList(in_order(findings))):
            view = source.only(**narrowing)
            assert list(view) == expected
            assert len(view) == len(expected) > 0
    other = Scope(ACCOUNTS[0], REGIONS[0])
    assert list(stream.only(scope=scope).only(scope=other)) == []
    assert len(stream.only(scope=scope).only(scope=other)) == 0
    assert list(stream.only(scope=Scope("999999999999", "eu-west-1"))) == []


def test_an_empty_spill_is_an_empty_stream(tmp_path: Path) -> None:
    store = Spill(str(tmp_path))
    store.add(store.buffer())
    stream = store.seal()
    assert (list(stream), len(stream), bool(stream)) == ([], 0, False)
    assert list(stream.only(statuses={"FAIL"})) == []
    streamed, held = results([])  # scopes with nothing in them, and error scopes
    for fmt, render in REFERENCE.items():
        assert FORMATS[fmt](streamed) == render(held), fmt
    assert table.format(streamed) == reference.table_text(held)


def test_a_scope_buffer_spills_past_a_page_and_frees_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spill_module, "BATCH", 10)
    buffer = ScopeBuffer(tmp_path)
    findings = generated(35)
    for f in findings:
        buffer.append(f)
    assert len(list(tmp_path.iterdir())) == 1  # 30 on disk, 5 in memory
    assert list(buffer) == findings == list(buffer)
    buffer.close()  # the last 5 too
    assert buffer._tail == []
    assert list(buffer) == findings
    assert len(buffer) == 35
    store = Spill(str(tmp_path))
    store.add(buffer)
    assert [p.suffix for p in tmp_path.iterdir()] == [""]  # only the spill's own directory
    assert list(store.seal()) == in_order(findings)


def test_the_spill_directory_goes_when_the_stream_does(tmp_path: Path) -> None:
    stream = spilled(generated(20), tmp_path)
    [directory] = tmp_path.iterdir()
    assert directory.stat().st_mode & 0o777 == 0o700
    del stream
    assert list(tmp_path.iterdir()) == []


def test_error_scopes_keep_what_was_read_in_every_format() -> None:
    streamed, _ = results(generated(300))
    broken = Scope(ACCOUNTS[1], REGIONS[2])
    assert len(streamed.findings.only(scope=broken)) > 0
    assert streamed.exit_code() == 3
    csv_text = FORMATS["csv"](streamed)
    assert "ERROR,instances: Throttling: slow down" in csv_text
    assert csv_text.count(f"{broken.account_id},{broken.region},AwsEc2Instance") > 0


@pytest.mark.parametrize("fmt", sorted(REFERENCE))
def test_each_writer_streams_what_the_whole_document_was(fmt: str) -> None:
    streamed, held = results(generated(1500))
    expected = REFERENCE[fmt](held)
    assert FORMATS[fmt](streamed) == expected
    out = io.StringIO()
    writer(fmt)(streamed, out)
    assert out.getvalue() == expected
    cis_streamed, cis_held = filter_result(streamed, "cis-5.0"), filter_result(held, "cis-5.0")
    assert FORMATS[fmt](cis_streamed) == REFERENCE[fmt](cis_held)


def test_the_table_streams_what_it_printed_below_its_row_limit() -> None:
    streamed, held = results(generated(900))  # under MAX_ROWS, even with every status
    for statuses in (None, {"FAIL"}, {"INFO"}):
        assert table.format(streamed, statuses=statuses) == reference.table_text(held, statuses)


def test_past_their_limits_the_table_and_the_page_say_what_they_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(table, "MAX_ROWS", 50)
    monkeypatch.setattr(html, "MAX_ROWS", 70)
    streamed, held = results(generated(900))
    fails = len(streamed.findings.only(statuses={"FAIL"}))
    text = table.format(streamed, statuses={"FAIL"})
    assert f"lists the first 50 of {fails} matching findings" in text
    assert text.count(" tokens-optional ") == 50
    # The rows shown are the first of the full ordering, as they were.
    ordered = sorted(held.findings.only(statuses={"FAIL"}), key=table._order)
    assert re.findall(r"\b(?:i|lt|ami)-[0-9a-f]+\b", text) == [f.resource_id for f in ordered[:50]]
    page = html.format(streamed)
    assert "This page holds the 70 of 900 findings that matter most" in page
    assert page.count('"resource":') == 70
    assert f"<b>{fails}</b>fail" in page  # the summary counts them all


def test_the_history_streams_the_same_rows(tmp_path: Path) -> None:
    streamed, held = results(generated(500))
    with open_history(tmp_path / "h.sqlite3") as history:
        one = history.save(scan_rows(streamed, "s"))
        two = history.save(scan_rows(held, "s"))
        assert history.load(one).findings == history.load(two).findings
        assert len(history.load(one).findings) == 500


class _Discard(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


def _peak_writing(result: ScanResult, fmt: str, warm: ScanResult) -> int:
    # Writing ``warm`` first fills the interpreter's free lists (tuples, dicts), which
    # tracemalloc would otherwise count as memory that grows with the findings.
    writer(fmt)(warm, _Discard())
    tracemalloc.start()
    try:
        writer(fmt)(result, _Discard())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _peak_holding(result: ScanResult) -> int:
    tracemalloc.start()
    try:
        held = list(result.findings)
        peak = tracemalloc.get_traced_memory()[1]
        del held
        return peak
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def fleets() -> tuple[ScanResult, ScanResult, int]:
    """A fleet, one ten times its size, and what merely holding the difference costs: a
    writer that kept the findings (or its output) whole would grow by at least that much."""
    small, large = (
        dataclasses.replace(sample_result(), findings=spilled(generated(n))) for n in (400, 4000)
    )
    return small, large, _peak_holding(large) - _peak_holding(small)


@pytest.mark.parametrize("fmt", [*SIMPLE, "html", "table"])
def test_writing_ten_times_the_findings_takes_no_more_memory(
    fmt: str, fleets: tuple[ScanResult, ScanResult, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two row-limited formats hold their limit's worth; a small limit keeps this fast.
    monkeypatch.setattr(table, "MAX_ROWS", 100)
    monkeypatch.setattr(html, "MAX_ROWS", 100)
    small, large, holding = fleets
    small_peak, large_peak = _peak_writing(small, fmt, small), _peak_writing(large, fmt, small)
    assert large_peak - small_peak < holding / 4, (fmt, small_peak, large_peak, holding)
