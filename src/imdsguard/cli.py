"""Command line: arguments -> frozen options -> pipeline stages -> exit code.

Heavy modules (boto3, rich, moto) are imported inside the commands so that ``--help``
stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from imdsguard import __version__
from imdsguard.errors import ImdsGuardError, UsageError
from imdsguard.model import EXIT_INCOMPLETE, EXIT_USAGE
from imdsguard.options import AwsOptions, EvaluationOptions, ScopeOptions

EXIT_INTERNAL = 4
REPORT_FORMATS = ("table", "json")

EXIT_CODES_HELP = """exit codes:
  0  every scope was read and nothing failed
  1  at least one FAIL
  2  usage or configuration error
  3  at least one scope could not be read (wins over 1)
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _csv(value: str) -> tuple[str, ...]:
    items = tuple(v.strip() for v in value.split(",") if v.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def add_aws_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("AWS access")
    group.add_argument("--profile", help="AWS profile (default: the standard credential chain)")
    group.add_argument(
        "--endpoint-url",
        help="send every AWS call to this endpoint, e.g. an emulator "
        "(AWS_ENDPOINT_URL is honoured too)",
    )


def add_scope_args(parser: argparse.ArgumentParser) -> None:
    add_aws_args(parser)
    group = parser.add_argument_group("scope")
    group.add_argument(
        "--regions",
        type=_csv,
        help="comma-separated Regions (default: every Region enabled for the account)",
    )
    group.add_argument("--accounts", type=_csv, help="comma-separated 12-digit account ids")
    group.add_argument(
        "--organization",
        action="store_true",
        help="scan every ACTIVE account of the AWS Organization",
    )
    group.add_argument("--role-name", help="role to assume in accounts other than the caller's own")
    group.add_argument("--external-id", help="external id for AssumeRole")
    group.add_argument(
        "--max-workers", type=_positive, default=8, help="scopes read in parallel (default 8)"
    )


def add_output_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "--format",
        action="append",
        choices=REPORT_FORMATS,
        help="report format (default table)",
    )
    group.add_argument("--output", help="write the report to this file instead of stdout")
    group.add_argument("--quiet", action="store_true", help="no progress bar")
    group.add_argument(
        "--imds-disabled",
        choices=("pass", "fail"),
        default="pass",
        help="verdict for instances with the metadata endpoint disabled (default pass)",
    )


def aws_options(args: argparse.Namespace) -> AwsOptions:
    return AwsOptions(profile=args.profile, endpoint_url=args.endpoint_url)


def scope_options(args: argparse.Namespace) -> ScopeOptions:
    return ScopeOptions(
        regions=args.regions,
        accounts=args.accounts,
        organization=args.organization,
        role_name=args.role_name,
        external_id=args.external_id,
        max_workers=args.max_workers,
    )


def _write(text: str, path: str | None) -> None:
    if path is None:
        sys.stdout.write(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def run_scan_command(args: argparse.Namespace, aws: AwsOptions, scopes: ScopeOptions) -> int:
    """Shared by ``scan`` and ``demo``: scan, then print or write the reports."""
    from imdsguard.aws.session import SessionFactory
    from imdsguard.progress import progress_sink
    from imdsguard.report import FORMATS
    from imdsguard.scan import run_scan

    formats = args.format or ["table"]
    if args.output and len(formats) > 1:
        raise UsageError("--output takes one --format")
    factory = SessionFactory(aws)
    unknown = sorted(set(scopes.regions or ()) - factory.known_regions())
    if unknown:
        raise UsageError(f"unknown Region name(s): {', '.join(unknown)}")
    factory.identity()  # fail fast, with one line, on missing or rejected credentials
    evaluation = EvaluationOptions(imds_disabled=args.imds_disabled)
    with progress_sink(enabled=not args.quiet) as progress:
        result = run_scan(factory, scopes, evaluation, progress=progress)
    for fmt in formats:
        if fmt == "table" and args.output is None and sys.stdout.isatty():
            from rich.console import Console

            from imdsguard.report.table import renderable

            Console().print(renderable(result))
        else:
            _write(FORMATS[fmt](result), args.output)
    return result.exit_code()


def cmd_scan(args: argparse.Namespace) -> int:
    return run_scan_command(args, aws_options(args), scope_options(args))


def cmd_demo(args: argparse.Namespace) -> int:
    from imdsguard.demo import run_demo

    return run_demo(args, run_scan_command)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imdsguard",
        description="Find and safely remove IMDSv1 across an AWS estate.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"imdsguard {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    scan = commands.add_parser(
        "scan",
        help="audit every instance in every enabled Region of every account",
        description="Audit EC2 instances for IMDSv1 (CIS 'EC2 metadata service only allows "
        "IMDSv2', FSBP EC2.8). Read-only.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_args(scan)
    add_output_args(scan)
    scan.set_defaults(handler=cmd_scan)

    demo = commands.add_parser(
        "demo",
        help="scan a sample fleet in an embedded AWS emulator (no AWS account needed)",
        description="Start an AWS emulator (moto) on 127.0.0.1, seed a sample estate of "
        "two accounts and three Regions, and scan it exactly as `scan` would.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_output_args(demo)
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except ImdsGuardError as exc:
        if args.debug:
            raise
        print(f"imdsguard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("imdsguard: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless --debug
        if args.debug or os.environ.get("IMDSGUARD_DEBUG"):
            raise
        print(
            f"imdsguard: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


__all__ = ["EXIT_INCOMPLETE", "build_parser", "main"]
