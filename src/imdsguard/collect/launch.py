"""PURE join of Auto Scaling groups, launch templates and launch configurations into resources.

A template version matters when it is the default, the latest, or what a group launches;
a launch configuration matters with the groups that use it. Neither can be judged from
its own describe call, so the collector reads everything once per scope (see
``collect.resources.collect_launch_sources``) and this module joins the records, with the
scope's ``LaunchContext`` deciding what each launch effectively gets (``collect.effective``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from imdsguard.collect.effective import NOT_READ, LaunchContext, effective_tokens
from imdsguard.model import kinds as kind_table
from imdsguard.model.effective import EffectiveTokens, unknown
from imdsguard.model.launch import (
    DEFAULT,
    LATEST,
    AutoScalingGroup,
    GroupRecord,
    LaunchConfiguration,
    LaunchSource,
    LaunchTemplate,
    TemplateRef,
    TemplateSummary,
    TemplateVersion,
    VersionRecord,
)
from imdsguard.model.scan import Resource

# The --resources names this module yields.
LAUNCH_TEMPLATES = kind_table.LAUNCH_TEMPLATES.name
LAUNCH_CONFIGURATIONS = kind_table.LAUNCH_CONFIGURATIONS.name
AUTO_SCALING_GROUPS = kind_table.AUTO_SCALING_GROUPS.name
LAUNCH_KINDS = (LAUNCH_TEMPLATES, LAUNCH_CONFIGURATIONS, AUTO_SCALING_GROUPS)


@dataclass(frozen=True, slots=True)
class LaunchInventory:
    """Everything read from one scope; ``configurations`` carry no ``used_by`` yet."""

    templates: tuple[TemplateSummary, ...] = ()
    versions: tuple[VersionRecord, ...] = ()
    groups: tuple[GroupRecord, ...] = ()
    configurations: tuple[LaunchConfiguration, ...] = ()
    context: LaunchContext = NOT_READ


class _Templates:
    """Look templates up the way a group references them: by id or by name."""

    def __init__(self, templates: tuple[TemplateSummary, ...]) -> None:
        self.by_id = {t.template_id: t for t in templates}
        self.by_name = {t.name: t for t in templates if t.name}

    def resolve(self, ref: TemplateRef) -> tuple[TemplateSummary | None, int | None]:
        template = self.by_id.get(ref.template_id or "") or self.by_name.get(
            ref.template_name or ""
        )
        if template is None:
            return None, None
        if ref.version == DEFAULT:
            return template, template.default_version
        if ref.version == LATEST:
            return template, template.latest_version
        try:
            return template, int(ref.version)
        except ValueError:
            return template, None


def versions_to_read(
    templates: tuple[TemplateSummary, ...], groups: tuple[GroupRecord, ...], every_template: bool
) -> dict[str, tuple[int, ...]]:
    """Template id -> version numbers to describe: default, latest and group-referenced.

    With ``every_template`` False (only groups were asked for), unreferenced templates
    are skipped entirely.
    """
    lookup = _Templates(templates)
    wanted: dict[str, set[int]] = defaultdict(set)
    if every_template:
        for t in templates:
            wanted[t.template_id].update({t.default_version, t.latest_version})
    for group in groups:
        for ref in group.templates:
            template, number = lookup.resolve(ref)
            if template is not None and number is not None:
                wanted[template.template_id].add(number)
    return {tid: tuple(sorted(numbers)) for tid, numbers in sorted(wanted.items())}


def build_resources(inventory: LaunchInventory, kinds: frozenset[str]) -> Iterator[Resource]:
    """Join the inventory and yield the resources of the selected launch kinds."""
    lookup = _Templates(inventory.templates)
    versions = {(v.template_id, v.number): v for v in inventory.versions}
    context = inventory.context
    effective = {
        key: effective_tokens(v.explicit_tokens, v.image_id, context) for key, v in versions.items()
    }
    configs = {
        c.name: replace(c, effective=effective_tokens(c.explicit_tokens, c.image_id, context))
        for c in inventory.configurations
    }
    template_users: dict[tuple[str, int], set[str]] = defaultdict(set)
    config_users: dict[str, set[str]] = defaultdict(set)
    groups: list[AutoScalingGroup] = []
    for group in inventory.groups:
        sources: list[LaunchSource] = []
        if group.launch_configuration is not None:
            config_users[group.launch_configuration].add(group.name)
            sources.append(_config_source(group.launch_configuration, configs))
        for ref in group.templates:
            template, number = lookup.resolve(ref)
            if template is not None and number is not None:
                template_users[(template.template_id, number)].add(group.name)
            sources.append(_template_source(ref, template, number, versions, effective))
        groups.append(AutoScalingGroup(group.name, tuple(sources)))
    if LAUNCH_TEMPLATES in kinds:
        yield from _templates(inventory.templates, versions, effective, template_users)
    if LAUNCH_CONFIGURATIONS in kinds:
        for config in configs.values():
            yield replace(config, used_by=tuple(sorted(config_users.get(config.name, ()))))
    if AUTO_SCALING_GROUPS in kinds:
        yield from groups


def _config_source(name: str, configs: Mapping[str, LaunchConfiguration]) -> LaunchSource:
    config = configs.get(name)
    return LaunchSource(
        kind="launch-configuration",
        identifier=name,
        via="LaunchConfigurationName",
        http_tokens=config.metadata.http_tokens if config else None,
        http_endpoint=config.metadata.http_endpoint if config else None,
        effective=config.effective if config else unknown("launch configuration not found"),
    )


def _template_source(
    ref: TemplateRef,
    template: TemplateSummary | None,
    number: int | None,
    versions: Mapping[tuple[str, int], VersionRecord],
    effective: Mapping[tuple[str, int], EffectiveTokens],
) -> LaunchSource:
    key = (template.template_id, number) if template and number else None
    record = versions.get(key) if key else None
    identifier = template.template_id if template else ref.template_id or ref.template_name
    return LaunchSource(
        kind="launch-template",
        identifier=identifier or "",
        via=ref.via,
        requested_version=ref.version,
        resolved_version=number,
        http_tokens=record.metadata.http_tokens if record else None,
        http_endpoint=record.metadata.http_endpoint if record else None,
        effective=(effective.get(key) if key else None)
        or unknown("launch template or version not found"),
    )


def _templates(
    templates: tuple[TemplateSummary, ...],
    versions: Mapping[tuple[str, int], VersionRecord],
    effective: Mapping[tuple[str, int], EffectiveTokens],
    users: Mapping[tuple[str, int], set[str]],
) -> Iterator[LaunchTemplate]:
    for t in templates:
        numbers = {t.default_version, t.latest_version} | {
            n for (tid, n) in users if tid == t.template_id
        }
        found = [
            versions[(t.template_id, n)] for n in sorted(numbers) if (t.template_id, n) in versions
        ]
        yield LaunchTemplate(
            template_id=t.template_id,
            name=t.name,
            default_version=t.default_version,
            latest_version=t.latest_version,
            versions=tuple(
                TemplateVersion(
                    number=v.number,
                    metadata=v.metadata,
                    metadata_specified=v.metadata_specified,
                    used_by=tuple(sorted(users.get((t.template_id, v.number), ()))),
                    image_id=v.image_id,
                    effective=effective[(t.template_id, v.number)],
                )
                for v in found
            ),
        )
