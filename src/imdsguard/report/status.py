"""PURE: ``imdsguard status`` as a terminal table and as JSON (schema: status.schema.json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
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


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%MZ")


def _refused(rejections: Rejections | None) -> str:
    if rejections is None:
        return ""
    if rejections.status == "unknown":
        return f"unknown: {rejections.error}"
    if rejections.status == "none":
        return "none" if rejections.datapoints else "none (no data points)"
    first, last = rejections.first_seen, rejections.last_seen
    when = f", {_when(first)} to {_when(last)}" if first and last else ""
    return f"{rejections.count:g} refused{when}"


KEYS = ("Status", "Account", "Region", "Resource")
DETAILS = ("Kind", "Changed", "Now", "IMDSv1 refused")
# The room the wide layout needs besides its key columns; below it, the compact one.
DETAIL_MIN_WIDTH = 60


class _Rows:
    """The changes, laid out for the width rich gives them (as the scan's table is:
    report/table.py): every column on a wide terminal; on a narrow one what identifies a
    change on its row and the rest, dimmed, on the next."""

    def __init__(self, title: str, rows: list[ChangeStatus]) -> None:
        self.title = title
        self.rows = rows

    def _keys(self, row: ChangeStatus) -> tuple[Text, str, str, Text]:
        c = row.applied.change
        status = Text(row.status, style=STATUS_STYLE[row.status])
        # Never folded: the Resource column is the one rich may narrow (compact layout).
        return status, c.scope.account_id, c.scope.region, Text(c.resource_id, no_wrap=True)

    def _details(self, row: ChangeStatus) -> tuple[str, Text, str, Text]:
        refused = Text(_refused(row.rejections), style="bold red" if row.refused else "")
        changed = Text(_when(row.applied.since), no_wrap=True)
        return row.applied.change.kind, changed, row.now, refused

    def _wide_width(self) -> int:
        keys = [[k.plain if isinstance(k, Text) else k for k in self._keys(r)] for r in self.rows]
        widths = [max([len(n), *(len(k[i]) for k in keys)]) for i, n in enumerate(KEYS)]
        return sum(widths) + len(KEYS) + len(DETAILS) + DETAIL_MIN_WIDTH

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self._wide_width() <= options.max_width:
            table = new_table(self.title, (*KEYS, *DETAILS))
            for row in self.rows:
                table.add_row(*self._keys(row), *self._details(row))
        else:
            table = new_table(self.title, KEYS[:3])
            table.add_column("Resource", overflow="fold")
            for row in self.rows:
                table.add_row(*self._keys(row))
                kind, changed, now, refused = self._details(row)
                words = [f"{kind} changed {changed.plain}", now, refused.plain]
                text = Text(" · ".join(w for w in words if w), style="dim", overflow="fold")
                table.add_row("", "", "", text)
        yield table


def status_renderable(result: StatusResult) -> RenderableType:
    title = "Changes applied by " + ", ".join(str(j) for j in result.journals)
    summary = Text(result.summary(), style=VERDICT_STYLE[result.verdict()])
    return Group(_Rows(title, sorted(result.rows, key=_order)), summary)


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
