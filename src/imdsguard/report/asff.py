"""AWS Security Finding Format (SchemaVersion 2018-10-08): the input of BatchImportFindings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from imdsguard.model.kinds import LAUNCH_CONFIGURATIONS, LAUNCH_TEMPLATES
from imdsguard.model.launch import LaunchTemplate
from imdsguard.model.scan import (
    ALL_REGIONS,
    Finding,
    Instance,
    JSONValue,
    MetadataOptions,
    ScanResult,
    ScopeOutcome,
)
from imdsguard.report import describe
from imdsguard.report.stream import text_of
from imdsguard.rules import compliance

SCHEMA_VERSION = "2018-10-08"
# Findings from a custom integration go to the account's own "default" product.
PRODUCT_ARN = "arn:{partition}:securityhub:{region}:{account}:product/{account}/default"
TYPES = ["Software and Configuration Checks/Industry and Regulatory Standards"]
COMPLIANCE_STATUS = {"PASS": "PASSED", "FAIL": "FAILED", "INFO": "WARNING"}
# Security Hub marks passed control findings INFORMATIONAL and resolves their workflow.
WORKFLOW = {"PASS": "RESOLVED", "FAIL": "NEW", "INFO": "NEW"}
# AWS limits: Description 1024 characters, Recommendation.Text 512, 32 RelatedRequirements.
DESCRIPTION_MAX = 1024

_EVIDENCE_TO_OPTIONS = (
    ("http_tokens", "HttpTokens"),
    ("http_endpoint", "HttpEndpoint"),
    ("hop_limit", "HttpPutResponseHopLimit"),
    ("http_protocol_ipv6", "HttpProtocolIpv6"),
    ("instance_metadata_tags", "InstanceMetadataTags"),
)


# What the next launch gets (docs/resources.md#what-a-launch-actually-gets): ASFF's launch
# template and launch configuration shapes have no field for it, so ProductFields carry it.
EFFECTIVE_KEYS = (
    "default_effective_http_tokens",
    "default_effective_source",
    "effective_http_tokens",
    "effective_source",
    "effective_reason",
)
PRODUCT_FIELD_MAX = 2048  # AWS limit per ProductFields value

# The launch configuration shape only knows these option fields.
LAUNCH_CONFIG_OPTIONS = frozenset({"HttpTokens", "HttpEndpoint", "HttpPutResponseHopLimit"})


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _options_json(md: MetadataOptions) -> dict[str, JSONValue]:
    return {
        "HttpEndpoint": md.http_endpoint,
        "HttpProtocolIpv6": md.http_protocol_ipv6,
        "HttpPutResponseHopLimit": md.hop_limit,
        "HttpTokens": md.http_tokens,
        "InstanceMetadataTags": md.instance_metadata_tags,
    }


def metadata_options(f: Finding) -> dict[str, JSONValue]:
    """MetadataOptions in ASFF's spelling: the instance's, or the template's default version's."""
    if isinstance(f.resource, Instance):
        return _options_json(f.resource.metadata)
    if isinstance(f.resource, LaunchTemplate):
        default = f.resource.version(f.resource.default_version)
        return _options_json(default.metadata) if default else {}
    ev = f.resource.evidence()
    return {asff: ev[key] for key, asff in _EVIDENCE_TO_OPTIONS if ev.get(key) is not None}


def details(f: Finding) -> dict[str, JSONValue]:
    options = metadata_options(f)
    if isinstance(f.resource, Instance):
        inst = f.resource
        fields: dict[str, JSONValue] = {
            "Type": inst.instance_type,
            "ImageId": inst.image_id,
            "IamInstanceProfileArn": inst.iam_instance_profile,
            "LaunchedAt": _timestamp(inst.launch_time) if inst.launch_time else None,
            "MetadataOptions": options,
        }
        return {"AwsEc2Instance": {k: v for k, v in fields.items() if v is not None}}
    if f.resource_type == LAUNCH_TEMPLATES.resource_type:
        template: dict[str, JSONValue] = {"Id": f.resource_id, "LaunchTemplateName": f.name}
        template["LaunchTemplateData"] = {"MetadataOptions": options}
        return {"AwsEc2LaunchTemplate": {k: v for k, v in template.items() if v is not None}}
    if f.resource_type == LAUNCH_CONFIGURATIONS.resource_type:
        known = {k: v for k, v in options.items() if k in LAUNCH_CONFIG_OPTIONS}
        config: dict[str, JSONValue] = {
            "LaunchConfigurationName": f.name or f.resource_id,
            "MetadataOptions": known,
        }
        return {"AwsAutoScalingLaunchConfiguration": config}
    other: dict[str, JSONValue] = {
        k: str(v) for k, v in f.resource.evidence().items() if v is not None
    }
    return {"Other": other}


def effective_fields(f: Finding) -> dict[str, JSONValue]:
    ev = f.resource.evidence()
    return {
        f"imdsguard/{key}": str(ev[key])[:PRODUCT_FIELD_MAX]
        for key in EFFECTIVE_KEYS
        if ev.get(key) is not None
    }


def _base(
    result: ScanResult, uid: str, account: str, region: str, partition: str
) -> dict[str, JSONValue]:
    now = _timestamp(result.generated_at)
    return {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": uid,
        "ProductArn": PRODUCT_ARN.format(partition=partition, region=region, account=account),
        "ProductName": "imdsguard",
        "CompanyName": "imdsguard",
        "AwsAccountId": account,
        "Region": region,
        "Types": list(TYPES),
        "CreatedAt": now,
        "UpdatedAt": now,
        "RecordState": "ACTIVE",
    }


def finding_asff(result: ScanResult, f: Finding) -> dict[str, JSONValue]:
    partition = result.partition
    text = describe.kind(f.resource_type)
    label = compliance.severity(f.resource_type).upper() if f.status == "FAIL" else "INFORMATIONAL"
    controls = compliance.controls_in(f.resource_type, result.framework)
    requirements: list[JSONValue] = [c.requirement for c in controls[:32]]
    doc = _base(result, describe.finding_uid(f), f.scope.account_id, f.scope.region, partition)
    doc |= {
        "GeneratorId": f"imdsguard/{f.resource_type}",
        "Title": text.title,
        "Description": f"{text.noun} {f.resource_id}: {f.status} {f.reason}. "
        f"{describe.short_detail(f)}"[:DESCRIPTION_MAX],
        "Severity": {"Label": label, "Original": compliance.severity(f.resource_type)},
        "Remediation": {"Recommendation": {"Text": text.remediation, "Url": text.url}},
        "Compliance": {
            "Status": COMPLIANCE_STATUS[f.status],
            "RelatedRequirements": requirements,
        },
        "Workflow": {"Status": WORKFLOW[f.status]},
        "ProductFields": {
            "imdsguard/status": f.status,
            "imdsguard/reason": f.reason,
            **effective_fields(f),
        },
        "Resources": [
            {
                "Type": f.resource_type,
                "Id": describe.resource_arn(f, partition),
                "Partition": partition,
                "Region": f.scope.region,
                "Details": details(f),
            }
        ],
    }
    return doc


def scope_error_asff(result: ScanResult, s: ScopeOutcome, home_region: str) -> dict[str, JSONValue]:
    """NOT_AVAILABLE: Security Hub's own status for a check that could not run."""
    region = home_region if s.region == ALL_REGIONS else s.region
    doc = _base(result, describe.scope_uid(s), s.account_id, region, result.partition)
    doc |= {
        "GeneratorId": "imdsguard/scope",
        "Title": describe.SCOPE_ERROR_TITLE,
        "Description": f"{describe.scope_label(s)}: {s.error}"[:DESCRIPTION_MAX],
        "Severity": {"Label": "MEDIUM"},
        "Remediation": {"Recommendation": {"Text": describe.SCOPE_ERROR_REMEDIATION}},
        "Compliance": {"Status": "NOT_AVAILABLE"},
        "Workflow": {"Status": "NEW"},
        "Resources": [
            {"Type": "AwsAccount", "Id": f"AWS::::Account:{s.account_id}", "Region": region}
        ],
    }
    return doc


def findings(result: ScanResult, home_region: str = "us-east-1") -> Iterator[dict[str, JSONValue]]:
    """``home_region`` receives the findings of scopes that have no Region (account errors)."""
    for f in result.findings:
        yield finding_asff(result, f)
    for s in result.scope_errors:
        yield scope_error_asff(result, s, home_region)


def write(result: ScanResult, out: TextIO) -> None:
    """One JSON array, a finding at a time: what json.dumps(list, indent=2) would write."""
    separator = "[\n  "
    for doc in findings(result):
        out.write(separator + json.dumps(doc, indent=2, sort_keys=True).replace("\n", "\n  "))
        separator = ",\n  "
    out.write("[]\n" if separator == "[\n  " else "\n]\n")


def format(result: ScanResult) -> str:
    return text_of(write, result)
