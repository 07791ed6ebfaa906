"""The terminal table: failing findings first, then a summary per account and Region."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from imdsguard.model import Finding, ScanResult
from imdsguard.report.details import details, short_type

STATUS_ORDER = {"FAIL": 0, "INFO": 1, "PASS": 2}
STATUS_STYLE = {"FAIL": "bold red", "INFO": "yellow", "PASS": "green"}


def _findings_table(result: ScanResult) -> Table:
    table = Table(title="Findings", title_justify="left", expand=False)
    for column in ("Status", "Reason", "Account", "Region", "Type", "Resource", "Name", "Details"):
        table.add_column(column, overflow="fold")

    def order(f: Finding) -> tuple[int, object, str]:
        return STATUS_ORDER[f.status], f.scope, f.resource_id

    for f in sorted(result.findings, key=order):
        table.add_row(
            Text(f.status, style=STATUS_STYLE[f.status]),
            f.reason,
            f.scope.account_id,
            f.scope.region,
            short_type(f.resource_type),
            f.resource_id,
            f.name or "",
            details(f),
        )
    return table


def _scope_table(result: ScanResult) -> Table:
    table = Table(title="Scopes", title_justify="left")
    for column in ("Account", "Region", "Status", "Resources", "Pass", "Fail", "Error"):
        table.add_column(column, overflow="fold")
    per_scope: dict[tuple[str, str], Counter[str]] = {}
    for f in result.findings:
        per_scope.setdefault((f.scope.account_id, f.scope.region), Counter())[f.status] += 1
    for s in result.scopes:
        c = per_scope.get((s.account_id, s.region), Counter())
        status = Text("ERROR", style="bold magenta") if s.error else Text("ok", style="green")
        table.add_row(
            s.account_id,
            s.region,
            status,
            str(sum(s.counts.values())),
            str(c["PASS"]),
            str(c["FAIL"]),
            s.error or "",
        )
    return table


def _summary_line(result: ScanResult) -> Text:
    s = result.summary
    text = Text()
    text.append(f"{s.passed} pass", style="green")
    text.append(", ")
    text.append(f"{s.failed} fail", style="bold red" if s.failed else "")
    if s.info:
        text.append(f", {s.info} info")
    text.append(", ")
    text.append(f"{s.scope_errors} scope errors", style="bold magenta" if s.scope_errors else "")
    if s.scope_errors:
        text.append("  INCOMPLETE: some scopes could not be read", style="bold magenta")
    return text


def renderable(result: ScanResult) -> RenderableType:
    return Group(_findings_table(result), _scope_table(result), _summary_line(result))


def format(result: ScanResult, width: int = 160) -> str:
    """Plain text (no colour codes), for files and pipes."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, color_system=None).print(renderable(result))
    return buffer.getvalue()
