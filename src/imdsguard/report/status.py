"""PURE: ``imdsguard status`` as a terminal table and as JSON (schema: status.schema.json)."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.text import Text

from imdsguard import __version__
from imdsguard.model.remediation import Rejections
from imdsguard.model.scan import JSONValue
from imdsguard.remediate.status import ChangeStatus, StatusResult
from imdsguard.report.style import new_table

SCHEMA_VERSION = "1.0"
STATUS_STYLE = {
    "regressed": "bold red",
    "unreadable": "bold magenta",
    "unfinished": "bold magenta",
    "gone": "yellow",
    "in-place": "green",
}
VERDICT_STYLE = {"ok": "bold green", "attention": "bold red", "incomplete": "bold magenta"}


def _order(row: ChangeStatus) -> tuple[int, object, str]:
    """What needs someone first: set back or refusing, then unchecked, gone, in place."""
    if row.status == "regressed" or row.refused:
        rank = 0
    elif row.unknown:
        rank = 1
    else:
        rank = 2 if row.status == "gone" else 3
    return rank, row.applied.change.scope, row.applied.change.key


def _refused(rejections: Rejections | None) -> str:
    if rejections is None:
        return ""
    if rejections.status == "unknown":
        return f"unknown: {rejections.error}"
    if rejections.status == "none":
        return "none" if rejections.datapoints else "none (no data points)"
    first, last = rejections.first_seen, rejections.last_seen
    when = f", {first.isoformat()} to {last.isoformat()}" if first and last else ""
    return f"{rejections.count:g} refused{when}"


def status_renderable(result: StatusResult) -> RenderableType:
    table = new_table(
        "Changes applied by " + ", ".join(str(j) for j in result.journals),
        ("Status", "Account", "Region", "Kind", "Resource", "Changed", "Now", "IMDSv1 refused"),
    )
    for row in sorted(result.rows, key=_order):
        c = row.applied.change
        table.add_row(
            Text(row.status, style=STATUS_STYLE[row.status]),
            c.scope.account_id,
            c.scope.region,
            c.kind,
            c.resource_id,
            row.applied.since.isoformat(timespec="seconds"),
            row.now,
            Text(_refused(row.rejections), style="bold red" if row.refused else ""),
        )
    summary = Text(result.summary(), style=VERDICT_STYLE[result.verdict()])
    return Group(table, summary)


def _row_json(row: ChangeStatus) -> dict[str, JSONValue]:
    c = row.applied.change
    return {
        "journal": str(row.applied.journal),
        "key": c.key,
        "kind": c.kind,
        "account_id": c.scope.account_id,
        "region": c.scope.region,
        "resource_id": c.resource_id,
        "name": c.name,
        "changed_at": row.applied.since.isoformat(),
        "status": row.status,
        "now": row.now,
        "rejections": row.rejections.as_json() if row.rejections else None,
    }


def status_json(result: StatusResult) -> str:
    counts = result.counts()
    doc: dict[str, JSONValue] = {
        "schema_version": SCHEMA_VERSION,
        "kind": "imdsguard-status",
        "tool": {"name": "imdsguard", "version": __version__},
        "checked_at": result.checked_at.isoformat(),
        "journals": [str(j) for j in result.journals],
        "changes": [_row_json(r) for r in sorted(result.rows, key=_order)],
        "summary": {
            "verdict": result.verdict(),
            "changes": len(result.rows),
            **{
                name.replace("-", "_"): counts[name]
                for name in ("in-place", "regressed", "gone", "unreadable", "unfinished")
            },
            "refusing_instances": counts["refusing"],
            "refused_calls": counts["refused_calls"],
            "metrics_unknown": counts["metrics_unknown"],
            "text": result.summary(),
        },
    }
    return json.dumps(doc, indent=2) + "\n"
