"""JUnit XML (Jenkins junit-10.xsd): a testsuite per account and Region, a testcase per resource."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from typing import TextIO

from imdsguard.model.findings import Findings
from imdsguard.model.scan import Finding, ScanResult, Scope, ScopeOutcome
from imdsguard.report import describe
from imdsguard.report.stream import text_of
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


def _open_tag(element: ET.Element) -> str:
    """The start tag as ElementTree writes it (attribute values escape '>', so the first
    '>' ends it)."""
    shell = ET.Element(element.tag, element.attrib)
    shell.text = "-"
    text = ET.tostring(shell, "unicode")
    return text[: text.index(">") + 1]


def _children(element: ET.Element, children: Iterable[ET.Element], level: int) -> Iterator[str]:
    """``element`` with ``children`` as ET.indent lays them out at ``level``, one child at
    a time: the element is never built whole."""
    inner, outer = "\n" + "  " * (level + 1), "\n" + "  " * level
    empty = True
    for child in children:
        if empty:
            yield _open_tag(element)
            empty = False
        ET.indent(child, space="  ", level=level + 1)
        yield inner + ET.tostring(child, "unicode")
    if empty:
        yield ET.tostring(element, "unicode")
    else:
        yield f"{outer}</{element.tag}>"


def _suite(
    outcome: ScopeOutcome, findings: Findings, result: ScanResult, level: int
) -> Iterator[str]:
    failures = findings.statuses()["FAIL"]
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
    cases: Iterable[ET.Element] = (_testcase(f, result.framework) for f in findings)
    if outcome.error is not None:
        # A scope error is an error, never a silent pass: CI marks the run broken.
        case = ET.Element("testcase", name="read scope", classname="imdsguard.Scope")
        ET.SubElement(case, "error", type="ScopeError", message=outcome.error).text = outcome.error
        cases = itertools.chain(cases, [case])
    return _children(suite, cases, level)


def write(result: ScanResult, out: TextIO) -> None:
    outcomes = list(result.scopes)
    listed = {(s.account_id, s.region) for s in outcomes}
    outcomes += [ScopeOutcome(a, r) for a, r in result.findings.per_scope() if (a, r) not in listed]
    suites = [(s, result.findings.only(scope=Scope(s.account_id, s.region))) for s in outcomes]
    summary = result.summary
    root = ET.Element(
        "testsuites",
        name=compliance.title(result),
        tests=str(sum(len(found) + (s.error is not None) for s, found in suites)),
        failures=str(summary.failed),
        errors=str(summary.scope_errors),
    )
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    for piece in _elements(root, suites, result):
        # A Name tag may hold control characters XML 1.0 forbids (ElementTree writes them
        # as is); one would make the whole report unreadable to CI, so they become U+FFFD.
        out.write(_NOT_XML.sub("\ufffd", piece))
    out.write("\n")


def _elements(
    root: ET.Element, suites: list[tuple[ScopeOutcome, Findings]], result: ScanResult
) -> Iterator[str]:
    if not suites:
        yield ET.tostring(root, "unicode")
        return
    yield _open_tag(root)
    for outcome, findings in suites:
        yield "\n  "
        yield from _suite(outcome, findings, result, level=1)
    yield "\n</testsuites>"


def format(result: ScanResult) -> str:
    return text_of(write, result)
