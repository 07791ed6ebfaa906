"""OCSF 1.3 Compliance Finding (class_uid 2003) events, one JSON object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from imdsguard.model.kinds import Severity
from imdsguard.model.scan import Finding, JSONValue, ScanResult, ScopeOutcome
from imdsguard.report import describe
from imdsguard.report.stream import text_of
from imdsguard.rules import compliance

OCSF_VERSION = "1.3.0"
CLASS_UID = 2003
CATEGORY_UID = 2  # Findings
ACTIVITY_CREATE = 1
FINDING_STATUS_NEW = 1

SEVERITY_ID = {"Informational": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}
# compliance.status_id: 1 Pass, 2 Warning ("no result due to missing information"), 3 Fail.
COMPLIANCE_STATUS = {"PASS": (1, "Pass"), "FAIL": (3, "Fail"), "INFO": (99, "Info")}
SCOPE_ERROR_STATUS = (2, "Warning")


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _envelope(
    result: ScanResult, uid: str, severity: Severity, account: str, region: str
) -> dict[str, JSONValue]:
    """The base-event, finding and cloud-profile attributes every event carries."""
    return {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": SEVERITY_ID[severity],
        "severity": severity,
        "status_id": FINDING_STATUS_NEW,
        "status": "New",
        "time": _ms(result.generated_at),
        "metadata": {
            "version": OCSF_VERSION,
            "uid": uid,
            "profiles": ["cloud"],
            "product": {
                "name": "imdsguard",
                "vendor_name": "imdsguard",
                "version": result.tool_version,
            },
        },
        "cloud": {
            "provider": "AWS",
            "region": region,
            "account": {"uid": account, "type": "AWS Account", "type_id": 10},
        },
    }


def finding_event(result: ScanResult, f: Finding) -> dict[str, JSONValue]:
    uid = describe.finding_uid(f)
    text = describe.kind(f.resource_type)
    # A passing or informational check is not a risk; its control severity stays in JSON.
    severity = compliance.severity(f.resource_type) if f.status == "FAIL" else "Informational"
    controls = compliance.controls_in(f.resource_type, result.framework)
    status_id, status = COMPLIANCE_STATUS[f.status]
    standards: list[JSONValue] = list(compliance.standards(controls))
    event = _envelope(result, uid, severity, f.scope.account_id, f.scope.region)
    event |= {
        "message": f"{text.noun} {f.resource_id}: {f.status} {f.reason}",
        "status_code": f.status,
        "status_detail": f.reason,
        "finding_info": {
            "uid": uid,
            "title": text.title,
            "desc": f"{text.title}. {describe.short_detail(f)}",
            "created_time": _ms(result.generated_at),
            "types": ["Software and Configuration Checks"],
        },
        "compliance": {
            "control": controls[0].requirement if controls else text.title,
            "standards": standards,
            "requirements": [c.requirement for c in controls],
            "status_id": status_id,
            "status": status,
            "status_detail": f.reason,
        },
        "remediation": {"desc": text.remediation, "references": [text.url]},
        "resources": [
            {
                "uid": describe.resource_arn(f, result.partition),
                "name": f.name or f.resource_id,
                "type": f.resource_type,
                "region": f.scope.region,
                "cloud_partition": result.partition,
                "owner": {"account": {"uid": f.scope.account_id, "type_id": 10}},
                "data": f.resource.evidence(),
            }
        ],
    }
    return event


def scope_error_event(result: ScanResult, s: ScopeOutcome) -> dict[str, JSONValue]:
    """An unreadable scope is a finding too: the check could not yield a result there."""
    uid = describe.scope_uid(s)
    event = _envelope(result, uid, "Medium", s.account_id, s.region)
    status_id, status = SCOPE_ERROR_STATUS
    event |= {
        "message": f"{describe.scope_label(s)}: {s.error}",
        "status_code": "ERROR",
        "status_detail": s.error,
        "finding_info": {
            "uid": uid,
            "title": describe.SCOPE_ERROR_TITLE,
            "desc": s.error,
            "created_time": _ms(result.generated_at),
            "types": ["Software and Configuration Checks"],
        },
        "compliance": {
            "control": describe.SCOPE_ERROR_TITLE,
            "standards": [fw.standard for fw in _standards_in_view(result)],
            "status_id": status_id,
            "status": status,
            "status_detail": s.error,
        },
        "remediation": {"desc": describe.SCOPE_ERROR_REMEDIATION},
    }
    return event


def _standards_in_view(result: ScanResult) -> list[compliance.Framework]:
    if result.framework is not None:
        return [compliance.FRAMEWORKS[result.framework]]
    return list(compliance.FRAMEWORKS.values())


def events(result: ScanResult) -> Iterator[dict[str, JSONValue]]:
    for f in result.findings:
        yield finding_event(result, f)
    for s in result.scope_errors:
        yield scope_error_event(result, s)


def write(result: ScanResult, out: TextIO) -> None:
    for event in events(result):
        out.write(json.dumps(event, sort_keys=True) + "\n")


def format(result: ScanResult) -> str:
    return text_of(write, result)
