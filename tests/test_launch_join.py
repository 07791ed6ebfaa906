"""Pure join of groups, template versions and launch configurations (no AWS)."""

from __future__ import annotations

from imdsguard.collect.effective import LaunchContext
from imdsguard.collect.launch import (
    AUTO_SCALING_GROUPS,
    LAUNCH_CONFIGURATIONS,
    LAUNCH_KINDS,
    LAUNCH_TEMPLATES,
    LaunchInventory,
    build_resources,
    versions_to_read,
)
from imdsguard.model.effective import EffectiveTokens
from imdsguard.model.launch import (
    AutoScalingGroup,
    GroupRecord,
    Image,
    LaunchConfiguration,
    LaunchTemplate,
    TemplateRef,
    TemplateSummary,
    VersionRecord,
)
from imdsguard.model.scan import HttpTokens, MetadataOptions

WEB = TemplateSummary("lt-web", "web", default_version=1, latest_version=3)
API = TemplateSummary("lt-api", "api", default_version=2, latest_version=2)


def record(template_id: str, number: int, tokens: HttpTokens) -> VersionRecord:
    return VersionRecord(
        template_id, number, MetadataOptions(http_tokens=tokens), True, tokens, "ami-web"
    )


GROUPS = (
    GroupRecord("pinned", None, (TemplateRef("LaunchTemplate", "2", template_id="lt-web"),)),
    GroupRecord("by-name", None, (TemplateRef("LaunchTemplate", "$Latest", template_name="web"),)),
    GroupRecord(
        "mixed",
        None,
        (
            TemplateRef("MixedInstancesPolicy", "$Default", template_id="lt-api"),
            TemplateRef("MixedInstancesPolicy.Overrides", "$Default", template_id="lt-web"),
        ),
    ),
    GroupRecord("legacy", "old-lc", ()),
    GroupRecord(
        "orphan", None, (TemplateRef("LaunchTemplate", "$Default", template_id="lt-gone"),)
    ),
)
INVENTORY = LaunchInventory(
    templates=(WEB, API),
    versions=(
        record("lt-web", 1, "required"),
        record("lt-web", 2, "optional"),
        record("lt-web", 3, "required"),
        record("lt-api", 2, "required"),
    ),
    groups=GROUPS,
    configurations=(
        LaunchConfiguration("old-lc", MetadataOptions(), False, image_id="ami-legacy"),
    ),
)


def test_versions_to_read_covers_default_latest_and_every_referenced_version() -> None:
    assert versions_to_read((WEB, API), GROUPS, every_template=True) == {
        "lt-api": (2,),
        "lt-web": (1, 2, 3),
    }


def test_versions_to_read_for_groups_only_skips_unreferenced_templates() -> None:
    unused = TemplateSummary("lt-unused", "unused", 1, 1)
    groups = GROUPS[:1]
    assert versions_to_read((WEB, unused), groups, every_template=False) == {"lt-web": (2,)}


def test_templates_carry_each_version_with_the_groups_that_launch_it() -> None:
    templates = {
        r.template_id: r
        for r in build_resources(INVENTORY, frozenset({LAUNCH_TEMPLATES}))
        if isinstance(r, LaunchTemplate)
    }
    web = templates["lt-web"]
    used = {v.number: v.used_by for v in web.versions}
    # $Latest (by name) resolves to 3; the mixed-instances override's $Default to 1.
    assert used == {1: ("mixed",), 2: ("pinned",), 3: ("by-name",)}
    assert templates["lt-api"].version(2) is not None


def test_groups_resolve_every_launch_source_and_flag_missing_ones() -> None:
    groups = {
        r.name: r
        for r in build_resources(INVENTORY, frozenset({AUTO_SCALING_GROUPS}))
        if isinstance(r, AutoScalingGroup)
    }
    pinned = groups["pinned"].sources[0]
    assert (pinned.resolved_version, pinned.http_tokens) == (2, "optional")
    assert [(s.identifier, s.http_tokens) for s in groups["mixed"].sources] == [
        ("lt-api", "required"),
        ("lt-web", "required"),
    ]
    assert groups["legacy"].sources[0].kind == "launch-configuration"
    assert groups["legacy"].sources[0].http_tokens == "optional"
    orphan = groups["orphan"].sources[0]
    assert (orphan.identifier, orphan.http_tokens) == ("lt-gone", None)


def test_launch_configurations_name_their_groups() -> None:
    [config] = build_resources(INVENTORY, frozenset({LAUNCH_CONFIGURATIONS}))
    assert isinstance(config, LaunchConfiguration)
    assert config.used_by == ("legacy",)


def test_only_the_selected_kinds_are_yielded() -> None:
    kinds = {type(r).__name__ for r in build_resources(INVENTORY, frozenset(LAUNCH_KINDS))}
    assert kinds == {"LaunchTemplate", "LaunchConfiguration", "AutoScalingGroup"}
    only = {type(r).__name__ for r in build_resources(INVENTORY, frozenset({LAUNCH_TEMPLATES}))}
    assert only == {"LaunchTemplate"}


def test_every_launch_setting_carries_what_its_next_launch_gets() -> None:
    """Explicit tokens win; a setting without them takes the scope's context."""
    unset = VersionRecord("lt-web", 4, MetadataOptions(), False, None, "ami-v2")
    web = TemplateSummary("lt-web", "web", default_version=4, latest_version=4)
    groups = (GroupRecord("g", None, (TemplateRef("LaunchTemplate", "4", template_id="lt-web"),)),)
    context = LaunchContext(images={"ami-v2": Image("ami-v2", None, "v2.0")})
    inventory = LaunchInventory(
        templates=(web,),
        versions=(*INVENTORY.versions, unset),
        groups=(*groups, *GROUPS[3:]),
        configurations=INVENTORY.configurations,
        context=context,
    )
    resources = {r.resource_id: r for r in build_resources(inventory, frozenset(LAUNCH_KINDS))}
    template = resources["lt-web"]
    assert isinstance(template, LaunchTemplate)
    assert [(v.number, v.effective.source) for v in template.versions] == [(4, "ami")]
    evidence = template.evidence()
    assert (evidence["default_effective_http_tokens"], evidence["default_effective_source"]) == (
        "required",
        "ami",
    )
    config = resources["old-lc"]
    assert isinstance(config, LaunchConfiguration)
    # ami-legacy was not found: a deregistered AMI is unknown, never optional.
    assert (config.effective.http_tokens, config.effective.source) == (None, "unknown")
    group, legacy = resources["g"], resources["legacy"]
    assert isinstance(group, AutoScalingGroup)
    assert isinstance(legacy, AutoScalingGroup)
    assert group.sources[0].effective == EffectiveTokens("required", "ami")
    assert legacy.sources[0].effective == config.effective
    orphan = resources["orphan"]
    assert isinstance(orphan, AutoScalingGroup)
    sources = orphan.evidence()["launch_sources"]
    assert isinstance(sources, list)
    source = sources[0]
    assert isinstance(source, dict)
    assert (source["effective_http_tokens"], source["effective_source"]) == (None, "unknown")
    assert source["effective_reason"] == "launch template or version not found"


def test_without_a_context_nothing_past_the_setting_is_guessed() -> None:
    [config] = build_resources(INVENTORY, frozenset({LAUNCH_CONFIGURATIONS}))
    assert isinstance(config, LaunchConfiguration)
    assert config.effective.source == "unknown"
    assert config.evidence()["effective_http_tokens"] is None
