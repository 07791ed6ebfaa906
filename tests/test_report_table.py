"""The terminal table: failing first, one line per finding, scope errors impossible to miss."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest

from imdsguard.model.findings import FindingList
from imdsguard.model.scan import Finding, Instance, MetadataOptions, Scope
from imdsguard.report import table
from tests.sample import sample_result

SCOPE = Scope("111111111111", "eu-west-1")


def finding_lines(text: str) -> list[str]:
    return [
        line for line in text.splitlines() if line.split()[:1] in (["FAIL"], ["INFO"], ["PASS"])
    ]


def test_table_lists_failures_first_by_severity_one_line_each() -> None:
    result = sample_result()
    lines = finding_lines(table.format(result))
    assert len(lines) == len(result.findings)  # no wrapped rows at 160 columns
    statuses = [line.split()[0] for line in lines]
    assert statuses == sorted(statuses, key=["FAIL", "INFO", "PASS"].index)
    severities = [line.split()[1] for line in lines if line.split()[0] == "FAIL"]
    assert severities == ["High", "High", "High", "Medium", "Medium", "Low"]


def test_table_boxes_scope_errors_and_keeps_names_on_one_line() -> None:
    text = table.format(sample_result())
    assert "INCOMPLETE: 2 scope(s) could not be read" in text
    assert "333333333333 all Regions: AccessDenied on AssumeRole" in text
    assert 'legacy, "v1" batch' in text
    assert text.rstrip().endswith("2 scope errors")


def test_names_that_look_like_rich_markup_are_printed_not_parsed() -> None:
    # EC2 tags allow any character; "[/prod]" used to crash the table with MarkupError.
    result = sample_result()
    inst = Instance("i-0markup", "running", MetadataOptions(), name="db [/prod] [red]x[/red]")
    marked = replace(
        result,
        findings=FindingList((*result.findings, Finding(SCOPE, inst, "FAIL", "tokens-optional"))),
    )
    text = table.format(marked, width=400)
    assert "db [/prod] [red]x[/red]" in text


@pytest.mark.parametrize("width", [80, 120, 200])
def test_what_identifies_a_finding_is_never_cut(width: int) -> None:
    result = sample_result()
    lines = table.format(result, width=width).splitlines()
    assert all(len(line.rstrip()) <= width for line in lines)
    for f in result.findings:
        # Status, account, Region and the full resource id, whole, on the finding's own line.
        words = {f.scope.account_id, f.scope.region, f.resource_id}
        rows = [line.split() for line in lines if line.split()[:1] == [f.status]]
        assert any(words <= set(row) for row in rows), (width, words)


def test_a_wide_terminal_gives_every_column_its_own_place() -> None:
    header = next(line for line in table.format(sample_result()).splitlines() if "Status" in line)
    assert header.split() == [
        "Status", "Sev", "Reason", "Account", "Region", "Type", "Resource", "Name", "Detail",
    ]  # fmt: skip


def test_a_narrow_terminal_moves_the_rest_below_the_row_and_loses_no_detail() -> None:
    lines = table.format(sample_result(), width=80).splitlines()
    header = next(line for line in lines if "Status" in line)
    assert header.split() == ["Status", "Account", "Region", "Resource"]
    below = lines[lines.index(next(line for line in lines if "ami-0123456789abcdef0" in line)) + 1]
    assert below.split()[:5] == ["Low", "AMI", "imds-support-unset", "·", "golden"]


def test_a_status_filter_shows_fewer_rows_and_counts_them_all() -> None:
    result = sample_result()
    text = table.format(result, statuses={"FAIL", "INFO"})
    assert len(finding_lines(text)) == 7
    assert "2 pass, 6 fail, 1 info, 2 scope errors; showing 7 of 9 findings" in text
    assert "(--status all shows every one)" in text


def test_force_color_colours_a_pipe_and_a_pipe_is_plain_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.text import Text

    from imdsguard.commands.common import console

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    forced = io.StringIO()
    console(forced).print(Text("FAIL", style="bold red"))
    assert "\x1b[" in forced.getvalue()
    monkeypatch.delenv("FORCE_COLOR")
    plain = io.StringIO()
    console(plain).print(Text("FAIL", style="bold red"))
    assert plain.getvalue() == "FAIL\n"
