"""``imdsguard scan``: audit instances and launch settings in every Region of every account."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from imdsguard.commands.common import (
    EXIT_CODES_HELP,
    REPORT_FORMATS,
    add_executor_args,
    add_history_args,
    add_output_args,
    add_resource_args,
    add_scope_args,
    aws_options,
    console,
    executor_options,
    history_path,
    scope_options,
    session_factory,
    shown_statuses,
    write_stream,
)
from imdsguard.errors import HistoryError, UsageError
from imdsguard.model.scan import EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, ScanResult
from imdsguard.options import AwsOptions, EvaluationOptions, ExecutorOptions, ScopeOptions

if TYPE_CHECKING:
    from imdsguard.aws.session import SessionFactory

Fill = Callable[[TextIO], None]

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
    if len(formats) > 1 and not args.output_dir:
        # One stream, one document: JSON followed by CSV on stdout is no use to anyone.
        where = "--output takes one --format" if args.output else "stdout takes one --format"
        raise UsageError(f"{where}; use --output-dir DIR to write several")
    return formats


def _prepare_output_dir(path: str, formats: list[str]) -> None:
    """Before the scan: a long scan must not end in 'cannot write'."""
    from imdsguard.report import EXTENSIONS

    directory = Path(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {path}: permission denied")
    for fmt in formats:
        target = directory / f"imdsguard.{EXTENSIONS[fmt]}"
        if target.is_dir():
            raise UsageError(f"cannot write {target}: it is a directory")


def _check_writable(path: str) -> None:
    """Before the scan: a long scan must not end in 'cannot write'."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write {path}: not a writable file location")


def _only(result: ScanResult, statuses: frozenset[str] | None) -> ScanResult:
    if statuses is None:
        return result
    return replace(result, findings=result.findings.only(statuses=statuses))


def _writer(result: ScanResult, fmt: str, statuses: frozenset[str] | None) -> Fill:
    """What writes the report, piece by piece (docs/reports.md#large-fleets)."""
    from imdsguard.report import writer

    if fmt == "table":
        from imdsguard.report.table import write as table_write

        return lambda out: table_write(result, out, statuses=statuses)
    shown, write = _only(result, statuses), writer(fmt)
    return lambda out: write(shown, out)


@dataclass(frozen=True, slots=True)
class Written:
    """Where the reports went, how many findings each shows, and what could not be written."""

    where: str
    shown: dict[str, int]
    failures: tuple[str, ...] = ()


def write_reports(result: ScanResult, formats: list[str], args: argparse.Namespace) -> Written:
    from imdsguard.report import EXTENSIONS

    shown = {f: len(_only(result, shown_statuses(args, f)).findings) for f in formats}
    if args.output_dir:
        directory = Path(args.output_dir)
        failures: list[str] = []
        for fmt in formats:
            path = directory / f"imdsguard.{EXTENSIONS[fmt]}"
            try:
                write_stream(_writer(result, fmt, shown_statuses(args, fmt)), str(path))
            except UsageError as exc:
                # The other reports are still written: one full disk is not every report.
                failures.append(str(exc))
                print(f"imdsguard: error: {exc}", file=sys.stderr)
                continue
            print(f"imdsguard: wrote {path}", file=sys.stderr)
        written = len(formats) - len(failures)
        return Written(f"{written} report(s) in {directory}", shown, tuple(failures))
    fmt = formats[0]
    statuses = shown_statuses(args, fmt)
    if fmt == "table" and args.output is None and console().is_terminal:
        from imdsguard.report.table import renderable

        console().print(renderable(result, statuses))
    else:
        write_stream(_writer(result, fmt, statuses), args.output)
    return Written(f"{fmt} in {args.output}" if args.output else f"{fmt} on stdout", shown)


def _closing_line(result: ScanResult, written: Written, saved: str) -> str:
    """Totals, scope errors, where the output went and the history id, in one line."""
    from imdsguard.report.table import summary_text

    total = len(result.findings)
    parts = [summary_text(result).plain, written.where]
    partial = {fmt: n for fmt, n in written.shown.items() if n < total}
    if partial:
        counts = set(partial.values())
        names = "" if len(partial) == len(written.shown) else " in " + ", ".join(partial)
        shown = f"{counts.pop()} of {total}" if len(counts) == 1 else f"part of {total}"
        parts.append(f"showing {shown} findings{names} (--status all shows every one)")
    parts.append(saved)
    if written.failures:
        parts.append(f"{len(written.failures)} report(s) NOT written")
    return "imdsguard: " + "; ".join(parts)


def run_scan_command(
    args: argparse.Namespace,
    aws: AwsOptions,
    scopes: ScopeOptions,
    executor: ExecutorOptions | None = None,
) -> int:
    """Shared by ``scan`` and ``demo``: scan, then print or write the reports."""
    from imdsguard.progress import progress_sink
    from imdsguard.rules.compliance import filter_result, require_kinds
    from imdsguard.scan import run_scan

    formats = _formats(args)
    if args.compliance:
        require_kinds(args.compliance, args.resources)  # before a scan that cannot be used
    if args.output_dir:
        _prepare_output_dir(args.output_dir, formats)
    if args.output:
        _check_writable(args.output)
    factory = session_factory(aws)
    unknown = sorted(set(scopes.regions or ()) - factory.known_regions())
    if unknown:
        raise UsageError(f"unknown Region name(s): {', '.join(unknown)}")
    factory.identity()  # fail fast, with one line, on missing or rejected credentials
    evaluation = EvaluationOptions(imds_disabled=args.imds_disabled, strict_amis=args.strict_amis)
    with progress_sink(enabled=not args.quiet) as progress:
        result = run_scan(
            factory, scopes, evaluation, args.resources, progress=progress, executor=executor
        )
    # --compliance narrows what the reports (and the exit code) cover; history keeps all.
    shown = filter_result(result, args.compliance) if args.compliance else result
    # Reports first: a slow or locked history database must not hold them back.
    written = write_reports(shown, formats, args)
    path = history_path(args)
    saved = "not stored in the history"
    if path is not None:
        saved = store_history(path, result, aws, scopes)
    # The verdict counts every finding, whatever --status shows.
    code = shown.exit_code()
    if args.security_hub:
        code = _publish(factory, shown, scopes, code, quiet=args.quiet)
    if not args.quiet:
        print(_closing_line(shown, written, saved), file=sys.stderr)
    if written.failures and code == EXIT_OK:
        return EXIT_USAGE  # a clean scan whose report is missing is no success
    return code


def _publish(
    factory: SessionFactory, result: ScanResult, scopes: ScopeOptions, code: int, quiet: bool
) -> int:
    from imdsguard.publish import publish

    done = publish(factory, result, scopes)
    for line in done.problems:
        print(f"imdsguard: security hub: {line}", file=sys.stderr)
    if not quiet or done.problems:
        failed = done.sent - done.imported
        print(
            f"imdsguard: security hub: {done.imported} of {done.sent} finding(s) imported, "
            f"{failed} failed",
            file=sys.stderr,
        )
    # Findings that did not arrive are an incomplete audit.
    return EXIT_INCOMPLETE if done.problems else code


def store_history(path: Path, result: ScanResult, aws: AwsOptions, scopes: ScopeOptions) -> str:
    """Save the scan and say where; on failure warn in one line, and the exit code stands."""
    from imdsguard.history.rows import scan_rows, scope_description
    from imdsguard.history.store import open_history

    try:
        with open_history(path) as history:
            scan_id = history.save(scan_rows(result, scope_description(aws, scopes)))
    except HistoryError as exc:
        print(f"imdsguard: warning: scan not saved to history: {exc}", file=sys.stderr)
        return "NOT saved to the history"
    return f"saved as scan #{scan_id} in {path}"


def run(args: argparse.Namespace) -> int:
    return run_scan_command(args, aws_options(args), scope_options(args), executor_options(args))


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
    add_executor_args(parser)
    add_resource_args(parser)
    add_output_args(parser)
    add_history_args(parser, by_default=True)
    parser.set_defaults(handler=run)
