"""CSV (RFC 4180): one row per finding, plus one ERROR row per scope that could not be read."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from imdsguard.model.scan import ScanResult
from imdsguard.report import describe
from imdsguard.report.stream import text_of
from imdsguard.rules import compliance

COLUMNS = (
    "account_id",
    "region",
    "resource_type",
    "resource_id",
    "name",
    "status",
    "reason",
    "severity",
    "compliance",
    "detail",
    "evidence",
)


def write(result: ScanResult, out: TextIO) -> None:
    # RFC 4180: CRLF line ends, quotes doubled, fields with , " or newlines quoted.
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for f in result.findings:
        controls = compliance.controls_in(f.resource_type, result.framework)
        writer.writerow(
            (
                f.scope.account_id,
                f.scope.region,
                f.resource_type,
                f.resource_id,
                f.name or "",
                f.status,
                f.reason,
                compliance.severity(f.resource_type),
                "; ".join(ctl.requirement for ctl in controls),
                describe.short_detail(f),
                json.dumps(f.resource.evidence(), sort_keys=True),
            )
        )
    # An unreadable scope must not look clean in a spreadsheet either.
    for s in result.scope_errors:
        writer.writerow((s.account_id, s.region, "", "", "", "ERROR", s.error, "", "", "", ""))


def format(result: ScanResult) -> str:
    return text_of(write, result)
