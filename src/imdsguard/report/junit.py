"""JUnit XML (Jenkins junit-10.xsd): a testsuite per account and Region, a testcase per resource."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict

from imdsguard.model.scan import Finding, ScanResult, ScopeOutcome
from imdsguard.report import describe
from imdsguard.rules import compliance

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _testcase(finding: Finding, framework: str | None) -> ET.Element:
    name = finding.resource_id + (f" ({finding.name})" if finding.name else "")
    case = ET.Element("testcase", name=name, classname=f"imdsguard.{finding.resource_type}")
    detail = describe.short_detail(finding)
    if finding.status == "FAIL":
        controls = compliance.controls_in(finding.resource_type, framework)
        requirements = ", ".join(c.requirement for c in controls)
        failure = ET.SubElement(case, "failure", type=finding.reason, message=finding.reason)
        severity = compliance.severity(finding.resource_type)
        lines = (detail, f"severity: {severity}", f"controls: {requirements}")
        failure.text = "\n".join(line for line in lines if line)
    elif finding.status == "INFO":
        # Evaluated but neither pass nor fail: CI shows it passed, with the note attached.
        ET.SubElement(case, "system-out").text = f"INFO {finding.reason} {detail}".strip()
    return case


def _suite(outcome: ScopeOutcome, findings: list[Finding], result: ScanResult) -> ET.Element:
    failures = sum(f.status == "FAIL" for f in findings)
    errors = int(outcome.error is not None)
    suite = ET.Element(
        "testsuite",
        name=f"{outcome.account_id}/{outcome.region}",
        tests=str(len(findings) + errors),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        timestamp=result.generated_at.isoformat(),
    )
    suite.extend(_testcase(f, result.framework) for f in findings)
    if outcome.error is not None:
        # A scope error is an error, never a silent pass: CI marks the run broken.
        case = ET.SubElement(suite, "testcase", name="read scope", classname="imdsguard.Scope")
        ET.SubElement(case, "error", type="ScopeError", message=outcome.error).text = outcome.error
    return suite


def format(result: ScanResult) -> str:
    by_scope: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_scope[(f.scope.account_id, f.scope.region)].append(f)
    outcomes = list(result.scopes)
    listed = {(s.account_id, s.region) for s in outcomes}
    outcomes += [ScopeOutcome(a, r) for a, r in by_scope if (a, r) not in listed]
    suites = [_suite(s, by_scope[(s.account_id, s.region)], result) for s in outcomes]
    summary = result.summary
    root = ET.Element(
        "testsuites",
        name=compliance.title(result),
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(summary.failed),
        errors=str(summary.scope_errors),
    )
    root.extend(suites)
    ET.indent(root)
    body = ET.tostring(root, "unicode")
    # A Name tag may hold control characters XML 1.0 forbids (ElementTree writes them
    # as is); one would make the whole report unreadable to CI, so they become U+FFFD.
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _NOT_XML.sub("\ufffd", body) + "\n"
