"""PURE: the exact commands that fix one finding, with imdsguard and with the AWS CLI.

Every value from AWS (ids, names) is shell-quoted: a report reader pastes these lines into
a terminal, and a resource name is whatever its owner typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from shlex import quote

from imdsguard.model.kinds import ACCOUNT_DEFAULTS, AMIS, INSTANCES, LAUNCH_TEMPLATES, Kind
from imdsguard.model.scan import ALL_REGIONS, Finding


@dataclass(frozen=True, slots=True)
class Command:
    label: str
    text: str


def plural(kind: Kind) -> str:
    """'launch templates' from 'launch template(s)'."""
    return kind.counted.removesuffix("(s)") + "s"


def _imdsguard(finding: Finding, kind: Kind, extra: str = "") -> Command:
    """plan reads the whole scope, so the command names the account, Region and kind;
    apply executes exactly the reviewed plan (docs/remediation.md)."""
    s = finding.scope
    text = (
        f"imdsguard plan --accounts {quote(s.account_id)} --regions {quote(s.region)} "
        f"--resources {kind.name}{extra} --output plan.json\nimdsguard apply plan.json"
    )
    return Command(f"imdsguard (plans all {plural(kind)} in this account and Region)", text)


def _template_cli(finding: Finding) -> Command:
    """A new version from the default with tokens required, made the default; a group on
    $Default or $Latest then launches it (docs/aws-behaviour.md#the-api)."""
    ev = finding.resource.evidence()
    region, lt = quote(finding.scope.region), quote(finding.resource_id)
    hops = ev.get("default_hop_limit")
    options = {
        "HttpTokens": "required",
        "HttpEndpoint": "enabled",
        "HttpPutResponseHopLimit": hops if isinstance(hops, int) and hops > 0 else 1,
    }
    data = quote(json.dumps({"MetadataOptions": options}, separators=(",", ":")))
    source = quote(str(ev.get("default_version")))
    text = (
        f"v=$(aws ec2 create-launch-template-version --launch-template-id {lt} "
        f"--source-version {source} --launch-template-data {data} --region {region} "
        "--query LaunchTemplateVersion.VersionNumber --output text)\n"
        f'aws ec2 modify-launch-template --launch-template-id {lt} --default-version "$v" '
        f"--region {region}"
    )
    return Command("AWS CLI", text)


def commands(finding: Finding) -> tuple[Command, ...]:
    """The fix for a finding that does not pass; kinds imdsguard cannot change get none."""
    if finding.status == "PASS" or finding.scope.region == ALL_REGIONS:
        return ()
    region, rid = quote(finding.scope.region), quote(finding.resource_id)
    rtype = finding.resource_type
    if rtype == INSTANCES.resource_type:
        cli = (
            f"aws ec2 modify-instance-metadata-options --instance-id {rid} "
            f"--http-tokens required --http-endpoint enabled --region {region}"
        )
        return _imdsguard(finding, INSTANCES), Command("AWS CLI", cli)
    if rtype == LAUNCH_TEMPLATES.resource_type:
        return _imdsguard(finding, LAUNCH_TEMPLATES), _template_cli(finding)
    if rtype == AMIS.resource_type:
        cli = (
            f"aws ec2 modify-image-attribute --image-id {rid} --imds-support v2.0 --region {region}"
        )
        return _imdsguard(finding, AMIS, " --amis"), Command("AWS CLI (irreversible)", cli)
    if rtype == ACCOUNT_DEFAULTS.resource_type:
        cli = f"aws ec2 modify-instance-metadata-defaults --http-tokens required --region {region}"
        return _imdsguard(finding, ACCOUNT_DEFAULTS), Command("AWS CLI", cli)
    return ()
