"""The plan file: versioned JSON for a Plan, and the Change records journals reuse."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from imdsguard import __version__
from imdsguard.errors import UsageError
from imdsguard.model.remediation import Change, Hold, Plan, settings_from_json, settings_json
from imdsguard.model.scan import JSONValue, Scope

# 1.1 added ``state`` on changes and the ``migrations`` list; 1.0 files still load.
SCHEMA_VERSION = "1.1"
KIND = "imdsguard-plan"


def change_json(change: Change) -> dict[str, JSONValue]:
    doc: dict[str, JSONValue] = {
        "key": change.key,
        "kind": change.kind,
        "account_id": change.scope.account_id,
        "region": change.scope.region,
        "resource_id": change.resource_id,
        "name": change.name,
        "before": settings_json(change.before),
        "after": settings_json(change.after),
        "evidence": dict(change.evidence),
    }
    if change.state:
        doc["state"] = dict(change.state)
    return doc


def change_from_json(doc: Mapping[str, Any]) -> Change:
    return Change(
        kind=str(doc["kind"]),
        scope=Scope(str(doc["account_id"]), str(doc["region"])),
        resource_id=str(doc["resource_id"]),
        before=settings_from_json(doc["before"]),
        after=settings_from_json(doc["after"]),
        name=doc.get("name"),
        evidence=dict(doc.get("evidence") or {}),
        state=dict(doc.get("state") or {}),
    )


def hold_json(hold: Hold) -> dict[str, JSONValue]:
    return {
        "kind": hold.kind,
        "account_id": hold.scope.account_id,
        "region": hold.scope.region,
        "resource_id": hold.resource_id,
        "name": hold.name,
        "reason": hold.reason,
        "detail": dict(hold.detail),
    }


def hold_from_json(doc: Mapping[str, Any]) -> Hold:
    return Hold(
        kind=str(doc["kind"]),
        scope=Scope(str(doc["account_id"]), str(doc["region"])),
        resource_id=str(doc["resource_id"]),
        reason=doc["reason"],
        name=doc.get("name"),
        detail=dict(doc.get("detail") or {}),
    )


def plan_json(plan: Plan) -> dict[str, JSONValue]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "tool": {"name": "imdsguard", "version": __version__},
        "created_at": plan.created_at.isoformat(),
        "lookback_days": plan.lookback_days,
        "role_name": plan.role_name,
        "changes": [change_json(c) for c in plan.changes],
        "held": [hold_json(h) for h in plan.held],
        "exempt": [hold_json(h) for h in plan.exempt],
        "migrations": [hold_json(h) for h in plan.migrations],
        "scope_errors": [
            {"account_id": s.account_id, "region": s.region, "error": e}
            for s, e in plan.scope_errors
        ],
    }


def plan_from_json(doc: Mapping[str, Any]) -> Plan:
    """Rebuild a Plan; raises UsageError for anything that is not a plan we can read."""
    if doc.get("kind") != KIND:
        raise UsageError("not an imdsguard plan file (missing kind=imdsguard-plan)")
    major = str(doc.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".", maxsplit=1)[0]:
        raise UsageError(f"unsupported plan schema_version {doc.get('schema_version')!r}")
    try:
        plan = Plan(
            created_at=datetime.fromisoformat(doc["created_at"]),
            lookback_days=int(doc["lookback_days"]),
            changes=tuple(change_from_json(c) for c in doc["changes"]),
            held=tuple(hold_from_json(h) for h in doc.get("held", [])),
            exempt=tuple(hold_from_json(h) for h in doc.get("exempt", [])),
            scope_errors=tuple(
                (Scope(e["account_id"], e["region"]), str(e["error"]))
                for e in doc.get("scope_errors", [])
            ),
            role_name=doc.get("role_name"),
            migrations=tuple(hold_from_json(h) for h in doc.get("migrations", [])),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"malformed plan file: {type(exc).__name__}: {exc}") from exc
    keys = [c.key for c in plan.changes]
    if len(keys) != len(set(keys)):
        # Two workers on one resource would write it twice and journal two intents.
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise UsageError(f"plan lists a change twice: {', '.join(twice[:3])}")
    return plan


def dumps(plan: Plan) -> str:
    return json.dumps(plan_json(plan), indent=2) + "\n"


def load(path: str) -> Plan:
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read plan {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"plan {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UsageError(f"plan {path} is not a JSON object")
    return plan_from_json(doc)
