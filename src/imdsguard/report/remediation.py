"""Readable summaries of a Plan and of an apply/rollback run (rich renderables, pure)."""

from __future__ import annotations

from collections import Counter

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from imdsguard.model.kinds import ACCOUNT_DEFAULTS, AMIS, LAUNCH_TEMPLATES
from imdsguard.model.remediation import Change, Hold, Plan, RunResult
from imdsguard.model.scan import JSONValue, Scope
from imdsguard.plan.waves import order_labels, ordered
from imdsguard.report.style import new_table


def _detail(detail: dict[str, JSONValue]) -> str:
    if detail.get("usage") == "in-use":
        return f"{detail['imdsv1_calls']:g} IMDSv1 calls, last seen {detail['last_seen']}"
    if detail.get("usage") == "unknown":
        return str(detail.get("error") or "no data")
    return "; ".join(str(detail[k]) for k in ("why", "action", "rule") if detail.get(k))


def _what(c: Change) -> str:
    """The change in the words of its kind's API."""
    if c.kind == AMIS.plan_kind:
        return "ImdsSupport unset -> v2.0 (IRREVERSIBLE)"
    if c.kind == ACCOUNT_DEFAULTS.plan_kind:
        before, after = c.state.get("before"), c.state.get("after")
        if isinstance(before, dict) and isinstance(after, dict):
            names = {"HttpTokens": "tokens", "HttpTokensEnforced": "enforced"}
            return ", ".join(
                f"{names[k]} {before.get(k)} -> {v}" for k, v in after.items() if k in names
            )
    return f"{c.before.http_tokens} -> required"


def _hops(c: Change) -> str:
    if c.kind == AMIS.plan_kind:
        return ""
    before = "unset" if c.before.hop_limit == -1 else str(c.before.hop_limit)
    after = "unset" if c.after.hop_limit == -1 else str(c.after.hop_limit)
    return f"{before} -> {after}"


def _why(c: Change) -> str:
    why = str(c.evidence.get("hop_limit_reason", ""))
    if c.kind == LAUNCH_TEMPLATES.plan_kind:
        why = f"new version from v{c.state.get('default_version')}, made default; hops {why}"
    if "override" in c.evidence:
        why += f"; {c.evidence['override']}"
    return why


def _per_scope(plan: Plan) -> Table:
    table = new_table(
        "Per account and Region",
        ("Account", "Region", "To change", "Held", "Exempt", "Migrate", "Error"),
    )
    counts: dict[Scope, Counter[str]] = {}
    for change in plan.changes:
        counts.setdefault(change.scope, Counter())["change"] += 1
    for hold in plan.held + plan.exempt + plan.migrations:
        column = hold.reason if hold.reason in ("exempt", "migration") else "held"
        counts.setdefault(hold.scope, Counter())[column] += 1
    errors = dict(plan.scope_errors)
    for scope in sorted(set(counts) | set(errors)):
        c = counts.get(scope, Counter())
        numbers = (str(c[k]) for k in ("change", "held", "exempt", "migration"))
        row = (*numbers, errors.get(scope, ""))
        table.add_row(scope.account_id, scope.region, *row)
    return table


def _changes(plan: Plan) -> Table:
    """In rollout order (docs/rollout.md#the-default-order): ``apply`` without waves makes
    them all at once, a staged rollout cuts its waves from this order."""
    table = new_table(
        "To change",
        ("Order", "Account", "Region", "Kind", "Resource", "Name", "Change", "Hop limit", "Why"),
    )
    labels = order_labels(plan.changes)
    for c in ordered(plan.changes):
        table.add_row(
            labels.get(c.key, ""),
            c.scope.account_id,
            c.scope.region,
            c.kind,
            c.resource_id,
            c.name or "",
            _what(c),
            _hops(c),
            _why(c),
        )
    return table


def _holds(title: str, holds: tuple[Hold, ...]) -> Table:
    table = new_table(title, ("Account", "Region", "Kind", "Resource", "Name", "Reason", "Detail"))
    for h in holds:
        table.add_row(
            h.scope.account_id,
            h.scope.region,
            h.kind,
            h.resource_id,
            h.name or "",
            h.reason,
            _detail(dict(h.detail)),
        )
    return table


def _migrations(holds: tuple[Hold, ...]) -> Table:
    table = new_table(
        "Migrations needed (imdsguard changes nothing here)",
        ("Account", "Region", "Kind", "Resource", "Migration"),
    )
    for h in holds:
        row = (h.kind, h.resource_id, _detail(dict(h.detail)))
        table.add_row(h.scope.account_id, h.scope.region, *row)
    return table


def plan_renderable(plan: Plan) -> RenderableType:
    parts: list[RenderableType] = [_per_scope(plan)]
    if plan.changes:
        parts.append(_changes(plan))
    if plan.held:
        parts.append(_holds("Held", plan.held))
    if plan.exempt:
        parts.append(_holds("Exempt", plan.exempt))
    if plan.migrations:
        parts.append(_migrations(plan.migrations))
    line = (
        f"Plan: {len(plan.changes)} to change, {len(plan.held)} held, "
        f"{len(plan.exempt)} exempt, {len(plan.migrations)} migrations, "
        f"{len(plan.scope_errors)} scope errors"
    )
    parts.append(Text(line, style="bold"))
    return Group(*parts)


def run_renderable(result: RunResult, verb: str) -> RenderableType:
    """Every result that is not a success is listed, with the scope errors."""
    parts: list[RenderableType] = []
    done = [r for r in result.results if r.outcome in result.success]
    if done:
        table = new_table(verb.capitalize(), ("Outcome", "Account", "Region", "Kind", "Resource"))
        for r in done:
            c = r.change
            table.add_row(r.outcome, c.scope.account_id, c.scope.region, c.kind, c.resource_id)
        parts.append(table)
    if result.problems:
        table = new_table("Not " + verb, ("Outcome", "Account", "Region", "Resource", "Reason"))
        for r in result.problems:
            c = r.change
            table.add_row(r.outcome, c.scope.account_id, c.scope.region, c.resource_id, r.reason)
        parts.append(table)
    if result.held:
        parts.append(_holds("Held (not part of this run)", result.held))
    for scope, error in result.scope_errors:
        parts.append(Text(f"scope {scope.account_id}/{scope.region}: {error}", style="magenta"))
    parts.extend(Text(note, style="bold yellow") for note in result.notes)
    counts = Counter(r.outcome for r in result.results)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "nothing"
    parts.append(Text(f"{verb.capitalize()}: {summary}; {len(result.held)} held", style="bold"))
    return Group(*parts)
