"""The terminal table: failing findings first, a summary per scope, scope errors boxed in red.

The status, account, Region and resource id of a finding are always shown whole, at any
width down to 80 columns: on a wide terminal every column has its own place; on a narrow
one severity, type, reason, name and detail move below the row
(docs/reports.md#the-terminal-table).
"""

from __future__ import annotations

import heapq
import io
from collections import Counter
from collections.abc import Collection
from typing import TextIO

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from imdsguard.model.kinds import KINDS
from imdsguard.model.scan import ALL_REGIONS, Finding, ScanResult
from imdsguard.report import describe
from imdsguard.report.style import new_table
from imdsguard.rules import compliance

STATUS_ORDER = {"FAIL": 0, "INFO": 1, "PASS": 2}
STATUS_STYLE = {"FAIL": "bold red", "INFO": "yellow", "PASS": "green"}
SEVERITY_ORDER = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, "Informational": 4}
# Short names keep the Type column narrow enough that nothing else wraps.
SHORT_TYPES = {k.resource_type: k.label for k in KINDS}
# The room the wide layout needs besides its whole columns; below it, the compact one.
NAME_WIDTH = 24
DETAIL_MIN_WIDTH = 32
# The rows a table lists: past this, a terminal is no way to read them, and a 100,000-row
# table would be built whole in memory (docs/reports.md#large-fleets).
MAX_ROWS = 1000


def capped_notice(listed: int, matching: int) -> str:
    return (
        f"The table lists the first {listed:,} of {matching:,} matching findings; "
        "--format csv (or --output-dir) lists every one."
    )


def _order(f: Finding) -> tuple[int, int, object, str, str]:
    severity = SEVERITY_ORDER[compliance.severity(f.resource_type)]
    return STATUS_ORDER[f.status], severity, f.scope, f.resource_type, f.resource_id


def _name(f: Finding) -> str:
    # A name is user data: a newline in it must not break the row.
    return " ".join((f.name or "").split())


def _type(f: Finding) -> str:
    return SHORT_TYPES.get(f.resource_type, describe.short_type(f.resource_type))


def _status(f: Finding) -> Text:
    return Text(f.status, style=STATUS_STYLE[f.status])


class _Findings:
    """The findings table, laid out for the width rich gives it."""

    def __init__(self, title: str, findings: list[Finding]) -> None:
        self.title = title
        self.findings = findings

    def _whole(self) -> list[tuple[str, list[str]]]:
        """The columns the wide layout never shortens, with their cells."""
        fs = self.findings
        return [
            ("Status", [f.status for f in fs]),
            ("Sev", [compliance.severity(f.resource_type) for f in fs]),
            ("Reason", [f.reason for f in fs]),
            ("Account", [f.scope.account_id for f in fs]),
            ("Region", [f.scope.region for f in fs]),
            ("Type", [_type(f) for f in fs]),
            ("Resource", [f.resource_id for f in fs]),
        ]

    def _wide_width(self) -> int:
        whole = sum(max(map(cell_len, [name, *cells])) for name, cells in self._whole())
        separators = len(self._whole()) + 1  # one space between columns (collapsed padding)
        return whole + separators + NAME_WIDTH + DETAIL_MIN_WIDTH

    def _wide(self) -> Table:
        table = new_table(self.title)
        for name, _ in self._whole():
            table.add_column(name, no_wrap=True)
        table.add_column("Name", max_width=NAME_WIDTH, overflow="ellipsis", no_wrap=True)
        table.add_column("Detail", min_width=DETAIL_MIN_WIDTH, overflow="fold")
        for f in self.findings:
            severity = compliance.severity(f.resource_type)
            row = (f.scope.account_id, f.scope.region, _type(f), f.resource_id)
            table.add_row(_status(f), severity, f.reason, *row, _name(f), describe.short_detail(f))
        return table

    def _compact(self) -> Table:
        """What identifies the finding on its row; severity, type, reason, name and detail
        on the next, folded to the width the Resource column takes (the last, and the
        only one rich may narrow: the ids in it never wrap)."""
        table = new_table(self.title)
        for name in ("Status", "Account", "Region"):
            table.add_column(name, no_wrap=True)
        table.add_column("Resource", overflow="fold")
        for f in self.findings:
            words = [compliance.severity(f.resource_type), _type(f), f.reason]
            text = " · ".join(w for w in (" ".join(words), _name(f), describe.short_detail(f)) if w)
            resource = Text(f.resource_id, no_wrap=True, overflow="ellipsis")
            table.add_row(_status(f), f.scope.account_id, f.scope.region, resource)
            table.add_row("", "", "", Text(text, style="dim", overflow="fold"))
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self._wide() if self._wide_width() <= options.max_width else self._compact()


def _scope_table(result: ScanResult) -> Table:
    columns = ("Account", "Region", "Status", "Resources", "Pass", "Fail", "Info")
    table = new_table("Scopes", columns)
    per_scope = result.findings.per_scope()
    for s in result.scopes:
        c = per_scope.get((s.account_id, s.region), Counter())
        status = Text("ERROR", style="bold magenta") if s.error else Text("ok", style="green")
        table.add_row(
            s.account_id,
            "all Regions" if s.region == ALL_REGIONS else s.region,
            status,
            str(sum(s.counts.values())),
            str(c["PASS"]),
            Text(str(c["FAIL"]), style="bold red" if c["FAIL"] else ""),
            str(c["INFO"]),
        )
    return table


def _scope_errors(result: ScanResult) -> Panel:
    lines = Text()
    for s in result.scope_errors:
        lines.append(f"{describe.scope_label(s)}: ", style="bold")
        lines.append(f"{s.error}\n")
    lines.rstrip()
    title = f"INCOMPLETE: {len(result.scope_errors)} scope(s) could not be read"
    return Panel(lines, title=title, title_align="left", border_style="bold magenta")


def summary_text(result: ScanResult, shown: int | None = None) -> Text:
    """'2 pass, 6 fail, 1 info, 2 scope errors', over every finding of ``result``."""
    s = result.summary
    text = Text()
    text.append(f"{s.passed} pass", style="green")
    text.append(", ")
    text.append(f"{s.failed} fail", style="bold red" if s.failed else "")
    if s.info:
        text.append(f", {s.info} info")
    text.append(", ")
    text.append(f"{s.scope_errors} scope errors", style="bold magenta" if s.scope_errors else "")
    if shown is not None and shown != len(result.findings):
        text.append(f"; showing {shown} of {len(result.findings)} findings")
    return text


def renderable(result: ScanResult, statuses: Collection[str] | None = None) -> RenderableType:
    """Every finding, or those whose status is in ``statuses``, up to MAX_ROWS of them (most
    important first); the summary counts all."""
    chosen = result.findings.only(statuses=statuses)
    shown = len(chosen)
    # Stable, as sorted() is: the rows are what sorted(...)[:MAX_ROWS] gives, in O(MAX_ROWS).
    findings = heapq.nsmallest(MAX_ROWS, chosen, key=_order)
    parts: list[RenderableType] = [_Findings(compliance.title(result), findings)]
    if shown > len(findings):
        parts.append(Text(capped_notice(len(findings), shown), style="bold"))
    parts.append(_scope_table(result))
    if result.scope_errors:
        parts.append(_scope_errors(result))
    summary = summary_text(result, None if statuses is None else shown)
    if statuses is not None and shown < len(result.findings):
        summary.append(" (--status all shows every one)")
    parts.append(summary)
    return Group(*parts)


def write(
    result: ScanResult, out: TextIO, width: int = 200, statuses: Collection[str] | None = None
) -> None:
    """Plain text (no colour codes), for files and pipes."""
    Console(
        markup=False, highlight=False, file=out, width=width, no_color=True, color_system=None
    ).print(renderable(result, statuses))


def format(result: ScanResult, width: int = 200, statuses: Collection[str] | None = None) -> str:
    buffer = io.StringIO()
    write(result, buffer, width, statuses)
    return buffer.getvalue()
