"""``imdsguard scan``: audit every instance in every enabled Region of every account."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from imdsguard.commands.common import (
    EXIT_CODES_HELP,
    REPORT_FORMATS,
    add_output_args,
    add_scope_args,
    aws_options,
    scope_options,
    write_text,
)
from imdsguard.errors import UsageError
from imdsguard.model import EXIT_INCOMPLETE, ScanResult
from imdsguard.options import AwsOptions, EvaluationOptions, ScopeOptions


def _formats(args: argparse.Namespace) -> list[str]:
    """The chosen formats, in order, once each; --output-dir alone means all of them."""
    if args.format:
        formats = list(dict.fromkeys(args.format))
    else:
        formats = list(REPORT_FORMATS) if args.output_dir else ["table"]
    if args.output and len(formats) > 1:
        raise UsageError("--output takes one --format; use --output-dir for several")
    return formats


def _make_output_dir(path: str) -> None:
    """Before the scan: a long scan must not end in 'cannot write'."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from exc


def write_reports(result: ScanResult, formats: list[str], args: argparse.Namespace) -> None:
    from imdsguard.report import EXTENSIONS, FORMATS

    if args.output_dir:
        directory = Path(args.output_dir)
        for fmt in formats:
            path = directory / f"imdsguard.{EXTENSIONS[fmt]}"
            write_text(FORMATS[fmt](result), str(path))
            print(f"imdsguard: wrote {path}", file=sys.stderr)
        return
    for fmt in formats:
        if fmt == "table" and args.output is None and sys.stdout.isatty():
            from rich.console import Console

            from imdsguard.report.table import renderable

            Console().print(renderable(result))
        else:
            write_text(FORMATS[fmt](result), args.output)


def run_scan_command(args: argparse.Namespace, aws: AwsOptions, scopes: ScopeOptions) -> int:
    """Shared by ``scan`` and ``demo``: scan, then print or write the reports."""
    from imdsguard.aws.session import SessionFactory
    from imdsguard.compliance import filter_result
    from imdsguard.progress import progress_sink
    from imdsguard.scan import run_scan

    formats = _formats(args)
    if args.output_dir:
        _make_output_dir(args.output_dir)
    factory = SessionFactory(aws)
    unknown = sorted(set(scopes.regions or ()) - factory.known_regions())
    if unknown:
        raise UsageError(f"unknown Region name(s): {', '.join(unknown)}")
    factory.identity()  # fail fast, with one line, on missing or rejected credentials
    evaluation = EvaluationOptions(imds_disabled=args.imds_disabled)
    with progress_sink(enabled=not args.quiet) as progress:
        result = run_scan(factory, scopes, evaluation, progress=progress)
    if args.compliance:
        result = filter_result(result, args.compliance)
    write_reports(result, formats, args)
    code = result.exit_code()
    if args.security_hub:
        from imdsguard.publish import publish

        problems = publish(factory, result, scopes)
        for line in problems:
            print(f"imdsguard: security hub: {line}", file=sys.stderr)
        if problems:
            code = EXIT_INCOMPLETE  # findings that did not arrive are an incomplete audit
    return code


def run(args: argparse.Namespace) -> int:
    return run_scan_command(args, aws_options(args), scope_options(args))


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "scan",
        help="audit every instance in every enabled Region of every account",
        description="Audit EC2 instances for IMDSv1 (CIS 'EC2 metadata service only allows "
        "IMDSv2', FSBP EC2.8). Read-only.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_args(parser)
    add_output_args(parser)
    parser.set_defaults(handler=run)
