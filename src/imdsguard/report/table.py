"""The terminal table: failing findings first, a summary per scope, scope errors boxed in red."""

from __future__ import annotations

import io
from collections import Counter

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from imdsguard.model.kinds import KINDS
from imdsguard.model.scan import ALL_REGIONS, Finding, ScanResult
from imdsguard.report import describe
from imdsguard.rules import compliance

STATUS_ORDER = {"FAIL": 0, "INFO": 1, "PASS": 2}
STATUS_STYLE = {"FAIL": "bold red", "INFO": "yellow", "PASS": "green"}
SEVERITY_ORDER = {"Critical": 0, "High": 1, "Medium": 2, "Low": 3, "Informational": 4}
# Short names keep the Type column narrow enough that nothing else wraps.
SHORT_TYPES = {k.resource_type: k.label for k in KINDS}


def _order(f: Finding) -> tuple[int, int, object, str, str]:
    severity = SEVERITY_ORDER[compliance.severity(f.resource_type)]
    return STATUS_ORDER[f.status], severity, f.scope, f.resource_type, f.resource_id


def _findings_table(result: ScanResult) -> Table:
    table = Table(
        title=compliance.title(result),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("Status", no_wrap=True)
    table.add_column("Sev", no_wrap=True)
    table.add_column("Reason", no_wrap=True)
    table.add_column("Account", no_wrap=True)
    table.add_column("Region", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Resource", no_wrap=True)
    table.add_column("Name", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("Detail", min_width=32, overflow="fold")
    for f in sorted(result.findings, key=_order):
        table.add_row(
            Text(f.status, style=STATUS_STYLE[f.status]),
            compliance.severity(f.resource_type),
            f.reason,
            f.scope.account_id,
            f.scope.region,
            SHORT_TYPES.get(f.resource_type, describe.short_type(f.resource_type)),
            f.resource_id,
            # A name is user data: a newline in it must not break the row.
            " ".join((f.name or "").split()),
            describe.short_detail(f),
        )
    return table


def _scope_table(result: ScanResult) -> Table:
    table = Table(title="Scopes", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("Account", "Region", "Status", "Resources", "Pass", "Fail", "Info"):
        table.add_column(column, no_wrap=True)
    per_scope: dict[tuple[str, str], Counter[str]] = {}
    for f in result.findings:
        per_scope.setdefault((f.scope.account_id, f.scope.region), Counter())[f.status] += 1
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
    return text


def renderable(result: ScanResult) -> RenderableType:
    parts: list[RenderableType] = [_findings_table(result), _scope_table(result)]
    if result.scope_errors:
        parts.append(_scope_errors(result))
    parts.append(_summary_line(result))
    return Group(*parts)


def format(result: ScanResult, width: int = 200) -> str:
    """Plain text (no colour codes), for files and pipes."""
    buffer = io.StringIO()
    Console(
        markup=False, highlight=False, file=buffer, width=width, no_color=True, color_system=None
    ).print(renderable(result))
    return buffer.getvalue()
