"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import demo, scan

COMMANDS = (scan, demo)
