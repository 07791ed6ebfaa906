"""Every machine format validates against its schema or required-field list."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import botocore.session
import jsonschema
import pytest
import xmlschema
from botocore.validate import ParamValidator

from imdsguard.model.findings import FindingList
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.model.scan import Finding, Instance, MetadataOptions
from imdsguard.report import asff, junit, ocsf
from imdsguard.report import csv as csv_format
from imdsguard.report import json as json_format
from tests.sample import sample_result

SCHEMAS = Path(__file__).with_name("schemas")


def load_schema(name: str) -> dict[str, Any]:
    doc = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def junit_xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "junit-10.xsd"))


def test_junit_validates_against_jenkins_xsd(junit_xsd: xmlschema.XMLSchema) -> None:
    junit_xsd.validate(junit.format(sample_result()))


def test_junit_xsd_rejects_a_suite_without_counts(junit_xsd: xmlschema.XMLSchema) -> None:
    broken = '<testsuites><testsuite name="x" tests="1"/></testsuites>'
    assert not junit_xsd.is_valid(broken)


def test_junit_suite_per_scope_case_per_resource_failures_and_errors() -> None:
    result = sample_result()
    doc = ET.fromstring(junit.format(result))
    suites = {s.get("name"): s for s in doc.iter("testsuite")}
    assert set(suites) == {f"{s.account_id}/{s.region}" for s in result.scopes}
    cases = [c for c in doc.iter("testcase") if c.get("classname") != "imdsguard.Scope"]
    assert len(cases) == len(result.findings)
    assert len(list(doc.iter("failure"))) == result.summary.failed
    errors = [e.get("message") for e in doc.iter("error")]
    assert errors == [s.error for s in result.scope_errors]
    assert suites["222222222222/ap-south-1"].get("errors") == "1"
    assert doc.get("failures") == str(result.summary.failed)


def test_ocsf_every_event_has_the_required_attributes() -> None:
    schema = load_schema("ocsf-compliance-finding.schema.json")
    lines = ocsf.format(sample_result()).splitlines()
    result = sample_result()
    assert len(lines) == len(result.findings) + len(result.scope_errors)
    for line in lines:
        jsonschema.validate(json.loads(line), schema)


def test_ocsf_required_field_check_catches_a_missing_field() -> None:
    schema = load_schema("ocsf-compliance-finding.schema.json")
    event = json.loads(ocsf.format(sample_result()).splitlines()[0])
    del event["cloud"]["provider"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(event, schema)


def test_ocsf_maps_status_severity_and_scope_errors() -> None:
    events = [json.loads(line) for line in ocsf.format(sample_result()).splitlines()]
    by_code: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_code.setdefault(e["status_code"], []).append(e)
    assert {e["compliance"]["status_id"] for e in by_code["FAIL"]} == {3}
    assert {e["compliance"]["status_id"] for e in by_code["PASS"]} == {1}
    assert {e["severity_id"] for e in by_code["PASS"]} == {1}
    instance_fail = next(
        e for e in by_code["FAIL"] if e["resources"][0]["type"] == "AwsEc2Instance"
    )
    assert instance_fail["severity"] == "High"
    assert "CIS v5.0.0/5.7" in instance_fail["compliance"]["requirements"]
    assert [e["compliance"]["status_id"] for e in by_code["ERROR"]] == [2, 2]


def batch_import_validator() -> tuple[ParamValidator, Any]:
    model = botocore.session.get_session().get_service_model("securityhub")
    return ParamValidator(), model.operation_model("BatchImportFindings").input_shape


def test_asff_has_every_required_field_and_fits_the_botocore_model() -> None:
    schema = load_schema("asff-required.schema.json")
    findings = json.loads(asff.format(sample_result()))
    for finding in findings:
        jsonschema.validate(finding, schema)
    validator, shape = batch_import_validator()
    report = validator.validate({"Findings": findings}, shape)
    assert not report.has_errors(), report.generate_report()


def test_asff_checks_catch_a_missing_or_mistyped_field() -> None:
    schema = load_schema("asff-required.schema.json")
    finding = json.loads(asff.format(sample_result()))[0]
    del finding["Resources"][0]["Details"]["AwsEc2Instance"]["MetadataOptions"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(finding, schema)
    finding["CreatedAt"] = 5
    validator, shape = batch_import_validator()
    assert validator.validate({"Findings": [finding]}, shape).has_errors()


def test_asff_compliance_status_and_instance_metadata_options() -> None:
    findings = json.loads(asff.format(sample_result()))
    statuses = [f["Compliance"]["Status"] for f in findings]
    assert statuses.count("FAILED") == sample_result().summary.failed
    assert statuses.count("NOT_AVAILABLE") == 2
    legacy = next(f for f in findings if f["Id"].endswith("i-0aaa00000000000a2"))
    options = legacy["Resources"][0]["Details"]["AwsEc2Instance"]["MetadataOptions"]
    assert options["HttpTokens"] == "optional"
    assert legacy["Severity"]["Label"] == "HIGH"
    assert "AWS FSBP/EC2.8" in legacy["Compliance"]["RelatedRequirements"]
    template = next(f for f in findings if f["Resources"][0]["Type"] == "AwsEc2LaunchTemplate")
    assert template["Severity"]["Label"] == "LOW"
    lt_details = template["Resources"][0]["Details"]["AwsEc2LaunchTemplate"]
    assert lt_details["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"] == "optional"


def test_csv_round_trips_embedded_commas_quotes_and_newlines() -> None:
    result = sample_result()
    text = csv_format.format(result)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(result.findings) + len(result.scope_errors)
    names = [r["name"] for r in rows[: len(result.findings)]]
    assert names == [f.name or "" for f in result.findings]
    assert 'legacy, "v1"\nbatch [/prod]' in names
    assert [r["status"] for r in rows[len(result.findings) :]] == ["ERROR", "ERROR"]
    assert json.loads(rows[0]["evidence"]) == next(iter(result.findings)).resource.evidence()


def test_csv_uses_crlf_record_ends_and_quotes_only_where_needed() -> None:
    text = csv_format.format(sample_result())
    header = text.split("\r\n", 1)[0]
    assert header == ",".join(csv_format.COLUMNS)
    assert '"legacy, ""v1""\nbatch [/prod]"' in text  # embedded newline stays LF inside quotes


def test_json_keeps_1_0_fields_and_adds_severity_and_compliance() -> None:
    doc = json.loads(json_format.format(sample_result()))
    assert doc["schema_version"] == "1.3"
    assert doc["scan_options"]["resources"] == list(RESOURCE_NAMES)
    first = doc["findings"][0]
    for key in ("account_id", "region", "resource_type", "resource_id", "status", "reason"):
        assert key in first
    assert first["severity"] == "High"
    assert {
        "framework": "cis-5.0",
        "standard": "CIS AWS Foundations Benchmark v5.0.0",
        "control": "5.7",
    } in first["compliance"]


SCAN_SCHEMA = Path(json_format.__file__).with_name("scan.schema.json")


def test_json_effective_fields_validate_and_an_unknown_must_say_why() -> None:
    schema = json.loads(SCAN_SCHEMA.read_text(encoding="utf-8"))
    doc = json.loads(json_format.format(sample_result()))
    jsonschema.validate(doc, schema)
    config = next(
        f for f in doc["findings"] if f["resource_type"] == "AwsAutoScalingLaunchConfiguration"
    )
    config["effective_source"] = "unknown"  # a value presented as unknown: refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    config["effective_http_tokens"] = None  # unknown, but without its reason: refused
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)
    config["effective_reason"] = "account default not read: throttled"
    jsonschema.validate(doc, schema)
    template = next(f for f in doc["findings"] if f["resource_type"] == "AwsEc2LaunchTemplate")
    template["versions"][0]["effective_source"] = "guessed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_junit_stays_well_formed_with_control_characters_in_names(
    junit_xsd: xmlschema.XMLSchema,
) -> None:
    # EC2 tags may hold ESC or NUL; XML 1.0 forbids them and CI would reject the file.
    result = sample_result()
    inst = Instance("i-0ctrl", "running", MetadataOptions(), name="bad\x1b[0m\x00name")
    scope = next(iter(result.findings)).scope
    extra = Finding(scope, inst, "FAIL", "tokens-optional")
    text = junit.format(replace(result, findings=FindingList((*result.findings, extra))))
    ET.fromstring(text.encode())  # well-formed
    junit_xsd.validate(text)
    assert "bad\ufffd[0m\ufffdname" in text
