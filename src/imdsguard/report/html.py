"""One self-contained HTML page: summary, charts, scope errors, and a findings table that
pages, sorts, filters and expands thousands of rows from one embedded JSON array."""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import TextIO

import jinja2
from markupsafe import Markup

from imdsguard.model.findings import Findings
from imdsguard.model.kinds import BY_NAME, BY_TYPE, RESOURCE_NAMES
from imdsguard.model.scan import ALL_REGIONS, Finding, JSONValue, ScanResult, Scope, ScopeOutcome
from imdsguard.report import describe, fixes
from imdsguard.report.html_charts import Chart, Tally, chart
from imdsguard.report.stream import text_of
from imdsguard.rules import compliance

SEVERITY_RANK = {"Critical": 5, "High": 4, "Medium": 3, "Low": 2, "Informational": 1}
STATUS_RANK = {"FAIL": 3, "INFO": 2, "PASS": 1}
# The collapsed controls cell: one headline control per family, then "+N" for the rest.
HEADLINE_FRAMEWORKS = ("cis-5.0", "fsbp")
HEADLINES = 2
# The findings a page embeds: the size tests/test_report_html.py shows opening and
# filtering fast in Chromium. A larger fleet's page says how many it holds and points to
# the complete formats (docs/reports.md#large-fleets).
MAX_ROWS = 5000
_SHORT = {"fsbp": "FSBP", "nist-800-53": "NIST", "pci-4.0.1": "PCI DSS"}
# A scope's error is "kind[,kind]: message; kind: message" (scan.scan_scope); an account
# or Region that could not be entered has no kind at all.
_KIND = "|".join(map(re.escape, RESOURCE_NAMES))
_ERROR_PART = re.compile(rf"(?:^|; )((?:{_KIND})(?:,(?:{_KIND}))*): ")


@dataclass(frozen=True, slots=True)
class Failure:
    account: str
    region: str
    kinds: str  # the kinds that failed, in words
    why: str
    known: str  # what the report does know about this scope


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("imdsguard.report", "templates"),
        autoescape=True,  # names and tags are user data: never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def human_time(at: datetime) -> str:
    """'2 January 2026, 03:04 UTC': a reader's date, with the zone it is in."""
    zone = at.tzname() if at.tzinfo else "(zone not recorded)"
    return f"{at.day} {at:%B %Y, %H:%M} {zone}"


def script_json(value: JSONValue) -> Markup:
    """JSON that cannot end its <script> element or open a comment: '<', '>' and '&' are
    \\u escapes, which JSON.parse reads back as the same characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char in "<>&":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return Markup(text)


def _short(control: compliance.Control) -> str:
    fid = control.framework.id
    family = "CIS" if fid.startswith("cis-") else _SHORT.get(fid, fid)
    return f"{family} {control.control}"


def _controls(resource_type: str, framework: str | None) -> dict[str, JSONValue]:
    found = compliance.controls_in(resource_type, framework)
    headline = [c for f in HEADLINE_FRAMEWORKS for c in found if c.framework.id == f][:HEADLINES]
    shown = [_short(c) for c in headline or found[:HEADLINES]]
    rest = len(found) - len(shown)
    return {
        "summary": " · ".join(shown + ([f"+{rest}"] if rest > 0 else [])),
        "all": [[c.requirement, c.framework.standard] for c in found],
    }


def _kind_label(resource_type: str) -> str:
    kind = BY_TYPE.get(resource_type)
    return kind.label if kind else describe.short_type(resource_type)


def _types(findings: Sequence[Finding], framework: str | None) -> dict[str, JSONValue]:
    types: dict[str, JSONValue] = {}
    for rtype in dict.fromkeys(f.resource_type for f in findings):
        text = describe.kind(rtype)
        types[_kind_label(rtype)] = {
            "title": text.title,
            "remediation": text.remediation,
            "guide": text.url,
            "controls": _controls(rtype, framework),
        }
    return types


def _severity(f: Finding) -> str:
    """Passing findings are Informational, as in ocsf and asff (docs/reports.md)."""
    return "Informational" if f.status == "PASS" else compliance.severity(f.resource_type)


def _row(f: Finding, partition: str) -> dict[str, JSONValue]:
    return {
        "status": f.status,
        "severity": _severity(f),
        "reason": f.reason,
        "account": f.scope.account_id,
        "region": f.scope.region,
        "type": _kind_label(f.resource_type),
        "resource": f.resource_id,
        "name": f.name or "",
        "detail": describe.short_detail(f),
        "arn": describe.resource_arn(f, partition),
        "evidence": f.resource.evidence(),
        "fixes": [[c.label, c.text] for c in fixes.commands(f)],
    }


def _severities(findings: Findings) -> list[tuple[str, int, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    for (_, _, rtype, status), n in findings.tally.items():
        severity = "Informational" if status == "PASS" else compliance.severity(rtype)
        counts[severity, status] += n
    return [
        (s, counts[s, "FAIL"], counts[s, "INFO"])
        for s in SEVERITY_RANK
        if counts[s, "FAIL"] or counts[s, "INFO"]
    ]


def _kind_words(label: str) -> str:
    return ", ".join(fixes.plural(BY_NAME[k]) for k in label.split(","))


def failures(outcome: ScopeOutcome, findings: Findings) -> list[Failure]:
    """Which kinds failed in one scope, and why, and what is still known there."""
    error, account = outcome.error or "", outcome.account_id
    if outcome.region == ALL_REGIONS:
        known = "nothing: the account could not be entered, so no Region was read"
        return [Failure(account, "all Regions", "every kind", error, known)]
    read = len(findings.only(scope=Scope(account, outcome.region)))
    known = f"{read} finding(s) of the other kinds are shown" if read else "nothing was read here"
    parts = list(_ERROR_PART.finditer(error))
    if not parts or parts[0].start() != 0:
        return [Failure(account, outcome.region, "every kind", error, known)]
    ends = [p.start() for p in parts[1:]] + [len(error)]
    return [
        Failure(account, outcome.region, _kind_words(p.group(1)), error[p.end() : end], known)
        for p, end in zip(parts, ends, strict=True)
    ]


def _charts(result: ScanResult, findings: Findings) -> list[Chart]:
    errors = result.scope_errors
    by_account: dict[str, Counter[str]] = {s.account_id: Counter() for s in result.scopes}
    by_region: dict[str, Counter[str]] = {
        s.region: Counter() for s in result.scopes if s.region != ALL_REGIONS
    }
    kinds = [BY_NAME[k].resource_type for k in result.kinds or () if k in BY_NAME]
    by_kind: dict[str, Counter[str]] = {_kind_label(t): Counter() for t in kinds}
    for (account, region, rtype, status), n in findings.tally.items():
        by_account.setdefault(account, Counter())[status] += n
        by_region.setdefault(region, Counter())[status] += n
        by_kind.setdefault(_kind_label(rtype), Counter())[status] += n
    bad_accounts = {s.account_id for s in errors}
    bad_regions = {s.region for s in errors}
    return [
        chart("per account", (Tally(a, c, a in bad_accounts) for a, c in by_account.items())),
        chart("per Region", (Tally(r, c, r in bad_regions) for r, c in by_region.items())),
        chart("per kind", (Tally(k, c) for k, c in by_kind.items())),
    ]


def _scanned(result: ScanResult) -> dict[str, str]:
    accounts = sorted({s.account_id for s in result.scopes})
    regions = sorted({s.region for s in result.scopes if s.region != ALL_REGIONS})
    evaluation = result.evaluation
    return {
        f"{len(accounts)} account(s)": ", ".join(accounts) or "none",
        f"{len(regions)} Region(s)": ", ".join(regions) or "none",
        "kinds": ", ".join(result.kinds) if result.kinds is not None else "not recorded",
        "evaluation": ", ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in evaluation.items()
        )
        if evaluation is not None
        else "not recorded",
    }


def _rank(f: Finding) -> tuple[int, int, Scope, str]:
    return (-STATUS_RANK[f.status], -SEVERITY_RANK[_severity(f)], f.scope, f.resource_id)


def write(result: ScanResult, out: TextIO) -> None:
    # The rows embedded: at most MAX_ROWS, most important first (stable, as sorted() is),
    # so a huge fleet's page stays a page (docs/reports.md#large-fleets).
    rows = heapq.nsmallest(MAX_ROWS, result.findings, key=_rank)
    data: dict[str, JSONValue] = {
        "types": _types(rows, result.framework),
        "findings": [_row(f, result.partition) for f in rows],
    }
    total = len(result.findings)
    stream = _template().generate(
        title=compliance.title(result),
        result=result,
        generated=human_time(result.generated_at),
        summary=result.summary,
        severities=_severities(result.findings),
        scanned=_scanned(result),
        charts=_charts(result, result.findings),
        failures=[x for s in result.scope_errors for x in failures(s, result.findings)],
        data=script_json(data),
        types=sorted({_kind_label(t) for t in result.findings.resource_types()}),
        omitted=f"{len(rows):,} of {total:,}" if total > len(rows) else "",
    )
    out.writelines(stream)


def format(result: ScanResult) -> str:
    return text_of(write, result)
