"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import demo, diff, history, scan

COMMANDS = (scan, history, diff, demo)
