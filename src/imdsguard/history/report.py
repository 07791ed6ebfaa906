"""PURE renderings of the history list and of a drift: rich tables and JSON documents."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from imdsguard.history.diff import ChangeKind, Drift, ResourceChange
from imdsguard.history.rows import FindingRow, ScanRow
from imdsguard.model.scan import JSONValue
from imdsguard.report.style import new_table

Entry = tuple[int, ScanRow]

# Regressions first, then what B could not vouch for, then the good and neutral news.
SECTIONS: tuple[tuple[ChangeKind, str, str], ...] = (
    ("new-failure", "REGRESSIONS: new failures", "bold red"),
    ("unknown", "Unknown: missing from B, whose scope or kind B did not read", "bold magenta"),
    (
        "re-judged",
        "Re-judged under different evaluation options (not fixed, not new)",
        "bold yellow",
    ),
    ("fixed", "Fixed", "green"),
    ("new", "New resources", ""),
    ("vanished", "Vanished resources", ""),
)


def _summary_json(scan: ScanRow) -> dict[str, JSONValue]:
    return {
        "pass": scan.passed,
        "fail": scan.failed,
        "info": scan.info,
        "scope_errors": scan.scope_errors,
    }


def _entry_json(entry: Entry) -> dict[str, JSONValue]:
    scan_id, scan = entry
    return {
        "id": scan_id,
        "generated_at": scan.generated_at,
        "tool_version": scan.tool_version,
        "scope": scan.scope_description,
        "summary": _summary_json(scan),
        # v3 history; null for scans stored before it (unknown, not "none").
        "resources": None if scan.kinds is None else json.loads(scan.kinds),
        "evaluation": scan.evaluation_options(),
    }


def history_json(entries: list[Entry]) -> str:
    return json.dumps({"scans": [_entry_json(e) for e in entries]}, indent=2) + "\n"


def history_table(entries: list[Entry]) -> RenderableType:
    table = new_table(
        "Scan history (newest first)",
        ("ID", "Generated (UTC)", "Version", "Scope", "Pass", "Fail", "Info", "Errors"),
    )
    for scan_id, scan in entries:
        table.add_row(
            str(scan_id),
            # Seconds are enough to tell scans apart on screen; JSON keeps the full stamp.
            scan.generated_at[:19].replace("T", " "),
            scan.tool_version,
            scan.scope_description,
            str(scan.passed),
            Text(str(scan.failed), style="bold red" if scan.failed else ""),
            str(scan.info),
            Text(str(scan.scope_errors), style="bold magenta" if scan.scope_errors else ""),
        )
    return table


def _side(row: FindingRow | None) -> JSONValue:
    if row is None:
        return None
    evidence: JSONValue = json.loads(row.evidence)
    return {"status": row.status, "reason": row.reason, "evidence": evidence}


def _change_json(change: ResourceChange) -> dict[str, JSONValue]:
    row = change.row
    return {
        "account_id": row.account_id,
        "region": row.region,
        "resource_type": row.resource_type,
        "resource_id": row.resource_id,
        "name": row.name,
        "before": _side(change.before),
        "after": _side(change.after),
        "note": change.note or None,
    }


def drift_json(drift: Drift, a: Entry, b: Entry) -> str:
    doc: dict[str, JSONValue] = {
        "regressions": len(drift.regressions),
        "incomplete": drift.incomplete,
        # Non-empty: A and B were judged under different (or unrecorded) options, and
        # verdicts those options can move are listed in re_judged, not fixed/new_failure.
        "evaluation_changed": [
            {"option": o.option, "a": o.before, "b": o.after, "note": o.describe()}
            for o in drift.options
        ],
        "a": _entry_json(a),
        "b": _entry_json(b),
    }
    for kind, _, _ in SECTIONS:
        doc[kind.replace("-", "_")] = [_change_json(c) for c in drift.of_kind(kind)]
    doc["still_failing"] = drift.still_failing
    doc["scope_errors"] = [
        {
            "change": s.kind,
            "account_id": s.account_id,
            "region": s.region,
            "error_before": s.before,
            "error_after": s.after,
        }
        for s in drift.scopes
    ]
    doc["kind_coverage"] = [{"change": k.kind, "kind": k.resource_kind} for k in drift.kinds]
    return json.dumps(doc, indent=2) + "\n"


def _verdict(row: FindingRow | None) -> str:
    return "-" if row is None else f"{row.status} {row.reason}"


def _changes_table(title: str, style: str, changes: tuple[ResourceChange, ...]) -> Table:
    table = new_table(
        Text(f"{title} ({len(changes)})", style=style),
        ("Account", "Region", "Type", "Resource", "Name", "In A", "In B", "Note"),
    )
    for change in changes:
        row = change.row
        table.add_row(
            row.account_id,
            row.region,
            row.resource_type.removeprefix("Aws"),
            row.resource_id,
            row.name or "",
            _verdict(change.before),
            _verdict(change.after),
            change.note,
        )
    return table


def _scopes_table(drift: Drift) -> Table:
    table = new_table(
        f"Scope errors and coverage ({len(drift.scopes)})",
        ("Change", "Account", "Region", "Error in A", "Error in B"),
    )
    for s in drift.scopes:
        style = "bold magenta" if s.kind != "cleared" else "green"
        table.add_row(Text(s.kind, style=style), s.account_id, s.region, s.before, s.after)
    return table


def _kinds_table(drift: Drift) -> Table:
    table = new_table(
        f"Resource kinds A read and B did not ({len(drift.kinds)})", ("Change", "Kind", "Meaning")
    )
    for k in drift.kinds:
        meaning = (
            "B did not scan this kind (--resources)"
            if k.kind == "unscanned"
            else "B records no kinds (stored before history v3) and found none of this one"
        )
        table.add_row(Text(k.kind, style="bold magenta"), k.resource_kind, meaning)
    return table


def _headline(drift: Drift, a: Entry, b: Entry) -> Text:
    text = Text(f"Scan #{a[0]} ({a[1].generated_at}) -> scan #{b[0]} ({b[1].generated_at})\n")
    count = len(drift.regressions)
    if count:
        text.append(f"REGRESSION: {count} new failure(s)", style="bold red")
    else:
        text.append("No new failures", style="green")
    if drift.rejudged_failures:
        text.append(
            f"  {len(drift.rejudged_failures)} FAIL(s) re-judged under different options",
            style="bold red",
        )
    if drift.incomplete:
        text.append(
            "  INCOMPLETE: B has scope errors or left out scopes or resource kinds A read",
            style="bold magenta",
        )
    if drift.options:
        recorded = all(o.a_recorded and o.b_recorded for o in drift.options)
        changed = "; ".join(o.describe() for o in drift.options)
        text.append(
            f"\nEVALUATION OPTIONS DIFFER{'' if recorded else ' OR WERE NOT RECORDED'} "
            f"({changed}): verdicts these options can move are listed as re-judged, "
            "not as fixed or new failures",
            style="bold yellow",
        )
    return text


def _footer(drift: Drift) -> Text:
    counts = ", ".join(f"{len(drift.of_kind(kind))} {kind}" for kind, _, _ in SECTIONS)
    return Text(f"{counts}; {drift.still_failing} still failing")


def drift_table(drift: Drift, a: Entry, b: Entry) -> RenderableType:
    parts: list[RenderableType] = [_headline(drift, a, b)]
    for kind, title, style in SECTIONS:
        changes = drift.of_kind(kind)
        if changes:
            parts.append(_changes_table(title, style, changes))
    if drift.scopes:
        parts.append(_scopes_table(drift))
    if drift.kinds:
        parts.append(_kinds_table(drift))
    parts.append(_footer(drift))
    return Group(*parts)
