"""The JSON document: the stable, versioned form of a scan result (schema in README)."""

from __future__ import annotations

import json

from imdsguard.model.scan import Finding, JSONValue, ScanResult, ScopeOutcome
from imdsguard.rules import compliance

# 1.1 added, without changing any 1.0 field: per finding ``severity`` and ``compliance``,
# and at the top ``title`` and ``framework`` (the --compliance filter, or null).
# 1.2 added ``scan_options``: the --resources kinds read and the evaluation options
# (each null when the result does not record it), so an absent kind never reads as clean.
# 1.3 added what the next launch gets under AWS's launch precedence: ``effective_http_tokens``,
# ``effective_source``, ``effective_reason`` and ``image_id`` on template versions, launch
# configurations and group launch sources, and ``default_effective_*`` on templates.
SCHEMA_VERSION = "1.3"


def compliance_json(finding: Finding, framework: str | None) -> list[JSONValue]:
    return [
        {"framework": c.framework.id, "standard": c.framework.standard, "control": c.control}
        for c in compliance.controls_in(finding.resource_type, framework)
    ]


def finding_json(finding: Finding, framework: str | None = None) -> dict[str, JSONValue]:
    doc: dict[str, JSONValue] = {
        "account_id": finding.scope.account_id,
        "region": finding.scope.region,
        "resource_type": finding.resource_type,
        "resource_id": finding.resource_id,
        "name": finding.name,
        "status": finding.status,
        "reason": finding.reason,
    }
    doc.update(finding.resource.evidence())
    doc["severity"] = compliance.severity(finding.resource_type)
    doc["compliance"] = compliance_json(finding, framework)
    return doc


def scope_json(outcome: ScopeOutcome) -> dict[str, JSONValue]:
    return {
        "account_id": outcome.account_id,
        "region": outcome.region,
        "status": outcome.status,
        "error": outcome.error,
        "instances": outcome.instances,
        "resources": dict(sorted(outcome.counts.items())),
        "skipped": outcome.skipped,
    }


def document(result: ScanResult) -> dict[str, JSONValue]:
    summary = result.summary
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "imdsguard", "version": result.tool_version},
        "generated_at": result.generated_at.isoformat(),
        "title": compliance.title(result),
        "framework": result.framework,
        "scan_options": {
            "resources": None if result.kinds is None else list(result.kinds),
            "evaluation": None if result.evaluation is None else dict(result.evaluation),
        },
        "scopes": [scope_json(s) for s in result.scopes],
        "findings": [finding_json(f, result.framework) for f in result.findings],
        "summary": {
            "pass": summary.passed,
            "fail": summary.failed,
            "info": summary.info,
            "scope_errors": summary.scope_errors,
        },
    }


def format(result: ScanResult) -> str:
    return json.dumps(document(result), indent=2, sort_keys=False) + "\n"
