"""One module per subcommand; each exposes ``register(subparsers)``. Order = help order."""

from imdsguard.commands import (
    apply,
    completion,
    demo,
    diff,
    guardrails,
    history,
    permissions,
    plan,
    rollback,
    scan,
)

COMMANDS = (scan, plan, apply, rollback, guardrails, permissions, history, diff, demo, completion)
