"""PURE compliance metadata: which framework controls each resource kind gives evidence for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from imdsguard.errors import UsageError
from imdsguard.model.kinds import (
    BY_TYPE,
    INSTANCES,
    KINDS,
    LAUNCH_CONFIGURATIONS,
    LAUNCH_TEMPLATES,
    RESOURCE_NAMES,
    Severity,
)
from imdsguard.model.scan import ScanResult


@dataclass(frozen=True, slots=True)
class Framework:
    """One version of one standard, selectable with ``--compliance ID``."""

    id: str
    standard: str
    # Security Hub's RelatedRequirements prefix, e.g. "NIST.800-53.r5".
    requirement_prefix: str


@dataclass(frozen=True, slots=True)
class Control:
    """One control of one framework that a finding gives evidence for."""

    framework: Framework
    control: str

    @property
    def requirement(self) -> str:
        """The control as ASFF RelatedRequirements spells it, e.g. 'CIS AWS ... v5.0.0/5.7'."""
        return f"{self.framework.requirement_prefix}/{self.control}"


def _cis(version: str, full: str) -> Framework:
    return Framework(f"cis-{version}", f"CIS AWS Foundations Benchmark v{full}", f"CIS v{full}")


FRAMEWORKS: dict[str, Framework] = {
    f.id: f
    for f in (
        _cis("2.0", "2.0.0"),
        _cis("3.0", "3.0.0"),
        _cis("4.0.1", "4.0.1"),
        _cis("5.0", "5.0.0"),
        _cis("6.0", "6.0.0"),
        _cis("7.0", "7.0.0"),
        Framework("fsbp", "AWS Foundational Security Best Practices", "AWS FSBP"),
        Framework("nist-800-53", "NIST SP 800-53 Rev. 5", "NIST.800-53.r5"),
        Framework("pci-4.0.1", "PCI DSS v4.0.1", "PCI DSS v4.0.1"),
    )
}

# The CIS control moved between versions (docs/aws-behaviour.md#the-control); it covers instances
# only.
_CIS_INSTANCE = {
    "cis-2.0": "5.6",
    "cis-3.0": "5.6",
    "cis-4.0.1": "5.7",
    "cis-5.0": "5.7",
    "cis-6.0": "6.7",
    "cis-7.0": "6.7",
}
# FSBP has one control per configuration artefact; ASGs, AMIs and account defaults have none.
_FSBP = {
    INSTANCES.resource_type: "EC2.8",
    LAUNCH_TEMPLATES.resource_type: "EC2.170",
    LAUNCH_CONFIGURATIONS.resource_type: "AutoScaling.3",
}
# Security Hub maps EC2.8 to AC-3 and AC-6; CM-7 b is the CIS audit file's own reference.
# Every kind here decides whether IMDSv1 is reachable, so they all evidence the same controls.
_NIST = ("AC-3", "AC-6", "CM-7 b")
_PCI = ("2.2.6",)


def severity(resource_type: str) -> Severity:
    """The control's severity for a resource kind; unknown kinds are Medium, not silent."""
    kind = BY_TYPE.get(resource_type)
    return kind.severity if kind else "Medium"


def controls(resource_type: str) -> tuple[Control, ...]:
    """Every framework control that a finding on this kind gives evidence for, in order."""
    found: list[Control] = []
    if resource_type == INSTANCES.resource_type:
        found += [Control(FRAMEWORKS[f], c) for f, c in _CIS_INSTANCE.items()]
    if resource_type in _FSBP:
        found.append(Control(FRAMEWORKS["fsbp"], _FSBP[resource_type]))
    if resource_type in BY_TYPE:
        found += [Control(FRAMEWORKS["nist-800-53"], c) for c in _NIST]
        found += [Control(FRAMEWORKS["pci-4.0.1"], c) for c in _PCI]
    return tuple(found)


def controls_in(resource_type: str, framework_id: str | None) -> tuple[Control, ...]:
    """The kind's controls, narrowed to one framework when a report is filtered to it."""
    return tuple(
        c for c in controls(resource_type) if framework_id is None or c.framework.id == framework_id
    )


def standards(controls_: tuple[Control, ...]) -> list[str]:
    """The distinct standards of some controls, in first-seen order."""
    return list(dict.fromkeys(c.framework.standard for c in controls_))


def framework(framework_id: str) -> Framework:
    try:
        return FRAMEWORKS[framework_id]
    except KeyError:
        known = ", ".join(FRAMEWORKS)
        raise UsageError(
            f"unknown compliance framework {framework_id!r} (one of: {known})"
        ) from None


def title(result: ScanResult) -> str:
    """The report title: the framework's name when the report was filtered to one."""
    if result.framework is None:
        return "imdsguard IMDS audit"
    fw = FRAMEWORKS[result.framework]
    return f"imdsguard IMDS audit: {fw.standard} evidence"


def required_kinds(framework_id: str) -> tuple[str, ...]:
    """The --resources kinds whose findings give evidence for the framework's controls."""
    return tuple(k.name for k in KINDS if controls_in(k.resource_type, framework_id))


def require_kinds(framework_id: str, kinds: Sequence[str] | None) -> None:
    """Refuse evidence for a framework when a kind its controls cover was not read.

    Zero findings of an unread kind would otherwise read as "nothing failed": a report
    titled as the framework's evidence that certifies what was never looked at.
    """
    framework(framework_id)
    needed = required_kinds(framework_id)
    if kinds is None:
        raise UsageError(
            f"--compliance {framework_id}: the scan does not record which resource kinds "
            f"it read; it needs {','.join(needed)}"
        )
    missing = [k for k in needed if k not in kinds]
    if missing:
        wanted = ",".join(k for k in RESOURCE_NAMES if k in kinds or k in missing)
        raise UsageError(
            f"--compliance {framework_id} needs {', '.join(missing)} scanned, which "
            f"--resources leaves out; use --resources {wanted}"
        )


def filter_result(result: ScanResult, framework_id: str) -> ScanResult:
    """Keep the findings that give evidence for the framework; scope errors always stay.

    An unreadable scope is missing evidence for every framework, so it is never filtered out.
    A kind the framework covers that the scan did not read is a UsageError (require_kinds).
    """
    require_kinds(framework_id, result.kinds)
    types = [t for t in result.findings.resource_types() if controls_in(t, framework_id)]
    return replace(result, findings=result.findings.only(types=types), framework=framework_id)
