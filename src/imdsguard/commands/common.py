"""Arguments and option builders shared by every command (no heavy imports here)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from imdsguard.errors import UsageError
from imdsguard.model.kinds import RESOURCE_NAMES
from imdsguard.options import PARTITIONS, AwsOptions, ExecutorOptions, ScopeOptions
from imdsguard.report import FORMATS
from imdsguard.rules.compliance import FRAMEWORKS

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console, RenderableType

    from imdsguard.aws.session import SessionFactory

# The names in imdsguard.report.FORMATS, spelled out so --help needs no report imports
# (a test keeps the two equal).
# The registry imports no format module until one is used, so --help stays fast.
REPORT_FORMATS = tuple(FORMATS)

EXIT_CODES_HELP = """exit codes:
  0  every scope was read and nothing failed
  1  at least one FAIL
  2  usage or configuration error
  3  at least one scope could not be read, or --security-hub could not import
     every finding (wins over 1)
  4  internal error (a bug; rerun with --debug for the traceback)
"""

# What --status keeps when it is not given: the table is read by people, so it shows what
# needs attention; every other format is read by programs, so it stays complete
# (docs/reports.md#status-filter).
STATUSES = ("FAIL", "INFO", "PASS")
TABLE_STATUSES = frozenset({"FAIL"})


def csv_list(value: str) -> tuple[str, ...]:
    # Once each, in order: a Region named twice must not be scanned, planned or changed twice.
    items = tuple(dict.fromkeys(v.strip() for v in value.split(",") if v.strip()))
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def resource_list(value: str) -> tuple[str, ...]:
    kinds = csv_list(value)
    unknown = [k for k in kinds if k not in RESOURCE_NAMES]
    if unknown:
        known = ", ".join(RESOURCE_NAMES)
        raise argparse.ArgumentTypeError(f"unknown kind(s) {', '.join(unknown)}; one of {known}")
    return kinds


def status_name(value: str) -> str:
    """FAIL, INFO, PASS or all, in any case (Prowler spells them in capitals)."""
    return "all" if value.lower() == "all" else value.upper()


def add_partition_arg(parser: argparse.ArgumentParser) -> None:
    """``--partition`` for the offline generators, which have no caller identity to ask."""
    parser.add_argument(
        "--partition",
        choices=PARTITIONS,
        default="aws",
        help="the partition of the ARNs in the policy (default aws)",
    )


def add_resource_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("resources")
    group.add_argument(
        "--resources",
        type=resource_list,
        default=RESOURCE_NAMES,
        metavar="KINDS",
        help=f"comma-separated kinds to scan (default all: {','.join(RESOURCE_NAMES)})",
    )
    group.add_argument(
        "--strict-amis",
        action="store_true",
        help="owned AMIs without ImdsSupport=v2.0 FAIL instead of INFO",
    )


def add_aws_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS access")
    group.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    group.add_argument(
        "--endpoint-url",
        help="send every AWS call to this endpoint, e.g. an emulator "
        "(AWS_ENDPOINT_URL is honoured too)",
    )
    group.add_argument(
        "--role-session-name",
        default="imdsguard",
        help="RoleSessionName of every AssumeRole, as CloudTrail shows it (default imdsguard)",
    )
    group.add_argument(
        "--duration-seconds",
        type=int,
        metavar="SECONDS",
        help="lifetime of each assumed-role session, 900-43200, at most the role's maximum "
        "session duration (default: not sent, so STS gives 1 hour); sessions are "
        "refreshed before they expire either way",
    )


def add_scope_args(parser: argparse.ArgumentParser) -> None:
    add_aws_args(parser)
    group = parser.add_argument_group("scope")
    group.add_argument(
        "--regions",
        type=csv_list,
        help="comma-separated Regions (default: every Region enabled for the account)",
    )
    group.add_argument("--accounts", type=csv_list, help="comma-separated 12-digit account ids")
    group.add_argument(
        "--organization",
        action="store_true",
        help="scan every ACTIVE account of the AWS Organization",
    )
    group.add_argument("--role-name", help="role to assume in accounts other than the caller's own")
    group.add_argument("--external-id", help="external id for AssumeRole")
    group.add_argument(
        "--max-workers", type=positive_int, default=8, help="scopes read in parallel (default 8)"
    )


def add_executor_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("executor (docs/organization-scale.md#dask)")
    group.add_argument(
        "--executor",
        choices=("local", "dask"),
        default="local",
        help="where scopes run: local, threads in this process (default); dask, one Dask "
        "task per scope (pip install 'imdsguard[dask]'); workers use their own AWS "
        "credentials and are sent none",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: the scheduler of an existing cluster, e.g. "
        "tls://10.0.0.5:8786 (default: a LocalCluster on this machine). Anyone who can "
        "reach a scheduler can run code on its workers: use tls:// with certificates "
        "(Dask's distributed.comm.tls settings), tcp:// only on a trusted network",
    )


def executor_options(args: argparse.Namespace) -> ExecutorOptions:
    """--executor and --scheduler; dask without its extra installed is a usage error."""
    from imdsguard.executor import require_available

    options = ExecutorOptions(name=args.executor, scheduler=args.scheduler)
    require_available(options)
    return options


def add_output_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format",
        action="append",
        choices=REPORT_FORMATS,
        help="report format; repeat for several (default table, or all with --output-dir)",
    )
    where = group.add_mutually_exclusive_group()
    where.add_argument("--output", metavar="FILE", help="write the one --format to FILE")
    where.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write each --format (default: every format) to DIR/imdsguard.<ext>",
    )
    group.add_argument(
        "--compliance",
        metavar="FRAMEWORK",
        choices=tuple(FRAMEWORKS),
        help="report only the evidence for one framework: " + ", ".join(FRAMEWORKS),
    )
    group.add_argument(
        "--security-hub",
        action="store_true",
        help="import the findings (ASFF) into AWS Security Hub in each account and Region",
    )
    group.add_argument(
        "--status",
        action="append",
        type=status_name,
        choices=(*STATUSES, "all"),
        metavar="STATUS",
        help="show only findings with this status: FAIL, INFO, PASS or all (repeatable); "
        "default: FAIL in the table, every finding in the other formats. The "
        "summary and the exit code always count every finding",
    )
    add_quiet_arg(group, "no progress bar, and no summary line on stderr")
    group.add_argument(
        "--imds-disabled",
        choices=("pass", "fail"),
        default="pass",
        help="verdict for a disabled metadata endpoint (default pass): instances with it "
        "pass (pass) or fail (fail); launch templates, launch configurations and groups "
        "are judged on HttpTokens, and fail with it under fail (see docs/resources.md)",
    )


def add_quiet_arg(parser: argparse._ActionsContainer, help_text: str) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help=help_text)


def shown_statuses(args: argparse.Namespace, fmt: str) -> frozenset[str] | None:
    """The statuses ``fmt`` shows under ``--status``, or None for every finding."""
    if args.status:
        return None if "all" in args.status else frozenset(args.status)
    return TABLE_STATUSES if fmt == "table" else None


def add_db_arg(parser: argparse._ActionsContainer, help_text: str | None = None) -> None:
    parser.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help=help_text
        or "history database (default $XDG_DATA_HOME/imdsguard/history.sqlite3, "
        "else ~/.local/share/imdsguard/history.sqlite3)",
    )


def add_history_args(parser: argparse.ArgumentParser, *, by_default: bool) -> None:
    """``--db``/``--no-history`` for commands that store their scan in the history."""
    group = parser.add_argument_group("history")
    if by_default:
        exclusive = group.add_mutually_exclusive_group()
        add_db_arg(exclusive)
        exclusive.add_argument(
            "--no-history", action="store_true", help="do not store this scan in the history"
        )
    else:
        add_db_arg(
            group,
            "store the scan in this history database; without it nothing is stored, so "
            "sample data never mixes with the history of real scans",
        )
        parser.set_defaults(no_history=False)
    parser.set_defaults(history_by_default=by_default)


def history_path(args: argparse.Namespace) -> Path | None:
    """Where to store this scan, or None to store nothing."""
    from imdsguard.history.store import default_path

    if args.no_history:
        return None
    if args.db is not None:
        path: Path = args.db.expanduser()
        return path
    return default_path() if args.history_by_default else None


def console(stream: TextIO | None = None) -> Console:
    """Colour on a terminal, or wherever FORCE_COLOR asks for it (rich reads FORCE_COLOR
    and NO_COLOR itself); plain text, wide enough for every column, in files and pipes."""
    from rich.console import Console

    stream = stream or sys.stdout
    if stream.isatty() or os.environ.get("FORCE_COLOR", "") != "":
        return Console(markup=False, highlight=False, file=stream)
    return Console(
        markup=False, highlight=False, file=stream, width=160, no_color=True, color_system=None
    )


def print_renderable(renderable: RenderableType, stream: TextIO | None = None) -> None:
    console(stream).print(renderable)


def aws_options(args: argparse.Namespace) -> AwsOptions:
    return AwsOptions(
        profile=args.profile,
        endpoint_url=args.endpoint_url,
        role_session_name=args.role_session_name,
        duration_seconds=args.duration_seconds,
    )


def session_factory(aws: AwsOptions) -> SessionFactory:
    """The one place the CLI's AwsOptions become a session (botocore loads only here)."""
    from imdsguard.aws.session import SessionFactory

    return SessionFactory(
        profile=aws.profile,
        endpoint_url=aws.endpoint_url,
        max_attempts=aws.max_attempts,
        role_session_name=aws.role_session_name,
        duration_seconds=aws.duration_seconds,
    )


def scope_options(args: argparse.Namespace) -> ScopeOptions:
    return ScopeOptions(
        regions=args.regions,
        accounts=args.accounts,
        organization=args.organization,
        role_name=args.role_name,
        external_id=args.external_id,
        max_workers=args.max_workers,
    )


def write_text(text: str, path: str | None) -> None:
    """To stdout, or atomically to ``path`` (see write_stream)."""
    write_stream(lambda out: out.write(text), path)


def write_stream(fill: Callable[[TextIO], object], path: str | None) -> None:
    """``fill`` writes to stdout, or atomically to ``path``: a temporary file beside it, then a
    rename, so a failed write leaves whatever was there before (an earlier report) intact."""
    if path is None:
        fill(sys.stdout)
        return
    target = Path(path)
    try:
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fill(handle)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    # mkstemp creates the file 0600; a report is made with the permissions open() gives.
    mask = os.umask(0)
    os.umask(mask)
    return mask
