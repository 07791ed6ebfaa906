"""Arguments and option builders for plan/apply/rollback, including the TOML --config."""

from __future__ import annotations

import argparse
import re
import tomllib
from typing import Any

from imdsguard.commands.common import add_quiet_arg, add_resource_args, csv_list, positive_int
from imdsguard.errors import UsageError
from imdsguard.options import (
    INSTANCE_ID,
    MAX_LOOKBACK_DAYS,
    ON_BREAKAGE,
    ApplyOptions,
    PlanOptions,
    RolloutOptions,
)
from imdsguard.plan.waves import parse_wave_by, parse_waves

REMEDIATION_EXIT_HELP = """exit codes:
  0  every planned change was applied and verified
  1  something was held, skipped, drifted or failed; each is listed
  2  usage or configuration error
  3  a scope could not be read or written (wins over 1)
  4  internal error (a bug; rerun with --debug for the traceback)
"""

PLAN_EXIT_HELP = """exit codes:
  0  every failing resource can be changed: nothing held, no migration needed
  1  something is held (IMDSv1 in use, usage unknown, ...) or needs a migration;
     each is listed with its reason
  2  usage or configuration error
  3  a scope could not be read, so the plan may be missing changes (wins over 1)
  4  internal error (a bug; rerun with --debug for the traceback)
"""

ROLLBACK_EXIT_HELP = """exit codes:
  0  everything the journal changed is restored and verified (or was never changed)
  1  something was skipped, drifted (changed by someone else since) or failed; each
     is listed, and running rollback again retries it
  2  usage or configuration error (unreadable journal, bad option); or the journals
     would set instances back to HttpTokens=optional in a Region whose account default
     enforces IMDSv2 (HttpTokensEnforced), which AWS refuses: nothing is written, and the
     message names the journal (or the setting) to undo first
  3  a scope could not be written, e.g. its role could not be assumed (wins over 1)
  4  internal error (a bug; rerun with --debug for the traceback)
"""

# Keys accepted in the --config file; the same meaning as the flags of the same name.
CONFIG_KEYS = frozenset(
    {
        "exclude_tag",
        "exclude_ids",
        "lookback_days",
        "include_in_use",
        "include_unknown",
        "hop_limit",
        "container_hop_limit",
    }
)


def tag_pair(value: str) -> tuple[str, str]:
    key, sep, tag_value = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {value!r}")
    return key, tag_value


def positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def add_plan_args(parser: argparse.ArgumentParser) -> None:
    add_resource_args(parser)
    group = parser.add_argument_group("planning")
    group.add_argument("--config", help="TOML file with the keys below (flags add to it)")
    group.add_argument("--lookback-days", type=positive_int, help="MetadataNoToken window (14)")
    group.add_argument(
        "--include-in-use",
        action="store_true",
        default=None,
        help="change instances even if they made IMDSv1 calls",
    )
    group.add_argument(
        "--include-unknown",
        action="store_true",
        default=None,
        help="change instances whose IMDSv1 usage is unknown",
    )
    group.add_argument(
        "--exclude-tag",
        type=tag_pair,
        action="append",
        metavar="KEY=VALUE",
        help="never change instances with this tag (repeatable)",
    )
    group.add_argument("--exclude-ids", type=instance_ids, help="comma-separated instance ids")
    group.add_argument("--hop-limit", type=positive_int, help="set this hop limit (default keep)")
    group.add_argument(
        "--container-hop-limit",
        action="store_true",
        default=None,
        help="raise hop limit 1 to 2 on EKS/ECS/Karpenter hosts and their launch "
        "templates; account defaults get hop limit 2",
    )
    group.add_argument(
        "--enforce",
        action="store_true",
        help="also set HttpTokensEnforced=enabled in Regions where every instance and every "
        "launch setting (templates, launch configurations, groups) already passes",
    )
    group.add_argument(
        "--amis",
        action="store_true",
        help="plan ImdsSupport=v2.0 on owned AMIs (IRREVERSIBLE; apply asks again)",
    )


def _load_config(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            doc = tomllib.load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"config {path} is not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config {path} is not valid TOML: {exc}") from exc
    except RecursionError:
        raise UsageError(f"config {path} is nested too deeply to be a config") from None
    doc = {k.replace("-", "_"): v for k, v in doc.items()}
    unknown = sorted(set(doc) - CONFIG_KEYS)
    if unknown:
        raise UsageError(f"config {path}: unknown key(s) {', '.join(unknown)}")
    return doc


def _shown(value: Any) -> str:
    """A config value as the user wrote it (TOML spelling for booleans), kept short."""
    text = str(value).lower() if isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _config_int(raw: Any, path: str, name: str, low: int, high: int) -> int:
    # bool is an int in Python, and a TOML float (2.5, inf, 1e400) is no integer at all.
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise UsageError(
            f"config {path}: {name} must be an integer from {low} to {high}, got {_shown(raw)}"
        )
    return raw


def _config_tags(raw: Any, path: str) -> list[tuple[str, str]]:
    if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
        return [(str(k), v) for k, v in raw.items()]
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        try:
            return [tag_pair(item) for item in raw]
        except argparse.ArgumentTypeError as exc:
            raise UsageError(f"config {path}: exclude_tag: {exc}") from exc
    raise UsageError(
        f"config {path}: exclude_tag must be a table of strings or a list of "
        f'"KEY=VALUE" strings, got {_shown(raw)}'
    )


def _config_ids(raw: Any, path: str) -> list[str]:
    # A lone string is not silently ignored: the instance it names would be planned.
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise UsageError(
            f'config {path}: exclude_ids must be a list of instance ids (["i-..."]), '
            f"got {_shown(raw)}"
        )
    bad = [item for item in raw if not INSTANCE_ID.match(item)]
    if bad:
        raise UsageError(f"config {path}: exclude_ids: {_shown(bad[0])} is not an instance id")
    return list(raw)


def instance_ids(value: str) -> tuple[str, ...]:
    """--exclude-ids: a comma-separated list of EC2 instance ids."""
    ids = csv_list(value)
    bad = [i for i in ids if not INSTANCE_ID.match(i)]
    if bad:
        raise argparse.ArgumentTypeError(f"{bad[0]!r} is not an instance id (i-0123456789abcdef0)")
    return ids


def plan_options(args: argparse.Namespace) -> PlanOptions:
    """Flags over config over defaults; lists (tags, ids) are the union of both."""
    path = args.config
    config = _load_config(path) if path else {}
    tags = _config_tags(config.get("exclude_tag", []), path) + (args.exclude_tag or [])
    ids = _config_ids(config.get("exclude_ids", []), path) + list(args.exclude_ids or ())

    def number(name: str, default: int | None, low: int, high: int) -> int | None:
        flag = getattr(args, name)
        if flag is not None:
            return int(flag)
        if name not in config:
            return default
        return _config_int(config[name], path, name, low, high)

    def switch(name: str) -> bool:
        # Only a real TOML boolean: bool("false") is True, and these switches lift holds.
        flag = getattr(args, name)
        value = flag if flag is not None else config.get(name, False)
        if not isinstance(value, bool):
            raise UsageError(f"config {path}: {name} must be true or false, got {_shown(value)}")
        return value

    return PlanOptions(
        lookback_days=number("lookback_days", 14, 1, MAX_LOOKBACK_DAYS) or 14,
        include_in_use=switch("include_in_use"),
        include_unknown=switch("include_unknown"),
        exclude_tags=tuple(tags),
        exclude_ids=frozenset(ids),
        hop_limit=number("hop_limit", None, 1, 64),
        container_hop_limit=switch("container_hop_limit"),
        resources=tuple(args.resources),
        strict_amis=args.strict_amis,
        enforce=args.enforce,
        amis=args.amis,
    )


def add_write_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pacing and verification")
    group.add_argument(
        "--rate-capacity",
        type=positive_float,
        default=100.0,
        help="writes per (account, Region) burst (EC2's bucket: 100)",
    )
    group.add_argument(
        "--rate-refill",
        type=positive_float,
        default=5.0,
        help="writes per second refilled per (account, Region) (EC2: 5)",
    )
    group.add_argument(
        "--workers-per-scope",
        type=positive_int,
        default=16,
        help="changes in flight per (account, Region), most waiting for State=applied (default 16)",
    )
    group.add_argument(
        "--verify-timeout",
        type=positive_float,
        default=60.0,
        help="seconds to wait for State=applied per change (default 60)",
    )
    add_quiet_arg(group, "no progress bar")


def apply_options(args: argparse.Namespace, check_permissions: bool = False) -> ApplyOptions:
    return ApplyOptions(
        capacity=args.rate_capacity,
        refill_per_second=args.rate_refill,
        workers_per_scope=args.workers_per_scope,
        verify_timeout=args.verify_timeout,
        check_permissions=check_permissions,
    )


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600}


def duration(value: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h``: seconds."""
    match = _DURATION.match(value.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"expected a duration such as 30s, 30m or 2h, got {value!r}"
        )
    return float(match.group(1)) * _UNIT[match.group(2)]


def _checked(parse: Any) -> Any:
    """An argparse type that checks a spec with ``parse`` and keeps the text as given (the
    journal records it, and a resume parses it again)."""

    def check(value: str) -> str:
        try:
            parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    return check


# Flags that start a staged rollout; with --resume the journal's rollout record decides.
ROLLOUT_FLAGS = ("waves", "wave_by", "soak", "poll_interval", "halt_on_alarm", "on_breakage")
DEFAULT_SOAK = 600.0
DEFAULT_POLL = 60.0


def add_rollout_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("staged rollout (docs/rollout.md)")
    group.add_argument(
        "--waves",
        type=_checked(parse_waves),
        metavar="SPEC",
        help="cumulative waves of the instance changes, least risk first: 5%%,25%%,100%% "
        "or 10,100,all; instances no wave reaches form a last wave",
    )
    group.add_argument(
        "--wave-by",
        type=_checked(parse_wave_by),
        metavar="tag:KEY=V1,V2",
        help="one wave per tag value, in this order; instances without one of them go last",
    )
    group.add_argument(
        "--soak",
        type=duration,
        metavar="DURATION",
        help="after each wave, watch MetadataNoTokenRejected this long (30s, 30m, 2h; default 10m)",
    )
    group.add_argument(
        "--poll-interval",
        type=duration,
        metavar="DURATION",
        help="time between polls during a soak (default 60s)",
    )
    group.add_argument(
        "--halt-on-alarm",
        action="append",
        metavar="NAME",
        help="halt if this CloudWatch alarm (caller's account, the plan's Regions) is in "
        "ALARM (repeatable)",
    )
    group.add_argument(
        "--on-breakage",
        choices=ON_BREAKAGE,
        help="on IMDSv1 calls refused: roll back exactly those instances (default), or halt",
    )


def rollout_options(args: argparse.Namespace) -> RolloutOptions | None:
    """The rollout the flags ask for, or None: any of them starts one (a single wave
    unless --waves or --wave-by cut more)."""
    if all(getattr(args, name) is None for name in ROLLOUT_FLAGS):
        return None
    return RolloutOptions(
        waves=args.waves,
        wave_by=args.wave_by,
        soak_seconds=DEFAULT_SOAK if args.soak is None else args.soak,
        poll_seconds=DEFAULT_POLL if args.poll_interval is None else args.poll_interval,
        alarms=tuple(dict.fromkeys(args.halt_on_alarm or ())),
        on_breakage=args.on_breakage or "rollback",
    )
