"""The JSON document: the stable, versioned form of a scan result (schema in README)."""

from __future__ import annotations

import json
from typing import TextIO

from imdsguard.model.scan import Finding, JSONValue, ScanResult, ScopeOutcome
from imdsguard.report.stream import text_of
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


def head(result: ScanResult) -> dict[str, JSONValue]:
    """The members before ``findings``, in document order."""
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
    }


def summary_json(result: ScanResult) -> dict[str, JSONValue]:
    summary = result.summary
    return {
        "pass": summary.passed,
        "fail": summary.failed,
        "info": summary.info,
        "scope_errors": summary.scope_errors,
    }


def _nested(value: JSONValue, level: int) -> str:
    """``value`` as json.dumps(indent=2) writes it ``level`` levels deep: its own lines
    shifted right (a JSON string never holds a raw newline, so every newline is layout)."""
    return json.dumps(value, indent=2).replace("\n", "\n" + "  " * level)


def write(result: ScanResult, out: TextIO) -> None:
    """The document, one finding at a time: byte for byte what json.dumps(indent=2) gives
    for the whole document held in memory."""
    out.write("{")
    for key, value in head(result).items():
        out.write(f"\n  {json.dumps(key)}: {_nested(value, 1)},")
    out.write('\n  "findings": [')
    separator = "\n    "
    for f in result.findings:
        out.write(separator + _nested(finding_json(f, result.framework), 2))
        separator = ",\n    "
    out.write("]" if separator == "\n    " else "\n  ]")
    out.write(f',\n  "summary": {_nested(summary_json(result), 1)}\n}}\n')


def format(result: ScanResult) -> str:
    return text_of(write, result)
