"""The plan file: versioned JSON for a Plan, and the Change records journals reuse."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast, get_args

from imdsguard import __version__
from imdsguard.errors import UsageError
from imdsguard.model.kinds import ACCOUNT_DEFAULTS, CHANGE_KINDS
from imdsguard.model.remediation import (
    INSTANCE_FACTS,
    Change,
    Hold,
    HoldReason,
    Plan,
    settings_from_json,
    settings_json,
)
from imdsguard.model.scan import JSONValue, Scope

# 1.1 added ``state`` on changes and the ``migrations`` list; 1.0 files still load. The
# instance changes' optional ``facts`` (docs/rollout.md) came without a new version: every
# reader of 1.1 ignores keys it does not know, and a plan without them still loads.
SCHEMA_VERSION = "1.1"
KIND = "imdsguard-plan"
T = TypeVar("T")
HOLD_REASONS = frozenset(get_args(HoldReason))


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
    if change.facts:
        doc["facts"] = dict(change.facts)
    return doc


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _text(doc: Mapping[str, Any], key: str, optional: bool = False) -> str | None:
    value = doc.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string, got {value!r}")
    return value


def _scope(doc: Mapping[str, Any]) -> Scope:
    return Scope(str(_text(doc, "account_id")), str(_text(doc, "region")))


def change_from_json(doc: Mapping[str, Any]) -> Change:
    """One change of a plan or journal; ValueError/KeyError/TypeError for anything off."""
    doc = _object(doc, "a change")
    kind = str(_text(doc, "kind"))
    if kind not in CHANGE_KINDS:
        raise ValueError(f"unknown change kind {kind!r}")
    return Change(
        kind=kind,
        scope=_scope(doc),
        resource_id=str(_text(doc, "resource_id")),
        before=settings_from_json(doc["before"], unset=kind == ACCOUNT_DEFAULTS.plan_kind),
        after=settings_from_json(doc["after"], unset=kind == ACCOUNT_DEFAULTS.plan_kind),
        name=_text(doc, "name", optional=True),
        evidence=dict(_object(doc.get("evidence") or {}, "evidence")),
        state=dict(_object(doc.get("state") or {}, "state")),
        facts=_facts(doc.get("facts") or {}),
    )


def _facts(raw: Any) -> dict[str, JSONValue]:
    """An instance change's rollout facts; each one optional, each checked for its type,
    since the rollout's order and --wave-by rest on them."""
    facts = dict(_object(raw, "facts"))
    unknown = sorted(set(facts) - set(INSTANCE_FACTS))
    if unknown:
        raise ValueError(f"facts: unknown field(s) {', '.join(unknown)}")
    for name in ("instance_state", "auto_scaling_group"):
        if facts.get(name) is not None and not isinstance(facts[name], str):
            raise ValueError(f"facts.{name} must be a string, got {facts[name]!r}")
    if not isinstance(facts.get("instance_profile", False), bool):
        raise ValueError(
            f"facts.instance_profile must be true or false, got {facts['instance_profile']!r}"
        )
    tags = _object(facts.get("tags", {}), "facts.tags")
    if not all(isinstance(v, str) for v in tags.values()):
        raise ValueError("facts.tags must map tag keys to strings")
    return facts


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
    doc = _object(doc, "a held resource")
    reason = doc.get("reason")
    if reason not in HOLD_REASONS:
        raise ValueError(f"unknown hold reason {reason!r}")
    return Hold(
        kind=str(_text(doc, "kind")),
        scope=_scope(doc),
        resource_id=str(_text(doc, "resource_id")),
        reason=cast(HoldReason, reason),
        name=_text(doc, "name", optional=True),
        detail=dict(_object(doc.get("detail") or {}, "detail")),
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


def _items(doc: Mapping[str, Any], key: str, required: bool = False) -> list[Any]:
    if key not in doc and not required:
        return []
    value = doc[key]
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list, got {type(value).__name__}")
    return value


def _read(what: str, items: list[Any], parse: Callable[[Any], T]) -> tuple[T, ...]:
    out = []
    for index, item in enumerate(items):
        try:
            out.append(parse(item))
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{what}[{index}]: {detail}") from exc
    return tuple(out)


def _scope_error(doc: Any) -> tuple[Scope, str]:
    doc = _object(doc, "a scope error")
    return _scope(doc), str(_text(doc, "error"))


def plan_from_json(doc: Mapping[str, Any]) -> Plan:
    """Rebuild a Plan; raises UsageError for anything that is not a plan we can read."""
    if doc.get("kind") != KIND:
        raise UsageError("not an imdsguard plan file (missing kind=imdsguard-plan)")
    major = str(doc.get("schema_version", "")).split(".")[0]
    if major != SCHEMA_VERSION.split(".", maxsplit=1)[0]:
        raise UsageError(f"unsupported plan schema_version {doc.get('schema_version')!r}")
    try:
        lookback = doc["lookback_days"]
        if isinstance(lookback, bool) or not isinstance(lookback, int) or lookback < 1:
            raise ValueError(f"lookback_days must be a positive integer, got {lookback!r}")
        plan = Plan(
            created_at=datetime.fromisoformat(str(_text(doc, "created_at"))),
            lookback_days=lookback,
            changes=_read("changes", _items(doc, "changes", required=True), change_from_json),
            held=_read("held", _items(doc, "held"), hold_from_json),
            exempt=_read("exempt", _items(doc, "exempt"), hold_from_json),
            scope_errors=_read("scope_errors", _items(doc, "scope_errors"), _scope_error),
            role_name=_text(doc, "role_name", optional=True),
            migrations=_read("migrations", _items(doc, "migrations"), hold_from_json),
        )
    except KeyError as exc:
        raise UsageError(f"malformed plan file: missing {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise UsageError(f"malformed plan file: {exc}") from exc
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
    except UnicodeDecodeError as exc:
        raise UsageError(f"plan {path} is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"plan {path} is not valid JSON: {exc}") from exc
    except RecursionError:
        raise UsageError(f"plan {path} is nested too deeply to be a plan") from None
    if not isinstance(doc, dict):
        raise UsageError(f"plan {path} is not a JSON object")
    return plan_from_json(doc)
