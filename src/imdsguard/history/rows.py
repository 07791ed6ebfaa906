"""PURE: the rows one scan becomes in the history database, built from a ScanResult."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from imdsguard.errors import redact
from imdsguard.model.scan import Finding, JSONValue, ScanResult, ScopeOutcome
from imdsguard.options import AwsOptions, ScopeOptions

# A resource's identity across scans: (account_id, region, resource_type, resource_id).
ResourceKey = tuple[str, str, str, str]
# A scope's identity across scans: (account_id, region); region may be ALL_REGIONS.
ScopeKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One scan: when, by which version, over what, and its summary counts."""

    generated_at: str
    tool_version: str
    scope_description: str
    passed: int
    failed: int
    info: int
    scope_errors: int
    # v3: JSON list of the --resources kinds read, and JSON object of the evaluation
    # options. NULL (None) = not recorded (scans stored before v3): coverage unknown.
    kinds: str | None = None
    evaluation: str | None = None

    def kinds_read(self) -> frozenset[str] | None:
        return None if self.kinds is None else frozenset(json.loads(self.kinds))

    def evaluation_options(self) -> dict[str, JSONValue] | None:
        if self.evaluation is None:
            return None
        options: dict[str, JSONValue] = json.loads(self.evaluation)
        return options


@dataclass(frozen=True, slots=True)
class ScopeRow:
    """How reading one account and Region went; ``resources`` is a JSON object of counts."""

    account_id: str
    region: str
    status: str
    error: str | None
    resources: str = "{}"
    skipped: int = 0

    @property
    def key(self) -> ScopeKey:
        return (self.account_id, self.region)


@dataclass(frozen=True, slots=True)
class FindingRow:
    """One verdict; ``evidence`` is the resource's evidence as a JSON object."""

    account_id: str
    region: str
    resource_type: str
    resource_id: str
    name: str | None
    status: str
    reason: str
    evidence: str

    @property
    def key(self) -> ResourceKey:
        return (self.account_id, self.region, self.resource_type, self.resource_id)


@dataclass(frozen=True, slots=True)
class ScanRows:
    """Everything stored for one scan, before it has an id. ``findings`` may be a stream
    (made as it is read, so a large scan is never held whole); it is read once, when saved."""

    scan: ScanRow
    scopes: tuple[ScopeRow, ...]
    findings: Iterable[FindingRow]


@dataclass(frozen=True, slots=True)
class StoredScan:
    """One scan as read back from the database."""

    scan_id: int
    scan: ScanRow
    scopes: tuple[ScopeRow, ...]
    findings: tuple[FindingRow, ...]


def _compact(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def scope_row(outcome: ScopeOutcome) -> ScopeRow:
    return ScopeRow(
        account_id=outcome.account_id,
        region=outcome.region,
        status=outcome.status,
        error=outcome.error,
        resources=_compact(dict(outcome.counts)),
        skipped=outcome.skipped,
    )


def finding_row(finding: Finding) -> FindingRow:
    # Not report.json.finding_json: it flattens evidence into the verdict's own keys,
    # and history keeps the two apart so the columns stay fixed as resource kinds grow.
    return FindingRow(
        account_id=finding.scope.account_id,
        region=finding.scope.region,
        resource_type=finding.resource_type,
        resource_id=finding.resource_id,
        name=finding.name,
        status=finding.status,
        reason=finding.reason,
        evidence=_compact(finding.resource.evidence()),
    )


def scan_rows(result: ScanResult, scope_description: str) -> ScanRows:
    summary = result.summary
    scan = ScanRow(
        generated_at=result.generated_at.isoformat(),
        tool_version=result.tool_version,
        scope_description=scope_description,
        passed=summary.passed,
        failed=summary.failed,
        info=summary.info,
        scope_errors=summary.scope_errors,
        kinds=None if result.kinds is None else _compact(list(result.kinds)),
        evaluation=None if result.evaluation is None else _compact(dict(result.evaluation)),
    )
    return ScanRows(
        scan,
        tuple(scope_row(s) for s in result.scopes),
        _FindingRows(result.findings),
    )


@dataclass(frozen=True, slots=True)
class _FindingRows:
    """The rows of a finding stream, made afresh on every iteration."""

    findings: Iterable[Finding]

    def __iter__(self) -> Iterator[FindingRow]:
        return map(finding_row, self.findings)


def scope_description(aws: AwsOptions, scopes: ScopeOptions) -> str:
    """What the command was asked to cover, so `history` tells scans of different estates apart."""
    if scopes.organization:
        parts = ["organization"]
    elif scopes.accounts:
        parts = [f"accounts {','.join(scopes.accounts)}"]
    else:
        parts = ["own account"]
    if scopes.role_name:
        parts.append(f"role {scopes.role_name}")
    parts.append(f"regions {','.join(scopes.regions)}" if scopes.regions else "all regions")
    if aws.profile:
        parts.append(f"profile {aws.profile}")
    if aws.endpoint_url:
        parts.append(f"endpoint {redact(aws.endpoint_url)}")
    return "; ".join(parts)
