"""Command line: arguments -> frozen options -> pipeline stages -> exit code.

Each subcommand lives in ``imdsguard.commands``. Heavy modules (boto3, rich, moto) are
imported inside the commands so that ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from imdsguard import __version__
from imdsguard.commands import COMMANDS
from imdsguard.commands.common import EXIT_CODES_HELP
from imdsguard.errors import ImdsGuardError, redact
from imdsguard.malloc import bound_arenas
from imdsguard.model.scan import EXIT_USAGE

EXIT_INTERNAL = 4


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input in one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        # One prefix for every error, whichever parser found it.
        self.exit(EXIT_USAGE, f"imdsguard: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="imdsguard",
        description="Find and safely remove IMDSv1 across an AWS estate.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"imdsguard {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    bound_arenas()  # before any thread: peak memory must not grow with the pool
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and argument errors end here
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # --debug adds the traceback; it never changes the exit code.
    debug = bool(args.debug or os.environ.get("IMDSGUARD_DEBUG"))
    try:
        return handler(args)
    except ImdsGuardError as exc:
        _traceback(debug)
        print(f"imdsguard: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        _traceback(debug)
        print("imdsguard: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: still one line, unless --debug
        _traceback(debug)
        print(
            f"imdsguard: internal error: {type(exc).__name__}: {redact(str(exc))} "
            "(rerun with --debug)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _traceback(debug: bool) -> None:
    if debug:
        traceback.print_exc(file=sys.stderr)
