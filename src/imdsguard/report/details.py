"""One short 'Details' line per finding for the table, built from the resource's evidence."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from imdsguard.model.scan import Finding, JSONValue

Evidence = Mapping[str, JSONValue]


def _instance(ev: Evidence) -> str:
    """e.g. 'running tokens=optional hops=1 role'; the usual endpoint/state are left out."""
    parts = [str(ev.get("instance_state")), f"tokens={ev.get('http_tokens')}"]
    if ev.get("http_endpoint") != "enabled":
        parts.append(f"endpoint={ev.get('http_endpoint')}")
    parts.append(f"hops={ev.get('hop_limit')}")
    if ev.get("metadata_state") not in (None, "applied"):
        parts.append(f"state={ev.get('metadata_state')}")
    if ev.get("iam_instance_profile"):
        parts.append("role")
    return " ".join(parts)


def _effective(ev: Evidence, prefix: str = "") -> str:
    """What a launch gets, when the setting itself does not say: 'effective required via ami'."""
    source = ev.get(f"{prefix}effective_source")
    if source in (None, "explicit"):
        return ""
    tokens = ev.get(f"{prefix}effective_http_tokens")
    return "effective unknown" if tokens is None else f"effective {tokens} via {source}"


def _with_effective(text: str, ev: Evidence, prefix: str = "") -> str:
    effective = _effective(ev, prefix)
    return f"{text} ({effective})" if effective else text


def _template(ev: Evidence) -> str:
    default = f"default v{ev.get('default_version')} {ev.get('default_http_tokens')}"
    text = (
        f"{_with_effective(default, ev, 'default_')}, "
        f"latest v{ev.get('latest_version')} {ev.get('latest_http_tokens')}"
    )
    versions = ev.get("versions")
    for v in versions if isinstance(versions, list) else ():
        if isinstance(v, dict) and v.get("used_by_groups") and not v.get("is_default"):
            groups = v["used_by_groups"]
            names = ",".join(str(g) for g in groups) if isinstance(groups, list) else ""
            version = _with_effective(f"v{v.get('version')} {v.get('http_tokens')}", v)
            text += f"; {version} used by {names}"
    return text


def _names(value: JSONValue) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) and value else "no group"


def _launch_configuration(ev: Evidence) -> str:
    notes = [] if ev.get("metadata_options_set") else ["not set"]
    if effective := _effective(ev):
        notes.append(effective)
    shown = f" ({'; '.join(notes)})" if notes else ""
    return f"http_tokens={ev.get('http_tokens')}{shown}; used by {_names(ev.get('used_by_groups'))}"


def _group(ev: Evidence) -> str:
    parts = []
    sources = ev.get("launch_sources")
    for s in sources if isinstance(sources, list) else ():
        if isinstance(s, dict):
            version = f" v{s['resolved_version']}" if s.get("resolved_version") else ""
            tokens = s.get("http_tokens") or "NOT FOUND"
            found = f"{s.get('id')}{version} via {s.get('via')}: {tokens}"
            # A source not found has nothing to launch: no effective value to add.
            parts.append(_with_effective(found, s) if s.get("http_tokens") else found)
    return "; ".join(parts)


def _image(ev: Evidence) -> str:
    return f"ImdsSupport={ev.get('imds_support') or 'unset'}"


def _defaults(ev: Evidence) -> str:
    def show(key: str) -> str:
        value = ev.get(key)
        return "unset" if value is None else str(value)

    text = (
        f"tokens={show('http_tokens')}, hop_limit={show('hop_limit')}, "
        f"enforced={show('http_tokens_enforced')}, managed_by={show('managed_by')}"
    )
    return text if ev.get("account_can_change", True) else f"{text} (account cannot change)"


DETAILS: dict[str, Callable[[Evidence], str]] = {
    "AwsEc2Instance": _instance,
    "AwsEc2LaunchTemplate": _template,
    "AwsAutoScalingLaunchConfiguration": _launch_configuration,
    "AwsAutoScalingAutoScalingGroup": _group,
    "AwsEc2Image": _image,
    "AwsEc2AccountImdsDefaults": _defaults,
}


def details(finding: Finding) -> str:
    describe = DETAILS.get(finding.resource_type)
    return describe(finding.resource.evidence()) if describe else ""
