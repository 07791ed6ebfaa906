"""The terminal table: failing first, one line per finding, scope errors impossible to miss."""

from __future__ import annotations

from dataclasses import replace

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
        result, findings=(*result.findings, Finding(SCOPE, inst, "FAIL", "tokens-optional"))
    )
    text = table.format(marked, width=400)
    assert "db [/prod] [red]x[/red]" in text
