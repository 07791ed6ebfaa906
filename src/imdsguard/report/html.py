"""One self-contained HTML page: cards, pass/fail chart, sortable findings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from imdsguard.model.scan import ALL_REGIONS, Finding, ScanResult
from imdsguard.report import describe
from imdsguard.rules import compliance

SEVERITY_RANK = {"Critical": 5, "High": 4, "Medium": 3, "Low": 2, "Informational": 1}
STATUS_RANK = {"FAIL": 3, "INFO": 2, "PASS": 1}
BAR_WIDTH = 360  # px of the longest bar in the chart


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    passed: int
    failed: int
    info: int

    def widths(self, longest: int) -> tuple[int, int, int]:
        scale = BAR_WIDTH / max(longest, 1)
        return round(self.passed * scale), round(self.failed * scale), round(self.info * scale)


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


def _bars(findings: Sequence[Finding], key: str) -> list[Bar]:
    counts: dict[str, Counter[str]] = {}
    for f in findings:
        label = f.scope.account_id if key == "account" else f.scope.region
        counts.setdefault(label, Counter())[f.status] += 1
    return [Bar(k, c["PASS"], c["FAIL"], c["INFO"]) for k, c in sorted(counts.items())]


def _row(f: Finding, framework: str | None) -> dict[str, object]:
    severity = compliance.severity(f.resource_type)
    return {
        "status": f.status,
        "status_rank": STATUS_RANK[f.status],
        "severity": severity,
        "severity_rank": SEVERITY_RANK[severity],
        "reason": f.reason,
        "account": f.scope.account_id,
        "region": f.scope.region,
        "type": describe.short_type(f.resource_type),
        "resource": f.resource_id,
        "name": f.name or "",
        "detail": describe.short_detail(f),
        "controls": ", ".join(
            c.requirement for c in compliance.controls_in(f.resource_type, framework)
        ),
    }


def format(result: ScanResult) -> str:
    findings = sorted(
        result.findings, key=lambda f: (-STATUS_RANK[f.status], f.scope, f.resource_id)
    )
    by_account, by_region = _bars(findings, "account"), _bars(findings, "region")
    longest = max((b.passed + b.failed + b.info for b in by_account + by_region), default=0)
    return _template().render(
        title=compliance.title(result),
        result=result,
        summary=result.summary,
        resources=len(result.findings),
        accounts=len({s.account_id for s in result.scopes}),
        scope_errors=[
            (s.account_id, "all Regions" if s.region == ALL_REGIONS else s.region, s.error)
            for s in result.scope_errors
        ],
        charts=[("per account", by_account), ("per Region", by_region)],
        longest=longest,
        rows=[_row(f, result.framework) for f in findings],
    )
