"""``imdsguard scan``: audit instances and launch settings in every Region of every account."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from imdsguard.commands.common import (
    EXIT_CODES_HELP,
    REPORT_FORMATS,
    add_history_args,
    add_output_args,
    add_resource_args,
    add_scope_args,
    aws_options,
    history_path,
    scope_options,
    session_factory,
    write_text,
)
from imdsguard.errors import HistoryError, UsageError
from imdsguard.model.scan import EXIT_INCOMPLETE, ScanResult
from imdsguard.options import AwsOptions, EvaluationOptions, ScopeOptions

HISTORY_HELP = """
Every scan is stored in the history database (see `imdsguard history` and `diff`).
If storing fails, a one-line warning goes to stderr and the exit code is the scan's own.
"""


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


def _check_writable(path: str) -> None:
    """Before the scan: a long scan must not end in 'cannot write'."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: not a writable file location")


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

            Console(markup=False, highlight=False).print(renderable(result))
        else:
            write_text(FORMATS[fmt](result), args.output)


def run_scan_command(args: argparse.Namespace, aws: AwsOptions, scopes: ScopeOptions) -> int:
    """Shared by ``scan`` and ``demo``: scan, then print or write the reports."""
    from imdsguard.progress import progress_sink
    from imdsguard.rules.compliance import filter_result, require_kinds
    from imdsguard.scan import run_scan

    formats = _formats(args)
    if args.compliance:
        require_kinds(args.compliance, args.resources)  # before a scan that cannot be used
    if args.output_dir:
        _make_output_dir(args.output_dir)
    if args.output:
        _check_writable(args.output)
    factory = session_factory(aws)
    unknown = sorted(set(scopes.regions or ()) - factory.known_regions())
    if unknown:
        raise UsageError(f"unknown Region name(s): {', '.join(unknown)}")
    factory.identity()  # fail fast, with one line, on missing or rejected credentials
    evaluation = EvaluationOptions(imds_disabled=args.imds_disabled, strict_amis=args.strict_amis)
    with progress_sink(enabled=not args.quiet) as progress:
        result = run_scan(factory, scopes, evaluation, kinds=args.resources, progress=progress)
    # --compliance narrows what the reports (and the exit code) cover; history keeps all.
    shown = filter_result(result, args.compliance) if args.compliance else result
    # Reports first: a slow or locked history database must not hold them back.
    write_reports(shown, formats, args)
    path = history_path(args)
    if path is not None:
        store_history(path, result, aws, scopes, quiet=args.quiet)
    code = shown.exit_code()
    if args.security_hub:
        from imdsguard.publish import publish

        problems = publish(factory, shown, scopes)
        for line in problems:
            print(f"imdsguard: security hub: {line}", file=sys.stderr)
        if problems:
            code = EXIT_INCOMPLETE  # findings that did not arrive are an incomplete audit
    return code


def store_history(
    path: Path, result: ScanResult, aws: AwsOptions, scopes: ScopeOptions, quiet: bool
) -> None:
    """Save the scan; on failure warn in one line and let the scan's exit code stand."""
    from imdsguard.history.rows import scan_rows, scope_description
    from imdsguard.history.store import open_history

    try:
        with open_history(path) as history:
            scan_id = history.save(scan_rows(result, scope_description(aws, scopes)))
    except HistoryError as exc:
        print(f"imdsguard: warning: scan not saved to history: {exc}", file=sys.stderr)
        return
    if not quiet:
        print(f"imdsguard: saved as scan #{scan_id} in {path}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    return run_scan_command(args, aws_options(args), scope_options(args))


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "scan",
        help="audit instances and what launches new ones, in every Region of every account",
        description="Audit EC2 instances for IMDSv1 (CIS 'EC2 metadata service only allows "
        "IMDSv2', FSBP EC2.8), and what decides how new instances launch: launch templates "
        "(EC2.170), launch configurations (AutoScaling.3), Auto Scaling groups, owned AMIs "
        "and the account's IMDS defaults per Region. Read-only.",
        epilog=EXIT_CODES_HELP + HISTORY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_scope_args(parser)
    add_resource_args(parser)
    add_output_args(parser)
    add_history_args(parser, by_default=True)
    parser.set_defaults(handler=run)
