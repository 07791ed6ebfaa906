"""The reports as they were rendered before they streamed: each built whole in memory from
a tuple of findings. Kept ONLY here, as the reference tests/test_findings_stream.py compares
the streaming writers with, byte for byte."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Collection

from rich.console import Console, Group, RenderableType
from rich.text import Text

from imdsguard.model.kinds import BY_NAME
from imdsguard.model.scan import ALL_REGIONS, Finding, JSONValue, ScanResult, ScopeOutcome
from imdsguard.report import asff, html, junit, ocsf, table
from imdsguard.report import json as json_report
from imdsguard.report.html_charts import Chart, Tally, chart
from imdsguard.report.style import new_table
from imdsguard.rules import compliance


def json_text(result: ScanResult) -> str:
    findings: list[JSONValue] = [
        json_report.finding_json(f, result.framework) for f in result.findings
    ]
    document = {**json_report.head(result), "findings": findings}
    document["summary"] = json_report.summary_json(result)
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def asff_text(result: ScanResult) -> str:
    return json.dumps(list(asff.findings(result)), indent=2, sort_keys=True) + "\n"


def ocsf_text(result: ScanResult) -> str:
    events = [ocsf.finding_event(result, f) for f in result.findings]
    events += [ocsf.scope_error_event(result, s) for s in result.scope_errors]
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in events)


def _junit_suite(outcome: ScopeOutcome, findings: list[Finding], result: ScanResult) -> ET.Element:
    errors = int(outcome.error is not None)
    suite = ET.Element(
        "testsuite",
        name=f"{outcome.account_id}/{outcome.region}",
        tests=str(len(findings) + errors),
        failures=str(sum(f.status == "FAIL" for f in findings)),
        errors=str(errors),
        skipped="0",
        timestamp=result.generated_at.isoformat(),
    )
    suite.extend(junit._testcase(f, result.framework) for f in findings)
    if outcome.error is not None:
        case = ET.SubElement(suite, "testcase", name="read scope", classname="imdsguard.Scope")
        ET.SubElement(case, "error", type="ScopeError", message=outcome.error).text = outcome.error
    return suite


def junit_text(result: ScanResult) -> str:
    by_scope: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in result.findings:
        by_scope[(f.scope.account_id, f.scope.region)].append(f)
    outcomes = list(result.scopes)
    listed = {(s.account_id, s.region) for s in outcomes}
    outcomes += [ScopeOutcome(a, r) for a, r in by_scope if (a, r) not in listed]
    suites = [_junit_suite(s, by_scope[(s.account_id, s.region)], result) for s in outcomes]
    root = ET.Element(
        "testsuites",
        name=compliance.title(result),
        tests=str(sum(int(s.get("tests", "0")) for s in suites)),
        failures=str(result.summary.failed),
        errors=str(result.summary.scope_errors),
    )
    root.extend(suites)
    ET.indent(root)
    body = ET.tostring(root, "unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + junit._NOT_XML.sub("\ufffd", body) + "\n"


def _html_charts(result: ScanResult, findings: list[Finding]) -> list[Chart]:
    by_account: dict[str, Counter[str]] = {s.account_id: Counter() for s in result.scopes}
    by_region: dict[str, Counter[str]] = {
        s.region: Counter() for s in result.scopes if s.region != ALL_REGIONS
    }
    kinds = [BY_NAME[k].resource_type for k in result.kinds or () if k in BY_NAME]
    by_kind: dict[str, Counter[str]] = {html._kind_label(t): Counter() for t in kinds}
    for f in findings:
        by_account.setdefault(f.scope.account_id, Counter())[f.status] += 1
        by_region.setdefault(f.scope.region, Counter())[f.status] += 1
        by_kind.setdefault(html._kind_label(f.resource_type), Counter())[f.status] += 1
    bad_accounts = {s.account_id for s in result.scope_errors}
    bad_regions = {s.region for s in result.scope_errors}
    return [
        chart("per account", (Tally(a, c, a in bad_accounts) for a, c in by_account.items())),
        chart("per Region", (Tally(r, c, r in bad_regions) for r, c in by_region.items())),
        chart("per kind", (Tally(k, c) for k, c in by_kind.items())),
    ]


def html_text(result: ScanResult) -> str:
    findings = sorted(result.findings, key=html._rank)
    counts = Counter((html._severity(f), f.status) for f in findings)
    severities = [
        (s, counts[s, "FAIL"], counts[s, "INFO"])
        for s in html.SEVERITY_RANK
        if counts[s, "FAIL"] or counts[s, "INFO"]
    ]
    data: dict[str, JSONValue] = {
        "types": html._types(findings, result.framework),
        "findings": [html._row(f, result.partition) for f in findings],
    }
    return html._template().render(
        title=compliance.title(result),
        result=result,
        generated=html.human_time(result.generated_at),
        summary=result.summary,
        severities=severities,
        scanned=html._scanned(result),
        charts=_html_charts(result, findings),
        failures=[x for s in result.scope_errors for x in html.failures(s, result.findings)],
        data=html.script_json(data),
        types=sorted({html._kind_label(f.resource_type) for f in findings}),
        omitted="",
    )


def _scope_table(result: ScanResult) -> RenderableType:
    per_scope: dict[tuple[str, str], Counter[str]] = {}
    for f in result.findings:
        per_scope.setdefault((f.scope.account_id, f.scope.region), Counter())[f.status] += 1
    columns = ("Account", "Region", "Status", "Resources", "Pass", "Fail", "Info")
    out = new_table("Scopes", columns)
    for s in result.scopes:
        c = per_scope.get((s.account_id, s.region), Counter())
        status = Text("ERROR", style="bold magenta") if s.error else Text("ok", style="green")
        out.add_row(
            s.account_id,
            "all Regions" if s.region == ALL_REGIONS else s.region,
            status,
            str(sum(s.counts.values())),
            str(c["PASS"]),
            Text(str(c["FAIL"]), style="bold red" if c["FAIL"] else ""),
            str(c["INFO"]),
        )
    return out


def table_text(result: ScanResult, statuses: Collection[str] | None = None) -> str:
    findings = sorted(result.findings, key=table._order)
    if statuses is not None:
        findings = [f for f in findings if f.status in statuses]
    parts: list[RenderableType] = [
        table._Findings(compliance.title(result), findings),
        _scope_table(result),
    ]
    if result.scope_errors:
        parts.append(table._scope_errors(result))
    summary = table.summary_text(result, None if statuses is None else len(findings))
    if statuses is not None and len(findings) < len(result.findings):
        summary.append(" (--status all shows every one)")
    parts.append(summary)
    buffer = io.StringIO()
    Console(
        markup=False, highlight=False, file=buffer, width=200, no_color=True, color_system=None
    ).print(Group(*parts))
    return buffer.getvalue()
