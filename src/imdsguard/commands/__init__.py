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
    status,
)

COMMANDS = (
    scan,
    plan,
    apply,
    rollback,
    status,
    guardrails,
    permissions,
    history,
    diff,
    demo,
    completion,
)
